//! `newsflow-normalizer`: consumes raw pages from `news.raw.v1`, publishes clean, structured
//! articles to `news.normalized.v1`, and dead-letters what cannot be normalized.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use newsflow_core::normalize::{NormalizeConfig, NormalizeStage};
use newsflow_core::topics::{NORMALIZED, RAW};
use newsflow_runtime::{RunnerConfig, ServiceArgs, ServiceDefaults, run_service};

/// mimalloc instead of glibc's malloc: allocation-heavy JSON and text work per event runs
/// faster, and freed memory goes back to the system instead of piling up in per-thread arenas.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "newsflow-normalizer",
    version,
    about = "Normalize raw news pages from Kafka into clean, structured articles",
    long_about = "Consumes raw pages (news.raw.v1), extracts title, byline, date, dateline, \
lede, body and related headlines, drops boilerplate, and publishes normalized articles \
(news.normalized.v1). Input it cannot use goes to the dead-letter topic with its error_kind."
)]
struct Args {
    #[command(flatten)]
    service: ServiceArgs,

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

fn load_config(args: &Args) -> anyhow::Result<NormalizeConfig> {
    let mut config: NormalizeConfig =
        newsflow_runtime::flags::load_settings(args.config.as_deref(), "normalizer settings")?;
    if let Some(limit) = args.max_content_bytes {
        config.max_content_bytes = limit;
    }
    Ok(config)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let defaults = ServiceDefaults {
        service: "normalizer",
        input_topic: RAW,
    };
    let mut config = RunnerConfig::new(&args.service, &defaults, Some(args.output_topic.clone()));
    let shown = |p: &Option<PathBuf>| {
        p.as_ref()
            .map_or("-".to_owned(), |p| p.display().to_string())
    };
    config
        .extra
        .push(("normalizer_config", shown(&args.config)));
    if let Some(limit) = args.max_content_bytes {
        config.extra.push(("max_content_bytes", limit.to_string()));
    }
    run_service(&args.service, config, |_| {
        NormalizeStage::new(load_config(&args)?).context("invalid normalizer settings")
    })
}
