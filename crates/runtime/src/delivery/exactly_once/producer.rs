//! The transactional calls of the Kafka producer, behind a trait so that the transaction logic
//! can be tested against a fake; and the guard against a call that never returns.

use std::time::Duration;

use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::producer::Producer as _;
use rdkafka::topic_partition_list::TopicPartitionList;

use crate::client::Producer;
use crate::error::{KafkaFailure, StuckCall};

/// What a transaction needs of a producer. Every call blocks.
pub(crate) trait TransactionalProducer: Clone + Send + Sync + 'static {
    fn init(&self, timeout: Duration) -> Result<(), KafkaFailure>;
    fn begin(&self) -> Result<(), KafkaFailure>;
    fn send_offsets(
        &self,
        offsets: &TopicPartitionList,
        group: &ConsumerGroupMetadata,
        timeout: Duration,
    ) -> Result<(), KafkaFailure>;
    fn commit(&self, timeout: Duration) -> Result<(), KafkaFailure>;
    fn abort(&self, timeout: Duration) -> Result<(), KafkaFailure>;
    /// Records handed to the producer and not yet acknowledged or failed.
    fn in_flight(&self) -> i32;
}

impl TransactionalProducer for Producer {
    fn init(&self, timeout: Duration) -> Result<(), KafkaFailure> {
        Ok(self.init_transactions(timeout)?)
    }

    fn begin(&self) -> Result<(), KafkaFailure> {
        Ok(self.begin_transaction()?)
    }

    fn send_offsets(
        &self,
        offsets: &TopicPartitionList,
        group: &ConsumerGroupMetadata,
        timeout: Duration,
    ) -> Result<(), KafkaFailure> {
        Ok(self.send_offsets_to_transaction(offsets, group, timeout)?)
    }

    fn commit(&self, timeout: Duration) -> Result<(), KafkaFailure> {
        Ok(self.commit_transaction(timeout)?)
    }

    fn abort(&self, timeout: Duration) -> Result<(), KafkaFailure> {
        Ok(self.abort_transaction(timeout)?)
    }

    fn in_flight(&self) -> i32 {
        self.in_flight_count()
    }
}

/// Runs a blocking transactional call of the Kafka client on a thread of its own and waits at
/// most `limit` for it.
///
/// librdkafka 2.12.1's `send_offsets_to_transaction` waited forever (its own timeout unchecked)
/// for a consumer group coordinator that had gone away, as when a broker of a cluster is killed
/// (confluentinc/librdkafka#5456, #5511; patched in `vendor/`). The runner, blocked inside it,
/// neither committed nor aborted its transaction and stayed ready with nothing moving, and
/// read-committed consumers downstream waited behind the open transaction. Should a call still
/// hang, the service now stops with this error instead of stalling silently.
pub(super) fn bounded<T: Send + 'static>(
    what: &'static str,
    limit: Duration,
    call: impl FnOnce() -> Result<T, KafkaFailure> + Send + 'static,
) -> Result<Result<T, KafkaFailure>, StuckCall> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name("kafka-txn-call".into())
        .spawn(move || {
            // The receiver is gone only when the call was given up on.
            let _ = tx.send(call());
        });
    if spawned.is_err() {
        return Err(StuckCall { what, limit });
    }
    rx.recv_timeout(limit)
        .map_err(|_| StuckCall { what, limit })
}
