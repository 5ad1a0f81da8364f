//! The real broker answers: a topic is created and one message round-trips through it.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::Message as _;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

#[tokio::test]
async fn a_topic_is_created_and_a_message_round_trips() {
    let brokers = newsflow_testkit::brokers();
    let topic = newsflow_testkit::unique_name("smoke");

    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(20)));
    let created = admin
        .create_topics([&NewTopic::new(&topic, 1, TopicReplication::Fixed(1))], &options)
        .await
        .unwrap_or_else(|err| {
            panic!("no Kafka broker answers at {brokers} ({err}); run ./scripts/test.sh or deploy/local/kafka.sh start")
        });
    assert!(created[0].is_ok(), "{:?}", created[0]);

    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("message.timeout.ms", "20000")
        .create()
        .unwrap();
    let delivery = producer
        .send(
            FutureRecord::to(&topic)
                .key("article-1")
                .payload("{\"hello\":\"kafka\"}"),
            Duration::from_secs(20),
        )
        .await
        .map_err(|(err, _)| err)
        .unwrap();
    assert_eq!((delivery.partition, delivery.offset), (0, 0));

    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", newsflow_testkit::unique_name("smoke-group"))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(&topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&assignment).unwrap();
    let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
        .await
        .expect("the message arrives within 30 s")
        .unwrap();
    assert_eq!(message.key(), Some(&b"article-1"[..]));
    assert_eq!(message.payload(), Some(&b"{\"hello\":\"kafka\"}"[..]));

    admin.delete_topics(&[&topic], &options).await.unwrap();
}
