//! Once, against Jaeger as operators run it (#21): Jaeger v2 (1.75.0) started from
//! `deploy/local/jaeger.yaml` on the test's own ports, the three services exporting to it, one
//! article produced, and the trace read back from Jaeger's query API. Ignored: it needs the
//! Jaeger binary, built from the Go module proxy and cached outside the repository (README,
//! "Tracing"). Run it with
//!
//! ```text
//! NEWSFLOW_JAEGER_BIN=~/.cache/newsflow/jaeger-1.75.0 \
//!   cargo test -p newsflow --test jaeger -- --ignored --nocapture
//! ```

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::pipeline::{Pipeline, STAGES};
use common::*;
use serde_json::Value;

const OTLP_HTTP: &str = "http://127.0.0.1:59310";
const QUERY: &str = "127.0.0.1:59312";

/// GET over HTTP/1.0, so the answer is neither chunked nor kept alive.
fn get(path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(QUERY).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {QUERY}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

struct Jaeger(Child);

impl Drop for Jaeger {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_jaeger() -> Jaeger {
    let binary = std::env::var("NEWSFLOW_JAEGER_BIN").unwrap_or_else(|_| {
        format!(
            "{}/.cache/newsflow/jaeger-1.75.0",
            std::env::var("HOME").unwrap()
        )
    });
    let config = newsflow_testkit::workspace_root().join("deploy/local/jaeger.yaml");
    let child = Command::new(&binary)
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {binary}: {err}"));
    let jaeger = Jaeger(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while get("/api/services").is_none_or(|(status, _)| status != 200) {
        assert!(Instant::now() < deadline, "Jaeger did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    jaeger
}

#[test]
#[ignore = "needs the Jaeger binary (README, Tracing)"]
fn jaeger_shows_one_article_as_one_trace() {
    let started = Instant::now();
    let _jaeger = start_jaeger();
    let jaeger_up = started.elapsed();
    let pipeline = Pipeline::new("jaeger", "exactly-once", 1);
    let services: Vec<Service> = STAGES
        .iter()
        .map(|stage| pipeline.start_with(*stage, "a", &["--otlp-endpoint", OTLP_HTTP]))
        .collect();
    let trace_id = format!("{:032x}", rand::random::<u128>() | 1);
    let article = newsflow_testkit::unique_name("jaeger");
    let value = serde_json::json!({
        "id": article, "source": "jaeger-test", "content_type": "text/plain",
        "content": "Parliament passed the budget on Tuesday after a long debate about taxes and spending on schools.",
    })
    .to_string();
    let traceparent = format!("00-{trace_id}-00f067aa0ba902b7-01");
    let produced = Instant::now();
    common::otlp::produce_traced(&pipeline.topics.raw(), &[(&article, &value, traceparent)]);

    let deadline = Instant::now() + Duration::from_secs(60);
    let trace = loop {
        if let Some((200, body)) = get(&format!("/api/traces/{trace_id}")) {
            let json: Value = serde_json::from_str(&body).unwrap();
            if json["data"][0]["spans"]
                .as_array()
                .is_some_and(|s| s.len() >= 3)
            {
                break json["data"][0].clone();
            }
        }
        assert!(Instant::now() < deadline, "the trace did not reach Jaeger");
        std::thread::sleep(Duration::from_millis(200));
    };
    let visible = produced.elapsed();
    let (_, services_body) = get("/api/services").unwrap();
    println!(
        "jaeger up in {:.2} s; trace visible {:.2} s after producing",
        jaeger_up.as_secs_f64(),
        visible.as_secs_f64()
    );
    println!("/api/services: {services_body}");
    let spans = describe(&trace);
    assert_eq!(spans.len(), 3, "{trace:#}");
    let by_service = |name: &str| spans.iter().find(|s| s.0 == name).unwrap();
    let (normalizer, deduplicator, tagger) = (
        by_service("normalizer"),
        by_service("deduplicator"),
        by_service("tagger"),
    );
    assert_eq!(normalizer.3, "00f067aa0ba902b7");
    assert_eq!(deduplicator.3, normalizer.2);
    assert_eq!(tagger.3, deduplicator.2);
    for service in services {
        service.signal("TERM");
        assert_eq!(service.wait(Duration::from_secs(40)), Some(0));
    }
}

/// (service, operation, span id, parent span id) of each span, printed with timings.
fn describe(trace: &Value) -> Vec<(String, String, String, String)> {
    let processes = &trace["processes"];
    let mut spans: Vec<&Value> = trace["spans"].as_array().unwrap().iter().collect();
    spans.sort_by_key(|s| s["startTime"].as_u64());
    let first = spans[0]["startTime"].as_u64().unwrap();
    println!("trace {}: {} spans", trace["traceID"], spans.len());
    spans
        .iter()
        .map(|span| {
            let service = processes[span["processID"].as_str().unwrap()]["serviceName"]
                .as_str()
                .unwrap()
                .to_owned();
            let parent = span["references"][0]["spanID"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            let tags: Vec<String> = span["tags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| format!("{}={}", t["key"].as_str().unwrap(), t["value"]))
                .collect();
            println!(
                "  {service:<12} {:<22} span {} child of {} ({}), +{:.1} ms, {:.2} ms; {}",
                span["operationName"].as_str().unwrap(),
                span["spanID"].as_str().unwrap(),
                parent,
                span["references"][0]["refType"].as_str().unwrap_or("-"),
                (span["startTime"].as_u64().unwrap() - first) as f64 / 1000.0,
                span["duration"].as_u64().unwrap() as f64 / 1000.0,
                tags.join(" ")
            );
            (
                service,
                span["operationName"].as_str().unwrap().to_owned(),
                span["spanID"].as_str().unwrap().to_owned(),
                parent,
            )
        })
        .collect()
}
