//! Properties of every stage, over generated input, with a fixed number of cases so CI runs
//! the same amount of work each time:
//! - whatever comes in, the chain (normalizer → deduplicator → tagger → stories) rejects it
//!   with a typed error or accepts it, never panics;
//! - every event and story record it emits validates against its schema in `schemas/`;
//! - the deduplicator's state, published and restored as a compacted topic would hand it
//!   back, gives a fresh instance the same verdicts as the one that wrote it.
//!
//! The fuzz targets in `fuzz/` explore the same ground without a case limit.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Duration, Utc};
use newsflow_core::event::{ContentType, Event, EventKind, Hints, RawEvent};
use newsflow_core::stage::{Stage, StageContext};
use newsflow_core::{DedupStage, NormalizeStage, StoryConfig, StoryStage, TagStage, Taxonomy};
use proptest::prelude::*;
use proptest::strategy::ValueTree as _;
use serde_json::Value;

const CASES: u32 = 128;

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2022-03-01T08:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// Building a stage compiles its patterns and a validator its schema: once per test binary.
fn normalizer() -> &'static NormalizeStage {
    static STAGE: OnceLock<NormalizeStage> = OnceLock::new();
    STAGE.get_or_init(NormalizeStage::default)
}

fn taxonomy() -> Arc<Taxonomy> {
    static TAXONOMY: OnceLock<Arc<Taxonomy>> = OnceLock::new();
    TAXONOMY
        .get_or_init(|| Arc::new(Taxonomy::default()))
        .clone()
}

fn validators() -> &'static BTreeMap<&'static str, jsonschema::Validator> {
    static VALIDATORS: OnceLock<BTreeMap<&'static str, jsonschema::Validator>> = OnceLock::new();
    VALIDATORS.get_or_init(|| {
        EventKind::ALL
            .iter()
            .map(|kind| kind.schema_file())
            .chain(["story.v1.schema.json"])
            .map(|file| (file, newsflow_testkit::validator(file)))
            .collect()
    })
}

fn assert_valid(file: &str, instance: &Value) {
    let errors: Vec<String> = validators()[file]
        .iter_errors(instance)
        .map(|err| format!("{err} at {}", err.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "not valid against {file}:\n  {}\ninstance: {instance}",
        errors.join("\n  ")
    );
}

fn assert_event_valid(event: &Event) {
    let json: Value = serde_json::from_slice(&event.to_json().unwrap()).unwrap();
    assert_valid(event.kind().schema_file(), &json);
}

/// Lines an article (or a page pretending to be one) is made of: headlines, bylines, dates
/// good and impossible, datelines, words the taxonomy knows, clutter and any text at all.
fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("Russia and Ukraine resume talks on grain exports".to_owned()),
        Just("By Ann Lee and Bo Kim".to_owned()),
        Just("Von: Heiko Sauer, Do 9 Apr".to_owned()),
        Just("June 16, 2022 / 6:44 AM".to_owned()),
        Just("February 30, 2022".to_owned()),
        Just("31.02.2022 25:61".to_owned()),
        Just("KYIV, March 20 (Courier) — Shelling hit the port of Odesa overnight.".to_owned()),
        Just(
            "Xi Jinping and Vladimir Putin met in Moscow; sanctions and gas flows were discussed."
                .to_owned()
        ),
        Just("Share this article | Subscribe | © 2022 All rights reserved".to_owned()),
        "[A-Za-z ,.'“”–—-]{0,120}",
        any::<String>(),
    ]
}

fn html_page(lines: &[String]) -> String {
    let mut page = String::from("<html><head><title>");
    page.push_str(lines.first().map_or("", String::as_str));
    page.push_str("</title><meta property=\"article:published_time\" content=\"2022-03-01T09:00:00+01:00\"></head><body><nav><a href=\"/\">Home</a></nav><article><h1>");
    page.push_str(lines.first().map_or("", String::as_str));
    page.push_str("</h1>");
    for text in lines.iter().skip(1) {
        page.push_str("<p>");
        page.push_str(text);
        page.push_str("</p>");
    }
    page.push_str("</article><footer>Impressum</footer></body></html>");
    page
}

/// One raw event: the lines as text or HTML, with hints that may be nonsense.
fn raw_event() -> impl Strategy<Value = RawEvent> {
    (
        proptest::collection::vec(line(), 0..14),
        any::<bool>(),
        prop::option::of(prop_oneof![
            Just("2022-03-01T10:00:00Z".to_owned()),
            Just("2022-02-30".to_owned()),
            Just("yesterday".to_owned()),
            Just("1850-01-01T00:00:00Z".to_owned()),
        ]),
        prop::option::of("[a-z]{0,3}"),
        0u32..4,
    )
        .prop_map(|(lines, html, published_at, language, source)| {
            let (content_type, content) = if html {
                (ContentType::TextHtml, html_page(&lines))
            } else {
                (ContentType::TextPlain, lines.join("\n\n"))
            };
            RawEvent {
                url: Some("https://example.org/2022/03/01/story".into()),
                hints: Some(Hints {
                    title: None,
                    published_at,
                    authors: Vec::new(),
                    language,
                }),
                ..RawEvent::with_content("", format!("outlet-{source}"), content_type, content)
            }
        })
}

/// Each event twice (the second a copy under another id), so the deduplicator answers with
/// duplicate notices as well as unique articles.
fn with_copies(events: Vec<RawEvent>) -> Vec<RawEvent> {
    let mut out = Vec::with_capacity(events.len() * 2);
    for (i, mut event) in events.into_iter().enumerate() {
        event.id = format!("article-{i}");
        let mut copy = event.clone();
        copy.id = format!("copy-{i}");
        copy.source = "outlet-copies".into();
        out.push(event);
        out.push(copy);
    }
    out
}

fn check_chain(events: Vec<RawEvent>) {
    let mut dedup = DedupStage::default();
    let mut tagger = TagStage::new(taxonomy());
    let mut stories = StoryStage::new(StoryConfig::default()).unwrap();
    for (i, raw) in with_copies(events).into_iter().enumerate() {
        let ctx = StageContext::at(start() + Duration::minutes(i64::try_from(i).unwrap()));
        let Ok(normalized) = normalizer().normalize(raw, &ctx) else {
            continue; // a typed rejection: what the dead-letter path carries
        };
        let normalized = Event::Normalized(normalized);
        assert_event_valid(&normalized);
        for emit in dedup.process(normalized, &ctx).unwrap() {
            assert_event_valid(&emit.event);
            let next = match emit.event {
                Event::Deduplicated(_) => tagger.process(emit.event, &ctx).unwrap(),
                _ => vec![emit],
            };
            for emit in next {
                assert_event_valid(&emit.event);
                for record in stories.process(&emit.event, &ctx).unwrap() {
                    assert_valid(
                        "story.v1.schema.json",
                        &serde_json::to_value(&record).unwrap(),
                    );
                }
            }
        }
    }
}

/// What a compacted topic hands back: the last value of each key, in key order.
fn compacted(changes: &[(String, Option<Vec<u8>>)]) -> BTreeMap<String, Option<Vec<u8>>> {
    changes.iter().cloned().collect()
}

/// The verdict a deduplicator gives an article: unique, or a copy of which original.
fn verdict(stage: &mut DedupStage, article: &Event, ctx: &StageContext) -> Value {
    let emits = stage.process(article.clone(), ctx).unwrap();
    let event = &emits[0].event;
    match event {
        Event::DuplicateNotice(notice) => serde_json::json!({"duplicate_of": notice.duplicate_of}),
        other => serde_json::json!({"unique": other.id()}),
    }
}

fn check_restore(events: Vec<RawEvent>, probes: Vec<RawEvent>) {
    let mut writer = DedupStage::default();
    let mut changes = Vec::new();
    for (i, raw) in with_copies(events).into_iter().enumerate() {
        let ctx = StageContext::at(start() + Duration::minutes(i64::try_from(i).unwrap()));
        if let Ok(article) = normalizer().normalize(raw, &ctx) {
            writer.process(Event::Normalized(article), &ctx).unwrap();
            changes.extend(
                writer
                    .take_state_changes()
                    .into_iter()
                    .map(|change| (change.key, change.value)),
            );
        }
    }
    let mut reader = DedupStage::default();
    for (key, value) in compacted(&changes) {
        reader.restore_state(&key, value.as_deref()).unwrap();
    }
    reader.state_restored();
    assert_eq!(
        reader.retained(),
        writer.retained(),
        "articles in the window"
    );

    let ctx = StageContext::at(start() + Duration::hours(1));
    for (i, mut raw) in probes.into_iter().enumerate() {
        raw.id = format!("probe-{i}");
        if let Ok(article) = normalizer().normalize(raw, &ctx) {
            let article = Event::Normalized(article);
            assert_eq!(
                verdict(&mut reader, &article, &ctx),
                verdict(&mut writer, &article, &ctx),
                "the restored deduplicator and the one that wrote the state disagree"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn every_stage_accepts_or_rejects_any_article_and_emits_only_valid_events(
        events in proptest::collection::vec(raw_event(), 1..6)
    ) {
        check_chain(events);
    }

    #[test]
    fn the_deduplicators_state_survives_a_compacted_restore(
        events in proptest::collection::vec(raw_event(), 1..6),
        probes in proptest::collection::vec(raw_event(), 1..4),
    ) {
        check_restore(events.clone(), events.into_iter().chain(probes).collect());
    }
}

#[test]
fn the_properties_see_accepted_articles_copies_and_stories() {
    // The generators must reach the interesting paths, or the properties prove nothing.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut accepted, mut notices, mut records) = (0, 0, 0);
    let mut dedup = DedupStage::default();
    let mut stories = StoryStage::new(StoryConfig::default()).unwrap();
    for _ in 0..CASES {
        let events = proptest::collection::vec(raw_event(), 1..6)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        for raw in with_copies(events) {
            let ctx = StageContext::at(start());
            let Ok(article) = normalizer().normalize(raw, &ctx) else {
                continue;
            };
            accepted += 1;
            for emit in dedup.process(Event::Normalized(article), &ctx).unwrap() {
                notices += usize::from(matches!(emit.event, Event::DuplicateNotice(_)));
                if let Event::Deduplicated(article) = emit.event {
                    let enriched = Event::Enriched(TagStage::new(taxonomy()).enrich(article));
                    records += stories.process(&enriched, &ctx).unwrap().len();
                }
            }
        }
    }
    assert!(
        accepted >= 20,
        "only {accepted} generated articles were accepted"
    );
    assert!(notices >= 10, "only {notices} duplicate notices");
    assert!(records >= 10, "only {records} story records");
}
