//! Exactly-once delivery: a batch of inputs, everything they produce (outputs, dead letters,
//! state changes) and their input offsets form one Kafka transaction.
//!
//! The runner begins a transaction before the first input of a batch, produces every record of
//! the batch through the transactional producer, and commits (offsets sent with
//! `send_offsets_to_transaction`, fenced by the consumer group's metadata, KIP-447) when it has
//! caught up with its input, when the commit interval has passed since the transaction began,
//! when the batch holds `--max-in-flight` inputs, before its partitions are revoked, and at
//! shutdown. Consumers reading `read_committed` see a batch's outputs only once its offsets are
//! committed, so a crash anywhere leaves either all of a batch or none of it, and the batch is
//! redone by the partitions' next owner.
//!
//! A transaction that must be aborted (e.g. the consumer group forgot this member while the
//! broker was away, or a record timed out) is aborted and its batch redone in place: the
//! consumer is sent back to the batch's first offset of each partition, and the state records
//! the batch had written go out again in the next transaction (the stage's in-memory state has
//! already seen those inputs, so redoing them is a replay that repeats the verdicts but writes
//! no state). Errors librdkafka calls fatal (a newer producer with the same transactional id),
//! a failed abort, or aborts in a row that nothing commits in between stop the runner instead;
//! a restart restores the state of committed transactions only.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use chrono::{DateTime, Utc};
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::producer::Producer as _;
use rdkafka::producer::future_producer::DeliveryFuture;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use crate::envelope::InputPosition;
use crate::metrics::RunnerMetrics;
use crate::runner::Producer;

/// One record produced in the open transaction, counted once the transaction commits.
pub(crate) struct Produced {
    pub topic: String,
    pub output: &'static str,
    /// For article outputs: when the article entered the pipeline.
    pub ingested_at: Option<DateTime<Utc>>,
    /// The broker's acknowledgement, awaited before the commit.
    pub delivery: Option<DeliveryFuture>,
}

impl std::fmt::Debug for Produced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Produced")
            .field("topic", &self.topic)
            .field("output", &self.output)
            .field("ingested_at", &self.ingested_at)
            .field("acknowledged", &self.delivery.is_none())
            .finish()
    }
}

/// A record of the stage's state topic written in the open transaction.
#[derive(Debug, Clone)]
pub(crate) struct StateWrite {
    pub topic: String,
    pub key: String,
    pub value: Option<Vec<u8>>,
}

/// What redoing an aborted batch takes.
#[derive(Debug, Default)]
pub(crate) struct Redo {
    /// Per input partition, the batch's first offset.
    pub rewind: Vec<(String, i32, i64)>,
    /// The state records the batch wrote, to write again.
    pub state: Vec<StateWrite>,
}

/// Aborts in a row (with no commit in between) after which the runner stops.
const MAX_ABORTS_IN_A_ROW: u32 = 5;

/// How much longer than its own timeout a transactional call of the Kafka client may take
/// before the producer is taken for stuck.
const STUCK_AFTER: Duration = Duration::from_secs(30);

/// A transactional call of the Kafka client that did not return long after its timeout: the
/// producer cannot be used any more (every further call would conflict with the stuck one).
#[derive(Debug, thiserror::Error)]
#[error(
    "the Kafka client did not return from {what} within {limit:?}; the service stops so that a \
     restart (which fences this producer and redoes the open transaction) recovers"
)]
pub(crate) struct StuckCall {
    what: &'static str,
    limit: Duration,
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
fn bounded<T: Send + 'static>(
    what: &'static str,
    limit: Duration,
    call: impl FnOnce() -> Result<T, KafkaError> + Send + 'static,
) -> Result<Result<T, KafkaError>, StuckCall> {
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

#[derive(Debug, Default)]
struct Open {
    active: bool,
    began: Option<Instant>,
    /// The first and the last offset read per input partition.
    offsets: HashMap<(String, i32), (i64, i64)>,
    state: Vec<StateWrite>,
    /// When each input of the batch was read.
    inputs: Vec<Instant>,
    produced: Vec<Produced>,
}

/// What outlives one transaction.
#[derive(Debug, Default)]
struct Carry {
    /// Why the runner must stop (set also by commits in the rebalance callback).
    failed: Option<String>,
    /// An aborted batch to redo.
    redo: Option<Redo>,
    aborts_in_a_row: u32,
}

/// The transactional producer's open transaction, shared by the runner and the consumer's
/// rebalance callback (which commits before partitions are revoked).
pub(crate) struct Transaction {
    producer: Producer,
    timeout: Duration,
    /// How long retriable errors of a commit are retried (e.g. through a broker outage).
    retry_timeout: Duration,
    metrics: RunnerMetrics,
    open: Mutex<(Open, Carry)>,
}

impl std::fmt::Debug for Transaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Transaction {
    pub fn new(
        producer: Producer,
        timeout: Duration,
        retry_timeout: Duration,
        metrics: RunnerMetrics,
    ) -> Self {
        Self {
            producer,
            timeout,
            retry_timeout,
            metrics,
            open: Mutex::new((Open::default(), Carry::default())),
        }
    }

    fn lock(&self) -> MutexGuard<'_, (Open, Carry)> {
        // The state is only replaced wholesale; a panic elsewhere cannot leave it torn.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers the producer's transactional id with the broker, which fences any earlier
    /// producer with the same id and aborts the transaction it left open. Blocking.
    pub fn init(&self) -> anyhow::Result<()> {
        self.producer
            .init_transactions(self.timeout)
            .context("cannot initialize Kafka transactions")
    }

    /// Begins a transaction unless one is open.
    pub fn begin(&self) -> anyhow::Result<()> {
        let mut guard = self.lock();
        let (open, carry) = &mut *guard;
        if let Some(why) = &carry.failed {
            return Err(anyhow!("{why}"));
        }
        if !open.active {
            self.producer
                .begin_transaction()
                .context("cannot begin a Kafka transaction")?;
            open.active = true;
            open.began = Some(Instant::now());
        }
        Ok(())
    }

    /// Adds what the open transaction holds: one input (or none, for state written again),
    /// the records produced for it and the state records among them.
    pub fn add(
        &self,
        input: Option<(&InputPosition, Instant)>,
        produced: Vec<Produced>,
        state: Vec<StateWrite>,
    ) {
        let open = &mut self.lock().0;
        if let Some((position, read_at)) = input {
            open.offsets
                .entry((position.topic.clone(), position.partition))
                .and_modify(|(_, last)| *last = position.offset)
                .or_insert((position.offset, position.offset));
            open.inputs.push(read_at);
        }
        open.produced.extend(produced);
        open.state.extend(state);
    }

    /// Inputs in the open transaction.
    pub fn inputs(&self) -> usize {
        self.lock().0.inputs.len()
    }

    /// When the open transaction is due for commit.
    pub fn due(&self, interval: Duration) -> Option<Instant> {
        let open = &self.lock().0;
        open.began
            .filter(|_| open.active)
            .map(|began| began + interval)
    }

    /// Why the runner must stop, if it must.
    pub fn failure(&self) -> Option<String> {
        self.lock().1.failed.clone()
    }

    /// An aborted batch the runner must redo, if there is one.
    pub fn take_redo(&self) -> Option<Redo> {
        self.lock().1.redo.take()
    }

    /// Commits the open transaction with the offsets after its inputs. Blocking. When the
    /// transaction must be aborted instead, it is, and its batch is left to redo
    /// ([`Transaction::take_redo`]); an error means the runner must stop.
    pub fn commit<C: Consumer<X>, X: rdkafka::consumer::ConsumerContext>(
        &self,
        consumer: &C,
    ) -> anyhow::Result<()> {
        let mut guard = self.lock();
        let (open, carry) = &mut *guard;
        if !open.active {
            return Ok(());
        }
        let started = Instant::now();
        self.settle(open);
        let result = self.try_commit(open, consumer);
        self.metrics
            .transaction_commit_seconds
            .observe(started.elapsed().as_secs_f64());
        let batch = std::mem::take(open);
        let err = match result {
            Ok(()) => {
                self.metrics
                    .transactions
                    .with_label_values(&["committed"])
                    .inc();
                carry.aborts_in_a_row = 0;
                self.count(batch);
                return Ok(());
            }
            Err(err) => err,
        };
        self.metrics
            .transactions
            .with_label_values(&["aborted"])
            .inc();
        self.metrics.in_flight.sub(batch.inputs.len() as i64);
        carry.aborts_in_a_row += 1;
        let stop = if fatal(&err) {
            Some(if fenced(&err) {
                " (another instance took over this transactional id: give every instance its \
                 own --transactional-id)"
                    .to_owned()
            } else {
                String::new()
            })
        } else if let Err(abort) = self.producer.abort_transaction(self.timeout) {
            Some(format!("; aborting it failed too: {abort}"))
        } else if carry.aborts_in_a_row >= MAX_ABORTS_IN_A_ROW {
            Some(format!(
                "; {MAX_ABORTS_IN_A_ROW} transactions in a row were aborted"
            ))
        } else {
            None
        };
        if let Some(detail) = stop {
            let why = format!(
                "a transaction of {} inputs failed: {err:#}{detail}",
                batch.inputs.len()
            );
            carry.failed = Some(why.clone());
            return Err(anyhow!(why));
        }
        tracing::warn!(
            inputs = batch.inputs.len(),
            error = %format!("{err:#}"),
            "transaction aborted; redoing its inputs"
        );
        let mut redo = carry.redo.take().unwrap_or_default();
        redo.rewind.extend(
            batch
                .offsets
                .into_iter()
                .map(|((topic, partition), (first, _))| (topic, partition, first)),
        );
        redo.state.extend(batch.state);
        carry.redo = Some(redo);
        Ok(())
    }

    /// Waits until the broker has acknowledged (or failed) every record of the open
    /// transaction. rust-rdkafka's `commit_transaction` flushes first, and its flush, finding
    /// records outstanding, polls for up to 100 ms at a time on a queue the producer's own
    /// polling thread serves (rdkafka 0.39 `BaseProducer::flush`): every commit with records
    /// in flight took ~100 ms, which made each stage's transactions that much slower. Once
    /// the deliveries are settled, that flush returns at once. A failed delivery is left to
    /// the commit, which fails on it, and the batch is aborted and redone.
    fn settle(&self, open: &mut Open) {
        let deliveries: Vec<DeliveryFuture> = open
            .produced
            .iter_mut()
            .filter_map(|produced| produced.delivery.take())
            .collect();
        // Each resolves within message.timeout.ms (the transaction timeout) at the latest.
        futures::executor::block_on(futures::future::join_all(deliveries));
        // The polling thread resolves a delivery just before it releases the record: wait out
        // that instant, so the flush finds nothing outstanding (bounded, in case something
        // outside the transaction is queued).
        let until = Instant::now() + Duration::from_millis(20);
        while self.producer.in_flight_count() > 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_micros(100));
        }
    }

    fn try_commit<C: Consumer<X>, X: rdkafka::consumer::ConsumerContext>(
        &self,
        open: &Open,
        consumer: &C,
    ) -> anyhow::Result<()> {
        let mut offsets = TopicPartitionList::new();
        for ((topic, partition), (_, last)) in &open.offsets {
            offsets.add_partition_offset(topic, *partition, Offset::Offset(last + 1))?;
        }
        let deadline = Instant::now() + self.retry_timeout;
        let (timeout, limit) = (self.timeout, self.timeout + STUCK_AFTER);
        if offsets.count() > 0 {
            let group = std::sync::Arc::new(
                consumer
                    .group_metadata()
                    .ok_or_else(|| anyhow!("the consumer has no group metadata"))?,
            );
            let offsets = std::sync::Arc::new(offsets);
            retrying("send the offsets to the transaction", deadline, || {
                let (producer, offsets, group) =
                    (self.producer.clone(), offsets.clone(), group.clone());
                bounded("send_offsets_to_transaction", limit, move || {
                    producer.send_offsets_to_transaction(&offsets, &group, timeout)
                })
            })?;
        }
        retrying("commit the transaction", deadline, || {
            let producer = self.producer.clone();
            bounded("commit_transaction", limit, move || {
                producer.commit_transaction(timeout)
            })
        })
    }

    /// Counts what a committed transaction made visible.
    fn count(&self, batch: Open) {
        let now = Utc::now();
        for produced in batch.produced {
            self.metrics
                .produced
                .with_label_values(&[&produced.topic, produced.output])
                .inc();
            if let Some(ingested_at) = produced.ingested_at {
                let latency = (now - ingested_at).to_std().unwrap_or_default();
                self.metrics
                    .end_to_end_latency_seconds
                    .observe(latency.as_secs_f64());
            }
        }
        for read_at in &batch.inputs {
            self.metrics
                .end_to_end_seconds
                .observe(read_at.elapsed().as_secs_f64());
        }
        self.metrics.in_flight.sub(batch.inputs.len() as i64);
    }
}

/// Whether the producer cannot go on: librdkafka calls the error fatal, or a call is stuck.
fn fatal(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|cause| cause.downcast_ref::<KafkaError>())
        .any(|err| match err {
            KafkaError::Transaction(err) => err.is_fatal(),
            _ => false,
        })
        || fenced(err)
        || err.chain().any(|cause| cause.is::<StuckCall>())
}

/// Whether a producer with the same transactional id (a newer instance) fenced this one.
fn fenced(err: &anyhow::Error) -> bool {
    use rdkafka::error::RDKafkaErrorCode as Code;
    err.chain()
        .filter_map(|cause| cause.downcast_ref::<KafkaError>())
        .filter_map(KafkaError::rdkafka_error_code)
        .any(|code| {
            matches!(
                code,
                Code::Fenced | Code::ProducerFenced | Code::InvalidProducerEpoch
            )
        })
}

/// Calls a transactional API again while librdkafka says the error is retriable (a timeout,
/// e.g. while the broker is down), until `deadline`.
fn retrying(
    what: &str,
    deadline: Instant,
    mut call: impl FnMut() -> Result<Result<(), KafkaError>, StuckCall>,
) -> anyhow::Result<()> {
    let mut attempt: u64 = 1;
    loop {
        match call()? {
            Ok(()) => return Ok(()),
            Err(KafkaError::Transaction(err))
                if err.is_retriable() && Instant::now() < deadline =>
            {
                tracing::warn!(error = %err, attempt, "cannot {what} yet; trying again");
                std::thread::sleep(Duration::from_millis(100 * attempt.min(10)));
                attempt += 1;
            }
            Err(err) => return Err(anyhow!(err).context(format!("cannot {what}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_that_returns_in_time_gives_its_result() {
        let result = bounded("a quick call", Duration::from_secs(5), || Ok(7));
        assert_eq!(result.ok().and_then(Result::ok), Some(7));
    }

    #[test]
    fn a_call_that_hangs_is_given_up_after_the_limit_and_stops_the_runner() {
        let started = Instant::now();
        let result = bounded("a stuck call", Duration::from_millis(200), || {
            std::thread::sleep(Duration::from_secs(3));
            Ok(())
        });
        let elapsed = started.elapsed();
        let stuck = result.expect_err("the call is given up");
        assert!(elapsed < Duration::from_secs(2), "waited {elapsed:?}");
        let err = anyhow::Error::new(stuck).context("cannot commit the transaction");
        assert!(fatal(&err), "a stuck producer cannot abort either: {err:#}");
        assert!(format!("{err:#}").contains("a stuck call"), "{err:#}");
    }

    #[test]
    fn a_stuck_call_ends_the_retries_at_once_and_is_fatal() {
        let mut calls = 0;
        let result = retrying("commit", Instant::now() + Duration::from_secs(10), || {
            calls += 1;
            bounded("commit_transaction", Duration::from_millis(50), || {
                std::thread::sleep(Duration::from_secs(1));
                Ok(())
            })
        });
        let err = result.expect_err("given up");
        assert_eq!(calls, 1);
        assert!(fatal(&err), "{err:#}");
    }

    #[test]
    fn errors_that_are_not_retriable_end_the_retries_at_once() {
        let mut calls = 0;
        let result = retrying("commit", Instant::now() + Duration::from_secs(10), || {
            calls += 1;
            Ok(Err(KafkaError::Canceled))
        });
        assert!(result.is_err());
        assert_eq!(calls, 1);
    }
}
