//! The `main` of every stage service: logging, `--check-config`, signals, set-up, background
//! tasks and the runner. A service hands over its configuration and a function that builds its
//! stage; that function gets a [`ServiceContext`] to register its metrics, to schedule set-up
//! steps that need the async runtime and the broker (creating topics), and to start tasks that
//! run beside the runner until shutdown (watching a file).

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;

use anyhow::Context as _;
use newsflow_core::Stage;
use rdkafka::ClientConfig;
use tokio_util::sync::CancellationToken;

use crate::config::RunnerConfig;
use crate::flags::ServiceArgs;
use crate::metrics::RunnerMetrics;
use crate::routes::Routes;
use crate::runner::Runner;
use crate::shutdown::cancel_on_signals;
use crate::telemetry;

type Step = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;
type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What a service's stage is built with.
pub struct ServiceContext {
    metrics: RunnerMetrics,
    client: ClientConfig,
    shutdown: CancellationToken,
    setup: Vec<Step>,
    tasks: Vec<Task>,
}

impl std::fmt::Debug for ServiceContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceContext")
            .field("setup", &self.setup.len())
            .field("tasks", &self.tasks.len())
            .finish_non_exhaustive()
    }
}

impl ServiceContext {
    /// The service's metrics; its own go in the same registry.
    pub fn metrics(&self) -> &RunnerMetrics {
        &self.metrics
    }

    /// A client configuration for the service's brokers (with every `--kafka-option`), e.g.
    /// for an admin client.
    pub fn client_config(&self) -> ClientConfig {
        self.client.clone()
    }

    /// Runs `step` once the async runtime exists, before the runner starts; an error stops the
    /// service. Not run with `--check-config`.
    pub fn setup(&mut self, step: impl Future<Output = anyhow::Result<()>> + Send + 'static) {
        self.setup.push(Box::pin(step));
    }

    /// Runs a task beside the runner; it gets the shutdown signal, and the service waits for
    /// it to end after the runner stopped. Not run with `--check-config`.
    pub fn spawn<F, T>(&mut self, task: F)
    where
        F: FnOnce(CancellationToken) -> T,
        T: Future<Output = ()> + Send + 'static,
    {
        self.tasks.push(Box::pin(task(self.shutdown.clone())));
    }
}

/// Runs a stage service to completion: validates the configuration, builds the stage (and with
/// `--check-config` prints the configuration, secrets masked, and exits), runs the set-up
/// steps, the background tasks and the runner until SIGTERM/SIGINT. Exit status 0 after a
/// clean shutdown, 1 on any error (printed, never a panic).
pub fn run_service<S, F>(args: &ServiceArgs, config: RunnerConfig, build_stage: F) -> ExitCode
where
    S: Stage + 'static,
    F: FnOnce(&mut ServiceContext) -> anyhow::Result<S>,
{
    let telemetry = match telemetry::init_with_traces(
        args.observe.log_format,
        &args.observe.trace,
        config.service,
    ) {
        Ok(telemetry) => telemetry,
        Err(err) => {
            eprintln!("error: {err:#}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = try_run(args, config, &telemetry, build_stage);
    // Exports the spans still queued.
    drop(telemetry);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "exiting");
            // Also plainly, for a terminal or a container log without a log shipper.
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn try_run<S, F>(
    args: &ServiceArgs,
    config: RunnerConfig,
    telemetry: &telemetry::Telemetry,
    build_stage: F,
) -> anyhow::Result<()>
where
    S: Stage + 'static,
    F: FnOnce(&mut ServiceContext) -> anyhow::Result<S>,
{
    config.validate()?;
    let metrics = RunnerMetrics::new(config.service);
    crate::metrics::register(&metrics.registry, telemetry.spans_dropped.clone())
        .context("cannot register the span metrics")?;
    let mut context = ServiceContext {
        metrics,
        client: args.client.client_config(),
        shutdown: CancellationToken::new(),
        setup: Vec::new(),
        tasks: Vec::new(),
    };
    // Building the stage checks its own configuration (e.g. a taxonomy file) too.
    let stage = build_stage(&mut context)?;
    Routes::resolve(&config, &stage)?;
    if args.check_config {
        println!("{}", config.describe());
        println!("# configuration is valid");
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let outcome = runtime.block_on(run(config, stage, context));
    // A blocking Kafka call may still wait for its timeout (e.g. the transaction set-up after
    // the broker refused the credentials): do not wait for it.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    outcome
}

/// Set-up, background tasks and the runner, on the service's async runtime.
async fn run<S: Stage + 'static>(
    config: RunnerConfig,
    stage: S,
    context: ServiceContext,
) -> anyhow::Result<()> {
    let ServiceContext {
        metrics,
        shutdown,
        setup,
        tasks,
        ..
    } = context;
    cancel_on_signals(shutdown.clone())?;
    for step in setup {
        step.await?;
    }
    let tasks: Vec<_> = tasks.into_iter().map(tokio::spawn).collect();
    let outcome = Runner::with_metrics(config, stage, metrics)?
        .run(shutdown.clone())
        .await;
    // The runner may have stopped on an error: the tasks stop too.
    shutdown.cancel();
    for task in tasks {
        let _ = task.await;
    }
    Ok(outcome?)
}
