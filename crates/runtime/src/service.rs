//! The `main` of every stage service: logging, `--check-config`, signals, the runner.

use std::process::ExitCode;

use anyhow::Context as _;
use newsflow_core::Stage;

use crate::config::RunnerConfig;
use crate::flags::ServiceArgs;
use crate::metrics::RunnerMetrics;
use crate::runner::Runner;
use crate::shutdown::shutdown_on_signals;
use crate::telemetry;

/// Runs a stage service to completion: validates the configuration (and with `--check-config`
/// prints it, secrets masked, and exits), builds the stage, runs until SIGTERM/SIGINT.
/// `build_stage` gets the service's metrics, so a stage wrapper can register its own in the
/// same registry. Exit status 0 after a clean shutdown, 1 on any error (printed, never a
/// panic).
pub fn run_service<S, F>(args: &ServiceArgs, config: RunnerConfig, build_stage: F) -> ExitCode
where
    S: Stage + 'static,
    F: FnOnce(&RunnerMetrics) -> anyhow::Result<S>,
{
    telemetry::init(args.log_format);
    match try_run(args, config, build_stage) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "exiting");
            // Also plainly, for a terminal or a container log without a log shipper.
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn try_run<S, F>(args: &ServiceArgs, config: RunnerConfig, build_stage: F) -> anyhow::Result<()>
where
    S: Stage + 'static,
    F: FnOnce(&RunnerMetrics) -> anyhow::Result<S>,
{
    config.validate()?;
    // Building the stage checks its own configuration (e.g. a taxonomy file) too.
    let metrics = RunnerMetrics::new(config.service);
    let stage = build_stage(&metrics)?;
    if args.check_config {
        println!("{}", config.describe());
        println!("# configuration is valid");
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let outcome = runtime.block_on(async move {
        let shutdown = shutdown_on_signals()?;
        Runner::with_metrics(config, stage, metrics)?
            .run(shutdown)
            .await
    });
    // A blocking Kafka call may still wait for its timeout (e.g. the transaction set-up after
    // the broker refused the credentials): do not wait for it.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    Ok(outcome?)
}
