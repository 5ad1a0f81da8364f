//! The Kafka clients of a service and their contexts: fatal client errors stop the service,
//! the consumer's context tracks the group membership (for `/readyz`), the partitions it owns
//! and their lag; producing waits while the producer's queue is full; a probe checks that a
//! broker answers.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::topic_partition_list::TopicPartitionList;
use tokio_util::sync::CancellationToken;

use crate::admin::Health;
use crate::error::RunnerError;
use crate::metrics::RunnerMetrics;

/// An error no retry can fix (the broker refused our credentials or our TLS handshake): the
/// service stops at once with it instead of retrying forever.
#[derive(Debug, Default)]
pub(crate) struct FatalSignal {
    token: CancellationToken,
    reason: Mutex<Option<String>>,
}

impl FatalSignal {
    /// Records `error` when it is one no retry can fix.
    fn check(&self, error: &KafkaError, reason: &str) {
        let what = match error.rdkafka_error_code() {
            Some(RDKafkaErrorCode::Authentication | RDKafkaErrorCode::SaslAuthenticationFailed) => {
                "the Kafka broker refused the credentials"
            }
            Some(RDKafkaErrorCode::SSL) => "the TLS handshake with the Kafka broker failed",
            _ => return,
        };
        let mut slot = self.reason.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(format!("{what}: {reason}"));
        }
        self.token.cancel();
    }

    /// Resolves with the error once a fatal one was seen.
    pub(crate) async fn raised(&self) -> RunnerError {
        self.token.cancelled().await;
        RunnerError::Client(
            self.reason()
                .unwrap_or_else(|| "a fatal Kafka client error".to_owned()),
        )
    }

    pub(crate) fn reason(&self) -> Option<String> {
        self.reason
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The producer's context: fatal errors stop the service.
#[derive(Debug)]
pub struct ProducerContext {
    fatal: Arc<FatalSignal>,
}

impl ProducerContext {
    pub(crate) fn new(fatal: Arc<FatalSignal>) -> Self {
        Self { fatal }
    }
}

impl ClientContext for ProducerContext {
    fn error(&self, error: KafkaError, reason: &str) {
        self.fatal.check(&error, reason);
        tracing::warn!(error = %error, reason, "kafka producer error");
    }
}

/// The runner's producer.
pub(crate) type Producer = FutureProducer<ProducerContext>;

/// What must happen before partitions are revoked (exactly-once: the open transaction is
/// committed, so their next owner starts after it). Called on the thread that polls the
/// consumer, which is the runner's own.
pub(crate) trait BeforeRevoke: Send + Sync {
    fn before_revoke(&self, consumer: &BaseConsumer<RunnerContext>);
}

/// The consumer's context: tracks the group membership for `/readyz`.
pub struct RunnerContext {
    health: Arc<Health>,
    metrics: RunnerMetrics,
    /// The owned input partitions, whose lag is reported.
    assigned: Mutex<HashSet<(String, i32)>>,
    /// The consumer commits nothing itself (transactions do): lag is measured from the read
    /// position.
    exactly_once: bool,
    before_revoke: Option<Arc<dyn BeforeRevoke>>,
    fatal: Arc<FatalSignal>,
}

impl std::fmt::Debug for RunnerContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunnerContext")
            .field("exactly_once", &self.exactly_once)
            .finish_non_exhaustive()
    }
}

impl RunnerContext {
    pub(crate) fn new(
        health: Arc<Health>,
        metrics: RunnerMetrics,
        before_revoke: Option<Arc<dyn BeforeRevoke>>,
        fatal: Arc<FatalSignal>,
    ) -> Self {
        Self {
            health,
            metrics,
            assigned: Mutex::default(),
            exactly_once: before_revoke.is_some(),
            before_revoke,
            fatal,
        }
    }

    fn owned(&self) -> MutexGuard<'_, HashSet<(String, i32)>> {
        // A panic while holding the lock cannot leave the set inconsistent; keep using it.
        self.assigned.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The lag of one partition from librdkafka's statistics, when known.
    fn lag(&self, p: &rdkafka::statistics::Partition) -> Option<i64> {
        let lag = if self.exactly_once {
            // librdkafka's consumer_lag (to the consumer's own committed offset) is unknown or
            // stale: measure from the read position, or from where the partition started.
            let position = if p.app_offset >= 0 {
                p.app_offset
            } else {
                p.committed_offset
            };
            if position >= 0 && p.ls_offset >= 0 {
                (p.ls_offset - position).max(0)
            } else {
                -1
            }
        } else {
            p.consumer_lag
        };
        (lag >= 0).then_some(lag)
    }

    fn assigned(&self, partitions: &TopicPartitionList) {
        self.metrics.rebalances.with_label_values(&["assign"]).inc();
        let mut owned = self.owned();
        owned.clear();
        owned.extend(
            partitions
                .elements()
                .iter()
                .map(|e| (e.topic().to_owned(), e.partition())),
        );
        drop(owned);
        self.metrics
            .assigned_partitions
            .set(partitions.count() as i64);
        self.health.set_joined(true);
        tracing::info!(partitions = %describe(partitions), "partitions assigned");
    }

    fn revoked(&self, partitions: &TopicPartitionList) {
        self.metrics.rebalances.with_label_values(&["revoke"]).inc();
        let mut owned = self.owned();
        for element in partitions.elements() {
            let key = (element.topic().to_owned(), element.partition());
            owned.remove(&key);
            // A revoked partition's lag is another instance's to report.
            let _ = self
                .metrics
                .consumer_lag
                .remove_label_values(&[&key.0, &key.1.to_string()]);
        }
        drop(owned);
        self.metrics.assigned_partitions.set(0);
        tracing::info!(partitions = %describe(partitions), "partitions revoked");
    }
}

impl ClientContext for RunnerContext {
    fn error(&self, error: KafkaError, reason: &str) {
        self.fatal.check(&error, reason);
        if matches!(
            error.rdkafka_error_code(),
            Some(RDKafkaErrorCode::AllBrokersDown)
        ) {
            self.health.set_broker_reachable(false);
        }
        tracing::warn!(error = %error, reason, "kafka client error");
    }

    /// librdkafka statistics (every `statistics.interval.ms`): the lag of each owned partition.
    fn stats(&self, statistics: rdkafka::Statistics) {
        let owned = self.owned();
        for (topic, stats) in &statistics.topics {
            for (partition, p) in &stats.partitions {
                if *partition < 0 || !owned.contains(&(topic.clone(), *partition)) {
                    continue;
                }
                if let Some(lag) = self.lag(p) {
                    self.metrics
                        .consumer_lag
                        .with_label_values(&[topic, &partition.to_string()])
                        .set(lag);
                }
            }
        }
    }
}

impl ConsumerContext for RunnerContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let (Rebalance::Revoke(_), Some(hook)) = (rebalance, &self.before_revoke) {
            hook.before_revoke(consumer);
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            // Also called with an empty list for a member that got no partitions: it has
            // joined all the same.
            Rebalance::Assign(partitions) => self.assigned(partitions),
            Rebalance::Revoke(partitions) => self.revoked(partitions),
            Rebalance::Error(err) => tracing::warn!(error = %err, "rebalance failed"),
        }
    }

    fn commit_callback(
        &self,
        result: rdkafka::error::KafkaResult<()>,
        offsets: &TopicPartitionList,
    ) {
        match result {
            Ok(()) => tracing::debug!(offsets = %describe(offsets), "offsets committed"),
            // Nothing was stored since the last commit.
            Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(err) => tracing::warn!(error = %err, "offset commit failed"),
        }
    }
}

fn describe(partitions: &TopicPartitionList) -> String {
    partitions
        .elements()
        .iter()
        .map(|e| format!("{}/{}", e.topic(), e.partition()))
        .collect::<Vec<_>>()
        .join(",")
}

/// Exponential backoff from 100 ms, doubling, capped at 10 s.
pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << attempt.min(7))).min(Duration::from_secs(10))
}

/// Logs a consume error (connection losses quietly: the client reports them); waits a little
/// when the input topic does not exist (yet), which librdkafka keeps retrying, so as not to
/// spin.
pub(crate) async fn consume_error(err: &KafkaError) {
    if matches!(
        err.rdkafka_error_code(),
        Some(RDKafkaErrorCode::AllBrokersDown | RDKafkaErrorCode::BrokerTransportFailure)
    ) {
        // Reported once by the client's error callback, and by /readyz.
        tracing::debug!(error = %err, "consume error");
    } else {
        tracing::warn!(error = %err, "consume error");
    }
    if matches!(
        err.rdkafka_error_code(),
        Some(RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic)
    ) {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Enqueues one record, waiting while the producer's queue is full.
pub(crate) async fn enqueue(
    producer: &Producer,
    topic: &str,
    key: Option<&[u8]>,
    payload: Option<&[u8]>,
    headers: OwnedHeaders,
) -> Result<DeliveryFuture, RunnerError> {
    let mut record = FutureRecord::to(topic).headers(headers);
    if let Some(payload) = payload {
        record = record.payload(payload);
    }
    if let Some(key) = key {
        record = record.key(key);
    }
    loop {
        match producer.send_result(record) {
            Ok(future) => return Ok(future),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                record = returned;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err((err, _)) => {
                return Err(RunnerError::Produce {
                    topic: topic.to_owned(),
                    failure: err.into(),
                });
            }
        }
    }
}

/// Checks every few seconds that a broker answers a metadata request.
pub(crate) async fn probe_broker(producer: Producer, health: Arc<Health>, stop: CancellationToken) {
    use rdkafka::producer::Producer as _;
    loop {
        let client = producer.clone();
        let reachable = tokio::task::spawn_blocking(move || {
            client
                .client()
                .fetch_metadata(None, Duration::from_secs(5))
                .map(drop)
        })
        .await;
        match reachable {
            Ok(Ok(())) => health.set_broker_reachable(true),
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "broker not reachable");
                health.set_broker_reachable(false);
            }
            Err(_) => health.set_broker_reachable(false),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(0), Duration::from_millis(100));
        assert_eq!(backoff(1), Duration::from_millis(200));
        assert_eq!(backoff(20), Duration::from_secs(10));
    }
}
