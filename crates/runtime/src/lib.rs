//! newsflow's Kafka runtime: the stage runner (consumer group in, produced outputs with
//! CloudEvents headers out, offsets committed after acknowledgement, dead letters), the admin
//! server (`/metrics`, `/healthz`, `/readyz`), the flags every service shares, logging, topic
//! creation and graceful shutdown.

pub mod admin;
pub mod config;
pub mod envelope;
pub mod metrics;
pub mod runner;
pub mod service;
pub mod state;
pub mod telemetry;
pub mod topics;
mod transaction;

pub use config::{Guarantee, RunnerConfig, ServiceArgs, ServiceDefaults};
pub use runner::{Runner, shutdown_on_signals};
pub use service::run_service;
