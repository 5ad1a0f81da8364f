//! The transaction logic against a fake producer: no broker.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, ConsumerGroupMetadata};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::topic_partition_list::TopicPartitionList;

use super::*;
use crate::admin::Health;
use crate::client::FatalSignal;
use crate::envelope::InputPosition;
use crate::output::Input;

/// Records every call; each call's result is the next one scripted for it, else success.
#[derive(Clone, Default)]
struct Fake {
    log: Arc<Mutex<FakeLog>>,
}

#[derive(Default)]
struct FakeLog {
    calls: Vec<&'static str>,
    offsets: Vec<(String, i32, i64)>,
    scripted: HashMap<&'static str, VecDeque<Result<(), KafkaFailure>>>,
}

impl Fake {
    fn script(&self, call: &'static str, results: Vec<Result<(), KafkaFailure>>) {
        self.log().scripted.insert(call, results.into());
    }

    fn log(&self) -> MutexGuard<'_, FakeLog> {
        self.log.lock().unwrap()
    }

    fn call(&self, name: &'static str) -> Result<(), KafkaFailure> {
        let mut log = self.log();
        log.calls.push(name);
        log.scripted
            .get_mut(name)
            .and_then(VecDeque::pop_front)
            .unwrap_or(Ok(()))
    }

    fn calls(&self) -> Vec<&'static str> {
        self.log().calls.clone()
    }
}

impl TransactionalProducer for Fake {
    fn init(&self, _timeout: Duration) -> Result<(), KafkaFailure> {
        self.call("init")
    }
    fn begin(&self) -> Result<(), KafkaFailure> {
        self.call("begin")
    }
    fn send_offsets(
        &self,
        offsets: &TopicPartitionList,
        _group: &ConsumerGroupMetadata,
        _timeout: Duration,
    ) -> Result<(), KafkaFailure> {
        let mut sent: Vec<_> = offsets
            .elements()
            .iter()
            .map(|e| {
                (
                    e.topic().to_owned(),
                    e.partition(),
                    e.offset().to_raw().unwrap_or(-1),
                )
            })
            .collect();
        sent.sort();
        self.log().offsets = sent;
        self.call("send_offsets")
    }
    fn commit(&self, _timeout: Duration) -> Result<(), KafkaFailure> {
        self.call("commit")
    }
    fn abort(&self, _timeout: Duration) -> Result<(), KafkaFailure> {
        self.call("abort")
    }
    fn in_flight(&self) -> i32 {
        0
    }
}

fn failure(code: RDKafkaErrorCode, retriable: bool) -> KafkaFailure {
    KafkaFailure {
        code: Some(code),
        message: format!("{code:?}"),
        retriable,
        fatal: false,
    }
}

/// A consumer that never connects: only its group metadata is used.
fn consumer(metrics: &RunnerMetrics) -> BaseConsumer<RunnerContext> {
    let context = RunnerContext::new(
        Arc::new(Health::new(metrics.clone(), false)),
        metrics.clone(),
        None,
        Arc::new(FatalSignal::default()),
    );
    ClientConfig::new()
        .set("bootstrap.servers", "127.0.0.1:1")
        .set("group.id", "g")
        .create_with_context(context)
        .unwrap()
}

struct Subject {
    fake: Fake,
    metrics: RunnerMetrics,
    delivery: ExactlyOnce<Fake>,
    consumer: BaseConsumer<RunnerContext>,
}

fn subject() -> Subject {
    subject_with_timeout(Duration::from_secs(10))
}

fn subject_with_timeout(transaction_timeout: Duration) -> Subject {
    let fake = Fake::default();
    let metrics = RunnerMetrics::new("t");
    let transaction = Arc::new(Transaction::new(
        fake.clone(),
        transaction_timeout,
        Duration::from_secs(5),
        metrics.clone(),
    ));
    let delivery = ExactlyOnce::new(transaction, Duration::from_secs(60), 100, metrics.clone());
    let consumer = consumer(&metrics);
    Subject {
        fake,
        metrics,
        delivery,
        consumer,
    }
}

/// One input at `partition`/`offset` with one article output and, when given, a state record.
fn sent(partition: i32, offset: i64, state: Option<&str>) -> Sent {
    Sent {
        input: Some(Input {
            position: InputPosition {
                topic: "in".into(),
                partition,
                offset,
            },
            read_at: Instant::now(),
        }),
        outputs: vec![Output {
            topic: "out".into(),
            label: "primary",
            ingested_at: None,
            ack: None,
        }],
        state: state
            .map(|key| StateWrite {
                topic: "state".into(),
                key: key.into(),
                value: Some(b"v".to_vec()),
            })
            .into_iter()
            .collect(),
    }
}

impl Subject {
    fn add(&mut self, sent: Sent) {
        self.delivery.begin().unwrap();
        self.delivery.add(sent);
    }

    fn commit(&mut self) -> Result<(), RunnerError> {
        self.delivery.commit(&self.consumer, true)
    }

    fn outcome(&self, outcome: &str) -> u64 {
        self.metrics
            .transactions
            .with_label_values(&[outcome])
            .get()
    }
}

#[test]
fn a_batch_commits_with_the_offsets_after_each_partitions_last_input() {
    let mut s = subject();
    s.add(sent(0, 5, None));
    s.add(sent(0, 6, None));
    s.add(sent(1, 9, None));
    assert_eq!(s.metrics.in_flight.get(), 3);
    s.commit().unwrap();
    assert_eq!(s.fake.calls(), ["begin", "send_offsets", "commit"]);
    assert_eq!(
        s.fake.log().offsets,
        [("in".to_owned(), 0, 7), ("in".to_owned(), 1, 10)]
    );
    assert_eq!(s.outcome("committed"), 1);
    assert_eq!(s.metrics.in_flight.get(), 0);
    assert_eq!(
        s.metrics
            .produced
            .with_label_values(&["out", "primary"])
            .get(),
        3,
        "outputs count once committed"
    );
    s.commit().unwrap();
    assert_eq!(s.fake.calls().len(), 3, "nothing open: nothing to commit");
}

#[test]
fn outputs_do_not_count_before_the_commit_and_a_due_batch_commits() {
    let mut s = subject();
    s.add(sent(0, 1, None));
    s.delivery.commit(&s.consumer, false).unwrap();
    assert_eq!(s.outcome("committed"), 0, "neither due nor full");
    assert_eq!(
        s.metrics
            .produced
            .with_label_values(&["out", "primary"])
            .get(),
        0
    );
    s.delivery.interval = Duration::ZERO;
    s.delivery.commit(&s.consumer, false).unwrap();
    assert_eq!(s.outcome("committed"), 1, "due");
}

#[test]
fn a_retriable_failure_is_retried_until_the_commit_succeeds() {
    let mut s = subject();
    s.fake.script(
        "commit",
        vec![Err(failure(RDKafkaErrorCode::RequestTimedOut, true))],
    );
    s.add(sent(0, 1, None));
    s.commit().unwrap();
    assert_eq!(
        s.fake.calls(),
        ["begin", "send_offsets", "commit", "commit"]
    );
    assert_eq!((s.outcome("committed"), s.outcome("aborted")), (1, 0));
}

#[test]
fn a_failed_commit_is_aborted_and_its_batch_redone_with_its_state() {
    let mut s = subject();
    s.fake.script(
        "send_offsets",
        vec![Err(failure(RDKafkaErrorCode::UnknownMemberId, false))],
    );
    s.add(sent(0, 4, Some("a")));
    s.add(sent(0, 5, Some("b")));
    s.commit().unwrap();
    assert_eq!(s.fake.calls(), ["begin", "send_offsets", "abort"]);
    assert_eq!(s.outcome("aborted"), 1);
    assert_eq!(s.metrics.in_flight.get(), 0);
    let redo = s.delivery.redo().unwrap().expect("a batch to redo");
    assert_eq!(redo.rewind, [("in".to_owned(), 0, 4)]);
    let keys: Vec<_> = redo.state.iter().map(|w| w.key.as_str()).collect();
    assert_eq!(keys, ["a", "b"]);
    assert_eq!(s.delivery.redo().unwrap(), None, "taken once");
    s.add(sent(0, 4, None));
    s.commit().unwrap();
    assert_eq!(s.outcome("committed"), 1, "the next transaction goes on");
}

/// A delivery that stays outstanding: a record sent by a producer with no broker to reach.
fn outstanding_delivery() -> (FutureProducer, DeliveryFuture) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", "127.0.0.1:1")
        .set("message.timeout.ms", "600000")
        .create()
        .unwrap();
    let ack = producer
        .send_result(FutureRecord::to("out").key("k").payload("v"))
        .map_err(|(err, _)| err)
        .unwrap();
    (producer, ack)
}

#[test]
fn deliveries_are_awaited_until_the_deadline_only() {
    let past = Instant::now();
    assert!(settled_by(Vec::<futures::future::Ready<()>>::new(), past));
    assert!(settled_by(vec![futures::future::ready(())], past));
    let deadline = Instant::now() + Duration::from_millis(300);
    assert!(!settled_by(
        vec![futures::future::pending::<()>()],
        deadline
    ));
    let now = Instant::now();
    assert!(now >= deadline, "returned before the deadline");
    assert!(
        now < deadline + Duration::from_secs(5),
        "waited past the deadline"
    );
}

#[test]
fn records_unacknowledged_past_three_quarters_of_the_timeout_abort_the_batch_for_a_redo() {
    // Once, after a broker outage, records stayed unacknowledged until their message timeout
    // (the transaction timeout): the coordinator had rolled the transaction back by then,
    // which fenced the producer, and the runner stopped. Now the wait ends while an abort
    // can still reach the coordinator, and the batch is redone.
    let mut s = subject_with_timeout(Duration::from_secs(4));
    let (_producer, ack) = outstanding_delivery();
    let mut stuck = sent(0, 7, Some("a"));
    stuck.outputs[0].ack = Some(ack);
    s.add(stuck);
    let began = Instant::now();
    s.commit().unwrap();
    let waited = began.elapsed();
    // Not the record's own timeout (10 min), nor the transaction timeout (4 s): 3 s.
    assert!(
        waited >= Duration::from_millis(2900) && waited < Duration::from_millis(3800),
        "waited {waited:?}, not until 3 s (three quarters of 4 s)"
    );
    assert_eq!(s.fake.calls(), ["begin", "abort"], "never committed");
    assert_eq!((s.outcome("committed"), s.outcome("aborted")), (0, 1));
    let redo = s.delivery.redo().unwrap().expect("a batch to redo");
    assert_eq!(redo.rewind, [("in".to_owned(), 0, 7)]);
    assert_eq!(redo.state.len(), 1, "its state is written again");
}

#[test]
fn a_fenced_producer_stops_the_runner_and_names_the_transactional_id() {
    let mut s = subject();
    s.fake.script(
        "commit",
        vec![Err(failure(RDKafkaErrorCode::ProducerFenced, false))],
    );
    s.add(sent(0, 1, None));
    let err = s.commit().unwrap_err();
    assert!(err.is_fatal(), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("a transaction of 1 inputs failed"),
        "{message}"
    );
    assert!(message.contains("--transactional-id"), "{message}");
    assert!(
        !s.fake.calls().contains(&"abort"),
        "a fenced producer cannot abort"
    );
    assert!(matches!(s.delivery.redo(), Err(RunnerError::Failed(_))));
    assert!(
        s.delivery.begin().is_err(),
        "no transaction after a failure"
    );
}

#[test]
fn a_failed_abort_or_five_aborts_in_a_row_stop_the_runner() {
    let mut s = subject();
    let lost = || Err(failure(RDKafkaErrorCode::UnknownMemberId, false));
    s.fake
        .script("send_offsets", (0..5).map(|_| lost()).collect());
    for round in 1..=5 {
        s.add(sent(0, round, None));
        let result = s.commit();
        if round < 5 {
            result.unwrap();
            s.delivery.redo().unwrap();
        } else {
            let message = result.unwrap_err().to_string();
            assert!(message.contains("5 transactions in a row"), "{message}");
        }
    }

    let mut s = subject();
    s.fake.script("commit", vec![lost()]);
    s.fake.script("abort", vec![lost()]);
    s.add(sent(0, 1, None));
    let message = s.commit().unwrap_err().to_string();
    assert!(message.contains("aborting it failed too"), "{message}");
}

#[test]
fn a_call_that_returns_in_time_gives_its_result() {
    let result = bounded("a quick call", Duration::from_secs(5), || Ok(7));
    assert_eq!(result.ok().and_then(Result::ok), Some(7));
}

#[test]
fn a_call_that_hangs_is_given_up_after_the_limit_and_stops_the_runner() {
    let started = Instant::now();
    let result = bounded("a stuck call", Duration::from_millis(200), || {
        std::thread::sleep(Duration::from_secs(3));
        Ok(())
    });
    let elapsed = started.elapsed();
    let stuck = result.expect_err("the call is given up");
    assert!(elapsed < Duration::from_secs(2), "waited {elapsed:?}");
    let err = RunnerError::from(stuck);
    assert!(
        err.is_fatal(),
        "a stuck producer cannot abort either: {err}"
    );
    assert!(err.to_string().contains("a stuck call"), "{err}");
}

#[test]
fn a_stuck_call_ends_the_retries_at_once_and_is_fatal() {
    let mut calls = 0;
    let result = retrying("commit", Instant::now() + Duration::from_secs(10), || {
        calls += 1;
        bounded("commit_transaction", Duration::from_millis(50), || {
            std::thread::sleep(Duration::from_secs(1));
            Ok(())
        })
    });
    let err = result.expect_err("given up");
    assert_eq!(calls, 1);
    assert!(err.is_fatal(), "{err}");
}

#[test]
fn errors_that_are_not_retriable_end_the_retries_at_once() {
    let mut calls = 0;
    let result = retrying("commit", Instant::now() + Duration::from_secs(10), || {
        calls += 1;
        Ok(Err(rdkafka::error::KafkaError::Canceled.into()))
    });
    assert!(result.is_err());
    assert_eq!(calls, 1);
}
