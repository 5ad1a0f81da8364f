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

impl DateReading {
    pub(crate) fn time(self) -> Option<DateTime<Utc>> {
        match self {
            DateReading::At(time) => Some(time),
            DateReading::Impossible => None,
        }
    }
}

const MONTHS: &str = r"(?i:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)";

/// The date patterns, compiled once per stage.
#[derive(Debug, Clone)]
pub(crate) struct DateParser {
    iso: Regex,
    named: Regex,
}

impl DateParser {
    pub(crate) fn new() -> Result<Self, regex::Error> {
        let iso = Regex::new(
            r"^(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})(?:[T ](?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,]\d{1,9})?)?)?\s*(?P<z>Z|[+-]\d{2}(?::?\d{2})?)?$",
        )?;
        let named = Regex::new(&format!(
            r"^(?:(?i:last updated|updated|published|posted)(?:\s+on)?\s*:?\s*)?(?:(?i:mon|tue|tues|wed|wednes|thu|thur|thurs|fri|sat|satur|sun)(?i:day)?\.?,?\s+)?(?:(?P<m1>{MONTHS})\.?\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y1>\d{{4}})|(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m2>{MONTHS})\.?,?\s+(?P<y2>\d{{4}}))(?:\s*(?:/|,|-|–|\||(?i:at))?\s*(?P<h>\d{{1,2}})[:.](?P<mi>\d{{2}})(?::(?P<s>\d{{2}}))?\s*(?P<ap>(?i:[ap]\.?\s?m\.?))?(?:\s*\(?(?P<z>[A-Z]{{1,5}}|[+-]\d{{2}}:?\d{{2}})\)?)?)?\s*$"
        ))?;
        Ok(Self { iso, named })
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

/// Adds the time of day and the zone to a date.
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
fn in_zone(local: NaiveDateTime, zone: Tz) -> Option<DateTime<Utc>> {
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
        let time = reading.and_then(DateReading::time).unwrap();
        assert_eq!(crate::event::format_rfc3339(&time), "2022-06-16T10:44:00Z");
    }
}
