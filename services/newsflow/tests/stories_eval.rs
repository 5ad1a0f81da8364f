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
//! The settings are the shipped defaults, fitted on the training split only: `dump_enriched_pairs`
//! below (`--ignored`) writes the pairs' enriched articles, `crates/core/examples/story_pairs.rs`
//! prints the score's parts for each, and `crates/core/story/fit_model.py` fits the model and
//! the threshold on the training rows. The testing split is reported as a held-out figure.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

use std::collections::HashMap;
use std::path::Path;

use chrono::Utc;
use newsflow::cli::{StoriesExplainArgs, StoryConfigArg};
use newsflow::input::Input;
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
        stories: Some(stories.clone()),
        story_config: config.map(Path::to_path_buf),
        ..RunOptions::default()
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
/// little below, so a change that makes stories worse fails. Measured with the fitted model
/// (issue 22, second round): training F1 0.873 (P 0.886, R 0.861), testing F1 0.865 (P 0.914,
/// R 0.821), all 0.869 (P 0.900, R 0.840); r -0.849, -0.776, -0.810. The correlation
/// target, |r| ≥ 0.80 over all 354 pairs, is met and asserted; its F1 ≥ 0.90 with precision
/// ≥ 0.90 per split is not (printed beside the figures). One training false positive is the
/// deduplicator's: two unrelated reports whose text is mostly one site's sign-up form are near
/// duplicates to it (0.85), and a copy counts toward its original's story.
const FLOOR_F1: f64 = 0.85;
const FLOOR_PRECISION: f64 = 0.87;
const FLOOR_ABS_R: f64 = 0.76;
/// Issue 22's target for the correlation over all pairs.
const TARGET_ABS_R_ALL: f64 = 0.80;

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
        // command's code from the files (a copy the deduplicator caught: explain says so). A
        // text the normalizer rejects (no body) has nothing in common with anything:
        // similarity 0. Explain's verdict is the run's on every pair.
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
                assert_eq!(
                    why.same_story,
                    why.similarity >= why.threshold || why.copy_of.is_some()
                );
                assert_eq!(
                    why.same_story, same,
                    "pair {}_{}: explain and the run disagree",
                    pair.ids.0, pair.ids.1
                );
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
            "  {split:8}: pairs {:3}  {}  Pearson r {r:.3}",
            x.len(),
            f.summary()
        );
        assert!(f.f1() >= FLOOR_F1, "{split}: F1 {:.3}", f.f1());
        assert!(
            f.precision() >= FLOOR_PRECISION,
            "{split}: precision {:.3}",
            f.precision()
        );
        let floor = if split == "all" {
            TARGET_ABS_R_ALL
        } else {
            FLOOR_ABS_R
        };
        assert!(r.abs() >= floor, "{split}: |r| {:.3}", r.abs());
    }
    println!(
        "  targets: F1 >= 0.90 with precision >= 0.90 per split; |r| >= 0.80; {rejected} pairs with a text the normalizer rejects (no body: similarity 0, not one story)"
    );
}

/// Writes every pair's two enriched articles as JSON lines (`{"split", "overall", "a", "b"}`;
/// null for a text the normalizer rejects) to `$STORY_PAIRS` (default
/// `target/semeval-enriched.jsonl`), so the stage's features can be studied and its model
/// fitted without the first three stages each time (`crates/core/examples/story_pairs.rs`,
/// `crates/core/story/fit_model.py`).
/// `cargo test -p newsflow --test stories_eval -- --ignored dump_enriched_pairs`
#[test]
#[ignore = "a tool for fitting the model, not a check"]
fn dump_enriched_pairs() {
    use std::io::Write as _;
    let out =
        std::env::var("STORY_PAIRS").unwrap_or_else(|_| "target/semeval-enriched.jsonl".into());
    let tmp = tempfile::tempdir().unwrap();
    let taxonomy = std::sync::Arc::new(Taxonomy::default());
    let ctx = StageContext::at(Utc::now());
    let mut file = std::io::BufWriter::new(std::fs::File::create(&out).unwrap());
    for pair in semeval_english_pairs() {
        write_pair(tmp.path(), &pair);
        let article = |name: &str| {
            enriched_article(
                &tmp.path().join(name).display().to_string(),
                &taxonomy,
                &ctx,
            )
            .ok()
        };
        let line = serde_json::json!({
            "split": pair.split, "overall": pair.overall,
            "a": article("a.jsonl"), "b": article("b.jsonl"),
        });
        writeln!(file, "{line}").unwrap();
    }
    file.flush().unwrap();
    println!("wrote {out}");
}
