//! Errors a stage can return, and the closed list of reasons an input is rejected.
//!
//! Every error says whose fault it is: a [`Rejection`] is the input's fault and goes to the
//! dead-letter topic (the partition keeps flowing); [`StageError::Transient`] is the world's
//! fault and is retried with the same input.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why an input was rejected. One closed list, named `error_kind` everywhere: in the dead-letter
/// header `x-newsflow-error-kind`, in `newsflow run --dlq` lines and in metric labels.
///
/// New kinds may be added (additively, as the schemas allow); existing names never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The payload is not JSON (syntax error or truncated).
    MalformedJson,
    /// The payload bytes are not UTF-8, which JSON requires.
    InvalidUtf8,
    /// JSON nested deeper than the parser's recursion limit.
    TooDeeplyNested,
    /// A required field is absent.
    MissingField,
    /// A field has the wrong type or an unusable value.
    InvalidField,
    /// `content_type` is none of the types newsflow reads.
    UnknownContentType,
    /// `content_base64` is not base64, or its bytes cannot be decoded as text.
    UndecodableContent,
    /// The payload or its content is empty or whitespace only.
    EmptyContent,
    /// The content exceeds the configured size limit.
    TooLarge,
    /// The page yields no article body.
    NoBody,
    /// The event's CloudEvents type is not the one the stage consumes.
    UnexpectedEventType,
}

impl ErrorKind {
    /// Every kind, in declaration order (for metrics pre-registration, docs and schema tests).
    pub const ALL: [ErrorKind; 11] = [
        ErrorKind::MalformedJson,
        ErrorKind::InvalidUtf8,
        ErrorKind::TooDeeplyNested,
        ErrorKind::MissingField,
        ErrorKind::InvalidField,
        ErrorKind::UnknownContentType,
        ErrorKind::UndecodableContent,
        ErrorKind::EmptyContent,
        ErrorKind::TooLarge,
        ErrorKind::NoBody,
        ErrorKind::UnexpectedEventType,
    ];

    /// The wire name (`malformed_json`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::MalformedJson => "malformed_json",
            ErrorKind::InvalidUtf8 => "invalid_utf8",
            ErrorKind::TooDeeplyNested => "too_deeply_nested",
            ErrorKind::MissingField => "missing_field",
            ErrorKind::InvalidField => "invalid_field",
            ErrorKind::UnknownContentType => "unknown_content_type",
            ErrorKind::UndecodableContent => "undecodable_content",
            ErrorKind::EmptyContent => "empty_content",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::NoBody => "no_body",
            ErrorKind::UnexpectedEventType => "unexpected_event_type",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An input the stage can never process: it goes to the dead-letter topic with this reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct Rejection {
    pub kind: ErrorKind,
    pub message: String,
}

impl Rejection {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

/// What a stage returns instead of outputs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StageError {
    /// The input's fault: dead-letter it and move on.
    #[error("rejected: {0}")]
    Rejected(#[from] Rejection),
    /// The world's fault (a dependency is unavailable): retry the same input later.
    #[error("transient: {0}")]
    Transient(String),
}

impl StageError {
    pub fn rejected(kind: ErrorKind, message: impl Into<String>) -> Self {
        StageError::Rejected(Rejection::new(kind, message))
    }

    /// True when retrying the same input may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StageError::Transient(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_match_serde_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for kind in ErrorKind::ALL {
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, serde_json::Value::from(kind.as_str()));
            assert!(seen.insert(kind.as_str()), "duplicate name {kind}");
        }
    }

    #[test]
    fn only_transient_errors_are_retried() {
        assert!(StageError::Transient("broker down".into()).is_retryable());
        assert!(!StageError::rejected(ErrorKind::NoBody, "empty page").is_retryable());
    }
}
