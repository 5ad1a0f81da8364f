//! Dedupe throughput and memory with a full window.
//!
//! `process/<n>`: one new ~380-word article (6 paragraphs) through [`DedupStage`]: fingerprint,
//! LSH lookup, insert, and the expiry of what leaves the window, with `n` articles retained.
//! The window is pre-filled with `n` short synthetic articles whose event times fill the 7-day
//! window evenly; each measured article comes one step later, so the window stays at `n`.
//! Target: ≥ 50,000 articles/s per core at 100k and 1M retained. The bytes per retained article
//! (`memory_bytes() / retained()`; target ≤ 300 at 1M) are printed after the pre-fill.
//!
//! `cargo bench -p newsflow-core --bench dedup` measures (criterion passes `--bench`);
//! `cargo test --benches` runs each case once with small windows as a smoke test.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

use std::hint::black_box;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use newsflow_core::event::NormalizedArticle;
use newsflow_core::{DedupStage, Event, Stage, StageContext};
use newsflow_testkit::synthetic::{Numbers, body, vocabulary};

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn article(n: u64, body: Vec<String>, time: DateTime<Utc>) -> NormalizedArticle {
    NormalizedArticle {
        // 32 hex characters, like newsflow's own ids.
        id: format!(
            "{:032x}",
            u128::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
        ),
        revision: 1,
        source: "bench".to_owned(),
        url: None,
        title: Some("Synthetic".to_owned()),
        section: None,
        authors: Vec::new(),
        published_at: Some(time),
        published_at_raw: None,
        dateline: None,
        lede: None,
        word_count: body
            .iter()
            .map(|p| p.split_whitespace().count() as u32)
            .sum(),
        content_hash: format!("{:064x}", u128::from(n) << 1 | 1),
        body,
        related: Vec::new(),
        language: Some("en".to_owned()),
        fetched_at: None,
        ingested_at: time,
        normalized_at: time,
    }
}

/// A stage holding `size` articles spread evenly over its window, and the time step between
/// two of them.
fn filled(size: u64, numbers: &mut Numbers, words: &[String]) -> (DedupStage, Duration) {
    let mut stage = DedupStage::default();
    let step = Duration::seconds(7 * 24 * 3600) / size as i32;
    let ctx = StageContext::at(start() + Duration::days(3650));
    let began = Instant::now();
    for n in 0..size {
        let body = body(numbers, words, 1, 40);
        let event = Event::Normalized(article(n, body, start() + step * n as i32));
        black_box(stage.process(event, &ctx).ok());
    }
    drop(stage.take_state_changes());
    println!(
        "dedup window of {size}: filled in {:.1} s; {} retained, {:.1} MB, {:.0} bytes per article",
        began.elapsed().as_secs_f64(),
        stage.retained(),
        stage.memory_bytes() as f64 / 1e6,
        stage.memory_bytes() as f64 / stage.retained() as f64
    );
    (stage, step)
}

fn bench(c: &mut Criterion) {
    // Full windows only when measuring; `cargo test --benches` runs each case once.
    let measuring = std::env::args().any(|arg| arg == "--bench");
    let sizes: &[(u64, &str)] = if measuring {
        &[(100_000, "100k"), (1_000_000, "1M")]
    } else {
        &[(2_000, "2k")]
    };
    let mut numbers = Numbers(0x5eed_1e55_ba5e_ba11);
    let words = vocabulary(&mut numbers, 20_000);
    let mut group = c.benchmark_group("dedup");
    group.throughput(Throughput::Elements(1));
    for &(size, label) in sizes {
        let (mut stage, step) = filled(size, &mut numbers, &words);
        let ctx = StageContext::at(start() + Duration::days(3650));
        let mut n = size;
        group.bench_function(format!("process/{label}"), |b| {
            b.iter_batched(
                || {
                    n += 1;
                    let body = body(&mut numbers, &words, 6, 63);
                    Event::Normalized(article(n, body, start() + step * n as i32))
                },
                |event| {
                    let out = stage.process(event, &ctx);
                    // The runner takes the state changes after every input.
                    (out, stage.take_state_changes())
                },
                BatchSize::SmallInput,
            );
        });
        println!(
            "dedup window of {size} after the run: {} retained, {:.0} bytes per article",
            stage.retained(),
            stage.memory_bytes() as f64 / stage.retained() as f64
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
