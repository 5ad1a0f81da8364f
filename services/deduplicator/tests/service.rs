//! The deduplicator service on the real broker: verdicts survive restarts, instances share
//! their state, replays keep their verdict, corrections come out as a new revision.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

use std::collections::HashMap;
use std::time::{Duration, Instant};

use newsflow_core::StageContext;
use newsflow_core::event::{ContentType, NormalizedArticle, RawEvent};
use newsflow_core::normalize::NormalizeStage;
use newsflow_testkit::kafka::{Service, consume_all, fresh_topics, key};
use newsflow_testkit::{assert_valid, brokers, corpus_dir};
use rdkafka::ClientConfig;
use rdkafka::message::Message as _;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(90);

struct Topics {
    input: String,
    output: String,
    duplicates: String,
    state: String,
    dlq: String,
    group: String,
}

impl Topics {
    fn create(partitions: i32) -> Self {
        let ([input, output, duplicates, state, dlq], group) = fresh_topics(
            "dedup",
            ["normalized", "deduplicated", "duplicates", "state", "dlq"],
            partitions,
        );
        Topics {
            input,
            output,
            duplicates,
            state,
            dlq,
            group,
        }
    }

    fn start(&self) -> Service {
        Service::start(
            env!("CARGO_BIN_EXE_newsflow-deduplicator"),
            &[
                "--brokers",
                &brokers(),
                "--input-topic",
                &self.input,
                "--output-topic",
                &self.output,
                "--duplicates-topic",
                &self.duplicates,
                "--state-topic",
                &self.state,
                "--dlq-topic",
                &self.dlq,
                "--group-id",
                &self.group,
            ],
        )
    }

    fn send(&self, article: &NormalizedArticle, partition: i32) {
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", brokers())
            .create()
            .unwrap();
        let payload = serde_json::to_vec(article).unwrap();
        producer
            .send(
                BaseRecord::to(&self.input)
                    .key(&article.id)
                    .payload(&payload)
                    .partition(partition),
            )
            .unwrap();
        producer.flush(Duration::from_secs(20)).unwrap();
    }

    /// Every record of `topic` as (key, JSON), waiting for `expected` of them.
    fn read(&self, topic: &str, expected: usize) -> Vec<(String, Value)> {
        consume_all(topic, 2, expected, WAIT, Duration::from_millis(1500))
            .iter()
            .map(|m| {
                (
                    key(m),
                    serde_json::from_slice(m.payload().unwrap()).unwrap(),
                )
            })
            .collect()
    }
}

/// A corpus article, normalized, under `id`.
fn article(path: &str, id: &str) -> NormalizedArticle {
    let text = std::fs::read_to_string(corpus_dir().join(path)).unwrap();
    let raw = RawEvent {
        id: id.to_owned(),
        source: "test-wire".into(),
        url: None,
        fetched_at: None,
        ingested_at: None,
        content_type: ContentType::TextPlain,
        content: Some(text),
        content_base64: None,
        charset: None,
        hints: None,
    };
    let ctx = StageContext::at(chrono::Utc::now());
    NormalizeStage::default().normalize(raw, &ctx).unwrap()
}

fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn restart_replay_and_correction() {
    let topics = Topics::create(2);
    let original = article("bbc-2005/business/010.txt", "story-1");
    let first = topics.start();
    topics.send(&original, 0);
    assert_eq!(
        topics.read(&topics.output, 1).len(),
        1,
        "the original is unique"
    );
    first.signal("TERM");
    assert_eq!(first.wait(Duration::from_secs(40)), Some(0));

    // (1) A new instance restores the window: a copy sent now is still flagged.
    let second = topics.start();
    let mut copy = original.clone();
    copy.id = "copy-of-story-1".into();
    topics.send(&copy, 1);
    let notices = topics.read(&topics.duplicates, 1);
    assert_eq!(notices.len(), 1, "{notices:?}");
    let (id, notice) = &notices[0];
    assert_eq!(id, "copy-of-story-1");
    assert_eq!(notice["duplicate_of"], "story-1");
    assert_eq!(notice["kind"], "exact");
    assert_valid("duplicate-notice.v1.schema.json", notice);

    // (3) The original again (a replay): the same verdict, not a duplicate of itself.
    topics.send(&original, 0);
    // (4) A correction: the same id with new content comes out as revision 2.
    let mut corrected = original.clone();
    corrected
        .body
        .push("Correction: an earlier version of this story misstated a figure.".into());
    corrected.content_hash = format!("{:0>64}", "c0ffee");
    topics.send(&corrected, 0);

    let outputs = topics.read(&topics.output, 3);
    let revisions: Vec<(String, u64)> = outputs
        .iter()
        .map(|(id, a)| (id.clone(), a["revision"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        revisions,
        [
            ("story-1".to_owned(), 1),
            ("story-1".to_owned(), 1),
            ("story-1".to_owned(), 2)
        ],
        "original, replay with the same verdict, correction as revision 2"
    );
    for (_, article) in &outputs {
        assert_valid("deduplicated.v1.schema.json", article);
    }
    second.signal("TERM");
    assert_eq!(second.wait(Duration::from_secs(40)), Some(0));
}

#[test]
fn two_instances_share_their_state() {
    let topics = Topics::create(2);
    let (a, b) = (topics.start(), topics.start());
    let assigned = |s: &Service| s.counter("newsflow_assigned_partitions", "");
    wait_for("one partition each", || {
        assigned(&a) == 1.0 && assigned(&b) == 1.0
    });

    let original = article("bbc-2005/politics/020.txt", "politics-20");
    topics.send(&original, 0);
    assert_eq!(topics.read(&topics.output, 1).len(), 1);
    let follows = |s: &Service| s.counter("newsflow_state_records_total", "phase=\"follow\"");
    wait_for("both instances to follow the verdict's state", || {
        follows(&a) >= 1.0 && follows(&b) >= 1.0
    });

    // A near copy (a new headline and an editor's note) on the other partition, which the
    // other instance owns.
    let mut copy = original.clone();
    copy.id = "politics-20-syndicated".into();
    copy.title = Some("Syndicated: a different headline".into());
    copy.body
        .push("Editor's note: this story was first published by the BBC.".into());
    copy.content_hash = format!("{:0>64}", "abc123");
    topics.send(&copy, 1);
    let notices: HashMap<String, Value> = topics.read(&topics.duplicates, 1).into_iter().collect();
    let notice = &notices["politics-20-syndicated"];
    assert_eq!(notice["duplicate_of"], "politics-20");
    assert_eq!(notice["kind"], "near");
    assert!(notice["similarity"].as_f64().unwrap() > 0.7, "{notice}");
}
