//! The deduplicator's flags, and the runner configuration they make.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use newsflow_core::dedup::{DUPLICATES, DedupConfig};
use newsflow_core::stage::PRIMARY;
use newsflow_core::topics::{DEDUP_STATE, DEDUPLICATED, NORMALIZED};
use newsflow_runtime::flags::{load_settings, parse_duration};
use newsflow_runtime::{RunnerConfig, ServiceArgs, ServiceDefaults, TopicBinding};

#[derive(Debug, Parser)]
#[command(
    name = "newsflow-deduplicator",
    version,
    about = "Flag exact and near-duplicate copies of news stories on Kafka",
    long_about = "Consumes normalized articles (news.normalized.v1). The first copy of each story \
goes on to news.deduplicated.v1; every later copy (the same content hash, or a near copy found \
by MinHash/LSH and confirmed by its estimated similarity) becomes a notice on \
news.duplicates.v1 naming the earliest article of the story. Fingerprints live for a window of \
event time in the compacted state topic, which every instance restores before taking input."
)]
pub struct Args {
    #[command(flatten)]
    pub service: ServiceArgs,

    /// Topic for the first copies of stories.
    #[arg(long, env = "NEWSFLOW_OUTPUT_TOPIC", default_value = DEDUPLICATED, value_name = "TOPIC")]
    output_topic: String,

    /// Topic for duplicate notices.
    #[arg(long, env = "NEWSFLOW_DUPLICATES_TOPIC", default_value = DUPLICATES_TOPIC, value_name = "TOPIC")]
    duplicates_topic: String,

    /// Compacted topic of the fingerprint window.
    #[arg(long, env = "NEWSFLOW_STATE_TOPIC", default_value = DEDUP_STATE, value_name = "TOPIC")]
    state_topic: String,

    /// Deduplicator settings, YAML or JSON (window, shingle size, hashes, bands, threshold).
    /// Default: the built-in settings.
    #[arg(long, env = "NEWSFLOW_DEDUP_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    /// How long (in event time) fingerprints are kept; overrides the file (e.g. 7d, 36h).
    #[arg(long, env = "NEWSFLOW_DEDUP_WINDOW", value_parser = parse_duration, value_name = "DURATION")]
    window: Option<Duration>,
}

const DUPLICATES_TOPIC: &str = newsflow_core::topics::DUPLICATES;

impl Args {
    /// The runner's configuration: the shared flags, the outputs' topics, the state topic.
    pub fn runner_config(&self) -> RunnerConfig {
        let defaults = ServiceDefaults {
            service: "deduplicator",
            input_topic: NORMALIZED,
        };
        let mut config = RunnerConfig::new(&self.service, &defaults)
            .output(TopicBinding::named(
                PRIMARY,
                "output_topic",
                &self.output_topic,
            ))
            .output(TopicBinding::named(
                DUPLICATES,
                "duplicates_topic",
                &self.duplicates_topic,
            ));
        config.state_topic = Some(self.state_topic.clone());
        let file = self.config.as_ref();
        let shown = file.map_or("-".to_owned(), |p| p.display().to_string());
        config.extra.push(("dedup_config", shown));
        if let Some(window) = self.window {
            // As `--check-config` shows it: seconds.
            config
                .extra
                .push(("dedup_window", format!("{}s", window.as_secs())));
        }
        config
    }

    /// The stage's settings: the file's (or the defaults), `--window` over them.
    pub fn dedup_config(&self) -> anyhow::Result<DedupConfig> {
        let mut config: DedupConfig =
            load_settings(self.config.as_deref(), "deduplicator settings")?;
        if let Some(window) = self.window {
            config.window = window;
        }
        Ok(config)
    }
}
