//! The normalizer's configuration: serde-deserializable (a YAML or JSON file can feed it), with
//! explicit defaults. Everything a site does differently lives here, keyed by source name, so the
//! code never branches on a source: its time zone and its own clutter lines. Generic clutter
//! (share and cookie lines, newsletter promotions, "VIEW VIDEO") is a default list, not code.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::decode::DEFAULT_MAX_CONTENT_BYTES;

/// How the normalizer reads pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NormalizeConfig {
    /// Pages above this many bytes are rejected as `too_large` (default 2 MiB).
    pub max_content_bytes: usize,
    /// IANA zone for page times written without one, unless the source has its own (default
    /// `UTC`).
    pub default_time_zone: String,
    /// Lines that are never part of an article, on any site: exact lines (compared ignoring case
    /// and spacing) or `{regex: ...}` entries matched against the whole tidied line.
    pub clutter_lines: Vec<ClutterLine>,
    /// Regexes for photo captions and credits: a line matching one is dropped.
    pub caption_credits: Vec<String>,
    /// Headings that start a related-stories block ("Latest Headlines"); compared ignoring case.
    /// Everything after such a heading becomes `related[]`, not body.
    pub related_headings: Vec<String>,
    /// Agency names that may stand without parentheses in a dateline (`Moscow CNN —`).
    /// Parenthesized agencies (`SEOUL, June 16 (UPI) --`) are recognised without this list.
    pub dateline_agencies: Vec<String>,
    /// CSS selectors of HTML page furniture whose text never reaches the body, on top of what
    /// the extractor finds by scoring the page (for a site whose widgets it keeps).
    pub html_boilerplate: Vec<String>,
    /// How many characters of the body the language detector reads (a few hundred are
    /// plenty for an article).
    pub language_sample_chars: usize,
    /// ISO 639-1 codes the detector may answer (empty: every language whatlang knows, ~70).
    /// Language detection is the normalizer's most expensive step and its cost grows with
    /// the number of candidates, so a deployment that knows its languages should list them.
    pub languages: Vec<String>,
    /// Per-source settings, keyed by the raw event's `source`.
    pub sources: BTreeMap<String, SourceConfig>,
}

/// Settings for one source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourceConfig {
    /// IANA zone (`America/New_York`) for this source's page times written without a zone.
    pub time_zone: Option<String>,
    /// Clutter lines of this source, in addition to the global ones.
    pub clutter_lines: Vec<ClutterLine>,
    /// ISO 639-1 code of the language the source publishes in. When set, detection is skipped
    /// for the source (a producer's `hints.language` still wins).
    pub language: Option<String>,
}

/// One clutter line: a plain string is an exact line; `{regex: "..."}` is a pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ClutterLine {
    Exact(String),
    Regex { regex: String },
}

impl ClutterLine {
    fn exact(line: &str) -> Self {
        ClutterLine::Exact(line.to_owned())
    }

    fn regex(pattern: &str) -> Self {
        ClutterLine::Regex {
            regex: pattern.to_owned(),
        }
    }
}

/// Why a configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NormalizeConfigError {
    #[error("time zone {zone:?} (for {scope}) is not an IANA time zone name")]
    TimeZone { scope: String, zone: String },
    #[error("pattern {pattern:?} (for {scope}) is not a valid regex: {message}")]
    Regex {
        scope: String,
        pattern: String,
        message: String,
    },
    #[error("html_boilerplate selector {selector:?} is not a valid CSS selector: {message}")]
    Selector { selector: String, message: String },
    #[error("language codes {codes:?} (for {scope}) are not ISO 639-1 codes newsflow detects")]
    Language { scope: String, codes: Vec<String> },
    #[error("the main-text block model is not one newsflow reads: {message}")]
    BlockModel { message: String },
}

impl Default for NormalizeConfig {
    fn default() -> Self {
        Self {
            max_content_bytes: DEFAULT_MAX_CONTENT_BYTES,
            default_time_zone: "UTC".to_owned(),
            clutter_lines: default_clutter_lines(),
            caption_credits: default_caption_credits(),
            related_headings: DEFAULT_RELATED_HEADINGS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            dateline_agencies: DEFAULT_DATELINE_AGENCIES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            html_boilerplate: DEFAULT_HTML_BOILERPLATE
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            language_sample_chars: 320,
            languages: Vec::new(),
            sources: BTreeMap::new(),
        }
    }
}

/// Site furniture seen on many news sites; per-site lines belong in `sources`.
fn default_clutter_lines() -> Vec<ClutterLine> {
    let exact = [
        "NEW You can now listen to Fox News articles!",
        "Newsletter As news happens",
        "Advertisement",
        "Story continues below advertisement",
        "Continue reading the main story",
        "Share this article",
        "Share this article Share",
        "Share",
        "Share on Facebook",
        "Share on Twitter",
        "Share via Email",
        "Copy link",
        "Link copied",
        "Skip to main content",
        "Skip to content",
        "Sign up",
        "Subscribe",
        "Most read",
        "Accept all",
        "Accept cookies",
        "Reject all",
        "Manage cookies",
        "Cookie settings",
        "Back to top",
        // The same widgets in the other languages of the dev sets.
        "Gefällt mir",
        "Teilen",
        "Drucken",
        "Artikel teilen",
        "Artikel drucken",
        "Rezept drucken",
        "Beitrag teilen",
        "Auch interessant",
        "Das könnte Sie auch interessieren",
        "Mehr zum Thema",
        "Weiterlesen",
        "Zum Artikel",
        "Originalartikel",
        "Partager",
        "Partager cet article",
        "Compartir",
        "Compartir en Facebook",
        "Condividi",
        "Udostępnij",
        "Credit:",
        "Print",
        "Print this article",
    ];
    // Patterns are matched against every line, so they are written for the regex crate's DFA:
    // no Unicode word boundaries (`\b` would force the slow engine on any non-ASCII line; the
    // ASCII `(?-u:\b)` is fine) and no long counted repetitions (`.*` instead).
    let patterns = [
        // Video widgets: "VIEW VIDEO", "VIEW VIDEO <clip title>", "See the video ...".
        r"^VIEW VIDEO(?-u:\b).*$",
        r"(?i)^(?:see|watch) the video(?-u:\b).*$",
        r"(?i)^video\s+video(?-u:\b).*$",
        // Cookie and consent banners.
        r"(?i)^(?:we|this (?:web)?site) uses? cookies(?-u:\b).*$",
        r"(?i)^we need your consent(?-u:\b).*$",
        // Audio promotions: "NEW You can now listen to <site> articles!".
        r"^(?:NEW )?You can now listen to [^.!?]* articles!?$",
        // Newsletter and follow-us promotions.
        r"(?i)^skip past newsletter promotion(?-u:\b).*$",
        r"(?i)^.*(?-u:\b)sign up (?:to|for)(?-u:\b).*(?-u:\b)newsletter(?-u:\b).*$",
        r"(?i)^(?:follow|subscribe to|join) us(?-u:\b)[^.!?]*$",
        r"(?i)^join us on telegram(?-u:\b).*$",
        r"(?i)^get our free(?-u:\b).*(?-u:\b)newsletter(?-u:\b).*$",
        // "Read more: ...", "CLICK HERE TO READ MORE FROM ...".
        r"(?i)^read more(?-u:\b)[^.!?]*[.!?]?$",
        r"(?i)^click here(?-u:\b)[^.!?]*[.!?]?$",
        // Gallery controls and Guardian-style caption prefixes.
        r"(?i)^view image in fullscreen(?-u:\b).*$",
        r"(?i)^image \d+ of \d+(?-u:\b).*$",
        // Was this helpful? ("War der Artikel nützlich?", "War dieser Artikel hilfreich?").
        r"(?i)^(?:was this (?:article|page|post) (?:helpful|useful)|war (?:der|dieser) (?:artikel|beitrag) (?:nützlich|hilfreich)|hat ihnen (?:der|dieser) (?:artikel|beitrag) gefallen)\?.*$",
        // Share and subscribe prompts: "Teile diesen Beitrag auf ...", "Subscribe now to ...".
        r"(?i)^(?:teile|teilen sie) diesen (?:beitrag|artikel)(?-u:\b).*$",
        r"(?i)^subscribe now(?-u:\b).*$",
        // Reprint and copyright notices.
        r"(?i)^.*(?-u:\b)(?:all rights reserved|alle rechte vorbehalten|tous droits réservés|todos los derechos reservados)\.?$",
        r"(?i)^this (?:article|story|content) is the copyrighted property of(?-u:\b).*$",
        r"(?i)^(?:written permission|permission) (?:must be|is) (?:obtained|required) (?:before|for|to) (?:reprint|republish|reproduc).*$",
        // A bare clock time left over from a live page ("16:14").
        r"^\d{1,2}:\d{2}$",
    ];
    exact
        .iter()
        .map(|line| ClutterLine::exact(line))
        .chain(patterns.iter().map(|pattern| ClutterLine::regex(pattern)))
        .collect()
}

/// A line ending in a photo credit is a caption, not body text.
fn default_caption_credits() -> Vec<String> {
    [
        r"\|\s*License Photo$",
        r"(?i)^(?:photo|photos|image|images|picture|photograph)(?: credit)?\s*:[^.!?]*$",
        r"(?i)^photos? courtesy of(?-u:\b)[^.!?]*$",
        r"(?i)(?-u:\b)photograph(?:\s+by|:)\s+[^.!?]+$",
        r"(?i)(?-u:\b)(?:file |staff |upi )?photo by [^.!?]+$",
        r"(?i)\((?:photo|image|picture)s?(?: credit)?:?\s[^()]+\)$",
        r"/\s*(?:[^/()]*\s)?(?:Getty Images|AFP|AP|Reuters|REUTERS|EPA(?:-EFE)?|Bloomberg|Redux|Pool|UPI|Shutterstock|Alamy)\)?$",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

const DEFAULT_RELATED_HEADINGS: &[&str] = &[
    "Latest Headlines",
    "Related",
    "Related Stories",
    "Related Articles",
    "Related News",
    "Related Content",
    "More Stories",
    "More on this story",
    "Most Read",
    "Most Popular",
    "Top Stories",
    "Recommended",
    "You May Also Like",
    "Trending",
];

const DEFAULT_DATELINE_AGENCIES: &[&str] = &[
    "AP",
    "AFP",
    "UPI",
    "Reuters",
    "CNN",
    "CNN Business",
    "BelTA",
    "TASS",
    "Xinhua",
    "Ukrinform",
    "PAP",
    "dpa",
    "EFE",
    "ANSA",
    "Kyodo",
    "Yonhap",
    "Bloomberg",
    "Interfax",
    "BBC",
    "PTI",
    "IANS",
];

/// None by default: scripts, styles, hidden parts and the like are never text, and page
/// furniture is found by scoring the page (normalize/html/content.rs). A deployment adds the
/// selectors of its own sites' furniture here.
const DEFAULT_HTML_BOILERPLATE: &[&str] = &[];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_document_gives_the_defaults() {
        let config: NormalizeConfig = serde_yaml::from_str("{}").unwrap();
        assert_eq!(config, NormalizeConfig::default());
        assert_eq!(config.max_content_bytes, 2 * 1024 * 1024);
        assert_eq!(config.default_time_zone, "UTC");
    }

    #[test]
    fn sources_and_clutter_lines_read_from_yaml() {
        let yaml = r#"
default_time_zone: Europe/London
sources:
  upi:
    time_zone: America/New_York
    clutter_lines:
      - "UPI Almanac"
      - regex: "^Read the full story at .*$"
"#;
        let config: NormalizeConfig = serde_yaml::from_str(yaml).unwrap();
        let upi = &config.sources["upi"];
        assert_eq!(upi.time_zone.as_deref(), Some("America/New_York"));
        assert_eq!(
            upi.clutter_lines,
            vec![
                ClutterLine::Exact("UPI Almanac".into()),
                ClutterLine::Regex {
                    regex: "^Read the full story at .*$".into()
                }
            ]
        );
        // Global lists keep their defaults when only sources are given.
        assert!(!config.clutter_lines.is_empty());
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = serde_yaml::from_str::<NormalizeConfig>("max_bytes: 3").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }
}
