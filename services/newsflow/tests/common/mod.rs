//! Helpers for tests that run `newsflow` against the real broker: topics with a unique prefix,
//! relay processes, consuming whole topics, and the admin endpoints.

#![allow(dead_code, clippy::unwrap_used)] // each test binary uses a part; tests fail loudly

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::{Headers as _, Message as _, OwnedMessage};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

pub fn brokers() -> String {
    newsflow_testkit::brokers()
}

/// `newsflow` with the given arguments, no `NEWSFLOW_*` variables from the caller's shell.
pub fn newsflow() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_newsflow"));
    for (key, _) in std::env::vars() {
        if key.starts_with("NEWSFLOW_") {
            command.env_remove(key);
        }
    }
    command.env("RUST_LOG", "warn");
    command
}

pub fn output_of(command: &mut Command) -> Output {
    let output = command
        .stdin(Stdio::null())
        .output()
        .expect("newsflow runs");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The topics of one test: every topic of the architecture under a unique prefix.
#[derive(Debug, Clone)]
pub struct Topics {
    pub prefix: String,
}

impl Topics {
    pub fn create(test: &str, partitions: u32) -> Self {
        let prefix = format!("{}.", newsflow_testkit::unique_name(test));
        output_of(newsflow().args([
            "topics",
            "create",
            "--brokers",
            &brokers(),
            "--prefix",
            &prefix,
            "--partitions",
            &partitions.to_string(),
        ]));
        Self { prefix }
    }

    pub fn raw(&self) -> String {
        format!("{}news.raw.v1", self.prefix)
    }

    /// The relay's output in tests (the normalized topic; relay copies raw events into it).
    pub fn out(&self) -> String {
        format!("{}news.normalized.v1", self.prefix)
    }

    pub fn dlq(&self) -> String {
        format!("{}news.dlq.v1", self.prefix)
    }
}

/// A free local port for an admin server.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A relay process of one test.
#[derive(Debug)]
pub struct Relay {
    pub child: Child,
    pub admin: String,
}

impl Relay {
    pub fn start(topics: &Topics, group: &str) -> Self {
        Self::start_with(topics, group, &[])
    }

    pub fn start_with(topics: &Topics, group: &str, extra: &[&str]) -> Self {
        let admin = format!("127.0.0.1:{}", free_port());
        let child = newsflow()
            .args([
                "relay",
                "--brokers",
                &brokers(),
                "--input-topic",
                &topics.raw(),
                "--output-topic",
                &topics.out(),
                "--dlq-topic",
                &topics.dlq(),
                "--group-id",
                group,
                "--admin-addr",
                &admin,
                // A killed member leaves the group after 6 s instead of 45 s.
                "--kafka-option",
                "session.timeout.ms=6000",
                "--kafka-option",
                "heartbeat.interval.ms=1000",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("relay starts");
        Self { child, admin }
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit and returns its exit code.
    pub fn wait(mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "the relay did not exit within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        http_get(&self.admin, path)
    }

    /// Waits until `/readyz` answers 200.
    pub fn wait_ready(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if matches!(self.get("/readyz"), Some((200, _))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "relay at {} not ready within {timeout:?}: {:?}",
            self.admin,
            self.get("/readyz")
        );
    }

    /// The sum of a counter over the label sets that contain `labels`.
    pub fn counter(&self, name: &str, labels: &str) -> f64 {
        let Some((200, text)) = self.get("/metrics") else {
            return 0.0;
        };
        metric_value(&text, name, labels)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn metric_value(text: &str, name: &str, labels: &str) -> f64 {
    text.lines()
        .filter(|line| line.starts_with(name) && line[name.len()..].starts_with(['{', ' ']))
        .filter(|line| line.contains(labels))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A minimal HTTP/1.1 GET: (status, body), or `None` when nothing answers.
pub fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

/// Reads every partition of `topic` from the beginning until `expected` records arrived or
/// `timeout` passed, and then `settle` more (to see records that should not be there).
pub fn consume_all(
    topic: &str,
    partitions: i32,
    expected: usize,
    timeout: Duration,
    settle: Duration,
) -> Vec<OwnedMessage> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", newsflow_testkit::unique_name("reader"))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    for partition in 0..partitions {
        assignment
            .add_partition_offset(topic, partition, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).unwrap();
    let mut messages = Vec::new();
    let deadline = Instant::now() + timeout;
    let mut settle_until: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if settle_until.is_some_and(|t| now >= t) || (settle_until.is_none() && now >= deadline) {
            break;
        }
        if settle_until.is_none() && messages.len() >= expected {
            settle_until = Some(now + settle);
        }
        if let Some(result) = consumer.poll(Duration::from_millis(100)) {
            messages.push(result.unwrap().detach());
        }
    }
    messages
}

pub fn header(message: &OwnedMessage, key: &str) -> Option<String> {
    message
        .headers()?
        .iter()
        .find(|h| h.key == key)
        .and_then(|h| h.value)
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

pub fn headers(message: &OwnedMessage) -> HashMap<String, String> {
    message
        .headers()
        .map(|hs| {
            hs.iter()
                .map(|h| {
                    (
                        h.key.to_owned(),
                        h.value
                            .map(|v| String::from_utf8_lossy(v).into_owned())
                            .unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn key(message: &OwnedMessage) -> String {
    String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned()
}

/// A JSON Lines file of `count` small raw events with ids `<prefix>-<n>`.
pub fn jsonl(dir: &std::path::Path, prefix: &str, count: usize) -> std::path::PathBuf {
    let path = dir.join(format!("{prefix}.jsonl"));
    let mut text = String::new();
    for n in 0..count {
        text.push_str(&serde_json::json!({
            "id": format!("{prefix}-{n}"),
            "source": "test",
            "content_type": "text/plain",
            "content": format!("Story number {n} of {prefix}. It has a sentence or two of text."),
        }).to_string());
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// `newsflow produce` of a file into the test's raw topic.
pub fn produce(topics: &Topics, file: &std::path::Path, extra: &[&str]) -> Output {
    output_of(
        newsflow()
            .args([
                "produce",
                file.to_str().unwrap(),
                "--brokers",
                &brokers(),
                "--topic",
                &topics.raw(),
            ])
            .args(extra),
    )
}
