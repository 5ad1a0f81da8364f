//! A private Kafka broker of one test (`deploy/local/kafka.sh` on ports and a data directory of
//! its own), stopped when dropped.

#![allow(clippy::unwrap_used)] // tests fail loudly

use std::path::Path;
use std::process::Command;

use super::free_port;

pub struct PrivateBroker {
    args: Vec<String>,
    /// `host:port` of its PLAINTEXT listener.
    pub brokers: String,
}

impl PrivateBroker {
    /// Starts a broker with its data in `dir`; `extra` are more `kafka.sh` options (they may
    /// use the ports, passed to `extra` first: client, controller).
    pub fn start(dir: &Path, extra: impl FnOnce(u16, u16) -> Vec<String>) -> Self {
        let (port, controller) = (free_port(), free_port());
        let mut args = vec![
            "--port".into(),
            port.to_string(),
            "--controller-port".into(),
            controller.to_string(),
            "--data-dir".into(),
            dir.to_string_lossy().into_owned(),
        ];
        args.extend(extra(port, controller));
        let broker = Self {
            args,
            brokers: format!("127.0.0.1:{port}"),
        };
        broker.run("start");
        broker
    }

    /// `kafka.sh COMMAND` with this broker's options, not yet run.
    fn kafka_sh(&self, command: &str) -> Command {
        let mut kafka_sh =
            Command::new(newsflow_testkit::workspace_root().join("deploy/local/kafka.sh"));
        kafka_sh.arg(command).args(&self.args);
        kafka_sh
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
