//! The runner's Prometheus metrics. Names carry the `newsflow_` prefix and their unit; labels
//! are low-cardinality (`stage` is the service, `output` one of a fixed set, `error_kind` the
//! closed list).

use prometheus::{
    Encoder as _, Histogram, HistogramOpts, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// Every metric the runner updates.
#[derive(Debug, Clone)]
pub struct RunnerMetrics {
    pub registry: Registry,
    /// Records read, by topic.
    pub consumed: IntCounterVec,
    /// Records acknowledged by the broker, by topic and output (`primary`, `duplicates`,
    /// `topic`, `dlq`, `state`).
    pub produced: IntCounterVec,
    /// From `ingested_at` (the raw record's timestamp) to the acknowledgement of an output.
    pub end_to_end_latency_seconds: Histogram,
    /// Records behind the end of each owned input partition (librdkafka statistics).
    pub consumer_lag: IntGaugeVec,
    /// Partition assignments and revocations.
    pub rebalances: IntCounterVec,
    /// exactly-once: transactions by outcome (`committed`, `aborted`).
    pub transactions: IntCounterVec,
    /// exactly-once: how long committing a transaction takes (acknowledgements, offsets, commit).
    pub transaction_commit_seconds: Histogram,
    /// Inputs sent to the dead-letter topic, by reason.
    pub dead_letters: IntCounterVec,
    /// Retries of transient stage or delivery errors.
    pub retries: IntCounterVec,
    /// Time a stage spends on one input.
    pub stage_seconds: Histogram,
    /// From reading an input to the broker acknowledging all its outputs.
    pub end_to_end_seconds: Histogram,
    /// Inputs read but not yet acknowledged.
    pub in_flight: IntGauge,
    /// Partitions of the input topic assigned to this instance.
    pub assigned_partitions: IntGauge,
    /// 1 when `/readyz` says ready.
    pub ready: IntGauge,
    /// Constant 1 with the version and service as labels.
    pub build_info: IntGaugeVec,
    /// How long restoring the state topic took at start-up.
    pub state_restore_seconds: prometheus::Gauge,
    /// State records applied (restored at start-up or read afterwards).
    pub state_records: IntCounterVec,
}

/// Registers `collector` in `registry`: a service's own metrics go beside the runner's.
pub fn register<C>(registry: &Registry, collector: C) -> prometheus::Result<C>
where
    C: prometheus::core::Collector + Clone + 'static,
{
    registry.register(Box::new(collector.clone()))?;
    Ok(collector)
}

/// Metric constructors for names and labels written in code, which are valid.
pub fn counters(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric")
}

pub fn gauges(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric")
}

pub fn gauge(name: &str, help: &str) -> IntGauge {
    IntGauge::new(name, help).expect("valid metric")
}

pub fn counter(name: &str, help: &str) -> prometheus::IntCounter {
    prometheus::IntCounter::new(name, help).expect("valid metric")
}

pub fn histogram(name: &str, help: &str, buckets: &[f64]) -> Histogram {
    Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec()))
        .expect("valid metric")
}

/// The runner's histograms: per stage call, per input, end to end, per transaction commit.
fn histograms() -> [Histogram; 4] {
    [
        histogram(
            "newsflow_stage_duration_seconds",
            "Time the stage spends on one input.",
            &[0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0],
        ),
        histogram(
            "newsflow_input_duration_seconds",
            "From reading an input to the broker acknowledging every output of it.",
            &[
                0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ],
        ),
        histogram(
            "newsflow_end_to_end_latency_seconds",
            "From the article entering news.raw.v1 (ingested_at) to this stage's output being acknowledged.",
            // Fine below 1 s, where latency objectives live (p99 ≤ 50 ms in benchmarks).
            &[
                0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15,
                0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0, 10.0, 30.0, 60.0, 300.0,
            ],
        ),
        histogram(
            "newsflow_transaction_commit_duration_seconds",
            "exactly-once: time to commit a transaction (its records acknowledged, offsets sent, committed).",
            &[
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ],
        ),
    ]
}

impl RunnerMetrics {
    /// Metrics of one service; every series carries its name as the `stage` label.
    pub fn new(service: &str) -> Self {
        let labels = std::collections::HashMap::from([("stage".to_owned(), service.to_owned())]);
        let registry = Registry::new_custom(None, Some(labels)).expect("a valid stage label");
        let [
            stage_seconds,
            end_to_end_seconds,
            end_to_end_latency_seconds,
            transaction_commit_seconds,
        ] = histograms();
        let metrics = Self {
            consumed: counters(
                "newsflow_input_records_total",
                "Records read from the input topic.",
                &["topic"],
            ),
            produced: counters(
                "newsflow_output_records_total",
                "Records the broker acknowledged, by topic and output (primary, duplicates, topic, dlq, state).",
                &["topic", "output"],
            ),
            dead_letters: counters(
                "newsflow_dead_letters_total",
                "Inputs sent to the dead-letter topic, by error kind.",
                &["error_kind"],
            ),
            retries: counters(
                "newsflow_retries_total",
                "Retries of transient errors, by what failed (stage, delivery).",
                &["what"],
            ),
            stage_seconds,
            end_to_end_seconds,
            end_to_end_latency_seconds,
            consumer_lag: gauges(
                "newsflow_consumer_lag_records",
                "Records behind the end of each owned input partition.",
                &["topic", "partition"],
            ),
            rebalances: counters(
                "newsflow_rebalances_total",
                "Partition assignments and revocations.",
                &["kind"],
            ),
            transactions: counters(
                "newsflow_transactions_total",
                "Kafka transactions (exactly-once mode), by outcome (committed, aborted).",
                &["outcome"],
            ),
            transaction_commit_seconds,
            in_flight: gauge(
                "newsflow_in_flight_inputs",
                "Inputs read but not yet acknowledged.",
            ),
            assigned_partitions: gauge(
                "newsflow_assigned_partitions",
                "Partitions of the input topic assigned to this instance.",
            ),
            ready: gauge(
                "newsflow_ready",
                "1 when the instance is ready (see /readyz).",
            ),
            build_info: gauges(
                "newsflow_build_info",
                "Constant 1, labelled with the version and the service.",
                &["version"],
            ),
            state_restore_seconds: prometheus::Gauge::new(
                "newsflow_state_restore_seconds",
                "How long restoring the state topic took at start-up.",
            )
            .expect("valid metric"),
            state_records: counters(
                "newsflow_state_records_total",
                "State records applied, by phase (restore at start-up, follow afterwards).",
                &["phase"],
            ),
            registry,
        };
        metrics.register();
        metrics
    }

    /// Registers every metric, with the series that must exist from the start.
    fn register(&self) {
        // Every kind starts at 0, so the first dead letter of a kind shows in rate() and alerts.
        for kind in newsflow_core::ErrorKind::ALL {
            self.dead_letters.with_label_values(&[kind.as_str()]);
        }
        for outcome in ["committed", "aborted"] {
            self.transactions.with_label_values(&[outcome]);
        }
        for collector in [
            Box::new(self.consumed.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(self.produced.clone()),
            Box::new(self.dead_letters.clone()),
            Box::new(self.retries.clone()),
            Box::new(self.stage_seconds.clone()),
            Box::new(self.end_to_end_seconds.clone()),
            Box::new(self.in_flight.clone()),
            Box::new(self.assigned_partitions.clone()),
            Box::new(self.ready.clone()),
            Box::new(self.build_info.clone()),
            Box::new(self.state_restore_seconds.clone()),
            Box::new(self.state_records.clone()),
            Box::new(self.end_to_end_latency_seconds.clone()),
            Box::new(self.consumer_lag.clone()),
            Box::new(self.rebalances.clone()),
            Box::new(self.transactions.clone()),
            Box::new(self.transaction_commit_seconds.clone()),
        ] {
            self.registry
                .register(collector)
                .expect("metric names are unique");
        }
        #[cfg(target_os = "linux")]
        {
            let process = prometheus::process_collector::ProcessCollector::for_self();
            self.registry
                .register(Box::new(process))
                .expect("process metrics register once");
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        if let Err(err) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::warn!(error = %err, "cannot encode metrics");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus_conventions() {
        let metrics = RunnerMetrics::new("s");
        // Label values make every vector appear in the exposition.
        metrics.consumed.with_label_values(&["t"]).inc();
        metrics.produced.with_label_values(&["t", "primary"]).inc();
        metrics
            .dead_letters
            .with_label_values(&["malformed_json"])
            .inc();
        metrics.retries.with_label_values(&["stage"]).inc();
        metrics.stage_seconds.observe(0.1);
        metrics.end_to_end_seconds.observe(0.1);
        metrics.end_to_end_latency_seconds.observe(0.1);
        metrics.consumer_lag.with_label_values(&["t", "0"]).set(3);
        metrics.rebalances.with_label_values(&["assign"]).inc();
        metrics.transactions.with_label_values(&["committed"]).inc();
        metrics.state_records.with_label_values(&["restore"]).inc();
        metrics.build_info.with_label_values(&["0.1.0"]).set(1);
        let families = metrics.registry.gather();
        let ours: Vec<_> = families
            .iter()
            .filter(|f| !f.name().starts_with("process_"))
            .collect();
        assert!(ours.len() >= 16, "{}", ours.len());
        for family in ours {
            let name = family.name();
            assert!(name.starts_with("newsflow_"), "{name}");
            let counter = family.get_field_type() == prometheus::proto::MetricType::COUNTER;
            assert_eq!(counter, name.ends_with("_total"), "{name}");
            assert!(!family.help().is_empty(), "{name} has no help");
        }
        let text = metrics.render();
        let lag = text
            .lines()
            .find(|l| l.starts_with("newsflow_consumer_lag_records{"))
            .unwrap_or_default();
        for part in ["partition=\"0\"", "stage=\"s\"", "topic=\"t\"", "} 3"] {
            assert!(lag.contains(part), "{lag}");
        }
        // The stage label is on every series, the process metrics' included.
        let series = text.lines().filter(|l| !l.starts_with('#'));
        assert!(series.clone().all(|l| l.contains("stage=\"s\"")), "{text}");
        assert!(series.clone().any(|l| l.starts_with("process_")), "{text}");
    }
}
