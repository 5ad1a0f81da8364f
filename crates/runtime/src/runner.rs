//! The Kafka stage runner: a consumer group reads the input topic, a core stage processes each
//! record (`record.rs`), every output is produced keyed by article id with CloudEvents headers
//! (`output.rs`), and the delivery (`delivery/`) makes them count: at-least-once stores an
//! input's offset once every output of it was acknowledged, exactly-once commits batches as
//! Kafka transactions.
//!
//! The consumer is driven on a thread of its own, with an async runtime of its own: every
//! blocking call of the Kafka client (a transaction's commit retried through a broker outage,
//! the commit in the rebalance callback that rust-rdkafka calls inside `recv()`, a seek, the
//! state restore) blocks that thread only, never a worker of the service's runtime, which
//! keeps serving `/healthz`, `/readyz` and `/metrics`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use newsflow_core::Stage;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::producer::Producer as _;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::admin::{self, Health};
use crate::client::{BeforeRevoke, FatalSignal, Producer, ProducerContext, RunnerContext};
use crate::client::{backoff, consume_error, probe_broker};
use crate::config::RunnerConfig;
use crate::delivery::{AtLeastOnce, Delivery, ExactlyOnce, Redo, Transaction};
use crate::error::RunnerError;
use crate::metrics::RunnerMetrics;
use crate::output;
use crate::record::{Processor, state_record};
use crate::state::{StateReader, StateRecord};

type Input = StreamConsumer<RunnerContext>;

/// A running stage service.
pub struct Runner<S> {
    processor: Processor<S>,
    config: RunnerConfig,
    metrics: RunnerMetrics,
    health: Arc<Health>,
    producer: Producer,
    /// exactly-once only.
    transaction: Option<Arc<Transaction<Producer>>>,
    fatal: Arc<FatalSignal>,
}

impl<S> std::fmt::Debug for Runner<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S: Stage + 'static> Runner<S> {
    /// Builds the clients; fails on a bad configuration, never on an unreachable broker.
    pub fn new(config: RunnerConfig, stage: S) -> Result<Self, RunnerError> {
        let metrics = RunnerMetrics::new(config.service);
        Self::with_metrics(config, stage, metrics)
    }

    /// Like [`Runner::new`], with metrics the caller made (and may have added its own to).
    pub fn with_metrics(
        config: RunnerConfig,
        stage: S,
        metrics: RunnerMetrics,
    ) -> Result<Self, RunnerError> {
        metrics
            .build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        let health = Arc::new(Health::new(metrics.clone(), stage.is_stateful()));
        let fatal = Arc::new(FatalSignal::default());
        let producer: Producer = config
            .producer_config()
            .create_with_context(ProducerContext::new(fatal.clone()))
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
            processor: Processor::new(stage, config.clone(), metrics.clone())?,
            config,
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
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), RunnerError> {
        let service = self.config.service;
        let admin_token = CancellationToken::new();
        let admin = admin::serve(
            self.config.admin_addr,
            admin::router(self.metrics.clone(), self.health.clone()),
            admin_token.clone(),
        )
        .await?;
        let probe_token = shutdown.child_token();
        let probe = tokio::spawn(probe_broker(
            self.producer.clone(),
            self.health.clone(),
            probe_token.clone(),
        ));
        let outcome = self.drive_on_own_thread(shutdown).await;
        probe_token.cancel();
        let _ = probe.await;
        admin_token.cancel();
        let _ = admin.await;
        match &outcome {
            Ok(()) => tracing::info!(service, "stopped"),
            Err(err) => tracing::error!(service, error = %format!("{err:#}"), "stopped on error"),
        }
        outcome
    }

    /// Runs [`Runner::drive`] on a thread of its own with a single-threaded runtime of its own.
    async fn drive_on_own_thread(self, shutdown: CancellationToken) -> Result<(), RunnerError> {
        let (tx, rx) = oneshot::channel();
        std::thread::Builder::new()
            .name(format!("newsflow-{}", self.config.service))
            .spawn(move || {
                let outcome = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => {
                        let outcome = runtime.block_on(self.drive(shutdown));
                        // A blocking Kafka call may still wait for its timeout (e.g. the
                        // transaction set-up after the broker refused the credentials).
                        runtime.shutdown_timeout(Duration::from_secs(1));
                        outcome
                    }
                    Err(err) => Err(anyhow::Error::new(err)
                        .context("cannot start the runner's async runtime")
                        .into()),
                };
                let _ = tx.send(outcome);
            })
            .context("cannot start the runner's thread")?;
        rx.await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the runner's thread panicked").into()))
    }

    /// Sets up (transactions, state), consumes until shut down, then commits and closes.
    async fn drive(mut self, shutdown: CancellationToken) -> Result<(), RunnerError> {
        // Before the state is restored: a transaction a killed predecessor left open would hold
        // back the read-committed state reader until it timed out.
        if let Some(transaction) = &self.transaction {
            if !init_transactions(transaction, &self.fatal, &shutdown).await? {
                return Ok(());
            }
        }
        let mut state = if self.processor.stage.is_stateful() {
            Some(self.restore_state(&shutdown)?)
        } else {
            None
        };
        let consumer = self.subscribe()?;
        let outcome = match self.transaction.clone() {
            Some(transaction) => {
                let mut delivery = ExactlyOnce::new(
                    transaction,
                    self.config.commit_interval,
                    self.config.max_in_flight,
                    self.metrics.clone(),
                );
                self.consume(&consumer, &mut delivery, &shutdown, &mut state)
                    .await
            }
            None => {
                let mut delivery = AtLeastOnce::new(
                    self.producer.clone(),
                    self.metrics.clone(),
                    self.config.retry_timeout,
                    self.config.max_in_flight,
                );
                let outcome = self
                    .consume(&consumer, &mut delivery, &shutdown, &mut state)
                    .await;
                delivery.close(&consumer);
                outcome
            }
        };
        self.health.set_joined(false);
        consumer.unsubscribe();
        drop(consumer);
        // After a fatal error nothing can be delivered; do not wait for it.
        if self.fatal.reason().is_none() {
            if let Err(err) = self.producer.flush(Duration::from_secs(10)) {
                tracing::warn!(error = %err, "producer flush failed");
            }
        }
        outcome
    }

    /// The consumer, subscribed to the input topic.
    fn subscribe(&self) -> Result<Input, RunnerError> {
        let before_revoke = self.transaction.clone().map(|t| t as Arc<dyn BeforeRevoke>);
        let context = RunnerContext::new(
            self.health.clone(),
            self.metrics.clone(),
            before_revoke,
            self.fatal.clone(),
        );
        let consumer: Input = self
            .config
            .consumer_config()
            .create_with_context(context)
            .context("cannot create the Kafka consumer")?;
        let routes = &self.processor.routes;
        let inputs = routes.input_topics();
        consumer
            .subscribe(&inputs)
            .with_context(|| format!("cannot subscribe to {}", inputs.join(", ")))?;
        tracing::info!(
            service = self.config.service,
            input = %inputs.join(","),
            group = %self.config.group_id,
            output = routes.primary_topic().unwrap_or("-"),
            "consuming"
        );
        Ok(consumer)
    }

    /// Restores the whole state topic into the stage, then follows it on a thread of its own.
    fn restore_state(
        &mut self,
        shutdown: &CancellationToken,
    ) -> Result<mpsc::Receiver<StateRecord>, RunnerError> {
        let topic = self.config.state_topic.clone().ok_or_else(|| {
            RunnerError::Wiring(format!(
                "stage {} keeps state but the service has no state topic",
                self.processor.stage.name()
            ))
        })?;
        let reader = StateReader::new(&self.config, &topic)?;
        let started = Instant::now();
        let (stage, metrics) = (&mut self.processor.stage, &self.metrics);
        let records = reader.restore(|key, value| {
            metrics.state_records.with_label_values(&["restore"]).inc();
            if let Err(err) = stage.restore_state(key, value) {
                tracing::warn!(key, error = %err, "state record skipped");
            }
        })?;
        self.processor.stage.state_restored();
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
            .processor
            .stage
            .restore_state(&record.key, record.value.as_deref())
        {
            tracing::warn!(key = %record.key, error = %err, "state record skipped");
        }
    }

    /// Reads inputs, processes them and hands what they sent to the delivery, which commits
    /// when it can: as inputs are acknowledged, when due, when the input is caught up, and at
    /// shutdown.
    async fn consume<D: Delivery>(
        &mut self,
        consumer: &Input,
        delivery: &mut D,
        shutdown: &CancellationToken,
        state: &mut Option<mpsc::Receiver<StateRecord>>,
    ) -> Result<(), RunnerError> {
        loop {
            if let Some(redo) = delivery.redo()? {
                self.redo(consumer, delivery, redo).await?;
            }
            delivery.commit(consumer, false)?;
            let caught_up_commits = delivery.commits_when_caught_up();
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                err = self.fatal.raised() => return Err(err),
                settled = delivery.settled() => {
                    settled?;
                    delivery.commit(consumer, false)?;
                }
                Some(record) = next_state(state) => self.apply_state(record),
                message = consumer.recv(), if !delivery.is_full() => match message {
                    Ok(message) => {
                        delivery.begin()?;
                        let processed = self.processor.process(&message, shutdown).await?;
                        let sent = output::send(
                            &self.producer,
                            Some(processed.input),
                            processed.records,
                            processed.state,
                        )
                        .await?;
                        delivery.add(sent);
                    }
                    Err(err) => consume_error(&err).await,
                },
                // Caught up: nothing more to read right now, so the open transaction is
                // committed at once instead of when due. Under load the input never runs dry
                // and transactions grow to the commit interval; at moderate rates this takes
                // the commit interval out of the end-to-end latency (group commit).
                () = std::future::ready(()), if caught_up_commits => {
                    delivery.commit(consumer, true)?;
                }
            }
        }
        delivery.finish(consumer, self.config.drain_timeout).await
    }

    /// exactly-once: after an abort, sends the consumer back to the aborted batch's first
    /// offsets and writes its state records again (redoing the inputs replays them in the
    /// stage, which repeats its verdicts but writes no state).
    async fn redo<D: Delivery>(
        &self,
        consumer: &Input,
        delivery: &mut D,
        redo: Redo,
    ) -> Result<(), RunnerError> {
        for (topic, partition, offset) in &redo.rewind {
            let sought = consumer.seek(
                topic,
                *partition,
                rdkafka::Offset::Offset(*offset),
                Duration::from_secs(10),
            );
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
        delivery.begin()?;
        let records = redo
            .state
            .iter()
            .map(|w| state_record(w.topic.clone(), w.key.clone(), w.value.clone()))
            .collect();
        // The deliveries are the transaction's to confirm.
        let sent = output::send(&self.producer, None, records, redo.state).await?;
        delivery.add(sent);
        Ok(())
    }
}

/// The next state record, or never when the stage keeps no state.
async fn next_state(state: &mut Option<mpsc::Receiver<StateRecord>>) -> Option<StateRecord> {
    match state {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// exactly-once: registers the transactional id, retrying while the broker is unreachable;
/// false when shut down first.
async fn init_transactions(
    transaction: &Arc<Transaction<Producer>>,
    fatal: &FatalSignal,
    shutdown: &CancellationToken,
) -> Result<bool, RunnerError> {
    let mut attempt = 0;
    loop {
        // On a thread of its own: a fatal error (bad credentials) ends the wait at once.
        let init = tokio::task::spawn_blocking({
            let transaction = transaction.clone();
            move || transaction.init()
        });
        let result = tokio::select! {
            err = fatal.raised() => return Err(err),
            joined = init => joined.context("the transaction set-up panicked")?,
        };
        match result {
            Ok(()) => return Ok(true),
            Err(err) if attempt < 10 => {
                tracing::warn!(error = %err, "cannot initialize transactions yet; retrying");
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
