//! The clusterer's own metrics, beside the runner's.

use newsflow_runtime::metrics::{counters, gauge, gauges, histogram, register};
use prometheus::{Histogram, IntCounterVec, IntGauge, IntGaugeVec, Registry};

/// The changes a story record can name (`newsflow_story_records_total{change}`).
pub const CHANGES: [&str; 4] = ["opened", "joined", "merged", "expired"];

/// How many of the largest stories `newsflow_story_largest_articles` lists.
pub const LARGEST: usize = 10;

#[derive(Debug)]
pub struct StoryMetrics {
    /// `newsflow_story_records_total{change}`.
    pub records: IntCounterVec,
    pub open: IntGauge,
    /// Articles (copies included) of each story when it closed: expired, or merged into
    /// another.
    pub articles: Histogram,
    pub memory: IntGauge,
    /// `newsflow_story_largest_articles{rank,story}`: the open stories with the most
    /// articles; `rank` 1 to 10, `story` the representative title (or the id), so at most ten
    /// series at a time.
    pub largest: IntGaugeVec,
}

impl StoryMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let records = register(
            registry,
            counters(
                "newsflow_story_records_total",
                "Story records published, by the change they report.",
                &["change"],
            ),
        )?;
        for change in CHANGES {
            records.with_label_values(&[change]);
        }
        Ok(Self {
            records,
            open: register(
                registry,
                gauge(
                    "newsflow_stories_open",
                    "Stories open in this instance's stage.",
                ),
            )?,
            articles: register(
                registry,
                histogram(
                    "newsflow_story_articles",
                    "Articles (copies included) of a story when it closed (expired or merged).",
                    &[
                        1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0,
                    ],
                ),
            )?,
            memory: register(
                registry,
                gauge(
                    "newsflow_story_state_bytes",
                    "Approximate heap size of the story stage (stories, index, term counts).",
                ),
            )?,
            largest: register(
                registry,
                gauges(
                    "newsflow_story_largest_articles",
                    "Articles of the largest open stories, by rank (1 = the largest) and title.",
                    &["rank", "story"],
                ),
            )?,
        })
    }
}
