use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::event::{
    Dateline, DedupInfo, DedupStatus, DuplicateKind, EnrichedArticle, Entity, EntityType,
    NormalizedArticle,
};

fn day(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2022, 6, 16, 8, 0, 0).single().unwrap() + Duration::hours(n * 24)
}

fn ctx() -> StageContext {
    StageContext::at(day(400))
}

fn article(id: &str, source: &str, title: &str, body: &str, at: DateTime<Utc>) -> EnrichedArticle {
    EnrichedArticle {
        article: NormalizedArticle {
            title: Some(title.to_owned()),
            ..NormalizedArticle::from_body(id, source, vec![body.to_owned()], at)
        },
        dedup: DedupInfo {
            status: DedupStatus::Unique,
            fingerprint: "f".to_owned(),
        },
        topics: Vec::new(),
        entities: Vec::new(),
        tagger_version: "test".to_owned(),
        taxonomy_version: "test".to_owned(),
    }
}

const CALL: &str = "Chinese President Xi Jinping told Russian President Vladimir Putin in a \
phone call on Wednesday that Beijing was willing to keep supporting Moscow on sovereignty and \
security, the Kremlin and Chinese state media said.";
const CALL_2: &str = "Xi Jinping and Vladimir Putin spoke by phone on Wednesday; Xi said China \
would support Russia on matters of sovereignty and security, according to the Kremlin.";
const CALL_3: &str = "In their second call since the invasion, Putin and Xi Jinping agreed to \
deepen cooperation, the Kremlin said, as Beijing repeated its support on security.";
const FLOOD: &str = "Heavy monsoon rain flooded villages across Assam, forcing thousands of \
families into relief camps as the Brahmaputra river rose above the danger mark.";
const CHESS: &str = "The Norwegian grandmaster Magnus Carlsen won the blitz tournament in \
Stavanger with a round to spare after beating the Dutch champion Anish Giri.";

fn stage() -> StoryStage {
    StoryStage::new(StoryConfig::default()).unwrap()
}

#[test]
fn articles_about_one_event_join_one_story_and_others_open_their_own() {
    let mut stage = stage();
    let first = stage.article(&article("a", "upi", "Xi tells Putin", CALL, day(0)), &ctx());
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].change, Change::Opened);
    assert_eq!(first[0].story.id, crate::ids::id_for_story("a"));
    let second = stage.article(
        &article("b", "reuters", "Xi and Putin speak", CALL_2, day(0)),
        &ctx(),
    );
    assert_eq!(second[0].change, Change::Joined, "{second:?}");
    assert_eq!(second[0].story.id, first[0].story.id);
    assert_eq!(second[0].story.article_count, 2);
    assert_eq!(second[0].story.outlet_count, 2);
    assert_eq!(second[0].story.articles, ["a", "b"]);
    let flood = stage.article(&article("c", "upi", "Assam floods", FLOOD, day(0)), &ctx());
    assert_eq!(flood[0].change, Change::Opened);
    assert_ne!(flood[0].story.id, first[0].story.id);
    assert_eq!(stage.open_stories(), 2);
}

#[test]
fn a_duplicate_notice_counts_toward_its_original_even_before_it_arrives() {
    let mut stage = stage();
    let notice = DuplicateNotice {
        id: "copy".to_owned(),
        duplicate_of: "a".to_owned(),
        kind: DuplicateKind::Near,
        similarity: 0.9,
        source: "yahoo".to_owned(),
        title: None,
        detected_at: day(0),
    };
    assert!(stage.notice(&notice).is_empty(), "held until its original");
    let records = stage.article(&article("a", "upi", "Xi tells Putin", CALL, day(0)), &ctx());
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].change, Change::Opened);
    assert_eq!(records[1].change, Change::Joined);
    assert_eq!(records[1].article_id.as_deref(), Some("copy"));
    assert_eq!(records[1].story.article_count, 2);
    assert_eq!(records[1].story.outlet_count, 2);
    let again = DuplicateNotice {
        id: "copy2".to_owned(),
        ..notice
    };
    let records = stage.notice(&again);
    assert_eq!(records[0].story.article_count, 3);
    assert_eq!(records[0].story.outlet_count, 2, "yahoo counted once");
}

#[test]
fn a_notice_whose_original_never_comes_is_dropped_after_the_window() {
    let mut stage = stage();
    stage.article(&article("x", "upi", "Assam floods", FLOOD, day(0)), &ctx());
    let notice = DuplicateNotice {
        id: "copy".to_owned(),
        duplicate_of: "missing".to_owned(),
        kind: DuplicateKind::Exact,
        similarity: 1.0,
        source: "yahoo".to_owned(),
        title: None,
        detected_at: day(0),
    };
    stage.notice(&notice);
    stage.article(&article("y", "upi", "Carlsen wins", CHESS, day(5)), &ctx());
    assert_eq!(stage.stats().notices_dropped, 1);
}

#[test]
fn stories_expire_after_the_window_of_event_time() {
    let mut stage = stage();
    let opened = stage.article(&article("a", "upi", "Xi tells Putin", CALL, day(0)), &ctx());
    let records = stage.article(&article("b", "upi", "Carlsen wins", CHESS, day(4)), &ctx());
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[0].change, Change::Expired);
    assert_eq!(records[0].article_id, None);
    assert_eq!(records[0].story.id, opened[0].story.id);
    assert_eq!(records[1].change, Change::Opened);
    assert_eq!(stage.open_stories(), 1);
    // The same event, after its story expired, opens a new story.
    let later = stage.article(&article("c", "upi", "Xi and Putin", CALL_2, day(4)), &ctx());
    assert_eq!(later[0].change, Change::Opened);
}

#[test]
fn the_time_gap_lowers_the_similarity() {
    let config = StoryConfig::default();
    let near = explain(
        &config,
        &article("a", "upi", "Xi tells Putin", CALL, day(0)),
        &article("b", "ap", "Xi and Putin speak", CALL_2, day(0)),
        &ctx(),
    )
    .unwrap();
    let far = explain(
        &config,
        &article("a", "upi", "Xi tells Putin", CALL, day(0)),
        &article("b", "ap", "Xi and Putin speak", CALL_2, day(2)),
        &ctx(),
    )
    .unwrap();
    assert!(near.same_story, "{near:?}");
    assert_eq!(near.time_gap_seconds, Some(0));
    assert_eq!(far.time_gap_seconds, Some(2 * 86_400));
    assert!((far.time_factor - 0.5).abs() < 1e-9);
    assert!(far.similarity < near.similarity);
    let terms: Vec<&str> = near.shared_terms.iter().map(|t| t.term.as_str()).collect();
    assert!(
        terms.contains(&"putin") && terms.contains(&"kremlin"),
        "{terms:?}"
    );
    let unrelated = explain(
        &config,
        &article("a", "upi", "Xi tells Putin", CALL, day(0)),
        &article("c", "ap", "Carlsen wins", CHESS, day(0)),
        &ctx(),
    )
    .unwrap();
    assert!(
        !unrelated.same_story && unrelated.similarity < 0.3,
        "{unrelated:?}"
    );
}

#[test]
fn shared_entities_and_places_are_evidence() {
    let mut a = article("a", "upi", "Xi tells Putin", CALL, day(0));
    let mut b = article("b", "ap", "Xi and Putin speak", CALL_2, day(0));
    for x in [&mut a, &mut b] {
        x.entities.push(Entity {
            id: Some("Q7747".to_owned()),
            name: "Vladimir Putin".to_owned(),
            entity_type: EntityType::Person,
            mentions: 2,
        });
        x.article.dateline = Some(Dateline {
            place: Some("Beijing".to_owned()),
            date_text: None,
            agency: None,
        });
    }
    let why = explain(&StoryConfig::default(), &a, &b, &ctx()).unwrap();
    assert_eq!(why.shared_entities, ["Q7747"]);
    assert_eq!(why.shared_places, ["beijing"]);
    assert_eq!(why.entity_overlap, 1.0);
    let mut stage = stage();
    stage.article(&a, &ctx());
    let records = stage.article(&b, &ctx());
    let story = &records[0].story;
    assert_eq!(story.entities[0].id.as_deref(), Some("Q7747"));
    assert_eq!(story.entities[0].count, 4);
    assert_eq!(story.places[0].name, "beijing");
    assert_eq!(story.places[0].count, 2);
}

#[test]
fn an_article_that_ties_two_stories_merges_them_into_the_older() {
    // Two reports of one call, not alike enough for the second to join the first (but alike
    // enough as stories to merge), then an article that tells both.
    let mut stage = stage();
    let half_a = "Chinese President Xi Jinping told Russian President Vladimir Putin in a phone \
call on Wednesday that Beijing supports Moscow on sovereignty and security.";
    let half_b = "The Kremlin said the two leaders discussed energy deals and the war in Ukraine \
by phone, and Putin thanked Xi Jinping for his position on sovereignty.";
    let older = stage.article(
        &article("a", "upi", "Xi and Putin speak", half_a, day(0)),
        &ctx(),
    );
    let newer = stage.article(
        &article("b", "ap", "Kremlin on the call", half_b, day(0)),
        &ctx(),
    );
    assert_eq!(newer[0].change, Change::Opened);
    let both = "Xi Jinping and Vladimir Putin spoke by phone on Wednesday; Xi said China \
supports Moscow on sovereignty and security, and the Kremlin said they discussed energy deals \
and the war in Ukraine.";
    let records = stage.article(&article("c", "afp", "Xi, Putin call", both, day(0)), &ctx());
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[0].change, Change::Merged);
    assert_eq!(records[0].story.id, newer[0].story.id);
    assert_eq!(
        records[0].story.merged_into.as_deref(),
        Some(older[0].story.id.as_str())
    );
    assert_eq!(records[1].change, Change::Merged);
    assert_eq!(records[1].story.id, older[0].story.id);
    assert_eq!(records[1].story.merged_into, None);
    assert_eq!(records[1].story.article_count, 3);
    assert_eq!(stage.open_stories(), 1);
    // An article of the absorbed story's now counts toward the survivor.
    let notice = DuplicateNotice {
        id: "copy".to_owned(),
        duplicate_of: "b".to_owned(),
        kind: DuplicateKind::Exact,
        similarity: 1.0,
        source: "yahoo".to_owned(),
        title: None,
        detected_at: day(0),
    };
    assert_eq!(stage.notice(&notice)[0].story.id, older[0].story.id);
}

#[test]
fn an_article_that_bridges_two_different_stories_does_not_chain_them() {
    let config = StoryConfig {
        threshold: 0.45,
        ..StoryConfig::default()
    };
    let mut stage = StoryStage::new(config).unwrap();
    let half_a = "Xi Jinping told Vladimir Putin by phone that Beijing supports Moscow.";
    let half_b = "Brahmaputra floods in Assam forced thousands into relief camps.";
    stage.article(&article("a", "upi", "Xi and Putin", half_a, day(0)), &ctx());
    let newer = stage.article(&article("b", "ap", "Assam floods", half_b, day(0)), &ctx());
    assert_eq!(newer[0].change, Change::Opened);
    let both = format!("{half_a} {half_b}");
    let records = stage.article(
        &article("c", "afp", "Xi, Putin, Assam", &both, day(0)),
        &ctx(),
    );
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].change, Change::Joined);
    assert_eq!(stage.open_stories(), 2);
}

#[test]
fn the_representative_is_the_most_central_article_not_the_first() {
    let mut stage = stage();
    // The first article is the least typical of the three.
    stage.article(
        &article("a", "upi", "Call, and more", CALL_3, day(0)),
        &ctx(),
    );
    stage.article(&article("b", "ap", "Xi tells Putin", CALL, day(0)), &ctx());
    let records = stage.article(
        &article("c", "afp", "Xi and Putin speak", CALL_2, day(0)),
        &ctx(),
    );
    assert_eq!(records[0].story.article_count, 3, "{records:?}");
    assert_ne!(records[0].story.representative_id, "a");
}

#[test]
fn other_events_are_a_miswired_pipeline() {
    let mut stage = stage();
    let raw = Event::from_json(
        crate::event::EventKind::Raw,
        br#"{"id":"r","source":"s","content_type":"text/plain","content":"x"}"#,
    )
    .unwrap();
    let err = stage.process(&raw, &ctx()).unwrap_err();
    assert!(matches!(err, StageError::Rejected(r) if r.kind == ErrorKind::UnexpectedEventType));
}

#[test]
fn look_ups_stay_bounded_with_many_open_stories() {
    let config = StoryConfig::default();
    let max_postings = config.max_postings;
    let mut stage = StoryStage::new(config).unwrap();
    for i in 0..2_000 {
        let body =
            format!("Match report {i}: the visitors won zorblax{i} quuxed{i} blorft{i} again.");
        stage.article(
            &article(&format!("m{i}"), "s", "Report", &body, day(0)),
            &ctx(),
        );
    }
    assert!(stage.index.values().all(|p| p.len() <= max_postings));
    assert!(stage.open_stories() > 1_000, "{}", stage.open_stories());
}

/// Runs events through the stage as the Kafka runner does; every state change is kept, the
/// latest per key (as the compacted topic keeps them).
fn through_runner(
    stage: &mut StoryStage,
    events: Vec<Event>,
    topic: &mut std::collections::BTreeMap<String, Option<Vec<u8>>>,
) -> Vec<StoryRecord> {
    use crate::stage::Stage as _;
    let mut records = Vec::new();
    for event in events {
        let emits = crate::stage::Stage::process(stage, event, &ctx()).unwrap();
        for change in stage.take_state_changes() {
            topic.insert(change.key, change.value);
        }
        records.extend(emits.into_iter().map(|emit| match emit.event {
            Event::Story(record) => record,
            other => panic!("not a story record: {other:?}"),
        }));
    }
    records
}

fn notice_of(id: &str, original: &str) -> DuplicateNotice {
    DuplicateNotice {
        id: id.to_owned(),
        duplicate_of: original.to_owned(),
        kind: DuplicateKind::Near,
        similarity: 0.9,
        source: "yahoo".to_owned(),
        title: None,
        detected_at: day(0),
    }
}

#[test]
fn a_stage_restored_from_its_state_records_goes_on_as_the_original() {
    let enriched = |id: &str, title: &str, body: &str, at| {
        Event::Enriched(article(id, "upi", title, body, at))
    };
    let first = vec![
        enriched("a", "Xi tells Putin", CALL, day(0)),
        Event::DuplicateNotice(notice_of("copy-of-c", "c")),
        enriched("b", "Xi and Putin speak", CALL_2, day(0)),
        enriched("c", "Assam floods", FLOOD, day(0)),
        enriched("d", "Carlsen wins", CHESS, day(1)),
        Event::DuplicateNotice(notice_of("copy-of-x", "x")),
    ];
    let then = || {
        vec![
            enriched("e", "Second call", CALL_3, day(2)),
            enriched("f", "Floods", FLOOD, day(2)),
            Event::DuplicateNotice(notice_of("copy-of-d", "d")),
            // Past the window: the stories above expire.
            enriched("g", "Carlsen again", CHESS, day(30)),
        ]
    };
    let mut topic = std::collections::BTreeMap::new();
    let mut original = stage();
    through_runner(&mut original, first, &mut topic);
    assert!(topic.keys().any(|k| k.starts_with("df/")));
    assert!(topic.contains_key("held/copy-of-x"));
    assert_eq!(
        topic.get("held/copy-of-c"),
        Some(&None),
        "counted, so deleted"
    );

    let mut restored = stage();
    for (key, value) in &topic {
        restored.restore(key, value.as_deref()).unwrap();
    }
    restored.finish_restore();
    assert_eq!(restored.open_stories(), original.open_stories());
    // Its own records read back (as a follower reads them) change nothing.
    for (key, value) in &topic {
        original.restore(key, value.as_deref()).unwrap();
    }
    let mut later = std::collections::BTreeMap::new();
    let expected = through_runner(&mut original, then(), &mut later);
    let mut again = std::collections::BTreeMap::new();
    assert_eq!(through_runner(&mut restored, then(), &mut again), expected);
    assert_eq!(again, later, "the same state records too");
    assert!(expected.iter().any(|r| r.change == Change::Expired));
    assert_eq!(
        later.get(&format!("story/{}", crate::ids::id_for_story("a"))),
        Some(&None)
    );
}

#[test]
fn an_article_or_copy_read_again_changes_nothing() {
    let mut stage = stage();
    let a = article("a", "upi", "Xi tells Putin", CALL, day(0));
    stage.article(&a, &ctx());
    stage.notice(&notice_of("copy", "a"));
    let again = stage.article(&a, &ctx());
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].change, Change::Joined);
    assert_eq!(again[0].story.article_count, 2);
    let copy = stage.notice(&notice_of("copy", "a"));
    assert_eq!(copy[0].story.article_count, 2);
    assert_eq!(stage.stats().articles, 1);
}

#[test]
fn state_records_of_another_version_or_key_are_refused() {
    let mut stage = stage();
    assert!(matches!(
        stage.restore("nonsense", Some(b"1")),
        Err(StateError::UnknownKey(_))
    ));
    assert!(matches!(
        stage.restore("df/zz", Some(b"1")),
        Err(StateError::Invalid { .. })
    ));
    assert!(matches!(
        stage.restore("story/x", Some(b"{\"v\":1}")),
        Err(StateError::Invalid { .. })
    ));
    stage.restore("df/0000002a", None).unwrap();
}
