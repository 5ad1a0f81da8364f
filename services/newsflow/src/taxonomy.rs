//! `newsflow taxonomy check|explain`: the editors' tools for the tagger's taxonomy.

use std::io::Write as _;

use anyhow::Context as _;
use chrono::Utc;
use newsflow_core::StageContext;
use newsflow_core::normalize::NormalizeStage;
use newsflow_core::tag::{Taxonomy, explain};

use crate::cli::{TaxonomyCheckArgs, TaxonomyExplainArgs, inputs};
use crate::input::{ReadOptions, ReadStats, Record, read_inputs};
use crate::pipeline::load_taxonomy;

/// Validates a taxonomy file; `Ok(false)` when it has errors (printed, one per line, as
/// `FILE:LINE[:COLUMN]: PATH: REASON`).
pub fn check(args: &TaxonomyCheckArgs) -> anyhow::Result<bool> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    match Taxonomy::from_yaml(&text) {
        Ok(taxonomy) => {
            println!(
                "{}: ok: taxonomy {}, {} topics: {}",
                args.file.display(),
                taxonomy.version(),
                taxonomy.topic_ids().len(),
                taxonomy.topic_ids().join(", ")
            );
            for warning in taxonomy.warnings() {
                println!("{}:{warning} (warning)", args.file.display());
            }
            Ok(true)
        }
        Err(errors) => {
            for error in &errors {
                println!("{}:{error}", args.file.display());
            }
            eprintln!(
                "newsflow taxonomy check: {}: {} error(s)",
                args.file.display(),
                errors.len()
            );
            Ok(false)
        }
    }
}

/// Prints, for each input article, why each topic matched or fell short.
pub fn explain_inputs(args: &TaxonomyExplainArgs) -> anyhow::Result<ReadStats> {
    let taxonomy = match &args.taxonomy {
        Some(path) => load_taxonomy(path)?,
        None => Taxonomy::default(),
    };
    for id in &args.topics {
        anyhow::ensure!(
            taxonomy.topic_ids().contains(&id.as_str()),
            "--topic {id}: no such topic in taxonomy {} (topics: {})",
            taxonomy.version(),
            taxonomy.topic_ids().join(", ")
        );
    }
    let normalizer = NormalizeStage::default();
    let mut stats = ReadStats::default();
    let mut out = std::io::stdout().lock();
    read_inputs(
        &inputs(&args.inputs),
        &ReadOptions::default(),
        &mut stats,
        |record: Record| {
            let shown = match record.input.line {
                Some(line) => format!("{}:{line}", record.input.path),
                None => record.input.path.clone(),
            };
            let article = record
                .outcome
                .map_err(|rejected| rejected.rejection)
                .and_then(|raw| normalizer.normalize(raw, &StageContext::at(Utc::now())));
            let article = match article {
                Ok(article) => article,
                Err(rejection) => {
                    writeln!(
                        out,
                        "== {shown}: rejected: {}: {}\n",
                        rejection.kind, rejection.message
                    )?;
                    return Ok(());
                }
            };
            let mut explanation = explain(&taxonomy, &article);
            explanation.topics.retain(|topic| {
                if args.topics.is_empty() {
                    topic.tagged
                        || !topic.terms.is_empty()
                        || topic.groups.iter().any(|g| g.satisfied > 0)
                } else {
                    args.topics.contains(&topic.id)
                }
            });
            let title = article.title.as_deref().unwrap_or("(no title)");
            writeln!(out, "== {shown}: {title}\n{explanation}")?;
            anyhow::Ok(())
        },
    )?;
    Ok(stats)
}
