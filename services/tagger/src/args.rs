//! The tagger's flags, and the runner configuration and topic settings they make.

use std::path::PathBuf;
use std::time::Duration;

use clap::{CommandFactory as _, Parser};
use newsflow_core::stage::PRIMARY;
use newsflow_core::tag::TOPIC_COPIES;
use newsflow_core::topics::{DEDUPLICATED, ENRICHED, tag_topic};
use newsflow_runtime::topics::{Replication, TopicSettings, replication_from_flags};
use newsflow_runtime::{RunnerConfig, ServiceArgs, ServiceDefaults, TopicBinding};

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
pub struct Args {
    #[command(flatten)]
    pub service: ServiceArgs,

    /// Topic for enriched articles.
    #[arg(long, env = "NEWSFLOW_OUTPUT_TOPIC", default_value = ENRICHED, value_name = "TOPIC")]
    output_topic: String,

    /// The taxonomy file (YAML); default: the built-in taxonomy. Reloaded when it changes.
    #[arg(long, env = "NEWSFLOW_TAXONOMY", value_name = "FILE")]
    pub taxonomy: Option<PathBuf>,

    /// How often the taxonomy file is checked for changes.
    #[arg(long, env = "NEWSFLOW_TAXONOMY_POLL", default_value = "2s", value_parser = newsflow_runtime::flags::parse_duration, value_name = "DURATION")]
    pub taxonomy_poll: Duration,

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

impl Args {
    /// The per-tag topics' replication; a wrong value is a usage error (exits as clap does),
    /// checked before anything starts.
    fn replication(&self) -> Replication {
        replication_from_flags(
            Self::command(),
            ("--tag-topic-replication", "--tag-topic-min-insync-replicas"),
            self.tag_topic_replication,
            self.tag_topic_min_insync_replicas,
        )
    }

    /// The runner's configuration: the shared flags and the outputs' topics.
    pub fn runner_config(&self) -> RunnerConfig {
        let defaults = ServiceDefaults {
            service: "tagger",
            input_topic: DEDUPLICATED,
        };
        let mut config = RunnerConfig::new(&self.service, &defaults)
            .output(TopicBinding::named(
                PRIMARY,
                "output_topic",
                &self.output_topic,
            ))
            .output(TopicBinding::prefix(
                TOPIC_COPIES,
                "tag_topic_prefix",
                &self.tag_topic_prefix,
            ));
        let taxonomy = self.taxonomy.as_ref();
        let replication = self.replication();
        config.extra.extend([
            (
                "taxonomy",
                taxonomy.map_or("(built-in)".to_owned(), |p| p.display().to_string()),
            ),
            (
                "tag_topics",
                format!("{}{}", self.tag_topic_prefix, tag_topic("<topic-id>")),
            ),
            (
                "tag_topic_partitions",
                self.tag_topic_partitions.to_string(),
            ),
            ("tag_topic_replication", replication.factor().to_string()),
            (
                "tag_topic_min_insync_replicas",
                replication.min_insync().to_string(),
            ),
        ]);
        config
    }

    /// How the per-tag topics are created.
    pub fn tag_topics(&self) -> TopicSettings {
        TopicSettings {
            prefix: self.tag_topic_prefix.clone(),
            partitions: self.tag_topic_partitions,
            replication: self.replication(),
            max_message_bytes: 8 * 1024 * 1024,
            extra: Vec::new(),
        }
    }
}
