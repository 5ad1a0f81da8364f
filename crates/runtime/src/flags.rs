//! The flags every Kafka service shares, each with an `NEWSFLOW_…` environment fallback, and
//! their parsers. What the runner makes of them is `config.rs`.

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

/// Span export over OTLP: for every service and `newsflow run`. Off unless an endpoint is set.
#[derive(Debug, Clone, Default, Args)]
pub struct TraceArgs {
    /// OTLP/HTTP endpoint to export spans to, e.g. http://127.0.0.1:4318 (`/v1/traces` is
    /// added unless the URL ends with it). Unset: OTEL_EXPORTER_OTLP_ENDPOINT if set, else no
    /// spans are exported (and none are made).
    #[arg(long, env = "NEWSFLOW_OTLP_ENDPOINT", value_name = "URL")]
    pub otlp_endpoint: Option<String>,

    /// Share of new traces exported (0.0 to 1.0); a record whose traceparent says sampled or
    /// not keeps that decision.
    #[arg(long, env = "NEWSFLOW_TRACE_SAMPLE_RATIO", default_value = "1.0", value_parser = ratio, value_name = "RATIO")]
    pub trace_sample_ratio: f64,
}

impl TraceArgs {
    /// Where spans go: `--otlp-endpoint`, else the standard `OTEL_EXPORTER_OTLP_ENDPOINT`;
    /// `None` when tracing is off. Both name the OTLP/HTTP base URL; the traces path is added.
    pub fn traces_url(&self) -> Option<String> {
        let base = self
            .otlp_endpoint
            .clone()
            .or_else(|| std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok())
            .filter(|url| !url.trim().is_empty())?;
        let base = base.trim().trim_end_matches('/');
        Some(if base.ends_with("/v1/traces") {
            base.to_owned()
        } else {
            format!("{base}/v1/traces")
        })
    }
}

fn ratio(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        Ok(_) => Err("must be between 0.0 and 1.0".into()),
        Err(err) => Err(err.to_string()),
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

/// How a long-running process shows itself to operators: its admin server, its logs and its
/// spans. Every stage service and the gateway flatten it into their flags.
#[derive(Debug, Clone, Args)]
pub struct ObserveArgs {
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

    #[command(flatten)]
    pub trace: TraceArgs,
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

    #[command(flatten)]
    pub observe: ObserveArgs,

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
    /// instance whose transactional.id does not come back); a transaction open across a broker
    /// outage still commits if the broker is back within this long of its start. Its records
    /// must be acknowledged within three quarters of it, else it is aborted (before the broker
    /// would time it out) and redone. Also the producer's message timeout.
    #[arg(long, env = "NEWSFLOW_TRANSACTION_TIMEOUT", default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub transaction_timeout: Duration,

    /// Validate every flag and environment variable, print the effective configuration
    /// (secrets masked) and exit.
    #[arg(long, env = "NEWSFLOW_CHECK_CONFIG")]
    pub check_config: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn otlp_endpoints_get_the_traces_path_once() {
        let args = |url: &str| TraceArgs {
            otlp_endpoint: Some(url.to_owned()),
            trace_sample_ratio: 1.0,
        };
        assert_eq!(
            args("http://jaeger:4318").traces_url().as_deref(),
            Some("http://jaeger:4318/v1/traces")
        );
        assert_eq!(
            args("http://c:4318/v1/traces/").traces_url().as_deref(),
            Some("http://c:4318/v1/traces")
        );
        assert!(ratio("1.5").is_err() && ratio("-0.1").is_err());
        assert_eq!(ratio("0.25"), Ok(0.25));
    }
}
