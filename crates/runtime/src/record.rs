//! Processing one input record, without Kafka: the header check, decoding, the stage (its
//! transient errors retried with backoff), and routing what it emits to topics with their
//! CloudEvents headers, or the input to the dead-letter topic. The result is the encoded
//! records to send; sending and acknowledging them is `output.rs`' and the delivery's job.

use std::time::Instant;

use chrono::{DateTime, Utc};
use newsflow_core::{
    Emit, ErrorKind, Event, EventKind, Rejection, Route, Stage, StageContext, StageError,
};
use rdkafka::message::{Headers, Message, OwnedHeaders};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument as _, Span};

use crate::client::backoff;
use crate::config::RunnerConfig;
use crate::envelope::{self, InputPosition, TraceParent};
use crate::error::RunnerError;
use crate::metrics::RunnerMetrics;
use crate::output::{Destination, Encoded, Input, StateWrite};
use crate::routes::Routes;
use crate::telemetry::span::{self, Outcome};

/// What one input made: the records to send, and the state records among them.
#[derive(Debug)]
pub(crate) struct Processed {
    pub input: Input,
    pub records: Vec<Encoded>,
    /// Kept only when the delivery needs them to redo a batch (exactly-once).
    pub state: Vec<StateWrite>,
}

/// Runs a stage over input records.
#[derive(Debug)]
pub(crate) struct Processor<S> {
    pub stage: S,
    pub routes: Routes,
    config: RunnerConfig,
    metrics: RunnerMetrics,
}

impl<S: Stage> Processor<S> {
    /// Fails when the service's topics and the stage's streams do not fit.
    pub(crate) fn new(
        stage: S,
        config: RunnerConfig,
        metrics: RunnerMetrics,
    ) -> Result<Self, RunnerError> {
        Ok(Self {
            routes: Routes::resolve(&config, &stage)?,
            stage,
            config,
            metrics,
        })
    }

    /// Processes one record: its outputs (or its dead letter) and the stage's state changes,
    /// under the record's span (`telemetry::span`).
    pub(crate) async fn process<M: Message>(
        &mut self,
        message: &M,
        shutdown: &CancellationToken,
    ) -> Result<Processed, RunnerError> {
        let incoming = envelope::header_str(message.headers(), envelope::TRACEPARENT)
            .and_then(TraceParent::parse);
        let span = span::record_span(
            self.config.service,
            message.topic(),
            message.partition(),
            message.offset(),
            message.key().and_then(|k| std::str::from_utf8(k).ok()),
            incoming.as_ref(),
        );
        let processed = self
            .process_in(message, shutdown, &span, incoming.as_ref())
            .instrument(span.clone())
            .await;
        if processed.is_err() {
            span::record_outcome(&span, Outcome::Failed);
        }
        processed
    }

    async fn process_in<M: Message>(
        &mut self,
        message: &M,
        shutdown: &CancellationToken,
        span: &Span,
        incoming: Option<&TraceParent>,
    ) -> Result<Processed, RunnerError> {
        let read_at = Instant::now();
        self.metrics
            .consumed
            .with_label_values(&[message.topic()])
            .inc();
        let position = InputPosition {
            topic: message.topic().to_owned(),
            partition: message.partition(),
            offset: message.offset(),
        };
        let kind = self
            .routes
            .input_kind(message.topic())
            .unwrap_or_else(|| self.stage.input_kind());
        let outcome = match (message.payload(), self.forged_type(kind, message.headers())) {
            (_, Some(rejection)) => Err(rejection),
            (None, None) => Err(Rejection::new(
                ErrorKind::EmptyContent,
                "the record has no value",
            )),
            (Some(payload), None) => {
                let record_time = message
                    .timestamp()
                    .to_millis()
                    .and_then(DateTime::<Utc>::from_timestamp_millis);
                self.run_stage(kind, payload, record_time, shutdown).await?
            }
        };
        let mut records = match outcome {
            Ok(emits) => {
                span::record_outcome(
                    span,
                    if emits.is_empty() {
                        Outcome::Dropped
                    } else {
                        Outcome::Emitted
                    },
                );
                self.route(emits, &position, &span::outgoing(span, incoming))?
            }
            Err(rejection) => {
                span::record_outcome(span, Outcome::DeadLetter);
                let trace = span::span_traceparent(span);
                vec![self.dead_letter(message, &rejection, &position, trace.as_ref())]
            }
        };
        let state = self.state_changes(&mut records)?;
        Ok(Processed {
            input: Input { position, read_at },
            records,
            state,
        })
    }

    /// A `ce_type` header naming another kind of event than the stage reads.
    fn forged_type<H: Headers>(&self, kind: EventKind, headers: Option<&H>) -> Option<Rejection> {
        let expected = kind.cloudevents_type();
        let found = headers?.iter().find(|h| h.key == envelope::CE_TYPE)?;
        let ce_type = String::from_utf8_lossy(found.value.unwrap_or_default());
        (ce_type != expected).then(|| {
            Rejection::new(
                ErrorKind::UnexpectedEventType,
                format!("the record's ce_type header is {ce_type:?}; this stage reads {expected}"),
            )
        })
    }

    /// Runs the stage; transient errors are retried with backoff until the retry timeout.
    async fn run_stage(
        &mut self,
        kind: EventKind,
        payload: &[u8],
        record_time: Option<DateTime<Utc>>,
        shutdown: &CancellationToken,
    ) -> Result<Result<Vec<Emit>, Rejection>, RunnerError> {
        let first_try = Instant::now();
        let mut attempt = 0;
        loop {
            let event = match Event::from_json(kind, payload) {
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
            let message = match result {
                Ok(emits) => return Ok(Ok(emits)),
                Err(StageError::Rejected(rejection)) => return Ok(Err(rejection)),
                Err(StageError::Transient(message)) => message,
            };
            if first_try.elapsed() >= self.config.retry_timeout {
                return Err(RunnerError::Stage {
                    stage: self.stage.name(),
                    waited: self.config.retry_timeout,
                    message,
                });
            }
            self.metrics.retries.with_label_values(&["stage"]).inc();
            let wait = backoff(attempt);
            tracing::warn!(error = %message, retry_in = ?wait, "transient stage error; retrying");
            attempt += 1;
            tokio::select! {
                () = shutdown.cancelled() => return Err(RunnerError::ShutDown(message)),
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Each output event, encoded once, with the topics it goes to.
    fn route(
        &self,
        emits: Vec<Emit>,
        position: &InputPosition,
        trace: &TraceParent,
    ) -> Result<Vec<Encoded>, RunnerError> {
        let now = Utc::now();
        let service = self.config.service;
        let mut index = 0;
        let mut records = Vec::with_capacity(emits.len());
        for emit in emits {
            let mut to = Vec::with_capacity(1 + emit.copies.len());
            for route in emit.routes() {
                let (topic, label) = self.destination(route)?;
                let ce_id = envelope::cloudevents_id(service, position, index);
                index += 1;
                let headers = envelope::event_headers(&emit.event, service, &ce_id, now, trace);
                to.push(Destination {
                    topic,
                    label,
                    headers,
                });
            }
            let payload = emit.event.to_json().map_err(|err| {
                RunnerError::Wiring(format!("cannot serialize an output event: {err}"))
            })?;
            records.push(Encoded {
                key: Some(emit.event.id().as_bytes().to_vec()),
                payload: Some(payload),
                ingested_at: emit.event.ingested_at(),
                to,
            });
        }
        Ok(records)
    }

    /// The topic of a route and its `output` label (the output's name).
    fn destination(&self, route: &Route) -> Result<(String, &'static str), RunnerError> {
        let topic = self.routes.topic(route).ok_or_else(|| {
            RunnerError::Wiring(format!(
                "stage {} emitted to {route:?} but declares no such output",
                self.stage.name()
            ))
        })?;
        Ok((topic, route.output))
    }

    /// The input as a dead letter: its original key, value (cut to the limit) and headers, and
    /// the `x-newsflow-*` headers saying why.
    fn dead_letter<M: Message>(
        &self,
        message: &M,
        rejection: &Rejection,
        position: &InputPosition,
        trace: Option<&TraceParent>,
    ) -> Encoded {
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
            self.config.service,
            rejection,
            position,
            payload,
            trace,
        );
        let cut = &payload[..payload.len().min(self.config.dlq_max_bytes)];
        Encoded {
            key: message.key().map(<[u8]>::to_vec),
            payload: Some(cut.to_vec()),
            ingested_at: None,
            to: vec![Destination {
                topic: self.config.dlq_topic.clone(),
                label: "dlq",
                headers,
            }],
        }
    }

    /// The stage's state changes as records of its state topic (added to `records`); the ones
    /// exactly-once delivery keeps to redo a batch are returned.
    fn state_changes(
        &mut self,
        records: &mut Vec<Encoded>,
    ) -> Result<Vec<StateWrite>, RunnerError> {
        let mut kept = Vec::new();
        for change in self.stage.take_state_changes() {
            let topic = self.config.state_topic.clone().ok_or_else(|| {
                RunnerError::Wiring(format!(
                    "stage {} changed its state but the service has no state topic",
                    self.stage.name()
                ))
            })?;
            if self.config.exactly_once() {
                kept.push(StateWrite {
                    topic: topic.clone(),
                    key: change.key.clone(),
                    value: change.value.clone(),
                });
            }
            records.push(state_record(topic, change.key, change.value));
        }
        Ok(kept)
    }
}

/// One record of a state topic: no headers, `None` a tombstone.
pub(crate) fn state_record(topic: String, key: String, value: Option<Vec<u8>>) -> Encoded {
    Encoded {
        key: Some(key.into_bytes()),
        payload: value,
        ingested_at: None,
        to: vec![Destination {
            topic,
            label: "state",
            headers: OwnedHeaders::new(),
        }],
    }
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
