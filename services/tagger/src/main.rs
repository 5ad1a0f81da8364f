//! `newsflow-tagger`: tags unique articles with topics (with the evidence for each tag) and
//! entities, publishes them to `news.enriched.v1` and a copy to `news.topic.<id>.v1` for each
//! tag. The taxonomy file is reloaded when it changes: new topics get their Kafka topic first;
//! a bad file keeps the old taxonomy in force, with an error and a metric.

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
