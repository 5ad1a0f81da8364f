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
