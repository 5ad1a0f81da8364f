//! The tag stage with the tagger's additions: per-tag topics created before they are needed, a
//! taxonomy file reloaded while the service runs, and tags counted per topic.

use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context as _;
use newsflow_core::Emit;
use newsflow_core::tag::{TOPIC_COPIES, TagStage, Taxonomy};
use newsflow_core::topics::tag_topic;
use newsflow_runtime::taxonomy::TaxonomyFile;
use newsflow_runtime::topics::{TopicSettings, create_named_topics};
use newsflow_runtime::{Hooked, ServiceContext, StageHooks};
use rdkafka::ClientConfig;
use tokio_util::sync::CancellationToken;

use crate::args::Args;
use crate::metrics::TaggerMetrics;

/// A taxonomy handed from the watcher to the stage, put in force before the next article.
type Pending = Arc<Mutex<Option<Arc<Taxonomy>>>>;

/// Builds the stage from the flags: loads the taxonomy, and schedules the creation of its
/// topics' Kafka topics and the watcher of its file.
pub fn build(
    args: &Args,
    context: &mut ServiceContext,
) -> anyhow::Result<Hooked<TagStage, Reload>> {
    let metrics = TaggerMetrics::register(&context.metrics().registry)?;
    let (taxonomy, file) = match &args.taxonomy {
        Some(path) => {
            let (file, taxonomy) = TaxonomyFile::open(path, args.taxonomy_poll)?;
            (taxonomy, Some(file))
        }
        None => (Taxonomy::default(), None),
    };
    metrics.in_force(&taxonomy);
    let ids = topic_ids(&taxonomy);
    let topics = TagTopics {
        client: context.client_config(),
        settings: args.tag_topics(),
    };
    let pending = Pending::default();
    let created = topics.clone();
    context.setup(async move {
        created
            .create(&ids)
            .await
            .context("cannot create the per-tag topics")
    });
    if let Some(file) = file {
        let watcher = Watcher {
            file,
            known: topic_ids(&taxonomy),
            topics,
            pending: pending.clone(),
            metrics: metrics.clone(),
        };
        context.spawn(|shutdown| watcher.run(shutdown));
    }
    Ok(Hooked {
        stage: TagStage::new(Arc::new(taxonomy)),
        hooks: Reload { pending, metrics },
    })
}

fn topic_ids(taxonomy: &Taxonomy) -> Vec<String> {
    taxonomy
        .topic_ids()
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// Puts a reloaded taxonomy in force between two articles, and counts tags per topic.
#[derive(Debug)]
pub struct Reload {
    pending: Pending,
    metrics: TaggerMetrics,
}

impl StageHooks<TagStage> for Reload {
    fn before(&mut self, stage: &mut TagStage) {
        let update = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(taxonomy) = update {
            tracing::info!(version = taxonomy.version(), "taxonomy in force");
            stage.set_taxonomy(taxonomy);
        }
    }

    fn after(&mut self, _stage: &TagStage, emits: &[Emit]) {
        for route in emits.iter().flat_map(Emit::routes) {
            if let (TOPIC_COPIES, Some(id)) = (route.output, &route.key) {
                self.metrics.tags.with_label_values(&[id.as_str()]).inc();
            }
        }
    }
}

/// Creates the Kafka topics of taxonomy topic ids (`<prefix>news.topic.<id>.v1`); existing
/// ones are left as they are.
#[derive(Debug, Clone)]
struct TagTopics {
    client: ClientConfig,
    settings: TopicSettings,
}

impl TagTopics {
    async fn create(&self, ids: &[String]) -> anyhow::Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let settings = TopicSettings {
            extra: ids.iter().map(|id| tag_topic(id)).collect(),
            ..self.settings.clone()
        };
        create_named_topics(self.client.clone(), &settings).await?;
        Ok(())
    }
}

/// Follows the taxonomy file: a valid change creates the new topics' Kafka topics and is handed
/// to the stage; an invalid one is reported and ignored.
struct Watcher {
    file: TaxonomyFile,
    /// The topic ids of the taxonomy in force.
    known: Vec<String>,
    topics: TagTopics,
    pending: Pending,
    metrics: TaggerMetrics,
}

impl Watcher {
    async fn run(mut self, shutdown: CancellationToken) {
        while let Some(change) = self.file.changed(&shutdown).await {
            let taxonomy = match change {
                Ok(taxonomy) => taxonomy,
                Err(err) => {
                    self.metrics.reloads.with_label_values(&["error"]).inc();
                    tracing::error!(error = %format!("{err:#}"), "taxonomy change rejected; the previous taxonomy stays in force");
                    continue;
                }
            };
            self.apply(taxonomy).await;
        }
    }

    async fn apply(&mut self, taxonomy: Taxonomy) {
        let ids = topic_ids(&taxonomy);
        let added: Vec<String> = ids
            .iter()
            .filter(|id| !self.known.contains(id))
            .cloned()
            .collect();
        if let Err(err) = self.topics.create(&added).await {
            self.metrics.reloads.with_label_values(&["error"]).inc();
            tracing::error!(error = %format!("{err:#}"), "cannot create the new topics' Kafka topics; the previous taxonomy stays in force");
            self.file.retry();
            return;
        }
        self.known = ids;
        self.metrics.in_force(&taxonomy);
        self.metrics.reloads.with_label_values(&["ok"]).inc();
        tracing::info!(version = taxonomy.version(), added = ?added, "taxonomy reloaded");
        *self.pending.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(taxonomy));
    }
}
