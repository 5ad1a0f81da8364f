//! Text hygiene shared by every layout: tidy whitespace, NFC, clutter and caption lines, the
//! folded content hash and the word count.

use std::borrow::Cow;
use std::collections::HashSet;

use regex::RegexSet;
use sha2::{Digest, Sha256};
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

use super::config::{ClutterLine, NormalizeConfigError};

/// Site furniture and captions are short; a longer line is a paragraph (bytes, about 80 words).
const MAX_CLUTTER_CHARS: usize = 500;

/// Lines that never belong to an article: exact lines (compared lowercased with spacing
/// collapsed) and patterns, all compiled once when the stage is built.
#[derive(Debug, Clone)]
pub(crate) struct ClutterMatcher {
    exact: HashSet<String>,
    /// The longest exact line in bytes: longer lines skip the set look-up (and its lowercase copy).
    longest_exact: usize,
    patterns: RegexSet,
}

impl ClutterMatcher {
    /// Builds a matcher from clutter lines and caption-credit patterns.
    pub(crate) fn new<'a>(
        scope: &str,
        lines: impl IntoIterator<Item = &'a ClutterLine>,
        credits: impl IntoIterator<Item = &'a String>,
    ) -> Result<Self, NormalizeConfigError> {
        let mut exact = HashSet::new();
        let mut patterns = Vec::new();
        for line in lines {
            match line {
                ClutterLine::Exact(text) => {
                    let key = tidy(text).to_lowercase();
                    if !key.is_empty() {
                        exact.insert(key);
                    }
                }
                ClutterLine::Regex { regex } => patterns.push(regex.clone()),
            }
        }
        patterns.extend(credits.into_iter().cloned());
        for pattern in &patterns {
            // Compile each alone first so an error names the pattern at fault.
            regex::Regex::new(pattern).map_err(|err| NormalizeConfigError::Regex {
                scope: scope.to_owned(),
                pattern: pattern.clone(),
                message: err.to_string(),
            })?;
        }
        let patterns = RegexSet::new(&patterns).map_err(|err| NormalizeConfigError::Regex {
            scope: scope.to_owned(),
            pattern: patterns.join(" | "),
            message: err.to_string(),
        })?;
        let longest_exact = exact.iter().map(String::len).max().unwrap_or(0);
        Ok(Self {
            exact,
            longest_exact,
            patterns,
        })
    }

    /// True when a tidied line is clutter or a caption. A line longer than
    /// [`MAX_CLUTTER_CHARS`] is text, whatever it holds: a whole plain-text article on one line
    /// that ends in "All rights reserved." or mentions a newsletter is kept, not dropped.
    pub(crate) fn is_clutter(&self, line: &str) -> bool {
        if line.len() > MAX_CLUTTER_CHARS {
            return false;
        }
        if line.len() <= self.longest_exact && self.exact.contains(&line.to_lowercase()) {
            return true;
        }
        self.patterns.is_match(line)
    }
}

fn is_invisible(c: char) -> bool {
    // Zero-width space, word joiner, BOM and soft hyphen carry no text; other controls are
    // debris (a stray \x07 in a crawled page).
    matches!(c, '\u{200b}' | '\u{2060}' | '\u{feff}' | '\u{ad}')
        || (c.is_control() && !c.is_whitespace())
}

/// True when `text` has nothing for [`tidy`] to do: no leading, trailing or doubled space, no
/// whitespace other than a plain space, no invisible character. One pass over the bytes; only
/// non-ASCII characters (rare in most news text) are decoded.
fn is_tidy(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.first() == Some(&b' ') || bytes.last() == Some(&b' ') {
        return false;
    }
    if text.is_ascii() {
        // Vectorizable checks for the common case of plain ASCII.
        return !text.contains("  ") && bytes.iter().all(|&b| b >= 0x20 && b != 0x7f);
    }
    let mut prev_space = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            if b == b' ' {
                if prev_space {
                    return false;
                }
                prev_space = true;
            } else if b.is_ascii_whitespace() || b.is_ascii_control() {
                return false;
            } else {
                prev_space = false;
            }
            i += 1;
        } else {
            let Some(c) = text[i..].chars().next() else {
                return false;
            };
            if c.is_whitespace() || is_invisible(c) {
                return false;
            }
            prev_space = false;
            i += c.len_utf8();
        }
    }
    true
}

/// Collapses every run of whitespace to one space, trims, and drops invisible characters.
/// Borrows when the text is already tidy (the common case).
pub(crate) fn tidy(text: &str) -> Cow<'_, str> {
    if is_tidy(text) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
        } else if !is_invisible(c) {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The text in Unicode NFC, without copying when it already is. Characters below U+0300 are
/// always NFC and never combine with what precedes them, so text made only of them (its UTF-8
/// has no byte from 0xCC up) skips the quick check.
pub(crate) fn nfc(text: Cow<'_, str>) -> Cow<'_, str> {
    if !text.bytes().any(|b| b >= 0xcc) || is_nfc_quick(text.chars()) == IsNormalized::Yes {
        return text;
    }
    Cow::Owned(text.nfc().collect())
}

/// A tidy string in NFC, reusing its allocation when it already is.
pub(crate) fn into_nfc(text: String) -> String {
    match nfc(Cow::Borrowed(&text)) {
        Cow::Borrowed(_) => text,
        Cow::Owned(normalized) => normalized,
    }
}

/// Tidy + NFC, as an owned display string.
pub(crate) fn display_text(text: &str) -> String {
    nfc(tidy(text)).into_owned()
}

/// Maps typographic quotes and dashes to their ASCII forms for the content hash.
fn fold_punctuation(c: char) -> char {
    match c {
        '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}' | '\u{2032}' | '\u{2035}' | '`'
        | '\u{b4}' => '\'',
        '\u{201c}' | '\u{201d}' | '\u{201e}' | '\u{201f}' | '\u{2033}' | '\u{2036}' | '\u{ab}'
        | '\u{bb}' => '"',
        '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2015}'
        | '\u{2212}' | '\u{fe58}' | '\u{fe63}' | '\u{ff0d}' => '-',
        other => other,
    }
}

/// One pass over the body: the content hash and the word count.
///
/// The hash is hex SHA-256 of the body with case, whitespace, typographic quotes and dashes
/// folded: the same words with other spacing, curly quotes or en dashes hash alike. Words are
/// whitespace-separated tokens with at least one letter or digit.
pub(crate) fn hash_and_count(paragraphs: &[String]) -> (String, u32) {
    let mut hasher = Sha256::new();
    let mut buf: Vec<u8> = Vec::with_capacity(4096 + 8);
    let mut started = false;
    let mut pending_space = false;
    let mut words: u32 = 0;
    let mut word_counted = false;
    for paragraph in paragraphs {
        if paragraph.is_empty() {
            continue;
        }
        if paragraph.is_ascii() && is_tidy(paragraph) {
            // Fast path: lowercase the bytes in bulk; words are the space-separated tokens.
            if started {
                buf.push(b' ');
            }
            started = true;
            let at = buf.len();
            buf.extend_from_slice(paragraph.as_bytes());
            buf[at..].make_ascii_lowercase();
            let count = paragraph
                .as_bytes()
                .split(|b| *b == b' ')
                .filter(|word| word.iter().any(u8::is_ascii_alphanumeric))
                .count();
            words = words.saturating_add(u32::try_from(count).unwrap_or(u32::MAX));
            if buf.len() >= 4096 {
                hasher.update(&buf);
                buf.clear();
            }
            pending_space = false;
            word_counted = false;
            continue;
        }
        if started {
            pending_space = true;
        }
        let bytes = paragraph.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            let c = if b < 0x80 {
                i += 1;
                if b.is_ascii_whitespace() {
                    pending_space = true;
                    word_counted = false;
                    continue;
                }
                if pending_space && started {
                    buf.push(b' ');
                }
                pending_space = false;
                started = true;
                if b.is_ascii_alphanumeric() && !word_counted {
                    words = words.saturating_add(1);
                    word_counted = true;
                }
                buf.push(b.to_ascii_lowercase());
                continue;
            } else {
                let Some(c) = paragraph[i..].chars().next() else {
                    break;
                };
                i += c.len_utf8();
                c
            };
            if c.is_whitespace() {
                pending_space = true;
                word_counted = false;
                continue;
            }
            if is_invisible(c) {
                continue;
            }
            if pending_space && started {
                buf.push(b' ');
            }
            pending_space = false;
            started = true;
            if c.is_alphanumeric() && !word_counted {
                words = words.saturating_add(1);
                word_counted = true;
            }
            let mut utf8 = [0u8; 4];
            for lower in fold_punctuation(c).to_lowercase() {
                buf.extend_from_slice(lower.encode_utf8(&mut utf8).as_bytes());
            }
            if buf.len() >= 4096 {
                hasher.update(&buf);
                buf.clear();
            }
        }
        if buf.len() >= 4096 {
            hasher.update(&buf);
            buf.clear();
        }
        // Paragraphs are separated like words.
        pending_space = true;
        word_counted = false;
    }
    hasher.update(&buf);
    (hex::encode(hasher.finalize()), words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidy_collapses_spacing_and_drops_invisibles() {
        assert_eq!(tidy("  a \t b\u{a0}\u{a0}c\n"), "a b c");
        assert_eq!(tidy("zero\u{200b}width"), "zerowidth");
        assert!(matches!(tidy("already tidy"), Cow::Borrowed(_)));
    }

    #[test]
    fn nfc_composes_decomposed_letters() {
        assert_eq!(display_text("Cafe\u{301}"), "Caf\u{e9}");
    }

    #[test]
    fn the_hash_folds_case_spacing_quotes_and_dashes() {
        let hash = |body: &[&str]| {
            let body: Vec<String> = body.iter().map(|p| (*p).to_owned()).collect();
            hash_and_count(&body).0
        };
        let a = hash(&["\u{201c}Peace\u{201d} \u{2013} now", "Second."]);
        let b = hash(&["\"peace\"  -   NOW", " second."]);
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, hash(&["peace now second"]));
        assert_ne!(
            a,
            hash(&["Peace now", "Second."]),
            "quotes are folded, not dropped"
        );
        // Case folding reaches beyond ASCII.
        assert_eq!(hash(&["ÉTÉ À KYIV"]), hash(&["été à kyiv"]));
    }

    #[test]
    fn words_need_a_letter_or_digit() {
        let body = [
            "One two — 3".to_owned(),
            "...".to_owned(),
            "naïve café".to_owned(),
        ];
        assert_eq!(hash_and_count(&body).1, 5);
    }

    #[test]
    fn clutter_matches_exact_lines_ignoring_case_and_patterns() {
        let lines = [
            ClutterLine::Exact("Advertisement".into()),
            ClutterLine::Regex {
                regex: "^VIEW VIDEO\\b.*$".into(),
            },
        ];
        let credits = ["\\|\\s*License Photo$".to_owned()];
        let matcher = ClutterMatcher::new("test", &lines, &credits).unwrap();
        assert!(matcher.is_clutter("ADVERTISEMENT"));
        assert!(matcher.is_clutter("VIEW VIDEO Clip title"));
        assert!(matcher.is_clutter("A caption. File Photo by A B/UPI | License Photo"));
        assert!(!matcher.is_clutter("An advertisement campaign began on Monday."));
    }

    #[test]
    fn a_paragraph_is_never_clutter_whatever_it_ends_with() {
        let config = crate::normalize::NormalizeConfig::default();
        let matcher =
            ClutterMatcher::new("default", &config.clutter_lines, &config.caption_credits).unwrap();
        let footer =
            "Sign up for our daily newsletter. © 2020 The Daily Planet. All rights reserved.";
        assert!(matcher.is_clutter(footer));
        // A plain-text article sent as one line, its footer glued to its last sentence.
        let story =
            "Dozens of llamas were set loose from a farm on Tuesday, deputies said. ".repeat(8);
        assert!(!matcher.is_clutter(&format!("{story}{footer}")));
    }

    #[test]
    fn the_default_clutter_covers_site_furniture_but_not_sentences() {
        let config = crate::normalize::NormalizeConfig::default();
        let matcher =
            ClutterMatcher::new("default", &config.clutter_lines, &config.caption_credits).unwrap();
        for line in [
            "NEW You can now listen to Fox News articles!",
            "NEW You can now listen to Example News articles!",
            "You can now listen to Daily Planet articles",
            "Newsletter As news happens",
            "VIEW VIDEO",
        ] {
            assert!(matcher.is_clutter(line), "{line}");
        }
        for line in [
            "You can now listen to the minister's speech in full on the ministry's site.",
            "Listeners of the station can now hear articles read aloud, its editor said.",
        ] {
            assert!(!matcher.is_clutter(line), "{line}");
        }
    }
}
