//! The reference page (`seed/`, UPI, 2022-06-16: Xi and Putin's phone call) through the
//! normalizer and the tagger with the default taxonomy: the page itself gets both
//! `ukraine-war` and `china-russia-relations`, and each of its ten "Latest Headlines" items,
//! tagged as an article of its own (headline as title, its lede as lede), gets the topics a
//! reader would give it, and no `ukraine-war` unless it is about the war.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

mod tag_common;

use chrono::{DateTime, Utc};
use newsflow_core::event::{ContentType, NormalizedArticle, RawEvent, Related};
use newsflow_core::stage::StageContext;
use newsflow_core::{NormalizeConfig, NormalizeStage, TagStage};

const SEED: &str = "seed/upi-2022-06-16-xi-putin-call.txt";

/// The seed page as the normalizer hands it to the rest of the pipeline.
fn seed_article() -> NormalizedArticle {
    let path = newsflow_testkit::corpus_dir().join(SEED);
    let content =
        std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    let raw = RawEvent {
        id: "seed".to_owned(),
        source: "seed".to_owned(),
        url: None,
        fetched_at: None,
        ingested_at: None,
        content_type: ContentType::TextPlain,
        content: Some(content),
        content_base64: None,
        charset: None,
        hints: None,
    };
    let now = DateTime::parse_from_rfc3339("2026-05-01T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    NormalizeStage::new(NormalizeConfig::default())
        .expect("the default configuration compiles")
        .normalize(raw, &StageContext::at(now))
        .unwrap_or_else(|err| panic!("the seed page was rejected: {err}"))
}

fn topic_ids(stage: &mut TagStage, article: &NormalizedArticle) -> Vec<String> {
    stage
        .tag(article)
        .topics
        .into_iter()
        .map(|t| t.id)
        .collect()
}

#[test]
fn the_seed_page_gets_the_war_and_china_russia_relations() {
    let article = seed_article();
    let mut stage = TagStage::new(tag_common::taxonomy());
    let topics = topic_ids(&mut stage, &article);
    for expected in ["ukraine-war", "china-russia-relations"] {
        assert!(
            topics.iter().any(|t| t == expected),
            "the seed page lacks `{expected}`: {topics:?}"
        );
    }
}

/// Each Latest Headlines item, found by a word of its headline, and the topics it must get.
const EXPECTED: &[(&str, &[&str])] = &[
    ("European leaders arrive in Kyiv", &["ukraine-war"]),
    ("Islamic State", &["terrorism"]),
    ("North Korea", &["north-korea-nuclear"]),
    ("British journalist", &["journalist-safety"]),
    ("Milley", &["ukraine-war"]),
    ("Riverdale", &[]),
    ("Denmark", &["territorial-disputes"]),
    ("Rwanda", &["migration-asylum"]),
    ("Egypt", &["energy-security"]),
    ("Khashoggi Way", &["journalist-safety"]),
];

/// The items that may get `ukraine-war`: the two about the war, and the gas deal made to cut
/// dependence on Russian energy (a direct consequence of the war).
const MAY_BE_WAR: &[&str] = &["European leaders arrive in Kyiv", "Milley", "Egypt"];

fn item<'a>(related: &'a [Related], keyword: &str) -> &'a Related {
    let found: Vec<&Related> = related
        .iter()
        .filter(|r| r.title.contains(keyword))
        .collect();
    match found.as_slice() {
        [one] => one,
        [] => panic!(
            "no Latest Headlines item has `{keyword}` in its headline; headlines: {:#?}",
            related.iter().map(|r| &r.title).collect::<Vec<_>>()
        ),
        _ => panic!("several headlines have `{keyword}`: {found:#?}"),
    }
}

#[test]
fn each_latest_headlines_item_gets_its_own_topics() {
    let page = seed_article();
    assert_eq!(
        page.related.len(),
        10,
        "the normalizer finds the ten Latest Headlines items: {:#?}",
        page.related
    );
    let mut stage = TagStage::new(tag_common::taxonomy());
    let mut failures = Vec::new();
    for (keyword, expected) in EXPECTED {
        let related = item(&page.related, keyword);
        let lede = related
            .summary
            .as_deref()
            .unwrap_or_else(|| panic!("`{}` has no lede", related.title));
        let article = tag_common::article(keyword, Some(&related.title), Some(lede), &[]);
        let topics = topic_ids(&mut stage, &article);
        println!("{:<90} {topics:?}", related.title);
        for topic in *expected {
            if !topics.iter().any(|t| t == topic) {
                failures.push(format!("`{}` lacks `{topic}`: {topics:?}", related.title));
            }
        }
        if !MAY_BE_WAR.contains(keyword) && topics.iter().any(|t| t == "ukraine-war") {
            failures.push(format!("`{}` got `ukraine-war`: {topics:?}", related.title));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
