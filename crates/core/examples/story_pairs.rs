//! The story stage's evidence for every SemEval-2022 Task 8 English pair, as a table, and the
//! figures of a configuration on it: the loop for studying features and fitting the model
//! without the pipeline's first three stages each time.
//!
//! 1. `cargo test -p newsflow --test stories_eval -- --ignored dump_enriched_pairs` writes the
//!    pairs' enriched articles (`target/semeval-enriched.jsonl`);
//! 2. `cargo run -p newsflow-core --release --example story_pairs -- PAIRS [CONFIG.yaml] >
//!    parts.tsv` prints one row per pair (split, Overall, the score's parts, the similarity)
//!    and, on standard error, F1, precision, recall and Pearson r per split at the threshold;
//! 3. `python3 crates/core/story/fit_model.py parts.tsv` fits the model on the training rows.

#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)] // a tool

use chrono::Utc;
use newsflow_core::StageContext;
use newsflow_core::event::EnrichedArticle;
use newsflow_core::story::{Score, StoryConfig, explain};
use newsflow_testkit::scores::{Confusion, pearson};
use serde::Deserialize;

#[derive(Deserialize)]
struct Pair {
    split: String,
    overall: f64,
    a: Option<EnrichedArticle>,
    b: Option<EnrichedArticle>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let pairs = args.first().expect("the pairs' JSON Lines");
    let config = match args.get(1) {
        Some(path) => StoryConfig::from_yaml(&std::fs::read_to_string(path).unwrap()).unwrap(),
        None => StoryConfig::default(),
    };
    let ctx = StageContext::at(Utc::now());
    println!(
        "split\toverall\ttext\thead\tcross\tnames\tnumbers\tentities\tplaces\ttopics\tstanding\tsimilarity"
    );
    let mut rows: Vec<(String, f64, f64)> = Vec::new();
    for line in std::fs::read_to_string(pairs).unwrap().lines() {
        let pair: Pair = serde_json::from_str(line).unwrap();
        let (parts, similarity) = match (&pair.a, &pair.b) {
            (Some(a), Some(b)) => {
                let why = explain(&config, a, b, &ctx).unwrap();
                (why.parts, why.similarity)
            }
            _ => (Score::default(), 0.0),
        };
        let p = parts;
        println!(
            "{}\t{}\t{:.5}\t{:.5}\t{:.5}\t{:.5}\t{:.5}\t{:.5}\t{:.5}\t{:.5}\t{}\t{:.5}",
            pair.split,
            pair.overall,
            p.text,
            p.head,
            p.cross,
            p.names,
            p.numbers,
            p.entities,
            p.places,
            p.topics,
            p.standing_words,
            similarity
        );
        rows.push((pair.split, pair.overall, similarity));
    }
    for split in ["training", "testing", "all"] {
        let rows: Vec<&(String, f64, f64)> = rows
            .iter()
            .filter(|(s, _, _)| split == "all" || s == split)
            .collect();
        let mut f = Confusion::default();
        for (_, overall, similarity) in &rows {
            if *overall <= 1.5 || *overall >= 3.0 {
                f.add(*overall <= 1.5, *similarity >= config.threshold);
            }
        }
        let x: Vec<f64> = rows.iter().map(|r| r.2).collect();
        let y: Vec<f64> = rows.iter().map(|r| r.1).collect();
        eprintln!("{split:8}: {}  r {:.3}", f.summary(), pearson(&x, &y));
    }
}
