//! The records an input produced, from the moment they are sent until they count: one type
//! for every output (articles, notices, per-topic copies, dead letters, state records), one
//! acknowledgement path and one place where they are counted in the metrics, whatever the
//! delivery mode.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rdkafka::message::{Message as _, OwnedHeaders, OwnedMessage};
use rdkafka::producer::DeliveryFuture;

use crate::client::{Producer, backoff, enqueue};
use crate::envelope::InputPosition;
use crate::error::RunnerError;
use crate::metrics::RunnerMetrics;

/// One encoded record to produce to one or more topics (an event is encoded once, however
/// many topics it goes to).
#[derive(Debug)]
pub(crate) struct Encoded {
    pub key: Option<Vec<u8>>,
    /// None: a tombstone (state records only).
    pub payload: Option<Vec<u8>>,
    /// For article outputs: when the article entered the pipeline.
    pub ingested_at: Option<DateTime<Utc>>,
    pub to: Vec<Destination>,
}

/// A topic an [`Encoded`] record goes to, with its `output` label and its headers.
#[derive(Debug)]
pub(crate) struct Destination {
    pub topic: String,
    pub label: &'static str,
    pub headers: OwnedHeaders,
}

/// A record of the stage's state topic, kept by exactly-once delivery to write it again when
/// its transaction is aborted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StateWrite {
    pub topic: String,
    pub key: String,
    pub value: Option<Vec<u8>>,
}

/// An input record read from the consumer.
#[derive(Debug, Clone)]
pub(crate) struct Input {
    pub position: InputPosition,
    pub read_at: Instant,
}

/// One record sent, waiting to count.
pub(crate) struct Output {
    pub topic: String,
    pub label: &'static str,
    pub ingested_at: Option<DateTime<Utc>>,
    /// The broker's acknowledgement (taken when awaited).
    pub ack: Option<DeliveryFuture>,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Output")
            .field("topic", &self.topic)
            .field("label", &self.label)
            .field("ingested_at", &self.ingested_at)
            .field("acknowledged", &self.ack.is_none())
            .finish()
    }
}

impl Output {
    /// Counts the output in the metrics, once it is visible downstream (acknowledged, or
    /// committed with its transaction).
    pub(crate) fn count(&self, metrics: &RunnerMetrics, now: DateTime<Utc>) {
        metrics
            .produced
            .with_label_values(&[&self.topic, self.label])
            .inc();
        if let Some(ingested_at) = self.ingested_at {
            let latency = (now - ingested_at).to_std().unwrap_or_default();
            metrics
                .end_to_end_latency_seconds
                .observe(latency.as_secs_f64());
        }
    }
}

/// Everything an input made, sent: its outputs, and the state records among them.
#[derive(Debug)]
pub(crate) struct Sent {
    /// None for the state records of an aborted batch, written again.
    pub input: Option<Input>,
    pub outputs: Vec<Output>,
    pub state: Vec<StateWrite>,
}

/// Sends every record; their acknowledgements are awaited later.
pub(crate) async fn send(
    producer: &Producer,
    input: Option<Input>,
    records: Vec<Encoded>,
    state: Vec<StateWrite>,
) -> Result<Sent, RunnerError> {
    let mut outputs = Vec::with_capacity(records.len());
    for record in records {
        for destination in record.to {
            let ack = enqueue(
                producer,
                &destination.topic,
                record.key.as_deref(),
                record.payload.as_deref(),
                destination.headers,
            )
            .await?;
            outputs.push(Output {
                topic: destination.topic,
                label: destination.label,
                ingested_at: record.ingested_at,
                ack: Some(ack),
            });
        }
    }
    Ok(Sent {
        input,
        outputs,
        state,
    })
}

/// Waits for one acknowledgement; a failed delivery is sent again with backoff until the retry
/// timeout.
pub(crate) async fn acknowledged(
    producer: &Producer,
    mut ack: DeliveryFuture,
    retry_timeout: Duration,
    metrics: &RunnerMetrics,
) -> Result<(), RunnerError> {
    let first_try = Instant::now();
    let mut attempt = 0;
    loop {
        let failed: OwnedMessage = match ack.await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err((err, message))) => {
                if first_try.elapsed() >= retry_timeout {
                    return Err(RunnerError::Delivery {
                        topic: message.topic().to_owned(),
                        failure: err.into(),
                    });
                }
                tracing::warn!(error = %err, topic = message.topic(), "delivery failed; sending again");
                message
            }
            Err(_) => return Err(RunnerError::ProducerGone),
        };
        metrics.retries.with_label_values(&["delivery"]).inc();
        tokio::time::sleep(backoff(attempt)).await;
        attempt += 1;
        let headers = failed.headers().cloned().unwrap_or_default();
        ack = enqueue(
            producer,
            failed.topic(),
            failed.key(),
            failed.payload(),
            headers,
        )
        .await?;
    }
}
