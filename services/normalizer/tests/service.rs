//! The normalizer service on the real broker: raw events in, schema-valid normalized events
//! out, bad input in the dead-letter topic with its reason, the partition flowing.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

use std::collections::HashMap;
use std::time::Duration;

use newsflow_testkit::kafka::{Service, consume_all, create_topics, headers, key};
use newsflow_testkit::{assert_valid, brokers, corpus_dir, unique_name};
use rdkafka::ClientConfig;
use rdkafka::message::Message as _;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};

fn raw(id: &str, content_type: &str, content: &str) -> String {
    serde_json::json!({"id": id, "source": "test-wire", "content_type": content_type, "content": content})
        .to_string()
}

#[test]
fn raw_events_in_normalized_events_out_bad_ones_in_the_dlq() {
    let prefix = unique_name("normalizer");
    let (input, output, dlq) = (
        format!("{prefix}.raw"),
        format!("{prefix}.normalized"),
        format!("{prefix}.dlq"),
    );
    create_topics(&[input.clone(), output.clone(), dlq.clone()], 2);

    let seed = std::fs::read_to_string(corpus_dir().join("seed/upi-2022-06-16-xi-putin-call.txt"))
        .unwrap();
    let bbc = std::fs::read_to_string(corpus_dir().join("bbc-2005/business/001.txt")).unwrap();
    let html = "<html><head><title>Harbour reopens</title><script>var secret = 1;</script></head>\
<body><nav>Home | News</nav><article><h1>Harbour reopens</h1><p>The harbour reopened on Monday \
after repairs to the main quay, the port authority said.</p></article></body></html>";
    let good = [
        ("seed", raw("seed", "text/plain", &seed)),
        ("bbc", raw("bbc", "text/plain", &bbc)),
        ("html", raw("html", "text/html", html)),
    ];
    let bad = [
        (
            "malformed",
            "{\"id\": \"malformed\", nope".to_owned(),
            "malformed_json",
        ),
        (
            "empty",
            raw("empty", "text/plain", "   \n "),
            "empty_content",
        ),
        (
            "pdf",
            raw("pdf", "application/pdf", "%PDF-1.4"),
            "unknown_content_type",
        ),
        (
            "missing",
            r#"{"id":"missing","source":"s","content":"x"}"#.to_owned(),
            "missing_field",
        ),
    ];
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .unwrap();
    // Bad records between good ones, all on one key's partition order.
    let mut records: Vec<(&str, String)> = Vec::new();
    for (i, (id, payload)) in good.iter().enumerate() {
        records.push((id, payload.clone()));
        if let Some((id, payload, _)) = bad.get(i) {
            records.push((id, payload.clone()));
        }
    }
    records.push((bad[3].0, bad[3].1.clone()));
    for (id, payload) in &records {
        producer
            .send(BaseRecord::to(&input).key(*id).payload(payload))
            .unwrap();
    }
    producer.flush(Duration::from_secs(20)).unwrap();

    let service = Service::start(
        env!("CARGO_BIN_EXE_newsflow-normalizer"),
        &[
            "--brokers",
            &brokers(),
            "--input-topic",
            &input,
            "--output-topic",
            &output,
            "--dlq-topic",
            &dlq,
            "--group-id",
            &prefix,
        ],
    );
    let normalized = consume_all(
        &output,
        2,
        good.len(),
        Duration::from_secs(90),
        Duration::from_millis(500),
    );
    assert_eq!(normalized.len(), good.len());
    let by_id: HashMap<String, serde_json::Value> = normalized
        .iter()
        .map(|m| {
            (
                key(m),
                serde_json::from_slice(m.payload().unwrap()).unwrap(),
            )
        })
        .collect();
    for article in by_id.values() {
        assert_valid("normalized.v1.schema.json", article);
    }
    assert_eq!(
        by_id["seed"]["authors"],
        serde_json::json!(["Thomas Maresca"])
    );
    assert_eq!(by_id["bbc"]["title"], bbc.lines().next().unwrap().trim());
    assert_eq!(by_id["html"]["title"], "Harbour reopens");
    assert!(
        !by_id["html"].to_string().contains("secret"),
        "script content leaked"
    );
    for message in &normalized {
        assert_eq!(
            headers(message)["ce_type"],
            "io.newsflow.article.normalized.v1"
        );
    }

    let dead = consume_all(
        &dlq,
        2,
        bad.len(),
        Duration::from_secs(60),
        Duration::from_millis(500),
    );
    let kinds: HashMap<String, String> = dead
        .iter()
        .map(|m| (key(m), headers(m)["x-newsflow-error-kind"].clone()))
        .collect();
    for (id, _, kind) in &bad {
        assert_eq!(kinds.get(*id).map(String::as_str), Some(*kind), "{id}");
    }
    service.signal("TERM");
    assert_eq!(service.wait(Duration::from_secs(40)), Some(0));
}
