//! What a page says about itself: `<title>`, `<meta>` vocabularies, JSON-LD, the canonical
//! link, `<time datetime>`, `<html lang>` and byline elements, read from the parsed tree.

use scraper::{ElementRef, Html, Node};
use serde_json::Value;

use super::super::clean::tidy;

/// What the page says about itself.
#[derive(Debug, Default)]
pub(crate) struct Meta {
    pub(crate) title: Option<String>,
    pub(crate) published: Option<String>,
    pub(crate) section: Option<String>,
    pub(crate) authors: Vec<String>,
    pub(crate) url: Option<String>,
    pub(crate) title_tag: Option<String>,
    pub(crate) canonical: Option<String>,
    pub(crate) time: Option<String>,
    pub(crate) lang: Option<String>,
    pub(crate) ld: Option<LdArticle>,
    /// Texts of byline elements (`[rel=author]`, `[itemprop=author]`, `.byline`), outermost.
    pub(crate) author_texts: Vec<String>,
}

fn attr(el: &scraper::node::Element, name: &str) -> Option<String> {
    el.attr(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Whether a space-separated attribute value holds `word` (ASCII case-insensitive).
fn has_word(value: Option<&str>, word: &str) -> bool {
    value.is_some_and(|v| v.split_whitespace().any(|w| w.eq_ignore_ascii_case(word)))
}

fn is_author_element(el: &scraper::node::Element) -> bool {
    el.attr("rel") == Some("author")
        || el
            .attr("itemprop")
            .is_some_and(|p| p.split_whitespace().any(|p| p == "author"))
        || el
            .attr("class")
            .is_some_and(|c| c.contains("byline") || c.contains("author-name"))
}

/// Reads the page's metadata in one walk over the tree.
pub(crate) fn read(html: &Html) -> Meta {
    let mut meta = Meta::default();
    let mut ld_texts: Vec<String> = Vec::new();
    let mut descendants = html.tree.root().descendants();
    while let Some(node) = descendants.next() {
        let Node::Element(el) = node.value() else {
            continue;
        };
        match el.name() {
            "html" if meta.lang.is_none() => meta.lang = attr(el, "lang"),
            "title" if meta.title_tag.is_none() => {
                meta.title_tag = ElementRef::wrap(node).map(|r| r.text().collect());
            }
            "meta" => {
                let key = el
                    .attr("property")
                    .or_else(|| el.attr("name"))
                    .or_else(|| el.attr("itemprop"));
                if let (Some(key), Some(content)) = (key, attr(el, "content")) {
                    meta.take(&key.to_ascii_lowercase(), content);
                }
            }
            "link" if meta.canonical.is_none() && has_word(el.attr("rel"), "canonical") => {
                meta.canonical = attr(el, "href");
            }
            "time" if meta.time.is_none() => meta.time = attr(el, "datetime"),
            "script" if has_word(el.attr("type"), "application/ld+json") => {
                if let Some(r) = ElementRef::wrap(node) {
                    ld_texts.push(r.text().collect());
                }
            }
            _ => {}
        }
        if is_author_element(el) {
            if let Some(r) = ElementRef::wrap(node) {
                meta.author_texts.push(r.text().collect());
            }
            // The outermost byline element only: skip what it holds.
            let mut last = node;
            while let Some(child) = last.last_child() {
                last = child;
            }
            if last.id() != node.id() {
                for skipped in descendants.by_ref() {
                    if skipped.id() == last.id() {
                        break;
                    }
                }
            }
        }
    }
    meta.ld = ld_texts
        .iter()
        .filter_map(|text| serde_json::from_str::<Value>(text.trim()).ok())
        .find_map(|value| ld_article(&value));
    meta
}

impl Meta {
    pub(crate) fn take(&mut self, key: &str, content: String) {
        let slot = match key {
            "og:title" | "twitter:title" | "headline" | "dc.title" => &mut self.title,
            "article:published_time"
            | "og:article:published_time"
            | "datepublished"
            | "pubdate"
            | "publishdate"
            | "publish-date"
            | "date"
            | "dc.date"
            | "dc.date.issued"
            | "parsely-pub-date"
            | "sailthru.date" => &mut self.published,
            "article:section" | "section" | "parsely-section" => &mut self.section,
            "og:url" => &mut self.url,
            "author" | "article:author" | "dc.creator" | "parsely-author" | "sailthru.author" => {
                // `article:author` is often a profile URL, not a name.
                if !content.starts_with("http") && !self.authors.contains(&content) {
                    self.authors.push(content);
                }
                return;
            }
            _ => return,
        };
        if slot.is_none() {
            *slot = Some(content);
        }
    }
}

fn decoded(raw: &str) -> String {
    let text = html_escape::decode_html_entities(raw);
    tidy(&text).into_owned()
}

/// The fields of a JSON-LD `NewsArticle` (or `Article`, `BlogPosting`, …).
#[derive(Debug, Default)]
pub(crate) struct LdArticle {
    pub(crate) headline: Option<String>,
    pub(crate) published: Option<String>,
    pub(crate) authors: Vec<String>,
    pub(crate) section: Option<String>,
    pub(crate) language: Option<String>,
}

const ARTICLE_TYPES: &[&str] = &[
    "NewsArticle",
    "Article",
    "ReportageNewsArticle",
    "AnalysisNewsArticle",
    "OpinionNewsArticle",
    "BackgroundNewsArticle",
    "ReviewNewsArticle",
    "BlogPosting",
    "LiveBlogPosting",
    "Report",
];

fn ld_article(value: &Value) -> Option<LdArticle> {
    match value {
        Value::Array(items) => items.iter().find_map(ld_article),
        Value::Object(map) => {
            let is_article = match map.get("@type") {
                Some(Value::String(t)) => ARTICLE_TYPES.contains(&t.as_str()),
                Some(Value::Array(ts)) => ts
                    .iter()
                    .any(|t| t.as_str().is_some_and(|t| ARTICLE_TYPES.contains(&t))),
                _ => false,
            };
            if !is_article {
                return map.get("@graph").and_then(ld_article);
            }
            let text = |key: &str| {
                map.get(key)
                    .and_then(first_text)
                    .map(|t| decoded(&t))
                    .filter(|t| !t.is_empty())
            };
            Some(LdArticle {
                headline: text("headline").or_else(|| text("name")),
                published: text("datePublished").or_else(|| text("dateCreated")),
                authors: map.get("author").map(names).unwrap_or_default(),
                section: text("articleSection"),
                language: text("inLanguage"),
            })
        }
        _ => None,
    }
}

fn first_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => items.iter().find_map(first_text),
        _ => None,
    }
}

/// `"author": "A"`, `{"name": "A"}` or a list of either.
fn names(value: &Value) -> Vec<String> {
    match value {
        Value::String(name) => vec![decoded(name)],
        Value::Object(map) => map
            .get("name")
            .and_then(Value::as_str)
            .map(|n| vec![decoded(n)])
            .unwrap_or_default(),
        Value::Array(items) => items.iter().flat_map(names).collect(),
        _ => Vec::new(),
    }
    .into_iter()
    .filter(|n| !n.is_empty())
    .collect()
}
