use std::process::ExitCode;

use clap::Parser as _;
use newsflow::cli::{Cli, Command};
use newsflow::pipeline;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => match pipeline::run(&args.options()) {
            Ok(summary) => {
                let read = &summary.read;
                eprintln!(
                    "newsflow run: {} files and {} lines read, {} articles written, {} rejected, \
{} files skipped (unknown extension), {} inputs unreadable",
                    read.files,
                    read.lines,
                    summary.written,
                    summary.rejected,
                    read.skipped_files,
                    read.failures.len()
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
        },
    }
}
