//! State records of the compacted topic `newsflow.dedup-state.v1` (see the module docs of
//! [`dedup`](super) for the format).

use serde::{Deserialize, Serialize};

use super::sketch::{FingerprintError, parse_fingerprint};
use crate::error::{ErrorKind, Rejection};
use crate::event::DuplicateKind;

/// The record version this build writes and reads.
pub(crate) const VERSION: u32 = 1;

/// Why a state record was not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    #[error("the state record is not a dedup record: {0}")]
    Malformed(String),
    #[error("state record version {0} is not one this build reads ({VERSION})")]
    Version(u32),
    #[error("the state record's fingerprint uses {theirs}, this stage uses {ours}")]
    Incompatible { theirs: String, ours: String },
}

impl From<RestoreError> for Rejection {
    fn from(error: RestoreError) -> Self {
        let kind = match error {
            RestoreError::Malformed(_) => ErrorKind::MalformedJson,
            RestoreError::Version(_) | RestoreError::Incompatible { .. } => ErrorKind::InvalidField,
        };
        Rejection::new(kind, error.to_string())
    }
}

/// One retained article, as the state topic carries it (its key is the article id).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    pub revision: u32,
    /// Event time, Unix seconds.
    pub event_time: i64,
    /// The first 64 bits of the content hash.
    pub content_hash: u64,
    pub verdict: RecordVerdict,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RecordVerdict {
    Unique {
        signature: Vec<u8>,
    },
    Copy {
        duplicate_of: String,
        kind: DuplicateKind,
        similarity: f64,
    },
}

#[derive(Debug, Serialize, Deserialize)]
struct Wire {
    v: u32,
    rev: u32,
    t: i64,
    hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    of: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<DuplicateKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sim: Option<f64>,
}

impl Record {
    /// The JSON value, with the fingerprint text made by `fingerprint` for unique articles.
    pub(crate) fn encode(&self, fingerprint: impl FnOnce(&[u8]) -> String) -> Vec<u8> {
        let mut wire = Wire {
            v: VERSION,
            rev: self.revision,
            t: self.event_time,
            hash: format!("{:016x}", self.content_hash),
            fp: None,
            of: None,
            kind: None,
            sim: None,
        };
        match &self.verdict {
            RecordVerdict::Unique { signature } => wire.fp = Some(fingerprint(signature)),
            RecordVerdict::Copy {
                duplicate_of,
                kind,
                similarity,
            } => {
                wire.of = Some(duplicate_of.clone());
                wire.kind = Some(*kind);
                wire.sim = Some(*similarity);
            }
        }
        // A struct of strings and numbers (the similarity is finite) always serializes.
        serde_json::to_vec(&wire).unwrap_or_default()
    }

    /// Reads a record written by a stage whose fingerprints start with `prefix`.
    pub(crate) fn decode(
        bytes: &[u8],
        prefix: &str,
        num_hashes: usize,
    ) -> Result<Self, RestoreError> {
        let malformed = |what: &str| RestoreError::Malformed(what.to_owned());
        let version: VersionOnly = serde_json::from_slice(bytes)
            .map_err(|err| RestoreError::Malformed(err.to_string()))?;
        if version.v != VERSION {
            return Err(RestoreError::Version(version.v));
        }
        let wire: Wire = serde_json::from_slice(bytes)
            .map_err(|err| RestoreError::Malformed(err.to_string()))?;
        if wire.rev == 0 {
            return Err(malformed("rev must be at least 1"));
        }
        let content_hash = (wire.hash.len() == 16)
            .then(|| u64::from_str_radix(&wire.hash, 16).ok())
            .flatten()
            .ok_or_else(|| malformed("hash must be 16 hex digits"))?;
        let verdict = match (wire.fp, wire.of, wire.kind, wire.sim) {
            (Some(fp), None, None, None) => RecordVerdict::Unique {
                signature: parse_fingerprint(prefix, num_hashes, &fp).map_err(|err| match err {
                    FingerprintError::Incompatible(theirs) => RestoreError::Incompatible {
                        theirs,
                        ours: prefix.to_owned(),
                    },
                    FingerprintError::Malformed => malformed("fp is not a fingerprint"),
                })?,
            },
            (None, Some(of), Some(kind), Some(sim))
                if !of.is_empty() && (0.0..=1.0).contains(&sim) =>
            {
                RecordVerdict::Copy {
                    duplicate_of: of,
                    kind,
                    similarity: sim,
                }
            }
            _ => return Err(malformed("a record has either fp, or of, kind and sim")),
        };
        Ok(Record {
            revision: wire.rev,
            event_time: wire.t,
            content_hash,
            verdict,
        })
    }
}

#[derive(Deserialize)]
struct VersionOnly {
    v: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIX: &str = "mh1-5-16";

    fn fingerprint(signature: &[u8]) -> String {
        super::super::sketch::fingerprint(PREFIX, signature)
    }

    #[test]
    fn records_round_trip() {
        let unique = Record {
            revision: 2,
            event_time: 1_104_537_600,
            content_hash: 0x0123_4567_89ab_cdef,
            verdict: RecordVerdict::Unique {
                signature: (0..16).collect(),
            },
        };
        let bytes = unique.encode(fingerprint);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.starts_with(
                r#"{"v":1,"rev":2,"t":1104537600,"hash":"0123456789abcdef","fp":"mh1-5-16:"#
            ),
            "{text}"
        );
        assert_eq!(Record::decode(&bytes, PREFIX, 16).unwrap(), unique);

        let copy = Record {
            revision: 1,
            event_time: -5,
            content_hash: 7,
            verdict: RecordVerdict::Copy {
                duplicate_of: "business/001".into(),
                kind: DuplicateKind::Near,
                similarity: 0.8125,
            },
        };
        let bytes = copy.encode(fingerprint);
        assert_eq!(Record::decode(&bytes, PREFIX, 16).unwrap(), copy);
    }

    #[test]
    fn bad_records_say_why() {
        let decode = |text: &str| Record::decode(text.as_bytes(), PREFIX, 16).unwrap_err();
        assert!(matches!(decode("not json"), RestoreError::Malformed(_)));
        assert_eq!(
            decode(r#"{"v":2,"anything":true}"#),
            RestoreError::Version(2)
        );
        assert!(matches!(
            decode(r#"{"v":1,"rev":1,"t":0,"hash":"0000000000000000"}"#),
            RestoreError::Malformed(_)
        ));
        assert!(matches!(
            decode(r#"{"v":1,"rev":1,"t":0,"hash":"xyz","of":"a","kind":"near","sim":0.7}"#),
            RestoreError::Malformed(_)
        ));
        let other = super::super::sketch::fingerprint("mh1-4-16", &[0; 16]);
        let text = format!(r#"{{"v":1,"rev":1,"t":0,"hash":"0000000000000000","fp":"{other}"}}"#);
        assert_eq!(
            decode(&text),
            RestoreError::Incompatible {
                theirs: "mh1-4-16".into(),
                ours: PREFIX.into()
            }
        );
        let rejection = Rejection::from(RestoreError::Version(3));
        assert_eq!(rejection.kind, ErrorKind::InvalidField);
    }
}
