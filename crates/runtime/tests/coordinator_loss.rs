//! The Kafka client's own behaviour when a consumer group's coordinator broker goes away in the
//! middle of a transaction, on librdkafka's in-process mock cluster.
//!
//! librdkafka 2.12.1 as published never returned from `send_offsets_to_transaction` when the
//! group coordinator stayed down (confluentinc/librdkafka#5456): the exactly-once runner, blocked
//! inside it, never committed or aborted again. The vendored librdkafka
//! (`vendor/librdkafka-coord-timeout.patch`) makes the call return within its timeout.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::mocking::{MockCluster, MockCoordinator};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

#[test]
fn send_offsets_to_transaction_returns_within_its_timeout_when_the_group_coordinator_is_down() {
    let cluster = MockCluster::new(3).unwrap();
    cluster.create_topic("input", 1, 3).unwrap();
    cluster.create_topic("output", 1, 3).unwrap();
    cluster
        .coordinator(MockCoordinator::Transaction("txn".into()), 1)
        .unwrap();
    cluster
        .coordinator(MockCoordinator::Group("group".into()), 2)
        .unwrap();

    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .set("transactional.id", "txn")
        .set("transaction.timeout.ms", "60000")
        .create()
        .unwrap();
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .set("group.id", "group")
        .create()
        .unwrap();
    producer.init_transactions(Duration::from_secs(30)).unwrap();
    producer.begin_transaction().unwrap();
    producer
        .send(BaseRecord::to("output").key("k").payload("v"))
        .map_err(|(err, _)| err)
        .unwrap();
    producer.flush(Duration::from_secs(10)).unwrap();

    // The group coordinator goes away and stays away.
    cluster.broker_down(2).unwrap();
    let mut offsets = TopicPartitionList::new();
    offsets
        .add_partition_offset("input", 0, Offset::Offset(1))
        .unwrap();
    let group = consumer.group_metadata().unwrap();

    let started = Instant::now();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let result = producer.send_offsets_to_transaction(&offsets, &group, Duration::from_secs(3));
        let _ = tx.send(result.map_err(|err| err.to_string()));
        // Kept until the answer is in: dropping it would end the call another way.
        drop(producer);
    });
    let result = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("send_offsets_to_transaction returns although the coordinator stays down");
    let elapsed = started.elapsed();
    assert!(
        result.is_err(),
        "the offsets cannot have reached a coordinator that is down"
    );
    assert!(
        elapsed < Duration::from_secs(15),
        "returned after {elapsed:?}, not about its 3 s timeout"
    );
}
