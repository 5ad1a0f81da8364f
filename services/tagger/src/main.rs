//! `newsflow-tagger`: tags unique articles with topics (with the evidence for each tag) and
//! entities, publishes them to `news.enriched.v1` and a copy to `news.topic.<id>.v1` for each
//! tag. The taxonomy file is reloaded when it changes: new topics get their Kafka topic first;
//! a bad file keeps the old taxonomy in force, with an error and a metric.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use clap::{CommandFactory as _, Parser};
use newsflow_core::tag::{TagStage, Taxonomy};
use newsflow_core::topics::{DEDUPLICATED, ENRICHED, tag_topic};
use newsflow_core::{Emit, Event, EventKind, Route, Stage, StageContext, StageError};
use newsflow_runtime::flags::ClientArgs;
use newsflow_runtime::metrics::RunnerMetrics;
use newsflow_runtime::topics::{TopicSettings, replication_from_flags};
use newsflow_runtime::{RunnerConfig, ServiceArgs, ServiceDefaults, run_service};
use prometheus::{IntCounterVec, IntGaugeVec, Opts};
use sha2::{Digest as _, Sha256};

/// mimalloc instead of glibc's malloc: allocation-heavy JSON and text work per event runs
/// faster, and freed memory goes back to the system instead of piling up in per-thread arenas.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "newsflow-tagger",
    version,
    about = "Tag news articles with topics and entities, with evidence, on Kafka",
    long_about = "Consumes unique articles (news.deduplicated.v1), tags topics from the taxonomy \
(each with its score and the terms that matched, and where) and entities from the gazetteer, \
and publishes the enriched article to news.enriched.v1 and to news.topic.<topic-id>.v1 for \
each topic it got. The taxonomy file is reloaded when it changes, without a restart."
)]
struct Args {
    #[command(flatten)]
    service: ServiceArgs,

    /// Topic for enriched articles.
    #[arg(long, env = "NEWSFLOW_OUTPUT_TOPIC", default_value = ENRICHED, value_name = "TOPIC")]
    output_topic: String,

    /// The taxonomy file (YAML); default: the built-in taxonomy. Reloaded when it changes.
    #[arg(long, env = "NEWSFLOW_TAXONOMY", value_name = "FILE")]
    taxonomy: Option<PathBuf>,

    /// How often the taxonomy file is checked for changes.
    #[arg(long, env = "NEWSFLOW_TAXONOMY_POLL", default_value = "2s", value_parser = newsflow_runtime::flags::parse_duration, value_name = "DURATION")]
    taxonomy_poll: Duration,

    /// Put this before every per-tag topic name (`<PREFIX>news.topic.<id>.v1`), as
    /// `newsflow topics create --prefix` does.
    #[arg(
        long,
        env = "NEWSFLOW_TAG_TOPIC_PREFIX",
        default_value = "",
        value_name = "PREFIX"
    )]
    tag_topic_prefix: String,

    /// Partitions of the per-tag topics the tagger creates (at start and for topics a reloaded
    /// taxonomy adds; existing topics are left as they are).
    #[arg(long, env = "NEWSFLOW_TAG_TOPIC_PARTITIONS", default_value_t = 6, value_name = "N", value_parser = clap::value_parser!(i32).range(1..))]
    tag_topic_partitions: i32,

    /// Replicas of the per-tag topics it creates (3 on a production cluster).
    #[arg(long, env = "NEWSFLOW_TAG_TOPIC_REPLICATION", default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(i32).range(1..))]
    tag_topic_replication: i32,

    /// min.insync.replicas of the per-tag topics it creates: replicas that must hold a write
    /// before it is acknowledged. Default: 2, or --tag-topic-replication when smaller; it
    /// cannot exceed --tag-topic-replication.
    #[arg(long, env = "NEWSFLOW_TAG_TOPIC_MIN_INSYNC_REPLICAS", value_name = "N", value_parser = clap::value_parser!(i32).range(1..))]
    tag_topic_min_insync_replicas: Option<i32>,
}

fn load(path: &Path) -> anyhow::Result<(Taxonomy, [u8; 32])> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let digest: [u8; 32] = Sha256::digest(text.as_bytes()).into();
    let taxonomy = Taxonomy::from_yaml(&text).map_err(|errors| {
        let lines: Vec<String> = errors
            .iter()
            .map(|e| format!("{}:{e}", path.display()))
            .collect();
        anyhow::anyhow!("invalid taxonomy:\n{}", lines.join("\n"))
    })?;
    Ok((taxonomy, digest))
}

/// The tag stage with a taxonomy that a watcher thread may replace between two articles.
struct Reloading {
    inner: TagStage,
    pending: Arc<Mutex<Option<Arc<Taxonomy>>>>,
    /// `newsflow_tags_total{topic}`: articles tagged, per taxonomy topic.
    tags: IntCounterVec,
}

impl Stage for Reloading {
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
        let update = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(taxonomy) = update {
            tracing::info!(version = taxonomy.version(), "taxonomy in force");
            self.inner.set_taxonomy(taxonomy);
        }
        let emits = self.inner.process(event, ctx)?;
        for route in emits.iter().flat_map(Emit::routes) {
            if let Route::Topic(id) = route {
                self.tags.with_label_values(&[id.as_str()]).inc();
            }
        }
        Ok(emits)
    }
}

/// Polls the taxonomy file; a valid change creates the new topics' Kafka topics and is handed
/// to the stage; an invalid one is reported and ignored.
struct Watcher {
    path: PathBuf,
    /// SHA-256 of the file's content last acted on.
    digest: [u8; 32],
    /// The topic ids of the taxonomy in force.
    known: Vec<String>,
    poll: Duration,
    pending: Arc<Mutex<Option<Arc<Taxonomy>>>>,
    client: ClientArgs,
    settings: TopicSettings,
    reloads: IntCounterVec,
    info: IntGaugeVec,
    tags: IntCounterVec,
}

impl Watcher {
    fn spawn(mut self) {
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(self.poll);
                self.check();
            }
        });
    }

    fn check(&mut self) {
        let Ok(text) = std::fs::read(&self.path) else {
            return;
        };
        let now: [u8; 32] = Sha256::digest(&text).into();
        if now == self.digest {
            return;
        }
        self.digest = now;
        let taxonomy = match load(&self.path) {
            Ok((taxonomy, _)) => taxonomy,
            Err(err) => {
                self.reloads.with_label_values(&["error"]).inc();
                tracing::error!(error = %format!("{err:#}"), "taxonomy change rejected; the previous taxonomy stays in force");
                return;
            }
        };
        let ids: Vec<String> = taxonomy
            .topic_ids()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let added: Vec<String> = ids
            .iter()
            .filter(|id| !self.known.contains(id))
            .cloned()
            .collect();
        if let Err(err) = create_tag_topics(&self.client, &self.settings, &added) {
            self.reloads.with_label_values(&["error"]).inc();
            tracing::error!(error = %format!("{err:#}"), "cannot create the new topics' Kafka topics; the previous taxonomy stays in force");
            self.digest = [0; 32]; // try again at the next poll
            return;
        }
        for id in &added {
            self.tags.with_label_values(&[id.as_str()]);
        }
        self.known = ids;
        self.info.reset();
        self.info.with_label_values(&[taxonomy.version()]).set(1);
        self.reloads.with_label_values(&["ok"]).inc();
        tracing::info!(version = taxonomy.version(), added = ?added, "taxonomy reloaded");
        *self.pending.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(taxonomy));
    }
}

/// Creates the Kafka topics of these taxonomy topic ids (`<prefix>news.topic.<id>.v1`);
/// existing ones are left as they are. Blocks; runs its own runtime on its own thread, so it
/// may be called from anywhere.
fn create_tag_topics(
    client: &ClientArgs,
    settings: &TopicSettings,
    ids: &[String],
) -> anyhow::Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let settings = TopicSettings {
        extra: ids.iter().map(|id| tag_topic(id)).collect(),
        ..settings.clone()
    };
    let config = client.client_config();
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("cannot start a runtime to create topics")?;
                runtime
                    .block_on(newsflow_runtime::topics::create_named_topics(
                        config, &settings,
                    ))
                    .map(drop)
            })
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("topic creation panicked")))
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    // Checked before anything starts: a wrong value is a usage error, not a runtime one.
    let tag_topic_replication = replication_from_flags(
        Args::command(),
        ("--tag-topic-replication", "--tag-topic-min-insync-replicas"),
        args.tag_topic_replication,
        args.tag_topic_min_insync_replicas,
    );
    let defaults = ServiceDefaults {
        service: "tagger",
        input_topic: DEDUPLICATED,
    };
    let mut config = RunnerConfig::new(&args.service, &defaults, Some(args.output_topic.clone()));
    config.tag_topic_prefix = args.tag_topic_prefix.clone();
    config.extra.push((
        "taxonomy",
        args.taxonomy
            .as_ref()
            .map_or("(built-in)".to_owned(), |p| p.display().to_string()),
    ));
    config.extra.push((
        "tag_topics",
        format!("{}{}", args.tag_topic_prefix, tag_topic("<topic-id>")),
    ));
    config.extra.extend([
        (
            "tag_topic_partitions",
            args.tag_topic_partitions.to_string(),
        ),
        (
            "tag_topic_replication",
            tag_topic_replication.factor().to_string(),
        ),
        (
            "tag_topic_min_insync_replicas",
            tag_topic_replication.min_insync().to_string(),
        ),
    ]);
    run_service(&args.service, config, |metrics: &RunnerMetrics| {
        let reloads = IntCounterVec::new(
            Opts::new(
                "newsflow_taxonomy_reloads_total",
                "Taxonomy file changes the tagger acted on, by outcome (ok: in force; error: \
rejected, the previous taxonomy stays in force).",
            ),
            &["outcome"],
        )?;
        let info = IntGaugeVec::new(
            Opts::new(
                "newsflow_taxonomy_info",
                "Constant 1, labelled with the taxonomy version in force.",
            ),
            &["version"],
        )?;
        let tags = IntCounterVec::new(
            Opts::new(
                "newsflow_tags_total",
                "Articles tagged, per taxonomy topic (the topic ids are the taxonomy's).",
            ),
            &["topic"],
        )?;
        metrics.registry.register(Box::new(reloads.clone()))?;
        metrics.registry.register(Box::new(info.clone()))?;
        metrics.registry.register(Box::new(tags.clone()))?;
        for outcome in ["ok", "error"] {
            reloads.with_label_values(&[outcome]);
        }
        let (taxonomy, digest) = match &args.taxonomy {
            Some(path) => {
                let (taxonomy, digest) = load(path)?;
                (taxonomy, Some(digest))
            }
            None => (Taxonomy::default(), None),
        };
        for id in taxonomy.topic_ids() {
            tags.with_label_values(&[id]);
        }
        info.with_label_values(&[taxonomy.version()]).set(1);
        let pending = Arc::new(Mutex::new(None));
        if !args.service.check_config {
            let settings = TopicSettings {
                prefix: args.tag_topic_prefix.clone(),
                partitions: args.tag_topic_partitions,
                replication: tag_topic_replication,
                max_message_bytes: 8 * 1024 * 1024,
                extra: Vec::new(),
            };
            let ids: Vec<String> = taxonomy
                .topic_ids()
                .into_iter()
                .map(str::to_owned)
                .collect();
            create_tag_topics(&args.service.client, &settings, &ids)
                .context("cannot create the per-tag topics")?;
            if let (Some(path), Some(digest)) = (&args.taxonomy, digest) {
                Watcher {
                    path: path.clone(),
                    digest,
                    known: ids,
                    poll: args.taxonomy_poll,
                    pending: pending.clone(),
                    client: args.service.client.clone(),
                    settings,
                    reloads: reloads.clone(),
                    info: info.clone(),
                    tags: tags.clone(),
                }
                .spawn();
            }
        }
        Ok(Reloading {
            inner: TagStage::new(Arc::new(taxonomy)),
            pending,
            tags,
        })
    })
}
