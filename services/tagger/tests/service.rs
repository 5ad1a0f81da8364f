//! The tagger service on the real broker: enriched articles on `news.enriched.v1` and on the
//! per-topic topic of each of their tags, schema-valid; a taxonomy file changed while it runs
//! takes effect without a restart (with the new topic's Kafka topic created), and a bad file
//! leaves the previous taxonomy in force.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use newsflow_core::stage::Chain;
use newsflow_core::tag::DEFAULT_TAXONOMY_YAML;
use newsflow_core::{DedupConfig, DedupStage, Event, NormalizeStage, Route, StageContext};
use newsflow_testkit::kafka::{Service, consume_all, create_topics, headers, key};
use newsflow_testkit::{assert_valid, brokers, corpus_dir, unique_name};
use rdkafka::ClientConfig;
use rdkafka::message::{Message as _, OwnedMessage};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
use serde_json::Value;

/// `news.deduplicated.v1` payloads for these (id, text) pairs, made by the real upstream
/// stages.
fn deduplicated(articles: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    let mut chain = Chain::new(vec![
        Box::new(NormalizeStage::default()),
        Box::new(DedupStage::new(DedupConfig::default()).unwrap()),
    ])
    .unwrap();
    let ctx = StageContext::at(Utc::now());
    articles
        .iter()
        .map(|(id, text)| {
            let raw = serde_json::json!({
                "id": id, "source": "test-wire", "content_type": "text/plain", "content": text,
            });
            let raw: newsflow_core::RawEvent = serde_json::from_value(raw).unwrap();
            let emits = chain.process(Event::Raw(raw), &ctx).unwrap();
            assert_eq!(emits.len(), 1, "{id}: one deduplicated article");
            assert!(emits[0].route == Route::PRIMARY, "{id}: unique");
            ((*id).to_owned(), emits[0].event.to_json().unwrap())
        })
        .collect()
}

fn send(topic: &str, records: &[(String, Vec<u8>)]) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .unwrap();
    for (id, payload) in records {
        producer
            .send(BaseRecord::to(topic).key(id).payload(payload))
            .unwrap();
    }
    producer.flush(Duration::from_secs(20)).unwrap();
}

fn json(message: &OwnedMessage) -> Value {
    serde_json::from_slice(message.payload().unwrap()).unwrap()
}

fn topic_ids(article: &Value) -> Vec<String> {
    article["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

fn wait_for_counter(service: &Service, name: &str, labels: &str, at_least: f64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while service.counter(name, labels) < at_least {
        assert!(
            Instant::now() < deadline,
            "{name}{{{labels}}} did not reach {at_least}: {}",
            service.counter(name, labels)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A topic the edited taxonomy adds: anything about harbours.
const HARBOUR_TOPIC: &str = r#"
  - id: harbour-news
    label: Harbour news
    iptc: [medtop:20000263]
    threshold: 1
    terms:
      - {term: harbour, weight: 2, aliases: [harbor, port authority]}
"#;

#[test]
fn tags_reach_enriched_and_per_topic_topics_and_taxonomy_changes_apply_live() {
    let prefix = unique_name("tagger");
    let (input, output, dlq) = (
        format!("{prefix}.deduplicated"),
        format!("{prefix}.enriched"),
        format!("{prefix}.dlq"),
    );
    let tag_prefix = format!("{prefix}.");
    let per_topic = |id: &str| format!("{tag_prefix}news.topic.{id}.v1");
    create_topics(&[input.clone(), output.clone(), dlq.clone()], 2);

    let dir = tempfile::tempdir().unwrap();
    let taxonomy = dir.path().join("taxonomy.yaml");
    std::fs::write(&taxonomy, DEFAULT_TAXONOMY_YAML).unwrap();

    let seed = std::fs::read_to_string(corpus_dir().join("seed/upi-2022-06-16-xi-putin-call.txt"))
        .unwrap();
    let bbc = std::fs::read_to_string(corpus_dir().join("bbc-2005/business/001.txt")).unwrap();
    let harbour = "Harbour reopens after repairs\n\nThe harbour reopened on Monday after repairs \
to the main quay, the port authority said. Fishing boats returned to their moorings by noon.";

    let service = Service::start(
        env!("CARGO_BIN_EXE_newsflow-tagger"),
        &[
            "--brokers",
            &brokers(),
            "--input-topic",
            &input,
            "--output-topic",
            &output,
            "--dlq-topic",
            &dlq,
            "--group-id",
            &prefix,
            "--tag-topic-prefix",
            &tag_prefix,
            "--taxonomy",
            taxonomy.to_str().unwrap(),
            "--taxonomy-poll",
            "200ms",
        ],
    );
    service.wait_ready(Duration::from_secs(60));

    // 1. The built-in rules: the seed page is about the war and China–Russia relations.
    send(
        &input,
        &deduplicated(&[("seed", &seed), ("bbc", &bbc), ("harbour-1", harbour)]),
    );
    let enriched = consume_all(
        &output,
        2,
        3,
        Duration::from_secs(60),
        Duration::from_millis(500),
    );
    assert_eq!(enriched.len(), 3);
    let by_id: HashMap<String, Value> = enriched.iter().map(|m| (key(m), json(m))).collect();
    for article in by_id.values() {
        assert_valid("enriched.v1.schema.json", article);
        assert_eq!(article["taxonomy_version"], "2026.12.4");
    }
    let seed_topics = topic_ids(&by_id["seed"]);
    for id in ["ukraine-war", "china-russia-relations"] {
        assert!(
            seed_topics.contains(&id.to_owned()),
            "seed lacks {id}: {seed_topics:?}"
        );
    }
    assert!(!topic_ids(&by_id["harbour-1"]).contains(&"harbour-news".to_owned()));
    for message in &enriched {
        assert_eq!(
            headers(message)["ce_type"],
            "io.newsflow.article.enriched.v1"
        );
    }
    // Every tag of every article is on its topic's stream, and nothing else is.
    let mut expected: HashMap<String, Vec<String>> = HashMap::new();
    for (id, article) in &by_id {
        for topic in topic_ids(article) {
            expected.entry(topic).or_default().push(id.clone());
        }
    }
    for (topic, mut ids) in expected {
        let copies = consume_all(
            &per_topic(&topic),
            6,
            ids.len(),
            Duration::from_secs(30),
            Duration::from_millis(500),
        );
        let mut got: Vec<String> = copies.iter().map(key).collect();
        got.sort();
        ids.sort();
        assert_eq!(got, ids, "news.topic.{topic}.v1");
        for copy in &copies {
            assert_valid("enriched.v1.schema.json", &json(copy));
        }
    }
    assert_eq!(
        service.counter("newsflow_tags_total", "topic=\"ukraine-war\""),
        1.0
    );

    // 2. An editor adds a topic: it applies without a restart, and its topic is created.
    let edited = DEFAULT_TAXONOMY_YAML
        .replace("version: \"2026.12.4\"", "version: \"2026.12.4-harbour\"")
        + HARBOUR_TOPIC;
    std::fs::write(&taxonomy, &edited).unwrap();
    wait_for_counter(
        &service,
        "newsflow_taxonomy_reloads_total",
        "outcome=\"ok\"",
        1.0,
    );
    send(&input, &deduplicated(&[("harbour-2", harbour)]));
    let copies = consume_all(
        &per_topic("harbour-news"),
        6,
        1,
        Duration::from_secs(30),
        Duration::from_millis(500),
    );
    assert_eq!(copies.iter().map(key).collect::<Vec<_>>(), ["harbour-2"]);
    assert_eq!(json(&copies[0])["taxonomy_version"], "2026.12.4-harbour");

    // 3. A bad edit is rejected with a metric; the previous taxonomy stays in force.
    std::fs::write(
        &taxonomy,
        edited.replace("threshold: 1\n", "threshold: many\n"),
    )
    .unwrap();
    wait_for_counter(
        &service,
        "newsflow_taxonomy_reloads_total",
        "outcome=\"error\"",
        1.0,
    );
    send(&input, &deduplicated(&[("harbour-3", harbour)]));
    let copies = consume_all(
        &per_topic("harbour-news"),
        6,
        2,
        Duration::from_secs(30),
        Duration::from_millis(500),
    );
    let last = copies
        .iter()
        .find(|m| key(m) == "harbour-3")
        .expect("harbour-3 is still tagged");
    assert_eq!(json(last)["taxonomy_version"], "2026.12.4-harbour");

    service.signal("TERM");
    assert_eq!(service.wait(Duration::from_secs(40)), Some(0));
}
