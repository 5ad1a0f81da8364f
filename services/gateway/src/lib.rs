//! newsflow's gateway: HTTP ingest into `news.raw.v1` and live subscriptions to the topic
//! feeds for consumers without a Kafka client.

#![deny(clippy::too_many_lines)]

pub mod app;
pub mod auth;
pub mod hub;
pub mod ingest;
pub mod kafka;
pub mod metrics;
pub mod position;
pub mod server;
pub mod stream;
