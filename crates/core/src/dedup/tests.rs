//! Unit tests of the dedupe stage, on stories written for them.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::*;
use crate::error::ErrorKind;
use crate::event::RawEvent;

const TRAM: [&str; 8] = [
    "The city council of Eastbrook voted on Tuesday evening to approve a new tram line linking the harbour district with the university campus, ending a debate that has divided residents for almost six years.",
    "Councillors backed the plan by twenty-three votes to nine after a session that ran past midnight, with supporters arguing that the line would cut journey times across the city by a third and take thousands of cars off the ring road every day.",
    "The project is expected to cost about 410 million euros, most of which will come from a regional transport fund and a loan from the national investment bank, according to documents presented to the council.",
    "Construction is due to begin next spring along the old railway corridor behind the fish market, where engineers say the ground is firm enough to carry the tracks without expensive foundations.",
    "Shopkeepers on Mill Street, where the line will run for eight hundred metres, have warned that two years of roadworks could drive away customers who already struggle to find parking in the narrow lanes of the old town.",
    "The mayor, Ingrid Vos, said the council would set up a compensation scheme for businesses that lose trade during the works and promised that no street would be closed for more than four months at a time.",
    "Opposition councillors said the cost estimate was unrealistic and pointed to a similar scheme in a neighbouring city whose budget doubled before the first tram carried a single passenger.",
    "The first trams are scheduled to run in the autumn of 2029, and the council expects around forty thousand passengers a day once the full line is open between the harbour and the northern terminus.",
];

const FLOOD: [&str; 6] = [
    "Heavy rain swept across the northern valleys on Sunday, flooding dozens of villages and forcing hundreds of families to leave their homes as rivers rose to levels not seen in half a century.",
    "Emergency crews used boats to reach farms cut off by the water near the town of Kessel, where the main bridge was closed after debris piled up against its arches during the night.",
    "The weather service said more than 150 millimetres of rain had fallen in twenty-four hours at several stations, nearly twice the amount usually recorded in the whole of October.",
    "Schools in the region will stay closed on Monday, and the railway operator has suspended services on the valley line until engineers can inspect embankments weakened by the flood.",
    "Local officials opened sports halls and church buildings as shelters and appealed for volunteers to help fill sandbags in the lower parts of the town, where the water was still rising in the evening.",
    "Forecasters expect the rain to ease by Tuesday, but they warned that the ground is saturated and that even light showers later in the week could cause further flooding along the smaller streams.",
];

/// Another article on the same subject as `TRAM`: shared names and facts, different words.
const TRAM_OTHER: [&str; 6] = [
    "Residents of the harbour district in Eastbrook gathered on Wednesday to discuss what the approved tram line will mean for their neighbourhood, a day after the council vote.",
    "Many welcomed a faster link to the university campus, but several older residents said they feared the new stops would bring noise and crowds to quiet streets near the water.",
    "The council's transport director told the meeting that trams would run every six minutes at peak times and that the stops would be designed with level boarding for wheelchairs and prams.",
    "Questions about the 410 million euro budget dominated the second half of the evening, with one speaker asking who would pay if costs overran as they had in other cities.",
    "Officials said a public consultation on the exact location of the harbour stop would open next month, and that detailed drawings would be on display in the library.",
    "The next meeting is planned for January, when the contractors bidding for the construction work are expected to present their plans to residents.",
];

fn at(day: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).single().unwrap() + Duration::days(day)
}

fn ctx(day: i64) -> StageContext {
    StageContext::at(at(day) + Duration::hours(1))
}

/// Hex SHA-256 of the lowercased, whitespace-collapsed body joined by newlines.
fn content_hash(body: &[String]) -> String {
    let folded: Vec<String> = body
        .iter()
        .map(|p| {
            p.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        })
        .collect();
    hex::encode(Sha256::digest(folded.join("\n").as_bytes()))
}

fn article(id: &str, title: &str, body: &[String], day: i64) -> NormalizedArticle {
    NormalizedArticle {
        id: id.to_owned(),
        revision: 1,
        source: "test-wire".to_owned(),
        url: None,
        title: Some(title.to_owned()),
        section: None,
        authors: Vec::new(),
        published_at: Some(at(day)),
        published_at_raw: None,
        dateline: None,
        lede: None,
        body: body.to_vec(),
        related: Vec::new(),
        language: Some("en".to_owned()),
        word_count: body
            .iter()
            .map(|p| p.split_whitespace().count() as u32)
            .sum(),
        content_hash: content_hash(body),
        fetched_at: None,
        ingested_at: at(day),
        normalized_at: at(day),
    }
}

fn paragraphs(text: &[&str]) -> Vec<String> {
    text.iter().map(|p| (*p).to_owned()).collect()
}

/// Processes one article, checks the output against its schema, and returns it.
fn run(stage: &mut DedupStage, article: NormalizedArticle, day: i64) -> Event {
    let mut out = stage
        .process(Event::Normalized(article), &ctx(day))
        .unwrap();
    assert_eq!(out.len(), 1);
    let emit = out.remove(0);
    let json: Value = serde_json::from_slice(&emit.event.to_json().unwrap()).unwrap();
    newsflow_testkit::assert_valid(emit.event.kind().schema_file(), &json);
    match emit.event.kind() {
        EventKind::Deduplicated => assert_eq!(emit.route, Route::PRIMARY),
        EventKind::DuplicateNotice => assert_eq!(emit.route, Route::to(super::DUPLICATES)),
        other => panic!("unexpected output {other:?}"),
    }
    emit.event
}

fn as_unique(event: &Event) -> &DeduplicatedArticle {
    match event {
        Event::Deduplicated(article) => article,
        other => panic!("expected a unique article, got {other:?}"),
    }
}

fn as_notice(event: &Event) -> &DuplicateNotice {
    match event {
        Event::DuplicateNotice(notice) => notice,
        other => panic!("expected a duplicate notice, got {other:?}"),
    }
}

fn tram() -> NormalizedArticle {
    article(
        "tram-1",
        "Eastbrook approves tram line",
        &paragraphs(&TRAM),
        0,
    )
}

#[test]
fn the_first_copy_is_unique_and_an_exact_copy_is_flagged() {
    let mut stage = DedupStage::default();
    let first = run(&mut stage, tram(), 0);
    let unique = as_unique(&first);
    assert_eq!(unique.dedup.status, DedupStatus::Unique);
    assert!(unique.dedup.fingerprint.starts_with("mh1-5-128:"));
    assert_eq!(unique.article.revision, 1);

    // Another headline over the same body is the same content: an exact copy.
    let copy = article(
        "tram-2",
        "Trams are coming to Eastbrook",
        &paragraphs(&TRAM),
        0,
    );
    let notice = as_notice(&run(&mut stage, copy, 0)).clone();
    assert_eq!(notice.duplicate_of, "tram-1");
    assert_eq!(notice.kind, DuplicateKind::Exact);
    assert_eq!(notice.similarity, 1.0);
    assert_eq!(
        notice.title.as_deref(),
        Some("Trams are coming to Eastbrook")
    );
    assert_eq!(notice.detected_at, ctx(0).now);
    assert_eq!(stage.retained(), 2);
}

/// One copy per edit kind; each must point at the original as a near copy.
fn edited_copies() -> Vec<(&'static str, Vec<String>)> {
    let base = paragraphs(&TRAM);
    let mut boilerplate = vec![
        "Advertisement. Subscribe to the Eastbrook Courier for unlimited access to local news."
            .to_owned(),
    ];
    boilerplate.extend(base.iter().cloned());
    boilerplate.extend([
        "Latest Headlines".to_owned(),
        "Harbour ferry fares to rise in January. Local News // 2 hours ago".to_owned(),
        "University opens new library wing. Education // 5 hours ago".to_owned(),
    ]);
    let mut cut = base.clone();
    cut.pop();
    let mut note = base.clone();
    note.push(
        "Editor's note: An earlier version of this article gave the wrong date for the start of construction."
            .to_owned(),
    );
    let mut dateline = base.clone();
    dateline[0] = format!("EASTBROOK, March 1 (Courier) -- {}", dateline[0]);
    let wording: Vec<String> = base
        .iter()
        .map(|p| {
            p.replacen("said", "stated", 1)
                .replacen("about", "around", 1)
                .replace("'", "\u{2019}")
                .replacen(", ", " \u{2014} ", 1)
        })
        .collect();
    vec![
        ("boilerplate", boilerplate),
        ("last paragraph cut", cut),
        ("editor's note", note),
        ("dateline", dateline),
        ("typography and wording", wording),
    ]
}

#[test]
fn near_copies_of_each_edit_kind_point_at_the_original() {
    let mut stage = DedupStage::default();
    run(&mut stage, tram(), 0);
    for (index, (kind, body)) in edited_copies().into_iter().enumerate() {
        let copy = article(&format!("copy-{index}"), "Another headline", &body, 1);
        let notice = as_notice(&run(&mut stage, copy, 1)).clone();
        assert_eq!(notice.duplicate_of, "tram-1", "{kind}");
        assert_eq!(notice.kind, DuplicateKind::Near, "{kind}");
        assert!(
            (0.6..1.0).contains(&notice.similarity),
            "{kind}: {}",
            notice.similarity
        );
    }
}

#[test]
fn other_stories_and_other_articles_on_the_same_subject_stay_unique() {
    let mut stage = DedupStage::default();
    run(&mut stage, tram(), 0);
    let flood = article("flood", "Floods in the north", &paragraphs(&FLOOD), 0);
    as_unique(&run(&mut stage, flood, 0));
    let other = article(
        "tram-residents",
        "Residents on the tram",
        &paragraphs(&TRAM_OTHER),
        1,
    );
    as_unique(&run(&mut stage, other, 1));
    // Half of the story with half of another is not the same story.
    let mut mixed = paragraphs(&TRAM[..4]);
    mixed.extend(paragraphs(&FLOOD));
    as_unique(&run(&mut stage, article("mixed", "Mixed", &mixed, 1), 1));
}

#[test]
fn a_replay_gets_the_same_verdict_again() {
    let mut stage = DedupStage::default();
    let first = run(&mut stage, tram(), 0);
    let copy = article("copy", "Copy", &edited_copies()[1].1, 0);
    let notice = run(&mut stage, copy.clone(), 0);
    stage.take_state_changes();

    assert_eq!(run(&mut stage, tram(), 0), first);
    let again = run(&mut stage, copy, 0);
    assert_eq!(again, notice);
    assert!(
        stage.take_state_changes().is_empty(),
        "a replay changes nothing"
    );
    assert_eq!(stage.retained(), 2);
}

#[test]
fn a_correction_is_judged_anew_with_the_next_revision() {
    let mut stage = DedupStage::default();
    let first = as_unique(&run(&mut stage, tram(), 0)).clone();
    stage.take_state_changes();

    // The same id with new content: near its old self, but never a copy of itself.
    let mut corrected = tram();
    corrected.body[3] = "Construction will begin in the summer, not next spring as first reported, along the old railway corridor behind the fish market.".to_owned();
    corrected.content_hash = content_hash(&corrected.body);
    let second = as_unique(&run(&mut stage, corrected.clone(), 0)).clone();
    assert_eq!(second.article.revision, 2);
    assert_ne!(second.dedup.fingerprint, first.dedup.fingerprint);
    let changes = stage.take_state_changes();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].key, "tram-1");
    assert!(changes[0].value.is_some());
    assert_eq!(stage.retained(), 1);

    // A replay of the correction keeps revision 2; a copy now matches the corrected text.
    assert_eq!(
        as_unique(&run(&mut stage, corrected.clone(), 0))
            .article
            .revision,
        2
    );
    let copy = article("copy", "Copy", &corrected.body, 0);
    assert_eq!(as_notice(&run(&mut stage, copy, 0)).duplicate_of, "tram-1");

    // A third version gets revision 3.
    let mut third = corrected;
    third.body.push("This article has been updated.".to_owned());
    third.content_hash = content_hash(&third.body);
    assert_eq!(as_unique(&run(&mut stage, third, 0)).article.revision, 3);
}

#[test]
fn an_article_is_never_a_duplicate_of_itself() {
    let mut stage = DedupStage::default();
    for _ in 0..3 {
        let out = run(&mut stage, tram(), 0);
        assert_eq!(as_unique(&out).article.id, "tram-1");
    }
    // Even when its own earlier version was restored from the state topic.
    let mut other = DedupStage::default();
    run(&mut other, tram(), 0);
    let mut fresh = DedupStage::default();
    for change in other.take_state_changes() {
        fresh.restore(&change.key, change.value.as_deref()).unwrap();
    }
    as_unique(&run(&mut fresh, tram(), 0));
}

#[test]
fn duplicate_of_is_the_earliest_unique_never_a_copy() {
    let mut stage = DedupStage::default();
    run(&mut stage, tram(), 0);
    let mut b_body = paragraphs(&TRAM);
    b_body.pop();
    let b = article("b", "B", &b_body, 1);
    assert_eq!(as_notice(&run(&mut stage, b, 1)).duplicate_of, "tram-1");
    // C copies B (B's exact body, and B plus a note): both name A, not B.
    let c = article("c", "C", &b_body, 2);
    let notice = as_notice(&run(&mut stage, c, 2)).clone();
    assert_eq!(notice.duplicate_of, "tram-1");
    assert_eq!(notice.kind, DuplicateKind::Near);
    let mut d_body = b_body.clone();
    d_body.push("Editor's note: this story was first published by the Courier.".to_owned());
    let d = article("d", "D", &d_body, 2);
    assert_eq!(as_notice(&run(&mut stage, d, 2)).duplicate_of, "tram-1");
}

#[test]
fn fingerprints_expire_with_the_window_of_event_time() {
    let config = DedupConfig {
        window: std::time::Duration::from_secs(7 * 24 * 3600),
        ..DedupConfig::default()
    };
    let mut stage = DedupStage::new(config).unwrap();
    run(&mut stage, tram(), 0);
    // Six days later the story is still known.
    let copy = article("copy-6", "Copy", &paragraphs(&TRAM), 6);
    as_notice(&run(&mut stage, copy, 6));
    stage.take_state_changes();
    assert_eq!(stage.evicted(), 0);
    // The flood, eight days after the tram story, moves the clock past its window.
    let flood = article("flood", "Floods", &paragraphs(&FLOOD), 8);
    as_unique(&run(&mut stage, flood, 8));
    let tombstones: Vec<String> = stage
        .take_state_changes()
        .into_iter()
        .filter(|c| c.value.is_none())
        .map(|c| c.key)
        .collect();
    assert!(tombstones.contains(&"tram-1".to_owned()), "{tombstones:?}");
    assert_eq!(stage.evicted(), tombstones.len() as u64);
    // Now a copy of the tram story is a new story.
    let late_copy = article("copy-8", "Copy", &paragraphs(&TRAM), 8);
    as_unique(&run(&mut stage, late_copy, 8));
    // An article already older than the window is judged but not kept.
    let retained = stage.retained();
    let old = article("old", "Old", &paragraphs(&TRAM_OTHER), -30);
    as_unique(&run(&mut stage, old, 8));
    assert_eq!(stage.retained(), retained);
    assert!(stage.take_state_changes().iter().all(|c| c.key != "old"));
}

#[test]
fn a_window_boundary_is_exact_even_before_memory_is_released() {
    let mut stage = DedupStage::default();
    run(&mut stage, tram(), 0);
    let mut clock = article("clock", "Clock", &paragraphs(&FLOOD), 7);
    clock.published_at = Some(at(7) + Duration::seconds(1));
    run(&mut stage, clock, 7);
    let copy = article("copy", "Copy", &paragraphs(&TRAM), 7);
    as_unique(&run(&mut stage, copy, 7));
}

#[test]
fn a_date_far_in_the_future_cannot_flush_the_window() {
    let mut stage = DedupStage::default();
    run(&mut stage, tram(), 0);
    let mut wrong = article("wrong-date", "Wrong", &paragraphs(&FLOOD), 0);
    wrong.published_at = Some(at(3650));
    run(&mut stage, wrong, 0);
    let copy = article("copy", "Copy", &paragraphs(&TRAM), 0);
    assert_eq!(as_notice(&run(&mut stage, copy, 0)).duplicate_of, "tram-1");
}

fn restore_all(stage: &mut DedupStage, changes: &[StateChange]) {
    for change in changes {
        stage.restore(&change.key, change.value.as_deref()).unwrap();
    }
}

#[test]
fn restoring_the_state_into_a_fresh_stage_gives_the_same_verdicts() {
    let mut stage = DedupStage::default();
    let original = run(&mut stage, tram(), 0);
    let copy = article("copy", "Copy", &edited_copies()[0].1, 0);
    let notice = run(&mut stage, copy.clone(), 0);
    let flood = run(
        &mut stage,
        article("flood", "Floods", &paragraphs(&FLOOD), 1),
        1,
    );
    let changes = stage.take_state_changes();
    assert_eq!(changes.len(), 3);

    let mut fresh = DedupStage::default();
    restore_all(&mut fresh, &changes);
    assert_eq!(fresh.retained(), 3);
    assert!(fresh.take_state_changes().is_empty());
    // Replays get the same verdicts ...
    assert_eq!(run(&mut fresh, tram(), 1), original);
    assert_eq!(run(&mut fresh, copy, 0), notice);
    assert_eq!(
        run(
            &mut fresh,
            article("flood", "Floods", &paragraphs(&FLOOD), 1),
            1
        ),
        flood
    );
    // ... and new copies the same as in the stage that wrote the state.
    let another = article("another", "Another", &edited_copies()[2].1, 1);
    let there = run(&mut stage, another.clone(), 1);
    let here = run(&mut fresh, another, 1);
    assert_eq!(here, there);
    assert_eq!(as_notice(&here).duplicate_of, "tram-1");
}

#[test]
fn restoring_records_the_stage_wrote_itself_is_harmless() {
    let mut stage = DedupStage::default();
    run(&mut stage, tram(), 0);
    let first = stage.take_state_changes();
    let mut corrected = tram();
    corrected.body.pop();
    corrected.content_hash = content_hash(&corrected.body);
    run(&mut stage, corrected.clone(), 0);
    let second = stage.take_state_changes();
    let memory = stage.memory_bytes();

    // Its own records come back, late and twice: the older revision is stale, the newer one
    // is what it already has.
    for _ in 0..2 {
        restore_all(&mut stage, &first);
        restore_all(&mut stage, &second);
    }
    assert_eq!(stage.retained(), 1);
    assert!(stage.take_state_changes().is_empty());
    assert_eq!(stage.memory_bytes(), memory);
    let replay = run(&mut stage, corrected, 0);
    assert_eq!(as_unique(&replay).article.revision, 2);
}

#[test]
fn a_record_from_one_instance_lets_another_flag_a_copy() {
    let mut a = DedupStage::default();
    run(&mut a, tram(), 0);
    let mut b = DedupStage::default();
    run(
        &mut b,
        article("flood", "Floods", &paragraphs(&FLOOD), 0),
        0,
    );
    restore_all(&mut b, &a.take_state_changes());
    let copy = article("copy", "Copy", &edited_copies()[3].1, 0);
    let notice = as_notice(&run(&mut b, copy, 0)).clone();
    assert_eq!(notice.duplicate_of, "tram-1");
    // A tombstone makes it forget.
    b.restore("tram-1", None).unwrap();
    let copy = article("copy-2", "Copy", &edited_copies()[3].1, 0);
    as_unique(&run(&mut b, copy, 0));
}

#[test]
fn bad_state_records_are_rejected_with_a_reason() {
    let mut stage = DedupStage::default();
    let err = stage.restore_state("x", Some(b"{")).unwrap_err();
    assert_eq!(err.kind, ErrorKind::MalformedJson);
    let mut other = DedupStage::new(DedupConfig {
        shingle_size: 4,
        ..DedupConfig::default()
    })
    .unwrap();
    run(&mut other, tram(), 0);
    let change = other.take_state_changes().remove(0);
    let err = stage
        .restore_state(&change.key, change.value.as_deref())
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidField);
    assert!(err.message.contains("mh1-4-128"), "{}", err.message);
    assert_eq!(stage.retained(), 0);
}

#[test]
fn the_stage_describes_itself_and_refuses_other_events() {
    let mut stage = DedupStage::default();
    assert_eq!(stage.name(), "deduplicator");
    assert_eq!(stage.input_kind(), EventKind::Normalized);
    assert_eq!(
        stage.output_kinds(),
        &[EventKind::Deduplicated, EventKind::DuplicateNotice]
    );
    assert!(stage.is_stateful());
    let raw = Event::Raw(RawEvent {
        id: "r".into(),
        source: "s".into(),
        url: None,
        fetched_at: None,
        ingested_at: None,
        content_type: crate::event::ContentType::TextPlain,
        content: Some("text".into()),
        content_base64: None,
        charset: None,
        hints: None,
    });
    let err = stage.process(raw, &ctx(0)).unwrap_err();
    assert!(matches!(err, StageError::Rejected(r) if r.kind == ErrorKind::UnexpectedEventType));
}

#[test]
fn state_changes_are_records_of_the_documented_shape() {
    let mut stage = DedupStage::default();
    run(&mut stage, tram(), 0);
    run(
        &mut stage,
        article("copy", "Copy", &paragraphs(&TRAM), 0),
        0,
    );
    let changes = stage.take_state_changes();
    let values: Vec<Value> = changes
        .iter()
        .map(|c| serde_json::from_slice(c.value.as_deref().unwrap()).unwrap())
        .collect();
    assert_eq!(changes[0].key, "tram-1");
    assert_eq!(values[0]["v"], 1);
    assert_eq!(values[0]["rev"], 1);
    assert_eq!(values[0]["t"], at(0).timestamp());
    assert_eq!(values[0]["hash"], &tram().content_hash[..16]);
    assert!(values[0]["fp"].as_str().unwrap().starts_with("mh1-5-128:"));
    assert_eq!(changes[1].key, "copy");
    assert_eq!(values[1]["of"], "tram-1");
    assert_eq!(values[1]["kind"], "exact");
    assert_eq!(values[1]["sim"], 1.0);
    assert!(
        changes
            .iter()
            .all(|c| c.value.as_ref().unwrap().len() < 300)
    );
}
