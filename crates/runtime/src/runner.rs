//! The Kafka stage runner: a consumer group reads the input topic, a core stage processes each
//! record, every output is produced keyed by article id with CloudEvents headers, and the input's
//! offset is stored for commit only once the broker acknowledged every output of it.
//!
//! Two delivery modes (`--guarantee`):
//! - **at-least-once**: inputs complete in the order they were read (a FIFO of delivery
//!   futures), so the stored offset of a partition never passes an input whose outputs are
//!   still unacknowledged; librdkafka commits the stored offsets every second, on revocation and
//!   on close.
//! - **exactly-once** (the default): inputs are processed in batches, each one Kafka
//!   transaction with its input offsets (see `transaction.rs`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use futures::stream::FuturesOrdered;
use newsflow_core::topics::tag_topic;
use newsflow_core::{ErrorKind, Event, Rejection, Route, Stage, StageContext, StageError};
use rdkafka::client::ClientContext;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer as _, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Headers as _, Message as _, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer as _};
use rdkafka::topic_partition_list::TopicPartitionList;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::admin::{self, Health};
use crate::config::RunnerConfig;
use crate::envelope::{self, InputPosition, TraceParent};
use crate::metrics::RunnerMetrics;
use crate::state::{StateReader, StateRecord};
use crate::transaction::{Produced, Redo, StateWrite, Transaction};

/// An error no retry can fix (the broker refused our credentials or our TLS handshake): the
/// service stops at once with it instead of retrying forever.
#[derive(Debug, Default)]
pub struct Fatal {
    token: CancellationToken,
    reason: std::sync::Mutex<Option<String>>,
}

impl Fatal {
    /// Records `error` when it is one no retry can fix.
    fn check(&self, error: &KafkaError, reason: &str) {
        let what = match error.rdkafka_error_code() {
            Some(RDKafkaErrorCode::Authentication | RDKafkaErrorCode::SaslAuthenticationFailed) => {
                "the Kafka broker refused the credentials"
            }
            Some(RDKafkaErrorCode::SSL) => "the TLS handshake with the Kafka broker failed",
            _ => return,
        };
        let mut slot = self
            .reason
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(format!("{what}: {reason}"));
        }
        self.token.cancel();
    }

    /// Resolves with the reason once a fatal error was seen.
    async fn raised(&self) -> String {
        self.token.cancelled().await;
        self.reason()
            .unwrap_or_else(|| "a fatal Kafka client error".to_owned())
    }

    fn reason(&self) -> Option<String> {
        self.reason
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// The producer's context: fatal errors stop the service.
#[derive(Debug)]
pub struct ProducerContext {
    fatal: Arc<Fatal>,
}

impl ClientContext for ProducerContext {
    fn error(&self, error: KafkaError, reason: &str) {
        self.fatal.check(&error, reason);
        tracing::warn!(error = %error, reason, "kafka producer error");
    }
}

/// The runner's producer.
pub(crate) type Producer = FutureProducer<ProducerContext>;

/// The consumer's context: tracks the group membership for `/readyz`.
#[derive(Debug)]
pub struct RunnerContext {
    health: Arc<Health>,
    metrics: RunnerMetrics,
    /// The owned input partitions, whose lag is reported.
    assigned: std::sync::Mutex<std::collections::HashSet<(String, i32)>>,
    /// exactly-once: the open transaction, committed before partitions are revoked.
    transaction: Option<Arc<Transaction>>,
    fatal: Arc<Fatal>,
}

impl RunnerContext {
    fn owned(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<(String, i32)>> {
        // A panic while holding the lock cannot leave the set inconsistent; keep using it.
        self.assigned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
                let lag = if self.transaction.is_some() {
                    // The consumer commits nothing itself (the transactions do), so librdkafka's
                    // consumer_lag (to the consumer's own committed offset) is unknown or stale:
                    // measure from the read position, or from where the partition started.
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
                if lag < 0 {
                    continue;
                }
                self.metrics
                    .consumer_lag
                    .with_label_values(&[topic, &partition.to_string()])
                    .set(lag);
            }
        }
    }
}

impl ConsumerContext for RunnerContext {
    /// exactly-once: the batch read from partitions about to be revoked is committed first, so
    /// their next owner starts after it.
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let (Rebalance::Revoke(_), Some(transaction)) = (rebalance, &self.transaction) {
            if let Err(err) = transaction.commit(consumer) {
                tracing::error!(error = %format!("{err:#}"), "cannot commit before the rebalance");
            }
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            // Also called with an empty list for a member that got no partitions: it has
            // joined all the same.
            Rebalance::Assign(partitions) => {
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
            Rebalance::Revoke(partitions) => {
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

/// An input whose outputs were all acknowledged.
struct Done {
    position: InputPosition,
    read_at: Instant,
}

type Pending = Pin<Box<dyn Future<Output = anyhow::Result<Done>> + Send>>;

/// Exponential backoff from 100 ms, doubling, capped at 10 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << attempt.min(7))).min(Duration::from_secs(10))
}

/// One output waiting for its acknowledgement, with the label of its output.
struct Delivery {
    future: DeliveryFuture,
    topic: String,
    output: &'static str,
    /// For article outputs: when the article entered the pipeline.
    ingested_at: Option<DateTime<Utc>>,
}

/// An input whose outputs were all sent.
struct Started {
    position: InputPosition,
    read_at: Instant,
    deliveries: Vec<Delivery>,
    /// The state records among the deliveries (exactly-once keeps them to redo a batch).
    state: Vec<StateWrite>,
}

impl Started {
    /// at-least-once: the future of the broker's acknowledgement of every output (each failed
    /// delivery sent again until the retry timeout).
    fn acknowledged<S>(self, runner: &Runner<S>) -> Pending {
        let producer = runner.producer.clone();
        let metrics = runner.metrics.clone();
        let retry_timeout = runner.config.retry_timeout;
        let Self {
            position,
            read_at,
            deliveries,
            ..
        } = self;
        Box::pin(async move {
            for delivery in deliveries {
                await_delivery(&producer, delivery.future, retry_timeout, &metrics).await?;
                metrics
                    .produced
                    .with_label_values(&[&delivery.topic, delivery.output])
                    .inc();
                if let Some(ingested_at) = delivery.ingested_at {
                    let latency = (Utc::now() - ingested_at).to_std().unwrap_or_default();
                    metrics
                        .end_to_end_latency_seconds
                        .observe(latency.as_secs_f64());
                }
            }
            Ok(Done { position, read_at })
        })
    }
}

/// A running stage service.
pub struct Runner<S> {
    config: RunnerConfig,
    stage: S,
    metrics: RunnerMetrics,
    health: Arc<Health>,
    producer: Producer,
    /// exactly-once only.
    transaction: Option<Arc<Transaction>>,
    fatal: Arc<Fatal>,
}

impl<S> std::fmt::Debug for Runner<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S: Stage> Runner<S> {
    /// Builds the clients; fails on a bad configuration, never on an unreachable broker.
    pub fn new(config: RunnerConfig, stage: S) -> anyhow::Result<Self> {
        let metrics = RunnerMetrics::new(config.service);
        Self::with_metrics(config, stage, metrics)
    }

    /// Like [`Runner::new`], with metrics the caller made (and may have added its own to).
    pub fn with_metrics(
        config: RunnerConfig,
        stage: S,
        metrics: RunnerMetrics,
    ) -> anyhow::Result<Self> {
        metrics
            .build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        let health = Arc::new(Health::new(metrics.clone(), stage.is_stateful()));
        let fatal = Arc::new(Fatal::default());
        let producer: Producer = config
            .producer_config()
            .create_with_context(ProducerContext {
                fatal: fatal.clone(),
            })
            .context("cannot create the Kafka producer")?;
        let transaction = config.exactly_once().then(|| {
            Arc::new(Transaction::new(
                producer.clone(),
                config.transaction_timeout,
                config.retry_timeout,
                metrics.clone(),
            ))
        });
        Ok(Self {
            config,
            stage,
            metrics,
            health,
            producer,
            transaction,
            fatal,
        })
    }

    pub fn metrics(&self) -> &RunnerMetrics {
        &self.metrics
    }

    /// Runs until `shutdown` is cancelled (SIGTERM/SIGINT), then stops consuming, waits for
    /// in-flight outputs up to the drain timeout, commits and returns. An error means the
    /// service could not go on (e.g. a transient error outlived the retry timeout); offsets of
    /// unfinished inputs are not committed, so a restart redoes them.
    pub async fn run(mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let admin_token = CancellationToken::new();
        let admin = admin::serve(
            self.config.admin_addr,
            admin::router(self.metrics.clone(), self.health.clone()),
            admin_token.clone(),
        )
        .await?;

        // Before the state is restored: a transaction a killed predecessor left open would hold
        // back the read-committed state reader until it timed out.
        if let Some(transaction) = &self.transaction {
            if !init_transactions(transaction, &self.fatal, &shutdown).await? {
                admin_token.cancel();
                let _ = admin.await;
                return Ok(());
            }
        }

        let mut state_rx = if self.stage.is_stateful() {
            Some(self.restore_state(&shutdown)?)
        } else {
            None
        };

        let context = RunnerContext {
            health: self.health.clone(),
            metrics: self.metrics.clone(),
            assigned: Default::default(),
            transaction: self.transaction.clone(),
            fatal: self.fatal.clone(),
        };
        let consumer: StreamConsumer<RunnerContext> = self
            .config
            .consumer_config()
            .create_with_context(context)
            .context("cannot create the Kafka consumer")?;
        consumer
            .subscribe(&[self.config.input_topic.as_str()])
            .with_context(|| format!("cannot subscribe to {}", self.config.input_topic))?;
        tracing::info!(
            service = self.config.service,
            input = %self.config.input_topic,
            group = %self.config.group_id,
            output = self.config.output_topic.as_deref().unwrap_or("-"),
            "consuming"
        );

        let probe_token = shutdown.child_token();
        let probe = tokio::spawn(probe_broker(
            self.producer.clone(),
            self.health.clone(),
            probe_token.clone(),
        ));

        let outcome = match self.transaction.clone() {
            Some(transaction) => {
                self.consume_transactions(&consumer, &transaction, &shutdown, &mut state_rx)
                    .await
            }
            None => self.consume(&consumer, &shutdown, &mut state_rx).await,
        };
        self.health.set_joined(false);
        probe_token.cancel();
        let _ = probe.await;

        if self.transaction.is_none() {
            // Whatever happened, commit what is stored: every stored offset is fully
            // acknowledged.
            match consumer.commit_consumer_state(CommitMode::Sync) {
                Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
                Err(err) => tracing::warn!(error = %err, "final offset commit failed"),
            }
        }
        consumer.unsubscribe();
        drop(consumer);
        // After a fatal error nothing can be delivered; do not wait for it.
        if self.fatal.reason().is_none() {
            if let Err(err) = self.producer.flush(Duration::from_secs(10)) {
                tracing::warn!(error = %err, "producer flush failed");
            }
        }
        admin_token.cancel();
        let _ = admin.await;
        match &outcome {
            Ok(()) => tracing::info!(service = self.config.service, "stopped"),
            Err(err) => {
                tracing::error!(service = self.config.service, error = %format!("{err:#}"), "stopped on error")
            }
        }
        outcome
    }

    /// Restores the whole state topic into the stage, then follows it on a thread of its own.
    fn restore_state(
        &mut self,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<mpsc::Receiver<StateRecord>> {
        let topic = self.config.state_topic.clone().ok_or_else(|| {
            anyhow!(
                "stage {} keeps state but the service has no state topic",
                self.stage.name()
            )
        })?;
        let reader = StateReader::new(&self.config, &topic)?;
        let started = Instant::now();
        let (stage, metrics) = (&mut self.stage, &self.metrics);
        let records = tokio::task::block_in_place(|| {
            reader.restore(|key, value| {
                metrics.state_records.with_label_values(&["restore"]).inc();
                if let Err(err) = stage.restore_state(key, value) {
                    tracing::warn!(key, error = %err, "state record skipped");
                }
            })
        })?;
        self.stage.state_restored();
        let seconds = started.elapsed().as_secs_f64();
        self.metrics.state_restore_seconds.set(seconds);
        self.health.set_state_restored(true);
        tracing::info!(topic = %topic, records, seconds, "state restored");
        let (tx, rx) = mpsc::channel(10_000);
        reader.follow(tx, shutdown.child_token());
        Ok(rx)
    }

    /// Applies a state record published after start-up (by any instance, this one included).
    fn apply_state(&mut self, record: StateRecord) {
        self.metrics
            .state_records
            .with_label_values(&["follow"])
            .inc();
        if let Err(err) = self
            .stage
            .restore_state(&record.key, record.value.as_deref())
        {
            tracing::warn!(key = %record.key, error = %err, "state record skipped");
        }
    }

    async fn consume(
        &mut self,
        consumer: &StreamConsumer<RunnerContext>,
        shutdown: &CancellationToken,
        state: &mut Option<mpsc::Receiver<StateRecord>>,
    ) -> anyhow::Result<()> {
        let mut pending: FuturesOrdered<Pending> = FuturesOrdered::new();
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                why = self.fatal.raised() => bail!("{why}"),
                Some(done) = pending.next() => self.complete(consumer, done?),
                Some(record) = next_state(state) => self.apply_state(record),
                message = consumer.recv(), if pending.len() < self.config.max_in_flight => match message {
                    Ok(message) => {
                        let started = self.start(&message, shutdown).await?;
                        self.metrics.in_flight.inc();
                        pending.push_back(started.acknowledged(self));
                    }
                    Err(err) => consume_error(&err).await,
                },
            }
        }
        let inflight = pending.len();
        tracing::info!(inflight, deadline = %humantime::format_duration(self.config.drain_timeout), "draining");
        let drained = tokio::time::timeout(self.config.drain_timeout, async {
            while let Some(done) = pending.next().await {
                self.complete(consumer, done?);
            }
            anyhow::Ok(())
        })
        .await;
        match drained {
            Ok(result) => result,
            Err(_) => {
                tracing::warn!(
                    left = pending.len(),
                    "drain deadline passed; unfinished inputs will be redone after restart"
                );
                Ok(())
            }
        }
    }

    /// exactly-once: reads inputs into the open transaction and commits it when the input is
    /// caught up, when due, when it is full and at shutdown (the rebalance callback commits it
    /// before a revocation).
    async fn consume_transactions(
        &mut self,
        consumer: &StreamConsumer<RunnerContext>,
        transaction: &Transaction,
        shutdown: &CancellationToken,
        state: &mut Option<mpsc::Receiver<StateRecord>>,
    ) -> anyhow::Result<()> {
        let interval = self.config.commit_interval;
        loop {
            if let Some(why) = transaction.failure() {
                bail!("{why}");
            }
            if let Some(redo) = transaction.take_redo() {
                self.redo(consumer, transaction, redo).await?;
            }
            let due = transaction.due(interval);
            let full = transaction.inputs() >= self.config.max_in_flight;
            if full || due.is_some_and(|due| due <= Instant::now()) {
                tokio::task::block_in_place(|| transaction.commit(consumer))?;
                continue;
            }
            let wait = due.map_or(Duration::from_secs(3600), |due| {
                due.saturating_duration_since(Instant::now())
            });
            let open = transaction.inputs() > 0;
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                why = self.fatal.raised() => bail!("{why}"),
                Some(record) = next_state(state) => self.apply_state(record),
                () = tokio::time::sleep(wait) => {}
                message = consumer.recv() => match message {
                    Ok(message) => {
                        transaction.begin()?;
                        let started = self.start(&message, shutdown).await?;
                        self.metrics.in_flight.inc();
                        let produced = started
                            .deliveries
                            .into_iter()
                            .map(|d| Produced {
                                topic: d.topic,
                                output: d.output,
                                ingested_at: d.ingested_at,
                                delivery: Some(d.future),
                            })
                            .collect();
                        transaction.add(
                            Some((&started.position, started.read_at)),
                            produced,
                            started.state,
                        );
                    }
                    Err(err) => consume_error(&err).await,
                },
                // Caught up: nothing more to read right now, so the open transaction is
                // committed at once instead of when due. Under load the input never runs dry
                // and transactions grow to the commit interval; at moderate rates this takes
                // the commit interval out of the end-to-end latency (group commit).
                () = std::future::ready(()), if open => {
                    tokio::task::block_in_place(|| transaction.commit(consumer))?;
                }
            }
        }
        let inputs = transaction.inputs();
        tracing::info!(inputs, "committing the open transaction");
        tokio::task::block_in_place(|| transaction.commit(consumer))
    }

    /// Marks an input done: its offset may be committed.
    fn complete(&self, consumer: &StreamConsumer<RunnerContext>, done: Done) {
        self.metrics.in_flight.dec();
        self.metrics
            .end_to_end_seconds
            .observe(done.read_at.elapsed().as_secs_f64());
        let Done { position, .. } = done;
        if let Err(err) =
            consumer.store_offset(&position.topic, position.partition, position.offset)
        {
            // The partition was revoked meanwhile; its new owner redoes the input.
            tracing::debug!(error = %err, topic = %position.topic, partition = position.partition, offset = position.offset, "offset not stored");
        }
    }

    /// Processes one record and sends its outputs (or its dead letter) and the stage's state
    /// changes.
    async fn start(
        &mut self,
        message: &BorrowedMessage<'_>,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Started> {
        let read_at = Instant::now();
        let service = self.config.service;
        self.metrics
            .consumed
            .with_label_values(&[message.topic()])
            .inc();
        let position = InputPosition {
            topic: message.topic().to_owned(),
            partition: message.partition(),
            offset: message.offset(),
        };
        let record_time = message
            .timestamp()
            .to_millis()
            .and_then(DateTime::<Utc>::from_timestamp_millis);
        let trace = envelope::header_str(message.headers(), envelope::TRACEPARENT)
            .and_then(TraceParent::parse)
            .map(|t| t.child())
            .unwrap_or_else(TraceParent::new_root);

        let expected_type = self.stage.input_kind().cloudevents_type();
        let forged_type = message
            .headers()
            .and_then(|headers| headers.iter().find(|h| h.key == envelope::CE_TYPE))
            .map(|h| String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned())
            .filter(|ce_type| ce_type != expected_type);
        let outcome = match (message.payload(), forged_type) {
            (_, Some(ce_type)) => Err(Rejection::new(
                ErrorKind::UnexpectedEventType,
                format!(
                    "the record's ce_type header is {ce_type:?}; this stage reads {expected_type}"
                ),
            )),
            (None, None) => Err(Rejection::new(
                ErrorKind::EmptyContent,
                "the record has no value",
            )),
            (Some(payload), None) => {
                self.process_with_retries(payload, record_time, shutdown)
                    .await?
            }
        };

        let mut deliveries = Vec::new();
        match outcome {
            Ok(emits) => {
                let now = Utc::now();
                let mut index = 0;
                for emit in emits {
                    // Encoded once, however many routes the event goes to.
                    let payload = emit
                        .event
                        .to_json()
                        .context("cannot serialize an output event")?;
                    let ingested_at = emit.event.ingested_at();
                    for route in emit.routes() {
                        let (topic, output) = self.destination(route)?;
                        let ce_id = envelope::cloudevents_id(service, &position, index);
                        index += 1;
                        let headers =
                            envelope::event_headers(&emit.event, service, &ce_id, now, &trace);
                        let future = enqueue(
                            &self.producer,
                            &topic,
                            Some(emit.event.id().as_bytes()),
                            Some(&payload),
                            headers,
                        )
                        .await?;
                        deliveries.push(Delivery {
                            future,
                            topic,
                            output,
                            ingested_at,
                        });
                    }
                }
            }
            Err(rejection) => {
                tracing::warn!(
                    topic = %position.topic, partition = position.partition, offset = position.offset,
                    error_kind = %rejection.kind, error = %rejection.message, "input rejected; sent to the dead-letter topic"
                );
                self.metrics
                    .dead_letters
                    .with_label_values(&[rejection.kind.as_str()])
                    .inc();
                let payload = message.payload().unwrap_or_default();
                let headers = envelope::dead_letter_headers(
                    message.headers(),
                    service,
                    &rejection,
                    &position,
                    payload,
                );
                let cut = &payload[..payload.len().min(self.config.dlq_max_bytes)];
                let future = enqueue(
                    &self.producer,
                    &self.config.dlq_topic,
                    message.key(),
                    Some(cut),
                    headers,
                )
                .await?;
                deliveries.push(Delivery {
                    future,
                    topic: self.config.dlq_topic.clone(),
                    output: "dlq",
                    ingested_at: None,
                });
            }
        }

        let mut state = Vec::new();
        for change in self.stage.take_state_changes() {
            let topic = self.config.state_topic.as_deref().ok_or_else(|| {
                anyhow!(
                    "stage {} changed its state but the service has no state topic",
                    self.stage.name()
                )
            })?;
            if self.transaction.is_some() {
                state.push(StateWrite {
                    topic: topic.to_owned(),
                    key: change.key.clone(),
                    value: change.value.clone(),
                });
            }
            let future = enqueue(
                &self.producer,
                topic,
                Some(change.key.as_bytes()),
                change.value.as_deref(),
                OwnedHeaders::new(),
            )
            .await?;
            deliveries.push(Delivery {
                future,
                topic: topic.to_owned(),
                output: "state",
                ingested_at: None,
            });
        }

        Ok(Started {
            position,
            read_at,
            deliveries,
            state,
        })
    }

    /// The topic of a route and its `output` label.
    fn destination(&self, route: &Route) -> anyhow::Result<(String, &'static str)> {
        let (topic, output) = match route {
            Route::Primary => (self.config.output_topic.clone(), "primary"),
            Route::Duplicates => (self.config.duplicates_topic.clone(), "duplicates"),
            Route::Topic(id) => (
                Some(format!("{}{}", self.config.tag_topic_prefix, tag_topic(id))),
                "topic",
            ),
        };
        let topic = topic.ok_or_else(|| {
            anyhow!(
                "stage {} emitted to {route:?} but the service has no topic for it",
                self.stage.name()
            )
        })?;
        Ok((topic, output))
    }

    /// exactly-once: after an abort, sends the consumer back to the aborted batch's first
    /// offsets and writes its state records again (redoing the inputs replays them in the
    /// stage, which repeats its verdicts but writes no state).
    async fn redo(
        &self,
        consumer: &StreamConsumer<RunnerContext>,
        transaction: &Transaction,
        redo: Redo,
    ) -> anyhow::Result<()> {
        for (topic, partition, offset) in &redo.rewind {
            let sought = tokio::task::block_in_place(|| {
                consumer.seek(
                    topic,
                    *partition,
                    rdkafka::Offset::Offset(*offset),
                    Duration::from_secs(10),
                )
            });
            match sought {
                Ok(()) => {
                    tracing::info!(topic, partition, offset, "rewound to redo an aborted batch")
                }
                // No longer ours: its next owner starts from the committed offset.
                Err(err) => tracing::debug!(topic, partition, error = %err, "not rewound"),
            }
        }
        if redo.state.is_empty() {
            return Ok(());
        }
        transaction.begin()?;
        let mut produced = Vec::with_capacity(redo.state.len());
        for write in &redo.state {
            // The delivery is the transaction's to confirm.
            let delivery = enqueue(
                &self.producer,
                &write.topic,
                Some(write.key.as_bytes()),
                write.value.as_deref(),
                OwnedHeaders::new(),
            )
            .await?;
            produced.push(Produced {
                topic: write.topic.clone(),
                output: "state",
                ingested_at: None,
                delivery: Some(delivery),
            });
        }
        transaction.add(None, produced, redo.state);
        Ok(())
    }

    /// Runs the stage; transient errors are retried with backoff until the retry timeout.
    async fn process_with_retries(
        &mut self,
        payload: &[u8],
        record_time: Option<DateTime<Utc>>,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Result<Vec<newsflow_core::Emit>, Rejection>> {
        let first_try = Instant::now();
        let mut attempt = 0;
        loop {
            let event = match Event::from_json(self.stage.input_kind(), payload) {
                Ok(event) => event,
                Err(rejection) => return Ok(Err(rejection)),
            };
            let ctx = StageContext {
                now: Utc::now(),
                record_time,
            };
            let timer = Instant::now();
            let result = self.stage.process(event, &ctx);
            self.metrics
                .stage_seconds
                .observe(timer.elapsed().as_secs_f64());
            match result {
                Ok(emits) => return Ok(Ok(emits)),
                Err(StageError::Rejected(rejection)) => return Ok(Err(rejection)),
                Err(StageError::Transient(message)) => {
                    if first_try.elapsed() >= self.config.retry_timeout {
                        bail!(
                            "stage {} kept failing for {:?}: {message}",
                            self.stage.name(),
                            self.config.retry_timeout
                        );
                    }
                    self.metrics.retries.with_label_values(&["stage"]).inc();
                    let wait = backoff(attempt);
                    tracing::warn!(error = %message, retry_in = ?wait, "transient stage error; retrying");
                    attempt += 1;
                    tokio::select! {
                        () = shutdown.cancelled() => bail!("shut down while retrying a transient error: {message}"),
                        () = tokio::time::sleep(wait) => {}
                    }
                }
            }
        }
    }
}

/// The next state record, or never when the stage keeps no state.
async fn next_state(state: &mut Option<mpsc::Receiver<StateRecord>>) -> Option<StateRecord> {
    match state {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Logs a consume error (connection losses quietly: the client reports them); waits a little
/// when the input topic does not exist (yet), which librdkafka keeps retrying, so as not to
/// spin.
async fn consume_error(err: &KafkaError) {
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

/// exactly-once: registers the transactional id, retrying while the broker is unreachable;
/// false when shut down first.
async fn init_transactions(
    transaction: &Arc<Transaction>,
    fatal: &Fatal,
    shutdown: &CancellationToken,
) -> anyhow::Result<bool> {
    let mut attempt = 0;
    loop {
        // On a thread of its own: a fatal error (bad credentials) ends the wait at once.
        let init = tokio::task::spawn_blocking({
            let transaction = transaction.clone();
            move || transaction.init()
        });
        let result = tokio::select! {
            why = fatal.raised() => bail!("{why}"),
            joined = init => joined.context("the transaction set-up panicked")?,
        };
        match result {
            Ok(()) => return Ok(true),
            Err(err) if attempt < 10 => {
                tracing::warn!(error = %format!("{err:#}"), "cannot initialize transactions yet; retrying");
            }
            Err(err) => return Err(err),
        }
        attempt += 1;
        tokio::select! {
            () = shutdown.cancelled() => return Ok(false),
            () = tokio::time::sleep(backoff(attempt)) => {}
        }
    }
}

/// Enqueues one record, waiting while the producer's queue is full.
async fn enqueue(
    producer: &Producer,
    topic: &str,
    key: Option<&[u8]>,
    payload: Option<&[u8]>,
    headers: OwnedHeaders,
) -> anyhow::Result<DeliveryFuture> {
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
            Err((err, _)) => return Err(anyhow!(err).context(format!("cannot produce to {topic}"))),
        }
    }
}

/// Waits for one acknowledgement; a failed delivery is sent again with backoff until the retry
/// timeout.
async fn await_delivery(
    producer: &Producer,
    mut future: DeliveryFuture,
    retry_timeout: Duration,
    metrics: &RunnerMetrics,
) -> anyhow::Result<()> {
    let first_try = Instant::now();
    let mut attempt = 0;
    loop {
        let failed: OwnedMessage = match future.await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err((err, message))) => {
                if first_try.elapsed() >= retry_timeout {
                    return Err(anyhow!(err)
                        .context(format!("delivery to {} kept failing", message.topic())));
                }
                tracing::warn!(error = %err, topic = message.topic(), "delivery failed; sending again");
                message
            }
            Err(_) => bail!("the producer went away before acknowledging a record"),
        };
        metrics.retries.with_label_values(&["delivery"]).inc();
        tokio::time::sleep(backoff(attempt)).await;
        attempt += 1;
        let headers = failed.headers().cloned().unwrap_or_default();
        future = enqueue(
            producer,
            failed.topic(),
            failed.key(),
            failed.payload(),
            headers,
        )
        .await?;
    }
}

/// Checks every few seconds that a broker answers a metadata request.
async fn probe_broker(producer: Producer, health: Arc<Health>, stop: CancellationToken) {
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

/// Cancels the returned token on SIGTERM or SIGINT.
pub fn shutdown_on_signals() -> anyhow::Result<CancellationToken> {
    use tokio::signal::unix::{SignalKind, signal};
    let token = CancellationToken::new();
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    let cancel = token.clone();
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(
            signal = name,
            "shutting down: no new input, draining in-flight work"
        );
        cancel.cancel();
    });
    Ok(token)
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
