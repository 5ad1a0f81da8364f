//! The dedupe stage with the deduplicator's own metrics: duplicates by kind, retained
//! fingerprints, the window's memory, evictions.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use newsflow_core::Emit;
use newsflow_core::dedup::{DUPLICATES, DedupStage};
use newsflow_core::event::{DuplicateKind, Event};
use newsflow_runtime::{Hooked, ServiceContext, StageHooks};

use crate::args::Args;
use crate::metrics::DedupMetrics;

/// Builds the stage from the flags, with its metrics in the service's registry.
pub fn build(
    args: &Args,
    context: &mut ServiceContext,
) -> anyhow::Result<Hooked<DedupStage, Gauges>> {
    let stage = DedupStage::new(args.dedup_config()?).context("invalid deduplicator settings")?;
    let mut gauges = Gauges {
        metrics: DedupMetrics::register(&context.metrics().registry)?,
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
    metrics: DedupMetrics,
    last_update: Instant,
}

impl Gauges {
    /// The retained count is exact after every call (it costs nothing); the window's size,
    /// which walks its expiry index, is refreshed at most once a second.
    fn update(&mut self, stage: &DedupStage, force: bool) {
        let metrics = &self.metrics;
        metrics.retained.set(stage.retained() as i64);
        if force || self.last_update.elapsed() >= Duration::from_secs(1) {
            metrics.memory.set(stage.memory_bytes() as i64);
            // The counter follows the stage's own count (restored state included).
            let evicted = stage.evicted();
            if evicted > metrics.evictions.get() {
                metrics.evictions.inc_by(evicted - metrics.evictions.get());
            }
            self.last_update = Instant::now();
        }
    }
}

impl StageHooks<DedupStage> for Gauges {
    fn after(&mut self, stage: &DedupStage, emits: &[Emit]) {
        for emit in emits.iter().filter(|emit| emit.route.output == DUPLICATES) {
            if let Event::DuplicateNotice(notice) = &emit.event {
                let kind = match notice.kind {
                    DuplicateKind::Exact => "exact",
                    DuplicateKind::Near => "near",
                };
                self.metrics.duplicates.with_label_values(&[kind]).inc();
            }
        }
        self.update(stage, false);
    }

    fn after_restore(&mut self, stage: &DedupStage, restored: bool) {
        self.update(stage, restored);
    }
}
