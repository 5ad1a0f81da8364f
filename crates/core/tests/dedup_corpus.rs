//! The dedupe stage over the whole BBC 2005 corpus: every group of byte-identical articles is
//! flagged, nothing below word-5-shingle Jaccard 0.5 is merged, every output validates against
//! its schema, and a stage restored from the state topic judges like the one that wrote it.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use newsflow_core::event::{DuplicateNotice, NormalizedArticle};
use newsflow_core::{DedupStage, Event, Stage, StageContext};
use sha2::{Digest, Sha256};

const CLASSES: [&str; 5] = ["business", "entertainment", "politics", "sport", "tech"];

/// One corpus file as a normalized article: title = first line, body = the following
/// non-empty lines, content_hash = hex SHA-256 of the lowercased, whitespace-collapsed body
/// joined by newlines. The normalize stage would produce the same fields.
fn article_from_file(root: &Path, path: &Path, time: DateTime<Utc>) -> NormalizedArticle {
    let text = String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let title = lines.next().map(str::to_owned);
    let body: Vec<String> = lines.map(str::to_owned).collect();
    let id = path
        .strip_prefix(root)
        .unwrap()
        .to_string_lossy()
        .into_owned();
    normalized(&id, title, body, time)
}

fn normalized(
    id: &str,
    title: Option<String>,
    body: Vec<String>,
    time: DateTime<Utc>,
) -> NormalizedArticle {
    let folded: Vec<String> = body
        .iter()
        .map(|p| {
            p.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        })
        .collect();
    NormalizedArticle {
        id: id.to_owned(),
        revision: 1,
        source: "bbc-2005".to_owned(),
        url: None,
        title,
        section: None,
        authors: Vec::new(),
        published_at: None,
        published_at_raw: None,
        dateline: None,
        lede: None,
        word_count: body
            .iter()
            .map(|p| p.split_whitespace().count() as u32)
            .sum(),
        content_hash: hex::encode(Sha256::digest(folded.join("\n").as_bytes())),
        body,
        related: Vec::new(),
        language: Some("en".to_owned()),
        fetched_at: Some(time),
        ingested_at: time,
        normalized_at: time,
    }
}

/// Exact word-5-shingle Jaccard similarity over lowercased whitespace-separated words.
fn jaccard(a: &[String], b: &[String]) -> f64 {
    fn shingles(body: &[String]) -> HashSet<Vec<String>> {
        let words: Vec<String> = body
            .iter()
            .flat_map(|p| p.split_whitespace())
            .map(str::to_lowercase)
            .collect();
        words.windows(5).map(<[String]>::to_vec).collect()
    }
    let (a, b) = (shingles(a), shingles(b));
    let common = a.intersection(&b).count();
    common as f64 / (a.len() + b.len() - common).max(1) as f64
}

fn corpus_files() -> (PathBuf, Vec<PathBuf>) {
    let root = newsflow_testkit::corpus_dir().join("bbc-2005");
    let mut files = Vec::new();
    for class in CLASSES {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(root.join(class))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "txt"))
            .collect();
        paths.sort();
        files.extend(paths);
    }
    (root, files)
}

struct Run {
    articles: Vec<NormalizedArticle>,
    outputs: Vec<Event>,
}

fn base_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2005-02-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn feed(stage: &mut DedupStage, articles: &[NormalizedArticle]) -> Vec<Event> {
    let ctx = StageContext::at(base_time() + Duration::days(1));
    articles
        .iter()
        .map(|article| {
            let mut out = stage
                .process(Event::Normalized(article.clone()), &ctx)
                .unwrap();
            assert_eq!(out.len(), 1);
            out.remove(0).event
        })
        .collect()
}

fn run_corpus(stage: &mut DedupStage) -> Run {
    let (root, files) = corpus_files();
    assert_eq!(files.len(), 2225);
    let articles: Vec<NormalizedArticle> = files
        .iter()
        .enumerate()
        .map(|(i, path)| article_from_file(&root, path, base_time() + Duration::seconds(i as i64)))
        .collect();
    let outputs = feed(stage, &articles);
    Run { articles, outputs }
}

fn notices(outputs: &[Event]) -> HashMap<String, DuplicateNotice> {
    outputs
        .iter()
        .filter_map(|event| match event {
            Event::DuplicateNotice(notice) => Some((notice.id.clone(), notice.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn every_group_of_identical_bbc_articles_is_flagged() {
    let mut stage = DedupStage::default();
    let run = run_corpus(&mut stage);
    let found = notices(&run.outputs);
    let by_id: HashMap<&str, &NormalizedArticle> =
        run.articles.iter().map(|a| (a.id.as_str(), a)).collect();

    // Ground truth: files with the same bytes, in the order they were fed.
    let (root, files) = corpus_files();
    let mut groups: HashMap<Vec<u8>, Vec<String>> = HashMap::new();
    for path in &files {
        let digest = Sha256::digest(std::fs::read(path).unwrap()).to_vec();
        let id = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        groups.entry(digest).or_default().push(id);
    }
    let groups: Vec<Vec<String>> = groups.into_values().filter(|g| g.len() > 1).collect();
    assert_eq!(groups.len(), 98);

    let mut flagged_groups = 0;
    let mut exact = 0;
    for group in &groups {
        let first = &group[0];
        // The first of a group may itself be a near copy of an earlier article.
        let root_of_first = found.get(first).map_or(first, |n| &n.duplicate_of);
        let mut all = true;
        for copy in &group[1..] {
            match found.get(copy) {
                Some(notice) if &notice.duplicate_of == root_of_first => {
                    exact += usize::from(notice.kind == newsflow_core::event::DuplicateKind::Exact);
                }
                other => {
                    all = false;
                    eprintln!("{copy}: expected a copy of {root_of_first}, got {other:?}");
                }
            }
        }
        flagged_groups += usize::from(all);
    }

    // Every other notice is a genuine near duplicate in the corpus: Jaccard at least 0.5.
    let in_groups: HashSet<&String> = groups.iter().flat_map(|g| &g[1..]).collect();
    let mut near_pairs = Vec::new();
    for notice in found.values() {
        let similarity = jaccard(
            &by_id[notice.id.as_str()].body,
            &by_id[notice.duplicate_of.as_str()].body,
        );
        assert!(
            similarity >= 0.5,
            "{} merged into {} at exact Jaccard {similarity:.3} (estimate {})",
            notice.id,
            notice.duplicate_of,
            notice.similarity
        );
        if !in_groups.contains(&notice.id) {
            near_pairs.push((notice.id.clone(), notice.duplicate_of.clone(), similarity));
        }
    }
    near_pairs.sort_by(|a, b| a.0.cmp(&b.0));
    println!(
        "bbc-2005: {} articles, {} notices; identical groups flagged {flagged_groups}/{} ({exact} exact); \
         other near duplicates {}",
        run.articles.len(),
        found.len(),
        groups.len(),
        near_pairs.len()
    );
    for (id, of, similarity) in &near_pairs {
        println!("  near: {id} -> {of}  exact Jaccard {similarity:.3}");
    }
    assert_eq!(flagged_groups, 98);
    println!(
        "window: {} retained, {} bytes",
        stage.retained(),
        stage.memory_bytes()
    );
}

#[test]
fn every_output_validates_against_its_schema() {
    let mut stage = DedupStage::default();
    let run = run_corpus(&mut stage);
    let unique = newsflow_testkit::validator("deduplicated.v1.schema.json");
    let notice = newsflow_testkit::validator("duplicate-notice.v1.schema.json");
    for event in &run.outputs {
        let json: serde_json::Value = serde_json::from_slice(&event.to_json().unwrap()).unwrap();
        let validator = match event {
            Event::Deduplicated(_) => &unique,
            Event::DuplicateNotice(_) => &notice,
            other => panic!("unexpected output {other:?}"),
        };
        let errors: Vec<String> = validator
            .iter_errors(&json)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", event.id());
    }
    // Spot-check with the shared helper too.
    newsflow_testkit::assert_valid(
        "deduplicated.v1.schema.json",
        &serde_json::to_value(match &run.outputs[0] {
            Event::Deduplicated(article) => article,
            other => panic!("the first article is unique, not {other:?}"),
        })
        .unwrap(),
    );
}

#[test]
fn a_stage_restored_from_the_state_topic_judges_like_its_writer() {
    let (root, files) = corpus_files();
    let articles: Vec<NormalizedArticle> = files
        .iter()
        .enumerate()
        .map(|(i, path)| article_from_file(&root, path, base_time() + Duration::seconds(i as i64)))
        .collect();
    let (first, second) = articles.split_at(1500);

    let mut writer = DedupStage::default();
    feed(&mut writer, first);
    // The compacted topic: the latest value per key.
    let mut topic: Vec<(String, Option<Vec<u8>>)> = Vec::new();
    let mut position: HashMap<String, usize> = HashMap::new();
    for change in writer.take_state_changes() {
        match position.get(&change.key) {
            Some(&at) => topic[at].1 = change.value,
            None => {
                position.insert(change.key.clone(), topic.len());
                topic.push((change.key, change.value));
            }
        }
    }
    let mut reader = DedupStage::default();
    for (key, value) in &topic {
        reader.restore(key, value.as_deref()).unwrap();
    }
    assert_eq!(reader.retained(), writer.retained());

    // The rest of the corpus, and then the first part again (replays), get the same verdicts.
    let ctx = StageContext::at(base_time() + Duration::days(1));
    for article in second.iter().chain(first) {
        let a = writer
            .process(Event::Normalized(article.clone()), &ctx)
            .unwrap();
        let b = reader
            .process(Event::Normalized(article.clone()), &ctx)
            .unwrap();
        assert_eq!(a, b, "{}", article.id);
    }
}
