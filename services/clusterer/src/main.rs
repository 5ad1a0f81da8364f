//! `newsflow-clusterer`: clusters enriched articles (and the copies duplicate notices name)
//! into stories. Every change of a story is a record on `news.stories.v1`; the open stories
//! and the learned term counts live in the compacted `newsflow.story-state.v1`, restored by
//! every instance before it takes input and followed afterwards.

#![deny(clippy::too_many_lines)]

mod args;
mod metrics;
mod stage;

use std::process::ExitCode;

use clap::Parser as _;
use newsflow_runtime::run_service;

/// mimalloc, like every newsflow binary: per-article text work allocates a lot, and freed
/// memory goes back to the system.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = args::Args::parse();
    let config = args.runner_config();
    run_service(&args.service, config, |context| {
        stage::build(&args, context)
    })
}
