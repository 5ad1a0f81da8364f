//! `newsflow run`: the embedded pipeline. The same stage values as the Kafka services, chained
//! in one process, from files or stdin to JSON lines.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::Utc;
use newsflow_core::dead_letter::DeadLetterLine;
use newsflow_core::dead_letter::InputRef;
use newsflow_core::dedup::{DedupConfig, DedupStage};
use newsflow_core::normalize::{NormalizeConfig, NormalizeStage};
use newsflow_core::stage::{Chain, ChainError};
use newsflow_core::story::{StoryConfig, StoryStage};
use newsflow_core::tag::{TagStage, Taxonomy};
use newsflow_core::{Emit, Rejection, StageContext, StageError};

use crate::input::{Input, ReadOptions, ReadStats, read_inputs};

/// The stages `newsflow run` chains, in order: normalize, dedup, tag; the same stage values the
/// Kafka services run.
pub fn default_chain(max_content_bytes: usize, taxonomy: Arc<Taxonomy>) -> anyhow::Result<Chain> {
    let (first, rest) = stages(max_content_bytes, taxonomy, None)?;
    let mut stages = first;
    stages.extend(rest);
    chain(stages)
}

type Stages = Vec<Box<dyn newsflow_core::Stage>>;

/// The stages, split where `newsflow run` splits them between its two threads: the
/// (stateless) normalizer, then the deduplicator and the tagger.
fn stages(
    max_content_bytes: usize,
    taxonomy: Arc<Taxonomy>,
    block_model: Option<&str>,
) -> anyhow::Result<(Stages, Stages)> {
    let normalize = NormalizeConfig {
        max_content_bytes,
        ..NormalizeConfig::default()
    };
    let mut normalizer = NormalizeStage::new(normalize).context("normalizer settings")?;
    if let Some(tsv) = block_model {
        normalizer = normalizer.with_block_model(tsv)?;
    }
    Ok((
        // The normalizer decodes the page first (charset detection, size limit) itself.
        vec![Box::new(normalizer)],
        vec![
            Box::new(DedupStage::new(DedupConfig::default()).context("deduplicator settings")?),
            Box::new(TagStage::new(taxonomy)),
        ],
    ))
}

fn chain(stages: Stages) -> anyhow::Result<Chain> {
    Chain::new(stages).map_err(|err| anyhow::anyhow!("newsflow run's chain is miswired: {err}"))
}

/// Reads and validates a taxonomy file: the one loader, which the tagger uses too.
pub use newsflow_runtime::taxonomy::load as load_taxonomy;

/// Reads and validates a story settings file (`--story-config`).
pub fn load_story_config(path: &std::path::Path) -> anyhow::Result<StoryConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the story settings {}", path.display()))?;
    StoryConfig::from_yaml(&text)
        .map_err(|err| anyhow::anyhow!("invalid story settings {}: {err}", path.display()))
}

/// The story settings: the file's, or the defaults.
pub fn story_config(path: Option<&std::path::Path>) -> anyhow::Result<StoryConfig> {
    path.map_or_else(|| Ok(StoryConfig::default()), load_story_config)
}

/// What `newsflow run` was asked to do. The default reads nothing and writes to stdout, with
/// the built-in taxonomy and no story stage.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub inputs: Vec<Input>,
    pub output: Option<PathBuf>,
    pub dlq: Option<PathBuf>,
    pub read: ReadOptions,
    /// The taxonomy file; `None`: the built-in taxonomy.
    pub taxonomy: Option<PathBuf>,
    /// Where the story records go (JSON lines); `None`: the story stage does not run.
    pub stories: Option<PathBuf>,
    /// The story stage's settings file; `None`: the defaults.
    pub story_config: Option<PathBuf>,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    pub read: ReadStats,
    pub written: u64,
    /// Story records written to `--stories`.
    pub story_records: u64,
    pub rejected: u64,
    /// Inputs a stage could not process for a reason that was not the input's fault.
    pub failed: u64,
}

impl RunSummary {
    /// Every input was read and every output written.
    pub fn succeeded(&self) -> bool {
        self.read.failures.is_empty() && self.failed == 0
    }
}

fn create(path: &PathBuf, what: &str) -> anyhow::Result<BufWriter<Box<dyn Write>>> {
    let file =
        File::create(path).with_context(|| format!("cannot create {what} {}", path.display()))?;
    Ok(BufWriter::new(Box::new(file)))
}

/// One input after the first thread: the record's origin and what the normalizer made of it.
struct Normalized {
    input: InputRef,
    original: Vec<u8>,
    ctx: StageContext,
    /// The article id, when the record had one.
    id: Option<String>,
    outcome: Result<Vec<Emit>, Failure>,
    /// The input's span (disabled unless spans are exported).
    span: tracing::Span,
}

/// The first thread's work on one input: the normalizer, under the input's span.
fn normalize(first: &mut Chain, record: crate::input::Record) -> Normalized {
    let ctx = StageContext::at(Utc::now());
    let span = article_span(&record.input);
    let (id, outcome) = match record.outcome {
        Ok(raw) => {
            let id = Some(raw.id.clone());
            span.record("article_id", raw.id.as_str());
            let _stage = stage_span(&span, "normalizer").entered();
            let outcome = first
                .process(newsflow_core::Event::Raw(raw), &ctx)
                .map_err(Failure::from);
            (id, outcome)
        }
        Err(rejected) => (
            rejected.id,
            Err(Failure::Rejected("decode", rejected.rejection)),
        ),
    };
    Normalized {
        input: record.input,
        original: record.original,
        ctx,
        id,
        outcome,
        span,
    }
}

/// The span of one input of `newsflow run`; its stages' spans are its children.
fn article_span(input: &InputRef) -> tracing::Span {
    tracing::debug_span!(
        target: "newsflow::run",
        "article",
        otel.name = "newsflow run",
        input = %shown(input),
        article_id = tracing::field::Empty,
        outcome = tracing::field::Empty,
    )
}

/// The span of a stage (or chain of stages) working on one input.
fn stage_span(article: &tracing::Span, stage: &'static str) -> tracing::Span {
    tracing::debug_span!(target: "newsflow::run", parent: article, "stage", otel.name = stage, stage)
}

/// Why an input went no further.
enum Failure {
    /// Decoding or a stage rejected it (`stage`, the rejection).
    Rejected(&'static str, Rejection),
    /// A stage failed for a reason that is not the input's fault.
    Failed(&'static str, String),
}

impl From<ChainError> for Failure {
    fn from(err: ChainError) -> Self {
        match err.error {
            StageError::Rejected(rejection) => Failure::Rejected(err.stage, rejection),
            StageError::Transient(message) => Failure::Failed(err.stage, message),
        }
    }
}

/// Inputs between the two threads at most.
const HANDOVER: usize = 256;

/// Runs the pipeline on two threads (this machine class has two cores): one reads the inputs
/// and normalizes them, the other deduplicates, tags and writes, in input order. `Err` only for
/// an unwritable output; unreadable inputs are counted in the summary and the run goes on.
pub fn run(options: &RunOptions) -> anyhow::Result<RunSummary> {
    run_with_block_model(options, None)
}

/// [`run`] with the normalizer judging HTML blocks by `block_model` (a model file's text, as
/// `crates/core/html/fit_block_model.py` writes it) instead of the shipped model, for
/// `newsflow eval extract --block-model`.
pub fn run_with_block_model(
    options: &RunOptions,
    block_model: Option<&str>,
) -> anyhow::Result<RunSummary> {
    let mut output = match &options.output {
        Some(path) => create(path, "--output")?,
        None => BufWriter::new(Box::new(io::stdout().lock()) as Box<dyn Write>),
    };
    let mut dlq = match &options.dlq {
        Some(path) => Some(create(path, "--dlq")?),
        None => None,
    };
    let taxonomy = match &options.taxonomy {
        Some(path) => load_taxonomy(path)?,
        None => Taxonomy::default(),
    };
    // Read (and so checked) even without --stories: a broken file should not wait to be found.
    let story_settings = story_config(options.story_config.as_deref())?;
    let mut stories = match &options.stories {
        Some(path) => {
            let config = story_settings;
            let stage = StoryStage::new(config).context("story settings")?;
            Some(Stories {
                stage,
                out: create(path, "--stories")?,
            })
        }
        None => None,
    };
    let (first, rest) = stages(
        options.read.max_content_bytes,
        Arc::new(taxonomy),
        block_model,
    )?;
    let (mut first, mut rest) = (chain(first)?, chain(rest)?);
    let (tx, rx) = std::sync::mpsc::sync_channel::<Normalized>(HANDOVER);

    std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            let mut read = ReadStats::default();
            // Err only when the writer stopped: its error is the run's.
            let _stopped = read_inputs(&options.inputs, &options.read, &mut read, |record| {
                tx.send(normalize(&mut first, record)).map_err(drop)
            });
            read
        });

        let mut summary = RunSummary::default();
        let written = write_all(
            &rx,
            &mut rest,
            &mut output,
            dlq.as_mut(),
            stories.as_mut(),
            &mut summary,
        );
        drop(rx);
        let read = reader
            .join()
            .map_err(|_| anyhow::anyhow!("the reading thread panicked"))?;
        written?;
        output.flush().context("cannot write the output")?;
        if let Some(dlq) = dlq.as_mut() {
            dlq.flush().context("cannot write --dlq")?;
        }
        if let Some(stories) = stories.as_mut() {
            stories.out.flush().context("cannot write --stories")?;
        }
        summary.read = read;
        Ok(summary)
    })
}

/// The fourth stage, when `--stories` asks for it: the story stage and its output.
struct Stories {
    stage: StoryStage,
    out: BufWriter<Box<dyn Write>>,
}

impl Stories {
    /// Feeds one output of the chain (an enriched article or a duplicate notice) to the story
    /// stage and writes its records.
    fn feed(
        &mut self,
        event: &newsflow_core::Event,
        ctx: &StageContext,
        summary: &mut RunSummary,
    ) -> anyhow::Result<()> {
        let records = match self.stage.process(event, ctx) {
            Ok(records) => records,
            // The chain only emits what the story stage takes; say so rather than stop.
            Err(err) => {
                eprintln!("newsflow run: stage {}: {err}", StoryStage::NAME);
                return Ok(());
            }
        };
        for record in records {
            let json = serde_json::to_vec(&record).context("cannot serialize a story record")?;
            self.out
                .write_all(&json)
                .context("cannot write --stories")?;
            self.out
                .write_all(b"\n")
                .context("cannot write --stories")?;
            summary.story_records += 1;
        }
        Ok(())
    }
}

/// The second thread's work: the rest of the chain for every normalized input, then its
/// outputs or its dead letter, and the story records of its outputs.
fn write_all(
    rx: &std::sync::mpsc::Receiver<Normalized>,
    rest: &mut Chain,
    output: &mut impl Write,
    mut dlq: Option<&mut BufWriter<Box<dyn Write>>>,
    mut stories: Option<&mut Stories>,
    summary: &mut RunSummary,
) -> anyhow::Result<()> {
    for item in rx {
        let stage_span = stage_span(&item.span, "deduplicator+tagger");
        let outcome = item.outcome.and_then(|emits| {
            let _stage = stage_span.enter();
            let mut out = Vec::new();
            for emit in emits {
                if emit.route.is_primary() {
                    out.extend(rest.process(emit.event, &item.ctx)?);
                } else {
                    out.push(emit);
                }
            }
            Ok(out)
        });
        drop(stage_span);
        let span = &item.span;
        let (stage, rejection) = match outcome {
            Ok(emits) => {
                span.record("outcome", "written");
                for emit in emits {
                    // One line per article: per-topic copies of enriched articles
                    // (`emit.copies`) are for Kafka consumers only.
                    let json = emit.event.to_json().context("cannot serialize an event")?;
                    output.write_all(&json).context("cannot write the output")?;
                    output.write_all(b"\n").context("cannot write the output")?;
                    summary.written += 1;
                    if let Some(stories) = stories.as_mut() {
                        stories.feed(&emit.event, &item.ctx, summary)?;
                    }
                }
                continue;
            }
            Err(Failure::Failed(stage, message)) => {
                span.record("outcome", "failed");
                summary.failed += 1;
                eprintln!(
                    "newsflow run: {}: stage {stage} failed: {message}",
                    shown(&item.input)
                );
                continue;
            }
            Err(Failure::Rejected(stage, rejection)) => (stage, rejection),
        };
        summary.rejected += 1;
        span.record("outcome", "dead_letter");
        tracing::debug!(
            target: "newsflow::run", parent: span, stage, error_kind = %rejection.kind,
            error = %rejection.message, "input rejected; sent to the dead letters"
        );
        match dlq.as_mut() {
            Some(dlq) => {
                let line = DeadLetterLine::new(
                    item.input,
                    item.id,
                    stage,
                    rejection.kind,
                    rejection.message,
                    &item.original,
                );
                let json = serde_json::to_vec(&line).context("cannot serialize a dead letter")?;
                dlq.write_all(&json).context("cannot write --dlq")?;
                dlq.write_all(b"\n").context("cannot write --dlq")?;
            }
            None => eprintln!(
                "newsflow run: rejected {}{} at {stage}: {}: {}",
                shown(&item.input),
                item.id.map(|id| format!(" (id {id})")).unwrap_or_default(),
                rejection.kind,
                rejection.message
            ),
        }
    }
    Ok(())
}

fn shown(input: &InputRef) -> String {
    match input.line {
        Some(line) => format!("{}:{line}", input.path),
        None => input.path.clone(),
    }
}
