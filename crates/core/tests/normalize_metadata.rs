//! Dates, authors, titles and datelines from HTML pages as real sites write them (issue 19):
//! small pages written for each kind, checked through the whole normalize stage.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

use chrono::{DateTime, Utc};
use newsflow_core::NormalizeStage;
use newsflow_core::event::{ContentType, Dateline, NormalizedArticle, RawEvent};
use newsflow_core::stage::StageContext;

fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("a valid RFC 3339 time")
        .with_timezone(&Utc)
}

fn page(html: &str, url: Option<&str>, fetched_at: Option<&str>) -> NormalizedArticle {
    let event = RawEvent {
        id: "article-1".into(),
        source: "site".into(),
        url: url.map(Into::into),
        fetched_at: fetched_at.map(time),
        ingested_at: None,
        content_type: ContentType::TextHtml,
        content: Some(html.into()),
        content_base64: None,
        charset: None,
        hints: None,
    };
    NormalizeStage::default()
        .normalize(event, &StageContext::at(time("2026-05-01T12:00:00Z")))
        .expect("the page normalizes")
}

const BODY: &str = "<p>The council approved six kilometres of new cycle lanes on Tuesday after a long debate.</p>\
    <p>Work will start in the spring and should end before the summer holidays, officials said.</p>";

fn day(a: &NormalizedArticle) -> Option<String> {
    a.published_at.map(|t| t.date_naive().to_string())
}

#[test]
fn a_visible_german_date_under_the_headline() {
    let html = format!(
        "<html><body><article><h1>Stadtrat beschließt neue Radwege</h1>\
         <div class=\"meta\">Veröffentlicht am 11.11.2021, aktualisiert am 12.11.2021</div>{BODY}</article></body></html>"
    );
    let a = page(&html, None, None);
    assert_eq!(day(&a).as_deref(), Some("2021-11-11"));
    assert_eq!(a.published_at_raw.as_deref(), Some("11.11.2021"));
}

#[test]
fn month_names_in_other_languages() {
    for (line, want) in [
        ("Publié le 3 juin 2021", "2021-06-03"),
        ("Publicado el 4 de mayo de 2022", "2022-05-04"),
        ("Opublikowano 12 września 2020", "2020-09-12"),
        ("Pubblicato il 12 maggio 2019", "2019-05-12"),
        ("Gepubliceerd op 3 mei 2018", "2018-05-03"),
    ] {
        let html = format!(
            "<html><body><h1>Council approves new cycle lanes</h1><p class=\"date\">{line}</p>{BODY}</body></html>"
        );
        assert_eq!(
            day(&page(&html, None, None)).as_deref(),
            Some(want),
            "{line}"
        );
    }
}

#[test]
fn a_date_that_opens_the_text_or_stands_in_rdfa() {
    let html = format!(
        "<html><body><h1>Arbeitsmarkt auf Erholungskurs</h1>\
         <p><strong>01.02.2022</strong> Der Arbeitsmarkt ist gut in das Jahr gestartet, sagte die Behörde am Dienstag in Nürnberg. \
         Die Zahl der Arbeitslosen sank im Januar stärker als in den Wintermonaten üblich, und die Nachfrage nach neuen Beschäftigten blieb hoch.</p>{BODY}</body></html>"
    );
    assert_eq!(day(&page(&html, None, None)).as_deref(), Some("2022-02-01"));
    let html = format!(
        "<html><body><article><h1>Council approves new cycle lanes</h1>\
         <span property=\"schema:dateCreated\" content=\"2022-01-28T12:45:46+00:00\"></span>{BODY}</article></body></html>"
    );
    assert_eq!(day(&page(&html, None, None)).as_deref(), Some("2022-01-28"));
}

#[test]
fn publication_wins_over_modification_and_comments() {
    let html = format!(
        "<html><head><meta property=\"og:updated_time\" content=\"2022-03-01T10:00:00+01:00\">\
         <meta name=\"dcterms.created\" content=\"2022-02-14\"></head><body><h1>Council approves new cycle lanes</h1>{BODY}\
         <div class=\"comments\"><time datetime=\"2022-02-10\">10.02.2022</time></div></body></html>"
    );
    let a = page(&html, None, None);
    assert_eq!(day(&a).as_deref(), Some("2022-02-14"));
    assert_eq!(a.published_at, Some(time("2022-02-14T00:00:00Z")));
}

#[test]
fn the_url_dates_a_page_without_metadata() {
    let html = format!("<html><body><h1>Council approves new cycle lanes</h1>{BODY}</body></html>");
    let a = page(
        &html,
        Some("https://news.example/2023/11/08/cycle-lanes/"),
        None,
    );
    assert_eq!(day(&a).as_deref(), Some("2023-11-08"));
    let canonical = format!(
        "<html><head><link rel=\"canonical\" href=\"https://news.example/2023/11/08/cycle-lanes/\"></head>\
         <body><h1>Council approves new cycle lanes</h1>{BODY}</body></html>"
    );
    assert_eq!(
        day(&page(&canonical, None, None)).as_deref(),
        Some("2023-11-08")
    );
}

#[test]
fn the_page_offset_is_kept_in_the_raw_text() {
    let html = format!(
        "<html><head><meta property=\"article:published_time\" content=\"2023-03-20T01:00:00+03:00\"></head>\
         <body><h1>Council approves new cycle lanes</h1>{BODY}</body></html>"
    );
    let a = page(&html, None, None);
    assert_eq!(a.published_at, Some(time("2023-03-19T22:00:00Z")));
    assert_eq!(
        a.published_at_raw.as_deref(),
        Some("2023-03-20T01:00:00+03:00")
    );
}

#[test]
fn no_date_after_the_fetch_or_before_1990() {
    let html = format!(
        "<html><head><meta property=\"article:published_time\" content=\"2030-01-01T00:00:00Z\"></head>\
         <body><h1>Council approves new cycle lanes</h1><p class=\"date\">1. Januar 1985</p>{BODY}</body></html>"
    );
    let a = page(&html, None, Some("2024-05-01T08:00:00Z"));
    assert_eq!(a.published_at, None);
    let html = format!(
        "<html><head><meta property=\"article:published_time\" content=\"2024-05-02T00:00:00Z\"></head>\
         <body><h1>Council approves new cycle lanes</h1><p class=\"date\">30.04.2024</p>{BODY}</body></html>"
    );
    let a = page(&html, None, Some("2024-05-01T08:00:00Z"));
    assert_eq!(day(&a).as_deref(), Some("2024-04-30"));
}

#[test]
fn authors_without_prefixes_site_names_or_accounts() {
    let html = format!(
        "<html><head><meta property=\"og:site_name\" content=\"finanztreff.de\">\
         <meta name=\"author\" content=\"finanztreff.de\"></head><body><h1>Council approves new cycle lanes</h1>\
         <span class=\"author-name\">von Heiko Adams und Lea Moreau</span>{BODY}</body></html>"
    );
    assert_eq!(
        page(&html, None, None).authors,
        ["Heiko Adams", "Lea Moreau"]
    );
    let html = format!(
        "<html><head><script type=\"application/ld+json\">{{\"@type\": \"NewsArticle\", \"headline\": \"Council approves new cycle lanes\",\
         \"author\": {{\"@type\": \"Organization\", \"name\": \"The Courier\"}}}}</script></head><body>\
         <h1>Council approves new cycle lanes</h1><p>Par Barbara Stiegler</p>{BODY}</body></html>"
    );
    assert_eq!(page(&html, None, None).authors, ["Barbara Stiegler"]);
    let html = format!(
        "<html><head><meta name=\"author\" content=\"wordpressadmin\"></head><body>\
         <h1>Council approves new cycle lanes</h1>{BODY}</body></html>"
    );
    assert!(page(&html, None, None).authors.is_empty());
}

#[test]
fn the_name_inside_an_author_box_that_is_mostly_a_biography() {
    let html = format!(
        "<html><body><article><h1>Council approves new cycle lanes</h1>{BODY}\
         <div class=\"author-info\">Published by <span class=\"author vcard\"><a class=\"url fn n\">Dana Whitfield</a></span> \
         A transport reporter who has covered the city for twenty years and rides to work every day. View all posts by Dana Whitfield</div>\
         </article></body></html>"
    );
    assert_eq!(page(&html, None, None).authors, ["Dana Whitfield"]);
}

#[test]
fn a_byline_in_a_box_flagged_with_sidebar_words_but_not_in_comments() {
    // `sticky-sidebar-parent` and `has-sidebar` flag a layout; the article's byline is inside.
    let html = format!(
        "<html><body><div class=\"layout has-sidebar\"><article class=\"article sticky-sidebar-parent\">\
         <h1>Council approves new cycle lanes</h1><span class=\"byline\">By <a>Emily Burke</a></span>{BODY}</article>\
         <div class=\"sidebar-content\"><div class=\"byline\">By Someone Else</div></div></div></body></html>"
    );
    assert_eq!(page(&html, None, None).authors, ["Emily Burke"]);
    let html = format!(
        "<html><body><article><h1>Council approves new cycle lanes</h1>{BODY}</article>\
         <ol class=\"comment-list\"><li><span class=\"comment-author\">Posted by Reader Name</span> Great!</li></ol></body></html>"
    );
    assert!(page(&html, None, None).authors.is_empty());
}

#[test]
fn bylines_as_people_write_them() {
    for (line, want) in [
        ("von Daniela Obers", vec!["Daniela Obers"]),
        ("Von: Götz Warnke", vec!["Götz Warnke"]),
        ("Written by: Julie Mollins", vec!["Julie Mollins"]),
        ("Von R. R. am 07.08.2013 um 09:07 Uhr", vec!["R. R."]),
        ("Posted by Konstantin 21.10.2019", vec!["Konstantin"]),
        ("Par Loïc Le Clerc le 07 mai 2020", vec!["Loïc Le Clerc"]),
        ("Heiko Sauer Do 9 Apr 2020", vec!["Heiko Sauer"]),
        ("By Mei Sun", vec!["Mei Sun"]),
        ("Von Anna Roth am 3. Mai 2021", vec!["Anna Roth"]),
    ] {
        let html = format!(
            "<html><body><article><h1>Council approves new cycle lanes</h1>\
             <div class=\"byline\">{line}</div>{BODY}</article></body></html>"
        );
        assert_eq!(page(&html, None, None).authors, want, "{line}");
    }
    // An account keeps its digits; a label alone names nobody.
    let html = format!(
        "<html><body><article><h1>Council approves new cycle lanes</h1>\
         <span class=\"author\">freeman1984</span>{BODY}</article></body></html>"
    );
    assert_eq!(page(&html, None, None).authors, ["freeman1984"]);
    let html = format!(
        "<html><body><article><h1>Council approves new cycle lanes</h1>\
         <span class=\"author\">Autor:</span>{BODY}</article></body></html>"
    );
    assert!(page(&html, None, None).authors.is_empty());
}

#[test]
fn titles_without_the_site_name() {
    let html = format!(
        "<html><head><title>Alles Neue macht der Mai | Bibliothek 2.0 und mehr</title>\
         <meta property=\"og:site_name\" content=\"Bibliothek 2.0 und mehr\"></head><body>{BODY}</body></html>"
    );
    assert_eq!(
        page(&html, None, None).title.as_deref(),
        Some("Alles Neue macht der Mai")
    );
    let html = format!(
        "<html><head><title>Council approves new cycle lanes - The Courier</title>\
         <meta property=\"og:title\" content=\"Council approves new cycle lanes\"></head><body>\
         <div class=\"logo\"><h1><a href=\"/\">The Courier</a></h1></div>{BODY}</body></html>"
    );
    assert_eq!(
        page(&html, None, None).title.as_deref(),
        Some("Council approves new cycle lanes")
    );
}

#[test]
fn a_dateline_of_any_outlet_in_html() {
    let html = "<html><body><h1>Talks begin in the capital</h1>\
        <p>MOSCOW, March 20 (Courier) — The talks began on Monday after weeks of preparation by both sides.</p>\
        <p>Officials said the first round would last three days and end with a joint statement.</p></body></html>";
    let a = page(html, None, None);
    assert_eq!(
        a.dateline,
        Some(Dateline {
            place: Some("MOSCOW".into()),
            date_text: Some("March 20".into()),
            agency: Some("Courier".into()),
        })
    );
    assert!(a.body[0].starts_with("The talks began"));
}

#[test]
fn the_printed_day_wins_when_another_stated_time_names_it() {
    // JSON-LD says the 4th, the page's `<meta>` and the line under the headline the 6th.
    let html = format!(
        "<html><head><meta property=\"article:published_time\" content=\"2022-01-06T08:29:34+01:00\">\
         <script type=\"application/ld+json\">{{\"@type\":\"NewsArticle\",\"headline\":\"Council approves new cycle lanes\",\
         \"datePublished\":\"2022-01-04T07:29:00.000Z\"}}</script></head>\
         <body><article><h1>Council approves new cycle lanes</h1><div class=\"info\">06.01.2022</div>{BODY}</article></body></html>"
    );
    let a = page(&html, None, None);
    assert_eq!(
        a.published_at_raw.as_deref(),
        Some("2022-01-06T08:29:34+01:00")
    );
    // Only the modification time names the printed day: the page shows its last version's.
    let html = format!(
        "<html><head><meta property=\"article:published_time\" content=\"2021-11-29T14:13:37+00:00\">\
         <meta property=\"article:modified_time\" content=\"2022-01-12T14:27:30+00:00\"></head>\
         <body><article><h1>Council approves new cycle lanes</h1><div class=\"info\">12.01.2022</div>{BODY}</article></body></html>"
    );
    let a = page(&html, None, None);
    assert_eq!(
        a.published_at_raw.as_deref(),
        Some("2022-01-12T14:27:30+00:00")
    );
}

#[test]
fn a_printed_day_no_stated_time_names_or_the_date_line_contradicts_is_not_taken() {
    // A day printed near the headline that nothing else states (an event's, a teaser's).
    let html = format!(
        "<html><head><meta property=\"article:published_time\" content=\"2022-01-21T09:43:00+01:00\"></head>\
         <body><article><h1>Council approves new cycle lanes</h1><div class=\"info\">Sitzung vom 25.01.2022</div>{BODY}</article></body></html>"
    );
    assert_eq!(day(&page(&html, None, None)).as_deref(), Some("2022-01-21"));
    // Today's date in the page head, the modification day; the byline agrees with the metadata.
    let html = format!(
        "<html><head><meta property=\"article:published_time\" content=\"2019-10-18T14:31:33+02:00\">\
         <meta property=\"article:modified_time\" content=\"2019-10-19T05:32:24+02:00\"></head>\
         <body><div class=\"today\">Sa, 19. Okt 2019</div><article><h1>Council approves new cycle lanes</h1>\
         <p class=\"byline\">Von Tomas Spahn Fr, 18. Oktober 2019</p>{BODY}</article></body></html>"
    );
    assert_eq!(
        page(&html, None, None).published_at_raw.as_deref(),
        Some("2019-10-18T14:31:33+02:00")
    );
}

#[test]
fn an_ambiguous_numeric_date_is_read_the_way_the_page_prints_it() {
    let page_with = |line: &str| {
        format!(
            "<html lang=\"de\"><head><meta name=\"date\" content=\"11/01/2023 12:43:42\"></head>\
             <body><article><h1>Council approves new cycle lanes</h1>{line}{BODY}</article></body></html>"
        )
    };
    // Day first, as a German page writes it, when nothing says otherwise.
    assert_eq!(
        day(&page(&page_with(""), None, None)).as_deref(),
        Some("2023-01-11")
    );
    // The page prints the 1st of November: the meta value was month first.
    let a = page(&page_with("<p>Erstellt am: 01.11.2023</p>"), None, None);
    assert_eq!(day(&a).as_deref(), Some("2023-11-01"));
    assert_eq!(a.published_at_raw.as_deref(), Some("11/01/2023 12:43:42"));
}
