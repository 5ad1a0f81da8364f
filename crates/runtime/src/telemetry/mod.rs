//! Logging and tracing setup: `RUST_LOG`-style filtering (default `info`) of JSON or
//! human-readable lines on stderr and, when an OTLP endpoint is configured, the spans of
//! `newsflow` targets exported over OTLP/HTTP. Without an endpoint no OpenTelemetry layer is
//! installed: the per-record spans (debug level) are then disabled callsites and cost nothing.

mod export;
pub mod span;

use std::sync::LazyLock;
use std::time::Duration;

use anyhow::Context as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use prometheus::IntCounterVec;
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

pub use export::{BoundedBatch, BoundedBatchConfig};

use crate::flags::{LogFormat, TraceArgs};

/// Spans and events of targets under this prefix go to the exporter (the runtime's record
/// spans, `newsflow run`'s stage spans, the gateway's ingest spans), nothing else.
pub const TRACED_TARGETS: &str = "newsflow";

/// Spans the export queue holds at most; a full queue drops (and counts) instead of blocking
/// the record path.
pub const SPAN_QUEUE: usize = 8192;

/// What [`init`] set up; dropping it flushes and stops the exporter.
#[derive(Debug)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
    /// `newsflow_spans_dropped_total{reason}`: always registered, 0 when tracing is off.
    pub spans_dropped: IntCounterVec,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown_with_timeout(Duration::from_secs(5));
        }
    }
}

/// The counter of spans lost on the way to the collector, by reason (`queue_full`,
/// `export_failed`). One per process, as the tracer provider is; register it in the metrics
/// registry of whatever serves `/metrics`.
pub fn spans_dropped() -> IntCounterVec {
    static COUNTER: LazyLock<IntCounterVec> = LazyLock::new(|| {
        crate::metrics::counters(
            "newsflow_spans_dropped_total",
            "Spans not exported: the export queue was full, or the collector refused or could not be reached.",
            &["reason"],
        )
    });
    COUNTER.clone()
}

/// Installs the global subscriber; a second call (tests) is a no-op. Logs only.
pub fn init(format: LogFormat) {
    let _ = try_init(format, &TraceArgs::default(), "newsflow");
}

/// Installs the global subscriber with span export when `trace` names an endpoint;
/// `service` becomes the spans' `service.name`. Fails only on a malformed endpoint.
pub fn init_with_traces(
    format: LogFormat,
    trace: &TraceArgs,
    service: &'static str,
) -> anyhow::Result<Telemetry> {
    try_init(format, trace, service)
}

fn try_init(
    format: LogFormat,
    trace: &TraceArgs,
    service: &'static str,
) -> anyhow::Result<Telemetry> {
    let spans_dropped = spans_dropped();
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,rdkafka=warn"));
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = match format {
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_filter(filter)
            .boxed(),
        LogFormat::Pretty => logs.with_target(false).with_filter(filter).boxed(),
    };
    let Some(url) = trace.traces_url() else {
        let _ = tracing_subscriber::registry().with(logs).try_init();
        return Ok(Telemetry {
            provider: None,
            spans_dropped,
        });
    };
    let provider = provider(&url, trace.trace_sample_ratio, service, &spans_dropped)?;
    let spans = span_layer(&provider);
    let _ = tracing_subscriber::registry()
        .with(logs)
        .with(spans)
        .try_init();
    tracing::info!(
        url,
        ratio = trace.trace_sample_ratio,
        "exporting spans over OTLP"
    );
    Ok(Telemetry {
        provider: Some(provider),
        spans_dropped,
    })
}

/// The layer that turns the spans of [`TRACED_TARGETS`] into OpenTelemetry spans of
/// `provider`. Only the spans' own fields become attributes: the source location, thread,
/// target and busy/idle times would add eight attributes to every record's span and say
/// nothing the name and `stage` do not.
pub fn span_layer<S>(provider: &SdkTracerProvider) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("newsflow"))
        .with_location(false)
        .with_threads(false)
        .with_target(false)
        .with_tracked_inactivity(false)
        .with_filter(Targets::new().with_target(TRACED_TARGETS, Level::DEBUG))
}

/// A tracer provider exporting to `url` through a bounded queue, sampling `ratio` of new
/// traces and following the parent's decision otherwise.
pub fn provider(
    url: &str,
    ratio: f64,
    service: &'static str,
    spans_dropped: &IntCounterVec,
) -> anyhow::Result<SdkTracerProvider> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(url)
        .with_timeout(Duration::from_secs(5))
        .build()
        .with_context(|| format!("cannot export spans to {url}"))?;
    let resource = Resource::builder().with_service_name(service).build();
    let processor = BoundedBatch::start(
        exporter,
        &resource,
        BoundedBatchConfig::default(),
        spans_dropped.clone(),
    );
    Ok(SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_sampler(sampler(ratio))
        .with_resource(resource)
        .build())
}

/// `ratio` of the traces that start here; a remote parent's decision otherwise.
pub fn sampler(ratio: f64) -> Sampler {
    Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio)))
}
