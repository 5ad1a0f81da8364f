//! The runner's resolved configuration: the flags of `flags.rs` with a service's defaults, the
//! librdkafka settings of its clients, the effective configuration `--check-config` prints
//! (secrets masked) and its validation.

use std::net::SocketAddr;
use std::time::Duration;

use rdkafka::ClientConfig;

use newsflow_core::stage::INPUT;

pub use crate::bindings::valid_topic_name;
use crate::bindings::{TopicBinding, check_topic};
use crate::flags::{Guarantee, KafkaOption, LogFormat, ServiceArgs};

/// What a service fixes for the runner: its name and its input's default topic.
#[derive(Debug, Clone)]
pub struct ServiceDefaults {
    /// `relay`, `normalizer`, …: the stage label of metrics, dead letters and `ce_source`.
    pub service: &'static str,
    /// The topic of the stage's main input without `--input-topic`.
    pub input_topic: &'static str,
}

/// The runner's resolved configuration.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    pub service: &'static str,
    pub brokers: String,
    pub group_id: String,
    /// The topics flags chose for the stage's inputs (`--input-topic` for its main one); the
    /// runner reads every input the stage declares, each from its chosen or default topic.
    pub inputs: Vec<TopicBinding>,
    /// The topics flags chose for the stage's outputs; any other output goes to its default.
    pub outputs: Vec<TopicBinding>,
    /// The compacted topic of a stateful stage's state.
    pub state_topic: Option<String>,
    /// Service settings beyond the runner's, shown by `--check-config` (`name = value`).
    pub extra: Vec<(&'static str, String)>,
    pub dlq_topic: String,
    pub admin_addr: SocketAddr,
    pub kafka_options: Vec<KafkaOption>,
    pub max_in_flight: usize,
    pub drain_timeout: Duration,
    pub retry_timeout: Duration,
    pub dlq_max_bytes: usize,
    pub guarantee: Guarantee,
    /// exactly-once only.
    pub transactional_id: String,
    pub commit_interval: Duration,
    pub transaction_timeout: Duration,
}

/// The host name (`HOSTNAME`, else the kernel's), for a default transactional id.
fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

impl RunnerConfig {
    /// The configuration of a service from the shared flags; its outputs' flags are added with
    /// [`RunnerConfig::output`].
    pub fn new(args: &ServiceArgs, defaults: &ServiceDefaults) -> Self {
        let group_id = args
            .group_id
            .clone()
            .unwrap_or_else(|| format!("newsflow-{}", defaults.service));
        Self {
            service: defaults.service,
            brokers: args.client.brokers.clone(),
            transactional_id: args.transactional_id.clone().unwrap_or_else(|| {
                format!(
                    "{group_id}.{}.{}",
                    host_name(),
                    args.observe.admin_addr.port()
                )
            }),
            group_id,
            inputs: vec![TopicBinding::named(
                INPUT,
                "input_topic",
                args.input_topic.as_deref().unwrap_or(defaults.input_topic),
            )],
            outputs: Vec::new(),
            state_topic: None,
            extra: vec![
                (
                    "log_format",
                    match args.observe.log_format {
                        LogFormat::Json => "json".to_owned(),
                        LogFormat::Pretty => "pretty".to_owned(),
                    },
                ),
                (
                    "otlp_endpoint",
                    args.observe
                        .trace
                        .otlp_endpoint
                        .clone()
                        .unwrap_or_else(|| "-".to_owned()),
                ),
                (
                    "otlp_traces_url",
                    args.observe
                        .trace
                        .traces_url()
                        .unwrap_or_else(|| "-".to_owned()),
                ),
                (
                    "trace_sample_ratio",
                    args.observe.trace.trace_sample_ratio.to_string(),
                ),
            ],
            dlq_topic: args.dlq_topic.clone(),
            admin_addr: args.observe.admin_addr,
            kafka_options: args.client.options().cloned().collect(),
            max_in_flight: args.max_in_flight,
            drain_timeout: args.drain_timeout,
            retry_timeout: args.retry_timeout,
            dlq_max_bytes: args.dlq_max_bytes,
            guarantee: args.guarantee,
            commit_interval: args.commit_interval,
            transaction_timeout: args.transaction_timeout,
        }
    }

    /// A flag's topic for one of the stage's outputs.
    #[must_use]
    pub fn output(mut self, binding: TopicBinding) -> Self {
        self.outputs.push(binding);
        self
    }

    pub fn exactly_once(&self) -> bool {
        self.guarantee == Guarantee::ExactlyOnce
    }

    /// The consumer's librdkafka configuration. at-least-once: offsets are stored by the
    /// runner only after every output of an input was acknowledged, and committed from the
    /// store. exactly-once: offsets are committed by the producer's transactions only.
    pub fn consumer_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("group.id", &self.group_id)
            .set("client.id", format!("newsflow-{}", self.service))
            .set(
                "enable.auto.commit",
                if self.exactly_once() { "false" } else { "true" },
            )
            .set("auto.commit.interval.ms", "1000")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false")
            .set("isolation.level", "read_committed")
            // librdkafka prefetches up to 64 MiB by default, which made up most of a service's
            // peak memory under backlog; 32 MiB keeps the same throughput (BENCHMARKS.md).
            .set("queued.max.messages.kbytes", PREFETCH_KBYTES)
            // Consumer lag per partition for /metrics.
            .set("statistics.interval.ms", "5000");
        self.apply_options(&mut config, true);
        config
    }

    /// The producer's configuration: idempotent (no duplicates or reordering from internal
    /// retries), all replicas acknowledge.
    pub fn producer_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("client.id", format!("newsflow-{}", self.service))
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5")
            .set("message.max.bytes", "10485760")
            .set("message.timeout.ms", "60000");
        if self.exactly_once() {
            let timeout = self.transaction_timeout.as_millis().to_string();
            config
                .set("transactional.id", &self.transactional_id)
                .set("transaction.timeout.ms", &timeout)
                // librdkafka requires message.timeout.ms ≤ transaction.timeout.ms.
                .set("message.timeout.ms", &timeout);
        }
        self.apply_options(&mut config, false);
        config
    }

    fn apply_options(&self, config: &mut ClientConfig, consumer: bool) {
        for option in &self.kafka_options {
            // librdkafka warns about (or refuses) settings of the other client type.
            let (consumer_only, producer_only) = setting_scope(&option.key);
            if (consumer && producer_only) || (!consumer && consumer_only) {
                continue;
            }
            config.set(&option.key, &option.value);
        }
    }

    /// The effective configuration as `key = value` lines, secrets masked.
    pub fn describe(&self) -> String {
        let mut lines = vec![
            format!("service = {}", self.service),
            format!("brokers = {}", self.brokers),
            format!("group_id = {}", self.group_id),
        ];
        lines.extend(
            self.inputs
                .iter()
                .chain(&self.outputs)
                .map(TopicBinding::describe),
        );
        lines.extend([
            format!(
                "state_topic = {}",
                self.state_topic.as_deref().unwrap_or("-")
            ),
            format!("dlq_topic = {}", self.dlq_topic),
            format!("admin_addr = {}", self.admin_addr),
            format!("max_in_flight = {}", self.max_in_flight),
            format!(
                "drain_timeout = {}",
                humantime::format_duration(self.drain_timeout)
            ),
            format!(
                "retry_timeout = {}",
                humantime::format_duration(self.retry_timeout)
            ),
            format!("dlq_max_bytes = {}", self.dlq_max_bytes),
            format!("guarantee = {}", self.guarantee.as_str()),
        ]);
        if self.exactly_once() {
            lines.push(format!("transactional_id = {}", self.transactional_id));
            lines.push(format!(
                "commit_interval = {}",
                humantime::format_duration(self.commit_interval)
            ));
            lines.push(format!(
                "transaction_timeout = {}",
                humantime::format_duration(self.transaction_timeout)
            ));
        }
        for (name, value) in &self.extra {
            lines.push(format!("{name} = {value}"));
        }
        for option in &self.kafka_options {
            lines.push(format!("kafka.{} = {}", option.key, option.shown_value()));
        }
        lines.join("\n")
    }

    /// Checks the configuration without connecting: librdkafka refuses unknown settings and
    /// bad values when a client is created.
    pub fn validate(&self) -> anyhow::Result<()> {
        use anyhow::Context as _;
        use rdkafka::consumer::BaseConsumer;
        use rdkafka::producer::BaseProducer;
        for binding in self.inputs.iter().chain(&self.outputs) {
            binding.validate().map_err(anyhow::Error::msg)?;
        }
        check_topic("dlq_topic", &self.dlq_topic).map_err(anyhow::Error::msg)?;
        if let Some(state) = &self.state_topic {
            check_topic("state_topic", state).map_err(anyhow::Error::msg)?;
        }
        if self.exactly_once() {
            anyhow::ensure!(
                self.commit_interval < self.transaction_timeout,
                "--commit-interval ({}) must be shorter than --transaction-timeout ({})",
                humantime::format_duration(self.commit_interval),
                humantime::format_duration(self.transaction_timeout)
            );
            anyhow::ensure!(
                !self.transactional_id.trim().is_empty(),
                "--transactional-id must not be empty"
            );
        }
        self.consumer_config()
            .create::<BaseConsumer>()
            .map(drop)
            .context("the consumer configuration is invalid")?;
        self.producer_config()
            .create::<BaseProducer>()
            .map(drop)
            .context("the producer configuration is invalid")?;
        Ok(())
    }
}

/// The consumers' prefetch limit (`queued.max.messages.kbytes`); `--kafka-option` overrides it.
pub(crate) const PREFETCH_KBYTES: &str = "32768";

/// Whether a librdkafka setting is for consumers only or producers only (else: both).
pub(crate) fn setting_scope(key: &str) -> (bool, bool) {
    const CONSUMER_PREFIXES: &[&str] = &[
        "group.",
        "fetch.",
        "queued.",
        "auto.",
        "enable.auto.",
        "heartbeat.",
        "session.",
        "max.poll.",
        "partition.assignment",
        "isolation.",
        "enable.partition.eof",
        "check.crcs",
        "coordinator.",
        "consume.",
    ];
    const PRODUCER_PREFIXES: &[&str] = &[
        "acks",
        "request.required.acks",
        "linger.ms",
        "queue.buffering.",
        "batch.",
        "compression.",
        "enable.idempotence",
        "message.timeout.ms",
        "delivery.timeout.ms",
        "transactional.id",
        "transaction.timeout.ms",
        "retries",
        "message.send.max.retries",
        "sticky.partitioning",
        "partitioner",
        "enable.gapless.guarantee",
        "request.timeout.ms",
        "queuing.strategy",
    ];
    let matches = |prefixes: &[&str]| prefixes.iter().any(|p| key.starts_with(p));
    (matches(CONSUMER_PREFIXES), matches(PRODUCER_PREFIXES))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A configuration for unit tests: input `in`, DLQ `dlq`, state `state`, no outputs bound.
    pub(crate) fn sample() -> RunnerConfig {
        RunnerConfig {
            service: "t",
            brokers: "127.0.0.1:1".into(),
            group_id: "g".into(),
            inputs: vec![TopicBinding::named(INPUT, "input_topic", "in")],
            outputs: Vec::new(),
            state_topic: Some("state".into()),
            extra: Vec::new(),
            dlq_topic: "dlq".into(),
            admin_addr: "127.0.0.1:0".parse().expect("an address"),
            kafka_options: Vec::new(),
            max_in_flight: 10,
            drain_timeout: Duration::from_secs(1),
            retry_timeout: Duration::from_secs(5),
            dlq_max_bytes: 8,
            guarantee: Guarantee::ExactlyOnce,
            transactional_id: "t".into(),
            commit_interval: Duration::from_millis(100),
            transaction_timeout: Duration::from_secs(10),
        }
    }

    /// `ServiceArgs` as a parser of its own, for tests.
    #[derive(Debug, clap::Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: ServiceArgs,
    }

    fn test_config(args: &ServiceArgs) -> RunnerConfig {
        RunnerConfig::new(
            args,
            &ServiceDefaults {
                service: "t",
                input_topic: "in",
            },
        )
    }

    impl ServiceArgs {
        fn parse_from<const N: usize>(argv: [&str; N]) -> ServiceArgs {
            use clap::Parser as _;
            Wrapper::parse_from(argv).args
        }
    }

    #[test]
    fn settings_go_to_the_client_that_understands_them() {
        assert_eq!(setting_scope("session.timeout.ms"), (true, false));
        assert_eq!(setting_scope("linger.ms"), (false, true));
        assert_eq!(setting_scope("security.protocol"), (false, false));
        let args = ServiceArgs::parse_from([
            "x",
            "--kafka-option",
            "session.timeout.ms=6000",
            "--kafka-option",
            "linger.ms=50",
            "--kafka-option",
            "client.rack=a",
        ]);
        let config = test_config(&args);
        let consumer = config.consumer_config();
        let producer = config.producer_config();
        assert_eq!(consumer.get("session.timeout.ms"), Some("6000"));
        assert_eq!(producer.get("session.timeout.ms"), None);
        assert_eq!(producer.get("linger.ms"), Some("50"));
        assert_eq!(consumer.get("linger.ms"), None);
        assert_eq!(
            (consumer.get("client.rack"), producer.get("client.rack")),
            (Some("a"), Some("a"))
        );
        // The prefetch cap is a default an option overrides.
        assert_eq!(consumer.get("queued.max.messages.kbytes"), Some("32768"));
    }

    #[test]
    fn empty_option_items_set_nothing() {
        let args = ServiceArgs::parse_from([
            "x",
            "--kafka-option",
            "",
            "--kafka-option",
            "queued.max.messages.kbytes=1024",
        ]);
        let config = test_config(&args);
        assert_eq!(config.kafka_options.len(), 1);
        assert_eq!(
            config.consumer_config().get("queued.max.messages.kbytes"),
            Some("1024")
        );
    }

    #[test]
    fn topic_names_follow_kafka_rules() {
        assert!(valid_topic_name("news.raw.v1"));
        assert!(!valid_topic_name("news raw"));
        assert!(!valid_topic_name(".."));
    }
}
