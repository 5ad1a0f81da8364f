//! The gateway in tests: started on free ports with a token, its API called over HTTP, its
//! streams read as a browser's EventSource reads them.

#![allow(dead_code, clippy::unwrap_used)] // each test binary uses a part; tests fail loudly

use std::time::{Duration, Instant};

use futures::StreamExt as _;
use serde_json::{Value, json};

use super::pipeline::{Pipeline, STAGES, binary};
use super::{Service, free_port};

pub const TOKEN: &str = "s3cret-newsroom-token";

/// A war story the default taxonomy tags `ukraine-war`, made distinct by `n`.
pub fn war_story(n: usize) -> String {
    format!(
        "Kyiv prepares for a winter of blackouts, report {n}\n\n\
         KYIV, Nov 20 (Reuters) - Ukraine's grid operator said Russian missile strikes on power \
         plants had cut output again, and that repairs on substation {n} would take weeks.\n\n\
         Russian forces launched drones overnight at the capital and at Kharkiv, the Ukrainian \
         air force said, the latest wave of attacks in the war against Ukraine since Russia's \
         invasion in February 2022.\n\n\
         Zelenskiy urged allies to send more air defence systems before the cold sets in."
    )
}

/// `count` articles of the ukraine-war corpus, every 40th by name: distinct stories (neighbours
/// in time are sometimes copies of one another, which the deduplicator would hold back).
pub fn corpus_articles(count: usize) -> Vec<String> {
    let dir = newsflow_testkit::corpus_dir().join("ukraine-war");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    files
        .iter()
        .step_by(40)
        .take(count)
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

pub struct Gateway {
    pub service: Service,
    pub api: String,
}

impl Gateway {
    pub fn start(brokers: &str, prefix: &str, extra: &[&str]) -> Self {
        let gateway = Self::spawn(brokers, prefix, extra);
        gateway.service.wait_ready(Duration::from_secs(30));
        gateway
    }

    /// Started, not waited for.
    pub fn spawn(brokers: &str, prefix: &str, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::write(&tokens, format!("# the newsroom\n{TOKEN}\n")).unwrap();
        let api = format!("127.0.0.1:{}", free_port());
        let mut args = vec![
            "--brokers",
            brokers,
            "--topic-prefix",
            prefix,
            "--listen",
            &api,
            "--tokens-file",
            tokens.to_str().unwrap(),
        ];
        args.extend(extra);
        let service = Service::start(&binary("newsflow-gateway"), &args);
        // The tokens file is read at start (the API answers once it has been).
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(&api).is_err() {
            assert!(
                Instant::now() < deadline,
                "the gateway does not listen on {api}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(dir);
        Self { service, api }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.api)
    }

    pub fn rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.service.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

pub async fn post(
    client: &reqwest::Client,
    gateway: &Gateway,
    token: Option<&str>,
    content_type: &str,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> (u16, Value) {
    let mut request = client
        .post(gateway.url("/v1/articles"))
        .header("content-type", content_type)
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    for (key, value) in headers {
        request = request.header(*key, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

/// One Server-Sent Event.
#[derive(Debug, Clone, Default)]
pub struct Sse {
    pub event: String,
    pub id: Option<String>,
    pub data: String,
}

/// An SSE client reading a response body as it arrives.
pub struct SseReader {
    body: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

impl SseReader {
    pub async fn open(gateway: &Gateway, query: &str, last_event_id: Option<&str>) -> Self {
        let mut request = reqwest::Client::new().get(gateway.url(&format!("/v1/stream?{query}")));
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{query}");
        Self {
            body: response.bytes_stream().boxed(),
            buffer: String::new(),
        }
    }

    /// The next event (heartbeat comments skipped), or `None` at the end of the stream or
    /// after `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Option<Sse> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = Sse::default();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event.event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        event.id = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        event.data.push_str(v.trim_start());
                    }
                }
                if event.event.is_empty() && event.data.is_empty() {
                    continue; // a heartbeat
                }
                return Some(event);
            }
            let chunk = tokio::time::timeout_at(deadline, self.body.next())
                .await
                .ok()??;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk.ok()?));
        }
    }

    /// The next article's id and the event's position token.
    pub async fn article(&mut self, timeout: Duration) -> (String, String, Value) {
        let event = self.next(timeout).await.expect("an article in time");
        assert_eq!(event.event, "article", "{event:?}");
        let data: Value = serde_json::from_str(&event.data).unwrap();
        (
            data["id"].as_str().unwrap().to_owned(),
            event.id.unwrap(),
            data,
        )
    }
}

pub fn started_pipeline(test: &str) -> (Pipeline, Vec<Service>) {
    let pipeline = Pipeline::new(test, "at-least-once", 2);
    let services: Vec<Service> = STAGES
        .iter()
        .map(|stage| pipeline.start(*stage, "a"))
        .collect();
    for service in &services {
        service.wait_ready(Duration::from_secs(60));
    }
    (pipeline, services)
}

pub fn topic_ids(article: &Value) -> Vec<String> {
    article["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Enriched articles written straight to the topic the stream reads: the fan-out is what is
/// tested here, at a volume that fills a stuck client's socket and buffer.
pub fn write_enriched(topic: &str, count: usize, per_second: u32) {
    let example: Value = serde_json::from_str(
        &std::fs::read_to_string(
            newsflow_testkit::schemas_dir().join("examples/enriched.v1/valid/tagged.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let producer: rdkafka::producer::BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", super::brokers())
        .set("linger.ms", "20")
        .create()
        .unwrap();
    let padding = "The grid operator said repairs would take weeks. ".repeat(40);
    let started = Instant::now();
    for n in 0..count {
        let due = started + Duration::from_secs_f64(n as f64 / f64::from(per_second));
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        let mut article = example.clone();
        article["id"] = json!(format!("fan-{n}"));
        article["body"] = json!([padding.clone()]);
        let payload = article.to_string();
        loop {
            match producer.send(
                rdkafka::producer::BaseRecord::to(topic)
                    .key(&format!("fan-{n}"))
                    .payload(&payload),
            ) {
                Ok(()) => break,
                Err(_) => {
                    producer.poll(Duration::from_millis(50));
                }
            }
        }
        producer.poll(Duration::ZERO);
    }
    rdkafka::producer::Producer::flush(&producer, Duration::from_secs(30)).unwrap();
}
