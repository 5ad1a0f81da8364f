//! The normalizer's flags, and the runner configuration and stage they make.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use newsflow_core::normalize::{NormalizeConfig, NormalizeStage};
use newsflow_core::stage::PRIMARY;
use newsflow_core::topics::{NORMALIZED, RAW};
use newsflow_runtime::{RunnerConfig, ServiceArgs, ServiceDefaults, TopicBinding};

#[derive(Debug, Parser)]
#[command(
    name = "newsflow-normalizer",
    version,
    about = "Normalize raw news pages from Kafka into clean, structured articles",
    long_about = "Consumes raw pages (news.raw.v1), extracts title, byline, date, dateline, \
lede, body and related headlines, drops boilerplate, and publishes normalized articles \
(news.normalized.v1). Input it cannot use goes to the dead-letter topic with its error_kind."
)]
pub struct Args {
    #[command(flatten)]
    pub service: ServiceArgs,

    /// Topic the normalized articles go to.
    #[arg(long, env = "NEWSFLOW_OUTPUT_TOPIC", default_value = NORMALIZED, value_name = "TOPIC")]
    output_topic: String,

    /// Normalizer settings, YAML or JSON: the size limit, the default time zone, and per source
    /// its time zone and extra clutter lines. Default: the built-in settings.
    #[arg(long, env = "NEWSFLOW_NORMALIZER_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    /// Pages larger than this many bytes are rejected as `too_large` (overrides the file).
    #[arg(long, env = "NEWSFLOW_MAX_CONTENT_BYTES", value_name = "BYTES")]
    max_content_bytes: Option<usize>,
}

impl Args {
    pub fn runner_config(&self) -> RunnerConfig {
        let defaults = ServiceDefaults {
            service: "normalizer",
            input_topic: RAW,
        };
        let mut config = RunnerConfig::new(&self.service, &defaults).output(TopicBinding::named(
            PRIMARY,
            "output_topic",
            &self.output_topic,
        ));
        let file = self.config.as_ref();
        let shown = file.map_or("-".to_owned(), |p| p.display().to_string());
        config.extra.push(("normalizer_config", shown));
        if let Some(limit) = self.max_content_bytes {
            config.extra.push(("max_content_bytes", limit.to_string()));
        }
        config
    }

    pub fn stage(&self) -> anyhow::Result<NormalizeStage> {
        let mut config: NormalizeConfig =
            newsflow_runtime::flags::load_settings(self.config.as_deref(), "normalizer settings")?;
        if let Some(limit) = self.max_content_bytes {
            config.max_content_bytes = limit;
        }
        NormalizeStage::new(config).context("invalid normalizer settings")
    }
}
