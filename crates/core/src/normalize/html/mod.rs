//! HTML pages as sites serve them.
//!
//! Parser choice: html5ever, the HTML5 tree builder of Servo, through `scraper` (its tree and
//! CSS selectors). The first wave read pages with lol_html, a streaming rewriter that builds
//! no tree; it is faster per byte, but main-text extraction needs the tree: which box holds
//! the most prose, what its siblings hold, how link-dense a list is. A streaming reader also
//! lets an unclosed `<head>` or `<header>` swallow the page, where a tree builder closes it as
//! a browser would. On `html-eval` (990 real pages, 139 MB) the whole HTML path runs at
//! ~400 pages/s on one core against ~900 for the streaming pass, at F1 0.915 against 0.776;
//! BENCHMARKS.md has the figures and the candidates compared.
//!
//! What is taken: title (JSON-LD `headline`, the `<h1>`, `og:title`, `<title>`, without the
//! site's name), authors (JSON-LD people, `author` meta, byline elements and lines, cleaned of
//! prefixes, site names and handles), the places that state the publication time, best first
//! (JSON-LD, meta vocabularies, `itemprop`, the URL, `<time>`, date lines, scripts, visible
//! dates around the headline; the stage chooses among them), section, canonical link,
//! `<html lang>`, and the main text, chosen by scoring the page ([`content`]).

mod content;
mod dom;
mod hints;
mod meta;
mod model;

pub(crate) use model::BlockModel;

use scraper::{Html, Selector};

use super::Rules;
use super::clean::{ClutterMatcher, tidy};
use super::config::NormalizeConfigError;
use super::parts;
use super::{
    DATE_LINE_RANK, DateCandidate, DateSource, Extract, LAST_RESORT_RANK, MARKED_TIME_RANK,
    NEAR_HEADLINE_RANK,
};
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

/// The `<h1>` block that is the article's headline, and whether the metadata agrees. A site's
/// logo is often an `<h1>` too (a link, or the site name at the end of `<title>`), so an `<h1>`
/// equal to the metadata's headline wins, then one the headline contains or that opens
/// `<title>`, then the first that is not a link.
fn headline(flat: &dom::Flat, meta: &meta::Meta) -> Option<(usize, bool)> {
    let fold = |t: &str| decoded(t).to_lowercase();
    let named: Vec<String> = [
        meta.ld.as_ref().and_then(|a| a.headline.clone()),
        meta.title.clone(),
    ]
    .into_iter()
    .flatten()
    .map(|t| fold(&t))
    .filter(|t| !t.is_empty())
    .collect();
    let title_tag = meta.title_tag.as_deref().map(fold).unwrap_or_default();
    let h1s: Vec<(usize, String)> = flat
        .blocks
        .iter()
        .enumerate()
        .filter(|(_, b)| {
            flat.els[b.owner as usize].kind == dom::Kind::Headline && b.link_chars < b.chars
        })
        .map(|(i, b)| (i, fold(&b.text)))
        .filter(|(_, t)| !t.is_empty())
        .collect();
    let exact = h1s
        .iter()
        .find(|(_, t)| named.contains(t) || *t == title_tag);
    let close = || {
        h1s.iter().find(|(_, t)| {
            t.chars().count() >= 10
                && (named
                    .iter()
                    .any(|n| n.contains(t.as_str()) || t.contains(n.as_str()))
                    || title_tag.starts_with(t.as_str()))
        })
    };
    match exact.or_else(close) {
        Some((i, _)) => Some((*i, true)),
        None => h1s.first().map(|(i, _)| (*i, false)),
    }
}

/// The article's title: JSON-LD's `headline`, else the `<h1>` the metadata agrees with, else
/// `og:title`, else another `<h1>`, else `<title>`; the site's name cut off whichever it is
/// (`… | St.Galler Tagblatt`, `Time 4 talks » Blog Archiv » …`).
fn title(
    meta: &meta::Meta,
    agreed_h1: Option<String>,
    other_h1: Option<String>,
    parts: &parts::Parts,
) -> Option<String> {
    let mut site = site_names(meta);
    // `<title>` is often `og:title` and the site's name.
    if let (Some(og), Some(tag)) = (meta.title.as_deref(), meta.title_tag.as_deref()) {
        let (og, tag) = (decoded(og), decoded(tag));
        if let Some(rest) = tag.strip_prefix(og.as_str()) {
            let rest = rest
                .trim_start_matches(|c: char| c.is_whitespace() || TITLE_SEPARATORS.contains(&c));
            if !rest.is_empty() && rest.len() < tag.len() {
                site.push(parts::fold_name(rest));
            }
        }
    }
    let h1s: Vec<String> = agreed_h1
        .iter()
        .chain(other_h1.iter())
        .map(|h| h.to_lowercase())
        .collect();
    let strip = |t: String| parts.strip_site_name(&t, &site, &h1s);
    meta.ld
        .as_ref()
        .and_then(|a| a.headline.clone())
        .map(&strip)
        .or(agreed_h1)
        .or_else(|| meta.title.clone().map(&strip))
        .or(other_h1)
        .or_else(|| meta.title_tag.as_deref().map(decoded).map(&strip))
        .filter(|t| !t.is_empty())
}

/// Characters that separate a title from the site's name.
const TITLE_SEPARATORS: &[char] = &['|', '-', '–', '—', '»', '·', ':', '/', '•', '~', '«'];

/// The site's own names, folded: `og:site_name` and the like, and the host of the page's URL
/// (`www.finanztreff.de` → `finanztreff`).
fn site_names(meta: &meta::Meta) -> Vec<String> {
    let mut out: Vec<String> = meta
        .site_names
        .iter()
        .map(|s| parts::fold_name(s))
        .collect();
    for url in meta.canonical.iter().chain(meta.url.iter()) {
        if let Some(host) = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
        {
            out.push(parts::fold_name(&host));
            let labels: Vec<&str> = host.split('.').collect();
            if labels.len() >= 2 {
                out.push(parts::fold_name(labels[labels.len() - 2]));
            }
        }
    }
    out.retain(|s| s.len() >= 2);
    out
}

/// The article's authors: JSON-LD's people, else the `author` metadata, else the first byline
/// element that gives names; each cleaned by [`parts::Parts::author_names`].
fn authors(meta: &meta::Meta, rules: &Rules) -> Vec<String> {
    let site = site_names(meta);
    let clean = |raws: &[String]| -> Vec<String> {
        let split = raws.len() == 1;
        raws.iter()
            .flat_map(|raw| rules.parts.author_names(raw, &site, split))
            .fold(Vec::new(), |mut out: Vec<String>, n| {
                if !out.iter().any(|o| o.eq_ignore_ascii_case(&n)) {
                    out.push(n);
                }
                out
            })
    };
    if let Some(ld) = meta.ld.as_ref() {
        let names = clean(&ld.authors);
        if !names.is_empty() {
            return names;
        }
    }
    let names = clean(&meta.ld_authors_any);
    if !names.is_empty() {
        return names;
    }
    let names = clean(&meta.authors);
    if !names.is_empty() {
        return names;
    }
    meta.author_texts
        .iter()
        .map(|raw| decoded(raw))
        .find_map(|text| {
            let names = match rules.parts.byline(&text) {
                Some(names) => clean(&names),
                None if text.split_whitespace().count() <= MAX_BYLINE_WORDS => {
                    clean(std::slice::from_ref(&text))
                }
                None => Vec::new(),
            };
            (!names.is_empty()).then_some(names)
        })
        .unwrap_or_default()
}

/// A byline line (`Von Anna Roth`, `Text: Anna Roth`, `Par Anna Roth`) in the short blocks
/// around the headline or at the end of the main text, when no element or metadata names the
/// authors.
fn byline_near(
    flat: &dom::Flat,
    headline: Option<usize>,
    main: &[usize],
    rules: &Rules,
    meta: &meta::Meta,
) -> Vec<String> {
    let site = site_names(meta);
    // Around the headline, but not past the main text's end: what follows it there (comments,
    // a sidebar) names other people.
    let end = main
        .last()
        .map_or(flat.blocks.len(), |&last| (last + 1).min(flat.blocks.len()));
    let around = headline
        .or_else(|| main.first().copied())
        .map(|at| at.saturating_sub(DATE_WINDOW_BEFORE)..(at + BYLINE_WINDOW_AFTER).min(end))
        .into_iter()
        .flatten();
    let tail = main.iter().rev().take(BYLINE_TAIL).copied();
    around
        .chain(tail)
        .filter_map(|b| flat.blocks.get(b))
        .filter(|b| b.chars <= BYLINE_CHARS)
        .find_map(|b| {
            let names: Vec<String> = rules
                .parts
                .byline(&decoded(&b.text))?
                .iter()
                .flat_map(|n| rules.parts.author_names(n, &site, false))
                .collect();
            (!names.is_empty()).then_some(names)
        })
        .unwrap_or_default()
}

/// Where a byline line is looked for: blocks after the headline, and the last blocks of the
/// main text; longer blocks are prose.
const BYLINE_WINDOW_AFTER: usize = 12;
const BYLINE_TAIL: usize = 4;
const BYLINE_CHARS: u32 = 120;

/// A byline element with more words than this (and no `By`) is a biography, not a byline.
const MAX_BYLINE_WORDS: usize = 8;

/// The rank of a publication time found in the page's scripts: after the marked-up places,
/// before text around the headline.
const SCRIPT_DATE_RANK: u8 = 7;

/// How far around the headline a visible date line is looked for, in blocks.
const DATE_WINDOW_BEFORE: usize = 3;
const DATE_WINDOW_AFTER: usize = 8;
/// Blocks longer than this are prose, not a date line.
const DATE_LINE_CHARS: u32 = 200;
/// How many of the main text's first paragraphs, and how much of each, are read for a date
/// that opens the text.
const DATE_OPENING_BLOCKS: usize = 3;
const DATE_OPENING_CHARS: usize = 48;
/// How many short blocks of the whole page are read for a date when nothing else gives one.
const MAX_DATE_LINES: usize = 400;

/// The short blocks around the headline (or the main text's start), where pages date and
/// sign the article.
fn near_headline<'a>(
    flat: &'a dom::Flat,
    headline: Option<usize>,
    main: &[usize],
) -> impl Iterator<Item = &'a dom::Block> {
    let range = headline
        .or_else(|| main.first().copied())
        .map(|at| {
            at.saturating_sub(DATE_WINDOW_BEFORE)..(at + DATE_WINDOW_AFTER).min(flat.blocks.len())
        })
        .unwrap_or(0..0);
    flat.blocks[range]
        .iter()
        .filter(|b| b.chars <= DATE_LINE_CHARS)
}

/// Where the page states its publication time, best first (htmldate's order, with the
/// machine-readable values ahead of the URL so that a time and its offset are kept): JSON-LD,
/// `<meta>` vocabularies, `itemprop` elements, the URL, marked `<time>` elements, date lines
/// (`class="date"`, bylines), other `<time>` elements, short blocks around the headline, and
/// last a modification time.
fn date_candidates(
    meta: &meta::Meta,
    flat: &dom::Flat,
    headline: Option<usize>,
    main: &[usize],
) -> Vec<DateCandidate> {
    let mut out = Vec::new();
    let mut add = |texts: &mut dyn Iterator<Item = &String>, source: DateSource, rank: u8| {
        out.extend(texts.map(|t| DateCandidate {
            text: t.clone(),
            source,
            rank,
        }));
    };
    add(
        &mut meta
            .ld
            .as_ref()
            .and_then(|a| a.published.as_ref())
            .into_iter(),
        DateSource::Stated,
        0,
    );
    add(&mut meta.published.iter(), DateSource::Stated, 1);
    add(&mut meta.item_dates.iter(), DateSource::Stated, 2);
    add(&mut meta.ld_published.iter(), DateSource::Stated, 3);
    add(
        &mut meta.canonical.iter().chain(meta.url.iter()),
        DateSource::Url,
        4,
    );
    add(
        &mut meta.times_marked.iter(),
        DateSource::Stated,
        MARKED_TIME_RANK,
    );
    add(
        &mut meta.date_texts.iter(),
        DateSource::Text,
        DATE_LINE_RANK,
    );
    add(&mut meta.times.iter(), DateSource::Stated, 7);
    let near: Vec<String> = near_headline(flat, headline, main)
        .map(|b| b.text.clone())
        .collect();
    add(&mut near.iter(), DateSource::Text, NEAR_HEADLINE_RANK);
    // The opening words of the first paragraphs: press releases and small sites date the text
    // in its first line (`01.02.2022 „Der Arbeitsmarkt…`, `Karlsruhe, (12.11.2021). …`).
    let openings: Vec<String> = main
        .iter()
        .take(DATE_OPENING_BLOCKS)
        .filter_map(|&b| flat.blocks.get(b))
        .map(|b| b.text.chars().take(DATE_OPENING_CHARS).collect())
        .collect();
    add(&mut openings.iter(), DateSource::Text, NEAR_HEADLINE_RANK);
    add(
        &mut meta.modified.iter(),
        DateSource::Stated,
        LAST_RESORT_RANK,
    );
    // Last, any short block of the page outside furniture: a date is better than none.
    let lines: Vec<String> = flat
        .blocks
        .iter()
        .filter(|b| {
            b.chars <= DATE_LINE_CHARS && flat.els[b.owner as usize].hint != hints::Hint::Furniture
        })
        .take(MAX_DATE_LINES)
        .map(|b| b.text.clone())
        .collect();
    add(&mut lines.iter(), DateSource::Text, 10);
    out
}

/// One block of a page as the main-text model sees it: its text and its features, computed
/// from the scoring's choice alone (before the model's own).
#[derive(Debug, Clone)]
pub struct BlockFeatures {
    /// The block's text, as the page holds it.
    pub text: String,
    /// [`model::FEATURES`] numbers.
    pub features: Vec<f32>,
}

/// Every block of an HTML page with the numbers the main-text model judges it by.
pub(crate) fn block_features(html: &str, rules: &Rules) -> Vec<BlockFeatures> {
    let Scored {
        flat,
        headline,
        main,
        ..
    } = scored(html, rules);
    model::features(&flat, &main, headline.map(|(b, _)| b))
        .into_iter()
        .zip(&flat.blocks)
        .map(|(features, block)| BlockFeatures {
            text: block.text.clone(),
            features: features.to_vec(),
        })
        .collect()
}

/// A page parsed and scored: its metadata, its blocks, the headline's block (and whether the
/// metadata agrees with it) and the blocks the scoring chose, before the model's opinion.
struct Scored {
    meta: meta::Meta,
    flat: dom::Flat,
    headline: Option<(usize, bool)>,
    main: Vec<usize>,
}

fn scored(html: &str, rules: &Rules) -> Scored {
    let doc = Html::parse_document(html);
    let meta = meta::read(&doc);
    let flat = dom::flatten(&doc, &rules.html.skip);
    let headline = headline(&flat, &meta);
    let main = content::main_blocks(&flat, headline.map(|(b, _)| flat.blocks[b].owner));
    Scored {
        meta,
        flat,
        headline,
        main,
    }
}

/// Reads an HTML page (or a fragment, such as a JSON Feed item's `content_html`).
pub(crate) fn extract(
    html: &str,
    rules: &Rules,
    clutter: &ClutterMatcher,
) -> Result<Extract, Rejection> {
    let Scored {
        meta,
        flat,
        headline,
        main,
    } = scored(html, rules);
    let ld = meta.ld.as_ref();
    let main = match rules.block_model.as_ref().or(model::default_model()) {
        Some(model) => model.refine(&flat, main, headline.map(|(b, _)| b)),
        None => main,
    };

    let h1 = headline.map(|(b, agrees)| (decoded(&flat.blocks[b].text), agrees));
    let (agreed_h1, other_h1) = match h1 {
        Some((text, true)) => (Some(text), None),
        Some((text, false)) => (None, Some(text)),
        None => (None, None),
    };
    let mut ex = Extract {
        title: title(&meta, agreed_h1, other_h1, &rules.parts),
        section: ld.and_then(|a| a.section.clone()).or(meta.section.clone()),
        url: meta.canonical.clone().or(meta.url.clone()),
        language_hint: ld.and_then(|a| a.language.clone()).or(meta.lang.clone()),
        ..Extract::default()
    };
    ex.dates = date_candidates(&meta, &flat, headline.map(|(b, _)| b), &main);
    {
        // The page's scripts may date it too (htmldate's `json_search`).
        ex.dates.extend(
            rules
                .dates
                .in_scripts(html)
                .into_iter()
                .map(|text| DateCandidate {
                    text,
                    source: DateSource::Stated,
                    rank: SCRIPT_DATE_RANK,
                }),
        );
        ex.dates.sort_by_key(|c| c.rank);
    }
    ex.month_first = meta
        .lang
        .as_deref()
        .is_some_and(|l| l.eq_ignore_ascii_case("en") || l.eq_ignore_ascii_case("en-us"));
    ex.authors = authors(&meta, rules);
    if ex.authors.is_empty() {
        ex.authors = byline_near(&flat, headline.map(|(b, _)| b), &main, rules, &meta);
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
