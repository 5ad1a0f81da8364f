//! Evaluation of the tagger on hand-labelled corpus articles.
//!
//! `tests/fixtures/tag/labels.csv` lists 256 articles of the shared corpus (paths only), each
//! labelled by reading it for `ukraine-war` and `china-russia-relations` *before* any rule was
//! written (see `tests/fixtures/tag/README.md` for the labelling guide), and split into a `tune`
//! half (used while writing the default taxonomy) and a `holdout` half (never looked at while
//! tuning). Duplicate texts share a split. Articles are built directly from the files: BBC 2005
//! files have their first line as the title; Ukraine-war files are body only; all are English.
//!
//! Prints precision, recall and F1 per topic on both halves (`--nocapture`), and the tune
//! half's mistakes by path. Asserts on the held-out half: F1 ≥ 0.90 for `ukraine-war`, ≥ 0.80
//! for `china-russia-relations`, and a false-positive rate ≤ 1 % among labelled negatives
//! (both topics pooled, and each topic on its own).
//!
//! `NEWSFLOW_TAXONOMY=path.yaml` evaluates another taxonomy file without rebuilding;
//! `TAG_EVAL_EXPLAIN=1` prints the explanation of every tune-half mistake.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

mod tag_common;

use std::path::PathBuf;

use newsflow_core::TagStage;
use newsflow_core::tag::explain;

const TOPICS: [&str; 2] = ["ukraine-war", "china-russia-relations"];

struct Label {
    path: String,
    holdout: bool,
    truth: [bool; 2],
}

fn labels() -> Vec<Label> {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tag/labels.csv");
    let text = std::fs::read_to_string(&file).expect("labels.csv is readable");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("path,split,ukraine_war,china_russia_relations"),
        "labels.csv header"
    );
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split(',').collect();
            assert_eq!(cols.len(), 4, "bad line in labels.csv: {line}");
            let flag = |s: &str| match s {
                "1" => true,
                "0" => false,
                other => panic!("bad label {other:?} in: {line}"),
            };
            Label {
                path: cols[0].to_owned(),
                holdout: match cols[1] {
                    "holdout" => true,
                    "tune" => false,
                    other => panic!("bad split {other:?} in: {line}"),
                },
                truth: [flag(cols[2]), flag(cols[3])],
            }
        })
        .collect()
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    tp: u32,
    fp: u32,
    fn_: u32,
    tn: u32,
}

impl Counts {
    fn precision(&self) -> f64 {
        if self.tp + self.fp == 0 {
            1.0
        } else {
            f64::from(self.tp) / f64::from(self.tp + self.fp)
        }
    }
    fn recall(&self) -> f64 {
        if self.tp + self.fn_ == 0 {
            1.0
        } else {
            f64::from(self.tp) / f64::from(self.tp + self.fn_)
        }
    }
    fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
    fn negatives(&self) -> u32 {
        self.fp + self.tn
    }
    fn fp_rate(&self) -> f64 {
        if self.negatives() == 0 {
            0.0
        } else {
            f64::from(self.fp) / f64::from(self.negatives())
        }
    }
}

/// Tags every labelled article; counts per [split][topic] (split 0: tune, 1: held out).
fn evaluate(labels: &[Label]) -> [[Counts; 2]; 2] {
    let corpus = newsflow_testkit::corpus_dir();
    let taxonomy = tag_common::taxonomy();
    let mut stage = TagStage::new(taxonomy.clone());

    // [split][topic]
    let mut counts = [[Counts::default(); 2]; 2];
    let mut mistakes: Vec<String> = Vec::new();
    for label in labels {
        let article = tag_common::corpus_article(&corpus, &label.path);
        let tags = stage.tag(&article);
        let split = usize::from(label.holdout);
        for (t, topic) in TOPICS.iter().enumerate() {
            let predicted = tags.topics.iter().any(|tag| tag.id == *topic);
            let c = &mut counts[split][t];
            match (label.truth[t], predicted) {
                (true, true) => c.tp += 1,
                (false, true) => c.fp += 1,
                (true, false) => c.fn_ += 1,
                (false, false) => c.tn += 1,
            }
            if !label.holdout && label.truth[t] != predicted {
                let kind = if predicted {
                    "false positive"
                } else {
                    "false negative"
                };
                mistakes.push(format!("{kind} {topic}: {}", label.path));
                if std::env::var_os("TAG_EVAL_EXPLAIN").is_some() {
                    println!(
                        "--- {kind} {topic}: {}\n{}",
                        label.path,
                        explain(&taxonomy, &article)
                    );
                }
            }
        }
    }

    println!("taxonomy {}", taxonomy.version());
    for (split, name) in ["tune", "holdout"].iter().enumerate() {
        let n = labels
            .iter()
            .filter(|l| usize::from(l.holdout) == split)
            .count();
        println!("{name} ({n} articles):");
        for (t, topic) in TOPICS.iter().enumerate() {
            let c = counts[split][t];
            println!(
                "  {topic:<24} P {:.3}  R {:.3}  F1 {:.3}  (tp {} fp {} fn {} tn {}; FP rate {:.2} % of {} negatives)",
                c.precision(),
                c.recall(),
                c.f1(),
                c.tp,
                c.fp,
                c.fn_,
                c.tn,
                100.0 * c.fp_rate(),
                c.negatives()
            );
        }
    }
    println!("tune-half mistakes:");
    for mistake in &mistakes {
        println!("  {mistake}");
    }

    counts
}

#[test]
fn labelled_corpus_articles_are_tagged_as_labelled() {
    let labels = labels();
    assert!(labels.len() >= 150, "at least 150 labelled articles");
    let holdout = evaluate(&labels)[1];
    let positives = |t: usize| holdout[t].tp + holdout[t].fn_;
    assert!(
        positives(0) >= 20 && positives(1) >= 20,
        "≥ 20 held-out positives per topic"
    );
    let bbc_negatives = labels
        .iter()
        .filter(|l| l.holdout && l.path.starts_with("bbc-2005/") && l.truth == [false, false])
        .count();
    assert!(
        bbc_negatives >= 30,
        "≥ 30 held-out bbc-2005 hard negatives, got {bbc_negatives}"
    );

    assert!(
        holdout[0].f1() >= 0.90,
        "ukraine-war held-out F1 {:.3} < 0.90",
        holdout[0].f1()
    );
    assert!(
        holdout[1].f1() >= 0.80,
        "china-russia-relations held-out F1 {:.3} < 0.80",
        holdout[1].f1()
    );
}

/// Not met yet (issue 6 stays open): the default taxonomy still tags some articles that mention
/// the war or China in passing. Run it with `cargo test -p newsflow-core --test tag_eval --
/// --ignored`.
#[test]
#[ignore = "not met yet: held-out false-positive rate above 1 %"]
fn held_out_false_positive_rate_is_at_most_one_percent() {
    let labels = labels();
    let holdout = evaluate(&labels)[1];
    let pooled_fp = holdout[0].fp + holdout[1].fp;
    let pooled_negatives = holdout[0].negatives() + holdout[1].negatives();
    let pooled_rate = f64::from(pooled_fp) / f64::from(pooled_negatives);
    println!(
        "held-out false positives: {pooled_fp} of {pooled_negatives} labelled negatives ({:.2} %)",
        100.0 * pooled_rate
    );
    assert!(
        pooled_rate <= 0.01,
        "held-out FP rate {:.2} % > 1 %",
        100.0 * pooled_rate
    );
    for (t, topic) in TOPICS.iter().enumerate() {
        assert!(
            holdout[t].fp_rate() <= 0.01,
            "{topic}: held-out FP rate {:.2} % > 1 %",
            100.0 * holdout[t].fp_rate()
        );
    }
}
