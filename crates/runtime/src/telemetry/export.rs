//! A batching span processor whose queue is bounded and never blocks: a span that finds the
//! queue full is dropped and counted (`newsflow_spans_dropped_total{reason="queue_full"}`).
//! The SDK's own `BatchSpanProcessor` drops too, but keeps its count private (it only logs it
//! at shutdown), so the record path could not report it as a metric.

use std::sync::Mutex;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use prometheus::IntCounterVec;

/// Queue and batch sizes of a [`BoundedBatch`].
#[derive(Debug, Clone, Copy)]
pub struct BoundedBatchConfig {
    /// Ended spans waiting for export at most.
    pub max_queue: usize,
    /// Spans per export request at most.
    pub max_batch: usize,
    /// A partial batch is exported after this long.
    pub delay: Duration,
}

impl Default for BoundedBatchConfig {
    fn default() -> Self {
        Self {
            max_queue: super::SPAN_QUEUE,
            max_batch: 512,
            delay: Duration::from_secs(1),
        }
    }
}

enum Message {
    Span(Box<SpanData>),
    /// Export what is queued, then answer.
    Flush(SyncSender<()>),
    /// Export what is queued, shut the exporter down, answer and stop.
    Stop(SyncSender<()>),
}

/// Ended, sampled spans go through a bounded queue to a thread of their own that exports them
/// in batches.
#[derive(Debug)]
pub struct BoundedBatch {
    queue: SyncSender<Message>,
    dropped: IntCounterVec,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Span(_) => "Span",
            Self::Flush(_) => "Flush",
            Self::Stop(_) => "Stop",
        })
    }
}

impl BoundedBatch {
    /// Starts the export thread; `exporter` sends with `resource` (the service's name).
    pub fn start<E: SpanExporter + 'static>(
        mut exporter: E,
        resource: &Resource,
        config: BoundedBatchConfig,
        dropped: IntCounterVec,
    ) -> Self {
        exporter.set_resource(resource);
        let (queue, spans) = sync_channel(config.max_queue);
        let failed = dropped.with_label_values(&["export_failed"]);
        let worker = std::thread::Builder::new()
            .name("newsflow-spans".into())
            .spawn(move || export_loop(exporter, &spans, config, &failed))
            .ok();
        Self {
            queue,
            dropped,
            worker: Mutex::new(worker),
        }
    }

    /// Sends a control message and waits for its answer.
    fn control(&self, make: fn(SyncSender<()>) -> Message, timeout: Duration) -> OTelSdkResult {
        let (done, answer) = sync_channel(1);
        // Blocks only while the queue is full, which the export thread drains.
        self.queue
            .send(make(done))
            .map_err(|_| OTelSdkError::AlreadyShutdown)?;
        answer
            .recv_timeout(timeout)
            .map_err(|_| OTelSdkError::Timeout(timeout))
    }
}

impl SpanProcessor for BoundedBatch {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        match self.queue.try_send(Message::Span(Box::new(span))) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.dropped.with_label_values(&["queue_full"]).inc(),
            Err(TrySendError::Disconnected(_)) => {
                self.dropped.with_label_values(&["export_failed"]).inc();
            }
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.control(Message::Flush, Duration::from_secs(10))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let Some(worker) = self.worker.lock().ok().and_then(|mut w| w.take()) else {
            return Err(OTelSdkError::AlreadyShutdown);
        };
        let outcome = self.control(Message::Stop, timeout);
        if outcome.is_ok() {
            let _ = worker.join();
        }
        outcome
    }
}

/// The export thread: batches spans until `max_batch` or `delay`, and answers control
/// messages.
fn export_loop<E: SpanExporter>(
    mut exporter: E,
    spans: &Receiver<Message>,
    config: BoundedBatchConfig,
    failed: &prometheus::IntCounter,
) {
    let mut batch: Vec<SpanData> = Vec::with_capacity(config.max_batch);
    let mut due = Instant::now() + config.delay;
    loop {
        let wait = due.saturating_duration_since(Instant::now());
        match spans.recv_timeout(wait) {
            Ok(Message::Span(span)) => {
                batch.push(*span);
                if batch.len() >= config.max_batch {
                    export(&exporter, &mut batch, failed);
                }
            }
            Ok(Message::Flush(done)) => {
                export(&exporter, &mut batch, failed);
                let _ = done.send(());
            }
            Ok(Message::Stop(done)) => {
                export(&exporter, &mut batch, failed);
                let _ = exporter.shutdown();
                let _ = done.send(());
                return;
            }
            Err(RecvTimeoutError::Timeout) => {
                export(&exporter, &mut batch, failed);
                due = Instant::now() + config.delay;
            }
            Err(RecvTimeoutError::Disconnected) => {
                export(&exporter, &mut batch, failed);
                return;
            }
        }
    }
}

fn export<E: SpanExporter>(
    exporter: &E,
    batch: &mut Vec<SpanData>,
    failed: &prometheus::IntCounter,
) {
    if batch.is_empty() {
        return;
    }
    let spans = std::mem::replace(batch, Vec::with_capacity(batch.capacity()));
    let count = spans.len() as u64;
    if let Err(err) = futures::executor::block_on(exporter.export(spans)) {
        failed.inc_by(count);
        // Not under a span, so this never becomes a span itself.
        tracing::warn!(error = %err, spans = count, "span export failed; spans dropped");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Condvar};

    use opentelemetry::trace::{Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::trace::SdkTracerProvider;

    use super::*;

    /// An exporter that holds the first export until released, as a collector that does not
    /// answer would.
    #[derive(Debug, Clone, Default)]
    struct Stuck {
        released: Arc<(Mutex<bool>, Condvar)>,
        exported: Arc<Mutex<usize>>,
    }

    impl SpanExporter for Stuck {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            let (lock, released) = &*self.released;
            let mut open = lock.lock().expect("lock");
            while !*open {
                open = released.wait(open).expect("lock");
            }
            *self.exported.lock().expect("lock") += batch.len();
            Ok(())
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_blocking() {
        let exporter = Stuck::default();
        let dropped = crate::metrics::counters("dropped", "test", &["reason"]);
        let config = BoundedBatchConfig {
            max_queue: 4,
            max_batch: 1,
            delay: Duration::from_millis(10),
        };
        let processor = BoundedBatch::start(
            exporter.clone(),
            &Resource::builder().build(),
            config,
            dropped.clone(),
        );
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .build();
        let tracer = provider.tracer("test");
        let started = Instant::now();
        for _ in 0..100 {
            tracer.in_span("record", |_| {});
        }
        // One span is in the stuck export, four wait in the queue; the rest are dropped.
        assert!(started.elapsed() < Duration::from_secs(1), "on_end blocked");
        let full = dropped.with_label_values(&["queue_full"]).get();
        assert!((90..=96).contains(&full), "dropped {full}");
        *exporter.released.0.lock().expect("lock") = true;
        exporter.released.1.notify_all();
        provider.force_flush().expect("flushed");
        assert_eq!(*exporter.exported.lock().expect("lock") as u64 + full, 100);
        provider.shutdown().expect("shut down");
    }
}
