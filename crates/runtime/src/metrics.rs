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

impl RunnerMetrics {
    /// Metrics of one service; every series carries its name as the `stage` label.
    pub fn new(service: &str) -> Self {
        let labels = std::collections::HashMap::from([("stage".to_owned(), service.to_owned())]);
        let registry = Registry::new_custom(None, Some(labels)).expect("a valid stage label");
        let consumed = IntCounterVec::new(
            Opts::new(
                "newsflow_input_records_total",
                "Records read from the input topic.",
            ),
            &["topic"],
        )
        .expect("valid metric");
        let produced = IntCounterVec::new(
            Opts::new(
                "newsflow_output_records_total",
                "Records the broker acknowledged, by topic and output (primary, duplicates, topic, dlq, state).",
            ),
            &["topic", "output"],
        )
        .expect("valid metric");
        let dead_letters = IntCounterVec::new(
            Opts::new(
                "newsflow_dead_letters_total",
                "Inputs sent to the dead-letter topic, by error kind.",
            ),
            &["error_kind"],
        )
        .expect("valid metric");
        // Every kind starts at 0, so the first dead letter of a kind shows in rate() and alerts.
        for kind in newsflow_core::ErrorKind::ALL {
            dead_letters.with_label_values(&[kind.as_str()]);
        }
        let retries = IntCounterVec::new(
            Opts::new(
                "newsflow_retries_total",
                "Retries of transient errors, by what failed (stage, delivery).",
            ),
            &["what"],
        )
        .expect("valid metric");
        let stage_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "newsflow_stage_duration_seconds",
                "Time the stage spends on one input.",
            )
            .buckets(vec![
                0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0,
            ]),
        )
        .expect("valid metric");
        let end_to_end_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "newsflow_input_duration_seconds",
                "From reading an input to the broker acknowledging every output of it.",
            )
            .buckets(vec![
                0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
        )
        .expect("valid metric");
        let end_to_end_latency_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "newsflow_end_to_end_latency_seconds",
                "From the article entering news.raw.v1 (ingested_at) to this stage's output being acknowledged.",
            )
            // Fine below 1 s, where latency objectives live (p99 ≤ 50 ms in benchmarks).
            .buckets(vec![
                0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1,
                0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0, 10.0, 30.0, 60.0,
                300.0,
            ]),
        )
        .expect("valid metric");
        let consumer_lag = IntGaugeVec::new(
            Opts::new(
                "newsflow_consumer_lag_records",
                "Records behind the end of each owned input partition.",
            ),
            &["topic", "partition"],
        )
        .expect("valid metric");
        let rebalances = IntCounterVec::new(
            Opts::new(
                "newsflow_rebalances_total",
                "Partition assignments and revocations.",
            ),
            &["kind"],
        )
        .expect("valid metric");
        let transactions = IntCounterVec::new(
            Opts::new(
                "newsflow_transactions_total",
                "Kafka transactions (exactly-once mode), by outcome (committed, aborted).",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        for outcome in ["committed", "aborted"] {
            transactions.with_label_values(&[outcome]);
        }
        let transaction_commit_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "newsflow_transaction_commit_duration_seconds",
                "exactly-once: time to commit a transaction (its records acknowledged, offsets sent, committed).",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
        )
        .expect("valid metric");
        let in_flight = IntGauge::new(
            "newsflow_in_flight_inputs",
            "Inputs read but not yet acknowledged.",
        )
        .expect("valid metric");
        let assigned_partitions = IntGauge::new(
            "newsflow_assigned_partitions",
            "Partitions of the input topic assigned to this instance.",
        )
        .expect("valid metric");
        let ready = IntGauge::new(
            "newsflow_ready",
            "1 when the instance is ready (see /readyz).",
        )
        .expect("valid metric");
        let build_info = IntGaugeVec::new(
            Opts::new(
                "newsflow_build_info",
                "Constant 1, labelled with the version and the service.",
            ),
            &["version"],
        )
        .expect("valid metric");
        let state_restore_seconds = prometheus::Gauge::new(
            "newsflow_state_restore_seconds",
            "How long restoring the state topic took at start-up.",
        )
        .expect("valid metric");
        let state_records = IntCounterVec::new(
            Opts::new(
                "newsflow_state_records_total",
                "State records applied, by phase (restore at start-up, follow afterwards).",
            ),
            &["phase"],
        )
        .expect("valid metric");
        for collector in [
            Box::new(consumed.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(produced.clone()),
            Box::new(dead_letters.clone()),
            Box::new(retries.clone()),
            Box::new(stage_seconds.clone()),
            Box::new(end_to_end_seconds.clone()),
            Box::new(in_flight.clone()),
            Box::new(assigned_partitions.clone()),
            Box::new(ready.clone()),
            Box::new(build_info.clone()),
            Box::new(state_restore_seconds.clone()),
            Box::new(state_records.clone()),
            Box::new(end_to_end_latency_seconds.clone()),
            Box::new(consumer_lag.clone()),
            Box::new(rebalances.clone()),
            Box::new(transactions.clone()),
            Box::new(transaction_commit_seconds.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        #[cfg(target_os = "linux")]
        {
            let process = prometheus::process_collector::ProcessCollector::for_self();
            registry
                .register(Box::new(process))
                .expect("process metrics register once");
        }
        Self {
            registry,
            consumed,
            produced,
            dead_letters,
            retries,
            stage_seconds,
            end_to_end_seconds,
            in_flight,
            assigned_partitions,
            ready,
            build_info,
            state_restore_seconds,
            state_records,
            end_to_end_latency_seconds,
            consumer_lag,
            rebalances,
            transactions,
            transaction_commit_seconds,
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
