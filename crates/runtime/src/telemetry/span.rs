//! The span of one record: a debug-level span under the `newsflow` target, whose parent is the
//! record's `traceparent` and whose own context becomes the `traceparent` of everything the
//! record produces. With span export off the span is disabled and the trace context is passed
//! on as before (a child of the input's, or a new root).

use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::envelope::TraceParent;

/// Span attribute and field names, declared once.
pub mod field {
    pub const STAGE: &str = "stage";
    pub const TOPIC: &str = "topic";
    pub const PARTITION: &str = "partition";
    pub const OFFSET: &str = "offset";
    pub const ARTICLE_ID: &str = "article_id";
    pub const OUTCOME: &str = "outcome";
}

/// What became of a record, the span's `outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The stage emitted events.
    Emitted,
    /// The stage emitted nothing.
    Dropped,
    /// The input went to the dead-letter topic.
    DeadLetter,
    /// The stage failed for good (a transient error outlived the retry timeout, or shutdown).
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Emitted => "emitted",
            Self::Dropped => "dropped",
            Self::DeadLetter => "dead_letter",
            Self::Failed => "failed",
        }
    }
}

/// The span of a record read by `stage` at `topic`/`partition`/`offset`, child of `parent`
/// (the input's traceparent) when there is one. `article_id` is the record's key.
pub fn record_span(
    stage: &'static str,
    topic: &str,
    partition: i32,
    offset: i64,
    article_id: Option<&str>,
    parent: Option<&TraceParent>,
) -> Span {
    let span = tracing::debug_span!(
        target: "newsflow::record",
        "record",
        otel.name = %format_args!("{stage} process"),
        otel.kind = "consumer",
        stage,
        topic,
        partition,
        offset,
        article_id = tracing::field::Empty,
        outcome = tracing::field::Empty,
    );
    if span.is_disabled() {
        return span;
    }
    if let Some(id) = article_id {
        span.record(field::ARTICLE_ID, id);
    }
    if let Some(parent) = parent {
        let _ = span.set_parent(parent_context(parent));
    }
    span
}

/// Sets a span's `outcome`.
pub fn record_outcome(span: &Span, outcome: Outcome) {
    span.record(field::OUTCOME, outcome.as_str());
}

/// An OpenTelemetry context whose remote parent is `parent`.
pub fn parent_context(parent: &TraceParent) -> opentelemetry::Context {
    let context = SpanContext::new(
        TraceId::from_bytes(parent.trace_id),
        SpanId::from_bytes(parent.parent_id),
        TraceFlags::new(parent.flags),
        true,
        TraceState::default(),
    );
    opentelemetry::Context::new().with_remote_span_context(context)
}

/// The span's own context as a traceparent, when the span is exported (or at least made).
pub fn span_traceparent(span: &Span) -> Option<TraceParent> {
    if span.is_disabled() {
        return None;
    }
    let context = span.context();
    let own = context.span().span_context().clone();
    own.is_valid().then(|| TraceParent {
        trace_id: own.trace_id().to_bytes(),
        parent_id: own.span_id().to_bytes(),
        flags: own.trace_flags().to_u8(),
    })
}

/// The traceparent for what a record produces: the span's context when spans are exported,
/// else a child of the input's (or a new trace).
pub fn outgoing(span: &Span, incoming: Option<&TraceParent>) -> TraceParent {
    span_traceparent(span).unwrap_or_else(|| {
        incoming
            .map(TraceParent::child)
            .unwrap_or_else(TraceParent::new_root)
    })
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanProcessor};
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;
    use crate::telemetry::{sampler, span_layer};

    #[derive(Debug, Default, Clone)]
    struct Kept(Arc<Mutex<Vec<SpanData>>>);

    impl SpanProcessor for Kept {
        fn on_start(&self, _: &mut opentelemetry_sdk::trace::Span, _: &opentelemetry::Context) {}
        fn on_end(&self, span: SpanData) {
            if span.span_context.is_sampled() {
                self.0.lock().expect("lock").push(span);
            }
        }
        fn force_flush(&self) -> OTelSdkResult {
            Ok(())
        }
        fn shutdown_with_timeout(&self, _: std::time::Duration) -> OTelSdkResult {
            Ok(())
        }
    }

    /// Runs one record's span work with spans exported at `ratio`: the outputs' traceparent
    /// and the spans exported.
    fn traced(ratio: f64, parent: Option<&TraceParent>) -> (TraceParent, Vec<SpanData>) {
        let kept = Kept::default();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(kept.clone())
            .with_sampler(sampler(ratio))
            .build();
        let subscriber = tracing_subscriber::registry().with(span_layer(&provider));
        let outgoing = tracing::subscriber::with_default(subscriber, || {
            let span = record_span("tagger", "t", 0, 1, Some("a"), parent);
            record_outcome(&span, Outcome::Emitted);
            outgoing(&span, parent)
        });
        let spans = kept.0.lock().expect("lock").clone();
        (outgoing, spans)
    }

    #[test]
    fn a_record_span_continues_the_trace_and_keeps_the_parents_sampling_decision() {
        let sampled = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            .expect("valid");
        // A sampled parent is followed even at ratio 0; the outputs carry this span.
        let (out, spans) = traced(0.0, Some(&sampled));
        assert_eq!(spans.len(), 1);
        let span = &spans[0];
        assert_eq!(span.parent_span_id.to_bytes(), sampled.parent_id);
        assert_eq!(out.trace_id, sampled.trace_id);
        assert_eq!(out.parent_id, span.span_context.span_id().to_bytes());
        assert_eq!(out.flags, 1);
        assert_eq!(span.name, "tagger process");
        // An unsampled parent is followed too: nothing exported, the decision passed on.
        let unsampled = TraceParent {
            flags: 0,
            ..sampled
        };
        let (out, spans) = traced(1.0, Some(&unsampled));
        assert!(spans.is_empty());
        assert_eq!((out.trace_id, out.flags), (sampled.trace_id, 0));
        // No parent: the ratio decides, and a new trace starts.
        let (out, spans) = traced(0.0, None);
        assert!(spans.is_empty() && out.flags == 0);
        let (out, spans) = traced(1.0, None);
        assert_eq!(spans.len(), 1);
        assert_ne!(out.trace_id, sampled.trace_id);
    }

    #[test]
    fn without_the_layer_the_trace_context_is_passed_on_as_before() {
        let parent = TraceParent::new_root();
        // (Whether the span is disabled here depends on the other tests' scoped subscribers,
        // which share the callsite's cached interest; the trace context must not.)
        let span = record_span("tagger", "t", 0, 1, Some("a"), Some(&parent));
        let out = outgoing(&span, Some(&parent));
        assert_eq!(out.trace_id, parent.trace_id);
        assert_ne!(out.parent_id, parent.parent_id);
    }
}
