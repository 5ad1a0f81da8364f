//! The clusterer on the real broker: the records `newsflow run --stories` gives for the same
//! input, exactly once through SIGKILLs with the state restored, and a second instance that
//! joins and leaves.
//!
//! The input: the first articles of the shared corpus's Ukraine-war set and BBC business
//! articles, taken through `newsflow run --stories` (the library's `pipeline::run`), whose
//! `--output` gives the enriched articles and duplicate notices to send and whose `--stories`
//! gives the records to expect.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use newsflow::input::Input;
use newsflow::pipeline::{RunOptions, run};
use newsflow_core::event::{DuplicateNotice, EnrichedArticle};
use newsflow_core::story::{Change, StoryRecord};
use newsflow_core::{Event, StageContext, StoryConfig, StoryStage};
use newsflow_testkit::kafka::{Service, consume_all, fresh_topics, header, key};
use newsflow_testkit::{assert_valid, brokers, corpus_dir, unique_name};
use rdkafka::ClientConfig;
use rdkafka::message::{Header, Message as _, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(120);

/// One service test at a time: each runs a clusterer on a two-core machine.
static SERIAL: Mutex<()> = Mutex::new(());

/// What the test sends, in order, and what `newsflow run --stories` made of it.
struct Fixture {
    events: Vec<Event>,
    /// The story records of each event, in order (from the story stage, checked equal to
    /// `newsflow run --stories`).
    records: Vec<Vec<StoryRecord>>,
}

fn files(dir: &str, take: usize) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(corpus_dir().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    paths.sort();
    paths.truncate(take);
    paths
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = std::env::temp_dir().join(unique_name("clusterer-fixture"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut inputs = files("ukraine-war", 120);
        inputs.extend(files("bbc-2005/business", 60));
        let options = RunOptions {
            inputs: inputs
                .iter()
                .map(|p| Input::parse(p.to_str().unwrap()))
                .collect(),
            output: Some(dir.join("out.jsonl")),
            dlq: Some(dir.join("dlq.jsonl")),
            stories: Some(dir.join("stories.jsonl")),
            ..RunOptions::default()
        };
        run(&options).unwrap();
        let lines = |name: &str| -> Vec<Value> {
            std::fs::read_to_string(dir.join(name))
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        };
        let events: Vec<Event> = lines("out.jsonl")
            .into_iter()
            .map(|v| {
                if v.get("duplicate_of").is_some() {
                    Event::DuplicateNotice(serde_json::from_value::<DuplicateNotice>(v).unwrap())
                } else {
                    Event::Enriched(serde_json::from_value::<EnrichedArticle>(v).unwrap())
                }
            })
            .collect();
        let expected: Vec<StoryRecord> = lines("stories.jsonl")
            .into_iter()
            .map(|v| serde_json::from_value(v).unwrap())
            .collect();
        let records = reference(&events);
        assert_eq!(
            records.concat(),
            expected,
            "the story stage over these events is newsflow run --stories"
        );
        let _ = std::fs::remove_dir_all(&dir);
        Fixture { events, records }
    })
}

/// The story stage's records of each event, in one process.
fn reference(events: &[Event]) -> Vec<Vec<StoryRecord>> {
    let mut stage = StoryStage::new(StoryConfig::default()).unwrap();
    let ctx = StageContext::at(chrono::Utc::now());
    events
        .iter()
        .map(|event| stage.process(event, &ctx).unwrap())
        .collect()
}

struct Topics {
    enriched: String,
    duplicates: String,
    stories: String,
    state: String,
    dlq: String,
    group: String,
    partitions: i32,
}

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

impl Topics {
    fn create(partitions: i32) -> Self {
        let ([enriched, duplicates, stories, state, dlq], group) = fresh_topics(
            "clusterer",
            ["enriched", "duplicates", "stories", "state", "dlq"],
            partitions,
        );
        Topics {
            enriched,
            duplicates,
            stories,
            state,
            dlq,
            group,
            partitions,
        }
    }

    /// An instance; `name` makes its transactional id (a restart keeps it).
    fn start(&self, name: &str) -> Service {
        let transactional_id = format!("{}.{name}", self.group);
        Service::start(
            env!("CARGO_BIN_EXE_newsflow-clusterer"),
            &[
                "--brokers",
                &brokers(),
                "--input-topic",
                &self.enriched,
                "--duplicates-topic",
                &self.duplicates,
                "--stories-topic",
                &self.stories,
                "--state-topic",
                &self.state,
                "--dlq-topic",
                &self.dlq,
                "--group-id",
                &self.group,
                "--transactional-id",
                &transactional_id,
            ],
        )
    }

    fn producer() -> BaseProducer {
        ClientConfig::new()
            .set("bootstrap.servers", brokers())
            .set("linger.ms", "5")
            .create()
            .unwrap()
    }

    /// Sends events with a `traceparent` and `ce_type` as the stages upstream do.
    fn send(&self, producer: &BaseProducer, events: &[Event]) {
        for (n, event) in events.iter().enumerate() {
            let topic = match event {
                Event::DuplicateNotice(_) => &self.duplicates,
                _ => &self.enriched,
            };
            let traceparent = format!("00-{TRACE_ID}-{:016x}-01", n + 1);
            let headers = OwnedHeaders::new()
                .insert(Header {
                    key: "ce_type",
                    value: Some(event.kind().cloudevents_type()),
                })
                .insert(Header {
                    key: "traceparent",
                    value: Some(traceparent.as_str()),
                });
            let payload = event.to_json().unwrap();
            producer
                .send(
                    BaseRecord::to(topic)
                        .key(event.id())
                        .payload(&payload)
                        .headers(headers),
                )
                .unwrap();
        }
        producer.flush(Duration::from_secs(30)).unwrap();
    }

    /// The story records published so far (read committed), waiting for `expected`.
    fn stories(&self, expected: usize, settle: Duration) -> Vec<OwnedMessage> {
        consume_all(&self.stories, self.partitions, expected, WAIT, settle)
    }
}

fn record(message: &OwnedMessage) -> StoryRecord {
    serde_json::from_slice(message.payload().unwrap()).unwrap()
}

/// How many records name each id as the article that joined or opened its story (the
/// survivor's record of a merge included, the absorbed stories' not).
fn placements(records: &[StoryRecord]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for record in records {
        let placed = match record.change {
            Change::Opened | Change::Joined => true,
            Change::Merged => record.story.merged_into.is_none(),
            Change::Expired => false,
        };
        if let (true, Some(id)) = (placed, &record.article_id) {
            *counts.entry(id.clone()).or_insert(0) += 1;
        }
    }
    counts
}

/// Every event in exactly one story's `opened`/`joined` record (or a merge's survivor's), and
/// nothing else placed.
fn assert_placed_once(records: &[StoryRecord], events: &[Event]) {
    let placed = placements(records);
    for event in events {
        assert_eq!(
            placed.get(event.id()),
            Some(&1),
            "{} placed once",
            event.id()
        );
    }
    assert_eq!(placed.len(), events.len(), "nothing else placed");
}

/// The latest record of each story: the state the topic keeps.
fn latest(records: &[StoryRecord]) -> BTreeMap<String, StoryRecord> {
    records
        .iter()
        .map(|r| (r.story.id.clone(), r.clone()))
        .collect()
}

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[test]
fn story_records_are_those_of_newsflow_run_with_headers_and_dead_letters() {
    let fixture = fixture();
    let _serial = serial();
    let topics = Topics::create(1);
    let service = topics.start("a");
    service.wait_ready(WAIT);
    let producer = Topics::producer();
    // Two input topics are read side by side: each run of events of one topic is sent once
    // everything before it was read, so the order is newsflow run's.
    let mut sent = 0;
    while sent < fixture.events.len() {
        let notice = |e: &Event| matches!(e, Event::DuplicateNotice(_));
        let first = notice(&fixture.events[sent]);
        let run = fixture.events[sent..]
            .iter()
            .take_while(|e| notice(e) == first)
            .count();
        topics.send(&producer, &fixture.events[sent..sent + run]);
        sent += run;
        let deadline = Instant::now() + WAIT;
        while (service.counter("newsflow_input_records_total", "") as usize) < sent {
            assert!(Instant::now() < deadline, "the clusterer read too little");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let expected = fixture.records.iter().map(Vec::len).sum::<usize>();
    let notices = fixture
        .events
        .iter()
        .filter(|e| matches!(e, Event::DuplicateNotice(_)))
        .count();
    println!("{} events ({notices} notices), {expected} records", sent);
    // Bad input: not JSON, and a notice on the articles' topic.
    producer
        .send(
            BaseRecord::to(&topics.enriched)
                .key("bad")
                .payload("{not json"),
        )
        .unwrap();
    producer.flush(Duration::from_secs(10)).unwrap();
    let dead = consume_all(&topics.dlq, 1, 1, WAIT, Duration::ZERO);
    assert_eq!(dead.len(), 1);
    assert_eq!(
        header(&dead[0], "x-newsflow-error-kind").as_deref(),
        Some("malformed_json")
    );
    assert_eq!(
        header(&dead[0], "x-newsflow-stage").as_deref(),
        Some("clusterer")
    );

    let messages = topics.stories(expected, Duration::from_secs(2));
    let records: Vec<StoryRecord> = messages.iter().map(record).collect();
    assert_eq!(records, fixture.records.concat());
    assert!(records.iter().any(|r| r.change == Change::Joined));
    for message in &messages {
        let value: Value = serde_json::from_slice(message.payload().unwrap()).unwrap();
        assert_valid("story.v1.schema.json", &value);
        assert_eq!(key(message), value["story"]["id"].as_str().unwrap());
        assert_eq!(
            header(message, "ce_type").as_deref(),
            Some("io.newsflow.story.v1")
        );
        assert_eq!(header(message, "ce_specversion").as_deref(), Some("1.0"));
        assert_eq!(
            header(message, "content-type").as_deref(),
            Some("application/json")
        );
        let trace = header(message, "traceparent").unwrap();
        assert!(trace.starts_with(&format!("00-{TRACE_ID}-")), "{trace}");
    }
    // The largest stories are refreshed every 5 s, as inputs come: one more input after
    // that, the first article again, which changes nothing and gives its story's record.
    std::thread::sleep(Duration::from_secs(5));
    topics.send(&producer, &fixture.events[..1]);
    let again = topics.stories(expected + 1, Duration::ZERO);
    let replay = record(&again[expected]);
    assert_eq!(replay.change, Change::Joined);
    assert_eq!(replay.article_id.as_deref(), Some(fixture.events[0].id()));
    let metrics = service.get("/metrics").unwrap().1;
    let opened = records
        .iter()
        .filter(|r| r.change == Change::Opened)
        .count();
    assert_eq!(
        service.counter("newsflow_story_records_total", "change=\"opened\""),
        opened as f64
    );
    assert!(metrics.contains("newsflow_stories_open "), "{metrics}");
    assert!(metrics.contains("newsflow_story_largest_articles{rank=\"1\""));
    assert!(metrics.contains("newsflow_state_restore_seconds"));
    service.signal("TERM");
    assert_eq!(service.wait(Duration::from_secs(40)), Some(0));
}

/// The enriched articles of the fixture (notices left out: two input topics are read side by
/// side, and only one topic keeps the order the comparison needs), and their records.
fn articles_only() -> (Vec<Event>, Vec<StoryRecord>) {
    let events: Vec<Event> = fixture()
        .events
        .iter()
        .filter(|e| matches!(e, Event::Enriched(_)))
        .cloned()
        .collect();
    let records = reference(&events).concat();
    (events, records)
}

#[test]
fn exactly_once_through_two_sigkills_with_the_state_restored() {
    let (events, reference) = articles_only();
    let _serial = serial();
    let topics = std::sync::Arc::new(Topics::create(1));
    let mut service = topics.start("a");
    service.wait_ready(WAIT);
    let started = Instant::now();
    // The articles trickle in (about 60 a second) while the clusterer is killed twice.
    let sender = std::thread::spawn({
        let (topics, events) = (topics.clone(), events.clone());
        move || {
            let producer = Topics::producer();
            for chunk in events.chunks(2) {
                topics.send(&producer, chunk);
                std::thread::sleep(Duration::from_millis(30));
            }
        }
    });
    for kill in 1..=2 {
        // Once its first records are out, at a moment when more are being made.
        let out = topics.stories(1 + 40 * (kill - 1), Duration::ZERO).len();
        std::thread::sleep(Duration::from_millis(400 + 300 * kill as u64));
        service.signal("KILL");
        service.wait_exit(Duration::from_secs(10));
        let committed = topics.stories(out, Duration::from_secs(1)).len();
        println!(
            "kill {kill} at {:.1} s: {committed} records committed of {} (at least {out} before)",
            started.elapsed().as_secs_f64(),
            reference.len()
        );
        assert!(committed < reference.len(), "killed mid-stream");
        service = topics.start("a");
    }
    sender.join().unwrap();
    service.wait_ready(WAIT);
    let records: Vec<StoryRecord> = topics
        .stories(reference.len(), Duration::from_secs(3))
        .iter()
        .map(record)
        .collect();
    println!(
        "{} records at {:.1} s",
        records.len(),
        started.elapsed().as_secs_f64()
    );
    assert_placed_once(&records, &events);
    assert_eq!(
        latest(&records),
        latest(&reference),
        "the stories are those of a run without kills"
    );
    assert_eq!(records, reference, "and so is every record");
    let restores = service.counter("newsflow_state_records_total", "phase=\"restore\"");
    assert!(restores > 0.0, "the last instance restored the state");
    service.signal("TERM");
    assert_eq!(service.wait(Duration::from_secs(40)), Some(0));
}

#[test]
fn a_second_instance_joins_and_leaves_nothing_lost_nothing_twice() {
    let (events, _) = articles_only();
    let _serial = serial();
    let topics = Topics::create(2);
    let first = topics.start("a");
    first.wait_ready(WAIT);
    let producer = Topics::producer();
    let thirds: Vec<&[Event]> = events.chunks(events.len().div_ceil(3)).collect();
    topics.send(&producer, thirds[0]);
    let second = topics.start("b");
    second.wait_ready(WAIT);
    let assigned = |s: &Service| s.counter("newsflow_assigned_partitions", "");
    let deadline = Instant::now() + WAIT;
    while assigned(&first) + assigned(&second) < 2.0 || assigned(&second) < 1.0 {
        assert!(
            Instant::now() < deadline,
            "the second instance took no partition"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    topics.send(&producer, thirds[1]);
    second.signal("TERM");
    assert_eq!(second.wait(Duration::from_secs(40)), Some(0));
    topics.send(&producer, thirds[2]);

    // Every article placed once; how they cluster depends on which instance saw what when.
    let deadline = Instant::now() + WAIT;
    let records = loop {
        let records: Vec<StoryRecord> = topics
            .stories(events.len(), Duration::from_secs(2))
            .iter()
            .map(record)
            .collect();
        let placed = placements(&records);
        if placed.len() == events.len() || Instant::now() > deadline {
            break records;
        }
    };
    assert_placed_once(&records, &events);
    let follows = first.counter("newsflow_state_records_total", "phase=\"follow\"");
    assert!(follows > 0.0, "the first instance followed the state");
    first.signal("TERM");
    assert_eq!(first.wait(Duration::from_secs(40)), Some(0));
}
