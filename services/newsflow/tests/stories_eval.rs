//! The story stage against people's judgement: the 354 English–English pairs of SemEval-2022
//! Task 8 (`semeval2022-task8/` in the shared corpus). Prints its figures (run with
//! `--nocapture`) and asserts floors.
//!
//! Each pair in a fresh run, as the issue defines it: the two texts as two raw events through
//! `newsflow run --stories` (the library's `pipeline::run`, the very code of the command); the
//! pair is one story when both articles end in one story (following `merged_into`). Same-story
//! pairs are those people rated Overall ≤ 1.5, different ones Overall ≥ 3.0; pairs in between
//! count only for the correlation. The correlation is that of `newsflow stories explain`'s
//! `similarity` with Overall over every pair (negative: Overall 1 = same story … 4 = unrelated).
//!
//! The settings are the shipped defaults, tuned on the training split only (`tune_on_training`
//! below, `--ignored`); the testing split is reported separately.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

use std::collections::HashMap;
use std::path::Path;

use chrono::Utc;
use newsflow::cli::{StoriesExplainArgs, StoryConfigArg};
use newsflow::input::{Input, ReadOptions};
use newsflow::pipeline::{RunOptions, run};
use newsflow::stories::{enriched_article, explain_articles, explain_pair};
use newsflow_core::StageContext;
use newsflow_core::event::EnrichedArticle;
use newsflow_core::story::StoryConfig;
use newsflow_core::tag::Taxonomy;
use newsflow_testkit::assert_valid;
use newsflow_testkit::scores::{Confusion, SemevalPair as Pair, pearson, semeval_english_pairs};
use serde_json::Value;

/// One raw event per text, as a producer would send it (no dates: the pairs have none).
fn raw_line(id: &str, source: &str, text: &str) -> String {
    let event = serde_json::json!({
        "id": id, "source": source, "content_type": "text/plain", "content": text,
    });
    format!("{event}\n")
}

/// Writes the pair as `a.jsonl`, `b.jsonl` and `pair.jsonl` (both, in order) into `dir`.
fn write_pair(dir: &Path, pair: &Pair) {
    let a = raw_line(&pair.ids.0, "outlet-a", &pair.texts.0);
    let b = raw_line(&pair.ids.1, "outlet-b", &pair.texts.1);
    std::fs::write(dir.join("a.jsonl"), &a).unwrap();
    std::fs::write(dir.join("b.jsonl"), &b).unwrap();
    std::fs::write(dir.join("pair.jsonl"), format!("{a}{b}")).unwrap();
}

/// `newsflow run --stories` on the pair: do both articles end in one story? Every record is
/// checked against the schema on the way.
fn same_story_in_a_run(dir: &Path, pair: &Pair, config: Option<&Path>) -> bool {
    let stories = dir.join("stories.jsonl");
    let summary = run(&RunOptions {
        inputs: vec![Input::Path(dir.join("pair.jsonl"))],
        output: Some(dir.join("out.jsonl")),
        dlq: Some(dir.join("dlq.jsonl")),
        read: ReadOptions {
            source: None,
            max_content_bytes: newsflow_core::decode::DEFAULT_MAX_CONTENT_BYTES,
        },
        taxonomy: None,
        stories: Some(stories.clone()),
        story_config: config.map(Path::to_path_buf),
    })
    .unwrap();
    assert!(summary.succeeded());
    let mut story_of: HashMap<String, String> = HashMap::new();
    let mut merged_into: HashMap<String, String> = HashMap::new();
    for line in std::fs::read_to_string(&stories).unwrap().lines() {
        let record: Value = serde_json::from_str(line).unwrap();
        assert_valid("story.v1.schema.json", &record);
        let story = record["story"]["id"].as_str().unwrap().to_owned();
        if let Some(into) = record["story"]["merged_into"].as_str() {
            merged_into.insert(story.clone(), into.to_owned());
        }
        if let Some(article) = record["article_id"].as_str() {
            story_of.entry(article.to_owned()).or_insert(story);
        }
    }
    let resolve = |article: &str| {
        let mut story = story_of.get(article)?.clone();
        while let Some(next) = merged_into.get(&story) {
            story = next.clone();
        }
        Some(story)
    };
    match (resolve(&pair.ids.0), resolve(&pair.ids.1)) {
        (Some(a), Some(b)) => a == b,
        // A text the pipeline rejected (no body) is in no story.
        _ => false,
    }
}

/// The enriched articles a run wrote to `out.jsonl`, by id (duplicate notices left out).
fn run_articles(dir: &Path) -> HashMap<String, EnrichedArticle> {
    std::fs::read_to_string(dir.join("out.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|line| serde_json::from_str::<EnrichedArticle>(line).ok())
        .map(|article| (article.article.id.clone(), article))
        .collect()
}

/// Counts one pair: same-story pairs are rated Overall <= 1.5, different ones >= 3.0; those
/// in between count only for the correlation.
fn count(figures: &mut Confusion, overall: f64, same: bool) {
    if overall <= 1.5 || overall >= 3.0 {
        figures.add(overall <= 1.5, same);
    }
}

/// The floors this evaluation asserts: what the shipped settings reach on the weaker split, a
/// little below, so a change that makes stories worse fails. Measured at 8dce694: training F1
/// 0.892 (P 0.868, R 0.917), testing F1 0.800 (P 0.833, R 0.769), all 0.846 (P 0.851, R
/// 0.840); r -0.763, -0.759, -0.761. The targets (F1 ≥ 0.90 with precision ≥ 0.90
/// per split, |r| ≥ 0.80) are not reached: they are printed beside the figures.
const FLOOR_F1: f64 = 0.78;
const FLOOR_PRECISION: f64 = 0.80;
const FLOOR_ABS_R: f64 = 0.74;

#[test]
fn semeval_pairs_are_one_story_when_people_say_so() {
    let pairs = semeval_english_pairs();
    assert_eq!(pairs.len(), 354, "English–English pairs");
    let tmp = tempfile::tempdir().unwrap();
    let mut figures: HashMap<&str, Confusion> = HashMap::new();
    let mut scores: HashMap<&str, (Vec<f64>, Vec<f64>)> = HashMap::new();
    let mut rejected = 0;
    let config = StoryConfig::default();
    let ctx = StageContext::at(Utc::now());
    for pair in &pairs {
        write_pair(tmp.path(), pair);
        let same = same_story_in_a_run(tmp.path(), pair, None);
        // `newsflow stories explain A B`: on the run's own enriched articles when both are
        // (the same articles explain's fresh chains make, at half the cost), else through the
        // command's code from the files (a copy the deduplicator caught). A text the
        // normalizer rejects (no body) has nothing in common with anything: similarity 0.
        let enriched = run_articles(tmp.path());
        let explained = match (enriched.get(&pair.ids.0), enriched.get(&pair.ids.1)) {
            (Some(a), Some(b)) => explain_articles(&config, a, b, &ctx),
            _ => explain_pair(&StoriesExplainArgs {
                a: tmp.path().join("a.jsonl").display().to_string(),
                b: tmp.path().join("b.jsonl").display().to_string(),
                json: true,
                story_config: StoryConfigArg { path: None },
                taxonomy: None,
            }),
        };
        let similarity = match explained {
            Ok(why) => {
                assert_eq!(why.same_story, why.similarity >= why.threshold);
                why.similarity
            }
            Err(err) => {
                assert!(format!("{err:#}").contains("no_body"), "{err:#}");
                rejected += 1;
                0.0
            }
        };
        for split in [pair.split, "all"] {
            count(figures.entry(split).or_default(), pair.overall, same);
            let entry = scores.entry(split).or_default();
            entry.0.push(similarity);
            entry.1.push(pair.overall);
        }
    }
    println!(
        "story evaluation, SemEval-2022 Task 8 English pairs, threshold {}:",
        StoryConfig::default().threshold
    );
    for split in ["training", "testing", "all"] {
        let f = figures[split];
        let (x, y) = &scores[split];
        let r = pearson(x, y);
        println!(
            "  {split:8}: pairs {:3}  F1 {:.3}  precision {:.3}  recall {:.3}  (tp {} fp {} fn {} tn {})  Pearson r {:.3}",
            x.len(),
            f.f1(),
            f.precision(),
            f.recall(),
            f.tp,
            f.fp,
            f.fn_,
            f.tn,
            r
        );
        assert!(f.f1() >= FLOOR_F1, "{split}: F1 {:.3}", f.f1());
        assert!(
            f.precision() >= FLOOR_PRECISION,
            "{split}: precision {:.3}",
            f.precision()
        );
        assert!(r.abs() >= FLOOR_ABS_R, "{split}: |r| {:.3}", r.abs());
    }
    println!(
        "  targets: F1 >= 0.90 with precision >= 0.90 per split; |r| >= 0.80; {rejected} pairs with a text the normalizer rejects (no body: similarity 0, not one story)"
    );
}

/// Tuning on the training split only: the enriched articles once, then each setting through
/// `explain` (which decides as a fresh run does, duplicates aside). Prints the best settings.
/// `cargo test -p newsflow --test stories_eval -- --ignored --nocapture tune`
#[test]
#[ignore = "a tool for choosing the defaults, not a check"]
fn tune_on_training() {
    let pairs: Vec<Pair> = semeval_english_pairs()
        .into_iter()
        .filter(|p| p.split == "training")
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let taxonomy = std::sync::Arc::new(Taxonomy::default());
    let ctx = StageContext::at(Utc::now());
    let articles: Vec<(EnrichedArticle, EnrichedArticle, f64)> = pairs
        .iter()
        .filter_map(|pair| {
            write_pair(tmp.path(), pair);
            let a = enriched_article(
                &tmp.path().join("a.jsonl").display().to_string(),
                &taxonomy,
                &ctx,
            );
            let b = enriched_article(
                &tmp.path().join("b.jsonl").display().to_string(),
                &taxonomy,
                &ctx,
            );
            Some((a.ok()?, b.ok()?, pair.overall))
        })
        .collect();
    let mut results = Vec::new();
    for lede in [1.0, 1.5, 2.0] {
        for body in [0.6, 1.0] {
            for name_boost in [1.0, 1.5] {
                for entities in [0.05, 0.1] {
                    for prior_document_words in [100.0, 300.0] {
                        let mut config = StoryConfig::default();
                        config.fields.lede = lede;
                        config.fields.body = body;
                        config.name_boost = name_boost;
                        config.bonus.entities = entities;
                        config.prior_document_words = prior_document_words;
                        let scored: Vec<(f64, f64)> = articles
                            .iter()
                            .map(|(a, b, overall)| {
                                let why = explain_articles(&config, a, b, &ctx).unwrap();
                                (why.similarity, *overall)
                            })
                            .collect();
                        let (x, y): (Vec<f64>, Vec<f64>) = scored.iter().copied().unzip();
                        let r = pearson(&x, &y);
                        // The best F1 over the thresholds.
                        let mut best = (0.0, 0.0, 0.0, 0.0);
                        for step in 30..90 {
                            let threshold = f64::from(step) / 100.0;
                            let mut f = Confusion::default();
                            for (s, o) in &scored {
                                count(&mut f, *o, *s >= threshold);
                            }
                            if f.f1() > best.0 {
                                best = (f.f1(), f.precision(), f.recall(), threshold);
                            }
                        }
                        let label = format!(
                            "lede {lede} body {body} name_boost {name_boost} entities {entities} prior_document_words {prior_document_words}"
                        );
                        results.push((best, r, label));
                    }
                }
            }
        }
    }
    results.sort_by(|a, b| b.0.0.total_cmp(&a.0.0));
    println!("best F1 on the training split:");
    for ((f1, p, rc, th), r, label) in results.iter().take(12) {
        println!("F1 {f1:.3} P {p:.3} R {rc:.3} at {th:.2}  r {r:.3}  {label}");
    }
    results.sort_by(|a, b| a.1.total_cmp(&b.1));
    println!("best correlation on the training split:");
    for ((f1, p, rc, th), r, label) in results.iter().take(6) {
        println!("F1 {f1:.3} P {p:.3} R {rc:.3} at {th:.2}  r {r:.3}  {label}");
    }
}
