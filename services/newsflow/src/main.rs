#![deny(clippy::too_many_lines)]

use std::process::ExitCode;

use anyhow::Context as _;
use clap::{CommandFactory as _, Parser as _};
use newsflow::cli::{
    Cli, Command, DlqCommand, EvalCommand, ProduceArgs, RelayArgs, RunArgs, StoriesCommand,
    TaxonomyCommand, TopicsCommand, TopicsCreateArgs,
};
use newsflow::{dlq, pipeline, produce, stories, taxonomy};
use newsflow_core::stage::IdentityStage;
use newsflow_runtime::topics::{
    TopicOutcome, TopicSettings, create_topics, replication_from_flags,
};
use newsflow_runtime::{RunnerConfig, ServiceDefaults, TopicBinding};

/// mimalloc instead of glibc's malloc: allocation-heavy JSON and text work per event runs
/// faster, and freed memory goes back to the system instead of piling up in per-thread arenas.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => return run(&args),
        Command::Produce(args) => block_on(produce_command(args)),
        Command::Topics(TopicsCommand::Create(args)) => block_on(topics_create(args)),
        Command::Relay(args) => return relay(args),
        Command::Dlq(DlqCommand::List(args)) => dlq::list(&args).map(drop),
        Command::Dlq(DlqCommand::Replay(args)) => dlq::replay(&args).map(drop),
        Command::Taxonomy(TaxonomyCommand::Check(args)) => {
            return match taxonomy::check(&args) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(err) => {
                    eprintln!("newsflow taxonomy check: {err:#}");
                    ExitCode::FAILURE
                }
            };
        }
        Command::Taxonomy(TaxonomyCommand::Explain(args)) => taxonomy::explain_inputs(&args)
            .and_then(|stats| {
                anyhow::ensure!(
                    stats.failures.is_empty(),
                    "cannot read: {}",
                    stats
                        .failures
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                Ok(())
            }),
        Command::Eval(EvalCommand::Extract(args)) => {
            let model = args.block_model.as_deref();
            newsflow::eval::extract(&args.dir, args.worst, model).and_then(|report| {
                if args.json {
                    println!("{}", serde_json::to_string_pretty(&report)?);
                } else if args.dates_only {
                    print!("{}", newsflow::eval::print_dates(&report));
                } else {
                    print!("{}", newsflow::eval::print(&report));
                }
                Ok(())
            })
        }
        Command::Stories(StoriesCommand::Explain(args)) => {
            stories::explain_pair(&args).and_then(|why| {
                if args.json {
                    println!("{}", serde_json::to_string_pretty(&why)?);
                } else {
                    print!("{}", stories::render(&why));
                }
                Ok(())
            })
        }
        Command::Subscribe(args) => {
            block_on(async move { newsflow::subscribe::subscribe(&args.options()).await })
        }
        Command::Probe(args) => match newsflow::probe::get_status(&args.url, args.timeout) {
            Ok(status) if (200..300).contains(&status) => Ok(()),
            Ok(status) => Err(anyhow::anyhow!("{} answered {status}", args.url)),
            Err(err) => Err(err),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("newsflow: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn block_on<F: std::future::Future<Output = anyhow::Result<()>>>(future: F) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(future)
}

fn run(args: &RunArgs) -> ExitCode {
    // Logging and spans only when spans are exported: `newsflow run` writes its own lines.
    let telemetry = match args.trace.traces_url() {
        None => None,
        Some(_) => match newsflow_runtime::telemetry::init_with_traces(
            newsflow_runtime::flags::LogFormat::Pretty,
            &args.trace,
            "newsflow-run",
        ) {
            Ok(telemetry) => Some(telemetry),
            Err(err) => {
                eprintln!("newsflow run: {err:#}");
                return ExitCode::FAILURE;
            }
        },
    };
    let outcome = pipeline::run(&args.options());
    // Exports the spans still queued.
    drop(telemetry);
    match outcome {
        Ok(summary) => {
            let read = &summary.read;
            eprintln!(
                "newsflow run: {} files and {} lines read, {} articles written, {} rejected, \
{} files skipped (unknown extension), {} inputs unreadable{}",
                read.files,
                read.lines,
                summary.written,
                summary.rejected,
                read.skipped_files,
                read.failures.len(),
                if args.stories.is_some() {
                    format!(", {} story records", summary.story_records)
                } else {
                    String::new()
                }
            );
            for failure in &read.failures {
                eprintln!("newsflow run: cannot read {failure}");
            }
            if summary.succeeded() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(err) => {
            eprintln!("newsflow run: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn produce_command(args: ProduceArgs) -> anyhow::Result<()> {
    let options = args.options();
    let mut summary = produce::ProduceSummary::default();
    let articles = produce::read_articles(&options, &mut summary);
    for failure in &summary.read.failures {
        eprintln!("newsflow produce: cannot read {failure}");
    }
    let unreadable = summary.read.failures.len();
    let summary = produce::produce(&options, articles, summary).await?;
    let seconds = summary.elapsed.as_secs_f64().max(1e-9);
    eprintln!(
        "newsflow produce: {} records ({} articles, {} copies) to {}, {:.1} MB in {:.2} s: {:.0} records/s, {:.2} MB/s; {} inputs skipped",
        summary.articles + summary.copies,
        summary.articles,
        summary.copies,
        options.topic,
        summary.bytes as f64 / 1e6,
        seconds,
        (summary.articles + summary.copies) as f64 / seconds,
        summary.bytes as f64 / 1e6 / seconds,
        summary.rejected
    );
    anyhow::ensure!(unreadable == 0, "{unreadable} inputs could not be read");
    Ok(())
}

async fn topics_create(args: TopicsCreateArgs) -> anyhow::Result<()> {
    let settings = TopicSettings {
        prefix: args.prefix.clone(),
        partitions: args.partitions,
        replication: replication_from_flags(
            Cli::command(),
            ("--replication-factor", "--min-insync-replicas"),
            args.replication_factor,
            args.min_insync_replicas,
        ),
        max_message_bytes: args.max_message_bytes,
        extra: args
            .tag_topics
            .iter()
            .map(|id| newsflow_core::topics::tag_topic(id))
            .collect(),
    };
    for (name, outcome) in create_topics(args.client.client_config(), &settings).await? {
        match outcome {
            TopicOutcome::Created => println!("created {name}"),
            TopicOutcome::AlreadyExists => println!("exists  {name}"),
        }
    }
    Ok(())
}

fn relay(args: RelayArgs) -> ExitCode {
    let defaults = ServiceDefaults {
        service: "relay",
        input_topic: newsflow_core::topics::RAW,
    };
    let config = RunnerConfig::new(&args.service, &defaults).output(TopicBinding::named(
        newsflow_core::stage::PRIMARY,
        "output_topic",
        &args.output_topic,
    ));
    let kind = args.event_kind.into();
    newsflow_runtime::run_service(&args.service, config, |_| Ok(IdentityStage::new(kind)))
}
