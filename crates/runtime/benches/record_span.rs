//! What a record's span costs the record path (#21): creating the span with its fields and its
//! parent from the record's `traceparent`, running the record under it, setting the outcome and
//! taking the `traceparent` of its outputs; then ending it (queueing it for export).
//!
//! - `record_span/off`: no OpenTelemetry layer, as a service without `--otlp-endpoint` runs;
//! - `record_span/on`: the layer installed and every span sampled and queued to an exporter that
//!   drops them (the network is not measured: export runs on a thread of its own);
//! - `record_span/on_unsampled`: the layer installed, the parent says not sampled.
//!
//! `cargo bench -p newsflow-runtime --bench record_span` measures; `cargo test --benches` runs
//! each case once.

#![allow(clippy::unwrap_used)] // a bench that cannot unwrap should fail loudly

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use newsflow_runtime::envelope::TraceParent;
use newsflow_runtime::telemetry::span::{self, Outcome};
use newsflow_runtime::telemetry::{BoundedBatch, BoundedBatchConfig, span_layer};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, SpanData, SpanExporter};
use tracing_subscriber::layer::SubscriberExt as _;

#[derive(Debug)]
struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

/// One record's span work, as `record.rs` does it.
fn one_record(parent: &TraceParent) -> TraceParent {
    let span = span::record_span(
        "normalizer",
        "news.raw.v1",
        3,
        123_456,
        Some("0123456789abcdef0123456789abcdef"),
        Some(parent),
    );
    let outgoing = {
        let _entered = span.enter();
        span::record_outcome(&span, Outcome::Emitted);
        span::outgoing(&span, Some(parent))
    };
    drop(span);
    outgoing
}

fn provider() -> SdkTracerProvider {
    let dropped = newsflow_runtime::metrics::counters("bench_dropped", "bench", &["reason"]);
    let processor = BoundedBatch::start(
        Discard,
        &Resource::builder().with_service_name("bench").build(),
        BoundedBatchConfig::default(),
        dropped,
    );
    SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)))
        .build()
}

fn bench(c: &mut Criterion) {
    let sampled =
        TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
    let unsampled = TraceParent {
        flags: 0,
        ..sampled
    };
    let mut group = c.benchmark_group("record_span");
    group.throughput(Throughput::Elements(1));
    group.bench_function("off", |b| b.iter(|| one_record(black_box(&sampled))));
    for (name, parent) in [("on", sampled), ("on_unsampled", unsampled)] {
        let provider = provider();
        let subscriber = tracing_subscriber::registry().with(span_layer(&provider));
        tracing::subscriber::with_default(subscriber, || {
            group.bench_function(name, |b| b.iter(|| one_record(black_box(&parent))));
        });
        provider.shutdown().unwrap();
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
