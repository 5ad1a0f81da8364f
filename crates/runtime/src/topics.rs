//! Creating the topics of the architecture (`newsflow topics create`): idempotent, with
//! partitions, replication, `min.insync.replicas` and `max.message.bytes` as options.

use std::time::Duration;

use anyhow::Context as _;
use newsflow_core::topics::{Cleanup, TOPICS};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;

/// Copies of each partition, and how many of them must hold a write before the broker
/// acknowledges it to an `acks=all` producer (`min.insync.replicas`).
///
/// With 3 copies and 2 in sync, one broker may be lost without losing a write or refusing
/// one; with `min.insync.replicas` equal to the copies, the loss of any broker stops writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replication {
    factor: i32,
    min_insync: i32,
}

/// A replication the brokers could not honour.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplicationError {
    #[error("the replication factor must be at least 1 (got {0})")]
    Factor(i32),
    #[error("min.insync.replicas must be at least 1 (got {0})")]
    MinInsync(i32),
    #[error(
        "min.insync.replicas ({min_insync}) cannot exceed the replication factor ({factor}): \
         no write could ever be acknowledged"
    )]
    MinInsyncAboveFactor { factor: i32, min_insync: i32 },
}

impl Replication {
    /// `factor` copies, `min_insync` of them in sync (default: 2, or 1 for a single copy).
    pub fn new(factor: i32, min_insync: Option<i32>) -> Result<Self, ReplicationError> {
        if factor < 1 {
            return Err(ReplicationError::Factor(factor));
        }
        let min_insync = min_insync.unwrap_or(factor.min(2));
        if min_insync < 1 {
            return Err(ReplicationError::MinInsync(min_insync));
        }
        if min_insync > factor {
            return Err(ReplicationError::MinInsyncAboveFactor { factor, min_insync });
        }
        Ok(Self { factor, min_insync })
    }

    /// One copy: a single development broker.
    pub const SINGLE: Self = Self {
        factor: 1,
        min_insync: 1,
    };

    pub fn factor(&self) -> i32 {
        self.factor
    }

    pub fn min_insync(&self) -> i32 {
        self.min_insync
    }
}

/// [`Replication::new`] from command-line flags, named by `flags` (replication factor,
/// min.insync.replicas): a refusal is a usage error that names them (exit status 2).
pub fn replication_from_flags(
    mut command: clap::Command,
    flags: (&str, &str),
    factor: i32,
    min_insync: Option<i32>,
) -> Replication {
    Replication::new(factor, min_insync).unwrap_or_else(|err| {
        let (factor_flag, min_flag) = flags;
        let given = min_insync.map_or_else(String::new, |m| format!("{min_flag} {m}, "));
        command
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                format!("{err} ({given}{factor_flag} {factor})"),
            )
            .exit()
    })
}

/// How topics are created.
#[derive(Debug, Clone)]
pub struct TopicSettings {
    /// Put before every name (tests use it to get their own topics).
    pub prefix: String,
    pub partitions: i32,
    pub replication: Replication,
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
    let min_insync = settings.replication.min_insync().to_string();
    let topics: Vec<NewTopic<'_>> = names
        .iter()
        .map(|(name, compact)| {
            NewTopic::new(
                name,
                settings.partitions,
                TopicReplication::Fixed(settings.replication.factor()),
            )
            .set("max.message.bytes", &max_bytes)
            .set("min.insync.replicas", &min_insync)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_insync_defaults_to_two_or_the_replication_factor_when_smaller() {
        for (factor, expected) in [(1, 1), (2, 2), (3, 2), (5, 2)] {
            let replication = Replication::new(factor, None).unwrap();
            assert_eq!(
                (replication.factor(), replication.min_insync()),
                (factor, expected)
            );
        }
        assert_eq!(Replication::new(1, None), Ok(Replication::SINGLE));
    }

    #[test]
    fn an_explicit_min_insync_up_to_the_replication_factor_is_kept() {
        assert_eq!(Replication::new(3, Some(3)).unwrap().min_insync(), 3);
        assert_eq!(Replication::new(3, Some(1)).unwrap().min_insync(), 1);
    }

    #[test]
    fn a_min_insync_above_the_replication_factor_is_refused_with_both_numbers() {
        let err = Replication::new(2, Some(3)).unwrap_err();
        assert_eq!(
            err,
            ReplicationError::MinInsyncAboveFactor {
                factor: 2,
                min_insync: 3
            }
        );
        let message = err.to_string();
        assert!(
            message.contains("(3)") && message.contains("(2)"),
            "{message}"
        );
        assert_eq!(Replication::new(0, None), Err(ReplicationError::Factor(0)));
        assert_eq!(
            Replication::new(3, Some(0)),
            Err(ReplicationError::MinInsync(0))
        );
    }
}
