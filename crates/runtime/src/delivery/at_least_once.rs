//! at-least-once: an input's offset is stored for commit once the broker acknowledged every
//! output of it, in the order inputs were read.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt as _;
use futures::stream::FuturesOrdered;
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use super::{Delivery, Redo};
use crate::client::{Producer, RunnerContext};
use crate::error::RunnerError;
use crate::metrics::RunnerMetrics;
use crate::output::{Input, Sent, acknowledged};

type Acknowledgement = Pin<Box<dyn Future<Output = Result<Option<Input>, RunnerError>> + Send>>;

/// Outputs acknowledged before the input's offset is committed.
pub(crate) struct AtLeastOnce {
    producer: Producer,
    metrics: RunnerMetrics,
    retry_timeout: Duration,
    max_in_flight: usize,
    pending: FuturesOrdered<Acknowledgement>,
    done: Vec<Input>,
}

impl std::fmt::Debug for AtLeastOnce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AtLeastOnce")
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl AtLeastOnce {
    pub(crate) fn new(
        producer: Producer,
        metrics: RunnerMetrics,
        retry_timeout: Duration,
        max_in_flight: usize,
    ) -> Self {
        Self {
            producer,
            metrics,
            retry_timeout,
            max_in_flight,
            pending: FuturesOrdered::new(),
            done: Vec::new(),
        }
    }
}

impl Delivery for AtLeastOnce {
    fn begin(&mut self) -> Result<(), RunnerError> {
        Ok(())
    }

    fn add(&mut self, sent: Sent) {
        self.metrics.in_flight.inc();
        let (producer, metrics) = (self.producer.clone(), self.metrics.clone());
        let retry_timeout = self.retry_timeout;
        self.pending.push_back(Box::pin(async move {
            for mut output in sent.outputs {
                if let Some(ack) = output.ack.take() {
                    acknowledged(&producer, ack, retry_timeout, &metrics).await?;
                }
                output.count(&metrics, Utc::now());
            }
            Ok(sent.input)
        }));
    }

    fn is_full(&self) -> bool {
        self.pending.len() >= self.max_in_flight
    }

    fn commits_when_caught_up(&self) -> bool {
        false
    }

    async fn settled(&mut self) -> Result<(), RunnerError> {
        match self.pending.next().await {
            Some(done) => {
                self.done.extend(done?);
                Ok(())
            }
            None => std::future::pending().await,
        }
    }

    fn commit<C: Consumer<RunnerContext>>(
        &mut self,
        consumer: &C,
        _now: bool,
    ) -> Result<(), RunnerError> {
        for Input { position, read_at } in self.done.drain(..) {
            self.metrics.in_flight.dec();
            self.metrics
                .end_to_end_seconds
                .observe(read_at.elapsed().as_secs_f64());
            if let Err(err) =
                consumer.store_offset(&position.topic, position.partition, position.offset)
            {
                // The partition was revoked meanwhile; its new owner redoes the input.
                tracing::debug!(error = %err, topic = %position.topic, partition = position.partition, offset = position.offset, "offset not stored");
            }
        }
        Ok(())
    }

    fn redo(&mut self) -> Result<Option<Redo>, RunnerError> {
        Ok(None)
    }

    async fn finish<C: Consumer<RunnerContext>>(
        &mut self,
        consumer: &C,
        drain_timeout: Duration,
    ) -> Result<(), RunnerError> {
        let inflight = self.pending.len();
        tracing::info!(inflight, deadline = %humantime::format_duration(drain_timeout), "draining");
        let drained = tokio::time::timeout(drain_timeout, async {
            while let Some(done) = self.pending.next().await {
                self.done.extend(done?);
                self.commit(consumer, true)?;
            }
            Ok(())
        })
        .await;
        drained.unwrap_or_else(|_| {
            tracing::warn!(
                left = self.pending.len(),
                "drain deadline passed; unfinished inputs will be redone after restart"
            );
            Ok(())
        })
    }

    fn close<C: Consumer<RunnerContext>>(&mut self, consumer: &C) {
        // Whatever happened, commit what is stored: every stored offset is fully acknowledged.
        match consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(err) => tracing::warn!(error = %err, "final offset commit failed"),
        }
    }
}
