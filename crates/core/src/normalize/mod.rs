//! The normalize stage: a raw page in, a clean structured article out (`news.normalized.v1`).
//!
//! Every layout (plain-text page dumps, headline-first and body-only texts, HTML pages, JSON
//! Feed items) is first read into an [`Extract`]: the parts the page itself states. One common
//! step then finishes the article: related-stories block, byline and dateline split off the
//! body, producer hints applied, dates read in the source's zone, display text tidied and put
//! in NFC, language detected, words counted and the folded content hash taken.
//!
//! Everything that differs between sites comes from [`NormalizeConfig`]; the code never
//! branches on a source name.

pub(crate) mod clean;
mod config;
mod dates;
mod feed;
mod html;
mod language;
mod parts;
mod text;

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;

pub use config::{ClutterLine, NormalizeConfig, NormalizeConfigError, SourceConfig};
pub use html::BlockFeatures;

use crate::decode::DecodeStage;
use crate::error::{ErrorKind, Rejection, StageError};
use crate::event::{ContentType, Dateline, Event, EventKind, NormalizedArticle, RawEvent, Related};
use crate::ids::canonical_url;
use crate::stage::{Emit, INPUT, PRIMARY, Port, Route, Stage, StageContext};
use crate::topics::{NORMALIZED, RAW};
use clean::{ClutterMatcher, display_text, hash_and_count, into_nfc};
use dates::{DateParser, DateReading};
use html::HtmlSelectors;
use language::LanguageDetector;
use parts::Parts;

/// The longest article id the contract allows.
const MAX_ID_CHARS: usize = 256;
/// A byline may stand among the first paragraphs of a body.
const BYLINE_WINDOW: usize = 2;

/// What a page states about itself, before the common finishing step.
#[derive(Debug, Default)]
pub(crate) struct Extract {
    pub(crate) title: Option<String>,
    pub(crate) section: Option<String>,
    pub(crate) authors: Vec<String>,
    /// The publication time as the page writes it.
    pub(crate) published_raw: Option<String>,
    /// Candidate body paragraphs, tidied, clutter already removed.
    pub(crate) paragraphs: Vec<String>,
    pub(crate) related: Vec<Related>,
    /// The page's own (canonical) URL, possibly relative.
    pub(crate) url: Option<String>,
    /// The language the page declares (`<html lang>`, JSON Feed `language`).
    pub(crate) language_hint: Option<String>,
    /// Further places the page states its publication time, best first (after
    /// `published_raw`).
    pub(crate) dates: Vec<DateCandidate>,
    /// Whether `06/07/2022` is read month first (the page is in American English).
    pub(crate) month_first: bool,
}

/// How a date candidate is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DateSource {
    /// A value meant for machines (`<meta content>`, JSON-LD, `datetime`): read whole, else
    /// searched for a date.
    Stated,
    /// Visible text (a date line, a byline): the first date in it that is not an update's.
    Text,
    /// A URL: the day its path names.
    Url,
}

/// One place a page states a time.
#[derive(Debug, Clone)]
pub(crate) struct DateCandidate {
    pub(crate) text: String,
    pub(crate) source: DateSource,
    /// Lower is better; candidates of one rank keep page order.
    pub(crate) rank: u8,
}

/// The rank the event's own URL takes among an HTML page's date candidates.
const URL_RANK: u8 = 4;
/// Before this year no news page here was published: such a date is a birth date or a
/// historical one.
const EARLIEST_YEAR: i32 = 1990;

/// A source's compiled settings.
#[derive(Debug)]
struct SourceRules {
    zone: Option<Tz>,
    /// The language the source publishes in, when configured.
    language: Option<String>,
    /// Global plus this source's clutter lines; `None` when the source adds none.
    clutter: Option<ClutterMatcher>,
}

/// Everything compiled from the configuration, once per stage.
#[derive(Debug)]
pub(crate) struct Rules {
    default_zone: Tz,
    clutter: ClutterMatcher,
    sources: HashMap<String, SourceRules>,
    pub(crate) parts: Parts,
    pub(crate) dates: DateParser,
    pub(crate) html: HtmlSelectors,
    language: LanguageDetector,
    /// The main-text block model when the stage was given one; the shipped one otherwise.
    pub(crate) block_model: Option<html::BlockModel>,
}

impl Rules {
    fn new(config: &NormalizeConfig) -> Result<Self, NormalizeConfigError> {
        let zone = |scope: &str, name: &str| {
            name.trim()
                .parse::<Tz>()
                .map_err(|_| NormalizeConfigError::TimeZone {
                    scope: scope.to_owned(),
                    zone: name.to_owned(),
                })
        };
        let regex_error = |err: regex::Error| NormalizeConfigError::Regex {
            scope: "built-in patterns".into(),
            pattern: String::new(),
            message: err.to_string(),
        };
        let clutter = ClutterMatcher::new(
            "clutter_lines",
            &config.clutter_lines,
            &config.caption_credits,
        )?;
        let mut sources = HashMap::new();
        for (name, source) in &config.sources {
            let scope = format!("source {name}");
            let zone = source
                .time_zone
                .as_deref()
                .map(|z| zone(&scope, z))
                .transpose()?;
            let clutter = if source.clutter_lines.is_empty() {
                None
            } else {
                Some(ClutterMatcher::new(
                    &scope,
                    config.clutter_lines.iter().chain(&source.clutter_lines),
                    &config.caption_credits,
                )?)
            };
            let language = match source.language.as_deref() {
                None => None,
                Some(code) => Some(language::normalize_code(code).ok_or_else(|| {
                    NormalizeConfigError::Language {
                        scope: scope.clone(),
                        codes: vec![code.to_owned()],
                    }
                })?),
            };
            sources.insert(
                name.clone(),
                SourceRules {
                    zone,
                    language,
                    clutter,
                },
            );
        }
        Ok(Self {
            default_zone: zone("default_time_zone", &config.default_time_zone)?,
            clutter,
            sources,
            parts: Parts::new(config).map_err(regex_error)?,
            dates: DateParser::new().map_err(regex_error)?,
            html: HtmlSelectors::new(&config.html_boilerplate)?,
            language: LanguageDetector::new(&config.languages, config.language_sample_chars)
                .map_err(|codes| NormalizeConfigError::Language {
                    scope: "languages".into(),
                    codes,
                })?,
            block_model: None,
        })
    }

    /// The time zone and clutter lines for a source.
    fn for_source(&self, source: &str) -> (Tz, &ClutterMatcher) {
        match self.sources.get(source) {
            Some(rules) => (
                rules.zone.unwrap_or(self.default_zone),
                rules.clutter.as_ref().unwrap_or(&self.clutter),
            ),
            None => (self.default_zone, &self.clutter),
        }
    }

    /// The language a source is configured to publish in.
    fn source_language(&self, source: &str) -> Option<&str> {
        self.sources.get(source)?.language.as_deref()
    }
}

/// The normalizer: `Raw` events in, `Normalized` events out.
///
/// Decoding (content type, size limit, base64 and charset) is [`DecodeStage`]'s; everything
/// after is here. Pages that yield no body are rejected as `no_body`; a JSON Feed item that is
/// not JSON as `malformed_json`.
#[derive(Debug)]
pub struct NormalizeStage {
    decode: DecodeStage,
    rules: Rules,
}

impl NormalizeStage {
    /// Every block of an HTML page with the numbers the main-text model judges it by, as this
    /// stage's settings flatten the page: the table that `crates/core/html/fit_block_model.py`
    /// fits the model on (through the `block_features` example).
    pub fn block_features(&self, html: &str) -> Vec<BlockFeatures> {
        html::block_features(html, &self.rules)
    }

    /// Builds the stage, compiling every pattern and selector of the configuration once.
    pub fn new(config: NormalizeConfig) -> Result<Self, NormalizeConfigError> {
        Ok(Self {
            decode: DecodeStage::new(config.max_content_bytes),
            rules: Rules::new(&config)?,
        })
    }

    /// The same stage judging HTML blocks with `tsv`, a main-text block model as
    /// `crates/core/html/fit_block_model.py` writes it, instead of the shipped one: how a
    /// refitted model is scored against it (`newsflow eval extract --block-model`).
    pub fn with_block_model(mut self, tsv: &str) -> Result<Self, NormalizeConfigError> {
        let model = html::BlockModel::parse(tsv)
            .map_err(|message| NormalizeConfigError::BlockModel { message })?;
        self.rules.block_model = Some(model);
        Ok(self)
    }

    /// Normalizes one raw event. `ingested_at` follows the decode stage: the record time, else
    /// the event's own, else `ctx.now`; `normalized_at` is `ctx.now`.
    pub fn normalize(
        &self,
        raw: RawEvent,
        ctx: &StageContext,
    ) -> Result<NormalizedArticle, Rejection> {
        check_text_field("id", &raw.id)?;
        check_text_field("source", &raw.source)?;
        if raw.id.chars().count() > MAX_ID_CHARS {
            return Err(Rejection::new(
                ErrorKind::InvalidField,
                format!("id is longer than {MAX_ID_CHARS} characters"),
            ));
        }
        let ingested_at = ctx.record_time.or(raw.ingested_at).unwrap_or(ctx.now);
        let mut raw = self.decode.decode(raw, ingested_at)?;
        let content = raw.content.take().unwrap_or_default();
        let (zone, clutter) = self.rules.for_source(&raw.source);
        let extract = match &raw.content_type {
            ContentType::TextPlain => text::extract(&content, &self.rules, clutter, zone, true),
            ContentType::TextHtml => html::extract(&content, &self.rules, clutter)?,
            ContentType::ApplicationJson => feed::extract(&content, &self.rules, clutter, zone)?,
            ContentType::Other(other) => {
                return Err(Rejection::new(
                    ErrorKind::UnknownContentType,
                    format!("content_type {other:?} is not one the normalizer reads"),
                ));
            }
        };
        self.finish(raw, extract, zone, ingested_at, ctx.now)
    }

    fn finish(
        &self,
        raw: RawEvent,
        ex: Extract,
        zone: Tz,
        ingested_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<NormalizedArticle, Rejection> {
        let parts = &self.rules.parts;
        let Extract {
            title,
            section,
            mut authors,
            published_raw,
            mut paragraphs,
            mut related,
            url,
            language_hint,
            dates,
            month_first,
        } = ex;
        let mut title = title.map(|t| display_text(&t)).filter(|t| !t.is_empty());

        // A related-stories block ends the body.
        if let Some(at) = paragraphs
            .iter()
            .skip(1)
            .position(|p| parts.is_related_heading(p))
        {
            let heading = at + 1;
            related.extend(parts.related_items(&paragraphs[heading + 1..]));
            paragraphs.truncate(heading);
        }
        // The headline repeated atop the body is not body.
        if let Some(title) = &title {
            paragraphs.retain(|p| p != title);
        }
        // A byline among the first paragraphs.
        if let Some(at) = paragraphs
            .iter()
            .take(BYLINE_WINDOW)
            .position(|p| parts.byline(p).is_some())
        {
            let names = parts.byline(&paragraphs.remove(at)).unwrap_or_default();
            if authors.is_empty() {
                authors = names;
            }
        }
        // The dateline opens the first paragraph (or is a line of its own).
        let mut dateline = None;
        if let Some(first) = paragraphs.first() {
            if let Some((found, rest)) = parts.dateline(first) {
                dateline = Some(found);
                if rest.is_empty() {
                    paragraphs.remove(0);
                } else {
                    paragraphs[0] = rest.to_owned();
                }
            }
        }
        // Paragraphs are tidy already (every layout tidies what it reads); NFC is left.
        let body: Vec<String> = paragraphs
            .into_iter()
            .filter(|p| !p.is_empty())
            .map(into_nfc)
            .collect();
        let (content_hash, word_count) = hash_and_count(&body);
        if body.is_empty() || word_count == 0 {
            return Err(Rejection::new(
                ErrorKind::NoBody,
                "the page yields no article body",
            ));
        }

        // Producer hints win when present and valid.
        let hints = raw.hints.unwrap_or_default();
        if let Some(hint) = hints
            .title
            .as_deref()
            .map(display_text)
            .filter(|t| !t.is_empty())
        {
            title = Some(hint);
        }
        let hinted_authors: Vec<String> = hints
            .authors
            .iter()
            .map(|a| display_text(a))
            .filter(|a| !a.is_empty())
            .collect();
        if !hinted_authors.is_empty() {
            authors = hinted_authors;
        }
        let (published_at, published_at_raw) =
            match hints.published_at.as_deref().and_then(|hint| {
                match self.rules.dates.parse(hint, zone) {
                    Some(DateReading::At(time)) => Some((time, hint)),
                    _ => None,
                }
            }) {
                Some((time, hint)) => (Some(time), Some(display_text(hint))),
                None => {
                    let mut candidates: Vec<DateCandidate> = published_raw
                        .map(|p| DateCandidate {
                            text: p,
                            source: DateSource::Stated,
                            rank: 0,
                        })
                        .into_iter()
                        .chain(dates)
                        .collect();
                    if let Some(event_url) = raw.url.as_deref() {
                        let at = candidates
                            .iter()
                            .position(|c| c.rank >= URL_RANK)
                            .unwrap_or(candidates.len());
                        candidates.insert(
                            at,
                            DateCandidate {
                                text: event_url.to_owned(),
                                source: DateSource::Url,
                                rank: URL_RANK,
                            },
                        );
                    }
                    candidates.sort_by_key(|c| c.rank);
                    let latest = raw.fetched_at.unwrap_or(ingested_at).min(ingested_at);
                    self.choose_date(&candidates, zone, latest, month_first)
                }
            };
        // A valid hint, else the source's configured language, else detection, else what the
        // page declares (`<html lang>` is often a site template's default, so it comes last).
        let language = hints
            .language
            .as_deref()
            .and_then(language::normalize_code)
            .or_else(|| self.rules.source_language(&raw.source).map(str::to_owned))
            .or_else(|| self.rules.language.detect(&body))
            .or_else(|| language_hint.as_deref().and_then(language::normalize_code));

        let url = resolve_url(url.as_deref(), raw.url.as_deref());
        authors = dedup_names(authors.iter().map(|a| display_text(a)));
        let dateline = dateline.map(|d| Dateline {
            place: non_empty(d.place),
            date_text: non_empty(d.date_text),
            agency: non_empty(d.agency),
        });
        let related = related
            .into_iter()
            .filter_map(|r| {
                Some(Related {
                    title: non_empty(Some(r.title))?,
                    section: non_empty(r.section),
                    age_text: non_empty(r.age_text),
                    summary: non_empty(r.summary),
                })
            })
            .collect();
        Ok(NormalizedArticle {
            id: raw.id,
            revision: 1,
            source: raw.source,
            url,
            title,
            section: non_empty(section),
            authors,
            published_at,
            published_at_raw,
            dateline,
            lede: body.first().cloned(),
            content_hash,
            word_count,
            body,
            related,
            language,
            fetched_at: raw.fetched_at,
            ingested_at,
            normalized_at: now,
        })
    }
}

impl NormalizeStage {
    /// The page's publication time from its candidates: the time in UTC and the page's own
    /// text for it. Each candidate is read (a stated value whole, visible text for its first
    /// date that is not an update's, a URL for the day its path names) and kept when plausible
    /// (from 1990 up to `latest`, the fetch time). The best-ranked one wins, except that
    ///
    /// - a day the URL names overrides a stated time of another day (htmldate trusts the URL
    ///   first), through a candidate of that day when there is one, to keep its time;
    /// - a UTC time near midnight yields to a visible date of the day before or after: the
    ///   page's local day is the publication day;
    /// - the day the page prints near its headline wins over a stated time of another day when
    ///   another stated time of the page (its modification time included) names that printed
    ///   day, and the page's own date line does not side with the first: readers date a page
    ///   by what it prints, and the second stated time confirms the printed day is no teaser's
    ///   or comment's. That stated time is taken, to keep its time and offset;
    /// - a numeric date either order reads (`11/01/2023`) is read in the other order when the
    ///   page prints that day in a form that is not ambiguous.
    ///
    /// A stated date that is impossible (February 30) keeps its text with no time when
    /// nothing else dates the page.
    fn choose_date(
        &self,
        candidates: &[DateCandidate],
        zone: Tz,
        latest: DateTime<Utc>,
        month_first: bool,
    ) -> (Option<DateTime<Utc>>, Option<String>) {
        let dates = &self.rules.dates;
        let plausible = |t: &DateTime<Utc>| t.year() >= EARLIEST_YEAR && *t <= latest;
        let from_found = |f: &dates::FoundDate| {
            let time = match f.time {
                Some(clock) => dates::in_zone(chrono::NaiveDateTime::new(f.date, clock), zone),
                None => Some(f.date.and_time(chrono::NaiveTime::MIN).and_utc()),
            };
            time.filter(plausible).map(|t| (t, f.text.clone()))
        };
        let mut impossible = None;
        let mut picks: Vec<(DateTime<Utc>, String, DateSource, u8)> = Vec::new();
        // Modification times read after a pick: they only confirm a printed day.
        let mut modified: Vec<(DateTime<Utc>, String, DateSource, u8)> = Vec::new();
        for candidate in candidates {
            // The last resorts (a modification time, any line of the page) only when nothing
            // else dated the page.
            let last_resort = !picks.is_empty() && candidate.rank >= LAST_RESORT_RANK;
            if last_resort
                && (candidate.rank > LAST_RESORT_RANK || modified.len() >= MAX_DATE_PICKS)
            {
                break;
            }
            if picks.len() >= MAX_DATE_PICKS && !last_resort {
                continue;
            }
            let text = display_text(&candidate.text);
            if text.is_empty() {
                continue;
            }
            let found = match candidate.source {
                DateSource::Stated => match dates.parse(&text, zone) {
                    Some(DateReading::At(time)) => plausible(&time).then(|| (time, text.clone())),
                    Some(DateReading::Impossible) => {
                        impossible.get_or_insert_with(|| text.clone());
                        None
                    }
                    None => dates
                        .find_all(&text, month_first)
                        .iter()
                        .find_map(|f| from_found(f).map(|(t, _)| (t, text.clone()))),
                },
                DateSource::Text => dates
                    .find_all(&text, month_first)
                    .iter()
                    .find_map(from_found),
                DateSource::Url => dates.in_url(&text).as_ref().and_then(from_found),
            };
            if let Some((time, raw)) = found {
                let into = if last_resort {
                    &mut modified
                } else {
                    &mut picks
                };
                into.push((time, raw, candidate.source, candidate.rank));
            }
        }
        let Some(first) = picks.first() else {
            return (None, impossible);
        };
        let day = |(time, raw, _, _): &(DateTime<Utc>, String, DateSource, u8)| {
            DateTime::parse_from_rfc3339(raw.trim())
                .map_or_else(|_| time.date_naive(), |t| t.date_naive())
        };
        let first_day = day(first);
        let pick = if let Some(url) = picks.iter().find(|p| p.2 == DateSource::Url) {
            let url_day = day(url);
            if first_day == url_day {
                first
            } else {
                picks
                    .iter()
                    .find(|p| p.2 != DateSource::Url && day(p) == url_day)
                    .unwrap_or(url)
            }
        } else {
            let utc_near_midnight = first.2 == DateSource::Stated
                && is_utc_text(&first.1)
                && !(8..15).contains(&first.0.hour());
            let visible = picks
                .iter()
                .skip(1)
                .find(|p| p.2 == DateSource::Text || p.3 == MARKED_TIME_RANK);
            match visible {
                Some(v) if utc_near_midnight && (day(v) - first_day).num_days().abs() == 1 => v,
                _ => first,
            }
        };
        let pick_day = day(pick);
        let printed = picks
            .iter()
            .find(|p| p.2 == DateSource::Text && p.3 == NEAR_HEADLINE_RANK)
            .filter(|p| first.2 == DateSource::Stated && day(p) != pick_day);
        let date_line_agrees = picks
            .iter()
            .find(|p| p.2 == DateSource::Text && p.3 == DATE_LINE_RANK)
            .is_some_and(|p| day(p) == pick_day);
        let pick = match printed {
            Some(printed) if !date_line_agrees => {
                let printed_day = day(printed);
                picks
                    .iter()
                    .chain(&modified)
                    .find(|p| p.2 == DateSource::Stated && day(p) == printed_day)
                    .unwrap_or(pick)
            }
            _ => pick,
        };
        // A numeric date either order reads (`11/01/2023`) is read the other way when the page
        // prints that other day in a form that is not ambiguous (`Erstellt am: 01.11.2023`).
        let pick_day = day(pick);
        let other_order = dates
            .find_all(&pick.1, !month_first)
            .first()
            .and_then(from_found)
            .filter(|(time, _)| {
                let other = time.date_naive();
                other != pick_day
                    && picks
                        .iter()
                        .any(|p| p.2 == DateSource::Text && day(p) == other)
            });
        match other_order {
            Some((time, _)) => (Some(time), Some(pick.1.clone())),
            None => (Some(pick.0), Some(pick.1.clone())),
        }
    }
}

/// The rank of `<time>` elements marked as the publication: shown on the page, in its zone.
pub(crate) const MARKED_TIME_RANK: u8 = 5;

/// The rank of a page's date lines (`class="date"`, bylines).
pub(crate) const DATE_LINE_RANK: u8 = 6;

/// The rank of the short blocks around the headline and of the main text's opening words.
pub(crate) const NEAR_HEADLINE_RANK: u8 = 8;

/// From this rank on, date candidates are read only when no better one gave a time.
pub(crate) const LAST_RESORT_RANK: u8 = 9;

/// How many readable candidates a page's date is chosen among.
const MAX_DATE_PICKS: usize = 24;

/// Whether a stated time is written in UTC (`Z`, `+00:00`, `UTC`, `GMT`).
fn is_utc_text(text: &str) -> bool {
    let text = text.trim_end();
    text.ends_with('Z')
        || text.ends_with("+00:00")
        || text.ends_with("+0000")
        || text.ends_with("UTC")
        || text.ends_with("GMT")
}

impl Default for NormalizeStage {
    fn default() -> Self {
        Self::new(NormalizeConfig::default())
            .expect("the default normalize configuration compiles (a unit test proves it)")
    }
}

impl Stage for NormalizeStage {
    fn name(&self) -> &'static str {
        "normalizer"
    }

    fn inputs(&self) -> &'static [Port] {
        const { &[Port::new(INPUT, EventKind::Raw, RAW)] }
    }

    fn outputs(&self) -> &'static [Port] {
        const { &[Port::new(PRIMARY, EventKind::Normalized, NORMALIZED)] }
    }

    fn process(&mut self, event: Event, ctx: &StageContext) -> Result<Vec<Emit>, StageError> {
        let Event::Raw(raw) = event else {
            return Err(crate::stage::unexpected_input(self, &event));
        };
        let article = self.normalize(raw, ctx)?;
        Ok(vec![Emit::new(Route::PRIMARY, Event::Normalized(article))])
    }
}

fn check_text_field(name: &str, value: &str) -> Result<(), Rejection> {
    if value.trim().is_empty() {
        return Err(Rejection::new(
            ErrorKind::InvalidField,
            format!("{name} is empty"),
        ));
    }
    Ok(())
}

/// Tidy + NFC, `None` when nothing is left.
fn non_empty(text: Option<String>) -> Option<String> {
    text.map(|t| display_text(&t)).filter(|t| !t.is_empty())
}

fn dedup_names(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        if !name.is_empty() && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// The page's canonical link (resolved against the event's URL when relative), else the
/// event's URL, canonicalized.
fn resolve_url(page: Option<&str>, event: Option<&str>) -> Option<String> {
    let from_page = page.and_then(|href| {
        canonical_url(href).or_else(|| {
            let base = url::Url::parse(event?.trim()).ok()?;
            canonical_url(base.join(href.trim()).ok()?.as_str())
        })
    });
    from_page.or_else(|| event.and_then(canonical_url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_configuration_compiles() {
        assert!(NormalizeStage::new(NormalizeConfig::default()).is_ok());
    }

    #[test]
    fn bad_configurations_are_refused_with_their_reason() {
        let config = NormalizeConfig {
            default_time_zone: "Mars/Olympus".into(),
            ..NormalizeConfig::default()
        };
        assert!(matches!(
            NormalizeStage::new(config),
            Err(NormalizeConfigError::TimeZone { .. })
        ));
        let mut config = NormalizeConfig::default();
        config.sources.insert(
            "x".into(),
            SourceConfig {
                clutter_lines: vec![ClutterLine::Regex {
                    regex: "(unclosed".into(),
                }],
                ..SourceConfig::default()
            },
        );
        assert!(matches!(
            NormalizeStage::new(config),
            Err(NormalizeConfigError::Regex { .. })
        ));
        let config = NormalizeConfig {
            languages: vec!["en".into(), "klingon".into()],
            ..NormalizeConfig::default()
        };
        assert!(matches!(
            NormalizeStage::new(config),
            Err(NormalizeConfigError::Language { .. })
        ));
        let config = NormalizeConfig {
            html_boilerplate: vec!["[[[".into()],
            ..NormalizeConfig::default()
        };
        assert!(matches!(
            NormalizeStage::new(config),
            Err(NormalizeConfigError::Selector { .. })
        ));
    }

    #[test]
    fn relative_canonical_links_resolve_against_the_event_url() {
        assert_eq!(
            resolve_url(Some("/a/b?utm_source=x"), Some("https://Site.example/x")).as_deref(),
            Some("https://site.example/a/b")
        );
        assert_eq!(
            resolve_url(None, Some("https://site.example/x#top")).as_deref(),
            Some("https://site.example/x")
        );
        assert_eq!(resolve_url(Some("/a"), None), None);
    }
}
