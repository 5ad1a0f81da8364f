//! HTML pages as sites serve them.
//!
//! Parser choice: html5ever, the HTML5 tree builder of Servo, through `scraper` (its tree and
//! CSS selectors). The first wave read pages with lol_html, a streaming rewriter that builds
//! no tree; it is faster per byte, but main-text extraction needs the tree: which box holds
//! the most prose, what its siblings hold, how link-dense a list is. A streaming reader also
//! lets an unclosed `<head>` or `<header>` swallow the page, where a tree builder closes it as
//! a browser would. On `html-eval` (990 real pages, 139 MB) parsing is about half of the
//! extraction time; see BENCHMARKS.md for the figures and the candidates compared.
//!
//! What is taken: title (JSON-LD `headline`, the `<h1>`, `og:title`, `<title>`), authors
//! (JSON-LD, `author` meta, a byline element), publication time (JSON-LD `datePublished`,
//! meta vocabularies, `<time datetime>`), section, canonical link, `<html lang>`, and the main
//! text, chosen by scoring the page ([`content`]).

mod content;
mod dom;
mod hints;
mod meta;

use scraper::{Html, Selector};

use super::Extract;
use super::Rules;
use super::clean::{ClutterMatcher, tidy};
use super::config::NormalizeConfigError;
use crate::error::{ErrorKind, Rejection};

/// The configured furniture selectors, parsed once per stage.
#[derive(Debug)]
pub(crate) struct HtmlSelectors {
    skip: Vec<Selector>,
}

impl HtmlSelectors {
    pub(crate) fn new(boilerplate: &[String]) -> Result<Self, NormalizeConfigError> {
        let skip = boilerplate
            .iter()
            .filter(|s| !s.trim().is_empty())
            .map(|text| {
                Selector::parse(text).map_err(|err| NormalizeConfigError::Selector {
                    selector: text.clone(),
                    message: err.to_string(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { skip })
    }
}

fn decoded(raw: &str) -> String {
    tidy(raw).into_owned()
}

/// Reads an HTML page (or a fragment, such as a JSON Feed item's `content_html`).
pub(crate) fn extract(
    html: &str,
    rules: &Rules,
    clutter: &ClutterMatcher,
) -> Result<Extract, Rejection> {
    let doc = Html::parse_document(html);
    let meta = meta::read(&doc);
    let flat = dom::flatten(&doc, &rules.html.skip);
    let main = content::main_blocks(&flat);

    let h1 = flat
        .blocks
        .iter()
        .find(|b| flat.els[b.owner as usize].kind == dom::Kind::Headline)
        .map(|b| decoded(&b.text))
        .filter(|t| !t.is_empty());
    let ld = meta.ld.as_ref();
    let mut ex = Extract {
        title: ld
            .and_then(|a| a.headline.clone())
            .or(h1)
            .or(meta.title.clone())
            .or(meta.title_tag.as_deref().map(decoded))
            .filter(|t| !t.is_empty()),
        section: ld.and_then(|a| a.section.clone()).or(meta.section.clone()),
        published_raw: ld
            .and_then(|a| a.published.clone())
            .or(meta.published.clone())
            .or(meta.time.clone()),
        url: meta.canonical.clone().or(meta.url.clone()),
        language_hint: ld.and_then(|a| a.language.clone()).or(meta.lang.clone()),
        ..Extract::default()
    };
    ex.authors = ld.map(|a| a.authors.clone()).unwrap_or_default();
    if ex.authors.is_empty() {
        ex.authors = meta.authors.clone();
    }
    if ex.authors.is_empty() {
        ex.authors = meta
            .author_texts
            .iter()
            .map(|raw| decoded(raw))
            .find_map(|text| {
                rules.parts.byline(&text).or_else(|| {
                    let words = text.split_whitespace().count();
                    (words > 0 && words <= 5 && !text.ends_with('.')).then(|| vec![text.clone()])
                })
            })
            .unwrap_or_default();
    }
    ex.paragraphs = main
        .iter()
        .map(|&b| decoded(&flat.blocks[b].text))
        .filter(|text| !text.is_empty() && !clutter.is_clutter(text))
        .collect();
    if ex.paragraphs.is_empty() {
        let why = if flat.blocks.is_empty() {
            "the HTML page has no text outside its head, scripts and hidden parts"
        } else {
            "the HTML page's only text is navigation, links and page furniture"
        };
        return Err(Rejection::new(ErrorKind::NoBody, why));
    }
    Ok(ex)
}
