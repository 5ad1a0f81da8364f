//! Helpers shared by the tagger's integration tests: corpus files as the pipeline reads them
//! (through the normalizer, so that what is measured is what users get) and the taxonomy under
//! test.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use newsflow_core::Taxonomy;
use newsflow_core::event::{ContentType, NormalizedArticle, RawEvent};
use newsflow_core::{NormalizeStage, StageContext};

/// An English article with these parts and every other field empty.
pub fn article(
    id: &str,
    title: Option<&str>,
    lede: Option<&str>,
    body: &[&str],
) -> NormalizedArticle {
    let body: Vec<String> = body.iter().map(|p| (*p).to_owned()).collect();
    let word_count = body
        .iter()
        .map(|p| p.split_whitespace().count())
        .sum::<usize>() as u32;
    NormalizedArticle {
        id: id.to_owned(),
        revision: 1,
        source: "test".to_owned(),
        url: None,
        title: title.map(str::to_owned),
        section: None,
        authors: Vec::new(),
        published_at: None,
        published_at_raw: None,
        dateline: None,
        lede: lede.map(str::to_owned),
        body,
        related: Vec::new(),
        language: Some("en".to_owned()),
        word_count,
        content_hash: "0".repeat(64),
        fetched_at: None,
        ingested_at: DateTime::<Utc>::UNIX_EPOCH,
        normalized_at: DateTime::<Utc>::UNIX_EPOCH,
    }
}

/// The `.txt` files of `bbc-2005/` (its five classes) and `ukraine-war/` with their sizes,
/// relative to the corpus: folder by folder, sorted by name within each.
pub fn english_corpus_files(corpus: &Path) -> Vec<(String, u64)> {
    let mut dirs: Vec<String> = ["business", "entertainment", "politics", "sport", "tech"]
        .iter()
        .map(|class| format!("bbc-2005/{class}"))
        .collect();
    dirs.push("ukraine-war".to_owned());
    let mut all = Vec::new();
    for dir in dirs {
        let mut files: Vec<(String, u64)> = std::fs::read_dir(corpus.join(&dir))
            .unwrap_or_else(|err| panic!("{dir}: {err}"))
            .filter_map(Result::ok)
            .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "txt"))
            .map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                let len = entry.metadata().map_or(0, |m| m.len());
                (format!("{dir}/{name}"), len)
            })
            .collect();
        files.sort();
        all.extend(files);
    }
    all
}

/// The article with its first body paragraph as its lede, so that title, lede and body are all
/// used.
pub fn with_lede(mut article: NormalizedArticle) -> NormalizedArticle {
    if !article.body.is_empty() {
        article.lede = Some(article.body.remove(0));
    }
    article
}

/// The titles of `headlines-2022/headlines.json`, read once.
fn headlines(corpus: &Path) -> &'static [String] {
    static TITLES: OnceLock<Vec<String>> = OnceLock::new();
    TITLES.get_or_init(|| {
        let path = corpus.join("headlines-2022/headlines.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
        let items: Vec<serde_json::Value> = serde_json::from_str(&text).expect("a JSON array");
        items
            .iter()
            .map(|item| item["title"].as_str().unwrap_or_default().to_owned())
            .collect()
    })
}

/// The English texts of `semeval2022-task8/` by article id, read once.
fn semeval_texts() -> &'static HashMap<String, String> {
    static TEXTS: OnceLock<HashMap<String, String>> = OnceLock::new();
    TEXTS.get_or_init(newsflow_testkit::scores::semeval_english_texts)
}

/// A corpus file as the pipeline reads it: for `headlines-2022/headlines.json#N` (the N-th item,
/// from 0) an article with the headline as its title and no body (short texts); every other file
/// (`bbc-2005/`, `ukraine-war/`, and `semeval2022-task8/ID`, the English text of that article id)
/// is a plain-text raw event through the normalizer, exactly as `newsflow run` would read it: a
/// BBC file's first line becomes the title, site clutter lines go, the lede is the first body
/// paragraph.
pub fn corpus_article(corpus: &Path, relative: &str) -> NormalizedArticle {
    if let Some(index) = relative.strip_prefix("headlines-2022/headlines.json#") {
        let index: usize = index.parse().expect("a headline number");
        let title = &headlines(corpus)[index];
        return article(relative, Some(title), None, &[]);
    }
    let text = match relative.strip_prefix("semeval2022-task8/") {
        Some(id) => semeval_texts()
            .get(id)
            .unwrap_or_else(|| panic!("no English SemEval text {id}"))
            .clone(),
        None => {
            let bytes = std::fs::read(corpus.join(relative))
                .unwrap_or_else(|err| panic!("cannot read {relative}: {err}"));
            String::from_utf8_lossy(&bytes).into_owned()
        }
    };
    static NORMALIZER: OnceLock<NormalizeStage> = OnceLock::new();
    let event = RawEvent::with_content(relative, "corpus", ContentType::TextPlain, text);
    let at = StageContext::at(DateTime::<Utc>::UNIX_EPOCH);
    NORMALIZER
        .get_or_init(NormalizeStage::default)
        .normalize(event, &at)
        .unwrap_or_else(|err| panic!("{relative} does not normalize: {err:?}"))
}

/// The taxonomy under test: the built-in one, or the file named by `NEWSFLOW_TAXONOMY` (so a
/// taxonomy can be evaluated while it is edited, without rebuilding).
pub fn taxonomy() -> Arc<Taxonomy> {
    match std::env::var_os("NEWSFLOW_TAXONOMY") {
        Some(path) => {
            let text = std::fs::read_to_string(&path).expect("NEWSFLOW_TAXONOMY is readable");
            match Taxonomy::from_yaml(&text) {
                Ok(taxonomy) => Arc::new(taxonomy),
                Err(errors) => {
                    for error in &errors {
                        eprintln!("{}:{error}", Path::new(&path).display());
                    }
                    panic!("invalid taxonomy");
                }
            }
        }
        None => Arc::new(Taxonomy::default()),
    }
}
