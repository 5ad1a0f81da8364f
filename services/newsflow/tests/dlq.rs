//! `newsflow dlq list|replay` on the real broker: a rejection fixed by a new setting flows
//! through once its dead letter is sent back, with its original key and headers. The stage is
//! `newsflow relay`, first misconfigured to expect normalized articles (so raw events are
//! rejected as `missing_field`), then fixed.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

use std::process::{Command, Output};
use std::time::Duration;

use newsflow_testkit::kafka::{Service, consume_all, create_topics, headers, key};
use newsflow_testkit::{brokers, corpus_dir, unique_name};
use rdkafka::ClientConfig;
use rdkafka::message::{Header, Message as _, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};

fn newsflow(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_newsflow"));
    for (key, _) in std::env::vars() {
        if key.starts_with("NEWSFLOW_") {
            command.env_remove(key);
        }
    }
    command.args(args).output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn raw(id: &str, content: &str) -> String {
    serde_json::json!({"id": id, "source": "dlq-test", "content_type": "text/plain", "content": content})
        .to_string()
}

fn relay(prefix: &str, event_kind: &str) -> Service {
    Service::start(
        env!("CARGO_BIN_EXE_newsflow"),
        &[
            "relay",
            "--brokers",
            &brokers(),
            "--group-id",
            prefix,
            "--input-topic",
            &format!("{prefix}.raw"),
            "--output-topic",
            &format!("{prefix}.out"),
            "--dlq-topic",
            &format!("{prefix}.dlq"),
            "--event-kind",
            event_kind,
        ],
    )
}

#[test]
fn a_fixed_rejection_flows_through_once_replayed() {
    let prefix = unique_name("dlq");
    let (raw_topic, relayed, dlq) = (
        format!("{prefix}.raw"),
        format!("{prefix}.out"),
        format!("{prefix}.dlq"),
    );
    create_topics(&[raw_topic.clone(), relayed.clone(), dlq.clone()], 2);

    let long = std::fs::read_to_string(corpus_dir().join("bbc-2005/business/001.txt")).unwrap();
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .unwrap();
    let records = [
        ("long", raw("long", &long)),
        ("broken", "{\"id\": \"broken\", nope".to_owned()),
    ];
    for (id, payload) in &records {
        let headers = OwnedHeaders::new().insert(Header {
            key: "x-test-origin",
            value: Some(*id),
        });
        producer
            .send(
                BaseRecord::to(&raw_topic)
                    .key(*id)
                    .payload(payload)
                    .headers(headers),
            )
            .unwrap();
    }
    producer.flush(Duration::from_secs(20)).unwrap();

    // A relay set up for the wrong event kind rejects the raw article.
    let first = relay(&prefix, "normalized");
    let dead = consume_all(
        &dlq,
        2,
        2,
        Duration::from_secs(60),
        Duration::from_millis(500),
    );
    assert_eq!(dead.len(), 2);
    first.signal("TERM");
    assert_eq!(first.wait(Duration::from_secs(40)), Some(0));

    let listed = newsflow(&[
        "dlq",
        "list",
        "--brokers",
        &brokers(),
        "--topic",
        &dlq,
        "--details",
    ]);
    assert!(listed.status.success(), "{listed:?}");
    let text = stdout(&listed);
    assert!(text.contains("2 dead letters in"), "{text}");
    let summary_line = |kind: &str| {
        text.lines()
            .any(|l| l.starts_with("relay") && l.contains(kind) && l.trim_end().ends_with(" 1"))
    };
    assert!(summary_line("missing_field"), "{text}");
    assert!(summary_line("malformed_json"), "{text}");
    assert!(text.contains("key=long"), "{text}");

    // Replay needs a stage.
    let refused = newsflow(&["dlq", "replay", "--brokers", &brokers(), "--topic", &dlq]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--stage is required"));

    // The fix: the right event kind. Then the missing_field dead letter goes back.
    let fixed = relay(&prefix, "raw");
    fixed.wait_ready(Duration::from_secs(60));
    let replayed = newsflow(&[
        "dlq",
        "replay",
        "--brokers",
        &brokers(),
        "--topic",
        &dlq,
        "--stage",
        "relay",
        "--error-kind",
        "missing_field",
    ]);
    assert!(replayed.status.success(), "{replayed:?}");
    assert!(
        stdout(&replayed).contains(&format!("sent 1 to {raw_topic}")),
        "{}",
        stdout(&replayed)
    );

    let out = consume_all(
        &relayed,
        2,
        1,
        Duration::from_secs(60),
        Duration::from_millis(500),
    );
    assert_eq!(out.iter().map(key).collect::<Vec<_>>(), ["long"]);
    let relayed_json: serde_json::Value =
        serde_json::from_slice(out[0].payload().unwrap()).unwrap();
    let sent_json: serde_json::Value = serde_json::from_str(&records[0].1).unwrap();
    assert!(
        relayed_json == sent_json,
        "the replayed article is not the one sent"
    );
    // On the input topic, the replayed record carries its original headers, not the DLQ's.
    let inputs = consume_all(
        &raw_topic,
        2,
        3,
        Duration::from_secs(30),
        Duration::from_millis(500),
    );
    assert_eq!(inputs.len(), 3);
    let again: Vec<_> = inputs.iter().filter(|m| key(m) == "long").collect();
    assert_eq!(again.len(), 2);
    for message in again {
        let h = headers(message);
        assert_eq!(h.get("x-test-origin").map(String::as_str), Some("long"));
        assert!(!h.keys().any(|k| k.starts_with("x-newsflow-")), "{h:?}");
    }
    // Nothing new in the DLQ: the replayed article was accepted.
    let dead = consume_all(
        &dlq,
        2,
        3,
        Duration::from_secs(5),
        Duration::from_millis(500),
    );
    assert_eq!(dead.len(), 2);
    fixed.signal("TERM");
    assert_eq!(fixed.wait(Duration::from_secs(40)), Some(0));
}
