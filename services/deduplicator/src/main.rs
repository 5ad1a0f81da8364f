//! `newsflow-deduplicator`: flags exact and near-duplicate copies of stories. First copies go
//! to `news.deduplicated.v1`, copies become notices on `news.duplicates.v1`; the fingerprint
//! window lives in the compacted `newsflow.dedup-state.v1`, restored by every instance before it
//! takes input and followed afterwards.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use newsflow_core::dedup::{DedupConfig, DedupStage};
use newsflow_core::event::{DuplicateKind, Event};
use newsflow_core::topics::{DEDUP_STATE, DEDUPLICATED, DUPLICATES, NORMALIZED};
use newsflow_core::{
    Emit, EventKind, Rejection, Route, Stage, StageContext, StageError, StateChange,
};
use newsflow_runtime::flags::parse_duration;
use newsflow_runtime::metrics::RunnerMetrics;
use newsflow_runtime::{RunnerConfig, ServiceArgs, ServiceDefaults, run_service};
use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts};

/// mimalloc instead of glibc's malloc: allocation-heavy JSON and text work per event runs
/// faster, and freed memory goes back to the system instead of piling up in per-thread arenas.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
struct Args {
    #[command(flatten)]
    service: ServiceArgs,

    /// Topic for the first copies of stories.
    #[arg(long, env = "NEWSFLOW_OUTPUT_TOPIC", default_value = DEDUPLICATED, value_name = "TOPIC")]
    output_topic: String,

    /// Topic for duplicate notices.
    #[arg(long, env = "NEWSFLOW_DUPLICATES_TOPIC", default_value = DUPLICATES, value_name = "TOPIC")]
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

fn load_config(args: &Args) -> anyhow::Result<DedupConfig> {
    let mut config: DedupConfig =
        newsflow_runtime::flags::load_settings(args.config.as_deref(), "deduplicator settings")?;
    if let Some(window) = args.window {
        config.window = window;
    }
    Ok(config)
}

/// The dedupe stage with its own metrics: duplicates by kind, retained fingerprints, memory.
struct Observed {
    inner: DedupStage,
    duplicates: IntCounterVec,
    retained: IntGauge,
    memory: IntGauge,
    evictions: IntCounter,
    last_gauge_update: Instant,
}

impl Observed {
    fn new(inner: DedupStage, metrics: &RunnerMetrics) -> anyhow::Result<Self> {
        let duplicates = IntCounterVec::new(
            Opts::new(
                "newsflow_duplicates_total",
                "Copies of earlier stories found, by kind.",
            ),
            &["kind"],
        )?;
        let retained = IntGauge::new(
            "newsflow_dedup_retained_articles",
            "Articles in the deduplication window.",
        )?;
        let memory = IntGauge::new(
            "newsflow_dedup_window_bytes",
            "Approximate heap size of the deduplication window.",
        )?;
        let evictions = IntCounter::new(
            "newsflow_dedup_evictions_total",
            "Articles dropped from the deduplication window as their event time left it.",
        )?;
        for collector in [
            Box::new(duplicates.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(retained.clone()),
            Box::new(memory.clone()),
            Box::new(evictions.clone()),
        ] {
            metrics.registry.register(collector)?;
        }
        for kind in ["exact", "near"] {
            duplicates.with_label_values(&[kind]);
        }
        Ok(Self {
            inner,
            duplicates,
            retained,
            memory,
            evictions,
            last_gauge_update: Instant::now(),
        })
    }

    /// The retained count is exact after every call (it costs nothing); the window's size,
    /// which walks its expiry index, is refreshed at most once a second.
    fn update_gauges(&mut self, force: bool) {
        self.retained.set(self.inner.retained() as i64);
        if force || self.last_gauge_update.elapsed() >= Duration::from_secs(1) {
            self.memory.set(self.inner.memory_bytes() as i64);
            // The counter follows the stage's own count (restored state included).
            let evicted = self.inner.evicted();
            if evicted > self.evictions.get() {
                self.evictions.inc_by(evicted - self.evictions.get());
            }
            self.last_gauge_update = Instant::now();
        }
    }
}

impl Stage for Observed {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn input_kind(&self) -> EventKind {
        self.inner.input_kind()
    }
    fn output_kinds(&self) -> &'static [EventKind] {
        self.inner.output_kinds()
    }
    fn process(&mut self, event: Event, ctx: &StageContext) -> Result<Vec<Emit>, StageError> {
        let emits = self.inner.process(event, ctx)?;
        for emit in &emits {
            if let (Route::Duplicates, Event::DuplicateNotice(notice)) = (&emit.route, &emit.event)
            {
                let kind = match notice.kind {
                    DuplicateKind::Exact => "exact",
                    DuplicateKind::Near => "near",
                };
                self.duplicates.with_label_values(&[kind]).inc();
            }
        }
        self.update_gauges(false);
        Ok(emits)
    }
    fn is_stateful(&self) -> bool {
        self.inner.is_stateful()
    }
    fn take_state_changes(&mut self) -> Vec<StateChange> {
        self.inner.take_state_changes()
    }
    fn restore_state(&mut self, key: &str, value: Option<&[u8]>) -> Result<(), Rejection> {
        let restored = self.inner.restore_state(key, value);
        self.update_gauges(false);
        restored
    }
    fn state_restored(&mut self) {
        self.update_gauges(true);
    }
}

/// A duration as `--check-config` shows it (seconds).
fn humantime_like(duration: Duration) -> String {
    format!("{}s", duration.as_secs())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let defaults = ServiceDefaults {
        service: "deduplicator",
        input_topic: NORMALIZED,
    };
    let mut config = RunnerConfig::new(&args.service, &defaults, Some(args.output_topic.clone()));
    config.duplicates_topic = Some(args.duplicates_topic.clone());
    config.state_topic = Some(args.state_topic.clone());
    let shown = |p: &Option<PathBuf>| {
        p.as_ref()
            .map_or("-".to_owned(), |p| p.display().to_string())
    };
    config.extra.push(("dedup_config", shown(&args.config)));
    if let Some(window) = args.window {
        config.extra.push(("dedup_window", humantime_like(window)));
    }
    run_service(&args.service, config, |metrics| {
        let stage =
            DedupStage::new(load_config(&args)?).context("invalid deduplicator settings")?;
        let mut observed = Observed::new(stage, metrics)?;
        observed.update_gauges(true);
        Ok(observed)
    })
}
