//! The flags every Kafka service shares, each with an `NEWSFLOW_…` environment fallback, and the
//! effective configuration `--check-config` prints (secrets masked).

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, ValueEnum};
use rdkafka::ClientConfig;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line (for log shippers).
    Json,
    /// Human-readable lines.
    Pretty,
}

/// One `--kafka-option key=value`: any librdkafka setting, e.g. `security.protocol=SASL_SSL`.
#[derive(Clone, PartialEq, Eq)]
pub struct KafkaOption {
    pub key: String,
    pub value: String,
}

impl KafkaOption {
    /// Whether the value is a secret that must never be echoed.
    pub fn is_secret(&self) -> bool {
        is_secret_key(&self.key)
    }

    /// The value, or `*****` for secrets.
    pub fn shown_value(&self) -> &str {
        if self.is_secret() {
            "*****"
        } else {
            &self.value
        }
    }
}

/// librdkafka settings whose values are credentials or key material.
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "secret", "token", "jaas", "credential"]
        .iter()
        .any(|word| key.contains(word))
        || key.ends_with(".pem")
        || key == "sasl.oauthbearer.config"
        || key == "sasl.username"
}

// Debug never shows a secret, so a stray `{:?}` in a log line cannot leak one.
impl fmt::Debug for KafkaOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key, self.shown_value())
    }
}

/// Parses `key=value`.
pub fn parse_kafka_option(text: &str) -> Result<KafkaOption, String> {
    if text.trim().is_empty() {
        // An empty NEWSFLOW_KAFKA_OPTIONS (e.g. `${NEWSFLOW_KAFKA_OPTIONS:-}` in a compose file)
        // or a trailing `;`: nothing to set. Dropped by every user of the options.
        return Ok(KafkaOption {
            key: String::new(),
            value: String::new(),
        });
    }
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| "expected key=value (a librdkafka setting)".to_owned())?;
    let key = key.trim();
    if key.is_empty() {
        return Err("the key before `=` is empty".into());
    }
    Ok(KafkaOption {
        key: key.to_owned(),
        value: value.to_owned(),
    })
}

/// A stage's settings from a `--config` file (YAML, so JSON too), or the defaults without one.
/// `what` names them in errors ("normalizer settings").
pub fn load_settings<T>(path: Option<&std::path::Path>, what: &str) -> anyhow::Result<T>
where
    T: serde::de::DeserializeOwned + Default,
{
    use anyhow::Context as _;
    let Some(path) = path else {
        return Ok(T::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read --config {}", path.display()))?;
    serde_yaml::from_str(&text)
        .with_context(|| format!("--config {} is not valid {what}", path.display()))
}

/// Parses `30s`, `500ms`, `2m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|err| format!("{err} (examples: 30s, 500ms, 2m)"))
}

fn positive(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(err) => Err(err.to_string()),
    }
}

/// How to reach Kafka: for every command that talks to it.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// Kafka bootstrap servers, comma-separated.
    #[arg(
        long,
        env = "NEWSFLOW_BROKERS",
        default_value = "127.0.0.1:9092",
        value_name = "HOST:PORT,…"
    )]
    pub brokers: String,

    /// Any librdkafka setting, e.g. security.protocol=SASL_SSL (repeatable; in the environment,
    /// separate several with `;`). Values of secret settings are never printed.
    #[arg(
        long = "kafka-option",
        env = "NEWSFLOW_KAFKA_OPTIONS",
        value_name = "KEY=VALUE",
        value_parser = parse_kafka_option,
        value_delimiter = ';',
        hide_env_values = true
    )]
    pub kafka_options: Vec<KafkaOption>,
}

impl ClientArgs {
    /// The `--kafka-option`s that set something (empty items of the list are dropped).
    pub fn options(&self) -> impl Iterator<Item = &KafkaOption> {
        self.kafka_options.iter().filter(|o| !o.key.is_empty())
    }

    /// A client configuration with the brokers and every `--kafka-option`.
    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers);
        for option in self.options() {
            config.set(&option.key, &option.value);
        }
        config
    }
}

/// How a stage delivers its outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Guarantee {
    /// Kafka transactions: every input's outputs appear exactly once to read-committed
    /// consumers.
    ExactlyOnce,
    /// Offsets committed after the outputs are acknowledged: nothing lost, repeats possible
    /// after a crash.
    AtLeastOnce,
}

impl Guarantee {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ExactlyOnce => "exactly-once",
            Self::AtLeastOnce => "at-least-once",
        }
    }
}

/// Flags shared by every Kafka service.
#[derive(Debug, Clone, Args)]
pub struct ServiceArgs {
    #[command(flatten)]
    pub client: ClientArgs,

    /// Consumer group; instances of one service share it to split the partitions
    /// [default: newsflow-<service>].
    #[arg(long, env = "NEWSFLOW_GROUP_ID", value_name = "GROUP")]
    pub group_id: Option<String>,

    /// Topic to consume [default: the service's input topic].
    #[arg(long, env = "NEWSFLOW_INPUT_TOPIC", value_name = "TOPIC")]
    pub input_topic: Option<String>,

    /// Dead-letter topic for input the stage rejects.
    #[arg(long, env = "NEWSFLOW_DLQ_TOPIC", default_value = newsflow_core::topics::DLQ, value_name = "TOPIC")]
    pub dlq_topic: String,

    /// Address of the admin server: /metrics, /healthz, /readyz.
    #[arg(
        long,
        env = "NEWSFLOW_ADMIN_ADDR",
        default_value = "0.0.0.0:9090",
        value_name = "ADDR"
    )]
    pub admin_addr: SocketAddr,

    /// Log format.
    #[arg(long, env = "NEWSFLOW_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,

    /// Inputs being processed or awaiting broker acknowledgement at most at once.
    #[arg(long, env = "NEWSFLOW_MAX_IN_FLIGHT", default_value = "1000", value_parser = positive, value_name = "N")]
    pub max_in_flight: usize,

    /// On SIGTERM/SIGINT, how long to wait for in-flight work before committing and exiting.
    #[arg(long, env = "NEWSFLOW_DRAIN_TIMEOUT", default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub drain_timeout: Duration,

    /// How long a transient stage or delivery error is retried (with exponential backoff)
    /// before the service gives up and exits non-zero without committing that input.
    #[arg(long, env = "NEWSFLOW_RETRY_TIMEOUT", default_value = "5m", value_parser = parse_duration, value_name = "DURATION")]
    pub retry_timeout: Duration,

    /// Dead letters keep at most this many bytes of the original value (stay below the DLQ
    /// topic's max.message.bytes).
    #[arg(long, env = "NEWSFLOW_DLQ_MAX_BYTES", default_value = "4194304", value_parser = positive, value_name = "BYTES")]
    pub dlq_max_bytes: usize,

    /// Delivery guarantee. exactly-once: each batch of inputs, its outputs, its dead letters,
    /// its state changes and its input offsets are one Kafka transaction (consumers of our
    /// topics read committed). at-least-once: outputs are acknowledged before the input's
    /// offset is committed; a crash may repeat outputs, never lose them.
    #[arg(long, env = "NEWSFLOW_GUARANTEE", value_enum, default_value_t = Guarantee::ExactlyOnce)]
    pub guarantee: Guarantee,

    /// exactly-once: the producer's transactional.id. Keep it stable across restarts of one
    /// instance (a restart then aborts the transaction its predecessor left open at once) and
    /// unique among running instances [default: <group id>.<host name>.<admin port>].
    #[arg(long, env = "NEWSFLOW_TRANSACTIONAL_ID", value_name = "ID")]
    pub transactional_id: Option<String>,

    /// exactly-once: a transaction is committed at most this long after it began (sooner when
    /// the input is caught up or --max-in-flight inputs are in it); read-committed consumers see
    /// outputs only then.
    #[arg(long, env = "NEWSFLOW_COMMIT_INTERVAL", default_value = "100ms", value_parser = parse_duration, value_name = "DURATION")]
    pub commit_interval: Duration,

    /// exactly-once: the broker aborts a transaction left open this long (e.g. by a crashed
    /// instance whose transactional.id does not come back); a broker outage shorter than this
    /// does not cost the open transaction. Also the producer's message timeout.
    #[arg(long, env = "NEWSFLOW_TRANSACTION_TIMEOUT", default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub transaction_timeout: Duration,

    /// Validate every flag and environment variable, print the effective configuration
    /// (secrets masked) and exit.
    #[arg(long, env = "NEWSFLOW_CHECK_CONFIG")]
    pub check_config: bool,
}

/// What a service fixes for the runner: its name and default topics.
#[derive(Debug, Clone)]
pub struct ServiceDefaults {
    /// `relay`, `normalizer`, …: the stage label of metrics, dead letters and `ce_source`.
    pub service: &'static str,
    pub input_topic: &'static str,
}

/// The runner's resolved configuration.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    pub service: &'static str,
    pub brokers: String,
    pub group_id: String,
    pub input_topic: String,
    /// Where `Route::Primary` goes.
    pub output_topic: Option<String>,
    /// Where `Route::Duplicates` goes.
    pub duplicates_topic: Option<String>,
    /// The compacted topic of a stateful stage's state.
    pub state_topic: Option<String>,
    /// Put before `news.topic.<id>.v1`, where `Route::Topic(id)` goes (like `topics create
    /// --prefix`); empty by default.
    pub tag_topic_prefix: String,
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
    pub fn new(
        args: &ServiceArgs,
        defaults: &ServiceDefaults,
        output_topic: Option<String>,
    ) -> Self {
        let group_id = args
            .group_id
            .clone()
            .unwrap_or_else(|| format!("newsflow-{}", defaults.service));
        Self {
            service: defaults.service,
            brokers: args.client.brokers.clone(),
            transactional_id: args.transactional_id.clone().unwrap_or_else(|| {
                format!("{group_id}.{}.{}", host_name(), args.admin_addr.port())
            }),
            group_id,
            input_topic: args
                .input_topic
                .clone()
                .unwrap_or_else(|| defaults.input_topic.to_owned()),
            output_topic,
            duplicates_topic: None,
            state_topic: None,
            tag_topic_prefix: String::new(),
            extra: vec![(
                "log_format",
                match args.log_format {
                    LogFormat::Json => "json".to_owned(),
                    LogFormat::Pretty => "pretty".to_owned(),
                },
            )],
            dlq_topic: args.dlq_topic.clone(),
            admin_addr: args.admin_addr,
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
            format!("input_topic = {}", self.input_topic),
            format!(
                "output_topic = {}",
                self.output_topic.as_deref().unwrap_or("-")
            ),
            format!(
                "duplicates_topic = {}",
                self.duplicates_topic.as_deref().unwrap_or("-")
            ),
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
        ];
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
        for (name, topic) in [
            ("input", Some(&self.input_topic)),
            ("output", self.output_topic.as_ref()),
            ("dlq", Some(&self.dlq_topic)),
        ] {
            if let Some(topic) = topic {
                anyhow::ensure!(
                    valid_topic_name(topic),
                    "--{name}-topic {topic:?} is not a valid Kafka topic name"
                );
            }
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

/// Kafka's rule: 1 to 249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn valid_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

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
            None,
        )
    }

    impl ServiceArgs {
        fn parse_from<const N: usize>(argv: [&str; N]) -> ServiceArgs {
            use clap::Parser as _;
            Wrapper::parse_from(argv).args
        }
    }

    #[test]
    fn secrets_are_masked_everywhere() {
        let option = parse_kafka_option("sasl.password=hunter2").unwrap();
        assert!(option.is_secret());
        assert_eq!(format!("{option:?}"), "sasl.password=*****");
        let plain = parse_kafka_option("security.protocol=SASL_SSL").unwrap();
        assert_eq!(plain.shown_value(), "SASL_SSL");
        assert!(is_secret_key("ssl.key.password"));
        assert!(is_secret_key("ssl.certificate.pem"));
        assert!(is_secret_key("sasl.oauthbearer.client.secret"));
    }

    #[test]
    fn options_need_a_key_and_an_equals_sign() {
        assert!(parse_kafka_option("no-equals").is_err());
        assert!(
            parse_kafka_option("").unwrap().key.is_empty(),
            "empty: nothing to set"
        );
        assert!(parse_kafka_option(" ").unwrap().key.is_empty());
        assert!(parse_kafka_option("=x").is_err());
        assert_eq!(parse_kafka_option("a=b=c").unwrap().value, "b=c");
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
