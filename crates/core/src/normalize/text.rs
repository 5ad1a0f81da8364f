//! Plain-text pages. Three shapes occur, told apart by the text alone, never by its source:
//!
//! - a page dump (the seed layout): section line, date line, headline, `By NAME`, photo caption
//!   with credit, body, then a "Latest Headlines" block;
//! - headline first: a short first line without terminal punctuation, a blank line, the body;
//! - body only: the first line is already a sentence.

use std::borrow::Cow;

use chrono_tz::Tz;

use super::Extract;
use super::Rules;
use super::clean::{ClutterMatcher, tidy};

/// A section line is a short label ("World News"), not a sentence.
const MAX_SECTION_CHARS: usize = 60;
const MAX_SECTION_WORDS: usize = 6;
/// The date line of a page dump sits among its first lines.
const DATE_LINE_WINDOW: usize = 2;

/// Reads a plain-text page. `find_title` is false when the title is already known (a JSON
/// Feed item), so the first line is never taken for one.
pub(crate) fn extract(
    text: &str,
    rules: &Rules,
    clutter: &ClutterMatcher,
    zone: Tz,
    find_title: bool,
) -> Extract {
    // Tidied lines; `None` for a blank line. Clutter lines vanish without leaving a gap.
    let lines: Vec<Option<Cow<'_, str>>> = text
        .lines()
        .filter_map(|line| {
            let line = tidy(line);
            if line.is_empty() {
                Some(None)
            } else if clutter.is_clutter(&line) {
                None
            } else {
                Some(Some(line))
            }
        })
        .collect();
    let mut ex = Extract::default();
    let non_blank: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.is_some())
        .map(|(i, _)| i)
        .take(8)
        .collect();
    let line = |i: usize| lines.get(i).and_then(|l| l.as_deref());
    let mut cursor = 0;

    // A page dump: a date line among the first lines, maybe under a section line.
    let date_at = non_blank
        .iter()
        .take(DATE_LINE_WINDOW)
        .position(|&i| line(i).is_some_and(|l| rules.dates.parse(l, zone).is_some()));
    if let Some(k) = date_at {
        if k == 1 {
            ex.section = line(non_blank[0])
                .filter(|l| is_section(l))
                .map(str::to_owned);
        }
        ex.published_raw = line(non_blank[k]).map(str::to_owned);
        cursor = non_blank[k] + 1;
        if find_title {
            if let Some(&next) = non_blank.get(k + 1) {
                if line(next).is_some_and(|l| rules.parts.is_headline(l)) {
                    ex.title = line(next).map(str::to_owned);
                    cursor = next + 1;
                }
            }
        }
    } else if find_title {
        // Headline first: a headline-shaped line alone in its block, with more text after it.
        if let (Some(&first), Some(_)) = (non_blank.first(), non_blank.get(1)) {
            let alone = line(first + 1).is_none();
            if alone && line(first).is_some_and(|l| rules.parts.is_headline(l)) {
                ex.title = line(first).map(str::to_owned);
                cursor = first + 1;
            }
        }
    }
    // Under the headline: a byline and a date line, in either order.
    if ex.title.is_some() || ex.published_raw.is_some() {
        let start = cursor;
        for &i in non_blank.iter().filter(|&&i| i >= start).take(2) {
            let Some(text) = line(i) else { break };
            if ex.authors.is_empty() {
                if let Some(names) = rules.parts.byline(text) {
                    ex.authors = names;
                    cursor = i + 1;
                    continue;
                }
            }
            if ex.published_raw.is_none() && rules.dates.parse(text, zone).is_some() {
                ex.published_raw = Some(text.to_owned());
                cursor = i + 1;
                continue;
            }
            break;
        }
    }

    // The body: one paragraph per line, except that a line continuing a hard-wrapped sentence
    // (the previous line does not end one, this one starts in lower case) joins the previous.
    let mut paragraphs: Vec<String> = Vec::new();
    let mut joinable = false;
    for entry in lines.get(cursor..).unwrap_or_default() {
        let Some(text) = entry else {
            joinable = false;
            continue;
        };
        let continues = joinable && text.starts_with(|c: char| c.is_lowercase());
        match paragraphs.last_mut() {
            Some(last) if continues => {
                last.push(' ');
                last.push_str(text);
            }
            _ => paragraphs.push(text.clone().into_owned()),
        }
        joinable = !text.ends_with(['.', '!', '?', ':', ';', '"', '”', '’', ')']);
    }
    ex.paragraphs = paragraphs;
    ex
}

fn is_section(line: &str) -> bool {
    line.chars().count() <= MAX_SECTION_CHARS
        && line.split_whitespace().count() <= MAX_SECTION_WORDS
        && line.chars().any(char::is_alphabetic)
        && !line.ends_with(['.', '!', '?', ',', ';', ':'])
}
