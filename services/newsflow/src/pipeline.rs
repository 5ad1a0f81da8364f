//! `newsflow run`: the embedded pipeline. The same stage values as the Kafka services, chained
//! in one process, from files or stdin to JSON lines.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::Utc;
use newsflow_core::dead_letter::DeadLetterLine;
use newsflow_core::dedup::{DedupConfig, DedupStage};
use newsflow_core::normalize::{NormalizeConfig, NormalizeStage};
use newsflow_core::stage::Chain;
use newsflow_core::tag::{TagStage, Taxonomy};
use newsflow_core::{Route, StageContext, StageError};

use crate::input::{Input, ReadOptions, ReadStats, Record, read_inputs};

/// The stages `newsflow run` chains, in order: normalize, dedup, tag; the same stage values the
/// Kafka services run.
pub fn default_chain(max_content_bytes: usize, taxonomy: Arc<Taxonomy>) -> anyhow::Result<Chain> {
    let normalize = NormalizeConfig {
        max_content_bytes,
        ..NormalizeConfig::default()
    };
    let stages: Vec<Box<dyn newsflow_core::Stage>> = vec![
        // The normalizer decodes the page first (charset detection, size limit) itself.
        Box::new(NormalizeStage::new(normalize).context("normalizer settings")?),
        Box::new(DedupStage::new(DedupConfig::default()).context("deduplicator settings")?),
        Box::new(TagStage::new(taxonomy)),
    ];
    Chain::new(stages).map_err(|err| anyhow::anyhow!("newsflow run's chain is miswired: {err}"))
}

/// Reads and validates a taxonomy file; the error lists every problem with its line.
pub fn load_taxonomy(path: &std::path::Path) -> anyhow::Result<Taxonomy> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the taxonomy {}", path.display()))?;
    Taxonomy::from_yaml(&text).map_err(|errors| {
        let lines: Vec<String> = errors
            .iter()
            .map(|e| format!("{}:{e}", path.display()))
            .collect();
        anyhow::anyhow!("invalid taxonomy:\n{}", lines.join("\n"))
    })
}

/// What `newsflow run` was asked to do.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub inputs: Vec<Input>,
    pub output: Option<PathBuf>,
    pub dlq: Option<PathBuf>,
    pub read: ReadOptions,
    /// The taxonomy file; `None`: the built-in taxonomy.
    pub taxonomy: Option<PathBuf>,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    pub read: ReadStats,
    pub written: u64,
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

/// Runs the pipeline. `Err` only for an unwritable output; unreadable inputs are counted in the
/// summary and the run goes on.
pub fn run(options: &RunOptions) -> anyhow::Result<RunSummary> {
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
    let mut chain = default_chain(options.read.max_content_bytes, Arc::new(taxonomy))?;
    let mut summary = RunSummary::default();
    let mut read = ReadStats::default();
    read_inputs(
        &options.inputs,
        &options.read,
        &mut read,
        |record: Record| {
            let ctx = StageContext::at(Utc::now());
            let (id, stage, rejection) = match record.outcome {
                Ok(raw) => {
                    let id = raw.id.clone();
                    match chain.process(newsflow_core::Event::Raw(raw), &ctx) {
                        Ok(emits) => {
                            for emit in emits {
                                // One line per article: per-topic copies of enriched articles are
                                // for Kafka consumers only.
                                if matches!(emit.route, Route::Topic(_)) {
                                    continue;
                                }
                                let json =
                                    emit.event.to_json().context("cannot serialize an event")?;
                                output.write_all(&json).context("cannot write the output")?;
                                output.write_all(b"\n").context("cannot write the output")?;
                                summary.written += 1;
                            }
                            return Ok(());
                        }
                        Err(err) => match err.error {
                            StageError::Rejected(rejection) => (Some(id), err.stage, rejection),
                            StageError::Transient(message) => {
                                summary.failed += 1;
                                eprintln!(
                                    "newsflow run: {}: stage {} failed: {message}",
                                    shown(&record.input),
                                    err.stage
                                );
                                return Ok(());
                            }
                        },
                    }
                }
                Err(rejected) => (rejected.id, "decode", rejected.rejection),
            };
            summary.rejected += 1;
            match dlq.as_mut() {
                Some(dlq) => {
                    let line = DeadLetterLine::new(
                        record.input,
                        id,
                        stage,
                        rejection.kind,
                        rejection.message,
                        &record.original,
                    );
                    let json =
                        serde_json::to_vec(&line).context("cannot serialize a dead letter")?;
                    dlq.write_all(&json).context("cannot write --dlq")?;
                    dlq.write_all(b"\n").context("cannot write --dlq")?;
                }
                None => eprintln!(
                    "newsflow run: rejected {}{} at {stage}: {}: {}",
                    shown(&record.input),
                    id.map(|id| format!(" (id {id})")).unwrap_or_default(),
                    rejection.kind,
                    rejection.message
                ),
            }
            anyhow::Ok(())
        },
    )?;
    output.flush().context("cannot write the output")?;
    if let Some(dlq) = dlq.as_mut() {
        dlq.flush().context("cannot write --dlq")?;
    }
    summary.read = read;
    Ok(summary)
}

fn shown(input: &newsflow_core::dead_letter::InputRef) -> String {
    match input.line {
        Some(line) => format!("{}:{line}", input.path),
        None => input.path.clone(),
    }
}
