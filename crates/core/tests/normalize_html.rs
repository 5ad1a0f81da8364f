//! The main text of HTML pages, one test per way the first wave's extractor failed on real
//! pages (issue 18's diagnosis of `html-eval`). Every page here is written by us in the shape
//! those sites have; none is copied from the corpus.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

use chrono::DateTime;
use newsflow_core::event::{ContentType, NormalizedArticle, RawEvent};
use newsflow_core::stage::StageContext;
use newsflow_core::{ErrorKind, NormalizeStage};

const STORY: [&str; 3] = [
    "The city council approved the new tram line on Tuesday after a debate that lasted more than six hours, ending a dispute that had divided the districts for years.",
    "Construction will start in the spring, and the first trams are expected to run between the station and the university campus by the end of next year, officials said.",
    "Opponents, who had argued that buses would serve the same streets for a fraction of the cost, said they would not challenge the decision in court.",
];

fn html(page: &str) -> RawEvent {
    raw_bytes(page.as_bytes().to_vec())
}

fn raw_bytes(bytes: Vec<u8>) -> RawEvent {
    use base64::Engine as _;
    RawEvent {
        id: "page-1".into(),
        source: "fixtures".into(),
        url: None,
        fetched_at: None,
        ingested_at: None,
        content_type: ContentType::TextHtml,
        content: None,
        content_base64: Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
        charset: None,
        hints: None,
    }
}

fn normalize(event: RawEvent) -> Result<NormalizedArticle, newsflow_core::Rejection> {
    NormalizeStage::default().normalize(event, &StageContext::at(DateTime::UNIX_EPOCH))
}

fn text(a: &NormalizedArticle) -> String {
    a.body.join("\n")
}

fn story_paragraphs() -> String {
    STORY.iter().map(|p| format!("<p>{p}</p>")).collect()
}

/// Menus, a sidebar of teasers, a footer: what most pages put around the article.
fn furniture() -> (&'static str, &'static str) {
    (
        r#"<header class="site-header"><a href="/">City Gazette</a><nav><ul><li><a href="/news">News</a></li><li><a href="/sport">Sport</a></li><li><a href="/culture">Culture</a></li></ul></nav></header>"#,
        r#"<div class="sidebar"><h3>Most read</h3><ul><li><a href="/a">Harbour ferry fares to rise in January</a></li><li><a href="/b">Airport adds three new routes for summer</a></li><li><a href="/c">Library reopens after a two-year renovation</a></li></ul></div><footer><p>© City Gazette</p><a href="/privacy">Privacy</a> <a href="/imprint">Imprint</a></footer>"#,
    )
}

fn assert_story_only(a: &NormalizedArticle) {
    let body = text(a);
    for p in STORY {
        assert!(body.contains(p), "missing {p:?} in {body:?}");
    }
    for furniture in [
        "Most read",
        "Harbour ferry",
        "Privacy",
        "City Gazette",
        "Sport",
    ] {
        assert!(!body.contains(furniture), "kept {furniture:?} in {body:?}");
    }
}

#[test]
fn class_words_on_body_and_wrappers_do_not_hide_the_article() {
    // WordPress writes state into <body>'s classes; a wrapper can carry a furniture word
    // beside its content words. Neither is furniture.
    let (top, bottom) = furniture();
    let page = format!(
        r#"<html><body class="cookies-not-set single-post wp-featherlight-captions genesis-breadcrumbs-visible">{top}
        <div class="entry-content no-share"><h1>Council approves tram line</h1>{}</div>{bottom}</body></html>"#,
        story_paragraphs()
    );
    let a = normalize(html(&page)).unwrap();
    assert_story_only(&a);
}

#[test]
fn content_in_header_figure_form_and_aside_wrappers_is_kept() {
    // ASP.NET pages wrap the whole page in a <form>; some sites put the lede in the article's
    // <header> or the text column in an <aside>.
    let (top, bottom) = furniture();
    let page = format!(
        r#"<html><body><form id="aspnetForm" action="/x">{top}<article><header><h1>Council approves tram line</h1><p class="lede">{}</p></header><aside class="text-column"><p>{}</p><p>{}</p></aside></article>{bottom}</form></body></html>"#,
        STORY[0], STORY[1], STORY[2]
    );
    let a = normalize(html(&page)).unwrap();
    assert_story_only(&a);
    assert_eq!(a.lede.as_deref(), Some(STORY[0]));
}

#[test]
fn the_text_wins_over_article_elements_that_hold_teasers_or_comments() {
    let (top, bottom) = furniture();
    let teasers: String = (1..=3)
        .map(|i| format!(r#"<article class="teaser"><h2><a href="/t{i}">Teaser number {i} about something else entirely</a></h2></article>"#))
        .collect();
    let page = format!(
        r#"<html><body>{top}<div class="story"><h1>Council approves tram line</h1>{}</div>{teasers}
        <section id="comments"><article class="comment"><p>I have lived on this street for thirty years and nobody ever asked us, which is typical of how this council works.</p></article></section>{bottom}</body></html>"#,
        story_paragraphs()
    );
    let a = normalize(html(&page)).unwrap();
    assert_story_only(&a);
    let body = text(&a);
    assert!(!body.contains("Teaser number"), "{body}");
    assert!(!body.contains("thirty years"), "{body}");
}

#[test]
fn without_article_markup_menus_widgets_and_footers_are_dropped() {
    let (top, bottom) = furniture();
    let page = format!(
        r##"<html><body>{top}<div id="wrap"><div class="col-left"><div class="box"><h1>Council approves tram line</h1>{}
        <div class="share-buttons"><a href="#">Share</a> <a href="#">Tweet</a> <a href="#">Mail</a></div>
        <div class="tags">Tags: <a href="/t/tram">tram</a> <a href="/t/council">council</a></div></div></div>
        <div class="col-right"><div class="widget"><h3>Newsletter</h3><p>Sign up for our morning briefing and get the news first.</p></div></div></div>{bottom}</body></html>"##,
        story_paragraphs()
    );
    let a = normalize(html(&page)).unwrap();
    assert_story_only(&a);
    let body = text(&a);
    for furniture in ["Tweet", "Tags:", "morning briefing"] {
        assert!(!body.contains(furniture), "kept {furniture:?} in {body:?}");
    }
}

#[test]
fn one_invalid_byte_does_not_change_the_pages_encoding() {
    let page = r#"<html><head><meta charset="utf-8"></head><body><h1>Stadtrat beschließt Straßenbahn</h1><p>Der Stadtrat hat am Dienstag die neue Straßenbahnlinie beschlossen, nach einer Debatte über sechs Stunden. Die Gegner würden nicht klagen, sagten sie.</p><p>Die Bauarbeiten beginnen im Frühjahr; die ersten Züge fahren Ende nächsten Jahres zwischen Bahnhof und Universität.</p></body></html>"#.to_owned();
    let mut bytes = page.into_bytes();
    let at = bytes.len() - "</p></body></html>".len();
    bytes.insert(at, 0xff);
    let a = normalize(raw_bytes(bytes)).unwrap();
    let body = text(&a);
    assert!(body.contains("Straßenbahnlinie beschlossen"), "{body}");
    assert!(body.contains("Universität.\u{fffd}"), "{body}");
}

#[test]
fn an_unclosed_head_or_header_does_not_swallow_the_page() {
    let page = format!(
        r#"<html><head><title>Council approves tram line</title><meta name="x" content="y">
        <body><header class="top"><a href="/">City Gazette</a>
        <main><h1>Council approves tram line</h1>{}</main></body></html>"#,
        story_paragraphs()
    );
    let a = normalize(html(&page)).unwrap();
    for p in STORY {
        assert!(text(&a).contains(p), "missing {p:?}");
    }
}

#[test]
fn the_time_elements_text_is_not_the_lede() {
    let page = format!(
        r#"<html><body><article><h1>Council approves tram line</h1><div class="meta"><time datetime="2023-03-20T14:05:00+03:00">March 20, 2023, 2:05 PM MSK</time></div>{}</article></body></html>"#,
        story_paragraphs()
    );
    let a = normalize(html(&page)).unwrap();
    assert_eq!(a.lede.as_deref(), Some(STORY[0]));
    assert!(!text(&a).contains("2:05 PM"));
}

#[test]
fn a_deployments_own_furniture_selectors_are_cut() {
    let page = format!(
        r#"<html><body><article><h1>Council approves tram line</h1>{}<div class="gazette-trip-box"><p>Our readers' trip to the coast: book your seat on the Gazette coach before the end of the month and save twenty percent.</p></div></article></body></html>"#,
        story_paragraphs()
    );
    let with_default = normalize(html(&page)).unwrap();
    assert!(text(&with_default).contains("Gazette coach"));
    let config = newsflow_core::NormalizeConfig {
        html_boilerplate: vec![".gazette-trip-box".into()],
        ..newsflow_core::NormalizeConfig::default()
    };
    let stage = NormalizeStage::new(config).unwrap();
    let a = stage
        .normalize(html(&page), &StageContext::at(DateTime::UNIX_EPOCH))
        .unwrap();
    assert!(!text(&a).contains("Gazette coach"), "{}", text(&a));
    assert!(text(&a).contains(STORY[2]));
}

#[test]
fn a_page_with_text_is_never_no_body_and_one_without_says_why() {
    // A paywalled page whose only text is its teaser box still has a body.
    let page = r#"<html><body><nav><a href="/">Home</a></nav><div class="teaser-detail"><p>Frankfurt (dpa) - The novel about the old republic won the book prize on Monday; the jury praised its ambition and its humour in a long statement.</p></div><div class="paywall">Subscribe to read on.</div></body></html>"#;
    let a = normalize(html(page)).unwrap();
    assert!(text(&a).contains("won the book prize"), "{}", text(&a));

    let login_wall = r#"<html><body><nav><a href="/login">Log in</a> <a href="/register">Register</a></nav><script>render()</script></body></html>"#;
    let err = normalize(html(login_wall)).unwrap_err();
    assert_eq!(err.kind, ErrorKind::NoBody);
    assert!(err.message.contains("navigation"), "{}", err.message);

    let empty = r#"<html><head><title>App</title><script>boot()</script></head><body><div id="app"></div></body></html>"#;
    let err = normalize(html(empty)).unwrap_err();
    assert_eq!(err.kind, ErrorKind::NoBody);
    assert!(err.message.contains("no text"), "{}", err.message);
}

#[test]
fn a_fragment_of_one_short_paragraph_is_its_own_body() {
    // A JSON line's `content` is often a bare fragment; with nothing around it there is no
    // context that could make it furniture.
    let a = normalize(html("<p>Second</p>")).unwrap();
    assert_eq!(a.body, ["Second"]);
    let a = normalize(html("<h2>Brief</h2><p>Short note.</p>")).unwrap();
    assert_eq!(a.body, ["Brief", "Short note."]);
}
