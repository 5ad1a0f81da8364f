//! How long a deduplicator instance takes to restore its window from the state topic, and
//! what the window costs in memory once restored.
//!
//! Fills a [`DedupStage`] with N distinct synthetic articles spread over its 7-day window,
//! writes every state change to a fresh state topic on the broker (`NEWSFLOW_TEST_BROKERS`,
//! default 127.0.0.1:9092), starts `newsflow-deduplicator` on that topic and reports, once it
//! is ready, its `newsflow_state_restore_seconds` and the window's bytes per retained article.
//!
//! `cargo bench -p newsflow-deduplicator --bench restore` restores 1M articles
//! (`DEDUP_RESTORE_ARTICLES` changes it); `cargo test --benches` runs it once with 2,000.

#![allow(clippy::unwrap_used)] // a bench that cannot unwrap should fail loudly

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use newsflow_core::event::NormalizedArticle;
use newsflow_core::{DedupStage, Event, Stage, StageContext};
use newsflow_testkit::kafka::{Service, bulk_producer, create_topics, send_waiting};
use newsflow_testkit::synthetic::{Numbers, body, vocabulary};
use newsflow_testkit::{brokers, unique_name};
use rdkafka::producer::{BaseRecord, Producer as _};

fn article(n: u64, body: Vec<String>, time: DateTime<Utc>) -> NormalizedArticle {
    let value = serde_json::json!({
        "id": format!("{:032x}", u128::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)),
        "revision": 1,
        "source": "bench",
        "title": "Synthetic",
        "authors": [],
        "published_at": time,
        "word_count": 40,
        "content_hash": format!("{:064x}", u128::from(n) << 1 | 1),
        "body": body,
        "related": [],
        "language": "en",
        "url": null, "section": null, "published_at_raw": null, "dateline": null, "lede": null,
        "fetched_at": null,
        "ingested_at": time,
        "normalized_at": time,
    });
    serde_json::from_value(value).unwrap()
}

fn main() {
    let measuring = std::env::args().any(|arg| arg == "--bench");
    let articles: u64 = match std::env::var("DEDUP_RESTORE_ARTICLES") {
        Ok(n) => n.parse().expect("DEDUP_RESTORE_ARTICLES is a number"),
        Err(_) if measuring => 1_000_000,
        Err(_) => 2_000,
    };
    let name = unique_name("restore-bench");
    let state = format!("{name}.state");
    let (input, output, duplicates, dlq) = (
        format!("{name}.in"),
        format!("{name}.out"),
        format!("{name}.dups"),
        format!("{name}.dlq"),
    );
    create_topics(
        &[
            state.clone(),
            input.clone(),
            output.clone(),
            duplicates.clone(),
            dlq.clone(),
        ],
        1,
    );

    // The window, built by the stage itself, streamed to the state topic as it grows.
    let producer = bulk_producer();
    let mut numbers = Numbers(0x5eed_1e55_ba5e_ba11);
    let words = vocabulary(&mut numbers, 20_000);
    let start = DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let step = chrono::Duration::seconds(7 * 24 * 3600) / articles.max(1) as i32;
    let ctx = StageContext::at(start + chrono::Duration::days(3650));
    let mut stage = DedupStage::default();
    let began = Instant::now();
    let (mut records, mut bytes) = (0u64, 0u64);
    for n in 0..articles {
        let event = Event::Normalized(article(
            n,
            body(&mut numbers, &words, 1, 40),
            start + step * n as i32,
        ));
        stage.process(event, &ctx).unwrap();
        for change in stage.take_state_changes() {
            let value = change.value.unwrap_or_default();
            bytes += (change.key.len() + value.len()) as u64;
            records += 1;
            send_waiting(
                &producer,
                BaseRecord::to(&state).key(&change.key).payload(&value),
            );
        }
    }
    producer.flush(Duration::from_secs(120)).unwrap();
    let in_memory = stage.memory_bytes() as f64 / stage.retained() as f64;
    println!(
        "state topic: {records} records ({:.1} MB) for {articles} articles, written in {:.1} s; \
the stage itself holds {:.0} bytes per retained article",
        bytes as f64 / 1e6,
        began.elapsed().as_secs_f64(),
        in_memory
    );
    drop(stage);

    let began = Instant::now();
    let service = Service::start(
        env!("CARGO_BIN_EXE_newsflow-deduplicator"),
        &[
            "--brokers",
            &brokers(),
            "--group-id",
            &name,
            "--input-topic",
            &input,
            "--output-topic",
            &output,
            "--duplicates-topic",
            &duplicates,
            "--dlq-topic",
            &dlq,
            "--state-topic",
            &state,
        ],
    );
    service.wait_ready(Duration::from_secs(900));
    let ready = began.elapsed().as_secs_f64();
    let metrics = service.get("/metrics").unwrap().1;
    let value = |name: &str| newsflow_testkit::kafka::metric_value(&metrics, name, "");
    let retained = value("newsflow_dedup_retained_articles");
    let window_bytes = value("newsflow_dedup_window_bytes");
    let rss = value("process_resident_memory_bytes");
    println!(
        "restore of {articles} articles: {:.2} s (newsflow_state_restore_seconds), ready after \
{ready:.2} s from start; {retained} retained, {:.0} bytes per article in the window, RSS {:.0} MB",
        value("newsflow_state_restore_seconds"),
        window_bytes / retained,
        rss / 1e6
    );
    assert_eq!(retained as u64, articles, "every article restored");
    service.signal("TERM");
    assert_eq!(service.wait(Duration::from_secs(60)), Some(0));
}
