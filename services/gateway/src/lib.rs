//! newsflow's gateway: HTTP ingest into `news.raw.v1` and live subscriptions to the topic
//! feeds for consumers without a Kafka client.

pub mod auth;
pub mod hub;
pub mod ingest;
pub mod position;
