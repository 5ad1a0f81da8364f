//! Dead letters: the fixed Kafka headers of `news.dlq.v1`, and the JSON line that
//! `newsflow run --dlq` writes.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::ErrorKind;

/// Headers added to every record on `news.dlq.v1` (the original headers are kept beside them).
pub mod headers {
    pub const STAGE: &str = "x-newsflow-stage";
    pub const ERROR_KIND: &str = "x-newsflow-error-kind";
    pub const ERROR_MESSAGE: &str = "x-newsflow-error-message";
    pub const SOURCE_TOPIC: &str = "x-newsflow-source-topic";
    pub const SOURCE_PARTITION: &str = "x-newsflow-source-partition";
    pub const SOURCE_OFFSET: &str = "x-newsflow-source-offset";
    pub const ORIGINAL_SIZE: &str = "x-newsflow-original-size";
    pub const ORIGINAL_SHA256: &str = "x-newsflow-original-sha256";

    pub const ALL: [&str; 8] = [
        STAGE,
        ERROR_KIND,
        ERROR_MESSAGE,
        SOURCE_TOPIC,
        SOURCE_PARTITION,
        SOURCE_OFFSET,
        ORIGINAL_SIZE,
        ORIGINAL_SHA256,
    ];
}

/// Where a rejected input came from in `newsflow run`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputRef {
    /// The file as named on the command line or found in a directory; `-` for stdin;
    /// `samples/<name>` for the embedded samples.
    pub path: String,
    /// 1-based line number for JSON Lines inputs; null for whole files.
    pub line: Option<u64>,
}

/// One line of `newsflow run --dlq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetterLine {
    pub input: InputRef,
    pub id: Option<String>,
    pub stage: String,
    pub error_kind: ErrorKind,
    pub message: String,
    /// The input as text when it is UTF-8 …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
    /// … else its bytes in base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_base64: Option<String>,
}

impl DeadLetterLine {
    pub fn new(
        input: InputRef,
        id: Option<String>,
        stage: &str,
        error_kind: ErrorKind,
        message: String,
        original: &[u8],
    ) -> Self {
        let (original, original_base64) = match std::str::from_utf8(original) {
            Ok(text) => (Some(text.to_owned()), None),
            Err(_) => (
                None,
                Some(base64::engine::general_purpose::STANDARD.encode(original)),
            ),
        };
        Self {
            input,
            id,
            stage: stage.to_owned(),
            error_kind,
            message,
            original,
            original_base64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_stays_text_and_bytes_become_base64() {
        let input = InputRef {
            path: "-".into(),
            line: Some(2),
        };
        let text = DeadLetterLine::new(
            input.clone(),
            None,
            "decode",
            ErrorKind::MalformedJson,
            "x".into(),
            b"{oops",
        );
        assert_eq!(text.original.as_deref(), Some("{oops"));
        assert_eq!(text.original_base64, None);
        let bytes = DeadLetterLine::new(
            input,
            None,
            "decode",
            ErrorKind::InvalidUtf8,
            "x".into(),
            b"\xff\xfe",
        );
        assert_eq!(bytes.original, None);
        assert_eq!(bytes.original_base64.as_deref(), Some("//4="));
    }
}
