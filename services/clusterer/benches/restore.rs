//! How long a clusterer instance takes to restore its open stories from the state topic, and
//! what a story costs in memory once restored.
//!
//! Fills a [`StoryStage`] with N synthetic articles (40 words each of a 20,000-word
//! vocabulary, so nearly every one opens a story of its own) within a day of event time,
//! keeps the latest state record per key (what the compacted topic keeps), writes them to a
//! fresh state topic on the broker (`NEWSFLOW_TEST_BROKERS`, default 127.0.0.1:9092), starts
//! `newsflow-clusterer` on that topic and reports, once it is ready, its
//! `newsflow_state_restore_seconds`, the stage's estimate of its bytes per story and the
//! resident memory over that of an instance started on an empty state topic.
//!
//! `cargo bench -p newsflow-clusterer --bench restore` restores 100,000 stories
//! (`STORY_RESTORE_ARTICLES` changes it); `cargo test --benches` runs it once with 1,000.

#![allow(clippy::unwrap_used)] // a bench that cannot unwrap should fail loudly

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use newsflow_core::event::{DedupInfo, DedupStatus, EnrichedArticle, NormalizedArticle};
use newsflow_core::{Event, Stage, StageContext, StoryConfig, StoryStage};
use newsflow_testkit::kafka::{Service, bulk_producer, create_topics, metric_value, send_waiting};
use newsflow_testkit::synthetic::{Numbers, body, vocabulary};
use newsflow_testkit::{brokers, unique_name};
use rdkafka::producer::{BaseRecord, Producer as _};

fn article(n: u64, body: Vec<String>, time: DateTime<Utc>) -> Event {
    Event::Enriched(EnrichedArticle {
        article: NormalizedArticle {
            title: Some(format!("Synthetic story {n}")),
            ..NormalizedArticle::from_body(&format!("bench-{n}"), "bench", body, time)
        },
        dedup: DedupInfo {
            status: DedupStatus::Unique,
            fingerprint: "f".to_owned(),
        },
        topics: Vec::new(),
        entities: Vec::new(),
        tagger_version: "bench".to_owned(),
        taxonomy_version: "bench".to_owned(),
    })
}

/// The latest state record per key after `articles` synthetic articles, and the open stories.
fn state(articles: u64) -> (HashMap<String, Option<Vec<u8>>>, usize, f64) {
    let mut numbers = Numbers(0x5eed_1e55_ba5e_ba11);
    let words = vocabulary(&mut numbers, 20_000);
    let start = DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let step = chrono::Duration::seconds(24 * 3600) / articles.max(1) as i32;
    let ctx = StageContext::at(start + chrono::Duration::days(3650));
    let mut stage = StoryStage::new(StoryConfig::default()).unwrap();
    let mut latest = HashMap::new();
    for n in 0..articles {
        let event = article(
            n,
            body(&mut numbers, &words, 1, 40),
            start + step * n as i32,
        );
        Stage::process(&mut stage, event, &ctx).unwrap();
        for change in stage.take_state_changes() {
            latest.insert(change.key, change.value);
        }
    }
    let per_story = stage.memory_bytes() as f64 / stage.open_stories() as f64;
    (latest, stage.open_stories(), per_story)
}

fn write(topic: &str, records: &HashMap<String, Option<Vec<u8>>>) -> u64 {
    let producer = bulk_producer();
    let mut bytes = 0u64;
    for (key, value) in records {
        // A tombstone as a null value, as the runner writes it.
        bytes += (key.len() + value.as_ref().map_or(0, Vec::len)) as u64;
        let record = BaseRecord::<str, [u8]>::to(topic).key(key.as_str());
        match value {
            Some(value) => send_waiting(&producer, record.payload(value.as_slice())),
            None => send_waiting(&producer, record),
        }
    }
    producer.flush(Duration::from_secs(120)).unwrap();
    bytes
}

/// Starts a clusterer on `state`, waits until it is ready, returns its metrics and stops it.
fn restored(name: &str, state: &str) -> (String, f64) {
    let topic = |suffix: &str| format!("{name}.{suffix}");
    let began = Instant::now();
    let service = Service::start(
        env!("CARGO_BIN_EXE_newsflow-clusterer"),
        &[
            "--brokers",
            &brokers(),
            "--group-id",
            &topic("group"),
            "--input-topic",
            &topic("in"),
            "--duplicates-topic",
            &topic("dups"),
            "--stories-topic",
            &topic("stories"),
            "--dlq-topic",
            &topic("dlq"),
            "--state-topic",
            state,
        ],
    );
    service.wait_ready(Duration::from_secs(900));
    let ready = began.elapsed().as_secs_f64();
    let metrics = service.get("/metrics").unwrap().1;
    service.signal("TERM");
    assert_eq!(service.wait(Duration::from_secs(60)), Some(0));
    (metrics, ready)
}

fn main() {
    let measuring = std::env::args().any(|arg| arg == "--bench");
    let articles: u64 = match std::env::var("STORY_RESTORE_ARTICLES") {
        Ok(n) => n.parse().expect("STORY_RESTORE_ARTICLES is a number"),
        Err(_) if measuring => 100_000,
        Err(_) => 1_000,
    };
    let name = unique_name("story-restore-bench");
    let (full, empty) = (format!("{name}.state"), format!("{name}.empty"));
    let others = ["in", "dups", "stories", "dlq"].map(|s| format!("{name}.{s}"));
    let mut topics = vec![full.clone(), empty.clone()];
    topics.extend(others);
    create_topics(&topics, 1);

    let began = Instant::now();
    let (records, stories, per_story) = state(articles);
    let bytes = write(&full, &records);
    println!(
        "state topic: {} records ({:.1} MB) for {articles} articles, {stories} open stories, \
built in {:.1} s; the stage's own estimate: {per_story:.0} bytes per story",
        records.len(),
        bytes as f64 / 1e6,
        began.elapsed().as_secs_f64(),
    );
    drop(records);

    let value = |metrics: &str, name: &str| metric_value(metrics, name, "");
    let (baseline, _) = restored(&name, &empty);
    let (metrics, ready) = restored(&name, &full);
    let open = value(&metrics, "newsflow_stories_open");
    let rss = value(&metrics, "process_resident_memory_bytes");
    let rss_delta = rss - value(&baseline, "process_resident_memory_bytes");
    println!(
        "restore of {stories} stories: {:.2} s (newsflow_state_restore_seconds), ready after \
{ready:.2} s from start; {open} open, {:.0} bytes per story by the stage's estimate, RSS {:.0} MB \
({:.0} bytes per story over an instance with an empty state topic)",
        value(&metrics, "newsflow_state_restore_seconds"),
        value(&metrics, "newsflow_story_state_bytes") / open,
        rss / 1e6,
        rss_delta / open,
    );
    assert_eq!(open as usize, stories, "every story restored");
}
