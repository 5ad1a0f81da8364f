//! Exactly-once delivery: a batch of inputs, everything they produce (outputs, dead letters,
//! state changes) and their input offsets form one Kafka transaction.
//!
//! The runner begins a transaction before the first input of a batch, produces every record of
//! the batch through the transactional producer, and commits (offsets sent with
//! `send_offsets_to_transaction`, fenced by the consumer group's metadata, KIP-447) when the
//! commit interval has passed since the transaction began, when the batch holds
//! `--max-in-flight` inputs, before its partitions are revoked, and at shutdown. Consumers
//! reading `read_committed` see a batch's outputs only once its offsets are committed, so a
//! crash anywhere leaves either all of a batch or none of it, and the batch is redone by the
//! partitions' next owner.
//!
//! A transaction that must be aborted cannot be repaired in place: the stage's in-memory state
//! (the deduplicator's window) has already seen the aborted inputs. The runner then stops with
//! an error; its restart restores the state of committed transactions only.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use chrono::{DateTime, Utc};
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::producer::Producer as _;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use crate::envelope::InputPosition;
use crate::metrics::RunnerMetrics;
use crate::runner::Producer;

/// One record produced in the open transaction, counted once the transaction commits.
#[derive(Debug)]
pub(crate) struct Produced {
    pub topic: String,
    pub output: &'static str,
    /// For article outputs: when the article entered the pipeline.
    pub ingested_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default)]
struct Open {
    active: bool,
    began: Option<Instant>,
    /// The last offset read per input partition.
    offsets: HashMap<(String, i32), i64>,
    /// When each input of the batch was read.
    inputs: Vec<Instant>,
    produced: Vec<Produced>,
    /// Why the runner must stop (a transaction was aborted outside the runner's own calls,
    /// e.g. in the rebalance callback).
    failed: Option<String>,
}

/// The transactional producer's open transaction, shared by the runner and the consumer's
/// rebalance callback (which commits before partitions are revoked).
pub(crate) struct Transaction {
    producer: Producer,
    timeout: Duration,
    /// How long retriable errors of a commit are retried (e.g. through a broker outage).
    retry_timeout: Duration,
    metrics: RunnerMetrics,
    open: Mutex<Open>,
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
            open: Mutex::new(Open::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Open> {
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
        let mut open = self.lock();
        if let Some(why) = &open.failed {
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

    /// Adds one input (all of whose records were produced in the open transaction).
    pub fn add(&self, position: &InputPosition, read_at: Instant, produced: Vec<Produced>) {
        let mut open = self.lock();
        open.offsets.insert(
            (position.topic.clone(), position.partition),
            position.offset,
        );
        open.inputs.push(read_at);
        open.produced.extend(produced);
    }

    /// Inputs in the open transaction.
    pub fn inputs(&self) -> usize {
        self.lock().inputs.len()
    }

    /// When the open transaction is due for commit.
    pub fn due(&self, interval: Duration) -> Option<Instant> {
        let open = self.lock();
        open.began
            .filter(|_| open.active)
            .map(|began| began + interval)
    }

    /// Why the runner must stop, if it must.
    pub fn failure(&self) -> Option<String> {
        self.lock().failed.clone()
    }

    /// Commits the open transaction with the offsets after its inputs. Blocking. On an error
    /// that requires it, the transaction is aborted and the error returned: the caller must
    /// stop (see the module documentation).
    pub fn commit<C: Consumer<X>, X: rdkafka::consumer::ConsumerContext>(
        &self,
        consumer: &C,
    ) -> anyhow::Result<()> {
        let mut open = self.lock();
        if !open.active {
            return Ok(());
        }
        let result = self.try_commit(&open, consumer);
        let batch = std::mem::take(&mut *open);
        match result {
            Ok(()) => {
                self.metrics
                    .transactions
                    .with_label_values(&["committed"])
                    .inc();
                self.count(batch);
                Ok(())
            }
            Err(err) => {
                self.metrics
                    .transactions
                    .with_label_values(&["aborted"])
                    .inc();
                self.metrics.in_flight.sub(batch.inputs.len() as i64);
                if let Err(abort) = self.producer.abort_transaction(self.timeout) {
                    tracing::warn!(error = %abort, "aborting the transaction failed");
                }
                let hint = if fenced(&err) {
                    " (another instance took over this transactional id: give every instance \
                     its own --transactional-id)"
                } else {
                    ""
                };
                let why = format!(
                    "a transaction of {} inputs was aborted, so they will be redone: {err:#}{hint}",
                    batch.inputs.len()
                );
                open.failed = Some(why.clone());
                Err(anyhow!(why))
            }
        }
    }

    fn try_commit<C: Consumer<X>, X: rdkafka::consumer::ConsumerContext>(
        &self,
        open: &Open,
        consumer: &C,
    ) -> anyhow::Result<()> {
        let mut offsets = TopicPartitionList::new();
        for ((topic, partition), offset) in &open.offsets {
            offsets.add_partition_offset(topic, *partition, Offset::Offset(offset + 1))?;
        }
        let deadline = Instant::now() + self.retry_timeout;
        if offsets.count() > 0 {
            let group = consumer
                .group_metadata()
                .ok_or_else(|| anyhow!("the consumer has no group metadata"))?;
            retrying("send the offsets to the transaction", deadline, || {
                self.producer
                    .send_offsets_to_transaction(&offsets, &group, self.timeout)
            })?;
        }
        retrying("commit the transaction", deadline, || {
            self.producer.commit_transaction(self.timeout)
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
    mut call: impl FnMut() -> Result<(), KafkaError>,
) -> anyhow::Result<()> {
    let mut attempt: u64 = 1;
    loop {
        match call() {
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
