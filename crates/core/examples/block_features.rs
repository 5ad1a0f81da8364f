//! The main-text model's table: every block of every page of a folder laid out like
//! `html-eval` (`pages/` and `gold.jsonl`), with its features and, where the gold names it, its
//! label, as JSON Lines for `crates/core/html/fit_block_model.py`:
//!
//! `cargo run -p newsflow-core --release --example block_features -- ../shared/corpus/html-eval > blocks.jsonl`
//!
//! A block is main text (label 1) when it holds a `with` snippet or lies wholly inside one, and
//! furniture (label 0) likewise for a `without` snippet; other blocks carry no label. The page's
//! bytes are decoded as the stage decodes them.

#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)] // a tool

use newsflow_core::NormalizeStage;
use newsflow_core::decode::decode_bytes;
use serde::Deserialize;
use unicode_normalization::UnicodeNormalization;

#[derive(Deserialize)]
struct Gold {
    file: String,
    #[serde(default)]
    with: Vec<String>,
    #[serde(default)]
    without: Vec<String>,
}

fn norm(text: &str) -> String {
    text.nfc()
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn label(block: &str, snippets: &[String]) -> bool {
    snippets.iter().any(|s| {
        !s.is_empty()
            && (block.contains(s.as_str()) || (block.chars().count() >= 15 && s.contains(block)))
    })
}

fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).expect("a folder like html-eval"));
    let stage = NormalizeStage::default();
    let gold = std::fs::read_to_string(dir.join("gold.jsonl")).unwrap();
    for line in gold.lines().filter(|l| !l.trim().is_empty()) {
        let g: Gold = serde_json::from_str(line).unwrap();
        let bytes = std::fs::read(dir.join("pages").join(&g.file)).unwrap();
        let html = decode_bytes(&bytes, None).text;
        let with: Vec<String> = g.with.iter().map(|s| norm(s)).collect();
        let without: Vec<String> = g.without.iter().map(|s| norm(s)).collect();
        for (i, block) in stage.block_features(&html).into_iter().enumerate() {
            let text = norm(&block.text);
            let label = if label(&text, &with) {
                Some(1)
            } else if label(&text, &without) {
                Some(0)
            } else {
                None
            };
            let row = serde_json::json!({
                "file": g.file, "block": i, "label": label, "text": text, "x": block.features,
            });
            println!("{row}");
        }
    }
}
