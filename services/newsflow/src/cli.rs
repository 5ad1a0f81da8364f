//! Command-line interface (clap derive). Every flag has an `NEWSFLOW_…` environment fallback.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use newsflow_core::decode::DEFAULT_MAX_CONTENT_BYTES;

use crate::input::{Input, ReadOptions};
use crate::pipeline::RunOptions;

#[derive(Debug, Parser)]
#[command(
    name = "newsflow",
    version,
    about = "newsflow: a streaming news-event pipeline (normalize, deduplicate, tag) on Kafka",
    long_about = "newsflow turns raw scraped news pages into clean, deduplicated, topic-tagged \
article events.\n\nRun `newsflow run` to try the whole pipeline in one process on the shipped \
samples, or point it at files, folders or JSON Lines on stdin."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole pipeline in one process: files, folders or stdin in, JSON lines out.
    #[command(
        long_about = "Run the whole pipeline in one process: files, folders or stdin in, \
JSON lines out.\n\n\
INPUT is a file, a directory (read recursively, sorted by path) or `-` (JSON Lines on stdin). \
`.txt` is read as text/plain, `.html`/`.htm` as text/html, `.jsonl`/`.ndjson` as one raw event \
per line and `.json` as one JSON Feed item (extensions match in any case); other files are \
skipped and counted. Without INPUT, the shipped sample articles are used.\n\n\
Writes one JSON line per input article that was not rejected, in input order. Rejected inputs \
go to --dlq, or are summarised on stderr. Exit status: 0 when every input was read and every \
output written, 1 on an I/O failure (unreadable input, unwritable output), 2 on bad usage."
    )]
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Files, directories or `-` for stdin (JSON Lines); none: the shipped samples.
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<String>,

    /// Write articles here instead of stdout (one JSON line each).
    #[arg(long, short, value_name = "FILE", env = "NEWSFLOW_OUTPUT")]
    pub output: Option<PathBuf>,

    /// Write rejected inputs here as JSON lines (schemas/dead-letter-line.v1.schema.json);
    /// default: a one-line summary per rejection on stderr.
    #[arg(long, value_name = "FILE", env = "NEWSFLOW_DLQ")]
    pub dlq: Option<PathBuf>,

    /// The `source` of every article read; default: each INPUT's own name (file stem or
    /// folder name; `stdin` for `-`).
    #[arg(long, value_name = "NAME", env = "NEWSFLOW_SOURCE", value_parser = non_empty)]
    pub source: Option<String>,

    /// Pages larger than this many bytes are rejected as `too_large`.
    #[arg(long, value_name = "BYTES", env = "NEWSFLOW_MAX_CONTENT_BYTES", default_value_t = DEFAULT_MAX_CONTENT_BYTES)]
    pub max_content_bytes: usize,
}

fn non_empty(value: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(value.to_owned())
    }
}

/// Turns INPUT arguments into inputs; no INPUT means the samples.
pub fn inputs(args: &[String]) -> Vec<Input> {
    if args.is_empty() {
        vec![Input::Samples]
    } else {
        args.iter().map(|arg| Input::parse(arg)).collect()
    }
}

impl RunArgs {
    pub fn options(&self) -> RunOptions {
        RunOptions {
            inputs: inputs(&self.inputs),
            output: self.output.clone(),
            dlq: self.dlq.clone(),
            read: ReadOptions {
                source: self.source.clone(),
                max_content_bytes: self.max_content_bytes,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn the_cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_flag_has_an_env_fallback() {
        for sub in Cli::command().get_subcommands() {
            for arg in sub.get_arguments() {
                if arg.is_positional() || ["help", "version"].contains(&arg.get_id().as_str()) {
                    continue;
                }
                let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
                assert!(
                    env.as_deref().is_some_and(|e| e.starts_with("NEWSFLOW_")),
                    "{} --{} has no NEWSFLOW_ env fallback",
                    sub.get_name(),
                    arg.get_id()
                );
            }
        }
    }
}
