//! The normalizer on fixtures written for it, one per layout it reads: a page dump in the seed
//! layout, a headline-first text, a body-only text with site clutter, an HTML page, JSON Feed
//! items and producer hints. Every field is checked, and every output validates against the
//! contract.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

use chrono::{DateTime, Utc};
use newsflow_core::event::{
    ContentType, Dateline, Event, EventKind, Hints, NormalizedArticle, RawEvent,
};
use newsflow_core::normalize::{ClutterLine, SourceConfig};
use newsflow_core::stage::{Route, Stage, StageContext};
use newsflow_core::{NormalizeConfig, NormalizeStage};

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/normalize")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("a valid RFC 3339 time")
        .with_timezone(&Utc)
}

fn ctx() -> StageContext {
    StageContext::at(time("2026-05-01T12:00:00Z"))
}

fn raw(source: &str, content_type: ContentType, content: String) -> RawEvent {
    RawEvent::with_content("article-1", source, content_type, content)
}

fn normalize_with(stage: &NormalizeStage, event: RawEvent) -> NormalizedArticle {
    let article = stage
        .normalize(event, &ctx())
        .expect("the fixture normalizes");
    let json = serde_json::to_value(&article).expect("an article serializes");
    newsflow_testkit::assert_valid("normalized.v1.schema.json", &json);
    article
}

fn normalize(event: RawEvent) -> NormalizedArticle {
    normalize_with(&NormalizeStage::default(), event)
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn dateline(place: Option<&str>, date_text: Option<&str>, agency: Option<&str>) -> Dateline {
    Dateline {
        place: place.map(Into::into),
        date_text: date_text.map(Into::into),
        agency: agency.map(Into::into),
    }
}

#[test]
fn a_page_dump_in_the_seed_layout() {
    let mut event = raw("wire", ContentType::TextPlain, fixture("seed-layout.txt"));
    event.url = Some("https://WIRE.example/story/42?utm_source=rss#top".into());
    event.fetched_at = Some(time("2024-03-03T22:00:00Z"));
    let a = normalize(event);
    assert_eq!(a.id, "article-1");
    assert_eq!(a.revision, 1);
    assert_eq!(a.source, "wire");
    assert_eq!(a.url.as_deref(), Some("https://wire.example/story/42"));
    assert_eq!(
        a.title.as_deref(),
        Some("Harbour city opens first tidal power station in bid to cut emissions")
    );
    assert_eq!(a.section.as_deref(), Some("Science News"));
    assert_eq!(a.authors, strings(&["Jane Okafor", "Pedro Alves"]));
    assert_eq!(
        a.published_at_raw.as_deref(),
        Some("March 3, 2024 / 9:15 PM")
    );
    assert_eq!(a.published_at, Some(time("2024-03-03T21:15:00Z")));
    assert_eq!(
        a.dateline,
        Some(dateline(
            Some("PORTSMOUTH, England"),
            Some("March 3"),
            Some("UPI")
        ))
    );
    let body = strings(&[
        "A harbour city on England's south coast opened its first tidal power station on Sunday, officials said.",
        "The station's eight turbines turn with the tide twice a day and will supply about 40,000 homes, the operator said.",
        "\"This is the first of many,\" the city's mayor told reporters at the opening.",
    ]);
    assert_eq!(a.body, body);
    assert_eq!(a.lede.as_deref(), Some(body[0].as_str()));
    assert_eq!(a.related.len(), 3);
    assert_eq!(
        a.related[1].title,
        "Researchers map the deepest cave in Europe"
    );
    assert_eq!(a.related[1].section.as_deref(), Some("Science News"));
    assert_eq!(a.related[1].age_text.as_deref(), Some("5 hours ago"));
    assert_eq!(
        a.related[1].summary.as_deref(),
        Some(
            "TBILISI, Georgia, March 3 (UPI) -- A team of cave divers has mapped a new section of the deepest known cave in Europe."
        )
    );
    assert_eq!(a.related[2].age_text.as_deref(), Some("1 day ago"));
    assert_eq!(a.language.as_deref(), Some("en"));
    assert_eq!(a.word_count, 51);
    assert_eq!(a.content_hash.len(), 64);
    assert_eq!(a.fetched_at, Some(time("2024-03-03T22:00:00Z")));
    assert_eq!(a.ingested_at, time("2026-05-01T12:00:00Z"));
    assert_eq!(a.normalized_at, time("2026-05-01T12:00:00Z"));
}

#[test]
fn a_page_time_without_zone_is_read_in_the_sources_zone() {
    let mut config = NormalizeConfig::default();
    config.sources.insert(
        "wire".into(),
        SourceConfig {
            time_zone: Some("America/New_York".into()),
            ..SourceConfig::default()
        },
    );
    let stage = NormalizeStage::new(config).expect("valid config");
    let a = normalize_with(
        &stage,
        raw("wire", ContentType::TextPlain, fixture("seed-layout.txt")),
    );
    // 9:15 PM EST is 02:15 UTC the next day; the raw text stays as the page wrote it.
    assert_eq!(a.published_at, Some(time("2024-03-04T02:15:00Z")));
    assert_eq!(
        a.published_at_raw.as_deref(),
        Some("March 3, 2024 / 9:15 PM")
    );
    // Another source keeps the default zone (UTC).
    let other = normalize_with(
        &stage,
        raw("other", ContentType::TextPlain, fixture("seed-layout.txt")),
    );
    assert_eq!(other.published_at, Some(time("2024-03-03T21:15:00Z")));
}

#[test]
fn an_impossible_page_date_becomes_null_not_an_error() {
    let text = fixture("seed-layout.txt").replace("March 3, 2024", "February 30, 2024");
    let a = normalize(raw("wire", ContentType::TextPlain, text));
    assert_eq!(a.published_at, None);
    assert_eq!(
        a.published_at_raw.as_deref(),
        Some("February 30, 2024 / 9:15 PM")
    );
    assert_eq!(a.section.as_deref(), Some("Science News"));
    assert!(a.title.is_some());
}

#[test]
fn a_headline_first_text() {
    let a = normalize(raw(
        "archive",
        ContentType::TextPlain,
        fixture("headline-first.txt"),
    ));
    assert_eq!(
        a.title.as_deref(),
        Some("Village library reopens after flood repairs")
    );
    assert_eq!(a.section, None);
    assert_eq!(a.authors, Vec::<String>::new());
    assert_eq!(a.published_at, None);
    assert_eq!(a.published_at_raw, None);
    assert_eq!(a.dateline, None);
    assert_eq!(a.url, None);
    assert_eq!(
        a.body,
        strings(&[
            "A village library that was closed for eight months after flooding reopened on Saturday with a new children's corner.",
            "Volunteers helped move more than 6,000 books back onto the shelves, the county council said.",
            "\"We missed it more than we expected,\" said one regular reader.",
        ])
    );
    assert_eq!(a.lede.as_deref(), Some(a.body[0].as_str()));
    assert!(a.related.is_empty());
    assert_eq!(a.language.as_deref(), Some("en"));
    assert_eq!(a.word_count, 45);
}

#[test]
fn a_body_only_text_with_site_clutter() {
    let a = normalize(raw(
        "belta",
        ContentType::TextPlain,
        fixture("body-only.txt"),
    ));
    assert_eq!(a.title, None, "a body-only text has no title");
    assert_eq!(a.section, None);
    assert_eq!(
        a.dateline,
        Some(dateline(Some("MINSK"), Some("12 March"), Some("BelTA")))
    );
    assert_eq!(
        a.body,
        strings(&[
            "The grain harvest in the region is expected to exceed last year’s figure, the agriculture ministry said on Tuesday.",
            "Farmers have sown more winter wheat than in any year since 2015, the ministry added.",
            "Storage capacity will be expanded by a fifth before the autumn, officials said.",
        ])
    );
    assert_eq!(a.lede.as_deref(), Some(a.body[0].as_str()));
    assert_eq!(a.published_at, None);
    assert_eq!(a.language.as_deref(), Some("en"));
    assert_eq!(a.word_count, 47);
}

#[test]
fn a_whole_article_on_one_line_is_kept_though_it_ends_in_a_footer() {
    // Texts cut from pages often arrive as one line: the story and the site's footer glued
    // together. The footer must not take the story with it (it used to: `no_body`).
    let story = "Dozens of llamas were set loose from an animal farm in Perris, California, on \
                 Tuesday after calls on social media said they were mistreated, deputies said. "
        .repeat(6);
    let text =
        format!("{story}Sign up for our newsletter. Copyright 2020 ABC News. All rights reserved.");
    let a = normalize(raw("wire", ContentType::TextPlain, text.clone()));
    assert_eq!(a.body, vec![text.trim().to_owned()]);
    assert!(a.word_count > 100, "{}", a.word_count);
}

#[test]
fn a_sources_own_clutter_lines_apply_to_it_alone() {
    let text = "Ferry fares rise\n\nFares on the island ferry will rise by 4% in January, the operator said.\n\nDownload our app for the latest news\n\nReturn tickets are not affected.\n";
    let mut config = NormalizeConfig::default();
    config.sources.insert(
        "courier".into(),
        SourceConfig {
            clutter_lines: vec![
                ClutterLine::Exact("Download our app for the latest news".into()),
                ClutterLine::Regex {
                    regex: "^Return tickets".into(),
                },
            ],
            ..SourceConfig::default()
        },
    );
    let stage = NormalizeStage::new(config).expect("valid config");
    let own = normalize_with(&stage, raw("courier", ContentType::TextPlain, text.into()));
    assert_eq!(
        own.body,
        strings(&["Fares on the island ferry will rise by 4% in January, the operator said."])
    );
    let other = normalize_with(&stage, raw("other", ContentType::TextPlain, text.into()));
    assert_eq!(other.body.len(), 3);
}

#[test]
fn an_html_page_as_sites_serve_it() {
    let mut event = raw("courier", ContentType::TextHtml, fixture("page.html"));
    event.url = Some("https://courier.example/x/123".into());
    let a = normalize(event);
    assert_eq!(
        a.title.as_deref(),
        Some("Night trains return to the northern line")
    );
    assert_eq!(a.section.as_deref(), Some("Travel"));
    assert_eq!(a.authors, strings(&["Ines Varga", "Tom & Co"]));
    assert_eq!(
        a.published_at_raw.as_deref(),
        Some("2024-11-08T22:10:00+01:00")
    );
    assert_eq!(a.published_at, Some(time("2024-11-08T21:10:00Z")));
    assert_eq!(
        a.url.as_deref(),
        Some("https://courier.example/travel/2024/11/08/night-trains")
    );
    assert_eq!(a.dateline, Some(dateline(Some("BERGEN"), None, None)));
    let body = strings(&[
        "Overnight sleeper trains will run on the northern line again from December, the rail operator said on Friday, ending a four\u{2011}year pause.",
        "Tickets for the first departures sold out within hours, and the operator said it would add a second weekly train in spring & summer.",
        "“We heard from thousands of travellers who wanted the night train back,” a spokesperson said.",
    ]);
    assert_eq!(a.body, body);
    assert_eq!(a.lede.as_deref(), Some(body[0].as_str()));
    assert!(
        a.related.is_empty(),
        "the aside is page furniture, not a related block"
    );
    assert_eq!(a.language.as_deref(), Some("en"));
    let everything = serde_json::to_string(&a).expect("serializes");
    for leak in [
        "must not leak",
        "nope",
        "cookies",
        "Accept all",
        "Most read",
        "Ferry fares",
        "Share this article",
        "Photo: Ana Ruiz",
        "Privacy",
        "Enable JavaScript",
        "trackParagraph",
        "The Example Courier",
    ] {
        assert!(
            !everything.contains(leak),
            "{leak:?} reached the article: {everything}"
        );
    }
}

#[test]
fn an_html_page_without_metadata_falls_back_to_what_it_shows() {
    let html = r#"<html><head><title>Quiet page</title></head><body>
        <nav><a href="/">Home</a></nav>
        <h1>Council approves new cycle lanes</h1>
        <p class="byline">By Lea Moreau</p>
        <p>The city council approved six kilometres of new cycle lanes on Tuesday &amp; promised more.</p>
        <p>Work will start in the spring.</p>
        <footer>Contact us</footer></body></html>"#;
    let a = normalize(raw("city", ContentType::TextHtml, html.into()));
    assert_eq!(a.title.as_deref(), Some("Council approves new cycle lanes"));
    assert_eq!(a.authors, strings(&["Lea Moreau"]));
    assert_eq!(
        a.body,
        strings(&[
            "The city council approved six kilometres of new cycle lanes on Tuesday & promised more.",
            "Work will start in the spring.",
        ])
    );
    assert_eq!(a.published_at, None);
    assert_eq!(a.section, None);
}

#[test]
fn the_shipped_sample_page_reads_cleanly() {
    let path =
        newsflow_testkit::workspace_root().join("services/newsflow/samples/museum-night-page.html");
    let html = std::fs::read_to_string(path).expect("the sample page is readable");
    let a = normalize(raw("gazette", ContentType::TextHtml, html));
    assert_eq!(
        a.title.as_deref(),
        Some("Museums open late for spring night")
    );
    assert_eq!(a.authors, strings(&["Tomas Reyes"]));
    assert_eq!(a.published_at, Some(time("2026-04-11T16:30:00Z")));
    assert_eq!(
        a.url.as_deref(),
        Some("https://gazette.example/culture/2026/04/11/museum-night")
    );
    assert_eq!(a.body.len(), 3);
    assert!(a.body[0].starts_with("Twenty-three museums"));
    let everything = serde_json::to_string(&a).expect("serializes");
    assert!(!everything.contains("tracking code"));
    assert!(!everything.contains("cookies"));
}

#[test]
fn a_json_feed_item_with_html_content() {
    let a = normalize(raw(
        "feed",
        ContentType::ApplicationJson,
        fixture("feed-item.json"),
    ));
    assert_eq!(
        a.title.as_deref(),
        Some("Island ferry returns to service after engine refit")
    );
    assert_eq!(
        a.url.as_deref(),
        Some("https://example.org/2024/05/02/ferry")
    );
    assert_eq!(a.authors, strings(&["Ruth Hale"]));
    assert_eq!(
        a.published_at_raw.as_deref(),
        Some("2024-05-02T08:30:00+01:00")
    );
    assert_eq!(a.published_at, Some(time("2024-05-02T07:30:00Z")));
    assert_eq!(
        a.body,
        strings(&[
            "The island ferry returned to service on Thursday after a three-month engine refit, the operator said.",
            "Crossings will run every two hours until the summer timetable begins in June.",
        ])
    );
    assert_eq!(a.lede.as_deref(), Some(a.body[0].as_str()));
    assert_eq!(a.language.as_deref(), Some("en"));
    assert_eq!(a.section, None);
    assert_eq!(a.dateline, None);
}

#[test]
fn a_json_feed_item_with_text_content() {
    let a = normalize(raw(
        "feed",
        ContentType::ApplicationJson,
        fixture("feed-item-text.json"),
    ));
    assert_eq!(
        a.title.as_deref(),
        Some("Allotment waiting list shrinks as new plots open")
    );
    assert_eq!(
        a.authors,
        strings(&["Sam Idris"]),
        "JSON Feed 1.0 `author` is read too"
    );
    assert_eq!(a.published_at, Some(time("2024-04-20T09:00:00Z")));
    assert_eq!(a.url, None);
    assert_eq!(
        a.body,
        strings(&[
            "The waiting list for allotments in the town has halved since new plots opened on the old rail yard, the council said.",
            "About 120 families received plots this spring.",
        ])
    );
}

#[test]
fn valid_hints_win_and_invalid_ones_are_ignored() {
    let mut event = raw("wire", ContentType::TextPlain, fixture("seed-layout.txt"));
    event.hints = Some(Hints {
        title: Some("  Tidal power  comes to Portsmouth ".into()),
        published_at: Some("2024-03-04T08:00:00+01:00".into()),
        authors: strings(&["Desk Editor", " "]),
        language: Some("EN-gb".into()),
    });
    let a = normalize(event);
    assert_eq!(a.title.as_deref(), Some("Tidal power comes to Portsmouth"));
    assert_eq!(a.published_at, Some(time("2024-03-04T07:00:00Z")));
    assert_eq!(
        a.published_at_raw.as_deref(),
        Some("2024-03-04T08:00:00+01:00")
    );
    assert_eq!(a.authors, strings(&["Desk Editor"]));
    assert_eq!(a.language.as_deref(), Some("en"));

    let mut event = raw("wire", ContentType::TextPlain, fixture("seed-layout.txt"));
    event.hints = Some(Hints {
        title: Some("   ".into()),
        published_at: Some("2024-02-30T10:00:00Z".into()),
        authors: Vec::new(),
        language: Some("english".into()),
    });
    let a = normalize(event);
    assert_eq!(
        a.title.as_deref(),
        Some("Harbour city opens first tidal power station in bid to cut emissions")
    );
    assert_eq!(a.published_at, Some(time("2024-03-03T21:15:00Z")));
    assert_eq!(
        a.published_at_raw.as_deref(),
        Some("March 3, 2024 / 9:15 PM")
    );
    assert_eq!(a.authors, strings(&["Jane Okafor", "Pedro Alves"]));
    assert_eq!(a.language.as_deref(), Some("en"));
}

#[test]
fn a_configured_source_language_skips_detection() {
    let mut config = NormalizeConfig::default();
    config.sources.insert(
        "lviv".into(),
        SourceConfig {
            language: Some("uk".into()),
            ..SourceConfig::default()
        },
    );
    let stage = NormalizeStage::new(config).expect("valid config");
    let a = normalize_with(
        &stage,
        raw(
            "lviv",
            ContentType::TextPlain,
            fixture("headline-first.txt"),
        ),
    );
    assert_eq!(a.language.as_deref(), Some("uk"));
}

#[test]
fn the_content_hash_folds_case_spacing_quotes_and_dashes() {
    let plain = "Headline\n\n\"Peace - now,\" she said.\n\nIt was 10-3.\n";
    let typographic = "Headline\n\n“PEACE –   now,”  she said.\n\n\n  It was 10—3.\n";
    let a = normalize(raw("s", ContentType::TextPlain, plain.into()));
    let b = normalize(raw("s", ContentType::TextPlain, typographic.into()));
    assert_eq!(a.content_hash, b.content_hash);
    // The displayed text keeps the page's own characters.
    assert_eq!(b.body[0], "“PEACE – now,” she said.");
    let c = normalize(raw(
        "s",
        ContentType::TextPlain,
        plain.replace("10-3", "10-4"),
    ));
    assert_ne!(a.content_hash, c.content_hash);
}

#[test]
fn display_text_is_in_nfc() {
    let text = "Cafe\u{301} owners protest\n\nThe cafe\u{301} owners of the old town protested on Monday against the new rent rules.\n";
    let a = normalize(raw("s", ContentType::TextPlain, text.into()));
    assert_eq!(a.title.as_deref(), Some("Caf\u{e9} owners protest"));
    assert!(a.body[0].contains("caf\u{e9} owners"));
}

#[test]
fn the_stage_interface() {
    let mut stage = NormalizeStage::default();
    assert_eq!(stage.name(), "normalizer");
    assert_eq!(stage.input_kind(), EventKind::Raw);
    assert_eq!(stage.output_kinds(), &[EventKind::Normalized]);
    let record_time = time("2026-04-30T23:59:00Z");
    let ctx = StageContext {
        now: time("2026-05-01T12:00:00Z"),
        record_time: Some(record_time),
    };
    let mut event = raw(
        "archive",
        ContentType::TextPlain,
        fixture("headline-first.txt"),
    );
    event.ingested_at = Some(time("2020-01-01T00:00:00Z"));
    let out = stage.process(Event::Raw(event), &ctx).expect("processed");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].route, Route::PRIMARY);
    let Event::Normalized(article) = &out[0].event else {
        panic!("not a normalized article")
    };
    assert_eq!(article.ingested_at, record_time, "the record time wins");
    assert_eq!(article.normalized_at, time("2026-05-01T12:00:00Z"));

    // Without a record time, the event's own ingested_at is kept.
    let mut event = raw(
        "archive",
        ContentType::TextPlain,
        fixture("headline-first.txt"),
    );
    event.ingested_at = Some(time("2020-01-01T00:00:00Z"));
    let out = stage
        .process(
            Event::Raw(event),
            &StageContext::at(time("2026-05-01T12:00:00Z")),
        )
        .expect("processed");
    let Event::Normalized(article) = &out[0].event else {
        panic!("not a normalized article")
    };
    assert_eq!(article.ingested_at, time("2020-01-01T00:00:00Z"));
}
