//! A stateful stage on the real broker: its state is published to a compacted topic with its
//! outputs, restored in full by a new instance before it takes input, and followed by every
//! instance of the group. On librdkafka's mock cluster (which can fail a request on demand): an
//! aborted transaction is redone in place, its state records written again; a state topic the
//! service may not read is reported as such.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

use std::collections::HashSet;
use std::time::{Duration, Instant};

use newsflow_core::event::RawEvent;
use newsflow_core::stage::{INPUT, PRIMARY};
use newsflow_core::topics::RAW;
use newsflow_core::{
    Emit, Event, EventKind, Port, Rejection, Route, Stage, StageContext, StageError, StateChange,
};
use newsflow_runtime::metrics::RunnerMetrics;
use newsflow_runtime::{Guarantee, Runner, RunnerConfig, TopicBinding};
use newsflow_testkit::kafka::{consume_all_on, create_topics, key};
use newsflow_testkit::{brokers, unique_name};
use rdkafka::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, DefaultProducerContext, Producer as _};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use tokio_util::sync::CancellationToken;

/// Passes each id on the first time only; the ids seen are its state.
#[derive(Default)]
struct FirstSeen {
    seen: HashSet<String>,
    changes: Vec<StateChange>,
}

impl Stage for FirstSeen {
    fn name(&self) -> &'static str {
        "first-seen"
    }
    fn inputs(&self) -> &'static [Port] {
        const { &[Port::new(INPUT, EventKind::Raw, RAW)] }
    }
    fn outputs(&self) -> &'static [Port] {
        const { &[Port::new(PRIMARY, EventKind::Raw, RAW)] }
    }
    fn process(&mut self, event: Event, _ctx: &StageContext) -> Result<Vec<Emit>, StageError> {
        let id = event.id().to_owned();
        if !self.seen.insert(id.clone()) {
            return Ok(Vec::new());
        }
        self.changes.push(StateChange {
            key: id,
            value: Some(b"seen".to_vec()),
        });
        Ok(vec![Emit::new(Route::PRIMARY, event)])
    }
    fn is_stateful(&self) -> bool {
        true
    }
    fn take_state_changes(&mut self) -> Vec<StateChange> {
        std::mem::take(&mut self.changes)
    }
    fn restore_state(&mut self, key: &str, value: Option<&[u8]>) -> Result<(), Rejection> {
        match value {
            Some(_) => self.seen.insert(key.to_owned()),
            None => self.seen.remove(key),
        };
        Ok(())
    }
}

struct Topics {
    brokers: String,
    input: String,
    output: String,
    state: String,
    dlq: String,
    group: String,
}

impl Topics {
    fn create() -> Self {
        let prefix = unique_name("state");
        let topics = Topics {
            brokers: brokers(),
            input: format!("{prefix}.in"),
            output: format!("{prefix}.out"),
            state: format!("{prefix}.state"),
            dlq: format!("{prefix}.dlq"),
            group: format!("{prefix}.group"),
        };
        create_topics(
            &[
                topics.input.clone(),
                topics.output.clone(),
                topics.state.clone(),
                topics.dlq.clone(),
            ],
            2,
        );
        topics
    }

    /// The same topics on a mock cluster.
    fn on_mock(cluster: &MockCluster<'static, DefaultProducerContext>) -> Self {
        let prefix = unique_name("mock");
        let topics = Topics {
            brokers: cluster.bootstrap_servers(),
            input: format!("{prefix}.in"),
            output: format!("{prefix}.out"),
            state: format!("{prefix}.state"),
            dlq: format!("{prefix}.dlq"),
            group: format!("{prefix}.group"),
        };
        for topic in [&topics.input, &topics.output, &topics.state, &topics.dlq] {
            cluster.create_topic(topic, 2, 1).unwrap();
        }
        topics
    }

    fn config(&self, instance: &str) -> RunnerConfig {
        RunnerConfig {
            service: "first-seen",
            brokers: self.brokers.clone(),
            group_id: self.group.clone(),
            inputs: vec![TopicBinding::named(INPUT, "input_topic", &self.input)],
            outputs: vec![TopicBinding::named(PRIMARY, "output_topic", &self.output)],
            state_topic: Some(self.state.clone()),
            extra: Vec::new(),
            dlq_topic: self.dlq.clone(),
            admin_addr: "127.0.0.1:0".parse().unwrap(),
            kafka_options: vec![
                newsflow_runtime::flags::parse_kafka_option("session.timeout.ms=6000").unwrap(),
                newsflow_runtime::flags::parse_kafka_option("heartbeat.interval.ms=1000").unwrap(),
            ],
            max_in_flight: 100,
            drain_timeout: Duration::from_secs(10),
            retry_timeout: Duration::from_secs(10),
            dlq_max_bytes: 1 << 20,
            guarantee: Guarantee::ExactlyOnce,
            transactional_id: format!("{}.{instance}", self.group),
            commit_interval: Duration::from_millis(100),
            transaction_timeout: Duration::from_secs(10),
        }
    }

    /// Sends an article with `id` to `partition` of the input topic.
    fn send(&self, id: &str, partition: i32) {
        tokio::task::block_in_place(|| self.send_blocking(id, partition));
    }

    fn send_blocking(&self, id: &str, partition: i32) {
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .create()
            .unwrap();
        let raw = Event::Raw(RawEvent::plain_text(id, "test", "text"));
        let payload = raw.to_json().unwrap();
        producer
            .send(
                BaseRecord::to(&self.input)
                    .key(id)
                    .payload(&payload)
                    .partition(partition),
            )
            .unwrap();
        producer.flush(Duration::from_secs(20)).unwrap();
    }

    fn output_ids(&self, expected: usize) -> Vec<String> {
        self.ids(&self.output, expected)
    }

    /// The keys of `topic` (read committed), once `expected` arrived and a little after.
    fn ids(&self, topic: &str, expected: usize) -> Vec<String> {
        consume_all_on(
            &self.brokers,
            topic,
            2,
            expected,
            Duration::from_secs(60),
            Duration::from_millis(1500),
        )
        .iter()
        .map(key)
        .collect()
    }
}

/// Starts a runner in the background; returns its stop token, metrics and task.
fn start(
    topics: &Topics,
    instance: &str,
) -> (
    CancellationToken,
    RunnerMetrics,
    tokio::task::JoinHandle<Result<(), newsflow_runtime::RunnerError>>,
) {
    let runner = Runner::new(topics.config(instance), FirstSeen::default()).unwrap();
    let metrics = runner.metrics().clone();
    let stop = CancellationToken::new();
    let task = tokio::spawn(runner.run(stop.clone()));
    (stop, metrics, task)
}

async fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn counter(metrics: &RunnerMetrics, phase: &str) -> u64 {
    metrics.state_records.with_label_values(&[phase]).get()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_instance_restores_the_state_before_taking_input() {
    let topics = Topics::create();
    let (stop, metrics, task) = start(&topics, "one");
    topics.send("a", 0);
    let (ready, out) = (metrics.clone(), topics.output.clone());
    wait_for("the first output", move || {
        ready.produced.with_label_values(&[&out, "primary"]).get() == 1
    })
    .await;
    stop.cancel();
    task.await.unwrap().unwrap();

    // A new instance: "a" again must be recognised from the restored state; "b" is new.
    let (stop, metrics, task) = start(&topics, "one");
    topics.send("a", 0);
    topics.send("b", 1);
    let ids = topics.output_ids(2);
    assert_eq!(ids.iter().filter(|id| *id == "a").count(), 1, "{ids:?}");
    assert_eq!(ids.iter().filter(|id| *id == "b").count(), 1, "{ids:?}");
    assert!(counter(&metrics, "restore") >= 1, "the state was restored");
    assert!(metrics.state_restore_seconds.get() > 0.0);
    stop.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_of_one_group_follow_each_others_state() {
    let topics = Topics::create();
    let (stop_1, metrics_1, task_1) = start(&topics, "one");
    let (stop_2, metrics_2, task_2) = start(&topics, "two");
    // Both joined, one partition each.
    let (m1, m2) = (metrics_1.clone(), metrics_2.clone());
    wait_for("one partition each", move || {
        m1.assigned_partitions.get() == 1 && m2.assigned_partitions.get() == 1
    })
    .await;

    topics.send("x", 0);
    let (m1, m2) = (metrics_1.clone(), metrics_2.clone());
    wait_for("both instances to see x's state", move || {
        counter(&m1, "follow") >= 1 && counter(&m2, "follow") >= 1
    })
    .await;
    // The same id on the other partition, owned by the other instance.
    topics.send("x", 1);
    let ids = topics.output_ids(1);
    assert_eq!(
        ids,
        ["x"],
        "the second instance knew x from the first one's state"
    );
    stop_1.cancel();
    stop_2.cancel();
    task_1.await.unwrap().unwrap();
    task_2.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborted_transaction_is_redone_in_place_with_its_state() {
    let cluster = MockCluster::new(1).unwrap();
    let topics = Topics::on_mock(&cluster);
    // The first offsets sent to a transaction fail as if the group had forgotten this member
    // (what a broker restart does): the transaction must be aborted.
    cluster.request_errors(
        RDKafkaApiKey::TxnOffsetCommit,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID],
    );
    let (stop, metrics, task) = start(&topics, "one");
    for (id, partition) in [("a", 0), ("b", 0), ("c", 1), ("d", 1)] {
        topics.send(id, partition);
    }

    let mut ids = topics.output_ids(4);
    ids.sort();
    assert_eq!(
        ids,
        ["a", "b", "c", "d"],
        "each output once, read committed"
    );
    let mut state = topics.ids(&topics.state, 4);
    state.sort();
    state.dedup();
    assert_eq!(state, ["a", "b", "c", "d"], "the state of the redone batch");
    let outcome = |o: &str| metrics.transactions.with_label_values(&[o]).get();
    assert_eq!(outcome("aborted"), 1);
    assert!(outcome("committed") >= 1);
    stop.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_topic_the_service_may_not_read_is_named_as_such() {
    let cluster = MockCluster::new(1).unwrap();
    let topics = Topics::on_mock(&cluster);
    cluster
        .topic_error(
            &topics.state,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        )
        .unwrap();
    let (_stop, _metrics, task) = start(&topics, "one");
    let outcome = tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("the service stops at once")
        .unwrap();
    let message = format!("{:#}", outcome.expect_err("the service cannot start"));
    assert!(
        message.contains(&format!("state topic {}", topics.state))
            && message.contains("TopicAuthorizationFailed"),
        "{message}"
    );
    assert!(!message.contains("does not exist"), "{message}");
}
