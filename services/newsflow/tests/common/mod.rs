//! Helpers for tests that run `newsflow` against the real broker: topics with a unique prefix,
//! relay processes, consuming whole topics, and the admin endpoints.

#![allow(dead_code, clippy::unwrap_used)] // each test binary uses a part; tests fail loudly

use std::process::{Command, Output, Stdio};

pub use newsflow_testkit::kafka::*;

pub mod broker;
pub mod gateway;
pub mod otlp;
pub mod outcome;
pub mod pipeline;

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
        Self::create_on(&brokers(), test, partitions)
    }

    /// [`Topics::create`] on another broker than the test broker.
    pub fn create_on(brokers: &str, test: &str, partitions: u32) -> Self {
        Self::create_replicated(brokers, test, partitions, 1)
    }

    /// [`Topics::create_on`] with `replication` copies of each partition (min.insync.replicas
    /// by `newsflow topics create`'s default rule).
    pub fn create_replicated(brokers: &str, test: &str, partitions: u32, replication: u32) -> Self {
        let prefix = format!("{}.", newsflow_testkit::unique_name(test));
        output_of(newsflow().args([
            "topics",
            "create",
            "--brokers",
            brokers,
            "--prefix",
            &prefix,
            "--partitions",
            &partitions.to_string(),
            "--replication-factor",
            &replication.to_string(),
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

/// A relay process of one test.
pub type Relay = Service;

/// Starts `newsflow relay` from the test's raw topic to its output topic.
pub fn start_relay(topics: &Topics, group: &str) -> Relay {
    start_relay_with(topics, group, &[])
}

/// [`start_relay`] with more flags.
pub fn start_relay_with(topics: &Topics, group: &str, extra: &[&str]) -> Relay {
    let (brokers, raw, out, dlq) = (brokers(), topics.raw(), topics.out(), topics.dlq());
    let mut args = vec![
        "relay",
        "--brokers",
        &brokers,
        "--input-topic",
        &raw,
        "--output-topic",
        &out,
        "--dlq-topic",
        &dlq,
        "--group-id",
        group,
    ];
    args.extend_from_slice(extra);
    Service::start(env!("CARGO_BIN_EXE_newsflow"), &args)
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
