//! The parts of an article that every layout shares: headline shape, byline, dateline and the
//! related-stories block. Patterns are compiled once per stage.

use std::collections::HashSet;

use regex::Regex;

use super::config::NormalizeConfig;
use crate::event::{Dateline, Related};

const MONTHS: &str = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)";

/// A place name as datelines write it: capitalised words (`SEOUL`, `New York`, `KYIV, Ukraine`,
/// `OSIPOVICHI DISTRICT`), at most one comma.
const PLACE: &str = r"\p{Lu}[\p{L}.'’-]*(?:\s+(?:\p{Lu}[\p{L}.'’-]*|de|del|da|la|el|am|on|upon))*(?:\s*,\s*\p{Lu}[\p{L}.'’-]*(?:\s+\p{Lu}[\p{L}.'’-]*)*)?";

/// Longest place a dateline may name; longer "places" are sentences.
const MAX_PLACE_CHARS: usize = 48;

/// Headlines are short; a longer first line is the start of the body.
const MAX_HEADLINE_CHARS: usize = 150;
const MAX_HEADLINE_WORDS: usize = 16;

#[derive(Debug, Clone)]
pub(crate) struct Parts {
    /// `SEOUL, June 16 (UPI) --`, `June 16 (UPI) --`, `MINSK, 26 February (BelTA) –`, `(CNN)-`.
    dateline_parenthesized: Regex,
    /// `Moscow CNN —`, `CNN —`: an agency from the configured list, without parentheses.
    dateline_bare_agency: Regex,
    /// `LONDON — The ...`: an upper-case place and a long dash.
    dateline_place_only: Regex,
    /// `BERLIN, March 20 — The ...`, `Kyiv, 20 March -- ...`: a place and a date, no outlet.
    dateline_place_date: Regex,
    byline: Regex,
    /// What stands before a name in a byline, in the languages of the pages read (`By`,
    /// `Von`, `Par`, `Por`, `Di`, `Door`, `Av`, `Af`, `Text:`, `Posted by`, …).
    name_prefix: Regex,
    /// Where a name list splits: `;`, `,`, `&`, `/`, `and`, `und`, `et`, `y`, `e`, `en`, `i`.
    name_split: Regex,
    /// What is not a person's name: an e-mail, a URL, a domain, an account handle.
    not_a_name: Regex,
    sentence_break: Regex,
    /// Between a title and the site's name: ` | `, ` - `, ` » `, ` :: `, ` : `.
    title_separator: Regex,
    related_meta: Regex,
    related_age: Regex,
    related_headings: HashSet<String>,
}

impl Parts {
    pub(crate) fn new(config: &NormalizeConfig) -> Result<Self, regex::Error> {
        let mut agencies: Vec<&String> = config
            .dateline_agencies
            .iter()
            .filter(|a| !a.trim().is_empty())
            .collect();
        // Longest first, so `CNN Business` wins over `CNN`.
        agencies.sort_by_key(|a| std::cmp::Reverse(a.len()));
        let agencies = if agencies.is_empty() {
            // A pattern that never matches keeps the code path uniform.
            r"[^\s\S]".to_owned()
        } else {
            agencies
                .iter()
                .map(|a| regex::escape(a.trim()))
                .collect::<Vec<_>>()
                .join("|")
        };
        let date = format!(
            r"(?:{MONTHS}\.?\s+\d{{1,2}}(?:,\s*\d{{4}})?|\d{{1,2}}\s+{MONTHS}(?:\s+\d{{4}})?)"
        );
        Ok(Self {
            dateline_parenthesized: Regex::new(&format!(
                r"^(?:(?P<place>{PLACE})\s*,?\s+)?(?:(?P<date>{date})\s*,?\s*)?\((?P<agency>\p{{Lu}}[\p{{L}}\p{{N}} .&'’-]{{0,30}}|{agencies})\)\s*(?:--|[-–—])\s*"
            ))?,
            dateline_bare_agency: Regex::new(&format!(
                r"^(?:(?P<place>{PLACE})\s*,?\s+)?(?P<agency>{agencies})\s*(?:--|[–—])\s*"
            ))?,
            dateline_place_date: Regex::new(&format!(
                r"^(?P<place>{PLACE})\s*,\s*(?P<date>{date})\s*,?\s*(?:--|[–—])\s*"
            ))?,
            dateline_place_only: Regex::new(
                r"^(?P<place>\p{Lu}[\p{Lu}.'’-]+(?:\s+\p{Lu}[\p{Lu}.'’-]+)*(?:\s*,\s*\p{Lu}[\p{L}.]+(?:\s+\p{Lu}[\p{L}.]+)*)?)\s*(?:--|—)\s*",
            )?,
            byline: Regex::new(
                r"^(?i:by|von|par|por|door|text|text von|autor|autorin|autoren|author|auteur|written by|posted by|geschrieben von|veröffentlicht von|verfasst von|eingestellt von|gespeichert von|erstellt von|ein artikel von|ein beitrag von|artikel von|beitrag von|publié par|écrit par|escrito por|publicado por)\b\s*:?\s*(?P<names>\S.{0,120})$",
            )?,
            name_prefix: Regex::new(
                r"(?i)^(?:[~|·•:©\-–—]\s*)?(?:(?:written|posted|published|veröffentlicht|geschrieben|verfasst|erstellt|artikel|beitrag|gastbeitrag|pressemitteilung|publié|écrit|escrito|publicado|scritto|pubblicato|text|ein beitrag)\s+(?:by|von|par|por|da)\b|interview\b|©|by\b|von\b|vom\b|par\b|por\b|di\b|door\b|av\b|af\b|text\b|autor(?:in)?\b|author\b|auteur\b|redakteur(?:in)?\b|fotos?\b|photos?\b)\s*:?\s*",
            )?,
            name_split: Regex::new(
                r"(?i)\s*(?:;|,|&|/|\|)\s*|\s+(?:and|und|et|y|e|en|i|og|och)\s+",
            )?,
            not_a_name: Regex::new(
                r"(?i)@|https?:|www\.|\[at\]|^\S+\.[a-z]{2,12}$|^[\p{L}\d]+[._][\p{L}\d._]+$|^(?:admin|wordpressadmin|administrator|no author|unknown|anonym|anonymous|guest|editor|webmaster|null|none|follow|folgen|profil|profile|kontakt|contact|quelle|source)$|admin$",
            )?,
            title_separator: Regex::new(r"\s+(?:[|\-–—»«·/•~]|::?)\s+|\s*[|»«]\s*")?,
            sentence_break: Regex::new(r#"[.!?]["”’)]?\s+["“‘(]?\p{Lu}|\p{Ll}[.!?]\p{Lu}"#)?,
            related_meta: Regex::new(r"^(?P<section>[^/]{1,60}?)\s*//\s*(?P<age>\S.{0,40})$")?,
            related_age: Regex::new(
                r"(?i)^(?:\d+\s+(?:seconds?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)\s+ago|yesterday|just now)$",
            )?,
            related_headings: config
                .related_headings
                .iter()
                .map(|h| super::clean::tidy(h).to_lowercase())
                .filter(|h| !h.is_empty())
                .collect(),
        })
    }

    /// A headline's shape: short, has letters, not a sentence (no terminal period, no sentence
    /// break inside), not a dateline or a dialogue line.
    pub(crate) fn is_headline(&self, line: &str) -> bool {
        let line = line.trim();
        if line.is_empty() || line.len() > MAX_HEADLINE_CHARS * 4 {
            return false;
        }
        if line.chars().count() > MAX_HEADLINE_CHARS
            || line.split_whitespace().count() > MAX_HEADLINE_WORDS
            || !line.chars().any(char::is_alphabetic)
        {
            return false;
        }
        let ends_as_sentence = (line.ends_with('.') && !line.ends_with("..."))
            || line.ends_with([',', ';', ':', '-', '–', '—']);
        let starts_as_dialogue = line.starts_with(['-', '–', '—']);
        !ends_as_sentence
            && !starts_as_dialogue
            && !self.sentence_break.is_match(line)
            && !line.starts_with("By ")
    }

    /// The names of a byline (`By Thomas Maresca`, `By A and B`, `By Tomas Reyes · April 11`),
    /// or `None` when the line is not one.
    pub(crate) fn byline(&self, line: &str) -> Option<Vec<String>> {
        let caps = self.byline.captures(line.trim())?;
        let names = caps.name("names")?.as_str();
        // Whatever follows a separator (a date, a role, an agency) is not a name.
        let names = names
            .split(['·', '|', '•', '\t'])
            .next()
            .unwrap_or(names)
            .split(" - ")
            .next()
            .unwrap_or(names)
            .split(" — ")
            .next()
            .unwrap_or(names)
            .trim();
        // "By Friday, the troops had left." is a sentence, not a byline.
        if names.ends_with('.') && !names.ends_with(|c: char| c.is_uppercase()) {
            let last = names.trim_end_matches('.');
            if last.rsplit(' ').next().is_none_or(|w| w.len() != 1) {
                return None;
            }
        }
        // `Von R. R. am 07.08.2013 um 09:07 Uhr`, `Posted by Konstantin 21.10.2019`.
        let names = cut_name_tail(names).trim_end_matches([',', ';', ':', ' ']);
        let mut out = Vec::new();
        for part in names.split([',', '&']).flat_map(|p| p.split(" and ")) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            if !is_name(part) {
                return None;
            }
            out.push(part.to_owned());
        }
        (!out.is_empty()).then_some(out)
    }

    /// The names of a byline or author field as pages write them: prefixes (`Von`, `Par`,
    /// `By`) stripped, what follows a separator or a date cut, several names split, and
    /// credentials (`PhD`), e-mail addresses, URLs, domains, handles and the site's own name
    /// (`site`, already folded with [`fold_name`]) refused.
    ///
    /// `split`: whether the field may hold several names; one of a list of separate entries
    /// (JSON-LD's `[{"name": "Tom & Co"}, …]`) is one name.
    pub(crate) fn author_names(&self, raw: &str, site: &[String], split: bool) -> Vec<String> {
        let text = super::clean::tidy(raw);
        let mut text: &str = text.trim();
        if text.chars().count() > MAX_AUTHOR_FIELD_CHARS {
            return Vec::new();
        }
        while let Some(m) = self.name_prefix.find(text) {
            if m.end() >= text.len() {
                // A label alone (`Published by`, `Autor:`) names nobody.
                return Vec::new();
            }
            if m.end() == 0 {
                break;
            }
            text = text[m.end()..].trim_start();
        }
        // A whole field that is one domain, address or account is no name.
        if !text.contains(char::is_whitespace) && self.not_a_name.is_match(text) {
            return Vec::new();
        }
        let text = cut_name_tail(text);
        let text = text.trim_matches(|c: char| c.is_whitespace() || ",;:|-–—~/".contains(c));
        let lower = text.to_ascii_lowercase();
        if lower.contains("http") || lower.contains("www.") {
            return Vec::new();
        }
        let mut out: Vec<String> = Vec::new();
        let parts: Vec<&str> = if split {
            self.name_split.split(text).collect()
        } else {
            vec![text]
        };
        for part in parts {
            let name =
                part.trim_matches(|c: char| c.is_whitespace() || ",;:|-–—~'\"“”„«»()".contains(c));
            if name.is_empty()
                || name.chars().count() > MAX_NAME_CHARS
                || name.split_whitespace().count() > MAX_NAME_WORDS
                || !name.chars().any(char::is_alphabetic)
                || CREDENTIALS.iter().any(|c| name.eq_ignore_ascii_case(c))
                || NAME_ENDERS.contains(&name.to_lowercase().as_str())
                || ["by", "von", "par", "por", "de", "di"].contains(&name.to_lowercase().as_str())
                || self.not_a_name.is_match(name)
                || site.iter().any(|s| !s.is_empty() && fold_name(name) == *s)
            {
                continue;
            }
            if !out.iter().any(|o| o.eq_ignore_ascii_case(name)) {
                out.push(name.to_owned());
            }
        }
        out
    }

    /// A title without the site's name (`site`, folded with [`fold_name`]) before or after
    /// it: `Title | Site`, `Site » Blog Archiv » Title`, `Title - site.de`. A part equal to
    /// one of the page's `<h1>` texts (`h1s`, lower case) is the title itself.
    pub(crate) fn strip_site_name(&self, title: &str, site: &[String], h1s: &[String]) -> String {
        let title = title.trim();
        let mut bounds: Vec<(usize, usize)> = Vec::new();
        let mut start = 0;
        for m in self.title_separator.find_iter(title) {
            bounds.push((start, m.start()));
            start = m.end();
        }
        bounds.push((start, title.len()));
        if bounds.len() < 2 {
            return title.to_owned();
        }
        if let Some(&(a, b)) = bounds
            .iter()
            .find(|&&(a, b)| h1s.iter().any(|h| title[a..b].trim().to_lowercase() == *h))
        {
            return title[a..b].trim().to_owned();
        }
        let is_site = |text: &str| {
            let folded = fold_name(text);
            !folded.is_empty()
                && (SITE_WORDS.contains(&text.trim().to_lowercase().as_str())
                    || site.iter().any(|s| {
                        s.len() >= 3
                            && (folded == *s
                                || (folded.len() >= 4
                                    && (folded.contains(s.as_str())
                                        || s.contains(folded.as_str()))))
                    }))
        };
        let (mut first, mut last) = (0, bounds.len() - 1);
        while last > first && is_site(&title[bounds[last].0..bounds[last].1]) {
            last -= 1;
        }
        while first < last && is_site(&title[bounds[first].0..bounds[first].1]) {
            first += 1;
        }
        title[bounds[first].0..bounds[last].1].trim().to_owned()
    }

    /// Splits a dateline off the start of a paragraph: the dateline and the rest of the text.
    pub(crate) fn dateline<'a>(&self, paragraph: &'a str) -> Option<(Dateline, &'a str)> {
        let text = paragraph.trim_start();
        let (dateline, rest) = if let Some(caps) = self.dateline_parenthesized.captures(text) {
            let whole = caps.get(0)?;
            let dateline = Dateline {
                place: caps.name("place").map(|m| m.as_str().trim().to_owned()),
                date_text: caps.name("date").map(|m| m.as_str().trim().to_owned()),
                agency: caps.name("agency").map(|m| m.as_str().trim().to_owned()),
            };
            (dateline, &text[whole.end()..])
        } else if let Some(caps) = self.dateline_bare_agency.captures(text) {
            let whole = caps.get(0)?;
            let rest = &text[whole.end()..];
            if !starts_like_sentence(rest) {
                return None;
            }
            let dateline = Dateline {
                place: caps.name("place").map(|m| m.as_str().trim().to_owned()),
                date_text: None,
                agency: caps.name("agency").map(|m| m.as_str().trim().to_owned()),
            };
            (dateline, rest)
        } else if let Some(caps) = self.dateline_place_date.captures(text) {
            let whole = caps.get(0)?;
            let rest = &text[whole.end()..];
            if !starts_like_sentence(rest) {
                return None;
            }
            let dateline = Dateline {
                place: caps.name("place").map(|m| m.as_str().trim().to_owned()),
                date_text: caps.name("date").map(|m| m.as_str().trim().to_owned()),
                agency: None,
            };
            (dateline, rest)
        } else if let Some(caps) = self.dateline_place_only.captures(text) {
            let whole = caps.get(0)?;
            let rest = &text[whole.end()..];
            let place = caps.name("place")?.as_str().trim();
            if rest.is_empty() || !starts_like_sentence(rest) || place.chars().count() < 3 {
                return None;
            }
            let dateline = Dateline {
                place: Some(place.to_owned()),
                date_text: None,
                agency: None,
            };
            (dateline, rest)
        } else {
            return None;
        };
        if dateline
            .place
            .as_ref()
            .is_some_and(|p| p.chars().count() > MAX_PLACE_CHARS)
        {
            return None;
        }
        Some((dateline, rest.trim_start()))
    }

    /// True when a line heads a related-stories block.
    pub(crate) fn is_related_heading(&self, line: &str) -> bool {
        line.len() <= 40
            && self
                .related_headings
                .contains(line.trim().trim_end_matches(':').to_lowercase().as_str())
    }

    /// The items of a related-stories block: each a headline, optionally followed by a
    /// `Section // 2 hours ago` line and a lede.
    pub(crate) fn related_items(&self, lines: &[String]) -> Vec<Related> {
        let metas: Vec<usize> = (0..lines.len())
            .filter(|&i| self.meta(&lines[i]).is_some())
            .collect();
        let title_only = |line: &String| Related {
            title: line.clone(),
            section: None,
            age_text: None,
            summary: None,
        };
        if metas.is_empty() {
            return lines.iter().map(title_only).collect();
        }
        let mut items = Vec::new();
        // Headlines before the first one with a meta line stand alone.
        let first_title = metas[0].saturating_sub(1);
        items.extend(lines[..first_title].iter().map(title_only));
        for (k, &meta_index) in metas.iter().enumerate() {
            if meta_index == 0 || (k > 0 && metas[k - 1] == meta_index - 1) {
                continue;
            }
            let (section, age_text) = self.meta(&lines[meta_index]).unwrap_or((None, None));
            let summary_end = metas
                .get(k + 1)
                .map_or(lines.len(), |&next| next.saturating_sub(1))
                .max(meta_index + 1);
            let summary = lines[meta_index + 1..summary_end].join(" ");
            items.push(Related {
                title: lines[meta_index - 1].clone(),
                section,
                age_text,
                summary: (!summary.is_empty()).then_some(summary),
            });
        }
        items
    }

    #[allow(clippy::type_complexity)]
    fn meta(&self, line: &str) -> Option<(Option<String>, Option<String>)> {
        if let Some(caps) = self.related_meta.captures(line) {
            let section = caps.name("section").map(|m| m.as_str().trim().to_owned());
            let age = caps.name("age").map(|m| m.as_str().trim().to_owned());
            return Some((section.filter(|s| !s.is_empty()), age));
        }
        self.related_age
            .is_match(line)
            .then(|| (None, Some(line.trim().to_owned())))
    }
}

/// A name without what pages write after it: a separator and what follows (a date, a role,
/// the outlet), a date, or a word that ends names (a weekday, a month, a role, `am`/`on`
/// before a date).
fn cut_name_tail(mut text: &str) -> &str {
    // What follows a separator (a date, a role, the outlet) is not a name.
    for sep in [" - ", " – ", " — ", " | ", "•", "·", "\t", " (", " @"] {
        if let Some(at) = text.find(sep).filter(|&at| at > 0) {
            text = &text[..at];
        }
    }
    // A date after the name (`Anna Roth 12.03.2020`, `Anna Roth20. November 2018`,
    // `Anna Roth 9 Apr`), not the digits of an account (`freeman1984`).
    let bytes = text.as_bytes();
    let date_at = (1..bytes.len()).find(|&i| {
        let run_end = (i..bytes.len())
            .find(|&j| !bytes[j].is_ascii_digit())
            .unwrap_or(bytes.len());
        bytes[i].is_ascii_digit()
            && !bytes[i - 1].is_ascii_digit()
            && (!bytes[i - 1].is_ascii_alphanumeric() || bytes.get(run_end) == Some(&b'.'))
    });
    if let Some(at) = date_at {
        text = &text[..at];
    }
    // A weekday, a month, a role or "posted on" after the name ends it; so does a
    // weekday's abbreviation before a day (`Anna Roth Do 9 Apr`).
    let mut end = text.len();
    let words = text.split_word_bound_indices_ascii();
    for (n, &(i, word)) in words.iter().enumerate() {
        let word = word.trim_end_matches([':', '.']).to_lowercase();
        let next = words.get(n + 1).map(|(_, next)| *next);
        // Before a day, or last once the day was cut (`Heiko Sauer Do 9 Apr` → `… Do`).
        let before_day = next.map_or(date_at.is_some(), |next| {
            next.starts_with(|c: char| c.is_ascii_digit())
        });
        // `am`, `le`, `on` end a name before a date, or left at the end once a date was cut
        // (`Anna Roth am 3. Mai`, `Anna Roth am`), not inside it (`Loïc Le Clerc`, `S. Um`).
        let before_date = before_day
            || next.is_some_and(|next| {
                let next = next.trim_end_matches([':', '.', ',']).to_lowercase();
                NAME_ENDERS.contains(&next.as_str())
                    || WEEKDAY_ABBREVIATIONS.contains(&next.as_str())
            })
            || (next.is_none() && DANGLING.contains(&word.as_str()));
        // A weekday's abbreviation only before a day: `Mei Sun` is a name.
        if i > 0
            && ((NAME_ENDERS.contains(&word.as_str())
                && (before_date || !PREPOSITIONS.contains(&word.as_str())))
                || (before_day && WEEKDAY_ABBREVIATIONS.contains(&word.as_str())))
        {
            end = i;
            break;
        }
    }
    &text[..end]
}

/// Words that end a name in a byline: weekdays, months, roles and the words of a date line
/// (`Alex Bozarjian Thursday, November 9`, `Christoph Hein Chefredakteur`, `Anna am`).
const NAME_ENDERS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "montag",
    "dienstag",
    "mittwoch",
    "donnerstag",
    "freitag",
    "samstag",
    "sonntag",
    "lundi",
    "mardi",
    "mercredi",
    "jeudi",
    "vendredi",
    "samedi",
    "dimanche",
    "january",
    "february",
    "march",
    "april",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "januar",
    "februar",
    "märz",
    "juni",
    "juli",
    "oktober",
    "dezember",
    "staff",
    "chefredakteur",
    "chefredakteurin",
    "redakteur",
    "redakteurin",
    "reporter",
    "correspondent",
    "korrespondent",
    "korrespondentin",
    "journalist",
    "journalistin",
    "contributor",
    "am",
    "on",
    "at",
    "um",
    "le",
    "el",
    "il",
    "vor",
    "mehr",
    "publiziert",
    "posted",
    "published",
    "veröffentlicht",
    "updated",
    "aktualisiert",
    "datum",
    "stand",
    "min",
    "minuten",
    "stunden",
    "hours",
    "lesezeit",
];

/// Name enders that are also words of names (`Le Clerc`, `El Hassan`): they end a name only
/// before a date or at the end of the line.
const PREPOSITIONS: &[&str] = &["am", "on", "at", "um", "le", "el", "il", "vor"];

/// The prepositions that end a name at the end of a line, where a cut date left them.
const DANGLING: &[&str] = &["am", "on", "le"];

/// Weekdays abbreviated (English, German, French), which end a name only before a day.
const WEEKDAY_ABBREVIATIONS: &[&str] = &[
    "mon", "tue", "wed", "thu", "fri", "sat", "sun", "mo", "di", "mi", "do", "fr", "sa", "so",
    "lun", "mar", "mer", "jeu", "ven", "sam", "dim",
];

/// Parts of a `<title>` that name a section of any site, not the article.
const SITE_WORDS: &[&str] = &[
    "blog archiv",
    "blog archive",
    "blog",
    "home",
    "startseite",
    "news",
    "nachrichten",
    "aktuelles",
];

/// An author field longer than this is a paragraph, not a byline.
const MAX_AUTHOR_FIELD_CHARS: usize = 200;
const MAX_NAME_CHARS: usize = 60;
const MAX_NAME_WORDS: usize = 6;
/// Titles that follow a name after a comma and are not names.
const CREDENTIALS: &[&str] = &[
    "phd", "ph.d.", "md", "m.d.", "dr", "dr.", "prof", "prof.", "msc", "ma", "ba", "mba", "jr",
    "jr.", "sr", "sr.",
];

/// Words of a text with their byte offsets, split at whitespace.
trait WordIndices {
    fn split_word_bound_indices_ascii(&self) -> Vec<(usize, &str)>;
}

impl WordIndices for str {
    fn split_word_bound_indices_ascii(&self) -> Vec<(usize, &str)> {
        let mut out = Vec::new();
        let mut start = None;
        for (i, c) in self.char_indices() {
            if c.is_whitespace() || c == ',' {
                if let Some(s) = start.take() {
                    out.push((s, &self[s..i]));
                }
            } else if start.is_none() {
                start = Some(i);
            }
        }
        if let Some(s) = start {
            out.push((s, &self[s..]));
        }
        out
    }
}

/// A name folded for comparison with a site's name: letters and digits, lower case
/// (`Angelmagazin.de` and `angelmagazin` fold alike once the domain ending is dropped).
pub(crate) fn fold_name(name: &str) -> String {
    let lower = name.trim().to_lowercase();
    let lower = lower.strip_prefix("www.").unwrap_or(&lower);
    let base = match lower.rsplit_once('.') {
        Some((base, tld))
            if !base.contains(' ')
                && (2..=12).contains(&tld.len())
                && tld.chars().all(|c| c.is_ascii_alphabetic()) =>
        {
            base
        }
        _ => lower,
    };
    base.chars().filter(|c| c.is_alphanumeric()).collect()
}

/// After a dateline the story starts: a capital, a digit or an opening quote (or nothing, when
/// the dateline stands on its own line).
fn starts_like_sentence(rest: &str) -> bool {
    rest.trim_start()
        .chars()
        .next()
        .is_none_or(|c| c.is_uppercase() || c.is_ascii_digit() || "\"“‘'(".contains(c))
}

/// A person's name as bylines write them: 1 to 5 words, each capitalised (or a particle).
fn is_name(part: &str) -> bool {
    let words: Vec<&str> = part.split_whitespace().collect();
    if words.is_empty() || words.len() > 5 {
        return false;
    }
    words.iter().all(|word| {
        word.chars().next().is_some_and(char::is_uppercase)
            || matches!(
                *word,
                "de" | "da" | "van" | "von" | "der" | "den" | "bin" | "al" | "la" | "le" | "di"
            )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts() -> Parts {
        Parts::new(&NormalizeConfig::default()).unwrap()
    }

    fn dl(place: Option<&str>, date: Option<&str>, agency: Option<&str>) -> Dateline {
        Dateline {
            place: place.map(Into::into),
            date_text: date.map(Into::into),
            agency: agency.map(Into::into),
        }
    }

    #[test]
    fn datelines_of_the_wires() {
        let p = parts();
        let cases = [
            (
                "SEOUL, June 16 (UPI) -- North Korea has begun.",
                dl(Some("SEOUL"), Some("June 16"), Some("UPI")),
                "North Korea has begun.",
            ),
            (
                "June 16 (UPI) -- Chinese President Xi.",
                dl(None, Some("June 16"), Some("UPI")),
                "Chinese President Xi.",
            ),
            (
                "MINSK, 26 February (BelTA) – Belarus is ready.",
                dl(Some("MINSK"), Some("26 February"), Some("BelTA")),
                "Belarus is ready.",
            ),
            (
                "MINSK, 28 January (BelTA) –Belarusian President.",
                dl(Some("MINSK"), Some("28 January"), Some("BelTA")),
                "Belarusian President.",
            ),
            (
                "(CNN)- The Secretary-General spoke.",
                dl(None, None, Some("CNN")),
                "The Secretary-General spoke.",
            ),
            ("Moscow CNN —", dl(Some("Moscow"), None, Some("CNN")), ""),
            (
                "New York CNN Business — Stocks fell.",
                dl(Some("New York"), None, Some("CNN Business")),
                "Stocks fell.",
            ),
            (
                "KYIV, Ukraine (AP) — Sirens sounded.",
                dl(Some("KYIV, Ukraine"), None, Some("AP")),
                "Sirens sounded.",
            ),
            (
                "LONDON — The prime minister said.",
                dl(Some("LONDON"), None, None),
                "The prime minister said.",
            ),
        ];
        for (text, dateline, rest) in cases {
            assert_eq!(p.dateline(text), Some((dateline, rest)), "{text}");
        }
    }

    #[test]
    fn datelines_of_any_outlet() {
        let p = parts();
        let cases = [
            (
                "MOSCOW, March 20 (Courier) — The talks began.",
                dl(Some("MOSCOW"), Some("March 20"), Some("Courier")),
                "The talks began.",
            ),
            (
                "PARIS (Reuters) - France said on Monday.",
                dl(Some("PARIS"), None, Some("Reuters")),
                "France said on Monday.",
            ),
            (
                "BERLIN, March 20 — The government fell.",
                dl(Some("BERLIN"), Some("March 20"), None),
                "The government fell.",
            ),
            (
                "Kyiv, March 20, 2023 (The Daily Star) -- Sirens sounded.",
                dl(Some("Kyiv"), Some("March 20, 2023"), Some("The Daily Star")),
                "Sirens sounded.",
            ),
            (
                "NEW YORK, Sept. 3 (Courier) – Stocks rose.",
                dl(Some("NEW YORK"), Some("Sept. 3"), Some("Courier")),
                "Stocks rose.",
            ),
            (
                "LONDON, 20 March — Rain fell.",
                dl(Some("LONDON"), Some("20 March"), None),
                "Rain fell.",
            ),
        ];
        for (text, dateline, rest) in cases {
            assert_eq!(p.dateline(text), Some((dateline, rest)), "{text}");
        }
    }

    #[test]
    fn body_sentences_are_not_datelines() {
        let p = parts();
        for text in [
            "Chinese President Xi Jinping has told Kremlin leader Vladimir Putin.",
            "NATO — the alliance — met on Monday.",
            "The leaders (all of them) - met.",
            "In 2022 (as UPI reported) -- prices rose.",
            "Putin (pictured) - met Xi.",
        ] {
            assert_eq!(p.dateline(text), None, "{text}");
        }
    }

    #[test]
    fn bylines_give_names_and_sentences_do_not() {
        let p = parts();
        assert_eq!(
            p.byline("By Thomas Maresca"),
            Some(vec!["Thomas Maresca".into()])
        );
        assert_eq!(
            p.byline("By Ana de la Cruz and Li Wei, Jo Park"),
            Some(vec![
                "Ana de la Cruz".into(),
                "Li Wei".into(),
                "Jo Park".into()
            ])
        );
        assert_eq!(
            p.byline("By Tomas Reyes · April 11, 2026"),
            Some(vec!["Tomas Reyes".into()])
        );
        assert_eq!(p.byline("By Friday, the troops had left."), None);
        assert_eq!(p.byline("By then it was too late"), None);
    }

    #[test]
    fn author_fields_give_clean_names() {
        let p = parts();
        let site = vec![fold_name("finanztreff.de"), fold_name("Die Furche")];
        let names = |raw: &str| p.author_names(raw, &site, true);
        assert_eq!(names("von Heiko Adams"), ["Heiko Adams"]);
        assert_eq!(names("Par Barbara Stiegler"), ["Barbara Stiegler"]);
        assert_eq!(
            names("Por Williams Perdomo @wperdomod -"),
            ["Williams Perdomo"]
        );
        assert_eq!(names("By James Whittaker -"), ["James Whittaker"]);
        assert_eq!(names("Veröffentlicht von Chris Jung"), ["Chris Jung"]);
        assert_eq!(names("Erstellt von Andri Bryner"), ["Andri Bryner"]);
        assert_eq!(names("Ana Ruiz und Bo Li"), ["Ana Ruiz", "Bo Li"]);
        assert_eq!(
            names("Ana Ruiz; Bo Li & Jo Park"),
            ["Ana Ruiz", "Bo Li", "Jo Park"]
        );
        assert_eq!(names("Grant Tinsley, PhD"), ["Grant Tinsley"]);
        assert_eq!(names("Janic Cathomen, 01.12.2021"), ["Janic Cathomen"]);
        assert_eq!(
            names("Romana Mengershausen20. November 2018"),
            ["Romana Mengershausen"]
        );
        assert_eq!(
            names("Alex Bozarjian Thursday, November 9"),
            ["Alex Bozarjian"]
        );
        assert_eq!(names("© Kathrin Führes"), ["Kathrin Führes"]);
        assert_eq!(names("bo2man"), ["bo2man"]);
        assert!(names("LAOLA1.at").is_empty());
        assert!(names("Veröffentlicht").is_empty());
        assert_eq!(p.author_names("Tom & Co", &site, false), ["Tom & Co"]);
        for refused in [
            "wordpressadmin",
            "finanztreff.de",
            "Die Furche",
            "cipha[at]cipha.net",
            "https://www.facebook.com/someone",
            "christian.stadtfeld",
            "jan@example.org",
            "No Author",
        ] {
            assert!(names(refused).is_empty(), "{refused}");
        }
    }

    #[test]
    fn titles_lose_the_site_name() {
        let p = parts();
        let site = vec![fold_name("St.Galler Tagblatt"), fold_name("time4talks.com")];
        let strip = |t: &str| p.strip_site_name(t, &site, &[]);
        assert_eq!(
            strip("Tanz in der Lokremise: Mit allen Wassern gewaschen | St.Galler Tagblatt"),
            "Tanz in der Lokremise: Mit allen Wassern gewaschen"
        );
        assert_eq!(
            strip("Time 4 talks » Blog Archiv » Weitere Digitalisierung der Kinos"),
            "Weitere Digitalisierung der Kinos"
        );
        assert_eq!(
            strip("Habeck in München - Windkraft in Bayern"),
            "Habeck in München - Windkraft in Bayern"
        );
        assert_eq!(
            p.strip_site_name(
                "Alles Neue | Bibliothek 2.0 und mehr",
                &[],
                &["alles neue".into()]
            ),
            "Alles Neue"
        );
    }

    #[test]
    fn headline_shapes() {
        let p = parts();
        for yes in [
            "Ad sales boost Time Warner profit",
            "Could Yukos be a blessing in disguise?",
            "Rivals of the £400 Apple...",
            "France v Wales (Sat)",
        ] {
            assert!(p.is_headline(yes), "{yes}");
        }
        for no in [
            "The leaders met on Monday.",
            "Moscow CNN —",
            "16:14",
            "- If it depends on us, there will be no war - said Lavrov",
            "Video Andrzej Duda in Kiev.The reason, among others",
            "The theme of the day in Ukraine was explosions in the Russian military base in the western part of Crimea today",
        ] {
            assert!(!p.is_headline(no), "{no}");
        }
    }

    #[test]
    fn related_items_with_meta_lines() {
        let p = parts();
        let lines: Vec<String> = [
            "First headline",
            "World News // 2 hours ago",
            "June 16 (UPI) -- First lede.",
            "Second headline",
            "Sports // 1 day ago",
            "Second lede.",
            "More of the second lede.",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let items = p.related_items(&lines);
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].title, "First headline");
        assert_eq!(items[0].section.as_deref(), Some("World News"));
        assert_eq!(items[0].age_text.as_deref(), Some("2 hours ago"));
        assert_eq!(
            items[0].summary.as_deref(),
            Some("June 16 (UPI) -- First lede.")
        );
        assert_eq!(
            items[1].summary.as_deref(),
            Some("Second lede. More of the second lede.")
        );
        assert!(p.is_related_heading("Latest Headlines"));
        assert!(p.is_related_heading("LATEST HEADLINES:"));
        assert!(!p.is_related_heading("Latest Headlines in the war"));
    }
}
