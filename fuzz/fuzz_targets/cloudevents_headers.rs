//! Any Kafka headers, as a record may carry them: the runtime's header look-up and
//! `traceparent` parsing (never a panic; what parses prints back as the same value and parses
//! again, and its child keeps the trace), and the dead-letter headers made from them (the
//! originals kept, the `x-newsflow-*` ones once each, a traceparent once at most).
#![no_main]

use libfuzzer_sys::fuzz_target;
use newsflow_core::{ErrorKind, Rejection};
use newsflow_runtime::envelope::{self, InputPosition, TraceParent};
use rdkafka::message::{Header, Headers as _, OwnedHeaders};

fuzz_target!(|input: (Vec<(String, Option<Vec<u8>>)>, String, bool)| {
    let (pairs, text, replace_trace) = input;
    // The traceparent parser on any text.
    if let Some(parsed) = TraceParent::parse(&text) {
        let printed = parsed.to_string();
        assert_eq!(TraceParent::parse(&printed), Some(parsed), "{text:?}");
        let child = parsed.child();
        assert_eq!(child.trace_id, parsed.trace_id);
        assert_eq!(TraceParent::parse(&child.to_string()), Some(child));
    }
    let mut headers = OwnedHeaders::new_with_capacity(pairs.len());
    for (key, value) in &pairs {
        headers = headers.insert(Header {
            key: key.as_str(),
            value: value.as_deref(),
        });
    }
    for key in [
        envelope::TRACEPARENT,
        envelope::CE_TYPE,
        envelope::CE_ID,
        envelope::CONTENT_TYPE,
    ] {
        if let Some(value) = envelope::header_str(Some(&headers), key) {
            let _ = TraceParent::parse(value);
        }
    }
    let position = InputPosition {
        topic: "news.raw.v1".into(),
        partition: 0,
        offset: 7,
    };
    let rejection = Rejection::new(ErrorKind::MalformedJson, text.clone());
    let trace = TraceParent::new_root();
    let letter = envelope::dead_letter_headers(
        Some(&headers),
        "normalizer",
        &rejection,
        &position,
        text.as_bytes(),
        replace_trace.then_some(&trace),
    );
    let count = |key: &str| letter.iter().filter(|h| h.key == key).count();
    for key in newsflow_core::dead_letter::headers::ALL {
        assert_eq!(count(key), 1, "{key}");
    }
    if replace_trace {
        assert_eq!(count(envelope::TRACEPARENT), 1);
    }
});
