//! One JSON Feed 1.1 item (`application/json`): `id`, `url`, `title`, `content_html` /
//! `content_text`, `summary`, `date_published`, `authors[{name}]` (1.0's `author` too),
//! `language`, `tags`. Fields of the wrong type are ignored, not fatal: a feed item is data
//! from someone else's CMS.

use chrono_tz::Tz;
use serde_json::{Map, Value};

use super::Extract;
use super::Rules;
use super::clean::ClutterMatcher;
use super::{html, text};
use crate::error::{ErrorKind, Rejection};
use crate::event::parse_json;

pub(crate) fn extract(
    content: &str,
    rules: &Rules,
    clutter: &ClutterMatcher,
    zone: Tz,
) -> Result<Extract, Rejection> {
    let value: Value = parse_json(content.as_bytes())?;
    let Value::Object(item) = value else {
        return Err(Rejection::new(
            ErrorKind::InvalidField,
            "a JSON Feed item must be a JSON object",
        ));
    };
    let string = |key: &str| {
        item.get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let title = string("title");
    let mut ex = if let Some(body) = string("content_text") {
        text::extract(body, rules, clutter, zone, title.is_none())
    } else if let Some(body) = string("content_html") {
        html::extract(body, rules, clutter)?
    } else if let Some(summary) = string("summary") {
        // An item with only a summary: the summary is all the text there is.
        text::extract(summary, rules, clutter, zone, false)
    } else {
        Extract::default()
    };
    if let Some(title) = title {
        ex.title = Some(title.to_owned());
    }
    if let Some(url) = string("url").or_else(|| string("external_url")) {
        ex.url = Some(url.to_owned());
    }
    if let Some(date) = string("date_published") {
        ex.published_raw = Some(date.to_owned());
    }
    let authors = authors(&item);
    if !authors.is_empty() {
        ex.authors = authors;
    }
    if let Some(language) = string("language") {
        ex.language_hint = Some(language.to_owned());
    }
    Ok(ex)
}

fn authors(item: &Map<String, Value>) -> Vec<String> {
    let name = |author: &Value| {
        author
            .get("name")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
    };
    match (item.get("authors"), item.get("author")) {
        (Some(Value::Array(list)), _) => list.iter().filter_map(name).collect(),
        (_, Some(author)) => name(author).into_iter().collect(),
        _ => Vec::new(),
    }
}
