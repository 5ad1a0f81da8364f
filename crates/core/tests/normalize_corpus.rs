//! The normalizer over the shared news corpus: every article normalizes, validates against the
//! contract, and the reference page (`seed/`) comes out field by field as a reader sees it.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

use std::path::{Path, PathBuf};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use newsflow_core::event::{ContentType, NormalizedArticle, RawEvent};
use newsflow_core::stage::StageContext;
use newsflow_core::{NormalizeConfig, NormalizeStage};

/// The site clutter of `ukraine-war/` that must never reach a body.
const CLUTTER: &[&str] = &[
    "NEW You can now listen to Fox News articles!",
    "Newsletter As news happens",
    "VIEW VIDEO",
];

fn ctx() -> StageContext {
    let now = DateTime::parse_from_rfc3339("2026-05-01T12:00:00Z")
        .expect("a valid time")
        .with_timezone(&Utc);
    StageContext::at(now)
}

/// A file as a raw event: `content` when the bytes are UTF-8, else `content_base64`.
fn raw_event(source: &str, id: &str, bytes: Vec<u8>) -> RawEvent {
    let (content, content_base64) = match String::from_utf8(bytes) {
        Ok(text) => (Some(text), None),
        Err(err) => (
            None,
            Some(base64::engine::general_purpose::STANDARD.encode(err.into_bytes())),
        ),
    };
    RawEvent {
        id: id.to_owned(),
        source: source.to_owned(),
        url: None,
        fetched_at: None,
        ingested_at: None,
        content_type: ContentType::TextPlain,
        content,
        content_base64,
        charset: None,
        hints: None,
    }
}

fn txt_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("{} is not readable: {err}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
        .collect();
    files.sort();
    files
}

fn normalize_file(stage: &NormalizeStage, source: &str, path: &Path) -> NormalizedArticle {
    let bytes = std::fs::read(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    let id = path.display().to_string();
    let article = stage
        .normalize(raw_event(source, &id, bytes), &ctx())
        .unwrap_or_else(|err| panic!("{} was rejected: {err}", path.display()));
    let json = serde_json::to_value(&article).expect("an article serializes");
    newsflow_testkit::assert_valid("normalized.v1.schema.json", &json);
    article
}

fn stage() -> NormalizeStage {
    NormalizeStage::new(NormalizeConfig::default()).expect("the default configuration compiles")
}

#[test]
fn the_seed_page_comes_out_as_a_reader_sees_it() {
    let path = newsflow_testkit::corpus_dir().join("seed/upi-2022-06-16-xi-putin-call.txt");
    let article = normalize_file(&stage(), "seed", &path);
    assert_eq!(
        article.title.as_deref(),
        Some(
            "China's Xi reaffirms support for Russian 'sovereignty and security' in call with Putin"
        )
    );
    assert_eq!(article.authors, vec!["Thomas Maresca".to_owned()]);
    assert_eq!(article.section.as_deref(), Some("World News"));
    assert_eq!(
        article.published_at_raw.as_deref(),
        Some("June 16, 2022 / 6:44 AM")
    );
    assert_eq!(
        article.published_at.map(|t| t.to_rfc3339()),
        Some("2022-06-16T06:44:00+00:00".to_owned()),
        "no zone is configured for the source, so the page time is read as UTC"
    );
    let dateline = article.dateline.as_ref().expect("a dateline");
    assert_eq!(dateline.agency.as_deref(), Some("UPI"));
    assert_eq!(dateline.date_text.as_deref(), Some("June 16"));
    assert_eq!(dateline.place, None);
    let lede = article.lede.as_deref().expect("a lede");
    assert!(
        lede.starts_with("Chinese President Xi Jinping has told"),
        "{lede}"
    );
    assert_eq!(article.body.first().map(String::as_str), Some(lede));
    assert_eq!(article.related.len(), 10);
    assert_eq!(
        article.related[0].title,
        "European leaders arrive in Kyiv as show of support"
    );
    assert_eq!(article.related[0].section.as_deref(), Some("World News"));
    assert_eq!(article.related[0].age_text.as_deref(), Some("2 hours ago"));
    assert!(
        article.related[2]
            .summary
            .as_deref()
            .is_some_and(|s| s.starts_with("SEOUL, June 16 (UPI) -- North Korea"))
    );
    let body = article.body.join("\n");
    assert!(!body.contains("License Photo"), "{body}");
    assert!(!body.contains("Latest Headlines"), "{body}");
    for item in &article.related {
        assert!(
            !body.contains(&item.title),
            "related headline in body: {}",
            item.title
        );
    }
    assert!(!body.contains("By Thomas Maresca"));
    assert!(!body.contains("World News"));
    assert!(
        body.ends_with("at the United Nations Security Council."),
        "{body}"
    );
    assert_eq!(article.body.len(), 13);
    assert_eq!(article.language.as_deref(), Some("en"));
    assert_eq!(article.revision, 1);
}

#[test]
fn every_bbc_article_normalizes_with_its_first_line_as_title() {
    let stage = stage();
    let root = newsflow_testkit::corpus_dir().join("bbc-2005");
    let mut count = 0;
    for class in ["business", "entertainment", "politics", "sport", "tech"] {
        for path in txt_files(&root.join(class)) {
            let article = normalize_file(&stage, "bbc-2005", &path);
            let bytes = std::fs::read(&path).expect("readable");
            let first_line = bytes
                .split(|b| *b == b'\n')
                .next()
                .map(|line| newsflow_core::decode::decode_bytes(line, None).text)
                .unwrap_or_default();
            // Display text has its whitespace tidied: one title of the corpus
            // (politics/084) has a double space inside, which becomes one.
            let first_line = first_line.split_whitespace().collect::<Vec<_>>().join(" ");
            assert_eq!(
                article.title.as_deref(),
                Some(first_line.as_str()),
                "{}",
                path.display()
            );
            assert!(
                article.body.iter().all(|p| *p != first_line),
                "{}: the title is repeated in the body",
                path.display()
            );
            if path.ends_with("sport/199.txt") {
                assert!(
                    article.body.iter().any(|p| p.contains("£15.8m")),
                    "windows-1252 £ decoded: {:?}",
                    article.body
                );
            }
            count += 1;
        }
    }
    assert_eq!(count, 2225);
}

#[test]
fn every_ukraine_war_article_normalizes_without_site_clutter() {
    let stage = stage();
    let dir = newsflow_testkit::corpus_dir().join("ukraine-war");
    let files = txt_files(&dir);
    assert_eq!(files.len(), 447);
    let mut with_dateline = 0;
    for path in &files {
        let article = normalize_file(&stage, "ukraine-war", path);
        for paragraph in &article.body {
            for clutter in CLUTTER {
                assert!(
                    !paragraph.contains(clutter),
                    "{}: {clutter:?} reached the body",
                    path.display()
                );
            }
        }
        if let Some(title) = &article.title {
            assert!(
                !title.ends_with('.') && title.split_whitespace().count() <= 16,
                "{}: a sentence taken for a title: {title}",
                path.display()
            );
        }
        if let Some(dateline) = &article.dateline {
            with_dateline += 1;
            if dateline.agency.as_deref() == Some("BelTA") {
                assert!(dateline.place.is_some(), "{}", path.display());
                assert!(dateline.date_text.is_some(), "{}", path.display());
            }
            let lede = article.lede.as_deref().unwrap_or_default();
            assert!(!lede.contains("(BelTA)"), "{}: {lede}", path.display());
        }
    }
    assert!(with_dateline >= 20, "only {with_dateline} datelines found");
}

#[test]
fn the_minsk_dateline_is_split_off() {
    let stage = stage();
    let dir = newsflow_testkit::corpus_dir().join("ukraine-war");
    let path = txt_files(&dir)
        .into_iter()
        .find(|path| {
            std::fs::read_to_string(path)
                .is_ok_and(|text| text.starts_with("MINSK, 26 February (BelTA) –"))
        })
        .expect("the corpus has a MINSK, 26 February (BelTA) article");
    let article = normalize_file(&stage, "ukraine-war", &path);
    let dateline = article.dateline.expect("a dateline");
    assert_eq!(dateline.place.as_deref(), Some("MINSK"));
    assert_eq!(dateline.date_text.as_deref(), Some("26 February"));
    assert_eq!(dateline.agency.as_deref(), Some("BelTA"));
    assert_eq!(article.title, None, "a body-only text has no title");
    let lede = article.lede.expect("a lede");
    assert!(lede.starts_with("Belarus is ready"), "{lede}");
}
