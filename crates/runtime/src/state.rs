//! The state topic of a stateful stage: restored in full before the stage takes input, then
//! followed, so every instance also sees the changes the others publish.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message as _;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::RunnerConfig;

/// Forgets the partitions (of a reader assigned one topic) whose read position reached the end
/// offset in `ends`. Needed besides "the last record read was at end - 1": transaction markers
/// take offsets too, so a topic written in transactions ends with a marker no record reaches,
/// while the position (for `read_committed` readers) moves past it.
pub fn forget_reached<C: rdkafka::consumer::ConsumerContext>(
    consumer: &BaseConsumer<C>,
    ends: &mut std::collections::BTreeMap<i32, i64>,
) -> anyhow::Result<()> {
    let position = consumer
        .position()
        .context("cannot read the consumer's position")?;
    for element in position.elements() {
        if let Offset::Offset(next) = element.offset() {
            if ends
                .get(&element.partition())
                .is_some_and(|end| next >= *end)
            {
                ends.remove(&element.partition());
            }
        }
    }
    Ok(())
}

/// How long the state topic may take to settle (leaders elected after it was created or after
/// a broker restart) before a restore gives up.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a state topic the broker does not list is asked for again before it is reported
/// missing: on a cluster, a topic just created reaches each broker's metadata a moment later.
const MISSING_TOPIC_WAIT: Duration = Duration::from_secs(15);

/// Whether a metadata or offset lookup failed only because the cluster has not settled yet: a
/// partition without a leader (just created, or its broker restarting), or a broker away.
fn unsettled(err: &KafkaError) -> bool {
    use RDKafkaErrorCode as Code;
    err.rdkafka_error_code().is_some_and(|code| {
        matches!(
            code,
            Code::NotLeaderForPartition
                | Code::LeaderNotAvailable
                | Code::UnknownTopicOrPartition
                | Code::RequestTimedOut
                | Code::OperationTimedOut
                | Code::BrokerTransportFailure
                | Code::AllBrokersDown
        )
    })
}

/// Calls `lookup` again (with backoff) while it fails because the cluster has not settled,
/// until `deadline`; any other error, or the last one at the deadline, is returned.
fn settled<T>(
    deadline: Instant,
    mut lookup: impl FnMut() -> Result<T, KafkaError>,
) -> Result<T, KafkaError> {
    let mut wait = Duration::from_millis(100);
    loop {
        match lookup() {
            Err(err) if unsettled(&err) && Instant::now() + wait < deadline => {
                tracing::info!(error = %err, retry_in = ?wait, "state topic not settled yet");
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_secs(2));
            }
            result => return result,
        }
    }
}

/// One record of the state topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateRecord {
    pub key: String,
    pub value: Option<Vec<u8>>,
}

/// Reads every partition of the state topic (no consumer group: each instance reads all).
pub struct StateReader {
    consumer: BaseConsumer,
    topic: String,
}

impl std::fmt::Debug for StateReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateReader")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl StateReader {
    pub fn new(config: &RunnerConfig, topic: &str) -> anyhow::Result<Self> {
        let mut client = rdkafka::ClientConfig::new();
        client
            .set("bootstrap.servers", &config.brokers)
            .set("client.id", format!("newsflow-{}-state", config.service))
            // Never joined or committed (partitions are assigned by hand), but librdkafka's
            // assign waits on the group machinery, which needs an id.
            .set("group.id", format!("{}.state-reader", config.group_id))
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            .set("isolation.level", "read_committed")
            .set("queued.max.messages.kbytes", crate::config::PREFETCH_KBYTES);
        for option in &config.kafka_options {
            let (_, producer_only) = crate::config::setting_scope(&option.key);
            if !option.key.starts_with("group.") && !producer_only {
                client.set(&option.key, &option.value);
            }
        }
        let consumer: BaseConsumer = client.create().context("cannot create the state reader")?;
        Ok(Self {
            consumer,
            topic: topic.to_owned(),
        })
    }

    /// Reads the topic from the beginning up to its end as of now, handing every record to
    /// `apply`; returns how many records were read.
    pub fn restore(&self, mut apply: impl FnMut(&str, Option<&[u8]>)) -> anyhow::Result<u64> {
        tracing::debug!(topic = %self.topic, "reading state topic metadata");
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        let missing_until = Instant::now() + MISSING_TOPIC_WAIT;
        // Unknown to the broker asked: asked again for a while (another broker of a cluster may
        // know it already), then reported missing.
        let missing = || {
            if Instant::now() < missing_until {
                Err(KafkaError::MetadataFetch(
                    RDKafkaErrorCode::UnknownTopicOrPartition,
                ))
            } else {
                Ok(Vec::new())
            }
        };
        let partitions: Vec<i32> = settled(deadline, || {
            let metadata = self
                .consumer
                .fetch_metadata(Some(&self.topic), Duration::from_secs(30))?;
            let Some(topic) = metadata.topics().iter().find(|t| t.name() == self.topic) else {
                return missing();
            };
            match topic.error().map(RDKafkaErrorCode::from) {
                // Listed but without a leader yet (e.g. just created): ask again.
                Some(code @ RDKafkaErrorCode::LeaderNotAvailable) => {
                    Err(KafkaError::MetadataFetch(code))
                }
                Some(RDKafkaErrorCode::UnknownTopicOrPartition) => missing(),
                // Not "does not exist": e.g. TopicAuthorizationFailed, which the error names.
                Some(code) => Err(KafkaError::MetadataFetch(code)),
                None => Ok(topic.partitions().iter().map(|p| p.id()).collect()),
            }
        })
        .with_context(|| format!("cannot read the metadata of state topic {}", self.topic))?;
        if partitions.is_empty() {
            bail!(
                "state topic {} does not exist (create it with `newsflow topics create`)",
                self.topic
            );
        }
        let mut remaining = std::collections::BTreeMap::new();
        let mut assignment = TopicPartitionList::new();
        for partition in partitions {
            let (low, high) = settled(deadline, || {
                self.consumer
                    .fetch_watermarks(&self.topic, partition, Duration::from_secs(30))
            })
            .with_context(|| format!("cannot read the end of {}/{partition}", self.topic))?;
            if high > low {
                remaining.insert(partition, high);
            }
            assignment.add_partition_offset(&self.topic, partition, Offset::Beginning)?;
        }
        tracing::debug!(topic = %self.topic, partitions = ?remaining, "restoring up to these offsets");
        self.consumer.assign(&assignment)?;
        let mut count = 0u64;
        let mut last_report = Instant::now();
        while !remaining.is_empty() {
            let Some(result) = self.consumer.poll(Duration::from_millis(500)) else {
                // Transaction markers take offsets too: the last record of a partition written
                // in transactions ends before its high watermark; the position passes it.
                forget_reached(&self.consumer, &mut remaining)?;
                continue;
            };
            let message =
                result.with_context(|| format!("cannot read state topic {}", self.topic))?;
            let key = String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned();
            apply(&key, message.payload());
            count += 1;
            if remaining
                .get(&message.partition())
                .is_some_and(|high| message.offset() + 1 >= *high)
            {
                remaining.remove(&message.partition());
            }
            if last_report.elapsed() > Duration::from_secs(5) {
                tracing::info!(records = count, "restoring state");
                last_report = Instant::now();
            }
        }
        Ok(count)
    }

    /// Keeps reading after [`StateReader::restore`] on a thread of its own, sending records to
    /// `tx` until `stop` is cancelled or the receiver is gone.
    pub fn follow(
        self,
        tx: mpsc::Sender<StateRecord>,
        stop: CancellationToken,
    ) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || {
            let (mut last_warning, mut suppressed) = (None, 0u64);
            while !stop.is_cancelled() {
                let Some(result) = self.consumer.poll(Duration::from_millis(200)) else {
                    continue;
                };
                match result {
                    Ok(message) => {
                        let record = StateRecord {
                            key: String::from_utf8_lossy(message.key().unwrap_or_default())
                                .into_owned(),
                            value: message.payload().map(<[u8]>::to_vec),
                        };
                        if tx.blocking_send(record).is_err() {
                            return;
                        }
                    }
                    // While the broker is away every poll fails; the client reports the outage
                    // itself, so one line per 30 s here is plenty.
                    Err(err) => {
                        suppressed += 1;
                        if last_warning
                            .is_none_or(|at: Instant| at.elapsed() > Duration::from_secs(30))
                        {
                            tracing::warn!(error = %err, topic = %self.topic, errors = suppressed, "state topic read error");
                            last_warning = Some(Instant::now());
                            suppressed = 0;
                        }
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_are_repeated_while_a_partition_has_no_leader_yet() {
        let mut calls = 0;
        let result = settled(Instant::now() + Duration::from_secs(10), || {
            calls += 1;
            if calls < 3 {
                Err(KafkaError::MetadataFetch(
                    RDKafkaErrorCode::NotLeaderForPartition,
                ))
            } else {
                Ok(calls)
            }
        });
        assert_eq!(result.ok(), Some(3));
    }

    #[test]
    fn other_errors_and_the_deadline_end_the_lookup() {
        let mut calls = 0;
        let result: Result<(), _> = settled(Instant::now() + Duration::from_secs(10), || {
            calls += 1;
            Err(KafkaError::MetadataFetch(
                RDKafkaErrorCode::TopicAuthorizationFailed,
            ))
        });
        assert!(result.is_err());
        assert_eq!(calls, 1, "an authorization error is not waited out");

        let started = Instant::now();
        let result: Result<(), _> = settled(Instant::now() + Duration::from_millis(500), || {
            Err(KafkaError::MetadataFetch(
                RDKafkaErrorCode::LeaderNotAvailable,
            ))
        });
        assert_eq!(
            result.err().and_then(|e| e.rdkafka_error_code()),
            Some(RDKafkaErrorCode::LeaderNotAvailable)
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
