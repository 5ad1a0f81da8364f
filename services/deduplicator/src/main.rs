//! `newsflow-deduplicator`: flags exact and near-duplicate copies of stories. First copies go
//! to `news.deduplicated.v1`, copies become notices on `news.duplicates.v1`; the fingerprint
//! window lives in the compacted `newsflow.dedup-state.v1`, restored by every instance before it
//! takes input and followed afterwards.

#![deny(clippy::too_many_lines)]

mod args;
mod metrics;
mod stage;

use std::process::ExitCode;

use clap::Parser as _;
use newsflow_runtime::run_service;

/// mimalloc instead of glibc's malloc: allocation-heavy JSON and text work per event runs
/// faster, and freed memory goes back to the system instead of piling up in per-thread arenas.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = args::Args::parse();
    let config = args.runner_config();
    run_service(&args.service, config, |context| {
        stage::build(&args, context)
    })
}
