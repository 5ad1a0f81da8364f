//! newsflow's Kafka runtime: the stage runner (consumer group in, produced outputs with
//! CloudEvents headers out, offsets committed after acknowledgement, dead letters), the admin
//! server (`/metrics`, `/healthz`, `/readyz`), the flags every service shares, logging, topic
//! creation and graceful shutdown.

#![deny(clippy::too_many_lines)]

pub mod admin;
pub mod bindings;
mod client;
pub mod config;
mod delivery;
pub mod envelope;
pub mod error;
pub mod flags;
pub mod hooks;
pub mod metrics;
mod output;
mod record;
pub mod routes;
pub mod runner;
pub mod service;
pub mod shutdown;
pub mod state;
pub mod taxonomy;
pub mod telemetry;
pub mod topics;

pub use bindings::{TopicBinding, TopicChoice};
pub use config::{RunnerConfig, ServiceDefaults};
pub use error::RunnerError;
pub use flags::{Guarantee, ServiceArgs};
pub use hooks::{Hooked, StageHooks};
pub use runner::Runner;
pub use service::{ServiceContext, run_service};
pub use shutdown::shutdown_on_signals;
