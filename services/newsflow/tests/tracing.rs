//! Spans over OTLP (#21): the three services export to a receiver this test starts, which
//! decodes what arrives with the OpenTelemetry protobuf definitions. One article through
//! normalizer → deduplicator → tagger is one trace, a span per stage, each parented by the
//! previous stage's span and the first by the raw record's traceparent; a bad record's span
//! carries the dead letter as an event.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

mod common;

use std::time::Duration;

use common::gateway::{Gateway, TOKEN, post};
use common::otlp::{self, ReceivedSpan, Receiver};
use common::pipeline::{Pipeline, STAGES, Stage, read_to_end};
use common::*;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const RAW_SPAN: &str = "00f067aa0ba902b7";
const BAD_TRACE: &str = "5bf92f3577b34da6a3ce929d0e0e4737";

fn span_of<'a>(
    spans: &'a [ReceivedSpan],
    service: &str,
    article: &str,
) -> Option<&'a ReceivedSpan> {
    spans
        .iter()
        .find(|s| s.service == service && s.attribute("article_id") == Some(article))
}

#[test]
fn one_article_is_one_trace_across_the_stages_and_a_dead_letter_an_event() {
    let receiver = Receiver::start();
    let pipeline = Pipeline::new("tracing", "exactly-once", 1);
    let extra = ["--otlp-endpoint", receiver.url.as_str()];
    let services: Vec<Service> = STAGES
        .iter()
        .map(|stage| pipeline.start_with(*stage, "a", &extra))
        .collect();
    let article = newsflow_testkit::unique_name("traced");
    let good = serde_json::json!({
        "id": article, "source": "tracing-test", "content_type": "text/plain",
        "content": "Parliament passed the budget on Tuesday after a long debate about taxes and spending on schools.",
    })
    .to_string();
    otlp::produce_traced(
        &pipeline.topics.raw(),
        &[
            (&article, &good, format!("00-{TRACE}-{RAW_SPAN}-01")),
            ("bad", "{not json", format!("00-{BAD_TRACE}-{RAW_SPAN}-01")),
        ],
    );
    let spans = receiver.wait_for(Duration::from_secs(60), |spans| {
        ["normalizer", "deduplicator", "tagger"]
            .iter()
            .all(|s| span_of(spans, s, &article).is_some())
            && spans.iter().any(|s| s.trace_id == BAD_TRACE)
    });

    let normalizer = span_of(&spans, "normalizer", &article).unwrap();
    let deduplicator = span_of(&spans, "deduplicator", &article).unwrap();
    let tagger = span_of(&spans, "tagger", &article).unwrap();
    for (span, parent, topic) in [
        (normalizer, RAW_SPAN, pipeline.topics.raw()),
        (
            deduplicator,
            &*normalizer.span_id,
            pipeline.topic("news.normalized.v1"),
        ),
        (
            tagger,
            &*deduplicator.span_id,
            pipeline.topic("news.deduplicated.v1"),
        ),
    ] {
        assert_eq!(span.trace_id, TRACE, "{span:#?}");
        assert_eq!(span.parent_span_id, parent, "{span:#?}");
        assert_eq!(span.name, format!("{} process", span.service));
        assert_eq!(span.attribute("stage"), Some(span.service.as_str()));
        assert_eq!(span.attribute("topic"), Some(topic.as_str()));
        assert_eq!(span.attribute("partition"), Some("0"));
        assert!(span.attribute("offset").is_some());
        assert_eq!(span.attribute("outcome"), Some("emitted"), "{span:#?}");
    }
    let traced: Vec<_> = spans.iter().filter(|s| s.trace_id == TRACE).collect();
    assert_eq!(traced.len(), 3, "one span per stage: {traced:#?}");

    // What the tagger produced carries the tagger's span as its parent.
    let enriched = read_to_end(&[pipeline.topic("news.enriched.v1")], 1);
    let output = enriched.iter().find(|m| key(m) == article).unwrap();
    assert_eq!(
        header(output, "traceparent").unwrap(),
        format!("00-{TRACE}-{}-01", tagger.span_id)
    );

    // The bad record: its normalizer span says dead_letter and has the event; the dead letter
    // carries that span's context.
    let bad = spans.iter().find(|s| s.trace_id == BAD_TRACE).unwrap();
    assert_eq!(bad.attribute("outcome"), Some("dead_letter"));
    assert_eq!(bad.parent_span_id, RAW_SPAN);
    assert!(
        bad.events
            .iter()
            .any(|e| e.contains("sent to the dead-letter topic")),
        "{bad:#?}"
    );
    let letters = read_to_end(&[pipeline.topics.dlq()], 1);
    assert_eq!(
        header(&letters[0], "traceparent").unwrap(),
        format!("00-{BAD_TRACE}-{}-01", bad.span_id)
    );

    for service in services {
        service.signal("TERM");
        assert_eq!(service.wait(Duration::from_secs(40)), Some(0));
    }
}

/// `newsflow run --otlp-endpoint`: each input is a trace of its own, the stages its children.
#[test]
fn newsflow_run_exports_a_trace_per_input() {
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let input = jsonl(dir.path(), "run-traced", 2);
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{not json\n").unwrap();
    let output = output_of(newsflow().args([
        "run",
        input.to_str().unwrap(),
        bad.to_str().unwrap(),
        "--output",
        dir.path().join("out.jsonl").to_str().unwrap(),
        "--otlp-endpoint",
        &receiver.url,
    ]));
    assert!(output.status.success());
    // The spans are exported before the command exits.
    let spans = receiver.spans();
    let roots: Vec<_> = spans.iter().filter(|s| s.name == "newsflow run").collect();
    assert_eq!(roots.len(), 3, "{spans:#?}");
    for root in &roots {
        assert_eq!(root.service, "newsflow-run");
        assert!(root.parent_span_id.is_empty(), "{root:#?}");
        let children: Vec<&str> = spans
            .iter()
            .filter(|s| s.parent_span_id == root.span_id)
            .map(|s| s.name.as_str())
            .collect();
        match root.attribute("outcome") {
            Some("written") => {
                assert!(
                    root.attribute("article_id")
                        .unwrap()
                        .starts_with("run-traced-")
                );
                assert_eq!(
                    children,
                    ["normalizer", "deduplicator+tagger"],
                    "{spans:#?}"
                );
            }
            Some("dead_letter") => {
                assert!(
                    root.events.iter().any(|e| e.contains("dead letters")),
                    "{root:#?}"
                );
            }
            other => panic!("outcome {other:?}: {root:#?}"),
        }
    }
}

/// The gateway's ingest span is the root of an article's trace; the normalizer's span is its
/// child.
#[tokio::test(flavor = "multi_thread")]
async fn the_gateway_roots_an_articles_trace() {
    let receiver = Receiver::start();
    let pipeline = Pipeline::new("tracing-gw", "exactly-once", 1);
    let extra = ["--otlp-endpoint", receiver.url.as_str()];
    let normalizer = pipeline.start_with(Stage::Normalizer, "a", &extra);
    let gateway = Gateway::start(&pipeline.brokers, &pipeline.topics.prefix, &extra);
    let article = newsflow_testkit::unique_name("gw-traced");
    let body = serde_json::json!({
        "id": article, "source": "tracing-test", "content_type": "text/plain",
        "content": "The council approved the new bridge on Monday after years of debate about its cost.",
    });
    let client = reqwest::Client::new();
    let (status, answer) = post(
        &client,
        &gateway,
        Some(TOKEN),
        "application/json",
        &[],
        body.to_string(),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    let spans = tokio::task::spawn_blocking(move || {
        receiver.wait_for(Duration::from_secs(60), |spans| {
            span_of(spans, "gateway", &article).is_some()
                && span_of(spans, "normalizer", &article).is_some()
        })
    })
    .await
    .unwrap();
    let ingest = spans.iter().find(|s| s.service == "gateway").unwrap();
    let normalized = spans.iter().find(|s| s.service == "normalizer").unwrap();
    assert_eq!(ingest.name, "gateway ingest");
    assert!(ingest.parent_span_id.is_empty(), "{ingest:#?}");
    assert_eq!(normalized.trace_id, ingest.trace_id);
    assert_eq!(normalized.parent_span_id, ingest.span_id);
    for service in [normalizer, gateway.service] {
        service.signal("TERM");
        assert_eq!(service.wait(Duration::from_secs(40)), Some(0));
    }
}
