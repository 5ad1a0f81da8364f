//! `newsflow-normalizer`: consumes raw pages from `news.raw.v1`, publishes clean, structured
//! articles to `news.normalized.v1`, and dead-letters what cannot be normalized.

#![deny(clippy::too_many_lines)]

mod args;

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
    run_service(&args.service, config, |_| args.stage())
}
