//! The tagger's own metrics, beside the runner's.

use newsflow_core::tag::Taxonomy;
use newsflow_runtime::metrics::{counters, gauges, register};
use prometheus::{IntCounterVec, IntGaugeVec, Registry};

#[derive(Debug, Clone)]
pub struct TaggerMetrics {
    /// `newsflow_tags_total{topic}`: articles tagged, per taxonomy topic.
    pub tags: IntCounterVec,
    pub reloads: IntCounterVec,
    pub info: IntGaugeVec,
}

impl TaggerMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let reloads = register(
            registry,
            counters(
                "newsflow_taxonomy_reloads_total",
                "Taxonomy file changes the tagger acted on, by outcome (ok: in force; error: \
rejected, the previous taxonomy stays in force).",
                &["outcome"],
            ),
        )?;
        for outcome in ["ok", "error"] {
            reloads.with_label_values(&[outcome]);
        }
        Ok(Self {
            reloads,
            info: register(
                registry,
                gauges(
                    "newsflow_taxonomy_info",
                    "Constant 1, labelled with the taxonomy version in force.",
                    &["version"],
                ),
            )?,
            tags: register(
                registry,
                counters(
                    "newsflow_tags_total",
                    "Articles tagged, per taxonomy topic (the topic ids are the taxonomy's).",
                    &["topic"],
                ),
            )?,
        })
    }

    /// `taxonomy` is in force: its version, and a series per topic from 0.
    pub fn in_force(&self, taxonomy: &Taxonomy) {
        for id in taxonomy.topic_ids() {
            self.tags.with_label_values(&[id]);
        }
        self.info.reset();
        self.info.with_label_values(&[taxonomy.version()]).set(1);
    }
}
