//! The gateway's Kafka side: the idempotent producer behind `POST /v1/articles`, one live
//! reader per topic feeding the hub, and the catch-up reads of resuming clients. Readers
//! assign partitions themselves (no consumer group shared between gateway instances) and keep
//! their positions in memory.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::future::join_all;
use newsflow_core::Event;
use newsflow_core::dead_letter;
use newsflow_core::event::RawEvent;
use newsflow_runtime::envelope;
use newsflow_runtime::telemetry::span;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers as _, Message as _};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::hub::{Hub, Kind, Record};
use crate::position::Position;

/// How long a metadata or watermark request may take.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

/// A catch-up read that gets nothing for this long checks how far it is.
const IDLE: Duration = Duration::from_millis(250);

/// Why records were not produced.
#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    /// The client's queue is full: the caller should retry later (429).
    #[error("the producer's queue is full")]
    Busy,
    /// The broker did not acknowledge in time or cannot be reached (503).
    #[error("the broker did not acknowledge the records: {0}")]
    Unavailable(KafkaError),
    /// A record the broker refused for good, e.g. over its size limit (500).
    #[error("the broker refused a record: {0}")]
    Refused(KafkaError),
    /// An event that cannot be written as JSON (500; not expected after validation).
    #[error("cannot encode a raw event: {0}")]
    Encode(#[from] serde_json::Error),
}

/// The producer of `news.raw.v1`.
#[derive(Clone)]
pub struct RawProducer {
    producer: FutureProducer,
    topic: Arc<str>,
}

impl std::fmt::Debug for RawProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawProducer")
            .field("topic", &self.topic)
            .finish()
    }
}

impl RawProducer {
    /// An idempotent producer; `--kafka-option`s in `config` win over these defaults.
    pub fn new(
        mut config: ClientConfig,
        topic: &str,
        ack_timeout: Duration,
    ) -> anyhow::Result<Self> {
        let timeout = ack_timeout.as_millis().to_string();
        for (key, value) in [
            ("enable.idempotence", "true"),
            ("linger.ms", "5"),
            ("message.max.bytes", "10485760"),
            ("client.id", "newsflow-gateway"),
            ("message.timeout.ms", timeout.as_str()),
        ] {
            if config.get(key).is_none() {
                config.set(key, value);
            }
        }
        let producer = config
            .create()
            .map_err(|err| anyhow::anyhow!("cannot create the Kafka producer: {err}"))?;
        Ok(Self {
            producer,
            topic: topic.into(),
        })
    }

    /// The topic it produces to.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The producer's fatal error, if it has had one (it then produces nothing more).
    pub fn fatal_error(&self) -> Option<String> {
        use rdkafka::producer::Producer as _;
        self.producer
            .client()
            .fatal_error()
            .map(|(code, reason)| format!("{reason} ({code:?})"))
    }

    /// Whether a broker answers a metadata request (blocking, up to a few seconds).
    pub fn broker_reachable(&self) -> bool {
        use rdkafka::producer::Producer as _;
        self.producer
            .client()
            .fetch_metadata(Some(&self.topic), Duration::from_secs(3))
            .is_ok()
    }

    /// Produces every event (key = id, CloudEvents headers as `newsflow produce` writes them)
    /// and returns once the broker acknowledged all of them.
    pub async fn produce_all(&self, events: Vec<RawEvent>) -> Result<(), ProduceError> {
        let mut deliveries = Vec::with_capacity(events.len());
        for event in events {
            let event = Event::Raw(event);
            let payload = event.to_json()?;
            let ce_id = format!("{:032x}", rand::random::<u128>());
            // The article's trace starts here: its root span (when spans are exported) is the
            // raw record's parent.
            let span = tracing::debug_span!(
                target: "newsflow::gateway",
                "ingest",
                otel.name = "gateway ingest",
                otel.kind = "producer",
                topic = %self.topic,
                article_id = event.id(),
            );
            let headers = envelope::event_headers(
                &event,
                "gateway",
                &ce_id,
                Utc::now(),
                &span::outgoing(&span, None),
            );
            drop(span);
            let record = FutureRecord::to(&self.topic)
                .key(event.id())
                .payload(&payload)
                .headers(headers);
            match self.producer.send_result(record) {
                Ok(delivery) => deliveries.push(delivery),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    // What was queued already is still delivered; the client retries the rest
                    // (a repeated id is a replay downstream, as the API documents).
                    return Err(ProduceError::Busy);
                }
                Err((err, _)) => return Err(ProduceError::Refused(err)),
            }
        }
        for result in join_all(deliveries).await {
            match result {
                Ok(Ok(_)) => {}
                Ok(Err((err, _))) => return Err(classify(err)),
                Err(_) => return Err(ProduceError::Unavailable(KafkaError::Canceled)),
            }
        }
        Ok(())
    }
}

fn classify(err: KafkaError) -> ProduceError {
    match err.rdkafka_error_code() {
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
            | RDKafkaErrorCode::InvalidMessage
            | RDKafkaErrorCode::TopicAuthorizationFailed
            | RDKafkaErrorCode::UnknownTopicOrPartition,
        ) => ProduceError::Refused(err),
        _ => ProduceError::Unavailable(err),
    }
}

/// A consumer that reads by assignment only: a group id is required by librdkafka but never
/// joined, and nothing is committed.
fn assign_only(mut config: ClientConfig, what: &str) -> ClientConfig {
    for (key, value) in [
        ("group.id", format!("newsflow-gateway-{what}")),
        ("enable.auto.commit", "false".to_owned()),
        ("enable.auto.offset.store", "false".to_owned()),
        ("enable.partition.eof", "false".to_owned()),
        ("client.id", format!("newsflow-gateway-{what}")),
    ] {
        if config.get(key).is_none() {
            config.set(key, value);
        }
    }
    config
}

/// A partition and its low and high watermarks.
type Watermarks = (i32, i64, i64);

/// The partitions of `topic` with their (low, high) watermarks; `None` when it does not exist.
/// A topic created a moment ago may have no leader yet: asked again until `LOOKUP_TIMEOUT`.
fn watermarks<C: rdkafka::consumer::Consumer>(
    consumer: &C,
    topic: &str,
) -> Result<Option<Vec<Watermarks>>, KafkaError> {
    let deadline = std::time::Instant::now() + LOOKUP_TIMEOUT;
    loop {
        let attempt = lookup(consumer, topic);
        match attempt {
            Ok(Lookup::Missing) => return Ok(None),
            Ok(Lookup::Found(partitions)) => {
                let marks = partitions
                    .into_iter()
                    .map(|p| {
                        let (low, high) = consumer.fetch_watermarks(topic, p, LOOKUP_TIMEOUT)?;
                        Ok((p, low, high))
                    })
                    .collect::<Result<Vec<_>, KafkaError>>();
                match marks {
                    Ok(marks) => return Ok(Some(marks)),
                    Err(err) if std::time::Instant::now() >= deadline => return Err(err),
                    Err(_) => {}
                }
            }
            Ok(Lookup::NotYet) if std::time::Instant::now() < deadline => {}
            Ok(Lookup::NotYet) => return Ok(None),
            Err(err) => return Err(err),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

enum Lookup {
    Found(Vec<i32>),
    Missing,
    /// Known, but without leaders yet.
    NotYet,
}

fn lookup<C: rdkafka::consumer::Consumer>(consumer: &C, topic: &str) -> Result<Lookup, KafkaError> {
    let metadata = consumer.fetch_metadata(Some(topic), LOOKUP_TIMEOUT)?;
    let Some(found) = metadata.topics().iter().find(|t| t.name() == topic) else {
        return Ok(Lookup::Missing);
    };
    match found.error().map(RDKafkaErrorCode::from) {
        Some(RDKafkaErrorCode::UnknownTopicOrPartition) => Ok(Lookup::Missing),
        Some(_) => Ok(Lookup::NotYet),
        None if found.partitions().is_empty() => Ok(Lookup::NotYet),
        None if found
            .partitions()
            .iter()
            .any(|p| p.error().is_some() || p.leader() < 0) =>
        {
            Ok(Lookup::NotYet)
        }
        None => Ok(Lookup::Found(
            found.partitions().iter().map(|p| p.id()).collect(),
        )),
    }
}

/// Looks the topics up: the ones that do not exist, or an error when the broker cannot answer.
pub async fn missing_topics(
    config: &ClientConfig,
    topics: Vec<String>,
) -> Result<Vec<String>, KafkaError> {
    let config = assign_only(config.clone(), "lookup");
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = config.create()?;
        let mut missing = Vec::new();
        for topic in topics {
            if watermarks(&consumer, &topic)?.is_none() {
                missing.push(topic);
            }
        }
        Ok(missing)
    })
    .await
    .unwrap_or(Err(KafkaError::Canceled))
}

/// Which topics carry duplicate notices and dead letters; every other topic carries articles.
#[derive(Debug, Clone, Default)]
pub struct TopicKinds {
    pub duplicates: String,
    pub dead_letters: String,
}

impl TopicKinds {
    pub fn kind(&self, topic: &str) -> Kind {
        if topic == self.duplicates {
            Kind::Duplicate
        } else if topic == self.dead_letters {
            Kind::DeadLetter
        } else {
            Kind::Article
        }
    }

    /// The record of a message, as its topic's kind reads it; `None` when it is not one.
    fn record(&self, message: &BorrowedMessage<'_>) -> Option<Record> {
        let topic: Arc<str> = message.topic().into();
        let (partition, offset) = (message.partition(), message.offset());
        match self.kind(&topic) {
            Kind::DeadLetter => {
                let header = |key: &str| {
                    let headers = message.headers()?;
                    headers
                        .iter()
                        .find(|h| h.key == key)
                        .and_then(|h| std::str::from_utf8(h.value?).ok())
                };
                Some(Record::dead_letter(
                    topic,
                    partition,
                    offset,
                    header(dead_letter::headers::STAGE),
                    header(dead_letter::headers::ERROR_KIND),
                ))
            }
            kind => Record::parse(kind, topic, partition, offset, message.payload()?),
        }
    }
}

/// The live readers: one per topic, started on first demand, each feeding the hub.
pub struct Readers {
    config: ClientConfig,
    kinds: Arc<TopicKinds>,
    hub: Arc<Hub>,
    started: tokio::sync::Mutex<HashSet<String>>,
    shutdown: CancellationToken,
    on_bad_record: Arc<dyn Fn() + Send + Sync>,
}

impl std::fmt::Debug for Readers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readers").finish_non_exhaustive()
    }
}

impl Readers {
    pub fn new(
        config: ClientConfig,
        kinds: Arc<TopicKinds>,
        hub: Arc<Hub>,
        shutdown: CancellationToken,
        on_bad_record: Arc<dyn Fn() + Send + Sync>,
    ) -> Self {
        Self {
            config,
            kinds,
            hub,
            started: tokio::sync::Mutex::default(),
            shutdown,
            on_bad_record,
        }
    }

    /// The topics of `topics` that have no reader yet (the others are known to exist).
    pub async fn not_started(&self, topics: &HashSet<String>) -> Vec<String> {
        let started = self.started.lock().await;
        topics
            .iter()
            .filter(|topic| !started.contains(*topic))
            .cloned()
            .collect()
    }

    /// Makes sure a reader runs for each topic; returns once each has its start position in
    /// the hub. Topics must exist (checked by the caller).
    pub async fn ensure(&self, topics: &HashSet<String>) -> Result<(), KafkaError> {
        let mut started = self.started.lock().await;
        for topic in topics {
            if started.contains(topic) {
                continue;
            }
            let config = assign_only(self.config.clone(), "live");
            let name = topic.clone();
            let (consumer, partitions) = tokio::task::spawn_blocking(move || {
                let consumer: StreamConsumer = config.create()?;
                let partitions = watermarks(&consumer, &name)?.ok_or(KafkaError::MetadataFetch(
                    RDKafkaErrorCode::UnknownTopicOrPartition,
                ))?;
                let mut assignment = TopicPartitionList::new();
                for (partition, _, high) in &partitions {
                    assignment.add_partition_offset(&name, *partition, Offset::Offset(*high))?;
                }
                consumer.assign(&assignment)?;
                Ok::<_, KafkaError>((consumer, partitions))
            })
            .await
            .unwrap_or(Err(KafkaError::Canceled))?;
            for (partition, _, high) in partitions {
                self.hub.start_partition(topic, partition, high);
            }
            tokio::spawn(live(
                consumer,
                self.kinds.clone(),
                self.hub.clone(),
                self.shutdown.clone(),
                self.on_bad_record.clone(),
            ));
            started.insert(topic.clone());
        }
        Ok(())
    }
}

async fn live(
    consumer: StreamConsumer,
    kinds: Arc<TopicKinds>,
    hub: Arc<Hub>,
    shutdown: CancellationToken,
    on_bad_record: Arc<dyn Fn() + Send + Sync>,
) {
    loop {
        let message = tokio::select! {
            () = shutdown.cancelled() => return,
            message = consumer.recv() => message,
        };
        match message {
            Ok(message) => match kinds.record(&message) {
                Some(record) => hub.publish(&record),
                None => on_bad_record(),
            },
            Err(err) => {
                tracing::warn!(error = %err, "live reader: cannot fetch; retrying");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
}

/// Reads what a resuming client missed: every record from its position up to where its live
/// records begin, in order per partition, into `out`. Positions older than a partition's
/// retention start at its oldest record.
pub async fn catch_up(
    config: &ClientConfig,
    kinds: &TopicKinds,
    from: &Position,
    until: &Position,
    out: mpsc::Sender<Record>,
    shutdown: CancellationToken,
) -> Result<(), KafkaError> {
    let mut wanted: Vec<(String, i32, i64, i64)> = until
        .partitions()
        .filter_map(|(topic, partition, end)| {
            let start = from.next(topic, partition).unwrap_or(end);
            (start < end).then(|| (topic.to_owned(), partition, start, end))
        })
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let mut config = assign_only(config.clone(), "catch-up");
    // A position older than the retention starts at the oldest record still kept.
    config.set("auto.offset.reset", "earliest");
    let assignment = wanted.clone();
    let consumer = tokio::task::spawn_blocking(move || {
        let consumer: StreamConsumer = config.create()?;
        let mut list = TopicPartitionList::new();
        for (topic, partition, start, _) in &assignment {
            list.add_partition_offset(topic, *partition, Offset::Offset(*start))?;
        }
        consumer.assign(&list)?;
        Ok::<_, KafkaError>(consumer)
    })
    .await
    .unwrap_or(Err(KafkaError::Canceled))?;
    while !wanted.is_empty() {
        let message = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            message = tokio::time::timeout(IDLE, consumer.recv()) => message,
        };
        let Ok(message) = message else {
            // Nothing came: the rest of a partition may be transaction markers, which take
            // offsets but are never delivered. The consumer's position says how far it is.
            let position = consumer.position()?;
            wanted.retain(|(topic, partition, _, end)| {
                !matches!(
                    position.find_partition(topic, *partition).map(|p| p.offset()),
                    Some(Offset::Offset(next)) if next >= *end
                )
            });
            continue;
        };
        let message = message?;
        let (topic, partition, offset) = (message.topic(), message.partition(), message.offset());
        let Some(i) = wanted
            .iter()
            .position(|(t, p, _, _)| t == topic && *p == partition)
        else {
            continue;
        };
        let end = wanted[i].3;
        if offset < end {
            if let Some(record) = kinds.record(&message) {
                if out.send(record).await.is_err() {
                    return Ok(()); // the client went away
                }
            }
        }
        if offset.saturating_add(1) >= end {
            wanted.swap_remove(i);
        }
    }
    Ok(())
}
