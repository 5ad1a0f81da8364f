//! `newsflow-gateway`: HTTP ingest into `news.raw.v1` and live subscriptions to the topic
//! feeds (Server-Sent Events, WebSocket) for clients without Kafka.

#![deny(clippy::too_many_lines)]

use std::process::ExitCode;

use newsflow_gateway::app;
use newsflow_runtime::{shutdown_on_signals, telemetry};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = app::args();
    let telemetry = match telemetry::init_with_traces(
        args.observe.log_format,
        &args.observe.trace,
        "gateway",
    ) {
        Ok(telemetry) => telemetry,
        Err(err) => {
            eprintln!("error: {err:#}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| {
            runtime.block_on(async move { app::run(args, shutdown_on_signals()?).await })
        });
    // Exports the spans still queued.
    drop(telemetry);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "exiting");
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
