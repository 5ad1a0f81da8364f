//! `newsflow produce` and `newsflow topics create` against the real broker.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use newsflow::synth::shingle_jaccard;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use rdkafka::message::Message as _;

#[test]
fn repeats_are_new_stories_and_copies_are_true_copies() {
    let topics = Topics::create("produce-repeat", 3);
    let corpus = newsflow_testkit::corpus_dir().join("bbc-2005/business");
    let files = std::fs::read_dir(&corpus).unwrap().count();
    let output = produce(
        &topics,
        &corpus,
        &["--repeat", "3", "--duplicate-ratio", "0.2", "--seed", "42"],
    );
    let summary = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(summary.contains("records/s"), "{summary}");

    let records = consume_all(
        &topics.raw(),
        3,
        files * 3,
        Duration::from_secs(90),
        Duration::from_secs(1),
    );
    let events: HashMap<String, serde_json::Value> = records
        .iter()
        .map(|m| {
            (
                key(m),
                serde_json::from_slice(m.payload().unwrap()).unwrap(),
            )
        })
        .collect();
    assert_eq!(events.len(), records.len(), "every record has its own id");
    let copies: Vec<&String> = events.keys().filter(|id| id.contains("-copy")).collect();
    assert_eq!(
        records.len() - copies.len(),
        files * 3,
        "three articles per input"
    );
    // About a fifth of the articles are followed by a copy.
    let share = copies.len() as f64 / (files * 3) as f64;
    assert!((0.12..0.28).contains(&share), "copy share {share}");
    for copy in &copies {
        let original = &copy[..copy.find("-copy").unwrap()];
        assert_eq!(
            events[*copy]["content"], events[original]["content"],
            "{copy} is a true copy"
        );
    }
    for record in records.iter().take(50) {
        let event: serde_json::Value = serde_json::from_slice(record.payload().unwrap()).unwrap();
        newsflow_testkit::assert_valid("raw.v1.schema.json", &event);
        assert_eq!(
            header(record, "ce_type").as_deref(),
            Some("io.newsflow.article.raw.v1")
        );
        assert!(header(record, "traceparent").is_some());
    }

    // A sample of articles, originals and repeats, compared pairwise.
    let mut sample: Vec<(&String, String)> = events
        .iter()
        .filter(|(id, _)| !id.contains("-copy"))
        .map(|(id, e)| (id, e["content"].as_str().unwrap_or_default().to_owned()))
        .collect();
    sample.sort();
    let sample: Vec<_> = sample.into_iter().step_by(10).take(80).collect();
    assert!(sample.iter().any(|(id, _)| id.ends_with("-r2")));
    let mut worst = (0.0, "", "");
    for (i, (a_id, a)) in sample.iter().enumerate() {
        for (b_id, b) in &sample[i + 1..] {
            let j = shingle_jaccard(a, b);
            if j > worst.0 {
                worst = (j, a_id.as_str(), b_id.as_str());
            }
        }
    }
    assert!(
        worst.0 < 0.5,
        "{} and {} are near-duplicates (Jaccard {})",
        worst.1,
        worst.2,
        worst.0
    );
}

#[test]
fn producing_to_a_missing_topic_fails_naming_it() {
    let topic = format!(
        "{}.news.raw.v1",
        newsflow_testkit::unique_name("produce-missing")
    );
    let corpus = newsflow_testkit::corpus_dir().join("bbc-2005/business/001.txt");
    let started = std::time::Instant::now();
    let output = newsflow()
        .args([
            "produce",
            corpus.to_str().unwrap(),
            "--brokers",
            &brokers(),
            "--topic",
            &topic,
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("topic {topic} is not available"))
            && stderr.contains("create it first"),
        "{stderr}"
    );
    // The lookup gives up after 10 s, before any record is queued.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn topics_create_is_idempotent_and_configures_every_topic() {
    let prefix = format!("{}.", newsflow_testkit::unique_name("topics"));
    let args = [
        "topics",
        "create",
        "--brokers",
        &brokers(),
        "--prefix",
        &prefix,
        "--partitions",
        "2",
        "--max-message-bytes",
        "9000000",
        "--tag-topic",
        "ukraine-war",
    ];
    let first = String::from_utf8(output_of(newsflow().args(args)).stdout).unwrap();
    let second = String::from_utf8(output_of(newsflow().args(args)).stdout).unwrap();
    let expected = newsflow_core::topics::TOPICS.len() + 1;
    assert_eq!(
        first.lines().filter(|l| l.starts_with("created ")).count(),
        expected,
        "{first}"
    );
    assert_eq!(
        second.lines().filter(|l| l.starts_with("exists ")).count(),
        expected,
        "{second}"
    );
    assert!(first.contains(&format!("{prefix}news.topic.ukraine-war.v1")));

    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .unwrap();
    let raw = format!("{prefix}news.raw.v1");
    let state = format!("{prefix}newsflow.dedup-state.v1");
    let stories = format!("{prefix}news.stories.v1");
    let story_state = format!("{prefix}newsflow.story-state.v1");
    assert!(first.contains(&format!("created {stories}")), "{first}");
    assert!(first.contains(&format!("created {story_state}")), "{first}");
    // A new topic's configuration reaches the broker's metadata cache shortly after creation.
    let mut values = Vec::new();
    for _ in 0..100 {
        let configs = admin
            .describe_configs(
                [
                    &ResourceSpecifier::Topic(&raw),
                    &ResourceSpecifier::Topic(&state),
                    &ResourceSpecifier::Topic(&stories),
                    &ResourceSpecifier::Topic(&story_state),
                ],
                &AdminOptions::new(),
            )
            .await
            .unwrap();
        let value = |index: usize, name: &str| {
            configs[index]
                .as_ref()
                .ok()
                .and_then(|c| c.get(name))
                .and_then(|e| e.value.clone())
        };
        values = vec![
            value(0, "max.message.bytes"),
            value(0, "cleanup.policy"),
            value(1, "cleanup.policy"),
            value(2, "cleanup.policy"),
            value(3, "cleanup.policy"),
            value(0, "min.insync.replicas"),
        ];
        if values.iter().all(Option::is_some) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // One replica on the test broker: min.insync.replicas follows it down to 1.
    let expected =
        ["9000000", "delete", "compact", "compact", "compact", "1"].map(|v| Some(v.to_owned()));
    assert_eq!(
        values, expected,
        "max.message.bytes and cleanup.policy of raw, dedup state, stories and story state; \
         min.insync.replicas"
    );
    let metadata = admin
        .inner()
        .fetch_metadata(Some(&raw), Duration::from_secs(10))
        .unwrap();
    assert_eq!(metadata.topics()[0].partitions().len(), 2);
}

#[test]
fn min_insync_replicas_above_the_replication_factor_is_a_usage_error() {
    // Refused before any broker is asked: no broker answers on port 1.
    let output = newsflow()
        .args([
            "topics",
            "create",
            "--brokers",
            "127.0.0.1:1",
            "--replication-factor",
            "2",
            "--min-insync-replicas",
            "3",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--min-insync-replicas 3") && stderr.contains("--replication-factor 2"),
        "the message names both flags: {stderr}"
    );
}
