//! The `newsflow` command line: the embedded pipeline (`run`), and the tools around the Kafka
//! services (`produce`, `topics create`, `relay`). The binary is `src/main.rs`; the modules are
//! a library so tests can reach them.

#![deny(clippy::too_many_lines)]

pub mod cli;
pub mod dlq;
pub mod eval;
pub mod input;
pub mod pipeline;
pub mod probe;
pub mod produce;
pub mod stories;
pub mod subscribe;
pub mod synth;
pub mod taxonomy;
