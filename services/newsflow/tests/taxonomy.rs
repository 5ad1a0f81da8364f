//! `newsflow taxonomy check|explain` and `newsflow run --taxonomy`, as an editor runs them.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

use std::process::{Command, Output, Stdio};

use newsflow_core::tag::DEFAULT_TAXONOMY_YAML;
use newsflow_testkit::corpus_dir;

fn newsflow(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_newsflow"));
    command.args(args).stdin(Stdio::null());
    for (key, _) in std::env::vars() {
        if key.starts_with("NEWSFLOW_") {
            command.env_remove(key);
        }
    }
    command.output().expect("newsflow runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const SEED: &str = "seed/upi-2022-06-16-xi-putin-call.txt";

#[test]
fn check_accepts_the_default_and_names_file_line_and_reason_of_each_error() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yaml");
    std::fs::write(&good, DEFAULT_TAXONOMY_YAML).unwrap();
    let out = newsflow(&["taxonomy", "check", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("ukraine-war"));

    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "version: \"t1\"\nlanguage: en\ntopics:\n  - id: Not An Id\n    label: x\n    terms: [war]\n  \
- id: other\n    label: y\n    threshold: many\n    terms: [peace]\n",
    )
    .unwrap();
    let out = newsflow(&["taxonomy", "check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let report = text(&out.stdout);
    let errors: Vec<&str> = report.lines().collect();
    assert!(!errors.is_empty(), "no errors reported");
    for error in &errors {
        assert!(
            error.starts_with(&format!("{}:", bad.display())),
            "no file in: {error}"
        );
    }
    // The YAML type error on line 9 is reported with its line.
    assert!(
        errors.iter().any(|e| e.contains(":9:")),
        "line 9 not named: {report}"
    );
}

#[test]
fn explain_shows_the_terms_and_threshold_behind_a_tag() {
    let seed = corpus_dir().join(SEED);
    let out = newsflow(&[
        "taxonomy",
        "explain",
        seed.to_str().unwrap(),
        "--topic",
        "china-russia-relations",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(report.contains("china-russia-relations"), "{report}");
    assert!(report.contains("TAGGED"), "{report}");
    assert!(report.contains("threshold"), "{report}");
    assert!(report.contains("term \""), "{report}");
    // Only the topic asked for.
    assert!(!report.contains("ukraine-war ("), "{report}");

    let out = newsflow(&[
        "taxonomy",
        "explain",
        seed.to_str().unwrap(),
        "--topic",
        "nope",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no such topic"));
}

#[test]
fn run_uses_the_taxonomy_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let taxonomy = dir.path().join("t.yaml");
    std::fs::write(
        &taxonomy,
        "version: \"only-xi\"\nlanguage: en\ntopics:\n  - id: xi-watch\n    label: Xi watch\n    \
threshold: 1\n    terms: [Xi Jinping]\n",
    )
    .unwrap();
    let seed = corpus_dir().join(SEED);
    let out = newsflow(&[
        "run",
        seed.to_str().unwrap(),
        "--taxonomy",
        taxonomy.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let article: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(article["taxonomy_version"], "only-xi");
    let topics: Vec<&str> = article["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(topics, ["xi-watch"]);

    std::fs::write(&taxonomy, "topics: [").unwrap();
    let out = newsflow(&[
        "run",
        seed.to_str().unwrap(),
        "--taxonomy",
        taxonomy.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("invalid taxonomy"),
        "{}",
        text(&out.stderr)
    );
}
