//! exactly-once: a batch of inputs, everything they produce (outputs, dead letters, state
//! changes) and their input offsets form one Kafka transaction.
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
//! broker was away, a record timed out, or records were still unacknowledged three quarters of
//! the transaction timeout after it began) is aborted and its batch redone in place: the
//! consumer is sent back to the batch's first offset of each partition, and the state records
//! the batch had written go out again in the next transaction (the stage's in-memory state has
//! already seen those inputs, so redoing them is a replay that repeats the verdicts but writes
//! no state). Errors librdkafka calls fatal (a newer producer with the same transactional id),
//! a failed abort, or aborts in a row that nothing commits in between stop the runner instead;
//! a restart restores the state of committed transactions only.
//!
//! Every call of the Kafka client blocks: the runner drives this on its own thread, never on a
//! worker of the async runtime.

mod producer;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::FutureExt;
use futures::future::Either;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::producer::future_producer::DeliveryFuture;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

pub(crate) use producer::TransactionalProducer;
use producer::bounded;

use super::Delivery;
use crate::client::{BeforeRevoke, RunnerContext};
use crate::error::{KafkaFailure, RunnerError, StuckCall};
use crate::metrics::RunnerMetrics;
use crate::output::{Output, Sent, StateWrite};

/// What redoing an aborted batch takes.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Redo {
    /// Per input partition, the batch's first offset.
    pub rewind: Vec<(String, i32, i64)>,
    /// The state records the batch wrote, to write again.
    pub state: Vec<StateWrite>,
}

/// Aborts in a row (with no commit in between) after which the runner stops.
const MAX_ABORTS_IN_A_ROW: u32 = 5;

/// The share of the transaction timeout within which a transaction's records must be
/// acknowledged ([`Transaction::settle_deadline`]).
const SETTLE_SHARE: f64 = 0.75;

/// How much longer than its own timeout a transactional call of the Kafka client may take
/// before the producer is taken for stuck.
const STUCK_AFTER: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
struct Open {
    active: bool,
    began: Option<Instant>,
    /// The first and the last offset read per input partition.
    offsets: HashMap<(String, i32), (i64, i64)>,
    state: Vec<StateWrite>,
    /// When each input of the batch was read.
    inputs: Vec<Instant>,
    produced: Vec<Output>,
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
pub(crate) struct Transaction<P> {
    producer: P,
    timeout: Duration,
    /// How long retriable errors of a commit are retried (e.g. through a broker outage).
    retry_timeout: Duration,
    metrics: RunnerMetrics,
    open: Mutex<(Open, Carry)>,
}

impl<P> std::fmt::Debug for Transaction<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl<P: TransactionalProducer> Transaction<P> {
    pub(crate) fn new(
        producer: P,
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
    pub(crate) fn init(&self) -> Result<(), RunnerError> {
        self.producer
            .init(self.timeout)
            .map_err(|err| RunnerError::kafka("initialize Kafka transactions", err))
    }

    /// Begins a transaction unless one is open.
    pub(crate) fn begin(&self) -> Result<(), RunnerError> {
        let mut guard = self.lock();
        let (open, carry) = &mut *guard;
        if let Some(why) = &carry.failed {
            return Err(RunnerError::Failed(why.clone()));
        }
        if !open.active {
            self.producer
                .begin()
                .map_err(|err| RunnerError::kafka("begin a Kafka transaction", err))?;
            open.active = true;
            open.began = Some(Instant::now());
        }
        Ok(())
    }

    /// Adds what an input (or none, for state written again) sent to the open transaction.
    pub(crate) fn add(&self, sent: Sent) {
        let open = &mut self.lock().0;
        if let Some(input) = sent.input {
            let position = input.position;
            open.offsets
                .entry((position.topic, position.partition))
                .and_modify(|(_, last)| *last = position.offset)
                .or_insert((position.offset, position.offset));
            open.inputs.push(input.read_at);
        }
        open.produced.extend(sent.outputs);
        open.state.extend(sent.state);
    }

    /// Inputs in the open transaction.
    pub(crate) fn inputs(&self) -> usize {
        self.lock().0.inputs.len()
    }

    /// When the open transaction is due for commit.
    pub(crate) fn due(&self, interval: Duration) -> Option<Instant> {
        let open = &self.lock().0;
        open.began
            .filter(|_| open.active)
            .map(|began| began + interval)
    }

    /// Why the runner must stop, if it must.
    pub(crate) fn failure(&self) -> Option<String> {
        self.lock().1.failed.clone()
    }

    /// An aborted batch the runner must redo, if there is one.
    pub(crate) fn take_redo(&self) -> Option<Redo> {
        self.lock().1.redo.take()
    }

    /// Commits the open transaction with the offsets after its inputs. Blocking. When the
    /// transaction must be aborted instead, it is, and its batch is left to redo
    /// ([`Transaction::take_redo`]); an error means the runner must stop.
    pub(crate) fn commit<C: Consumer<X>, X: ConsumerContext>(
        &self,
        consumer: &C,
    ) -> Result<(), RunnerError> {
        let mut guard = self.lock();
        let (open, carry) = &mut *guard;
        if !open.active {
            return Ok(());
        }
        let started = Instant::now();
        let result = self
            .settle(open)
            .and_then(|()| self.try_commit(open, consumer));
        self.metrics
            .transaction_commit_seconds
            .observe(started.elapsed().as_secs_f64());
        let batch = std::mem::take(open);
        match result {
            Ok(()) => {
                self.committed(batch);
                carry.aborts_in_a_row = 0;
                Ok(())
            }
            Err(err) => self.abort(batch, carry, err),
        }
    }

    /// Aborts a failed transaction and leaves its batch to redo; or, when that cannot help,
    /// records why the runner must stop.
    fn abort(&self, batch: Open, carry: &mut Carry, err: RunnerError) -> Result<(), RunnerError> {
        self.metrics
            .transactions
            .with_label_values(&["aborted"])
            .inc();
        self.metrics.in_flight.sub(batch.inputs.len() as i64);
        carry.aborts_in_a_row += 1;
        let stop = if err.is_fatal() {
            Some(if err.is_fenced() {
                " (another instance took over this transactional id: give every instance its \
                 own --transactional-id)"
                    .to_owned()
            } else {
                String::new()
            })
        } else if let Err(abort) = self.producer.abort(self.timeout) {
            Some(format!("; aborting it failed too: {abort}"))
        } else if carry.aborts_in_a_row >= MAX_ABORTS_IN_A_ROW {
            Some(format!(
                "; {MAX_ABORTS_IN_A_ROW} transactions in a row were aborted"
            ))
        } else {
            None
        };
        if let Some(detail) = stop {
            let err = RunnerError::Transaction {
                inputs: batch.inputs.len(),
                cause: Box::new(err),
                detail,
            };
            carry.failed = Some(err.to_string());
            return Err(err);
        }
        tracing::warn!(
            inputs = batch.inputs.len(),
            error = %err,
            "transaction aborted; redoing its inputs"
        );
        let redo = carry.redo.get_or_insert_with(Redo::default);
        redo.rewind.extend(
            batch
                .offsets
                .into_iter()
                .map(|((topic, partition), (first, _))| (topic, partition, first)),
        );
        redo.state.extend(batch.state);
        Ok(())
    }

    /// Waits until the broker has acknowledged (or failed) every record of the open
    /// transaction. rust-rdkafka's `commit_transaction` flushes first, and its flush, finding
    /// records outstanding, polls for up to 100 ms at a time on a queue the producer's own
    /// polling thread serves (rdkafka 0.39 `BaseProducer::flush`): every commit with records
    /// in flight took ~100 ms, which made each stage's transactions that much slower. Once
    /// the deliveries are settled, that flush returns at once. A failed delivery is left to
    /// the commit, which fails on it, and the batch is aborted and redone.
    ///
    /// The wait ends at [`Transaction::settle_deadline`]: records still unacknowledged then
    /// (seen once after a broker came back from an outage, until their message timeout) make
    /// the transaction fail while an abort can still reach the coordinator. Waiting for their
    /// own timeout, equal to the transaction timeout, let the coordinator roll the
    /// transaction back first, which fences the producer and stops the runner.
    fn settle(&self, open: &mut Open) -> Result<(), RunnerError> {
        let deliveries: Vec<DeliveryFuture> = open
            .produced
            .iter_mut()
            .filter_map(|produced| produced.ack.take())
            .collect();
        let outstanding = deliveries.len();
        let deadline = self.settle_deadline(open.began.unwrap_or_else(Instant::now));
        if !settled_by(deliveries, deadline) {
            return Err(RunnerError::kafka(
                "have the transaction's records acknowledged",
                unacknowledged(outstanding, self.timeout.mul_f64(SETTLE_SHARE)),
            ));
        }
        // The polling thread resolves a delivery just before it releases the record: wait out
        // that instant, so the flush finds nothing outstanding (bounded, in case something
        // outside the transaction is queued).
        let until = Instant::now() + Duration::from_millis(20);
        while self.producer.in_flight() > 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_micros(100));
        }
        Ok(())
    }

    /// How long after a transaction began its records must be acknowledged: three quarters
    /// of the transaction timeout, the last quarter left for the abort. The coordinator's
    /// clock starts later (at the transaction's first record), never earlier.
    fn settle_deadline(&self, began: Instant) -> Instant {
        began + self.timeout.mul_f64(SETTLE_SHARE)
    }

    fn try_commit<C: Consumer<X>, X: ConsumerContext>(
        &self,
        open: &Open,
        consumer: &C,
    ) -> Result<(), RunnerError> {
        let mut offsets = TopicPartitionList::new();
        for ((topic, partition), (_, last)) in &open.offsets {
            offsets
                .add_partition_offset(topic, *partition, Offset::Offset(last + 1))
                .map_err(|err| RunnerError::kafka("list the offsets to commit", err))?;
        }
        let deadline = Instant::now() + self.retry_timeout;
        let (timeout, limit) = (self.timeout, self.timeout + STUCK_AFTER);
        if offsets.count() > 0 {
            let group = Arc::new(consumer.group_metadata().ok_or_else(|| {
                RunnerError::kafka("send the offsets to the transaction", no_group_metadata())
            })?);
            let offsets = Arc::new(offsets);
            retrying("send the offsets to the transaction", deadline, || {
                let (producer, offsets, group) =
                    (self.producer.clone(), offsets.clone(), group.clone());
                bounded("send_offsets_to_transaction", limit, move || {
                    producer.send_offsets(&offsets, &group, timeout)
                })
            })?;
        }
        retrying("commit the transaction", deadline, || {
            let producer = self.producer.clone();
            bounded("commit_transaction", limit, move || {
                producer.commit(timeout)
            })
        })
    }

    /// Counts what a committed transaction made visible.
    fn committed(&self, batch: Open) {
        self.metrics
            .transactions
            .with_label_values(&["committed"])
            .inc();
        let now = Utc::now();
        for output in &batch.produced {
            output.count(&self.metrics, now);
        }
        for read_at in &batch.inputs {
            self.metrics
                .end_to_end_seconds
                .observe(read_at.elapsed().as_secs_f64());
        }
        self.metrics.in_flight.sub(batch.inputs.len() as i64);
    }
}

/// Waits (blocking) for every delivery until `deadline`; false when some are outstanding then.
fn settled_by<F: Future + Unpin>(deliveries: Vec<F>, deadline: Instant) -> bool {
    let mut all = futures::future::join_all(deliveries);
    // Mostly they are settled already: no timer then.
    if (&mut all).now_or_never().is_some() {
        return true;
    }
    let timer = futures_timer::Delay::new(deadline.saturating_duration_since(Instant::now()));
    matches!(
        futures::executor::block_on(futures::future::select(all, timer)),
        Either::Left(_)
    )
}

fn unacknowledged(records: usize, within: Duration) -> KafkaFailure {
    KafkaFailure {
        code: None,
        message: format!(
            "some of its {records} records were not acknowledged within {} of its start; \
             aborting before the coordinator times the transaction out",
            humantime::format_duration(within)
        ),
        retriable: false,
        fatal: false,
    }
}

fn no_group_metadata() -> KafkaFailure {
    KafkaFailure {
        code: None,
        message: "the consumer has no group metadata".to_owned(),
        retriable: false,
        fatal: false,
    }
}

/// Calls a transactional API again while librdkafka says the error is retriable (a timeout,
/// e.g. while the broker is down), until `deadline`.
fn retrying(
    what: &'static str,
    deadline: Instant,
    mut call: impl FnMut() -> Result<Result<(), KafkaFailure>, StuckCall>,
) -> Result<(), RunnerError> {
    let mut attempt: u64 = 1;
    loop {
        let err = match call()? {
            Ok(()) => return Ok(()),
            Err(failure) => RunnerError::kafka(what, failure),
        };
        if !err.is_retryable() || Instant::now() >= deadline {
            return Err(err);
        }
        tracing::warn!(error = %err, attempt, "cannot {what} yet; trying again");
        std::thread::sleep(Duration::from_millis(100 * attempt.min(10)));
        attempt += 1;
    }
}

impl<P: TransactionalProducer> BeforeRevoke for Transaction<P> {
    /// The batch read from partitions about to be revoked is committed first, so their next
    /// owner starts after it.
    fn before_revoke(&self, consumer: &BaseConsumer<RunnerContext>) {
        if let Err(err) = self.commit(consumer) {
            tracing::error!(error = %err, "cannot commit before the rebalance");
        }
    }
}

/// The exactly-once delivery: the shared transaction and when to commit it.
#[derive(Debug)]
pub(crate) struct ExactlyOnce<P> {
    transaction: Arc<Transaction<P>>,
    interval: Duration,
    max_in_flight: usize,
    metrics: RunnerMetrics,
}

impl<P: TransactionalProducer> ExactlyOnce<P> {
    pub(crate) fn new(
        transaction: Arc<Transaction<P>>,
        interval: Duration,
        max_in_flight: usize,
        metrics: RunnerMetrics,
    ) -> Self {
        Self {
            transaction,
            interval,
            max_in_flight,
            metrics,
        }
    }
}

impl<P: TransactionalProducer> Delivery for ExactlyOnce<P> {
    fn begin(&mut self) -> Result<(), RunnerError> {
        self.transaction.begin()
    }

    fn add(&mut self, sent: Sent) {
        if sent.input.is_some() {
            self.metrics.in_flight.inc();
        }
        self.transaction.add(sent);
    }

    fn is_full(&self) -> bool {
        false
    }

    fn commits_when_caught_up(&self) -> bool {
        self.transaction.inputs() > 0
    }

    async fn settled(&mut self) -> Result<(), RunnerError> {
        match self.transaction.due(self.interval) {
            Some(due) => tokio::time::sleep_until(due.into()).await,
            None => std::future::pending().await,
        }
        Ok(())
    }

    fn commit<C: Consumer<RunnerContext>>(
        &mut self,
        consumer: &C,
        now: bool,
    ) -> Result<(), RunnerError> {
        let full = self.transaction.inputs() >= self.max_in_flight;
        let due = self
            .transaction
            .due(self.interval)
            .is_some_and(|due| due <= Instant::now());
        if now || full || due {
            self.transaction.commit(consumer)?;
        }
        Ok(())
    }

    fn redo(&mut self) -> Result<Option<Redo>, RunnerError> {
        if let Some(why) = self.transaction.failure() {
            return Err(RunnerError::Failed(why));
        }
        Ok(self.transaction.take_redo())
    }

    async fn finish<C: Consumer<RunnerContext>>(
        &mut self,
        consumer: &C,
        _drain_timeout: Duration,
    ) -> Result<(), RunnerError> {
        let inputs = self.transaction.inputs();
        tracing::info!(inputs, "committing the open transaction");
        self.transaction.commit(consumer)
    }

    fn close<C: Consumer<RunnerContext>>(&mut self, _consumer: &C) {}
}
