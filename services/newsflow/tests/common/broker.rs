//! A private Kafka broker of one test (`deploy/local/kafka.sh` on ports and a data directory of
//! its own), or a private cluster of several (`kafka.sh cluster`), stopped when dropped (also
//! when the test panics).

#![allow(clippy::unwrap_used)] // tests fail loudly

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};

use super::free_port;

pub struct PrivateBroker {
    args: Vec<String>,
    /// A cluster: its data directory and size (`kafka.sh cluster ...`).
    cluster: Option<(PathBuf, u32)>,
    /// `host:port` of its PLAINTEXT listener (of every node, comma-separated, for a cluster).
    pub brokers: String,
}

/// The `kafka.sh` options of a broker's (or a cluster's first node's) ports and data directory.
fn location(port: u16, controller: u16, dir: &Path) -> Vec<String> {
    vec![
        "--port".into(),
        port.to_string(),
        "--controller-port".into(),
        controller.to_string(),
        "--data-dir".into(),
        dir.to_string_lossy().into_owned(),
    ]
}

/// Whether every port of `ports` can be bound now.
fn all_free(ports: impl IntoIterator<Item = u16>) -> bool {
    ports
        .into_iter()
        .all(|port| TcpListener::bind(("127.0.0.1", port)).is_ok())
}

impl PrivateBroker {
    /// Starts a broker with its data in `dir`; `extra` are more `kafka.sh` options (they may
    /// use the ports, passed to `extra` first: client, controller).
    pub fn start(dir: &Path, extra: impl FnOnce(u16, u16) -> Vec<String>) -> Self {
        let (port, controller) = (free_port(), free_port());
        let mut args = location(port, controller, dir);
        args.extend(extra(port, controller));
        let broker = Self {
            args,
            cluster: None,
            brokers: format!("127.0.0.1:{port}"),
        };
        broker.run("start");
        broker
    }

    /// Starts a cluster of `size` nodes (`kafka.sh cluster`) with its data in `dir`. Node N
    /// serves clients on P+N-1 and its controller on C+N-1: P from
    /// `NEWSFLOW_TEST_CLUSTER_PORT` (default 29292), C from
    /// `NEWSFLOW_TEST_CLUSTER_CONTROLLER_PORT` (default P+100), both moved up by 10 until every
    /// port is free (another test run may hold the first range; 19092/19093 are CI's broker).
    pub fn cluster(dir: &Path, size: u32) -> Self {
        let env_port = |name: &str| {
            std::env::var(name).ok().map(|v| {
                v.parse::<u16>()
                    .unwrap_or_else(|_| panic!("{name}={v} is no port"))
            })
        };
        let first = env_port("NEWSFLOW_TEST_CLUSTER_PORT").unwrap_or(29292);
        let first_controller =
            env_port("NEWSFLOW_TEST_CLUSTER_CONTROLLER_PORT").unwrap_or(first + 100);
        let span = size as u16;
        let (port, controller) = (0..50u16)
            .map(|step| (first + 10 * step, first_controller + 10 * step))
            .find(|(port, controller)| {
                all_free((*port..*port + span).chain(*controller..*controller + span))
            })
            .expect("a free range of ports for the cluster");
        let mut args = vec!["--size".into(), size.to_string()];
        args.extend(location(port, controller, dir));
        let broker = Self {
            args,
            cluster: Some((dir.to_owned(), size)),
            brokers: (0..span)
                .map(|n| format!("127.0.0.1:{}", port + n))
                .collect::<Vec<_>>()
                .join(","),
        };
        broker.run("start");
        broker
    }

    /// `kafka.sh COMMAND` with this broker's options, not yet run.
    fn kafka_sh(&self, command: &str) -> Command {
        let mut kafka_sh =
            Command::new(newsflow_testkit::workspace_root().join("deploy/local/kafka.sh"));
        if self.cluster.is_some() {
            kafka_sh.arg("cluster");
        }
        kafka_sh.arg(command).args(&self.args);
        kafka_sh
    }

    /// A cluster: `kafka.sh cluster COMMAND --node N` (`stop`, `start`: one node alone).
    pub fn run_node(&self, command: &str, node: u32) {
        let status = self
            .kafka_sh(command)
            .args(["--node", &node.to_string()])
            .status()
            .unwrap();
        assert!(
            status.success(),
            "kafka.sh cluster {command} --node {node} failed"
        );
    }

    /// A cluster: kills node N with SIGKILL (no shutdown: a crash, a pulled plug).
    pub fn kill_node(&self, node: u32) {
        let (dir, _) = self.cluster.as_ref().expect("a cluster");
        let pid_file = dir.join(format!("node-{node}/broker.pid"));
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let status = Command::new("kill")
            .args(["-KILL", pid.trim()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -KILL {pid} (node {node})");
    }

    /// A cluster: how many partitions of `topics` each node leads (node id → count).
    pub fn leaders(&self, topics: &[String]) -> HashMap<i32, usize> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .create()
            .unwrap();
        let mut counts = HashMap::new();
        for topic in topics {
            let metadata = consumer
                .fetch_metadata(Some(topic), Duration::from_secs(10))
                .unwrap();
            for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
                *counts.entry(partition.leader()).or_insert(0) += 1;
            }
        }
        counts
    }

    /// `kafka.sh COMMAND` for this broker (`stop`, `start` again, …).
    pub fn run(&self, command: &str) {
        let status = self.kafka_sh(command).status().unwrap();
        assert!(status.success(), "kafka.sh {command} failed");
    }

    /// Whether the broker process is still there (`kafka.sh status`).
    pub fn running(&self) -> bool {
        self.kafka_sh("status")
            .stdout(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // The data directory goes with the test: keep what the broker said for the report.
            for command in ["status", "logs"] {
                // Whatever these answer, the stop below still runs.
                let _ = self.kafka_sh(command).env("LINES", "60").status();
            }
        }
        self.run("stop");
    }
}
