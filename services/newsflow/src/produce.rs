//! `newsflow produce`: INPUT files into a Kafka topic as raw events, optionally paced, repeated
//! for load (each repeat another story) and mixed with true copies.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;
use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use newsflow_core::Event;
use newsflow_core::decode::decode_bytes;
use newsflow_core::event::{ContentType, RawEvent};
use newsflow_runtime::envelope::{self, TraceParent};
use newsflow_runtime::flags::ClientArgs;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use rdkafka::types::RDKafkaErrorCode;

use crate::input::{Input, ReadOptions, ReadStats, read_inputs};
use crate::synth::{SentencePool, sentence_count};

/// What `newsflow produce` was asked to do.
#[derive(Debug, Clone)]
pub struct ProduceOptions {
    pub inputs: Vec<Input>,
    pub read: ReadOptions,
    pub topic: String,
    pub client: ClientArgs,
    /// Records per second; `None`: as fast as the broker takes them.
    pub rate: Option<f64>,
    pub repeat: u64,
    pub duplicate_ratio: f64,
    pub seed: u64,
}

/// What a produce run did.
#[derive(Debug, Clone, Default)]
pub struct ProduceSummary {
    pub read: ReadStats,
    pub rejected: u64,
    pub articles: u64,
    pub copies: u64,
    pub bytes: u64,
    pub elapsed: Duration,
}

/// The articles read from the inputs (rejected ones reported on stderr).
pub fn read_articles(options: &ProduceOptions, summary: &mut ProduceSummary) -> Vec<RawEvent> {
    let mut articles = Vec::new();
    let mut stats = ReadStats::default();
    let _ = read_inputs::<std::convert::Infallible>(
        &options.inputs,
        &options.read,
        &mut stats,
        |record| {
            match record.outcome {
                Ok(raw) => articles.push(raw),
                Err(rejected) => {
                    summary.rejected += 1;
                    eprintln!(
                        "newsflow produce: skipped {}{}: {}",
                        record.input.path,
                        record
                            .input
                            .line
                            .map(|l| format!(":{l}"))
                            .unwrap_or_default(),
                        rejected.rejection
                    );
                }
            }
            Ok(())
        },
    );
    summary.read = stats;
    articles
}

/// The text of a raw event's page (decoded when it came as bytes).
fn page_text(raw: &RawEvent) -> String {
    match (&raw.content, &raw.content_base64) {
        (Some(text), _) => text.clone(),
        (None, Some(encoded)) => {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map(|bytes| decode_bytes(&bytes, raw.charset.as_deref()).text)
                .unwrap_or_default()
        }
        (None, None) => String::new(),
    }
}

/// The `repeat`-th variant of `original` (0 is the original itself).
pub fn variant(original: &RawEvent, repeat: u64, pool: &SentencePool, seed: u64) -> RawEvent {
    if repeat == 0 {
        return original.clone();
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    std::hash::Hash::hash(&(seed, &original.id, repeat), &mut hasher);
    let article_seed = std::hash::Hasher::finish(&hasher);
    let sentences = sentence_count(&page_text(original)).max(8);
    RawEvent {
        id: format!("{}-r{repeat}", original.id),
        content_type: ContentType::TextPlain,
        content: Some(pool.article(article_seed, sentences)),
        content_base64: None,
        charset: None,
        url: None,
        hints: None,
        ..original.clone()
    }
}

/// Waits until the broker lists the topic with a leader for each of its partitions.
fn wait_for_topic(producer: &FutureProducer, topic: &str, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        // All topics: librdkafka answers a lookup of one unknown topic with a timeout.
        let metadata = producer
            .client()
            .fetch_metadata(None, left.max(Duration::from_secs(1)))
            .with_context(|| format!("cannot reach the brokers to look up topic {topic}"))?;
        let why = match metadata.topics().iter().find(|t| t.name() == topic) {
            None => "it does not exist".to_owned(),
            Some(t) => match t.error() {
                Some(code) => format!("{:?}", RDKafkaErrorCode::from(code)),
                None if t.partitions().iter().all(|p| p.leader() >= 0) => return Ok(()),
                None => "a partition has no leader".to_owned(),
            },
        };
        if Instant::now() >= deadline {
            anyhow::bail!(
                "topic {topic} is not available ({why}); create it first (`newsflow topics create`)"
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Sends every article; returns the figures of the run.
#[allow(clippy::too_many_lines)] // longer than 80 lines before the lint; to be split later
pub async fn produce(
    options: &ProduceOptions,
    articles: Vec<RawEvent>,
    mut summary: ProduceSummary,
) -> anyhow::Result<ProduceSummary> {
    let mut pool = SentencePool::default();
    if options.repeat > 1 {
        for article in articles
            .iter()
            .filter(|a| a.content_type == ContentType::TextPlain)
        {
            pool.add_text(&page_text(article));
        }
        anyhow::ensure!(
            pool.len() >= 50,
            "--repeat needs plain-text inputs with enough sentences to draw new stories from (found {})",
            pool.len()
        );
    }
    let mut config = options.client.client_config();
    // Defaults: a `--kafka-option` of the same name wins.
    for (key, value) in [
        ("enable.idempotence", "true"),
        ("linger.ms", "10"),
        ("message.max.bytes", "10485760"),
        ("client.id", "newsflow-produce"),
    ] {
        if config.get(key).is_none() {
            config.set(key, value);
        }
    }
    let producer: FutureProducer = config
        .create()
        .context("cannot create the Kafka producer")?;
    // Connect and look the topic up before the first record: records produced meanwhile would
    // wait in the client's queue and leave in one burst (with `--rate`, their timestamps, which
    // the pipeline's end-to-end latency starts from, would be older than the rate implies), and
    // an unreachable broker or a missing topic is reported now, by name.
    let lookup = producer.clone();
    let topic = options.topic.clone();
    tokio::task::spawn_blocking(move || wait_for_topic(&lookup, &topic, Duration::from_secs(10)))
        .await
        .context("the topic lookup did not finish")??;
    let mut rng = StdRng::seed_from_u64(options.seed);
    let mut pending = FuturesUnordered::new();
    let started = Instant::now();
    let mut sent = 0u64;
    let mut failures = 0u64;
    for repeat in 0..options.repeat {
        for original in &articles {
            let article = variant(original, repeat, &pool, options.seed);
            let copy = (options.duplicate_ratio > 0.0 && rng.random_bool(options.duplicate_ratio))
                .then(|| RawEvent {
                    id: format!("{}-copy{}", article.id, summary.copies),
                    ..article.clone()
                });
            if copy.is_some() {
                summary.copies += 1;
            }
            for event in std::iter::once(article).chain(copy) {
                if let Some(rate) = options.rate {
                    let due = started + Duration::from_secs_f64(sent as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                }
                let event = Event::Raw(event);
                let payload = event.to_json().context("cannot serialize a raw event")?;
                let ce_id = format!("{:032x}", rand::rng().random::<u128>());
                let headers = envelope::event_headers(
                    &event,
                    "produce",
                    &ce_id,
                    Utc::now(),
                    &TraceParent::new_root(),
                );
                let mut record = FutureRecord::to(&options.topic)
                    .key(event.id())
                    .payload(&payload)
                    .headers(headers);
                loop {
                    match producer.send_result(record) {
                        Ok(delivery) => {
                            pending.push(delivery);
                            break;
                        }
                        Err((
                            rdkafka::error::KafkaError::MessageProduction(
                                rdkafka::types::RDKafkaErrorCode::QueueFull,
                            ),
                            back,
                        )) => {
                            record = back;
                            // Let acknowledgements come in before trying again.
                            if let Some(result) = pending.next().await {
                                failures += u64::from(!matches!(result, Ok(Ok(_))));
                            }
                        }
                        Err((err, _)) => {
                            return Err(anyhow::anyhow!(err)
                                .context(format!("cannot produce to {}", options.topic)));
                        }
                    }
                }
                sent += 1;
                summary.bytes += payload.len() as u64;
                while pending.len() > 50_000 {
                    if let Some(result) = pending.next().await {
                        failures += u64::from(!matches!(result, Ok(Ok(_))));
                    }
                }
            }
        }
    }
    while let Some(result) = pending.next().await {
        if let Ok(Err((err, _))) = &result {
            eprintln!("newsflow produce: delivery failed: {err}");
        }
        failures += u64::from(!matches!(result, Ok(Ok(_))));
    }
    producer
        .flush(Duration::from_secs(30))
        .context("cannot flush the producer")?;
    summary.elapsed = started.elapsed();
    summary.articles = sent - summary.copies;
    anyhow::ensure!(
        failures == 0,
        "{failures} of {sent} records were not acknowledged by the broker"
    );
    Ok(summary)
}
