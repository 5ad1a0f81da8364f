//! Story stage throughput and memory with many open stories.
//!
//! `article/<n>`: one new ~300-word enriched article (title and 5 paragraphs) through
//! [`StoryStage::article`]: its term vector, the inverted-index look-up, the full scores of the
//! best candidates, then opening a story or joining one, with `n` stories open. The stage is
//! pre-filled with `n` stories of synthetic articles (common English words plus words of their
//! own, so they stay apart), all inside the window; half of the measured articles follow up an
//! open story (they share its own words), half are new. Target: ≥ 10,000 articles/s at 100k
//! open stories. The bytes per open story (`memory_bytes() / open_stories()`) are printed after
//! the pre-fill.
//!
//! Measured with mimalloc, the allocator the binaries use.
//!
//! `cargo bench -p newsflow-core --bench story` measures (criterion passes `--bench`);
//! `cargo test --benches` runs each case once with a small stage as a smoke test.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

use std::hint::black_box;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use newsflow_core::StageContext;
use newsflow_core::event::{DedupInfo, DedupStatus, EnrichedArticle, NormalizedArticle};
use newsflow_core::story::{StoryConfig, StoryStage, terms::PRIOR_TSV};
use newsflow_testkit::synthetic::{Numbers, vocabulary};

/// The allocator of every newsflow binary (`newsflow run`, the services), so the figures are
/// the stage's as it runs there.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// Words of an article of story `story`: mostly common English, a fifth words of its own
/// (eight per story, pseudo-words no other story uses).
struct Writer {
    numbers: Numbers,
    common: Vec<String>,
    syllables: Vec<String>,
}

impl Writer {
    fn new() -> Self {
        let mut numbers = Numbers(0x5eed_1e55_ba5e_ba11);
        let common = PRIOR_TSV
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split('\t').next())
            .take(5_000)
            .map(str::to_owned)
            .collect();
        // 4,096 pseudo-syllables; a story's words spell its number in them.
        let syllables = vocabulary(&mut numbers, 4_096)
            .into_iter()
            .map(|w| w.trim_matches([',', '.']).to_lowercase())
            .collect();
        Self {
            numbers,
            common,
            syllables,
        }
    }

    fn paragraph(&mut self, story: u64, words: usize) -> String {
        (0..words)
            .map(|_| {
                let n = self.numbers.next();
                if n % 5 == 0 {
                    let own = story * 8 + (n >> 8) % 8;
                    let s = &self.syllables;
                    format!(
                        "{}{}{}",
                        s[(own % 4096) as usize],
                        s[((own >> 12) % 4096) as usize],
                        s[((own >> 24) % 4096) as usize]
                    )
                } else {
                    self.common[(n >> 8) as usize % self.common.len()].clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn article(
        &mut self,
        n: u64,
        story: u64,
        paragraphs: usize,
        time: DateTime<Utc>,
    ) -> EnrichedArticle {
        let title = self.paragraph(story, 8);
        let body: Vec<String> = (0..paragraphs).map(|_| self.paragraph(story, 58)).collect();
        let id = format!(
            "{:032x}",
            u128::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
        );
        EnrichedArticle {
            article: NormalizedArticle {
                title: Some(title),
                ..NormalizedArticle::from_body(&id, &format!("outlet-{}", n % 50), body, time)
            },
            dedup: DedupInfo {
                status: DedupStatus::Unique,
                fingerprint: String::new(),
            },
            topics: Vec::new(),
            entities: Vec::new(),
            tagger_version: "bench".to_owned(),
            taxonomy_version: "bench".to_owned(),
        }
    }
}

/// A stage with `size` open stories (one short article each, all inside the window).
fn filled(size: u64, writer: &mut Writer, ctx: &StageContext) -> StoryStage {
    let mut stage = StoryStage::new(StoryConfig::default()).unwrap();
    let step = Duration::seconds(24 * 3600) / size.max(1) as i32;
    let began = Instant::now();
    for n in 0..size {
        let article = writer.article(n, n, 2, start() + step * n as i32);
        black_box(stage.article(&article, ctx));
    }
    println!(
        "story stage with {size} articles: filled in {:.1} s; {} open stories, {:.1} MB, {:.0} bytes per open story",
        began.elapsed().as_secs_f64(),
        stage.open_stories(),
        stage.memory_bytes() as f64 / 1e6,
        stage.memory_bytes() as f64 / stage.open_stories() as f64
    );
    stage
}

fn bench(c: &mut Criterion) {
    // 100k open stories only when measuring; `cargo test --benches` runs each case once.
    let measuring = std::env::args().any(|arg| arg == "--bench");
    let sizes: &[(u64, &str)] = if measuring {
        &[(100_000, "100k")]
    } else {
        &[(2_000, "2k")]
    };
    let ctx = StageContext::at(start() + Duration::days(3650));
    let mut writer = Writer::new();
    let mut group = c.benchmark_group("story");
    group.throughput(Throughput::Elements(1));
    for &(size, label) in sizes {
        let mut stage = filled(size, &mut writer, &ctx);
        let mut n = size;
        let time = start() + Duration::hours(25);
        group.bench_function(format!("article/{label}"), |b| {
            b.iter_batched(
                || {
                    n += 1;
                    // Half follow up an open story, half are new stories.
                    let story = if n % 2 == 0 { n % size } else { n + 1_000_000 };
                    writer.article(n, story, 5, time)
                },
                |article| stage.article(&article, &ctx),
                BatchSize::SmallInput,
            );
        });
        let stats = stage.stats();
        println!(
            "story stage after the run: {} open stories, {} articles, {} opened, {} merged, {:.0} bytes per open story",
            stage.open_stories(),
            stats.articles,
            stats.opened,
            stats.merged,
            stage.memory_bytes() as f64 / stage.open_stories() as f64
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
