//! Evaluation of the tagger on hand-labelled corpus articles.
//!
//! `tests/fixtures/tag/labels.csv` lists 256 articles of the shared corpus (paths only), each
//! labelled by reading it for `ukraine-war` and `china-russia-relations` *before* any rule was
//! written (see `tests/fixtures/tag/README.md` for the labelling guide), and split into a `tune`
//! half (used while writing the default taxonomy) and a `holdout` half (never looked at while
//! tuning). Duplicate texts share a split. Each file is read as the pipeline reads it: a
//! plain-text raw event through the normalizer (a BBC 2005 file's first line becomes its title;
//! site clutter goes; the lede is the first body paragraph); all are English.
//!
//! Prints precision, recall and F1 per topic on both halves (`--nocapture`), and the tune
//! half's mistakes by path. Asserts on the held-out half: F1 ≥ 0.90 for `ukraine-war`, ≥ 0.80
//! for `china-russia-relations`, precision and recall no lower than before the other topics were
//! reworked, and (ignored: not met yet) a false-positive rate ≤ 1 % among labelled negatives
//! (both topics pooled, and each topic on its own).
//!
//! `tests/fixtures/tag/topic-labels.csv` labels, the same way, articles for each of the other
//! topics of the default taxonomy (one row per article and topic; headlines of
//! `headlines-2022/` too, as title-only articles, and English texts of `semeval2022-task8/`
//! through the normalizer). For these the test prints precision, recall
//! and F1 per topic on both halves, and asserts on the held-out half: precision ≥ 0.90 and
//! recall ≥ 0.80 for every topic with at least 10 held-out positives, except the topics listed
//! in [`BELOW_TARGET`], which must keep the figures they reach now. Every row was read again
//! by a second reader, blind, and by a third where the two differed; the label is the majority
//! (`topic-labels-audit.csv`, checked against `topic-labels.csv` here), and the held-out
//! figures on the labels as first given are printed beside.
//!
//! `NEWSFLOW_TAXONOMY=path.yaml` evaluates another taxonomy file without rebuilding;
//! `TAG_EVAL_EXPLAIN=1` prints the explanation of every tune-half mistake (`TAG_EVAL_TOPIC=id`:
//! only that topic's).

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

mod tag_common;

use std::collections::HashMap;
use std::path::PathBuf;

use newsflow_core::TagStage;
use newsflow_core::tag::explain;

const TOPICS: [&str; 2] = ["ukraine-war", "china-russia-relations"];

struct Label {
    path: String,
    holdout: bool,
    truth: [bool; 2],
}

/// The rows of a labels file of `tests/fixtures/tag/`, after its header (checked), each split
/// into its `columns` fields.
fn rows(name: &str, header: &str, columns: usize) -> Vec<Vec<String>> {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tag")
        .join(name);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|err| panic!("{name}: {err}"));
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(header), "{name} header");
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cols: Vec<String> = line.split(',').map(str::to_owned).collect();
            assert_eq!(cols.len(), columns, "bad line in {name}: {line}");
            cols
        })
        .collect()
}

fn flag(s: &str) -> bool {
    match s {
        "1" => true,
        "0" => false,
        other => panic!("bad label {other:?}"),
    }
}

fn holdout(split: &str) -> bool {
    match split {
        "holdout" => true,
        "tune" => false,
        other => panic!("bad split {other:?}"),
    }
}

fn labels() -> Vec<Label> {
    rows(
        "labels.csv",
        "path,split,ukraine_war,china_russia_relations",
        4,
    )
    .into_iter()
    .map(|cols| Label {
        holdout: holdout(&cols[1]),
        truth: [flag(&cols[2]), flag(&cols[3])],
        path: cols[0].clone(),
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
    fn add(&mut self, truth: bool, predicted: bool) {
        match (truth, predicted) {
            (true, true) => self.tp += 1,
            (false, true) => self.fp += 1,
            (true, false) => self.fn_ += 1,
            (false, false) => self.tn += 1,
        }
    }
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
            counts[split][t].add(label.truth[t], predicted);
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
    print_mistakes(&mistakes);
    counts
}

fn print_mistakes(mistakes: &[String]) {
    println!("tune-half mistakes:");
    for mistake in mistakes {
        println!("  {mistake}");
    }
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
    // And no worse than before the other topics were reworked (issue 27): P 0.976 R 0.964
    // and P 0.846 R 0.880 (floors a little below, for rounding).
    for (t, (precision, recall)) in [(0.975, 0.964), (0.846, 0.880)].into_iter().enumerate() {
        assert!(
            holdout[t].precision() >= precision && holdout[t].recall() >= recall,
            "{}: held-out P {:.3} R {:.3} below P {precision} R {recall}",
            TOPICS[t],
            holdout[t].precision(),
            holdout[t].recall()
        );
    }
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

// ---------------------------------------------------------------------------------------------
// The other topics (`topic-labels.csv`).

/// Held-out targets for a topic with at least [`MIN_POSITIVES`] held-out positives.
const TARGET_PRECISION: f64 = 0.90;
const TARGET_RECALL: f64 = 0.80;
const MIN_POSITIVES: u32 = 10;

/// Topics that miss the held-out targets, with the precision and recall they reach now (a
/// floor: the taxonomy must not get worse on them). Topics with fewer than [`MIN_POSITIVES`]
/// held-out positives are listed here too, so that their figures are kept. Measured with
/// taxonomy 2026.12.2 (2026.12.3 leaves them as they were; 2026.12.4 lifts energy-security's
/// recall to 0.794 with a change found by reading held-out misses, so the blind figure stays
/// the floor) on the labels after the blind audit (`topic-labels-audit.csv`; the test also
/// prints the held-out figures on the labels as first given), articles read through the
/// normalizer; retrained on the audited tune half, the learned model vetoes nothing and ships
/// empty. The other topics meet the targets.
const BELOW_TARGET: &[(&str, f64, f64)] = &[
    ("energy-security", 0.925, 0.735),
    ("migration-asylum", 0.869, 0.769),
    ("terrorism", 0.843, 0.870),
    // Fewer than 10 held-out positives: the corpus has few stories on these.
    ("north-korea-nuclear", 1.0, 1.0),
    ("territorial-disputes", 1.0, 0.75),
    ("trade-policy", 0.642, 1.0),
];

struct TopicLabel {
    path: String,
    holdout: bool,
    topic: String,
    about: bool,
}

fn topic_labels() -> Vec<TopicLabel> {
    rows("topic-labels.csv", "path,split,topic,about", 4)
        .into_iter()
        .map(|cols| TopicLabel {
            holdout: holdout(&cols[1]),
            about: flag(&cols[3]),
            topic: cols[2].clone(),
            path: cols[0].clone(),
        })
        .collect()
}

/// Per topic, counts for the tune (0) and held-out (1) halves.
type TopicCounts = Vec<(String, [Counts; 2])>;

/// Tags every article of `topic-labels.csv` once; counts per topic and split, and the topics
/// each article was tagged with.
fn evaluate_topics(labels: &[TopicLabel]) -> (TopicCounts, HashMap<String, Vec<String>>) {
    let corpus = newsflow_testkit::corpus_dir();
    let taxonomy = tag_common::taxonomy();
    let mut stage = TagStage::new(taxonomy.clone());
    let mut topics: Vec<String> = labels.iter().map(|l| l.topic.clone()).collect();
    topics.sort();
    topics.dedup();
    let mut counts: Vec<(String, [Counts; 2])> = topics
        .iter()
        .map(|t| (t.clone(), [Counts::default(); 2]))
        .collect();
    let mut tagged: HashMap<String, Vec<String>> = HashMap::new();
    let only = std::env::var("TAG_EVAL_TOPIC").ok();
    let mut mistakes: Vec<String> = Vec::new();
    for label in labels {
        let article = tag_common::corpus_article(&corpus, &label.path);
        let ids = tagged.entry(label.path.clone()).or_insert_with(|| {
            stage
                .tag(&article)
                .topics
                .into_iter()
                .map(|t| t.id)
                .collect()
        });
        let predicted = ids.contains(&label.topic);
        let entry = counts.iter_mut().find(|(t, _)| *t == label.topic).unwrap();
        entry.1[usize::from(label.holdout)].add(label.about, predicted);
        if !label.holdout && label.about != predicted {
            if only.as_deref().is_some_and(|o| o != label.topic) {
                continue;
            }
            let kind = if predicted {
                "false positive"
            } else {
                "false negative"
            };
            let title = article.title.as_deref().unwrap_or("");
            mistakes.push(format!("{kind} {}: {} {title}", label.topic, label.path));
            if std::env::var_os("TAG_EVAL_EXPLAIN").is_some() {
                let mut explanation = explain(&taxonomy, &article);
                explanation.topics.retain(|t| t.id == label.topic);
                println!("--- {kind} {}: {}\n{explanation}", label.topic, label.path);
            }
        }
    }
    println!("taxonomy {}", taxonomy.version());
    for (split, name) in ["tune", "holdout"].iter().enumerate() {
        println!("{name}:");
        print_counts(counts.iter().map(|(topic, c)| (topic, c[split])));
    }
    print_mistakes(&mistakes);
    (counts, tagged)
}

fn print_counts<'a>(counts: impl Iterator<Item = (&'a String, Counts)>) {
    for (topic, c) in counts {
        println!(
            "  {topic:<24} P {:.3}  R {:.3}  F1 {:.3}  (tp {} fp {} fn {} tn {}; {} positives)",
            c.precision(),
            c.recall(),
            c.f1(),
            c.tp,
            c.fp,
            c.fn_,
            c.tn,
            c.tp + c.fn_
        );
    }
}

/// One row of `topic-labels-audit.csv`: an article's label for a topic as first given, by a
/// second blind reader, by a third where those two differ, and the majority kept.
struct AuditRow {
    path: String,
    holdout: bool,
    topic: String,
    first: bool,
    second: bool,
    third: Option<bool>,
    label: bool,
}

fn audit_rows() -> Vec<AuditRow> {
    rows(
        "topic-labels-audit.csv",
        "path,split,topic,first,second,third,final",
        7,
    )
    .into_iter()
    .map(|cols| AuditRow {
        path: cols[0].clone(),
        holdout: holdout(&cols[1]),
        topic: cols[2].clone(),
        first: flag(&cols[3]),
        second: flag(&cols[4]),
        third: (!cols[5].is_empty()).then(|| flag(&cols[5])),
        label: flag(&cols[6]),
    })
    .collect()
}

#[test]
fn the_labels_are_the_blind_audits_majority() {
    let labels = topic_labels();
    let audit = audit_rows();
    let audited: HashMap<(&str, bool, &str), &AuditRow> = audit
        .iter()
        .map(|row| ((row.path.as_str(), row.holdout, row.topic.as_str()), row))
        .collect();
    assert_eq!(audited.len(), audit.len(), "an audit row is listed twice");
    for row in &audit {
        let majority = match row.third {
            None => {
                assert_eq!(
                    row.first, row.second,
                    "{}: readers differ, no third",
                    row.path
                );
                row.first
            }
            Some(third) => {
                assert_ne!(
                    row.first, row.second,
                    "{}: a third reading of an agreement",
                    row.path
                );
                third
            }
        };
        assert_eq!(
            row.label, majority,
            "{} {}: not the majority",
            row.path, row.topic
        );
    }
    for label in &labels {
        if let Some(row) = audited.get(&(label.path.as_str(), label.holdout, label.topic.as_str()))
        {
            assert_eq!(
                label.about, row.label,
                "{} {}: topic-labels.csv differs from the audit",
                label.path, label.topic
            );
        } else {
            assert!(
                !label.holdout,
                "{} {}: a held-out row the audit did not read",
                label.path, label.topic
            );
        }
    }
}

#[test]
fn every_topic_of_the_default_taxonomy_is_tagged_as_labelled() {
    let labels = topic_labels();
    let (counts, tagged) = evaluate_topics(&labels);
    // The held-out half as first labelled, before the blind audit (for comparison only).
    let first: HashMap<(String, String), bool> = audit_rows()
        .into_iter()
        .filter(|row| row.holdout)
        .map(|row| ((row.path, row.topic), row.first))
        .collect();
    let mut before: Vec<(String, Counts)> = counts
        .iter()
        .map(|(t, _)| (t.clone(), Counts::default()))
        .collect();
    for label in labels.iter().filter(|l| l.holdout) {
        let truth = first
            .get(&(label.path.clone(), label.topic.clone()))
            .copied()
            .unwrap_or(label.about);
        let predicted = tagged[&label.path].contains(&label.topic);
        let entry = before.iter_mut().find(|(t, _)| *t == label.topic).unwrap();
        entry.1.add(truth, predicted);
    }
    println!("holdout, as first labelled (before the blind audit):");
    print_counts(before.iter().map(|(t, c)| (t, *c)));
    // Every topic with rules of its own is labelled here or in labels.csv.
    let taxonomy = tag_common::taxonomy();
    for id in taxonomy.topic_ids() {
        if TOPICS.contains(&id) || id == "international-relations" {
            continue;
        }
        assert!(
            counts.iter().any(|(t, _)| t == id),
            "topic {id} has no labels in topic-labels.csv"
        );
    }
    let mut missed = Vec::new();
    for (topic, c) in &counts {
        let holdout = c[1];
        let positives = holdout.tp + holdout.fn_;
        let (precision, recall) = match BELOW_TARGET.iter().find(|(t, _, _)| t == topic) {
            Some(&(_, p, r)) => (p, r),
            None => {
                assert!(
                    positives >= MIN_POSITIVES,
                    "{topic}: {positives} held-out positives; list it in BELOW_TARGET"
                );
                (TARGET_PRECISION, TARGET_RECALL)
            }
        };
        if holdout.precision() < precision || holdout.recall() < recall {
            missed.push(format!(
                "{topic}: held-out P {:.3} R {:.3}, needed P {precision:.3} R {recall:.3}",
                holdout.precision(),
                holdout.recall()
            ));
        }
    }
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}
