//! Creating the topics of the architecture (`newsflow topics create`): idempotent, with
//! partitions, replication and `max.message.bytes` as options.

use std::time::Duration;

use anyhow::Context as _;
use newsflow_core::topics::{Cleanup, TOPICS};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;

/// How topics are created.
#[derive(Debug, Clone)]
pub struct TopicSettings {
    /// Put before every name (tests use it to get their own topics).
    pub prefix: String,
    pub partitions: i32,
    pub replication: i32,
    /// The largest record a topic accepts; above the normalizer's page size limit.
    pub max_message_bytes: u64,
    /// Extra topics (e.g. per-tag topics), created like the article topics.
    pub extra: Vec<String>,
}

/// What happened to one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicOutcome {
    Created,
    AlreadyExists,
}

/// The names `settings` creates, in catalog order.
pub fn topic_names(settings: &TopicSettings) -> Vec<String> {
    TOPICS
        .iter()
        .map(|t| t.name.to_owned())
        .chain(settings.extra.iter().cloned())
        .map(|name| format!("{}{name}", settings.prefix))
        .collect()
}

/// Creates every topic; existing topics are left as they are.
pub async fn create_topics(
    client: ClientConfig,
    settings: &TopicSettings,
) -> anyhow::Result<Vec<(String, TopicOutcome)>> {
    let names = topic_names(settings);
    let topics: Vec<(String, bool)> = names
        .into_iter()
        .enumerate()
        .map(|(index, name)| {
            let compact = TOPICS
                .get(index)
                .is_some_and(|t| t.cleanup == Cleanup::Compact);
            (name, compact)
        })
        .collect();
    create(client, settings, topics).await
}

/// Creates only `settings.extra` (e.g. the per-tag topics of a reloaded taxonomy).
pub async fn create_named_topics(
    client: ClientConfig,
    settings: &TopicSettings,
) -> anyhow::Result<Vec<(String, TopicOutcome)>> {
    let topics = settings
        .extra
        .iter()
        .map(|name| (format!("{}{name}", settings.prefix), false))
        .collect();
    create(client, settings, topics).await
}

async fn create(
    client: ClientConfig,
    settings: &TopicSettings,
    names: Vec<(String, bool)>,
) -> anyhow::Result<Vec<(String, TopicOutcome)>> {
    let admin: AdminClient<DefaultClientContext> = client
        .create()
        .context("cannot create the Kafka admin client")?;
    let max_bytes = settings.max_message_bytes.to_string();
    let topics: Vec<NewTopic<'_>> = names
        .iter()
        .map(|(name, compact)| {
            NewTopic::new(
                name,
                settings.partitions,
                TopicReplication::Fixed(settings.replication),
            )
            .set("max.message.bytes", &max_bytes)
            .set(
                "cleanup.policy",
                if *compact { "compact" } else { "delete" },
            )
        })
        .collect();
    let options = AdminOptions::new()
        .operation_timeout(Some(Duration::from_secs(30)))
        .request_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics(topics.iter(), &options)
        .await
        .context("the broker did not answer CreateTopics")?;
    let mut outcomes = Vec::new();
    for result in results {
        match result {
            Ok(name) => outcomes.push((name, TopicOutcome::Created)),
            Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => {
                outcomes.push((name, TopicOutcome::AlreadyExists))
            }
            Err((name, code)) => anyhow::bail!("cannot create topic {name}: {code}"),
        }
    }
    Ok(outcomes)
}
