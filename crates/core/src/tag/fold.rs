//! Folding text for matching, and the article's layout of fields, paragraphs and sentences.
//!
//! Rules and articles go through the same [`fold_into`]: lowercase, diacritics dropped
//! (compatibility decomposition, combining marks removed, a few letters such as `ß` and `ł`
//! spelled out), curly quotes made straight, hyphens and dashes turned into spaces and runs of
//! white space collapsed. So `Zelenskyy`, `ZELENSKYY` and `Zelenskyy's` meet the rule `zelenskyy`,
//! `Kyiv–Moscow` meets `kyiv moscow`, and `Łódź` meets `lodz`. Punctuation other than dashes
//! stays, so a phrase never matches across a full stop or a comma.
//!
//! While folding an article, [`Document`] records where each sentence starts (full stops,
//! question and exclamation marks followed by a capital, with common abbreviations and initials
//! such as `U.S.` and `Mr.` kept inside the sentence), which paragraph holds it and which field
//! (title, lede, body) holds the paragraph, and which folded bytes came from capital letters, for
//! the few case-sensitive rules (`US`, `IS`).

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

use crate::event::{Field, NormalizedArticle};

/// Field indexes into per-field arrays.
pub(crate) const TITLE: usize = 0;
pub(crate) const LEDE: usize = 1;
pub(crate) const BODY: usize = 2;

pub(crate) fn field_index(field: Field) -> usize {
    match field {
        Field::Title => TITLE,
        Field::Lede => LEDE,
        Field::Body => BODY,
    }
}

pub(crate) const FIELDS: [Field; 3] = [Field::Title, Field::Lede, Field::Body];

/// One paragraph of the folded article.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Paragraph {
    pub field: Field,
    /// Which body paragraph of the article it is (0 for the title and the lede).
    pub source: u32,
}

/// One sentence: where it starts in the folded text, its paragraph, and where it starts in the
/// paragraph's original text (so that a match can be shown as the article wrote it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sentence {
    pub start: u32,
    pub paragraph: u32,
    pub original: u32,
}

/// An article folded into one string: every paragraph, title and lede included, followed by a
/// newline, so that no rule matches across paragraphs.
#[derive(Debug, Default)]
pub(crate) struct Document {
    pub text: String,
    pub paragraphs: Vec<Paragraph>,
    pub sentences: Vec<Sentence>,
    /// Positions in `text` of bytes folded from capital letters, ascending.
    pub capitals: Vec<u32>,
}

impl Document {
    pub fn clear(&mut self) {
        self.text.clear();
        self.paragraphs.clear();
        self.sentences.clear();
        self.capitals.clear();
    }

    /// Folds the article's title, lede and body paragraphs. A lede that is the body's first
    /// paragraph (the normalizer's lede always is) is read once, as that body paragraph: its
    /// words are not counted twice, and an opening paragraph is not taken for a standfirst. A
    /// lede of its own (a summary apart from the body) keeps the lede's boost.
    pub fn load(&mut self, article: &NormalizedArticle) {
        self.clear();
        if let Some(title) = &article.title {
            self.push_paragraph(Field::Title, 0, title);
        }
        if let Some(lede) = &article.lede {
            if article.body.first() != Some(lede) {
                self.push_paragraph(Field::Lede, 0, lede);
            }
        }
        for (source, paragraph) in article.body.iter().enumerate() {
            self.push_paragraph(Field::Body, source as u32, paragraph);
        }
    }

    pub fn push_paragraph(&mut self, field: Field, source: u32, text: &str) {
        if text.trim().is_empty() {
            return;
        }
        let paragraph = self.paragraphs.len() as u32;
        self.paragraphs.push(Paragraph { field, source });
        let mut breaks = Breaks {
            sentences: &mut self.sentences,
            paragraph,
        };
        breaks.start(self.text.len(), 0);
        fold_text(text, &mut self.text, &mut self.capitals, Some(&mut breaks));
        // Trailing white space was collapsed to one space at most.
        if self.text.ends_with(' ') {
            self.text.pop();
        }
        self.text.push('\n');
    }

    /// The sentence holding byte `pos` of the folded text.
    pub fn sentence_at(&self, pos: u32) -> u32 {
        (self.sentences.partition_point(|s| s.start <= pos) as u32).saturating_sub(1)
    }

    /// The original text of paragraph `paragraph`, as the article holds it.
    pub fn paragraph_text<'a>(&self, article: &'a NormalizedArticle, paragraph: u32) -> &'a str {
        let paragraph = self.paragraphs[paragraph as usize];
        match paragraph.field {
            Field::Title => article.title.as_deref(),
            Field::Lede => article.lede.as_deref(),
            Field::Body => article
                .body
                .get(paragraph.source as usize)
                .map(String::as_str),
        }
        .unwrap_or_default()
    }

    /// The text of `article` that folded to `self.text[start..end]` (a match within one
    /// sentence), exactly as the article writes it: found by folding the sentence again from its
    /// start, one character at a time, the way [`fold_text`] does. `None` if the range does not
    /// lie within one sentence of this article's folding.
    pub fn original<'a>(
        &self,
        article: &'a NormalizedArticle,
        start: u32,
        end: u32,
        walk: &mut Walk,
    ) -> Option<&'a str> {
        let sentence = *self.sentences.get(self.sentence_at(start) as usize)?;
        let text = self.paragraph_text(article, sentence.paragraph);
        let from = sentence.original as usize;
        let wanted = (
            start.checked_sub(sentence.start)? as usize,
            end.checked_sub(sentence.start)? as usize,
        );
        // Most sentences fold letter for letter (ASCII, single spaces): then the match is where
        // its folding is. Else fold the sentence again up to the match.
        let folded = self.text.get(start as usize..end as usize)?;
        if let Some(same) = text.get(from + wanted.0..from + wanted.1) {
            if same.eq_ignore_ascii_case(folded) {
                return Some(same);
            }
        }
        let (a, b) = walk.locate(text.get(from..)?, wanted)?;
        text.get(from + a..from + b)
    }

    /// The original text of sentence `sentence`, trimmed.
    pub fn sentence_text<'a>(&self, article: &'a NormalizedArticle, sentence: u32) -> &'a str {
        let Some(s) = self.sentences.get(sentence as usize) else {
            return "";
        };
        let text = self.paragraph_text(article, s.paragraph);
        let end = match self.sentences.get(sentence as usize + 1) {
            Some(next) if next.paragraph == s.paragraph => next.original as usize,
            _ => text.len(),
        };
        text.get(s.original as usize..end)
            .unwrap_or_default()
            .trim()
    }

    /// Whether the word just before or just after `start..end` is written in capitals (a
    /// headline in capitals, `JOIN US ON TELEGRAM`), where capitals tell nothing.
    pub fn shouting_around(&self, start: u32, end: u32) -> bool {
        let bytes = self.text.as_bytes();
        let (start, end) = (start as usize, end as usize);
        let mut before = start;
        while before > 0 && matches!(bytes[before - 1], b' ' | b'"' | b'\'' | b',' | b':' | b'(') {
            before -= 1;
        }
        let mut word_start = before;
        while word_start > 0 && bytes[word_start - 1].is_ascii_alphanumeric() {
            word_start -= 1;
        }
        let mut after = end;
        while after < bytes.len()
            && matches!(bytes[after], b' ' | b'"' | b'\'' | b',' | b':' | b')')
        {
            after += 1;
        }
        let mut word_end = after;
        while word_end < bytes.len() && bytes[word_end].is_ascii_alphanumeric() {
            word_end += 1;
        }
        self.all_capitals(word_start, before) || self.all_capitals(after, word_end)
    }

    /// Whether `text[start..end]` is a word of two or more letters, all from capitals.
    fn all_capitals(&self, start: usize, end: usize) -> bool {
        let letters = self.text.as_bytes()[start..end]
            .iter()
            .filter(|b| b.is_ascii_alphabetic())
            .count();
        if letters < 2 {
            return false;
        }
        let from = self.capitals.partition_point(|&p| (p as usize) < start);
        let to = self.capitals.partition_point(|&p| (p as usize) < end);
        to - from == letters
    }

    /// Whether `text[start..end]` came from capitals exactly where `pattern` has them.
    pub fn case_matches(&self, start: u32, end: u32, pattern: &[u8]) -> bool {
        let from = self.capitals.partition_point(|&p| p < start);
        let to = self.capitals.partition_point(|&p| p < end);
        let capitals = &self.capitals[from..to];
        let wanted = pattern.iter().filter(|b| b.is_ascii_uppercase()).count();
        capitals.len() == wanted
            && capitals
                .iter()
                .all(|&p| pattern[(p - start) as usize].is_ascii_uppercase())
    }
}

/// Where sentences start, recorded while folding one paragraph.
struct Breaks<'a> {
    sentences: &'a mut Vec<Sentence>,
    paragraph: u32,
}

impl Breaks<'_> {
    fn start(&mut self, at: usize, original: usize) {
        self.sentences.push(Sentence {
            start: at as u32,
            paragraph: self.paragraph,
            original: original as u32,
        });
    }
}

/// Buffers for [`Document::original`], reused from one match to the next.
#[derive(Debug, Default)]
pub(crate) struct Walk {
    out: String,
    capitals: Vec<u32>,
}

impl Walk {
    /// Folds `text` one character at a time until its folding covers `wanted` (a range of the
    /// folding); returns the range of `text` whose characters produced it.
    fn locate(&mut self, text: &str, wanted: (usize, usize)) -> Option<(usize, usize)> {
        let (start, end) = wanted;
        if start >= end {
            return None;
        }
        self.out.clear();
        self.capitals.clear();
        let mut from = None;
        for (i, c) in text.char_indices() {
            fold_one(c, &mut self.out, &mut self.capitals, 0);
            let folded = self.out.len();
            if from.is_none() && folded > start {
                from = Some(i);
            }
            if folded >= end {
                return from.map(|from| (from, i + c.len_utf8()));
            }
        }
        None
    }
}

/// Folds one character as [`fold_text`] does, but for sentence breaks (which only record where
/// a sentence starts and skip the white space after it, which folds to one space either way).
fn fold_one(c: char, out: &mut String, capitals: &mut Vec<u32>, start_len: usize) {
    if !c.is_ascii() {
        fold_char(c, out, capitals, start_len);
        return;
    }
    let b = c as u8;
    match b {
        b'A'..=b'Z' => {
            capitals.push(out.len() as u32);
            out.push(char::from(b.to_ascii_lowercase()));
        }
        b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c' | b'-' | b'_' => {
            push_space(out, start_len)
        }
        _ => out.push(c),
    }
}

/// Folds a rule's phrase the way article text is folded, trimmed.
pub(crate) fn fold_phrase(phrase: &str) -> String {
    let mut out = String::with_capacity(phrase.len());
    let mut capitals = Vec::new();
    fold_text(phrase, &mut out, &mut capitals, None);
    out.trim().to_owned()
}

/// Whether a folded character is part of a word (for whole-word matching).
pub(crate) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// Abbreviations after which a full stop does not end a sentence (folded, without the stop).
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "gen", "sen", "rep", "gov", "lt", "col", "capt", "cpt", "sgt",
    "maj", "adm", "cmdr", "st", "jr", "sr", "vs", "no", "inc", "ltd", "co", "corp", "jan", "feb",
    "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "etc", "approx", "dept",
    "est", "fig", "gov't", "pres", "rev", "hon", "mt", "ft", "govt",
];

/// How [`fold_text`] treats each byte that is not part of a run it copies.
const SPACE: u8 = 1;
/// `.`, `!`, `?`: copied, and perhaps a sentence break.
const STOP: u8 = 3;
/// Not ASCII: folded by [`fold_char`].
const OTHER: u8 = 4;
/// Any other ASCII (letters, digits, punctuation).
const COPY: u8 = 0;

/// Per byte: its class, and flags for [`fold_text`]'s fast scan.
const CLASSES: [u8; 256] = {
    let mut classes = [OTHER; 256];
    let mut b = 0;
    while b < 128 {
        classes[b] = match b as u8 {
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c' | b'-' | b'_' => SPACE,
            b'.' | b'!' | b'?' => STOP,
            _ => COPY,
        };
        b += 1;
    }
    classes
};

/// Copied as it is, or lowercased (ASCII but for white space, dashes and `.!?`).
const RUN: u8 = 1;
/// A space, which is copied when it follows a byte that folds to no space.
const BLANK: u8 = 2;
/// A byte after which a space is copied: ASCII but for white space and dashes.
const BEFORE_BLANK: u8 = 4;
/// `A`–`Z`.
const UPPER: u8 = 8;

const FLAGS: [u8; 256] = {
    let mut flags = [0u8; 256];
    let mut b = 0;
    while b < 128 {
        flags[b] = match CLASSES[b] {
            COPY => RUN | BEFORE_BLANK,
            STOP => BEFORE_BLANK,
            _ => 0,
        };
        if b as u8 == b' ' {
            flags[b] |= BLANK;
        }
        if (b as u8).is_ascii_uppercase() {
            flags[b] |= UPPER;
        }
        b += 1;
    }
    flags
};

/// Folds `text` onto `out`. Most of an English text is ASCII letters, digits, punctuation and
/// single spaces between them, which fold to themselves or (capitals) to their lowercase: such
/// runs are found by a scan without branches but at their end, copied whole and lowercased in
/// place; only the other characters are looked at one by one.
fn fold_text(
    text: &str,
    out: &mut String,
    capitals: &mut Vec<u32>,
    mut breaks: Option<&mut Breaks<'_>>,
) {
    let bytes = text.as_bytes();
    // Runs of white space and dashes collapse to one space, and none leads (see `push_space`).
    let start_len = out.len();
    // `text[run..i]` is still to be copied.
    let mut run = 0;
    let mut i = 0;
    let mut flags_before = 0u8;
    // Offsets in `text` of the run's capitals (the first `uppers`), kept without branching.
    let mut upper_at = [0u32; UPPER_BATCH];
    let mut uppers = 0usize;
    while i < bytes.len() {
        let flags = FLAGS[bytes[i] as usize];
        // In the run: copied bytes, and single spaces after them.
        let in_run = (flags & RUN) | ((flags >> 1) & (flags_before >> 2) & 1);
        if in_run != 0 {
            upper_at[uppers] = i as u32;
            uppers += usize::from((flags & UPPER) >> 3);
            if uppers == UPPER_BATCH {
                // The run will be copied at `out.len()`.
                let shift = out.len() as i64 - run as i64;
                capitals.extend(upper_at.iter().map(|&u| (i64::from(u) + shift) as u32));
                uppers = 0;
            }
            flags_before = flags;
            i += 1;
            continue;
        }
        flush(text, run, i, &upper_at[..uppers], out, capitals);
        uppers = 0;
        let b = bytes[i];
        match CLASSES[b as usize] {
            SPACE => {
                push_space(out, start_len);
                i += 1;
            }
            STOP => {
                out.push(char::from(b));
                let at = i;
                i += 1;
                if let Some(breaks) = breaks.as_deref_mut() {
                    if ends_sentence(bytes, at, b) {
                        // The next sentence starts after the white space that follows.
                        while let Some(next) = text[i..].chars().next() {
                            if !next.is_whitespace() {
                                break;
                            }
                            i += next.len_utf8();
                        }
                        push_space(out, start_len);
                        breaks.start(out.len(), i);
                    }
                }
            }
            _ => {
                // Not ASCII, so `i` starts a character of two or more bytes.
                let Some(c) = text[i..].chars().next() else {
                    break;
                };
                fold_char(c, out, capitals, start_len);
                i += c.len_utf8();
            }
        }
        run = i;
        // The last byte before `i`: ASCII, or the end of a character that is not.
        flags_before = if i > 0 {
            FLAGS[bytes[i - 1] as usize]
        } else {
            0
        };
    }
    flush(text, run, bytes.len(), &upper_at[..uppers], out, capitals);
}

/// Capitals [`fold_text`] notes before it hands them over.
const UPPER_BATCH: usize = 32;

/// Copies the run `text[from..to]` of [`fold_text`] (ASCII), lowercased, and records where its
/// capitals (offsets `uppers` in `text`, those not recorded yet) went.
fn flush(
    text: &str,
    from: usize,
    to: usize,
    uppers: &[u32],
    out: &mut String,
    capitals: &mut Vec<u32>,
) {
    let at = out.len();
    out.push_str(&text[from..to]);
    if !uppers.is_empty() || to - from >= UPPER_BATCH {
        out[at..].make_ascii_lowercase();
    }
    capitals.extend(uppers.iter().map(|&u| (u as usize - from + at) as u32));
}

fn push_space(out: &mut String, start_len: usize) {
    if out.len() > start_len && !out.ends_with(' ') {
        out.push(' ');
    }
}

fn fold_char(c: char, out: &mut String, capitals: &mut Vec<u32>, start_len: usize) {
    match c {
        '\u{2018}' | '\u{2019}' | '\u{201b}' | '\u{2032}' | '\u{02bc}' | '\u{00b4}' | '`' => {
            out.push('\'')
        }
        '\u{201c}' | '\u{201d}' | '\u{201e}' | '\u{201f}' | '\u{00ab}' | '\u{00bb}'
        | '\u{2033}' => out.push('"'),
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{00ad}' => push_space(out, start_len),
        '\u{2026}' => out.push_str("..."),
        c if c.is_whitespace() => push_space(out, start_len),
        _ => {
            let capital = c.is_uppercase();
            let mut push = |c: char| {
                if is_combining_mark(c) {
                    return;
                }
                if capital {
                    capitals.push(out.len() as u32);
                }
                match c {
                    'ß' | 'ẞ' => out.push_str("ss"),
                    'æ' | 'Æ' => out.push_str("ae"),
                    'œ' | 'Œ' => out.push_str("oe"),
                    'ø' | 'Ø' => out.push('o'),
                    'đ' | 'Đ' | 'ð' | 'Ð' => out.push('d'),
                    'ł' | 'Ł' => out.push('l'),
                    'ı' => out.push('i'),
                    'þ' | 'Þ' => out.push_str("th"),
                    c if c.is_ascii() => out.push(c.to_ascii_lowercase()),
                    c => out.extend(c.to_lowercase()),
                }
            };
            decompose_compatible(c, &mut push);
        }
    }
}

/// Whether the terminator at `bytes[i]` ends a sentence: it is followed (after closing quotes
/// or brackets, and white space) by a capital, a digit or an opening quote, or directly by a
/// capital after a lowercase word (`war.The`, as machine translations write it); and it does
/// not close an abbreviation or an initial.
fn ends_sentence(bytes: &[u8], i: usize, terminator: u8) -> bool {
    let mut j = i + 1;
    while j < bytes.len() && matches!(bytes[j], b'"' | b'\'' | b')' | b']') {
        j += 1;
    }
    // Curly closing quotes (’ ”) are three bytes: E2 80 99 / E2 80 9D.
    while j + 2 < bytes.len()
        && bytes[j] == 0xe2
        && bytes[j + 1] == 0x80
        && matches!(bytes[j + 2], 0x99 | 0x9d)
    {
        j += 3;
    }
    let spaced = j < bytes.len() && bytes[j].is_ascii_whitespace();
    while j < bytes.len() && bytes[j].is_ascii_whitespace() {
        j += 1;
    }
    if j >= bytes.len() {
        return false;
    }
    let next = bytes[j];
    let opens = next.is_ascii_uppercase()
        || (spaced && (next.is_ascii_digit() || matches!(next, b'"' | b'\'' | b'(' | b'[')))
        || (spaced && next == 0xe2)
        || (spaced && (0xc3..0xe0).contains(&next));
    if !opens {
        return false;
    }
    if terminator != b'.' {
        return true;
    }
    // The word before the full stop.
    let word_end = i;
    let mut word_start = i;
    while word_start > 0
        && (bytes[word_start - 1].is_ascii_alphabetic() || bytes[word_start - 1] == b'\'')
    {
        word_start -= 1;
    }
    let word = &bytes[word_start..word_end];
    if word.is_empty() {
        // `1.5`, `...`: only a break when followed by white space.
        return spaced;
    }
    if !spaced && !word.last().is_some_and(u8::is_ascii_lowercase) {
        return false;
    }
    // Initials and dotted abbreviations: `U.S.`, `J. Smith`, `a.m.`.
    if word.len() == 1 {
        return false;
    }
    if word_start > 0 && bytes[word_start - 1] == b'.' {
        return false;
    }
    let lower: Vec<u8> = word.iter().map(u8::to_ascii_lowercase).collect();
    !ABBREVIATIONS
        .iter()
        .any(|a| a.as_bytes() == lower.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The character-by-character folding that [`fold_text`] must agree with (and so
    /// [`Walk::locate`], which folds with [`fold_one`] too).
    fn fold_text_reference(
        text: &str,
        out: &mut String,
        capitals: &mut Vec<u32>,
        mut breaks: Option<&mut Breaks<'_>>,
    ) {
        let bytes = text.as_bytes();
        let start_len = out.len();
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if matches!(c, '.' | '!' | '?') {
                out.push(c);
                if let Some(breaks) = breaks.as_deref_mut() {
                    if ends_sentence(bytes, i, c as u8) {
                        // The next sentence starts after the white space that follows.
                        while chars.peek().is_some_and(|&(_, n)| n.is_whitespace()) {
                            chars.next();
                        }
                        push_space(out, start_len);
                        let at = chars.peek().map_or(text.len(), |&(j, _)| j);
                        breaks.start(out.len(), at);
                    }
                }
                continue;
            }
            fold_one(c, out, capitals, start_len);
        }
    }

    fn fold_with(
        text: &str,
        fold: fn(&str, &mut String, &mut Vec<u32>, Option<&mut Breaks<'_>>),
    ) -> (String, Vec<u32>, Vec<(u32, u32)>) {
        let mut out = String::from("x\n");
        let mut capitals = Vec::new();
        let mut sentences = Vec::new();
        let mut breaks = Breaks {
            sentences: &mut sentences,
            paragraph: 0,
        };
        fold(text, &mut out, &mut capitals, Some(&mut breaks));
        let starts = sentences.iter().map(|s| (s.start, s.original)).collect();
        (out, capitals, starts)
    }

    #[test]
    fn fast_folding_agrees_with_the_reference() {
        let texts = [
            "",
            " ",
            "  leading  and trailing  ",
            "Plain words, punctuation; and (brackets) with a U.S. official.",
            "Mr. Putin met Xi. Then they left!  \"Why?\" asked Kyïv\u{2019}s mayor \u{2014} twice.",
            "war.The next day -- \u{201c}Zelenskyy\u{201d}\u{a0} said: 1.5 million  \t tanks_here",
            "ÉCOLE Łódź straße ﬁ Æsir \u{301}combining after space \u{301}",
            "Ends with a stop.",
            "Stop. \u{2003}\u{a0}Unicode spaces after a stop.",
            "A - B -- C \u{2013} D",
            "tab\tand\nnewline\r\nCRLF",
            "...and so on... What? Yes! No.",
            "JOIN US ON TELEGRAM. IS it so?",
        ];
        for text in texts {
            assert_eq!(
                fold_with(text, fold_text),
                fold_with(text, fold_text_reference),
                "{text:?}"
            );
        }
    }
}
