//! Nothing blocks a worker of the async runtime: on a runtime with one worker, `/healthz`
//! answers within 100 ms while the stage works on a record, and while a transaction's commit is
//! retried against a stopped broker (a private one, which the test stops).

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

mod common;

use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use common::broker::PrivateBroker;
use common::{create_topics_on, free_port, http_get, metric_value};
use newsflow_core::event::RawEvent;
use newsflow_core::stage::{INPUT, PRIMARY};
use newsflow_core::topics::RAW;
use newsflow_core::{Emit, Event, EventKind, Port, Route, Stage, StageContext, StageError};
use newsflow_runtime::{Guarantee, Runner, RunnerConfig, TopicBinding};
use rdkafka::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
use tokio_util::sync::CancellationToken;

/// Passes raw events on; each waits until the test lets it go, and says when it arrived.
struct Gate {
    arrived: Sender<()>,
    go: Receiver<()>,
}

impl Stage for Gate {
    fn name(&self) -> &'static str {
        "gate"
    }
    fn inputs(&self) -> &'static [Port] {
        const { &[Port::new(INPUT, EventKind::Raw, RAW)] }
    }
    fn outputs(&self) -> &'static [Port] {
        const { &[Port::new(PRIMARY, EventKind::Raw, RAW)] }
    }
    fn process(&mut self, event: Event, _ctx: &StageContext) -> Result<Vec<Emit>, StageError> {
        let _ = self.arrived.send(());
        // The stage blocks, as a stage may (it is synchronous by contract).
        let _ = self.go.recv();
        Ok(vec![Emit::new(Route::PRIMARY, event)])
    }
}

fn config(brokers: &str, prefix: &str, admin: u16) -> RunnerConfig {
    RunnerConfig {
        service: "gate",
        brokers: brokers.to_owned(),
        group_id: format!("{prefix}.group"),
        inputs: vec![TopicBinding::named(
            INPUT,
            "input_topic",
            format!("{prefix}.in"),
        )],
        outputs: vec![TopicBinding::named(
            PRIMARY,
            "output_topic",
            format!("{prefix}.out"),
        )],
        state_topic: None,
        extra: Vec::new(),
        dlq_topic: format!("{prefix}.dlq"),
        admin_addr: format!("127.0.0.1:{admin}").parse().unwrap(),
        kafka_options: Vec::new(),
        max_in_flight: 100,
        drain_timeout: Duration::from_secs(1),
        // Long enough to keep retrying for the whole check.
        retry_timeout: Duration::from_secs(60),
        dlq_max_bytes: 1 << 20,
        guarantee: Guarantee::ExactlyOnce,
        transactional_id: format!("{prefix}.txn"),
        commit_interval: Duration::from_millis(100),
        transaction_timeout: Duration::from_secs(30),
    }
}

fn send(brokers: &str, topic: &str, id: &str) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    let payload = Event::Raw(RawEvent::plain_text(id, "test", "text"))
        .to_json()
        .unwrap();
    producer
        .send(BaseRecord::to(topic).key(id).payload(&payload))
        .unwrap();
    producer.flush(Duration::from_secs(20)).unwrap();
}

/// Asks `/healthz` for `period`; fails on any answer slower than 100 ms.
fn healthz_stays_quick(admin: &str, period: Duration, what: &str) {
    let until = Instant::now() + period;
    let mut asked = 0;
    while Instant::now() < until {
        let started = Instant::now();
        let answer = http_get(admin, "/healthz");
        let took = started.elapsed();
        assert_eq!(answer.map(|(status, _)| status), Some(200), "{what}");
        assert!(
            took < Duration::from_millis(100),
            "/healthz took {took:?} {what}"
        );
        asked += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    println!("/healthz answered {asked} times within 100 ms {what}");
}

fn metric(admin: &str, name: &str, labels: &str) -> f64 {
    let (_, text) = http_get(admin, "/metrics").unwrap();
    metric_value(&text, name, labels)
}

fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn healthz_answers_on_one_worker_while_the_stage_works_and_a_commit_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let broker = PrivateBroker::start(&dir.path().join("kafka"), |_, _| Vec::new());
    let prefix = newsflow_testkit::unique_name("never-blocks");
    let config = config(&broker.brokers, &prefix, free_port());
    let input = format!("{prefix}.in");
    let topics = [
        input.clone(),
        format!("{prefix}.out"),
        config.dlq_topic.clone(),
    ];
    create_topics_on(&broker.brokers, &topics, 1);
    let admin = config.admin_addr.to_string();
    let (arrived_tx, arrived) = channel();
    let (go, go_rx) = channel();
    let gate = Gate {
        arrived: arrived_tx,
        go: go_rx,
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let stop = CancellationToken::new();
    let runner = Runner::new(config.clone(), gate).unwrap();
    let task = runtime.spawn(runner.run(stop.clone()));
    wait_until("/readyz", || {
        matches!(http_get(&admin, "/readyz"), Some((200, _)))
    });

    // The first record is processed and committed while the broker is up.
    send(&broker.brokers, &input, "a");
    arrived.recv_timeout(Duration::from_secs(60)).unwrap();
    healthz_stays_quick(&admin, Duration::from_secs(2), "while the stage works");
    go.send(()).unwrap();
    let committed = r#"outcome="committed""#;
    wait_until("the first commit", || {
        metric(&admin, "newsflow_transactions_total", committed) >= 1.0
    });

    // The second one is read, then the broker stops: its transaction cannot commit.
    send(&broker.brokers, &input, "b");
    arrived.recv_timeout(Duration::from_secs(60)).unwrap();
    broker.run("stop");
    let before = metric(&admin, "newsflow_transactions_total", committed);
    go.send(()).unwrap();
    healthz_stays_quick(
        &admin,
        Duration::from_secs(8),
        "while a commit is retried against a stopped broker",
    );
    assert_eq!(
        metric(&admin, "newsflow_transactions_total", committed),
        before,
        "nothing could commit with the broker stopped"
    );
    assert_eq!(
        metric(&admin, "newsflow_in_flight_inputs", ""),
        1.0,
        "the second input waits in its transaction"
    );

    stop.cancel();
    drop(go);
    // The runner gives up on the commit after its retry timeout; the test does not wait.
    runtime.shutdown_timeout(Duration::from_secs(1));
    drop(task);
}
