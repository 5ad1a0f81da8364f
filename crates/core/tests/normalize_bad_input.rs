//! Bad input gets a typed rejection, never a panic: empty or blank pages, pages with no body,
//! pages over the size limit, undecodable bytes and JSON, unknown content types. A property
//! test feeds arbitrary bytes (as text and as base64) and HTML-ish strings and checks that
//! every accepted article keeps the contract's invariants.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

use base64::Engine as _;
use newsflow_core::error::{ErrorKind, StageError};
use newsflow_core::event::{ContentType, Event, NormalizedArticle, RawEvent};
use newsflow_core::stage::{Stage, StageContext};
use newsflow_core::{NormalizeConfig, NormalizeStage};
use proptest::prelude::*;

fn ctx() -> StageContext {
    StageContext::at(chrono::DateTime::UNIX_EPOCH)
}

fn raw(content_type: ContentType, content: Option<&str>, content_base64: Option<&str>) -> RawEvent {
    RawEvent {
        id: "bad-1".into(),
        source: "fuzz".into(),
        url: None,
        fetched_at: None,
        ingested_at: None,
        content_type,
        content: content.map(Into::into),
        content_base64: content_base64.map(Into::into),
        charset: None,
        hints: None,
    }
}

fn rejection(stage: &NormalizeStage, event: RawEvent) -> ErrorKind {
    match stage.normalize(event, &ctx()) {
        Ok(article) => panic!("accepted: {article:?}"),
        Err(rejection) => rejection.kind,
    }
}

#[test]
fn bad_pages_are_rejected_with_their_reason() {
    let stage = NormalizeStage::default();
    let text = |content: &str| raw(ContentType::TextPlain, Some(content), None);
    let html = |content: &str| raw(ContentType::TextHtml, Some(content), None);
    let json = |content: &str| raw(ContentType::ApplicationJson, Some(content), None);

    assert_eq!(rejection(&stage, text("")), ErrorKind::EmptyContent);
    assert_eq!(
        rejection(&stage, text(" \n\t \r\n")),
        ErrorKind::EmptyContent
    );
    assert_eq!(rejection(&stage, text("— … ·")), ErrorKind::NoBody);
    assert_eq!(
        rejection(&stage, text("Newsletter As news happens\n\nVIEW VIDEO\n")),
        ErrorKind::NoBody,
        "a page of nothing but clutter has no body"
    );
    assert_eq!(
        rejection(
            &stage,
            html(
                "<html><head><title>Only a title</title><script>var a = 'words words';</script></head><body><nav>Home News</nav></body></html>"
            )
        ),
        ErrorKind::NoBody
    );
    assert_eq!(
        rejection(
            &stage,
            raw(ContentType::TextPlain, None, Some("not base64!"))
        ),
        ErrorKind::UndecodableContent
    );
    assert_eq!(
        rejection(&stage, raw(ContentType::TextPlain, None, None)),
        ErrorKind::MissingField
    );
    assert_eq!(
        rejection(
            &stage,
            raw(ContentType::Other("image/png".into()), Some("PNG"), None)
        ),
        ErrorKind::UnknownContentType
    );
    assert_eq!(
        rejection(&stage, json("{\"title\": ")),
        ErrorKind::MalformedJson
    );
    assert_eq!(
        rejection(&stage, json("<p>not json</p>")),
        ErrorKind::MalformedJson
    );
    assert_eq!(rejection(&stage, json("[1, 2]")), ErrorKind::InvalidField);
    assert_eq!(
        rejection(&stage, json(r#"{"title": "A title and nothing else"}"#)),
        ErrorKind::NoBody
    );
    let mut no_id = text("A short but real sentence.");
    no_id.id = String::new();
    assert_eq!(rejection(&stage, no_id), ErrorKind::InvalidField);
}

#[test]
fn pages_over_the_size_limit_are_too_large() {
    let config = NormalizeConfig {
        max_content_bytes: 64,
        ..NormalizeConfig::default()
    };
    let stage = NormalizeStage::new(config).expect("valid config");
    let long = "A sentence that goes on. ".repeat(4);
    assert_eq!(
        rejection(&stage, raw(ContentType::TextPlain, Some(&long), None)),
        ErrorKind::TooLarge
    );
    let encoded = base64::engine::general_purpose::STANDARD.encode(long.as_bytes());
    assert_eq!(
        rejection(&stage, raw(ContentType::TextPlain, None, Some(&encoded))),
        ErrorKind::TooLarge
    );
    // At the limit is fine.
    let fits = "Short enough.";
    assert!(
        stage
            .normalize(raw(ContentType::TextPlain, Some(fits), None), &ctx())
            .is_ok()
    );
}

#[test]
fn the_stage_rejects_events_of_another_kind() {
    let mut stage = NormalizeStage::default();
    let article = NormalizeStage::default()
        .normalize(
            raw(ContentType::TextPlain, Some("One line of text."), None),
            &ctx(),
        )
        .expect("normalizes");
    let err = stage
        .process(Event::Normalized(article), &ctx())
        .expect_err("a normalized event is not input");
    assert!(
        matches!(err, StageError::Rejected(ref r) if r.kind == ErrorKind::UnexpectedEventType),
        "{err:?}"
    );
    let err = stage
        .process(
            Event::Raw(raw(ContentType::TextPlain, Some(""), None)),
            &ctx(),
        )
        .expect_err("empty");
    assert!(!err.is_retryable());
}

/// The contract's invariants that every accepted article must keep.
fn check_invariants(article: &NormalizedArticle) {
    assert!(!article.body.is_empty());
    assert!(article.body.iter().all(|p| !p.trim().is_empty()));
    assert!(article.word_count > 0);
    assert_eq!(article.content_hash.len(), 64);
    assert!(
        article
            .content_hash
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    );
    assert_eq!(article.lede.as_ref(), article.body.first());
    for text in article
        .title
        .iter()
        .chain(&article.section)
        .chain(&article.published_at_raw)
        .chain(&article.authors)
    {
        assert!(!text.is_empty());
        assert_eq!(text.trim(), text);
    }
    if let Some(language) = &article.language {
        assert!(language.len() == 2 && language.chars().all(|c| c.is_ascii_lowercase()));
    }
    for item in &article.related {
        assert!(!item.title.is_empty());
    }
}

/// One stage for every case: building it compiles every pattern, which is not what is tested.
fn shared_stage() -> &'static NormalizeStage {
    static STAGE: std::sync::OnceLock<NormalizeStage> = std::sync::OnceLock::new();
    STAGE.get_or_init(NormalizeStage::default)
}

fn check(stage: &NormalizeStage, event: RawEvent) {
    if let Ok(article) = stage.normalize(event, &ctx()) {
        check_invariants(&article);
    }
}

/// Strings that look like HTML: tags, attributes, entities, scripts and text in any order.
fn html_ish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("<p>".to_owned()),
        Just("</p>".to_owned()),
        Just("<div class=\"share\">".to_owned()),
        Just("</div>".to_owned()),
        Just("<script>var x = '</p>';".to_owned()),
        Just("</script>".to_owned()),
        Just("<style>p{}</style>".to_owned()),
        Just("<article>".to_owned()),
        Just("<h1>".to_owned()),
        Just("</h1>".to_owned()),
        Just("<br>".to_owned()),
        Just("<!-- c -->".to_owned()),
        Just("<meta property=\"og:title\" content=\"T &amp; U\">".to_owned()),
        Just("<time datetime=\"2022-02-30T10:00\">".to_owned()),
        Just("<script type=\"application/ld+json\">{\"@type\":\"NewsArticle\",\"author\":[1,{}]}</script>".to_owned()),
        Just("&amp;&#x27;&bogus;&#99999999;".to_owned()),
        Just("<svg/>".to_owned()),
        Just("<".to_owned()),
        "[a-zA-Z ,.]{0,40}",
        any::<String>(),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_as_base64_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let stage = shared_stage();
        let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
        for content_type in [ContentType::TextPlain, ContentType::TextHtml, ContentType::ApplicationJson] {
            check(stage, raw(content_type, None, Some(&encoded)));
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let stage = shared_stage();
        for content_type in [ContentType::TextPlain, ContentType::TextHtml, ContentType::ApplicationJson] {
            check(stage, raw(content_type, Some(&text), None));
        }
    }

    #[test]
    fn line_shaped_text_never_panics(lines in proptest::collection::vec(
        prop_oneof![
            Just(String::new()),
            Just("By Ann Lee".to_owned()),
            Just("June 16, 2022 / 6:44 AM".to_owned()),
            Just("February 30, 2022".to_owned()),
            Just("SEOUL, June 16 (UPI) --".to_owned()),
            Just("Moscow CNN —".to_owned()),
            Just("Latest Headlines".to_owned()),
            Just("World News // 2 hours ago".to_owned()),
            Just("VIEW VIDEO".to_owned()),
            Just("File Photo by A B/UPI | License Photo".to_owned()),
            "[A-Za-z ,.'“”–—-]{0,80}",
        ],
        0..30,
    )) {
        let stage = shared_stage();
        check(stage, raw(ContentType::TextPlain, Some(&lines.join("\n")), None));
    }

    #[test]
    fn html_ish_strings_never_panic(html in html_ish()) {
        let stage = shared_stage();
        check(stage, raw(ContentType::TextHtml, Some(&html), None));
        let item = serde_json::json!({"title": "T", "content_html": html}).to_string();
        check(stage, raw(ContentType::ApplicationJson, Some(&item), None));
    }
}
