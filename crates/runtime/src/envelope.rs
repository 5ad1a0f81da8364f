//! What travels around an event on Kafka: CloudEvents 1.0 binary-mode headers, the W3C
//! `traceparent`, and the fixed headers of a dead letter.

use chrono::{DateTime, Utc};
use newsflow_core::dead_letter::headers as dlq;
use newsflow_core::event::format_rfc3339;
use newsflow_core::{Event, Rejection};
use rand::Rng as _;
use rdkafka::message::{Header, Headers, OwnedHeaders};
use sha2::{Digest as _, Sha256};

pub const TRACEPARENT: &str = "traceparent";
pub const CE_SPECVERSION: &str = "ce_specversion";
pub const CE_ID: &str = "ce_id";
pub const CE_SOURCE: &str = "ce_source";
pub const CE_TYPE: &str = "ce_type";
pub const CE_TIME: &str = "ce_time";
pub const CE_SUBJECT: &str = "ce_subject";
pub const CONTENT_TYPE: &str = "content-type";

/// A W3C trace context (`00-<trace-id>-<parent-id>-<flags>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: [u8; 16],
    pub parent_id: [u8; 8],
    pub flags: u8,
}

impl TraceParent {
    /// Parses version 00; `None` for anything malformed or all-zero ids (start a new trace).
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.trim().split('-');
        let (version, trace, parent, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if version.len() != 2
            || version == "ff"
            || trace.len() != 32
            || parent.len() != 16
            || flags.len() != 2
        {
            return None;
        }
        if [version, trace, parent, flags]
            .iter()
            .any(|p| p.bytes().any(|b| b.is_ascii_uppercase()))
        {
            return None;
        }
        let mut trace_id = [0u8; 16];
        let mut parent_id = [0u8; 8];
        hex::decode_to_slice(trace, &mut trace_id).ok()?;
        hex::decode_to_slice(parent, &mut parent_id).ok()?;
        let flags = u8::from_str_radix(flags, 16).ok()?;
        if trace_id == [0; 16] || parent_id == [0; 8] {
            return None;
        }
        Some(Self {
            trace_id,
            parent_id,
            flags,
        })
    }

    /// A new sampled trace.
    pub fn new_root() -> Self {
        let mut rng = rand::rng();
        let mut trace_id: [u8; 16] = rng.random();
        let mut parent_id: [u8; 8] = rng.random();
        trace_id[0] |= 1; // never all zero
        parent_id[0] |= 1;
        Self {
            trace_id,
            parent_id,
            flags: 1,
        }
    }

    /// The context this stage passes on: same trace, this stage's span as the parent.
    pub fn child(&self) -> Self {
        let mut parent_id: [u8; 8] = rand::rng().random();
        parent_id[0] |= 1;
        Self { parent_id, ..*self }
    }

    pub fn trace_id_hex(&self) -> String {
        hex::encode(self.trace_id)
    }
}

impl std::fmt::Display for TraceParent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            hex::encode(self.trace_id),
            hex::encode(self.parent_id),
            self.flags
        )
    }
}

/// The value of header `key`, if present and UTF-8.
pub fn header_str<'a, H: Headers>(headers: Option<&'a H>, key: &str) -> Option<&'a str> {
    headers?
        .iter()
        .find(|h| h.key == key)
        .and_then(|h| h.value)
        .and_then(|v| std::str::from_utf8(v).ok())
}

/// Where an input record sat, for deterministic CloudEvents ids and dead letters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputPosition {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// The CloudEvents id of the `index`-th output of an input: the same input processed again
/// (after a crash) yields the same ids, so consumers can drop redelivered copies.
pub fn cloudevents_id(service: &str, input: &InputPosition, index: usize) -> String {
    let mut hasher = Sha256::new();
    hasher.update(service.as_bytes());
    hasher.update([0]);
    hasher.update(input.topic.as_bytes());
    hasher.update(input.partition.to_be_bytes());
    hasher.update(input.offset.to_be_bytes());
    hasher.update((index as u64).to_be_bytes());
    hex::encode(&hasher.finalize()[..16])
}

/// CloudEvents binary-mode headers and the trace context for one output event.
pub fn event_headers(
    event: &Event,
    service: &str,
    ce_id: &str,
    time: DateTime<Utc>,
    trace: &TraceParent,
) -> OwnedHeaders {
    let kind = event.kind();
    let source = format!("/newsflow/{service}");
    let time = format_rfc3339(&time);
    let trace = trace.to_string();
    OwnedHeaders::new_with_capacity(8)
        .insert(Header {
            key: CE_SPECVERSION,
            value: Some("1.0"),
        })
        .insert(Header {
            key: CE_ID,
            value: Some(ce_id),
        })
        .insert(Header {
            key: CE_SOURCE,
            value: Some(source.as_str()),
        })
        .insert(Header {
            key: CE_TYPE,
            value: Some(kind.cloudevents_type()),
        })
        .insert(Header {
            key: CE_TIME,
            value: Some(time.as_str()),
        })
        .insert(Header {
            key: CE_SUBJECT,
            value: Some(event.id()),
        })
        .insert(Header {
            key: CONTENT_TYPE,
            value: Some("application/json"),
        })
        .insert(Header {
            key: TRACEPARENT,
            value: Some(trace.as_str()),
        })
}

/// A dead letter's headers: the original ones, then the fixed `x-newsflow-*` ones. `trace`,
/// when spans are exported, replaces the original `traceparent` with the dead-letter span's,
/// so a replay continues the trace from there.
pub fn dead_letter_headers<H: Headers>(
    original: Option<&H>,
    service: &str,
    rejection: &Rejection,
    input: &InputPosition,
    payload: &[u8],
    trace: Option<&TraceParent>,
) -> OwnedHeaders {
    let mut headers = OwnedHeaders::new_with_capacity(16);
    if let Some(original) = original {
        for header in original.iter() {
            // A replayed dead letter may carry the previous ones; they are replaced.
            if dlq::ALL.contains(&header.key) || (trace.is_some() && header.key == TRACEPARENT) {
                continue;
            }
            headers = headers.insert(Header {
                key: header.key,
                value: header.value,
            });
        }
    }
    if let Some(trace) = trace {
        let trace = trace.to_string();
        headers = headers.insert(Header {
            key: TRACEPARENT,
            value: Some(trace.as_str()),
        });
    }
    let partition = input.partition.to_string();
    let offset = input.offset.to_string();
    let size = payload.len().to_string();
    let sha = hex::encode(Sha256::digest(payload));
    // Header values stay short and single-line.
    let message: String = rejection
        .message
        .chars()
        .take(1000)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    headers
        .insert(Header {
            key: dlq::STAGE,
            value: Some(service),
        })
        .insert(Header {
            key: dlq::ERROR_KIND,
            value: Some(rejection.kind.as_str()),
        })
        .insert(Header {
            key: dlq::ERROR_MESSAGE,
            value: Some(message.as_str()),
        })
        .insert(Header {
            key: dlq::SOURCE_TOPIC,
            value: Some(input.topic.as_str()),
        })
        .insert(Header {
            key: dlq::SOURCE_PARTITION,
            value: Some(partition.as_str()),
        })
        .insert(Header {
            key: dlq::SOURCE_OFFSET,
            value: Some(offset.as_str()),
        })
        .insert(Header {
            key: dlq::ORIGINAL_SIZE,
            value: Some(size.as_str()),
        })
        .insert(Header {
            key: dlq::ORIGINAL_SHA256,
            value: Some(sha.as_str()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_round_trips_and_children_keep_the_trace() {
        let text = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let parsed = TraceParent::parse(text).unwrap();
        assert_eq!(parsed.to_string(), text);
        let child = parsed.child();
        assert_eq!(child.trace_id, parsed.trace_id);
        assert_ne!(child.parent_id, parsed.parent_id);
        assert_eq!(child.flags, 1);
    }

    #[test]
    fn malformed_traceparents_start_a_new_trace() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad}");
        }
        let root = TraceParent::new_root();
        assert_eq!(TraceParent::parse(&root.to_string()), Some(root));
    }

    #[test]
    fn cloudevents_ids_are_stable_per_input_and_output() {
        let input = InputPosition {
            topic: "t".into(),
            partition: 1,
            offset: 7,
        };
        assert_eq!(
            cloudevents_id("relay", &input, 0),
            cloudevents_id("relay", &input, 0)
        );
        assert_ne!(
            cloudevents_id("relay", &input, 0),
            cloudevents_id("relay", &input, 1)
        );
        assert_eq!(cloudevents_id("relay", &input, 0).len(), 32);
    }
}
