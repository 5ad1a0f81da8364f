//! The stage runner proven on the real broker, through `newsflow relay`: outputs keep keys,
//! payloads and trace context; poison goes to the dead-letter topic while the rest flows;
//! SIGKILL loses nothing; SIGTERM commits what was done; `/readyz` follows the group.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

mod common;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use common::*;
use rdkafka::ClientConfig;
use rdkafka::message::{Header, Message as _, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};

const WAIT: Duration = Duration::from_secs(90);

#[test]
fn produce_relay_consume_keeps_keys_payloads_and_trace_context() {
    let topics = Topics::create("relay-roundtrip", 3);
    let dir = tempfile::tempdir().unwrap();
    let file = jsonl(dir.path(), "rt", 30);
    produce(&topics, &file, &[]);

    let relay = start_relay(&topics, &newsflow_testkit::unique_name("g"));
    let inputs = consume_all(&topics.raw(), 3, 30, WAIT, Duration::ZERO);
    let outputs = consume_all(&topics.out(), 3, 30, WAIT, Duration::from_secs(1));
    assert_eq!(outputs.len(), 30, "every input relayed once");

    let by_key: HashMap<String, _> = inputs.iter().map(|m| (key(m), m)).collect();
    for output in &outputs {
        let id = key(output);
        let input = by_key
            .get(&id)
            .unwrap_or_else(|| panic!("unexpected key {id}"));
        assert_eq!(output.payload(), input.payload(), "payload of {id}");
        let payload: serde_json::Value = serde_json::from_slice(output.payload().unwrap()).unwrap();
        assert_eq!(payload["id"], id.as_str(), "keyed by article id");
        newsflow_testkit::assert_valid("raw.v1.schema.json", &payload);

        let h = headers(output);
        assert_eq!(h["ce_specversion"], "1.0");
        assert_eq!(h["ce_type"], "io.newsflow.article.raw.v1");
        assert_eq!(h["ce_subject"], id);
        assert_eq!(h["ce_source"], "/newsflow/relay");
        assert_eq!(h["content-type"], "application/json");
        assert_eq!(h["ce_id"].len(), 32);
        assert!(chrono::DateTime::parse_from_rfc3339(&h["ce_time"]).is_ok());
        let input_trace = header(input, "traceparent").unwrap();
        let output_trace = &h["traceparent"];
        assert_eq!(output_trace.len(), 55, "{output_trace}");
        assert_eq!(output_trace[3..35], input_trace[3..35], "same trace id");
        assert_ne!(
            output_trace[36..52],
            input_trace[36..52],
            "the relay's own span"
        );
    }
    relay.signal("TERM");
    assert_eq!(relay.wait(Duration::from_secs(40)), Some(0));
}

#[test]
fn a_poison_message_goes_to_the_dlq_and_the_partition_keeps_flowing() {
    let topics = Topics::create("relay-poison", 1);
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .unwrap();
    let good = |id: &str| {
        serde_json::json!({"id": id, "source": "t", "content_type": "text/plain", "content": "A story."}).to_string()
    };
    let (first, second) = (good("before"), good("after"));
    let raw = topics.raw();
    producer
        .send(BaseRecord::to(&raw).key("before").payload(&first))
        .unwrap();
    let poison_headers = OwnedHeaders::new().insert(Header {
        key: "x-origin",
        value: Some("crawler-7"),
    });
    producer
        .send(
            BaseRecord::to(&raw)
                .key("poison")
                .payload("{\"id\": \"poison\", oops")
                .headers(poison_headers),
        )
        .unwrap();
    producer
        .send(BaseRecord::to(&raw).key("after").payload(&second))
        .unwrap();
    producer.flush(Duration::from_secs(20)).unwrap();

    let relay = start_relay(&topics, &newsflow_testkit::unique_name("g"));
    let outputs = consume_all(&topics.out(), 1, 2, WAIT, Duration::from_millis(500));
    let keys: Vec<String> = outputs.iter().map(key).collect();
    assert_eq!(
        keys,
        ["before", "after"],
        "the message after the poison flows"
    );

    let dead = consume_all(&topics.dlq(), 1, 1, WAIT, Duration::from_millis(500));
    assert_eq!(dead.len(), 1);
    let letter = &dead[0];
    assert_eq!(key(letter), "poison", "original key kept");
    assert_eq!(
        letter.payload(),
        Some(&b"{\"id\": \"poison\", oops"[..]),
        "original bytes kept"
    );
    let h = headers(letter);
    assert_eq!(h["x-origin"], "crawler-7", "original headers kept");
    assert_eq!(h["x-newsflow-error-kind"], "malformed_json");
    assert_eq!(h["x-newsflow-stage"], "relay");
    assert_eq!(h["x-newsflow-source-topic"], raw);
    assert_eq!(h["x-newsflow-source-partition"], "0");
    assert_eq!(h["x-newsflow-source-offset"], "1");
    assert_eq!(h["x-newsflow-original-size"], "21");
    assert_eq!(h["x-newsflow-original-sha256"].len(), 64);
    assert!(!h["x-newsflow-error-message"].is_empty());
    for name in newsflow_core::dead_letter::headers::ALL {
        assert!(h.contains_key(name), "{name} missing");
    }
    assert_eq!(
        relay.counter(
            "newsflow_dead_letters_total",
            "error_kind=\"malformed_json\""
        ),
        1.0
    );
}

/// Waits until the relay acknowledged at least `at_least` outputs.
fn wait_for_outputs(relay: &Relay, at_least: f64) -> f64 {
    let deadline = Instant::now() + WAIT;
    loop {
        let done = relay.counter("newsflow_output_records_total", "output=\"primary\"");
        if done >= at_least {
            return done;
        }
        assert!(Instant::now() < deadline, "only {done} outputs");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts a relay, feeds it `total` records at `rate` per second, and sends it `signal` once
/// it acknowledged a tenth of them. Returns the topics, the group and the relay's exit code.
fn interrupt_mid_stream(
    test: &str,
    total: usize,
    rate: &str,
    signal: &str,
) -> (Topics, String, Option<i32>) {
    let topics = Topics::create(test, 3);
    let dir = tempfile::tempdir().unwrap();
    let file = jsonl(dir.path(), test, total);
    let group = newsflow_testkit::unique_name("g");

    let relay = start_relay(&topics, &group);
    relay.wait_ready(WAIT);
    // Paced input, so the signal lands mid-stream.
    let mut producer = newsflow()
        .args([
            "produce",
            file.to_str().unwrap(),
            "--brokers",
            &brokers(),
            "--topic",
            &topics.raw(),
            "--rate",
            rate,
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let seen = wait_for_outputs(&relay, (total / 10) as f64);
    relay.signal(signal);
    let code = relay.wait(Duration::from_secs(40));
    assert!(
        (seen as usize) < total,
        "the signal came after all {total} outputs"
    );
    assert!(producer.wait().unwrap().success());
    (topics, group, code)
}

#[test]
fn a_relay_killed_mid_stream_and_restarted_loses_nothing() {
    const TOTAL: usize = 3000;
    let (topics, group, code) = interrupt_mid_stream("relay-kill", TOTAL, "1500", "KILL");
    assert_eq!(code, None, "killed by a signal");

    let restarted = start_relay(&topics, &group);
    let outputs = consume_all(&topics.out(), 3, TOTAL, WAIT, Duration::from_secs(1));
    let ids: HashSet<String> = outputs.iter().map(key).collect();
    let missing: Vec<String> = (0..TOTAL)
        .map(|n| format!("relay-kill-{n}"))
        .filter(|id| !ids.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} ids lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    restarted.signal("TERM");
    assert_eq!(restarted.wait(Duration::from_secs(40)), Some(0));
}

#[test]
fn sigterm_commits_what_was_done_and_a_restart_re_emits_nothing() {
    const TOTAL: usize = 2000;
    let (topics, group, code) = interrupt_mid_stream("relay-term", TOTAL, "1000", "TERM");
    assert_eq!(code, Some(0), "SIGTERM exits 0");

    let restarted = start_relay(&topics, &group);
    let outputs = consume_all(&topics.out(), 3, TOTAL, WAIT, Duration::from_secs(3));
    let mut counts: HashMap<String, usize> = HashMap::new();
    for output in &outputs {
        *counts.entry(key(output)).or_default() += 1;
    }
    let repeated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        repeated.is_empty(),
        "{} ids re-emitted, e.g. {:?}",
        repeated.len(),
        repeated.iter().take(5).collect::<Vec<_>>()
    );
    assert_eq!(counts.len(), TOTAL, "every input relayed");
    restarted.signal("TERM");
    assert_eq!(restarted.wait(Duration::from_secs(40)), Some(0));
}

#[test]
fn readyz_follows_the_group_and_an_idle_member_is_ready_too() {
    let topics = Topics::create("relay-ready", 1);
    let group = newsflow_testkit::unique_name("g");
    let first = start_relay(&topics, &group);

    // The admin server answers before the consumer joins: the first answer is "not ready".
    let deadline = Instant::now() + WAIT;
    let first_answer = loop {
        if let Some(answer) = first.get("/readyz") {
            break answer;
        }
        assert!(Instant::now() < deadline, "the admin server never answered");
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(first_answer.0, 503, "{first_answer:?}");
    assert!(
        first_answer.1.contains("not yet joined the consumer group"),
        "{first_answer:?}"
    );
    assert!(matches!(first.get("/healthz"), Some((200, _))));
    first.wait_ready(WAIT);

    let second = start_relay(&topics, &group);
    second.wait_ready(WAIT);
    // One partition between two members: one of them has none and is ready all the same.
    let deadline = Instant::now() + WAIT;
    loop {
        let assigned: Vec<f64> = [&first, &second]
            .iter()
            .map(|r| r.counter("newsflow_assigned_partitions", ""))
            .collect();
        if assigned.iter().sum::<f64>() == 1.0 && assigned.contains(&0.0) {
            break;
        }
        assert!(Instant::now() < deadline, "assignments {assigned:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(matches!(first.get("/readyz"), Some((200, _))));
    assert!(matches!(second.get("/readyz"), Some((200, _))));
    let metrics = second.get("/metrics").unwrap().1;
    assert!(metrics.contains("newsflow_ready 1"), "{metrics}");
}

/// exactly-once: a transaction is committed as soon as the relay has caught up with its input,
/// not only when the commit interval has passed, so read-committed consumers see outputs within
/// a moment at moderate rates even with a long interval (here 50 s; they must show within 30 s).
#[test]
fn a_caught_up_relay_commits_without_waiting_for_the_commit_interval() {
    let topics = Topics::create("relay-caught-up", 3);
    let relay = start_relay_with(
        &topics,
        &newsflow_testkit::unique_name("g"),
        &["--guarantee", "exactly-once", "--commit-interval", "50s"],
    );
    relay.wait_ready(WAIT);
    let dir = tempfile::tempdir().unwrap();
    produce(&topics, &jsonl(dir.path(), "cu", 20), &[]);

    // The reader is read_committed (librdkafka's default): it sees only committed outputs.
    let started = Instant::now();
    let outputs = consume_all(
        &topics.out(),
        3,
        20,
        Duration::from_secs(30),
        Duration::ZERO,
    );
    assert_eq!(
        outputs.len(),
        20,
        "every output committed well before the 50 s commit interval"
    );
    assert!(
        relay.counter("newsflow_transactions_total", r#"outcome="committed""#) >= 1.0,
        "committed in transactions"
    );
    eprintln!("outputs visible after {:?}", started.elapsed());
    relay.signal("TERM");
    assert_eq!(relay.wait(Duration::from_secs(40)), Some(0));
}
