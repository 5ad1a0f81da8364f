//! Publication times as pages write them: RFC 3339 and ISO 8601 (`2026-04-11T18:30:00+02:00`),
//! RFC 2822, and the month-name forms of news pages (`June 16, 2022 / 6:44 AM`,
//! `16 June 2022 10:15 GMT`, `Updated: Thursday, June 16, 2022 at 6:44 a.m. ET`).
//!
//! Recognising a date and checking it are separate: `February 30, 2022` is a date line (the
//! page's own text is kept as `published_at_raw`) whose time is impossible, so `published_at`
//! becomes null instead of the article being rejected. A time without a zone is read in the
//! source's zone.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use regex::{Captures, Regex};

/// What a piece of text says about a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DateReading {
    /// A valid time, in UTC.
    At(DateTime<Utc>),
    /// Shaped like a date, but no such time exists (February 30, 25:00).
    Impossible,
}

const MONTHS: &str = r"(?i:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)";

/// Month names of the languages news pages are written in (the forms dates use: Polish and
/// Russian genitives, abbreviations), lower case.
const MONTH_NAMES: &[(&str, u32)] = &[
    // English
    ("january", 1),
    ("february", 2),
    ("march", 3),
    ("april", 4),
    ("may", 5),
    ("june", 6),
    ("july", 7),
    ("august", 8),
    ("september", 9),
    ("october", 10),
    ("november", 11),
    ("december", 12),
    ("jan", 1),
    ("feb", 2),
    ("mar", 3),
    ("apr", 4),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("sept", 9),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
    // German
    ("januar", 1),
    ("jänner", 1),
    ("februar", 2),
    ("feber", 2),
    ("märz", 3),
    ("maerz", 3),
    ("mai", 5),
    ("juni", 6),
    ("juli", 7),
    ("oktober", 10),
    ("dezember", 12),
    ("mär", 3),
    ("okt", 10),
    ("dez", 12),
    // French
    ("janvier", 1),
    ("février", 2),
    ("fevrier", 2),
    ("mars", 3),
    ("avril", 4),
    ("juin", 6),
    ("juillet", 7),
    ("août", 8),
    ("aout", 8),
    ("septembre", 9),
    ("octobre", 10),
    ("novembre", 11),
    ("décembre", 12),
    ("decembre", 12),
    ("janv", 1),
    ("févr", 2),
    ("fevr", 2),
    ("avr", 4),
    ("juil", 7),
    ("déc", 12),
    // Spanish, Portuguese
    ("enero", 1),
    ("febrero", 2),
    ("marzo", 3),
    ("abril", 4),
    ("mayo", 5),
    ("junio", 6),
    ("julio", 7),
    ("agosto", 8),
    ("septiembre", 9),
    ("setiembre", 9),
    ("octubre", 10),
    ("noviembre", 11),
    ("diciembre", 12),
    ("ene", 1),
    ("dic", 12),
    ("janeiro", 1),
    ("fevereiro", 2),
    ("março", 3),
    ("maio", 5),
    ("junho", 6),
    ("julho", 7),
    ("setembro", 9),
    ("outubro", 10),
    ("dezembro", 12),
    // Italian
    ("gennaio", 1),
    ("febbraio", 2),
    ("aprile", 4),
    ("maggio", 5),
    ("giugno", 6),
    ("luglio", 7),
    ("settembre", 9),
    ("ottobre", 10),
    ("dicembre", 12),
    ("gen", 1),
    ("mag", 5),
    ("giu", 6),
    ("lug", 7),
    ("ago", 8),
    ("set", 9),
    ("ott", 10),
    // Dutch, Scandinavian
    ("januari", 1),
    ("februari", 2),
    ("maart", 3),
    ("mei", 5),
    ("augustus", 8),
    ("mrt", 3),
    ("augusti", 8),
    ("maj", 5),
    ("marts", 3),
    ("desember", 12),
    // Polish (genitive, then nominative)
    ("stycznia", 1),
    ("lutego", 2),
    ("marca", 3),
    ("kwietnia", 4),
    ("maja", 5),
    ("czerwca", 6),
    ("lipca", 7),
    ("sierpnia", 8),
    ("września", 9),
    ("października", 10),
    ("listopada", 11),
    ("grudnia", 12),
    ("styczeń", 1),
    ("luty", 2),
    ("marzec", 3),
    ("kwiecień", 4),
    ("czerwiec", 6),
    ("lipiec", 7),
    ("sierpień", 8),
    ("wrzesień", 9),
    ("październik", 10),
    ("listopad", 11),
    ("grudzień", 12),
    // Turkish
    ("ocak", 1),
    ("şubat", 2),
    ("mart", 3),
    ("nisan", 4),
    ("mayıs", 5),
    ("haziran", 6),
    ("temmuz", 7),
    ("ağustos", 8),
    ("eylül", 9),
    ("ekim", 10),
    ("kasım", 11),
    ("aralık", 12),
    // Russian (genitive)
    ("января", 1),
    ("февраля", 2),
    ("марта", 3),
    ("апреля", 4),
    ("мая", 5),
    ("июня", 6),
    ("июля", 7),
    ("августа", 8),
    ("сентября", 9),
    ("октября", 10),
    ("ноября", 11),
    ("декабря", 12),
];

/// Words that mark the date after them as a modification, not the publication.
const UPDATE_WORDS: &[&str] = &[
    "update",
    "aktualisiert",
    "modified",
    "geändert",
    "änderung",
    "bearbeitet",
    "mis à jour",
    "actualizado",
    "actualización",
    "aggiornato",
    "bijgewerkt",
    "zaktualizowano",
    "edited",
    "revised",
    "stand:",
];

/// A date found in running text: the day, the time of day when one follows, and the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FoundDate {
    pub(crate) date: NaiveDate,
    pub(crate) time: Option<NaiveTime>,
    /// The matched text, as the page writes it.
    pub(crate) text: String,
}

/// The date patterns, compiled once per stage.
#[derive(Debug, Clone)]
pub(crate) struct DateParser {
    iso: Regex,
    named: Regex,
    /// `11.11.2021`, `01-11-2023 10:29`, `16/06/2022` as a whole value.
    numeric: Regex,
    /// In running text: `2022-06-16`, `16.06.2022`, `16/06/2022`, `16. Juni 2022`,
    /// `June 16, 2022`, each with an optional time of day.
    find_iso: Regex,
    find_numeric: Regex,
    find_dmy_named: Regex,
    find_mdy_named: Regex,
    /// `/2022/06/16/`, `/2022-06-16-`, `/20220616-`, `/16-06-2022-` in a URL's path.
    url_ymd: Regex,
    url_dmy: Regex,
    months: std::collections::HashMap<&'static str, u32>,
    /// A publication time in a page's scripts (`"datePublished":"…"`, `"publishedFirst":…`).
    script_date: Regex,
}

impl DateParser {
    pub(crate) fn new() -> Result<Self, regex::Error> {
        let iso = Regex::new(
            r"^(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})(?:[T ](?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,]\d{1,9})?)?)?\s*(?P<z>Z|[+-]\d{2}(?::?\d{2})?|UTC|GMT)?$",
        )?;
        let named = Regex::new(&format!(
            r"^(?:(?i:last updated|updated|published|posted)(?:\s+on)?\s*:?\s*)?(?:(?i:mon|tue|tues|wed|wednes|thu|thur|thurs|fri|sat|satur|sun)(?i:day)?\.?,?\s+)?(?:(?P<m1>{MONTHS})\.?\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y1>\d{{4}})|(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m2>{MONTHS})\.?,?\s+(?P<y2>\d{{4}}))(?:\s*(?:/|,|-|–|\||(?i:at))?\s*(?P<h>\d{{1,2}})[:.](?P<mi>\d{{2}})(?::(?P<s>\d{{2}}))?\s*(?P<ap>(?i:[ap]\.?\s?m\.?))?(?:\s*\(?(?P<z>[A-Z]{{1,5}}|[+-]\d{{2}}:?\d{{2}})\)?)?)?\s*$"
        ))?;
        let mut names: Vec<&str> = MONTH_NAMES.iter().map(|(n, _)| *n).collect();
        names.sort_by_key(|n| std::cmp::Reverse(n.len()));
        let month_alt = names
            .iter()
            .map(|n| regex::escape(n))
            .collect::<Vec<_>>()
            .join("|");
        let clock = r"(?:\s*(?:,|-|–|\||/|(?i:um|at|à|a las|alle|om|o))?\s*(?P<h>\d{1,2})[:.h](?P<mi>\d{2})(?::(?P<s>\d{2}))?(?:\s*(?P<ap>(?i:[ap]\.?\s?m\.?)))?)?";
        let numeric = Regex::new(&format!(
            r"^(?P<d>\d{{1,2}})[./-](?P<mo>\d{{1,2}})[./-](?P<y>\d{{4}}){clock}(?:\s*(?i:uhr|h))?\s*(?P<z>Z|[+-]\d{{2}}:?\d{{2}}|[A-Z]{{2,5}})?\s*$"
        ))?;
        let find_iso = Regex::new(
            r"(?:^|[^\d.])(?P<y>(?:19|20)\d{2})(?:-(?P<mo>[01]?\d)-(?P<d>[0-3]?\d)|\.(?P<mo2>[01]?\d)\.(?P<d2>[0-3]?\d)\.?)(?:[T ](?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?)?(?:$|[^\d])",
        )?;
        let find_numeric = Regex::new(&format!(
            r"(?:^|[^\d.])(?:(?P<d>[0-3]?\d)(?P<sep>\.\s?|/|-)(?P<mo>[0-3]?\d)(?:\.\s?|/|-)(?P<y>(?:19|20)\d{{2}})|(?P<d2>[0-3]\d)\.(?P<mo2>[01]\d)\.(?P<y2>\d{{2}}))(?:[^\d.]|$){clock}"
        ))?;
        let find_dmy_named = Regex::new(&format!(
            r"(?i)(?:^|[^\d\p{{L}}])(?P<d>[0-3]?\d)(?:st|nd|rd|th|er|º|°)?\.?\s*(?:de\s+|of\s+)?(?P<m>{month_alt})\.?,?\s*(?:de\s+|del\s+)?(?P<y>(?:19|20)\d{{2}})(?:[^\d]|$){clock}"
        ))?;
        let find_mdy_named = Regex::new(&format!(
            r"(?i)(?:^|[^\p{{L}}])(?P<m>{month_alt})\.?\s+(?P<d>[0-3]?\d)(?:st|nd|rd|th)?,?\s+(?P<y>(?:19|20)\d{{2}})(?:[^\d]|$){clock}"
        ))?;
        let url_ymd = Regex::new(
            r"/(?P<y>(?:19|20)\d{2})(?:[/_-](?P<mo>[01]?\d)[/_-](?P<d>[0-3]\d(?:[/_.-]|$)|[1-9](?:/|$))|(?P<mo2>[01]\d)(?P<d2>[0-3]\d)(?:[/_.-]|$))",
        )?;
        let url_dmy = Regex::new(
            r"/(?P<d>[0-3]\d)[-_.](?P<mo>[01]\d)[-_.](?P<y>(?:19|20)\d{2})(?:[/_.-]|$)",
        )?;
        Ok(Self {
            iso,
            named,
            numeric,
            find_iso,
            find_numeric,
            find_dmy_named,
            find_mdy_named,
            url_ymd,
            url_dmy,
            months: MONTH_NAMES.iter().copied().collect(),
            script_date: Regex::new(
                r#"["'](?:datePublished|dateCreated|publishDate|publish_date|published_at|publishedAt|first_publish_date|firstPublishDate|publishedFirst|pubDate|article_date_published|first-publication)["']\s*:\s*["']([^"']{6,40})["']"#,
            )?,
        })
    }

    /// Publication times written in a page's scripts (htmldate's `json_search`), at most a
    /// few.
    pub(crate) fn in_scripts(&self, html: &str) -> Vec<String> {
        self.script_date
            .captures_iter(html)
            .filter_map(|c| c.get(1).map(|m| m.as_str().to_owned()))
            .take(4)
            .collect()
    }

    /// The day a URL's path names (`/2022/06/16/`, `/2022-06-16-…`), if a whole one.
    pub(crate) fn in_url(&self, url: &str) -> Option<FoundDate> {
        let path = match url.find("://") {
            Some(at) => {
                let rest = &url[at + 3..];
                rest.find('/').map_or("", |slash| &rest[slash..])
            }
            None => url,
        };
        // An archive's own timestamp (`web.archive.org/web/20160218174457/http://…`) is not
        // the page's: read the archived URL.
        let path = path.rfind("http").map_or(path, |at| &path[at..]);
        let path = path.split(['?', '#']).next().unwrap_or(path);
        if let Some(caps) = self.url_ymd.captures(path) {
            let month = num(&caps, "mo").or_else(|| num(&caps, "mo2"));
            let day = caps
                .name("d")
                .and_then(|d| {
                    d.as_str()
                        .trim_end_matches(|c: char| !c.is_ascii_digit())
                        .parse()
                        .ok()
                })
                .or_else(|| num(&caps, "d2"));
            if let Some(date) = ymd(num(&caps, "y"), month, day) {
                let text = caps.get(0).map_or("", |m| m.as_str());
                return Some(FoundDate {
                    date,
                    time: None,
                    text: text.trim_matches(|c: char| !c.is_ascii_digit()).to_owned(),
                });
            }
        }
        let caps = self.url_dmy.captures(path)?;
        let date = ymd(num(&caps, "y"), num(&caps, "mo"), num(&caps, "d"))?;
        let text = caps.get(0).map_or("", |m| m.as_str());
        Some(FoundDate {
            date,
            time: None,
            text: text.trim_matches(|c: char| !c.is_ascii_digit()).to_owned(),
        })
    }

    /// The dates written in a piece of visible text, in the order they stand. Dates after an
    /// "updated" word come after the others.
    pub(crate) fn find_all(&self, text: &str, month_first: bool) -> Vec<FoundDate> {
        if !text.bytes().any(|b| b.is_ascii_digit()) {
            return Vec::new();
        }
        let mut found: Vec<(bool, usize, FoundDate)> = Vec::new();
        let mut push = |caps: &Captures<'_>, date: Option<NaiveDate>| {
            let (Some(date), Some(whole)) = (date, caps.get(0)) else {
                return;
            };
            let start = caps
                .iter()
                .flatten()
                .skip(1)
                .map(|m| m.start())
                .min()
                .unwrap_or(whole.start());
            let end = caps
                .iter()
                .flatten()
                .skip(1)
                .map(|m| m.end())
                .max()
                .unwrap_or(whole.end());
            let time = clock_of(caps);
            let before = &text[..start];
            let before = &before[before.char_indices().rev().nth(30).map_or(0, |(i, _)| i)..];
            let before = before.to_lowercase();
            let updated = UPDATE_WORDS.iter().any(|w| before.contains(w));
            found.push((
                updated,
                start,
                FoundDate {
                    date,
                    time,
                    text: text[start..end].trim().to_owned(),
                },
            ));
        };
        for caps in self.find_iso.captures_iter(text) {
            // `2022-06-16`, or `2023.11.02.` as East Asian and Hungarian pages write it.
            let month = num(&caps, "mo").or_else(|| num(&caps, "mo2"));
            let day = num(&caps, "d").or_else(|| num(&caps, "d2"));
            push(&caps, ymd(num(&caps, "y"), month, day));
        }
        for caps in self.find_numeric.captures_iter(text) {
            if caps.name("y2").is_some() {
                // `02.12.19`: two digits each, dots, day first; `98` is 1998, `19` is 2019.
                let year = num(&caps, "y2").map(|y| if y >= 70 { 1900 + y } else { 2000 + y });
                push(&caps, ymd(year, num(&caps, "mo2"), num(&caps, "d2")));
                continue;
            }
            let (a, b) = (num(&caps, "d"), num(&caps, "mo"));
            let slash = caps.name("sep").is_some_and(|s| s.as_str() == "/");
            let (day, month) = if slash
                && (month_first || a.is_some_and(|a| a <= 12) && b.is_some_and(|b| b > 12))
            {
                (b, a)
            } else {
                (a, b)
            };
            push(&caps, ymd(num(&caps, "y"), month, day));
        }
        for caps in self
            .find_dmy_named
            .captures_iter(text)
            .chain(self.find_mdy_named.captures_iter(text))
        {
            let month = caps
                .name("m")
                .and_then(|m| self.months.get(m.as_str().to_lowercase().as_str()).copied());
            push(&caps, ymd(num(&caps, "y"), month, num(&caps, "d")));
        }
        found.sort_by_key(|(updated, start, _)| (*updated, *start));
        found.into_iter().map(|(_, _, f)| f).collect()
    }

    /// Reads `text` as a date, `None` when it is not one. `zone` is used when the text has no
    /// zone of its own.
    pub(crate) fn parse(&self, text: &str, zone: Tz) -> Option<DateReading> {
        let text = text.trim();
        if text.len() < 6 || text.len() > 90 || !text.bytes().any(|b| b.is_ascii_digit()) {
            return None;
        }
        if let Ok(time) = DateTime::parse_from_rfc3339(text) {
            return Some(DateReading::At(time.with_timezone(&Utc)));
        }
        if let Some(caps) = self.iso.captures(text) {
            let date = ymd(num(&caps, "y"), num(&caps, "mo"), num(&caps, "d"));
            return Some(finish(date, &caps, None, zone));
        }
        if let Ok(time) = DateTime::parse_from_rfc2822(text) {
            return Some(DateReading::At(time.with_timezone(&Utc)));
        }
        if let Some(caps) = self.numeric.captures(text) {
            let date = ymd(num(&caps, "y"), num(&caps, "mo"), num(&caps, "d"));
            let meridiem = caps.name("ap").map(|m| m.as_str());
            return Some(finish(date, &caps, meridiem, zone));
        }
        let caps = self.named.captures(text)?;
        let (month, day, year) = match caps.name("m1") {
            Some(month) => (month.as_str(), num(&caps, "d1"), num(&caps, "y1")),
            None => (
                caps.name("m2").map_or("", |m| m.as_str()),
                num(&caps, "d2"),
                num(&caps, "y2"),
            ),
        };
        let date = month_number(month).and_then(|m| ymd(year, Some(m), day));
        let meridiem = caps.name("ap").map(|m| m.as_str());
        Some(finish(date, &caps, meridiem, zone))
    }
}

fn num(caps: &Captures<'_>, name: &str) -> Option<u32> {
    caps.name(name).and_then(|m| m.as_str().parse().ok())
}

fn ymd(year: Option<u32>, month: Option<u32>, day: Option<u32>) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(i32::try_from(year?).ok()?, month?, day?)
}

fn month_number(name: &str) -> Option<u32> {
    let prefix = name.get(..3)?.to_ascii_lowercase();
    let months = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    months
        .iter()
        .position(|m| *m == prefix)
        .and_then(|i| u32::try_from(i + 1).ok())
}

/// The time of day a text match carries, if any.
fn clock_of(caps: &Captures<'_>) -> Option<NaiveTime> {
    let hour = num(caps, "h")?;
    let hour = match caps
        .name("ap")
        .map(|m| m.as_str().trim_start().starts_with(['p', 'P']))
    {
        None => hour,
        Some(_) if hour == 0 || hour > 12 => return None,
        Some(false) => hour % 12,
        Some(true) => hour % 12 + 12,
    };
    NaiveTime::from_hms_opt(hour, num(caps, "mi")?, num(caps, "s").unwrap_or(0))
}

/// Adds the time of day and the zone to a date. A date without a time of day is that day's
/// midnight in UTC: the day is what the page states, and no zone may move it.
fn finish(
    date: Option<NaiveDate>,
    caps: &Captures<'_>,
    meridiem: Option<&str>,
    zone: Tz,
) -> DateReading {
    let Some(date) = date else {
        return DateReading::Impossible;
    };
    let time = match caps.name("h") {
        None if caps.name("z").is_none() => {
            return DateReading::At(NaiveDateTime::new(date, NaiveTime::MIN).and_utc());
        }
        None => Some(NaiveTime::MIN),
        Some(_) => {
            let hour = num(caps, "h").unwrap_or(99);
            let hour = match meridiem.map(|m| m.trim_start().starts_with(['p', 'P'])) {
                None => Some(hour),
                Some(_) if hour == 0 || hour > 12 => None,
                Some(false) => Some(hour % 12),
                Some(true) => Some(hour % 12 + 12),
            };
            hour.and_then(|h| {
                NaiveTime::from_hms_opt(
                    h,
                    num(caps, "mi").unwrap_or(0),
                    num(caps, "s").unwrap_or(0),
                )
            })
        }
    };
    let Some(time) = time else {
        return DateReading::Impossible;
    };
    let local = NaiveDateTime::new(date, time);
    let utc = match caps.name("z").map(|z| z.as_str()) {
        Some(z) => match zone_of(z) {
            Some(Zone::Fixed(offset)) => offset
                .from_local_datetime(&local)
                .single()
                .map(|t| t.with_timezone(&Utc)),
            Some(Zone::Named(tz)) => in_zone(local, tz),
            // An abbreviation newsflow does not know: the source's zone is the best guess.
            None => in_zone(local, zone),
        },
        None => in_zone(local, zone),
    };
    utc.map_or(DateReading::Impossible, DateReading::At)
}

/// A local time in a zone; a time skipped by a DST change is read an hour later.
pub(crate) fn in_zone(local: NaiveDateTime, zone: Tz) -> Option<DateTime<Utc>> {
    zone.from_local_datetime(&local)
        .earliest()
        .or_else(|| {
            zone.from_local_datetime(&(local + chrono::Duration::hours(1)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
}

enum Zone {
    Fixed(FixedOffset),
    Named(Tz),
}

/// Zone designators seen in page dates: offsets (`+02:00`, `-0400`, `Z`) and the common
/// abbreviations. `ET`/`PT` follow daylight saving, so they map to the IANA zone.
fn zone_of(designator: &str) -> Option<Zone> {
    if let Some(sign) = designator.chars().next().filter(|c| *c == '+' || *c == '-') {
        let digits: String = designator[1..]
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        let hours: i32 = digits.get(..2)?.parse().ok()?;
        let minutes: i32 = digits.get(2..4).map_or(Some(0), |m| m.parse().ok())?;
        let seconds = (hours * 3600 + minutes * 60) * if sign == '-' { -1 } else { 1 };
        return FixedOffset::east_opt(seconds).map(Zone::Fixed);
    }
    let hours = match designator {
        "Z" | "UTC" | "GMT" | "UT" => 0,
        "BST" | "CET" | "WAT" => 1,
        "CEST" | "EET" | "SAST" => 2,
        "EEST" | "MSK" => 3,
        "JST" | "KST" => 9,
        "AEST" => 10,
        "AEDT" => 11,
        "EDT" => -4,
        "EST" | "CDT" => -5,
        "CST" | "MDT" => -6,
        "MST" | "PDT" => -7,
        "PST" => -8,
        "ET" => return Some(Zone::Named(chrono_tz::America::New_York)),
        "CT" => return Some(Zone::Named(chrono_tz::America::Chicago)),
        "MT" => return Some(Zone::Named(chrono_tz::America::Denver)),
        "PT" => return Some(Zone::Named(chrono_tz::America::Los_Angeles)),
        _ => return None,
    };
    FixedOffset::east_opt(hours * 3600).map(Zone::Fixed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> String {
        let parser = DateParser::new().unwrap();
        match parser.parse(text, Tz::UTC) {
            Some(DateReading::At(t)) => crate::event::format_rfc3339(&t),
            Some(DateReading::Impossible) => "impossible".into(),
            None => "none".into(),
        }
    }

    #[test]
    fn news_page_forms_are_read() {
        assert_eq!(at("June 16, 2022 / 6:44 AM"), "2022-06-16T06:44:00Z");
        assert_eq!(at("June 16, 2022 / 6:44 PM"), "2022-06-16T18:44:00Z");
        assert_eq!(at("16 June 2022 10:15 GMT"), "2022-06-16T10:15:00Z");
        assert_eq!(at("Thursday, June 16, 2022"), "2022-06-16T00:00:00Z");
        assert_eq!(
            at("Updated: June 16, 2022 at 6:44 a.m. EDT"),
            "2022-06-16T10:44:00Z"
        );
        assert_eq!(at("2026-04-11T18:30:00+02:00"), "2026-04-11T16:30:00Z");
        assert_eq!(at("2026-04-11 18:30"), "2026-04-11T18:30:00Z");
        assert_eq!(
            at("Thu, 16 Jun 2022 06:44:00 +0000"),
            "2022-06-16T06:44:00Z"
        );
        assert_eq!(at("Sept. 3, 2021"), "2021-09-03T00:00:00Z");
    }

    #[test]
    fn impossible_dates_are_recognised_but_have_no_time() {
        assert_eq!(at("February 30, 2022"), "impossible");
        assert_eq!(at("2022-02-30"), "impossible");
        assert_eq!(at("June 16, 2022 / 13:44 PM"), "impossible");
    }

    #[test]
    fn text_that_is_not_a_date_is_not_one() {
        assert_eq!(at("World News"), "none");
        assert_eq!(at("June 16 (UPI) -- The leaders met."), "none");
        assert_eq!(at("In June 2022, the leaders met"), "none");
    }

    #[test]
    fn a_time_without_zone_is_read_in_the_given_zone() {
        let parser = DateParser::new().unwrap();
        let reading = parser.parse("June 16, 2022 / 6:44 AM", chrono_tz::America::New_York);
        let Some(DateReading::At(time)) = reading else {
            panic!("not read: {reading:?}");
        };
        assert_eq!(crate::event::format_rfc3339(&time), "2022-06-16T10:44:00Z");
    }

    #[test]
    fn a_date_without_time_is_midnight_utc_whatever_the_zone() {
        let parser = DateParser::new().unwrap();
        let reading = parser.parse("2022-06-16", chrono_tz::Europe::Berlin);
        let Some(DateReading::At(time)) = reading else {
            panic!("not read: {reading:?}");
        };
        assert_eq!(crate::event::format_rfc3339(&time), "2022-06-16T00:00:00Z");
    }

    #[test]
    fn numeric_and_utc_forms_are_read() {
        assert_eq!(at("11.11.2021"), "2021-11-11T00:00:00Z");
        assert_eq!(at("01-11-2023 10:29"), "2023-11-01T10:29:00Z");
        assert_eq!(at("2022-05-04T03:00:00 UTC"), "2022-05-04T03:00:00Z");
        assert_eq!(at("31.02.2021"), "impossible");
    }

    fn found(text: &str) -> Vec<String> {
        let parser = DateParser::new().unwrap();
        parser
            .find_all(text, false)
            .into_iter()
            .map(|f| format!("{} {}", f.date, f.text))
            .collect()
    }

    #[test]
    fn dates_in_running_text_of_many_languages() {
        assert_eq!(
            found("Veröffentlicht am 16. März 2022 um 10:15"),
            ["2022-03-16 16. März 2022 um 10:15"]
        );
        assert_eq!(
            found("Par Barbara, le 3 juin 2021"),
            ["2021-06-03 3 juin 2021"]
        );
        assert_eq!(found("4 de mayo de 2022"), ["2022-05-04 4 de mayo de 2022"]);
        assert_eq!(
            found("opublikowano 12 września 2020"),
            ["2020-09-12 12 września 2020"]
        );
        assert_eq!(
            found("Di., 25.01.2022 - 14:45"),
            ["2022-01-25 25.01.2022 - 14:45"]
        );
        assert_eq!(
            found("Posted on June 16th, 2022"),
            ["2022-06-16 June 16th, 2022"]
        );
        assert_eq!(found("12 maggio 2019"), ["2019-05-12 12 maggio 2019"]);
        assert_eq!(found("3 mei 2018"), ["2018-05-03 3 mei 2018"]);
        assert!(found("Version 1.2.3 from 2022").is_empty());
        assert!(found("Call 0800 123 4567").is_empty());
        // Two-digit years with dots, day first; year, month and day with dots.
        assert_eq!(found("02.12.19"), ["2019-12-02 02.12.19"]);
        assert_eq!(found("Am 28.01.22 / 0 Kommentare"), ["2022-01-28 28.01.22"]);
        assert_eq!(found("2023.11.02. 오후 8:06"), ["2023-11-02 2023.11.02"]);
        assert!(found("Version 10.12.3").is_empty());
        assert!(found("Score 1.2.98").is_empty());
    }

    #[test]
    fn an_update_date_comes_after_the_publication() {
        assert_eq!(
            found("Aktualisiert am 20.01.2022, erschienen am 18.01.2022"),
            ["2022-01-18 18.01.2022", "2022-01-20 20.01.2022"]
        );
    }

    #[test]
    fn slashes_are_day_first_unless_the_page_is_american() {
        let parser = DateParser::new().unwrap();
        let day = |text: &str, us: bool| {
            parser
                .find_all(text, us)
                .first()
                .map(|f| f.date.to_string())
        };
        assert_eq!(day("10/05/2022", false).as_deref(), Some("2022-05-10"));
        assert_eq!(day("10/05/2022", true).as_deref(), Some("2022-10-05"));
        assert_eq!(day("10/25/2022", false).as_deref(), Some("2022-10-25"));
    }

    #[test]
    fn dates_in_urls() {
        let parser = DateParser::new().unwrap();
        let day = |url: &str| parser.in_url(url).map(|f| f.date.to_string());
        assert_eq!(
            day("https://x.example/2023/11/08/story/").as_deref(),
            Some("2023-11-08")
        );
        assert_eq!(
            day("https://x.example/news/2021-10-20-title").as_deref(),
            Some("2021-10-20")
        );
        assert_eq!(
            day("https://x.example/a/20220124-title.html").as_deref(),
            Some("2022-01-24")
        );
        assert_eq!(
            day("https://x.example/news/23-01-2022-title/1.html").as_deref(),
            Some("2022-01-23")
        );
        assert_eq!(day("https://x.example/2023/10/3-questions-for/"), None);
        assert_eq!(day("https://x.example/2019/43/klimaschutz"), None);
        assert_eq!(
            day("https://web.archive.org/web/20160218174457/http://x.example/2010/05/19/t")
                .as_deref(),
            Some("2010-05-19")
        );
    }
}
