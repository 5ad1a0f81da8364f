//! The three stage services on topics of one test: normalizer → deduplicator → tagger, each
//! instance with its own transactional id, and reading topics to their end.

#![allow(clippy::unwrap_used)] // tests fail loudly

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::{Service, Topics, brokers, newsflow};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Normalizer,
    Deduplicator,
    Tagger,
}

pub const STAGES: [Stage; 3] = [Stage::Normalizer, Stage::Deduplicator, Stage::Tagger];

impl Stage {
    pub fn binary(self) -> &'static str {
        match self {
            Self::Normalizer => "newsflow-normalizer",
            Self::Deduplicator => "newsflow-deduplicator",
            Self::Tagger => "newsflow-tagger",
        }
    }
}

/// A service binary of the workspace, built next to `newsflow`.
pub fn binary(name: &str) -> String {
    let newsflow = PathBuf::from(env!("CARGO_BIN_EXE_newsflow"));
    let path = newsflow.with_file_name(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace --bins` (cargo test --workspace does)",
        path.display()
    );
    path.to_string_lossy().into_owned()
}

/// The services of one test, on topics of their own.
pub struct Pipeline {
    pub brokers: String,
    pub topics: Topics,
    pub guarantee: &'static str,
    pub partitions: u32,
    /// Copies of each partition (the tagger's per-tag topics too).
    pub replication: u32,
}

impl Pipeline {
    pub fn new(test: &str, guarantee: &'static str, partitions: u32) -> Self {
        Self::on(&brokers(), test, guarantee, partitions)
    }

    /// A pipeline on another broker than the test broker.
    pub fn on(brokers: &str, test: &str, guarantee: &'static str, partitions: u32) -> Self {
        Self::replicated(brokers, test, guarantee, partitions, 1)
    }

    /// A pipeline on a cluster, its topics with `replication` copies of each partition.
    pub fn replicated(
        brokers: &str,
        test: &str,
        guarantee: &'static str,
        partitions: u32,
        replication: u32,
    ) -> Self {
        Self {
            brokers: brokers.to_owned(),
            topics: Topics::create_replicated(brokers, test, partitions, replication),
            guarantee,
            partitions,
            replication,
        }
    }

    pub fn topic(&self, name: &str) -> String {
        format!("{}{name}", self.topics.prefix)
    }

    /// Where every input ends: enriched articles, duplicate notices and dead letters, in that
    /// order.
    pub fn final_topics(&self) -> [String; 3] {
        [
            self.topic("news.enriched.v1"),
            self.topic("news.duplicates.v1"),
            self.topics.dlq(),
        ]
    }

    /// Starts one instance; `instance` names it (a restart keeps the name, and so its
    /// transactional id: the broker then aborts what the killed one left open at once).
    pub fn start(&self, stage: Stage, instance: &str) -> Service {
        self.start_with(stage, instance, &[])
    }

    /// [`Pipeline::start`] with more flags.
    pub fn start_with(&self, stage: Stage, instance: &str, extra: &[&str]) -> Service {
        let group = format!("{}{}", self.topics.prefix, stage.binary());
        let transactional_id = format!("{group}.{instance}");
        let mut args: Vec<String> = [
            "--brokers",
            &self.brokers,
            "--group-id",
            &group,
            "--dlq-topic",
            &self.topics.dlq(),
            "--guarantee",
            self.guarantee,
            "--transactional-id",
            &transactional_id,
        ]
        .map(str::to_owned)
        .to_vec();
        let (input, output) = match stage {
            Stage::Normalizer => ("news.raw.v1", "news.normalized.v1"),
            Stage::Deduplicator => ("news.normalized.v1", "news.deduplicated.v1"),
            Stage::Tagger => ("news.deduplicated.v1", "news.enriched.v1"),
        };
        args.extend([
            "--input-topic".into(),
            self.topic(input),
            "--output-topic".into(),
            self.topic(output),
        ]);
        match stage {
            Stage::Normalizer => {}
            Stage::Deduplicator => args.extend([
                "--duplicates-topic".into(),
                self.topic("news.duplicates.v1"),
                "--state-topic".into(),
                self.topic("newsflow.dedup-state.v1"),
            ]),
            Stage::Tagger => args.extend([
                "--tag-topic-prefix".into(),
                self.topics.prefix.clone(),
                "--tag-topic-replication".into(),
                self.replication.to_string(),
            ]),
        }
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Service::start(&binary(stage.binary()), &args)
    }

    /// `newsflow produce --repeat N --duplicate-ratio R` of a corpus directory, at `rate`
    /// records per second, in the background.
    pub fn produce(&self, dir: &str, repeat: u32, rate: u32) -> Child {
        newsflow()
            .args([
                "produce",
                newsflow_testkit::corpus_dir().join(dir).to_str().unwrap(),
                "--brokers",
                &self.brokers,
                "--topic",
                &self.topics.raw(),
                "--repeat",
                &repeat.to_string(),
                "--duplicate-ratio",
                "0.02",
                "--seed",
                "7",
                "--rate",
                &rate.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }
}

/// Every record of `topics` (each with `partitions` partitions), from the beginning to the end
/// as of now, read committed.
pub fn read_to_end(topics: &[String], partitions: u32) -> Vec<rdkafka::message::OwnedMessage> {
    read_to_end_on(&brokers(), topics, partitions)
}

/// [`read_to_end`] on another broker.
pub fn read_to_end_on(
    brokers: &str,
    topics: &[String],
    partitions: u32,
) -> Vec<rdkafka::message::OwnedMessage> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", newsflow_testkit::unique_name("verify"))
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()
        .unwrap();
    let mut ends: BTreeMap<(String, i32), i64> = BTreeMap::new();
    let mut assignment = TopicPartitionList::new();
    for topic in topics {
        for partition in 0..partitions as i32 {
            // Right after a broker restart, leadership may still be settling: ask again.
            let mut attempts = 0;
            let (low, high) = loop {
                match consumer.fetch_watermarks(topic, partition, Duration::from_secs(10)) {
                    Ok(marks) => break marks,
                    Err(err) if attempts < 30 => {
                        attempts += 1;
                        eprintln!("watermarks of {topic}/{partition}: {err}; asking again");
                        std::thread::sleep(Duration::from_secs(1));
                    }
                    Err(err) => panic!("watermarks of {topic}/{partition}: {err}"),
                }
            };
            if high > low {
                ends.insert((topic.clone(), partition), high);
                assignment
                    .add_partition_offset(topic, partition, Offset::Beginning)
                    .unwrap();
            }
        }
    }
    let mut records = Vec::new();
    if ends.is_empty() {
        return records;
    }
    consumer.assign(&assignment).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !ends.is_empty() {
        assert!(
            Instant::now() < deadline,
            "cannot read to the end: {ends:?}"
        );
        match consumer.poll(Duration::from_millis(200)) {
            Some(message) => {
                records.push(message.unwrap().detach());
            }
            None => {
                // Transaction markers take offsets: the position passes the last record.
                for element in consumer.position().unwrap().elements() {
                    if let Offset::Offset(next) = element.offset() {
                        let key = (element.topic().to_owned(), element.partition());
                        if ends.get(&key).is_some_and(|end| next >= *end) {
                            ends.remove(&key);
                        }
                    }
                }
            }
        }
    }
    records
}
