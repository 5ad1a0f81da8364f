//! What a page says about itself: `<title>`, `<meta>` vocabularies, JSON-LD, the canonical
//! link, `<time datetime>`, `<html lang>` and byline elements, read from the parsed tree.

use scraper::{ElementRef, Html, Node};
use serde_json::Value;

use super::super::clean::tidy;

/// What the page says about itself.
#[derive(Debug, Default)]
pub(crate) struct Meta {
    pub(crate) title: Option<String>,
    /// Publication times from `<meta>` vocabularies, in page order.
    pub(crate) published: Vec<String>,
    /// Modification times from `<meta>` and JSON-LD: a last resort.
    pub(crate) modified: Vec<String>,
    /// `itemprop="datePublished"` (or `dateCreated`) on elements other than `<meta>`.
    pub(crate) item_dates: Vec<String>,
    /// `<time>` elements marked as the publication (`pubdate`, `entry-date`, `published`).
    pub(crate) times_marked: Vec<String>,
    /// Texts of elements whose class or id speaks of a date (`date`, `byline`, `post-meta`),
    /// outside comments, footers and sidebars, in page order; `updated` ones after.
    pub(crate) date_texts: Vec<String>,
    /// The first JSON-LD `author` of any type (a Yoast `WebPage`, a `Recipe`, a forum post),
    /// for pages whose article object names none.
    pub(crate) ld_authors_any: Vec<String>,
    /// Every JSON-LD `datePublished`, wherever it stands.
    pub(crate) ld_published: Vec<String>,
    pub(crate) section: Option<String>,
    pub(crate) authors: Vec<String>,
    /// `og:site_name` (or `application-name`, `twitter:site`): never an author, never part of
    /// the title.
    pub(crate) site_names: Vec<String>,
    pub(crate) url: Option<String>,
    pub(crate) title_tag: Option<String>,
    pub(crate) canonical: Option<String>,
    /// The other `<time>` elements outside furniture: `datetime`, else their text.
    pub(crate) times: Vec<String>,
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

/// Class fragments of byline elements (trafilatura's author expressions).
const AUTHOR_CLASSES: &[&str] = &[
    "byline",
    "author",
    "autor",
    "auteur",
    "writer",
    "verfasser",
    "firma",
];

fn is_author_element(el: &scraper::node::Element) -> bool {
    if matches!(
        el.name(),
        "meta" | "link" | "script" | "style" | "img" | "body" | "html"
    ) {
        return false;
    }
    el.attr("rel") == Some("author")
        || el
            .attr("itemprop")
            .is_some_and(|p| p.split_whitespace().any(|p| p == "author"))
        || el
            .attr("class")
            .into_iter()
            .chain(el.attr("id"))
            .chain(el.attr("data-testid"))
            .any(|c| {
                let c = c.to_ascii_lowercase();
                AUTHOR_CLASSES.iter().any(|a| c.contains(a))
                    && !c.contains("comment")
                    && !c.contains("avatar")
                    && !c.contains("authorize")
            })
}

/// Reads the page's metadata in one walk over the tree.
pub(crate) fn read(html: &Html) -> Meta {
    let mut meta = Meta::default();
    let mut ld_texts: Vec<String> = Vec::new();
    let mut updated_texts: Vec<String> = Vec::new();
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
            "time" => {
                let value = attr(el, "datetime")
                    .or_else(|| ElementRef::wrap(node).map(|r| collapse(r.text(), MAX_DATE_TEXT)));
                if let Some(value) = value.filter(|v| v.len() > 6) {
                    if has_word(el.attr("itemprop"), "datePublished") {
                        meta.times_marked.push(value);
                    } else if in_furniture(node) {
                        // Comments, footers and sidebars date other things.
                    } else if el.attr("pubdate").is_some()
                        || has_word(el.attr("itemprop"), "datePublished")
                        || el.attr("class").is_some_and(|c| {
                            let c = c.to_ascii_lowercase();
                            c.starts_with("entry-date")
                                || c.contains("publish")
                                || c.contains("posted")
                        })
                    {
                        meta.times_marked.push(value);
                    } else {
                        meta.times.push(value);
                    }
                }
            }
            "script" if has_word(el.attr("type"), "application/ld+json") => {
                if let Some(r) = ElementRef::wrap(node) {
                    ld_texts.push(r.text().collect());
                }
            }
            _ => {}
        }
        if el.name() != "meta" && el.name() != "time" {
            // Microdata's `itemprop`, or RDFa's `property` (`schema:dateCreated`).
            let prop = el.attr("itemprop").or_else(|| el.attr("property"));
            if let Some(prop) = prop {
                let prop = prop.rsplit(':').next().unwrap_or(prop);
                if ["datePublished", "dateCreated"]
                    .iter()
                    .any(|p| has_word(Some(prop), p))
                {
                    let value = attr(el, "content")
                        .or_else(|| attr(el, "datetime"))
                        .or_else(|| {
                            ElementRef::wrap(node).map(|r| collapse(r.text(), MAX_DATE_TEXT))
                        });
                    if let Some(value) = value {
                        meta.item_dates.push(value);
                    }
                }
            }
            if meta.date_texts.len() < MAX_DATE_TEXTS {
                if let Some(updated) = date_element(el) {
                    if !in_furniture(node) {
                        if let Some(r) = ElementRef::wrap(node) {
                            let text = collapse(r.text(), MAX_DATE_TEXT);
                            if text.len() > 6 && text.bytes().any(|b| b.is_ascii_digit()) {
                                if updated {
                                    updated_texts.push(text);
                                } else {
                                    meta.date_texts.push(text);
                                }
                            }
                        }
                    }
                }
            }
        }
        if is_author_element(el) {
            if let Some(r) = ElementRef::wrap(node) {
                if meta.author_texts.len() < MAX_AUTHOR_TEXTS && !in_furniture(node) {
                    meta.author_texts.push(collapse(r.text(), MAX_AUTHOR_TEXT));
                    // Then the byline elements it holds: an author box whose whole text is a
                    // biography often marks the name alone (`.author.vcard`, `[rel=author]`).
                    let inner = r
                        .descendants()
                        .skip(1)
                        .filter_map(ElementRef::wrap)
                        .filter(|e| is_author_element(e.value()))
                        .map(|e| collapse(e.text(), MAX_AUTHOR_TEXT));
                    for text in inner {
                        if meta.author_texts.len() >= MAX_AUTHOR_TEXTS {
                            break;
                        }
                        if !meta.author_texts.contains(&text) {
                            meta.author_texts.push(text);
                        }
                    }
                }
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
    meta.date_texts.extend(updated_texts);
    let lds: Vec<Value> = ld_texts
        .iter()
        .filter_map(|text| serde_json::from_str::<Value>(text.trim()).ok())
        .collect();
    let mut people = std::collections::HashMap::new();
    for value in &lds {
        index_people(value, &mut people, 0);
    }
    meta.ld = lds.iter().find_map(|v| ld_article(v, &people));
    meta.ld_authors_any = lds
        .iter()
        .find_map(|v| ld_any_authors(v, &people, 0))
        .unwrap_or_default();
    for value in &lds {
        ld_dates(value, &mut meta.ld_published, &mut meta.modified, 0);
    }
    meta
}

/// The longest text of a byline element that is read, and how many such elements.
const MAX_AUTHOR_TEXT: usize = 240;
const MAX_AUTHOR_TEXTS: usize = 40;

/// The longest text of a date element that is read, and how many such elements.
const MAX_DATE_TEXT: usize = 160;
const MAX_DATE_TEXTS: usize = 60;

/// Whitespace-collapsed text, cut to about `max` bytes.
fn collapse<'a>(parts: impl Iterator<Item = &'a str>, max: usize) -> String {
    let mut out = String::new();
    for part in parts {
        for word in part.split_whitespace() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(word);
            if out.len() >= max {
                return out;
            }
        }
    }
    out
}

/// Class and id fragments of the elements that hold a page's date line (htmldate's list).
const DATE_CLASSES: &[&str] = &[
    "date",
    "datum",
    "time",
    "publish",
    "posted",
    "submitted",
    "byline",
    "meta",
    "subline",
    "fecha",
    "parution",
    "dateline",
    "article-info",
    "post-info",
    "entry-info",
];

/// Whether an element's class or id names a date line: `Some(true)` when it is an update's.
fn date_element(el: &scraper::node::Element) -> Option<bool> {
    let mut hit = None;
    for name in el.attr("class").into_iter().chain(el.attr("id")) {
        if name.len() > 200 {
            continue;
        }
        let name = name.to_ascii_lowercase();
        if DATE_CLASSES.iter().any(|c| name.contains(c)) {
            let updated = name.contains("update") || name.contains("modif");
            hit = Some(hit.unwrap_or(true) && updated);
        }
    }
    hit
}

/// Class and id words of the boxes whose dates and bylines are not the article's: readers'
/// comments, whatever box holds the words.
const COMMENT_WORDS: &[&str] = &[
    "comment",
    "comments",
    "commentlist",
    "kommentar",
    "kommentare",
    "reply",
    "replies",
    "respond",
    "disqus",
    "footer",
];

/// Words of the page's other boxes (sidebars, related stories, teasers), unless the same
/// names also call the box the article's (`article sticky-sidebar-parent`, `site-content`
/// with the id `sidebar`) or only flag a layout (`has-sidebar`, `no-sidebar`).
const LAYOUT_WORDS: &[&str] = &[
    "sidebar",
    "related",
    "recommended",
    "teaser",
    "teasers",
    "popular",
    "trending",
    "widget",
    "aside",
];

/// Words that name the article's own box (`article`, `site-content`, `entry`).
const ARTICLE_WORDS: &[&str] = &[
    "article",
    "articlebody",
    "content",
    "entry",
    "entrycontent",
    "hentry",
    "story",
    "storybody",
    "postbody",
    "postcontent",
];

/// Words that flag a layout rather than name a box (`has-sidebar`, `with-sidebar`).
const FLAG_WORDS: &[&str] = &["has", "no", "with", "without", "sticky"];

/// Whether a node stands in a comment, footer, sidebar or related-stories box.
fn in_furniture(node: ego_tree::NodeRef<'_, Node>) -> bool {
    node.ancestors().any(|a| {
        let Node::Element(el) = a.value() else {
            return false;
        };
        match el.name() {
            "footer" | "aside" | "nav" => return true,
            // Their classes are template flags (`has-sidebar`, `comments-open`).
            "html" | "body" => return false,
            _ => {}
        }
        // A content word counts in a name of its own: `sidebar-content` is the sidebar's.
        let (mut comment, mut layout, mut content) = (false, false, false);
        let names = el.attr("class").into_iter().flat_map(str::split_whitespace);
        for name in names.chain(el.attr("id")) {
            let (mut name_layout, mut name_content) = (false, false);
            let mut previous = "";
            // Whole words between punctuation (`footerRow` is no footer).
            for word in name.split(|c: char| !c.is_ascii_alphanumeric()) {
                let is = |words: &[&str]| words.iter().any(|w| word.eq_ignore_ascii_case(w));
                if is(COMMENT_WORDS) {
                    comment = true;
                } else if is(LAYOUT_WORDS) {
                    name_layout |= !FLAG_WORDS.iter().any(|f| previous.eq_ignore_ascii_case(f));
                } else if is(ARTICLE_WORDS) {
                    name_content = true;
                }
                previous = word;
            }
            layout |= name_layout;
            content |= name_content && !name_layout;
        }
        comment || (layout && !content)
    })
}

/// Every `datePublished` (and `dateModified`) in a JSON-LD value.
fn ld_dates(value: &Value, published: &mut Vec<String>, modified: &mut Vec<String>, depth: usize) {
    if depth > 8 {
        return;
    }
    match value {
        Value::Array(items) => {
            for item in items {
                ld_dates(item, published, modified, depth + 1);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                match (key.as_str(), item) {
                    ("datePublished" | "dateCreated", Value::String(s)) => {
                        published.push(s.trim().to_owned());
                    }
                    ("dateModified", Value::String(s)) => modified.push(s.trim().to_owned()),
                    // Comments and reviews date themselves, not the article.
                    ("comment" | "review" | "reviews", _) => {}
                    _ => ld_dates(item, published, modified, depth + 1),
                }
            }
        }
        _ => {}
    }
}

impl Meta {
    pub(crate) fn take(&mut self, key: &str, content: String) {
        if PUBLISHED_KEYS.contains(&key) {
            self.published.push(content);
            return;
        }
        if MODIFIED_KEYS.contains(&key) {
            self.modified.push(content);
            return;
        }
        let slot = match key {
            "og:title" | "twitter:title" | "headline" | "dc.title" => &mut self.title,
            "article:section" | "section" | "parsely-section" => &mut self.section,
            "og:url" => &mut self.url,
            "og:site_name" | "application-name" | "twitter:site" | "publisher" => {
                self.site_names.push(content);
                return;
            }
            "author" | "article:author" | "dc.creator" | "parsely-author" | "sailthru.author"
            | "byl" | "citation_author" | "dcterms.creator" | "dc:creator" => {
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

/// `<meta>` keys (property, name or itemprop, lower case) that give the publication time: the
/// vocabularies htmldate reads (OpenGraph, Dublin Core, Parse.ly, Sailthru, schema.org, …).
const PUBLISHED_KEYS: &[&str] = &[
    "article:published_time",
    "og:article:published_time",
    "og:published_time",
    "article:publicationdate",
    "article.published",
    "article.created",
    "article_date_original",
    "bt:pubdate",
    "citation_date",
    "citation_publication_date",
    "cxenseparse:recs:publishtime",
    "date",
    "date_published",
    "datecreated",
    "dateposted",
    "datepublished",
    "dc.date",
    "dc.created",
    "dc.date.created",
    "dc.date.issued",
    "dc.date.publication",
    "dcterms.created",
    "dcterms.date",
    "dcterms.issued",
    "dc:created",
    "dc:date",
    "originalpublicationdate",
    "parsely-pub-date",
    "pubdate",
    "publishdate",
    "publish-date",
    "publish_date",
    "published-date",
    "publication_date",
    "rnews:datepublished",
    "sailthru.date",
    "shareaholic:article_published_time",
    "article:published",
    "published_time",
];

/// `<meta>` keys that give the last modification: used only when nothing else dates the page.
const MODIFIED_KEYS: &[&str] = &[
    "article:modified_time",
    "og:article:modified_time",
    "datemodified",
    "dc.modified",
    "dcterms.modified",
    "modified_time",
    "updated_time",
    "og:updated_time",
    "lastmodified",
    "last-modified",
];

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

/// JSON-LD nodes by `@id`: their `name` and whether they are a person (a `"author":
/// {"@id": …}` points at one).
type People = std::collections::HashMap<String, (String, bool)>;

fn index_people(value: &Value, people: &mut People, depth: usize) {
    if depth > 8 {
        return;
    }
    match value {
        Value::Array(items) => items
            .iter()
            .for_each(|v| index_people(v, people, depth + 1)),
        Value::Object(map) => {
            if let (Some(Value::String(id)), Some(Value::String(name))) =
                (map.get("@id"), map.get("name"))
            {
                people.insert(id.clone(), (name.clone(), !is_organization(map)));
            }
            map.values()
                .for_each(|v| index_people(v, people, depth + 1));
        }
        _ => {}
    }
}

/// The names of the first `author` in a JSON-LD value that names people.
fn ld_any_authors(value: &Value, people: &People, depth: usize) -> Option<Vec<String>> {
    if depth > 8 {
        return None;
    }
    match value {
        Value::Array(items) => items
            .iter()
            .find_map(|v| ld_any_authors(v, people, depth + 1)),
        Value::Object(map) => {
            if let Some(author) = map.get("author").or_else(|| map.get("creator")) {
                let found = names(author, people);
                if !found.is_empty() {
                    return Some(found);
                }
            }
            map.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "comment" | "review" | "reviews"))
                .find_map(|(_, v)| ld_any_authors(v, people, depth + 1))
        }
        _ => None,
    }
}

fn is_organization(map: &serde_json::Map<String, Value>) -> bool {
    let org = |t: &str| {
        matches!(
            t,
            "Organization" | "NewsMediaOrganization" | "Corporation" | "WebSite" | "Brand"
        )
    };
    match map.get("@type") {
        Some(Value::String(t)) => org(t),
        Some(Value::Array(ts)) => ts.iter().any(|t| t.as_str().is_some_and(org)),
        _ => false,
    }
}

fn ld_article(value: &Value, people: &People) -> Option<LdArticle> {
    match value {
        Value::Array(items) => items.iter().find_map(|v| ld_article(v, people)),
        Value::Object(map) => {
            let is_article = match map.get("@type") {
                Some(Value::String(t)) => ARTICLE_TYPES.contains(&t.as_str()),
                Some(Value::Array(ts)) => ts
                    .iter()
                    .any(|t| t.as_str().is_some_and(|t| ARTICLE_TYPES.contains(&t))),
                _ => false,
            };
            if !is_article {
                return map.get("@graph").and_then(|g| ld_article(g, people));
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
                authors: map
                    .get("author")
                    .or_else(|| map.get("creator"))
                    .map(|a| names(a, people))
                    .unwrap_or_default(),
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

/// `"author": "A"`, `{"name": "A"}`, `{"@id": …}` pointing at a person, or a list of
/// these; organizations (the publisher named as author) are not authors.
fn names(value: &Value, people: &People) -> Vec<String> {
    match value {
        Value::String(name) => vec![decoded(name)],
        Value::Object(map) if is_organization(map) => Vec::new(),
        Value::Object(map) => match map.get("name") {
            Some(Value::String(n)) => vec![decoded(n)],
            Some(other) => first_text(other)
                .map(|n| vec![decoded(&n)])
                .unwrap_or_default(),
            None => map
                .get("@id")
                .and_then(Value::as_str)
                .and_then(|id| people.get(id))
                .filter(|(_, person)| *person)
                .map(|(n, _)| vec![decoded(n)])
                .unwrap_or_default(),
        },
        Value::Array(items) => items.iter().flat_map(|v| names(v, people)).collect(),
        _ => Vec::new(),
    }
    .into_iter()
    .filter(|n| !n.is_empty())
    .collect()
}
