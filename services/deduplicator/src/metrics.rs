//! The deduplicator's own metrics, beside the runner's.

use newsflow_runtime::metrics::{counter, counters, gauge, register};
use prometheus::{IntCounter, IntCounterVec, IntGauge, Registry};

#[derive(Debug)]
pub struct DedupMetrics {
    /// `newsflow_duplicates_total{kind}`: copies found, exact or near.
    pub duplicates: IntCounterVec,
    pub retained: IntGauge,
    pub memory: IntGauge,
    pub evictions: IntCounter,
}

impl DedupMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let duplicates = register(
            registry,
            counters(
                "newsflow_duplicates_total",
                "Copies of earlier stories found, by kind.",
                &["kind"],
            ),
        )?;
        for kind in ["exact", "near"] {
            duplicates.with_label_values(&[kind]);
        }
        Ok(Self {
            duplicates,
            retained: register(
                registry,
                gauge(
                    "newsflow_dedup_retained_articles",
                    "Articles in the deduplication window.",
                ),
            )?,
            memory: register(
                registry,
                gauge(
                    "newsflow_dedup_window_bytes",
                    "Approximate heap size of the deduplication window.",
                ),
            )?,
            evictions: register(
                registry,
                counter(
                    "newsflow_dedup_evictions_total",
                    "Articles dropped from the deduplication window as their event time left it.",
                ),
            )?,
        })
    }
}
