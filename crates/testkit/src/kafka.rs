//! Helpers for tests against the real broker: service processes with their admin endpoints,
//! topics, and reading whole topics.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::{Headers as _, Message as _, OwnedMessage, ToBytes};
use rdkafka::producer::{BaseProducer, BaseRecord};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use crate::brokers;

/// A free local port for an admin server.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

/// Creates `names` with `partitions` partitions each on the test broker. Blocking; callable
/// from sync and async tests alike (it runs on a thread of its own).
pub fn create_topics(names: &[String], partitions: i32) {
    create_topics_on(&brokers(), names, partitions);
}

/// A test's own topics: `{prefix}.{suffix}` for each suffix, under a fresh `prefix` made from
/// `kind`, created with `partitions` partitions each on the test broker; with the consumer group
/// name `{prefix}.group`.
pub fn fresh_topics<const N: usize>(
    kind: &str,
    suffixes: [&str; N],
    partitions: i32,
) -> ([String; N], String) {
    let prefix = crate::unique_name(kind);
    let names = suffixes.map(|suffix| format!("{prefix}.{suffix}"));
    create_topics(&names, partitions);
    (names, format!("{prefix}.group"))
}

/// [`create_topics`] on the broker(s) at `brokers`.
pub fn create_topics_on(brokers: &str, names: &[String], partitions: i32) {
    let (brokers, names) = (brokers.to_owned(), names.to_vec());
    std::thread::spawn(move || {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .create()
            .expect("admin client");
        let topics: Vec<NewTopic<'_>> = names
            .iter()
            .map(|n| NewTopic::new(n, partitions, TopicReplication::Fixed(1)))
            .collect();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let results = runtime
            .block_on(admin.create_topics(&topics, &AdminOptions::new()))
            .unwrap_or_else(|err| panic!("no Kafka broker answers at {brokers} ({err})"));
        for result in results {
            result.unwrap_or_else(|(name, code)| panic!("cannot create {name}: {code}"));
        }
    })
    .join()
    .expect("topics created");
}

/// A service process of one test, killed when dropped.
#[derive(Debug)]
pub struct Service {
    pub child: Child,
    /// `host:port` of its admin server.
    pub admin: String,
}

impl Service {
    /// Starts `program` with `args` plus `--admin-addr` on a free port and short group timeouts
    /// (a killed member leaves the group after 6 s instead of 45 s). `NEWSFLOW_*` variables of
    /// the caller's shell are not passed on. Its log goes to the test's stderr at level `warn`;
    /// to look into a failure, `NEWSFLOW_TEST_RUST_LOG` sets another filter and
    /// `NEWSFLOW_TEST_SERVICE_LOGS=DIR` writes one file per service instead
    /// (`<program>-<admin port>.log`).
    pub fn start(program: &str, args: &[&str]) -> Self {
        let port = free_port();
        let admin = format!("127.0.0.1:{port}");
        let mut command = Command::new(program);
        for (key, _) in std::env::vars() {
            if key.starts_with("NEWSFLOW_") {
                command.env_remove(key);
            }
        }
        let filter = std::env::var("NEWSFLOW_TEST_RUST_LOG").unwrap_or_else(|_| "warn".into());
        let stderr = match std::env::var_os("NEWSFLOW_TEST_SERVICE_LOGS") {
            Some(dir) => {
                let name = std::path::Path::new(program)
                    .file_name()
                    .map_or_else(|| "service".into(), |n| n.to_string_lossy().into_owned());
                let path = std::path::Path::new(&dir).join(format!("{name}-{port}.log"));
                std::fs::File::create(&path)
                    .map(Stdio::from)
                    .unwrap_or_else(|err| panic!("cannot write {}: {err}", path.display()))
            }
            None => Stdio::inherit(),
        };
        let child = command
            .env("RUST_LOG", filter)
            .args(args)
            .args([
                "--admin-addr",
                &admin,
                "--kafka-option",
                "session.timeout.ms=6000",
                "--kafka-option",
                "heartbeat.interval.ms=1000",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|err| panic!("{program} does not start: {err}"));
        Self { child, admin }
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for the process to exit and returns its exit code.
    pub fn wait(mut self, timeout: Duration) -> Option<i32> {
        self.wait_exit(timeout)
    }

    /// Like [`Service::wait`], keeping the value (e.g. to replace it with a restart).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .expect("the process can be waited for")
            {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "the service did not exit within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// How the process ended, if it already did (e.g. it gave up on its own).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .try_wait()
            .expect("the process can be waited for")
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
            "service at {} not ready within {timeout:?}: {:?}",
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

impl Drop for Service {
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

/// A producer for loading many records fast (benches filling a state topic).
pub fn bulk_producer() -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("linger.ms", "20")
        .set("compression.type", "lz4")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .expect("producer")
}

/// Sends `record`, waiting while the producer's queue is full.
pub fn send_waiting<K, P>(producer: &BaseProducer, mut record: BaseRecord<'_, K, P>)
where
    K: ToBytes + ?Sized,
    P: ToBytes + ?Sized,
{
    loop {
        match producer.send(record) {
            Ok(()) => break,
            Err((err, back)) => {
                assert!(
                    matches!(
                        err.rdkafka_error_code(),
                        Some(rdkafka::types::RDKafkaErrorCode::QueueFull)
                    ),
                    "{err}"
                );
                producer.poll(Duration::from_millis(10));
                record = back;
            }
        }
    }
    producer.poll(Duration::ZERO);
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
    consume_all_on(&brokers(), topic, partitions, expected, timeout, settle)
}

/// [`consume_all`] from another cluster than the test broker (e.g. librdkafka's mock cluster).
pub fn consume_all_on(
    brokers: &str,
    topic: &str,
    partitions: i32,
    expected: usize,
    timeout: Duration,
    settle: Duration,
) -> Vec<OwnedMessage> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", crate::unique_name("reader"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut assignment = TopicPartitionList::new();
    for partition in 0..partitions {
        assignment
            .add_partition_offset(topic, partition, Offset::Beginning)
            .expect("partition offset");
    }
    consumer.assign(&assignment).expect("assignment");
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
            messages.push(result.expect("consume").detach());
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
