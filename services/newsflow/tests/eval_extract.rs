//! `newsflow eval extract` on the shared corpus's real pages, as a user runs it: the command's
//! `--json` report, checked against the figures the normalizer reaches (issue 18).
//!
//! - `html-eval` (990 pages, trafilatura's evaluation set): main-text F1 and precision by the
//!   set's README rule, and `no_body` on at most 1 % of the pages.
//! - `html-dates` (799 pages, htmldate's set): `no_body` on at most 1 % of the pages and the
//!   publication day.
//! - Dates, authors and titles on `html-eval` by the README's rules (issue 19).
//!
//! The floors are what the extractor reaches now, so a change that loses quality fails here.
//! The main-text floors are issue 18's targets (F1 ≥ 0.94 with precision ≥ 0.93). Here, on
//! `html-eval`, they are met in-sample: the block model (`normalize/html/model.rs`) was fitted
//! on this set's labels. Its honest figure is the cross-validation that
//! `crates/core/html/fit_block_model.py --folds DIR --newsflow BIN` prints. There, every site
//! is held out of the fit that judges it, and each fold is scored by this very command
//! (`--block-model`): F1 0.942, P 0.938 when it was fitted. Run with `--nocapture` to see the
//! report.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

use std::process::Command;

use serde_json::Value;

fn eval(set: &str) -> Value {
    let dir = newsflow_testkit::corpus_dir().join(set);
    let out = Command::new(env!("CARGO_BIN_EXE_newsflow"))
        .args(["eval", "extract", "--json", "--worst", "5"])
        .arg(&dir)
        .output()
        .expect("newsflow runs");
    assert!(
        out.status.success(),
        "newsflow eval extract {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("--json prints one JSON object")
}

fn number(report: &Value, key: &str) -> f64 {
    report[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} in {report}"))
}

#[test]
fn html_eval_main_text_and_no_body() {
    let report = eval("html-eval");
    let (p, r, f1) = (
        number(&report, "precision"),
        number(&report, "recall"),
        number(&report, "f1"),
    );
    let pages = number(&report, "pages");
    let no_body = number(&report, "no_body");
    println!(
        "html-eval: P {p:.3} R {r:.3} F1 {f1:.3}, no_body {no_body} of {pages} \
         (issue 18's target: F1 >= 0.94 with P >= 0.93, in-sample here; trafilatura 0.926)"
    );
    let (dates, authors, titles) = (
        number(&report["dates"], "share"),
        number(&report["authors"], "share"),
        number(&report["titles"], "share"),
    );
    println!(
        "dates {dates:.3}, authors {authors:.3}, titles {titles:.3} \
         (issue 19's targets: 0.90, 0.60, 0.75; trafilatura 0.865, 0.519, 0.576)"
    );
    assert!(
        dates >= 0.90,
        "dates right on {dates:.3} of the dated pages (target 0.90)"
    );
    assert!(
        authors >= 0.60,
        "authors right on {authors:.3} of the pages (target 0.60)"
    );
    assert!(titles >= 0.75, "titles right on {titles:.3} of the pages");
    assert_eq!(pages, 990.0, "the whole set is scored");
    assert!(f1 >= 0.94, "main-text F1 {f1:.3} fell below 0.94");
    assert!(p >= 0.93, "main-text precision {p:.3} fell below 0.93");
    assert!(
        no_body <= pages * 0.01,
        "{no_body} pages dead-lettered as no_body"
    );
}

#[test]
fn html_dates_bodies_and_dates() {
    let report = eval("html-dates");
    let pages = number(&report, "pages");
    let no_body = number(&report, "no_body");
    let dates = number(&report["dates"], "share");
    println!("html-dates: no_body {no_body} of {pages}, dates {dates:.3} (target 0.90)");
    assert_eq!(pages, 799.0, "the whole set is read");
    assert!(
        dates >= 0.92,
        "dates right on {dates:.3} of the pages (target 0.90)"
    );
    assert!(
        no_body <= pages * 0.01,
        "{no_body} pages dead-lettered as no_body"
    );
}

/// `--json` counts of `newsflow eval extract DIR` with `extra` arguments, or its error.
fn counts_with(dir: &std::path::Path, extra: &[&str]) -> Result<Value, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_newsflow"))
        .args(["eval", "extract", "--json"])
        .arg(dir)
        .args(extra)
        .output()
        .expect("newsflow runs");
    if out.status.success() {
        let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
        Ok(report["counts"].clone())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn a_refitted_block_model_is_scored_in_place_of_the_shipped_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("pages")).unwrap();
    let paragraph = "The council voted on Tuesday to rebuild the old harbour wall, which storms \
                     breached twice last winter, at a cost the mayor put at four million euros.";
    let page = format!(
        "<html><head><title>Harbour wall</title></head><body>\
         <nav><ul><li><a href=/>Home</a></li><li><a href=/w>World</a></li></ul></nav>\
         <article><h1>Council backs harbour wall</h1><p>{paragraph}</p>\
         <p>{paragraph} Work starts in spring.</p><p>{paragraph} Fishermen welcomed it.</p>\
         </article><div class=\"related\"><h3>More from the town</h3><ul>\
         <li><a href=/a>The garden party drew a record crowd of neighbours</a></li>\
         <li><a href=/b>Library hours change in March</a></li></ul></div></body></html>"
    );
    std::fs::write(dir.path().join("pages/harbour.html"), page).unwrap();
    let gold = serde_json::json!({
        "file": "harbour.html",
        "with": ["Work starts in spring.", "Fishermen welcomed it."],
        "without": ["The garden party drew a record crowd", "Library hours change"],
    });
    std::fs::write(dir.path().join("gold.jsonl"), format!("{gold}\n")).unwrap();
    // A model that calls every block main text: one tree, one leaf, a large prior.
    let keep_all = dir.path().join("keep-all.tsv");
    std::fs::write(
        &keep_all,
        "init\t10.0\nrate\t1.0\nthreshold\t0.5\n0\t0\t0\t0.0\t-1\t-1\t0.0\n",
    )
    .unwrap();
    let broken = dir.path().join("broken.tsv");
    std::fs::write(&broken, "init\tten\n").unwrap();

    let shipped = counts_with(dir.path(), &[]).unwrap();
    assert_eq!(shipped["tp"], 2, "{shipped}");
    assert_eq!(
        shipped["fp"], 0,
        "the shipped model drops the links: {shipped}"
    );
    let refitted = counts_with(dir.path(), &["--block-model", keep_all.to_str().unwrap()]).unwrap();
    assert_eq!(refitted["tp"], 2, "{refitted}");
    assert_eq!(
        refitted["fp"], 2,
        "the given model keeps the links: {refitted}"
    );
    let error = counts_with(dir.path(), &["--block-model", broken.to_str().unwrap()]).unwrap_err();
    assert!(
        error.contains("block model") && error.contains("line 1"),
        "{error}"
    );
}
