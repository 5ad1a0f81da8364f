//! The story stage with the clusterer's own metrics: records by change, open stories, the
//! size of closed stories, the stage's memory and the largest stories now.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use newsflow_core::story::{Change, StoryStage};
use newsflow_core::{Emit, Event};
use newsflow_runtime::{Hooked, ServiceContext, StageHooks};

use crate::args::Args;
use crate::metrics::{LARGEST, StoryMetrics};

/// Builds the stage from the flags, with its metrics in the service's registry.
pub fn build(
    args: &Args,
    context: &mut ServiceContext,
) -> anyhow::Result<Hooked<StoryStage, Gauges>> {
    let stage = StoryStage::new(args.story_config()?).context("invalid story settings")?;
    let mut gauges = Gauges {
        metrics: StoryMetrics::register(&context.metrics().registry)?,
        last_update: Instant::now(),
    };
    gauges.update(&stage, true);
    Ok(Hooked {
        stage,
        hooks: gauges,
    })
}

/// Keeps the metrics up to date with the stage.
#[derive(Debug)]
pub struct Gauges {
    metrics: StoryMetrics,
    last_update: Instant,
}

/// A label value of at most this many characters.
const MAX_LABEL: usize = 80;

impl Gauges {
    /// The open count is exact after every call; the memory estimate and the largest
    /// stories, which walk every story, are refreshed at most every 5 seconds (as the next
    /// input is processed).
    fn update(&mut self, stage: &StoryStage, force: bool) {
        let metrics = &self.metrics;
        metrics.open.set(stage.open_stories() as i64);
        if force || self.last_update.elapsed() >= Duration::from_secs(5) {
            metrics.memory.set(stage.memory_bytes() as i64);
            metrics.largest.reset();
            for (rank, (id, title, articles)) in stage.largest(LARGEST).into_iter().enumerate() {
                let name: String = title.unwrap_or(id).chars().take(MAX_LABEL).collect();
                let rank = (rank + 1).to_string();
                metrics
                    .largest
                    .with_label_values(&[rank.as_str(), name.as_str()])
                    .set(articles as i64);
            }
            self.last_update = Instant::now();
        }
    }
}

impl StageHooks<StoryStage> for Gauges {
    fn after(&mut self, stage: &StoryStage, emits: &[Emit]) {
        for emit in emits {
            let Event::Story(record) = &emit.event else {
                continue;
            };
            let change = match record.change {
                Change::Opened => "opened",
                Change::Joined => "joined",
                Change::Merged => "merged",
                Change::Expired => "expired",
            };
            self.metrics.records.with_label_values(&[change]).inc();
            if record.change == Change::Expired || record.story.merged_into.is_some() {
                self.metrics
                    .articles
                    .observe(record.story.article_count as f64);
            }
        }
        self.update(stage, false);
    }

    fn after_restore(&mut self, stage: &StoryStage, restored: bool) {
        if restored {
            self.update(stage, true);
        }
    }
}
