//! `newsflow dlq list|replay`: what is in the dead-letter topic, and sending it back after a fix.
//!
//! Both read the DLQ topic from its beginning up to its end as it is when the command starts
//! (no consumer group, nothing committed), so they can be run any number of times. A replayed
//! record gets its original key, value and headers (the `x-newsflow-*` ones dropped) on the
//! topic it was first read from (`x-newsflow-source-topic`), unless `--to` says otherwise. A
//! stage treats a replayed article like any other: the same id and content is a replay to it.
//! Dead letters cut to the DLQ topic's size limit (the value shorter than
//! `x-newsflow-original-size`, or its SHA-256 not `x-newsflow-original-sha256`) cannot be sent
//! back whole and are skipped, and counted.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use newsflow_core::dead_letter::headers;
use rdkafka::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::{BorrowedMessage, Header, Headers as _, Message as _, OwnedHeaders};
use rdkafka::producer::{
    BaseRecord, DeliveryResult, Producer as _, ProducerContext, ThreadedProducer,
};
use rdkafka::{Offset, TopicPartitionList};
use sha2::{Digest as _, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::cli::{DlqListArgs, DlqReplayArgs, DlqSelect};

const TIMEOUT: Duration = Duration::from_secs(30);

/// One dead letter's fixed headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    pub stage: String,
    pub error_kind: String,
    pub error_message: String,
    pub source_topic: Option<String>,
    pub source_partition: Option<String>,
    pub source_offset: Option<String>,
    /// The value is the whole original (not cut to the DLQ topic's limit).
    pub whole: bool,
}

fn header(message: &BorrowedMessage<'_>, name: &str) -> Option<String> {
    let headers = message.headers()?;
    headers
        .iter()
        .find(|h| h.key == name)
        .and_then(|h| h.value)
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

fn dead_letter(message: &BorrowedMessage<'_>) -> DeadLetter {
    let value = message.payload().unwrap_or_default();
    let size_ok = header(message, headers::ORIGINAL_SIZE)
        .and_then(|s| s.parse::<usize>().ok())
        .is_none_or(|size| size == value.len());
    let sha_ok = header(message, headers::ORIGINAL_SHA256)
        .is_none_or(|sha| sha.eq_ignore_ascii_case(&hex::encode(Sha256::digest(value))));
    DeadLetter {
        partition: message.partition(),
        offset: message.offset(),
        key: message
            .key()
            .map(|k| String::from_utf8_lossy(k).into_owned()),
        stage: header(message, headers::STAGE).unwrap_or_else(|| "?".to_owned()),
        error_kind: header(message, headers::ERROR_KIND).unwrap_or_else(|| "?".to_owned()),
        error_message: header(message, headers::ERROR_MESSAGE).unwrap_or_default(),
        source_topic: header(message, headers::SOURCE_TOPIC),
        source_partition: header(message, headers::SOURCE_PARTITION),
        source_offset: header(message, headers::SOURCE_OFFSET),
        whole: size_ok && sha_ok,
    }
}

impl DlqSelect {
    fn wants(&self, letter: &DeadLetter) -> bool {
        self.stage.as_ref().is_none_or(|s| *s == letter.stage)
            && self
                .error_kind
                .as_ref()
                .is_none_or(|k| *k == letter.error_kind)
    }
}

/// Reads every record of `topic` present when it starts, oldest first per partition.
fn read_all(
    select: &DlqSelect,
    mut each: impl FnMut(&BorrowedMessage<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut config = select.client.client_config();
    config
        .set("group.id", "newsflow-dlq-reader")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false");
    let consumer: BaseConsumer = config
        .create()
        .context("cannot create the Kafka consumer")?;
    let topic = select.topic.as_str();
    let metadata = consumer
        .fetch_metadata(Some(topic), TIMEOUT)
        .with_context(|| format!("cannot read the metadata of {topic}"))?;
    let Some(partitions) = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())
        .map(|t| t.partitions().iter().map(|p| p.id()).collect::<Vec<_>>())
    else {
        bail!("topic {topic} does not exist");
    };
    let mut ends = BTreeMap::new();
    let mut assignment = TopicPartitionList::new();
    for &partition in &partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, partition, TIMEOUT)
            .with_context(|| format!("cannot read the offsets of {topic}/{partition}"))?;
        if high > low {
            ends.insert(partition, high);
            assignment.add_partition_offset(topic, partition, Offset::Offset(low))?;
        }
    }
    if ends.is_empty() {
        return Ok(());
    }
    consumer.assign(&assignment)?;
    let mut last_progress = Instant::now();
    while !ends.is_empty() {
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(message)) => {
                last_progress = Instant::now();
                let partition = message.partition();
                let Some(&end) = ends.get(&partition) else {
                    continue;
                };
                if message.offset() < end {
                    each(&message)?;
                }
                if message.offset() + 1 >= end {
                    ends.remove(&partition);
                }
            }
            Some(Err(err)) => return Err(err).context("cannot read the dead-letter topic"),
            None if last_progress.elapsed() > TIMEOUT => {
                // Compaction can leave the end offset unreachable.
                eprintln!(
                    "newsflow dlq: no more records before the end offsets {ends:?}; stopping"
                );
                break;
            }
            None => newsflow_runtime::state::forget_reached(&consumer, &mut ends)?,
        }
    }
    Ok(())
}

/// Prints the dead letters by stage and error kind (and each one with `--details`); returns
/// how many matched.
pub fn list(args: &DlqListArgs) -> anyhow::Result<u64> {
    let mut counts: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut matched = 0;
    read_all(&args.select, |message| {
        let letter = dead_letter(message);
        if !args.select.wants(&letter) {
            return Ok(());
        }
        matched += 1;
        if args.details {
            println!(
                "{}/{}@{}  key={}  {} {}  from {}/{}@{}{}  {}",
                args.select.topic,
                letter.partition,
                letter.offset,
                letter.key.as_deref().unwrap_or("-"),
                letter.stage,
                letter.error_kind,
                letter.source_topic.as_deref().unwrap_or("?"),
                letter.source_partition.as_deref().unwrap_or("?"),
                letter.source_offset.as_deref().unwrap_or("?"),
                if letter.whole { "" } else { "  (cut)" },
                letter.error_message
            );
        }
        *counts
            .entry((letter.stage.clone(), letter.error_kind.clone()))
            .or_default() += 1;
        Ok(())
    })?;
    println!("{:<14} {:<24} {:>8}", "STAGE", "ERROR_KIND", "COUNT");
    for ((stage, kind), count) in &counts {
        println!("{stage:<14} {kind:<24} {count:>8}");
    }
    println!("{matched} dead letters in {}", args.select.topic);
    Ok(matched)
}

/// Counts the records the broker did not acknowledge.
#[derive(Debug, Default)]
struct Deliveries {
    failed: AtomicU64,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((err, _)) = result {
            self.failed.fetch_add(1, Ordering::Relaxed);
            eprintln!("newsflow dlq replay: a record was not delivered: {err}");
        }
    }
}

/// What a replay did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplaySummary {
    pub sent: u64,
    /// Cut to the DLQ's limit: they cannot be sent back whole.
    pub skipped_cut: u64,
    /// No source topic header and no `--to`.
    pub skipped_no_topic: u64,
}

/// Sends the selected dead letters back to the topic they were first read from.
#[allow(clippy::too_many_lines)] // longer than 80 lines before the lint; to be split later
pub fn replay(args: &DlqReplayArgs) -> anyhow::Result<ReplaySummary> {
    let mut config = args.select.client.client_config();
    config.set("enable.idempotence", "true").set("acks", "all");
    if args.select.stage.is_none() {
        bail!(
            "--stage is required: dead letters go back to one stage's input (see `newsflow dlq list`)"
        );
    }
    let producer: ThreadedProducer<Deliveries> = config
        .create_with_context(Deliveries::default())
        .context("cannot create the Kafka producer")?;
    let mut summary = ReplaySummary::default();
    let mut targets: BTreeMap<String, u64> = BTreeMap::new();
    read_all(&args.select, |message| {
        let letter = dead_letter(message);
        if !args.select.wants(&letter) {
            return Ok(());
        }
        if !letter.whole {
            summary.skipped_cut += 1;
            eprintln!(
                "newsflow dlq replay: skipping {}/{}@{}: cut to the DLQ's size limit",
                args.select.topic, letter.partition, letter.offset
            );
            return Ok(());
        }
        let Some(target) = args.to.clone().or(letter.source_topic) else {
            summary.skipped_no_topic += 1;
            return Ok(());
        };
        let mut original = OwnedHeaders::new();
        if let Some(headers) = message.headers() {
            for header in headers.iter() {
                if !header.key.starts_with("x-newsflow-") {
                    original = original.insert(Header {
                        key: header.key,
                        value: header.value,
                    });
                }
            }
        }
        if args.dry_run {
            summary.sent += 1;
            *targets.entry(target).or_default() += 1;
            return Ok(());
        }
        let mut record = BaseRecord::<[u8], [u8]>::to(&target).headers(original);
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        if let Some(value) = message.payload() {
            record = record.payload(value);
        }
        let mut record = record;
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((err, back))
                    if err.rdkafka_error_code()
                        == Some(rdkafka::types::RDKafkaErrorCode::QueueFull) =>
                {
                    std::thread::sleep(Duration::from_millis(10));
                    record = back;
                }
                Err((err, _)) => return Err(err).context("cannot send a replayed record"),
            }
        }
        summary.sent += 1;
        *targets.entry(target).or_default() += 1;
        Ok(())
    })?;
    producer
        .flush(TIMEOUT)
        .context("cannot deliver the replayed records")?;
    let failed = producer.context().failed.load(Ordering::Relaxed);
    if failed > 0 {
        bail!(
            "{failed} of {} replayed records were not delivered",
            summary.sent
        );
    }
    let verb = if args.dry_run { "would send" } else { "sent" };
    for (target, count) in &targets {
        println!("{verb} {count} to {target}");
    }
    println!(
        "{verb} {} dead letters back; skipped {} cut to the DLQ's size limit, {} without a source topic",
        summary.sent, summary.skipped_cut, summary.skipped_no_topic
    );
    Ok(summary)
}
