//! Words, shingles and their MinHash signature.
//!
//! A body becomes words (lowercased, typographic quotes and dashes folded, punctuation trimmed
//! from their edges), the words overlapping shingles of `shingle_size`, and the set of shingles
//! a signature of `num_hashes` one-byte MinHash values. The signature is computed with one
//! permutation hashing and optimal densification (Li, Owen & Zhang 2012; Shrivastava 2017):
//! each shingle's 64-bit hash picks a bin and a rank, each bin keeps its smallest rank, and an
//! empty bin borrows the value of the first non-empty bin along its own fixed probe sequence.
//! Two signatures agree in a bin with probability J (the Jaccard similarity of the shingle
//! sets), like classic MinHash, at the cost of one hash per shingle instead of `num_hashes`.
//! Only the lowest 8 bits of each bin's minimum are kept (b-bit MinHash, Li & König 2010); two
//! different minima agree in those bits by chance with probability 1/256, which
//! [`similarity`] takes out of the estimate.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

/// The name of the signature scheme. Bump it when anything here changes how a signature is
/// computed: signatures of different schemes are not comparable, and the prefix of every
/// fingerprint and state record says which one made it.
pub(crate) const SCHEME: &str = "mh1";

const SHINGLE_SEED: u64 = 0x6e65_7773_666c_6f77;
const DENSIFY_SEED: u64 = 0x6465_6475_7065_6431;
const BAND_SEED: u64 = 0x6261_6e64_7331_6d68;
const EMPTY: u32 = u32::MAX;

/// How often two different bin minima agree in their kept byte.
const CHANCE: f64 = 1.0 / 256.0;

/// Computes signatures; keeps its buffers between articles.
#[derive(Debug)]
pub(crate) struct Sketcher {
    shingle_size: usize,
    num_hashes: usize,
    /// The word hashes of the current body, little-endian, end to end: a shingle is a slice.
    words: Vec<u8>,
    ranks: Vec<u32>,
    word: String,
}

impl Sketcher {
    pub(crate) fn new(shingle_size: usize, num_hashes: usize) -> Self {
        Self {
            shingle_size,
            num_hashes,
            words: Vec::new(),
            ranks: Vec::new(),
            word: String::new(),
        }
    }

    /// The signature of `body` in `out` (`num_hashes` bytes). A body with fewer words than a
    /// shingle is one shingle; a body without words is the single element `fallback` (the
    /// content hash), so it still matches its exact copies.
    pub(crate) fn sketch(&mut self, body: &[String], fallback: u64, out: &mut Vec<u8>) {
        self.words.clear();
        for paragraph in body {
            for token in paragraph.split_ascii_whitespace() {
                if token.bytes().all(|b| b.is_ascii() && b != 0x0b) {
                    self.push_word(token);
                } else {
                    // Rare: a token with non-ASCII characters, maybe Unicode spaces inside.
                    for raw in token.split_whitespace() {
                        self.push_word(raw);
                    }
                }
            }
        }
        self.ranks.clear();
        self.ranks.resize(self.num_hashes, EMPTY);
        let width = 8 * self.shingle_size;
        if self.words.len() >= width {
            let shingles = self.words.len() / 8 - self.shingle_size + 1;
            for start in 0..shingles {
                let shingle = &self.words[8 * start..8 * start + width];
                add(&mut self.ranks, xxh3_64_with_seed(shingle, SHINGLE_SEED));
            }
        } else if !self.words.is_empty() {
            add(
                &mut self.ranks,
                xxh3_64_with_seed(&self.words, SHINGLE_SEED),
            );
        } else {
            add(
                &mut self.ranks,
                xxh3_64_with_seed(&fallback.to_le_bytes(), SHINGLE_SEED),
            );
        }
        out.clear();
        out.extend(self.ranks.iter().enumerate().map(|(bin, &rank)| {
            if rank != EMPTY {
                rank as u8
            } else {
                self.ranks[donor(&self.ranks, bin)] as u8
            }
        }));
    }
}

impl Sketcher {
    /// Appends the hash of one whitespace-free token's word, if it has one.
    fn push_word(&mut self, raw: &str) {
        if let Some(hash) = word_hash(raw, &mut self.word) {
            self.words.extend_from_slice(&hash.to_le_bytes());
        }
    }
}

/// The hash of [`normalize_word`]'s result. Plain ASCII words (nearly all) take a path without
/// copying: trim, and lowercase on the stack only when there is a capital.
fn word_hash(raw: &str, buffer: &mut String) -> Option<u64> {
    let bytes = raw.as_bytes();
    if !bytes.is_ascii() || bytes.contains(&b'`') {
        return normalize_word(raw, buffer).map(|word| xxh3_64(word.as_bytes()));
    }
    let start = bytes.iter().position(u8::is_ascii_alphanumeric)?;
    let end = bytes.iter().rposition(u8::is_ascii_alphanumeric)? + 1;
    let word = &bytes[start..end];
    if !word.iter().any(u8::is_ascii_uppercase) {
        return Some(xxh3_64(word));
    }
    let mut lower = [0u8; 64];
    match lower.get_mut(..word.len()) {
        Some(lower) => {
            lower.copy_from_slice(word);
            lower.make_ascii_lowercase();
            Some(xxh3_64(lower))
        }
        None => Some(xxh3_64(word.to_ascii_lowercase().as_slice())),
    }
}

/// Files one shingle hash: the high half picks the bin, the low half is the rank.
fn add(ranks: &mut [u32], hash: u64) {
    let bin = bin_of(hash, ranks.len());
    let rank = hash as u32;
    if rank < ranks[bin] {
        ranks[bin] = rank;
    }
}

fn bin_of(hash: u64, bins: usize) -> usize {
    (((hash >> 32) * bins as u64) >> 32) as usize
}

/// The non-empty bin an empty `bin` borrows from: the first along a probe sequence that
/// depends only on `bin` (optimal densification), so two bodies borrow alike. At least one
/// bin is never empty; after many misses the sequence turns into a scan, which is as
/// consistent and bounds the work for bodies of one or two shingles.
fn donor(ranks: &[u32], bin: usize) -> usize {
    let bins = ranks.len();
    for attempt in 1..=(4 * bins as u64) {
        let probe = (bin as u64) << 32 | attempt;
        let candidate = bin_of(xxh3_64_with_seed(&probe.to_le_bytes(), DENSIFY_SEED), bins);
        if ranks[candidate] != EMPTY {
            return candidate;
        }
    }
    (1..bins)
        .map(|step| (bin + step) % bins)
        .find(|&candidate| ranks[candidate] != EMPTY)
        .unwrap_or(bin)
}

/// Lowercases a whitespace-separated token, folds typographic quotes and dashes to ASCII and
/// trims punctuation from its edges; `None` when nothing is left (a lone dash, a bullet).
pub(crate) fn normalize_word<'a>(raw: &str, buffer: &'a mut String) -> Option<&'a str> {
    buffer.clear();
    for ch in raw.chars() {
        let ch = fold(ch);
        if ch.is_ascii() {
            buffer.push(ch.to_ascii_lowercase());
        } else {
            buffer.extend(ch.to_lowercase());
        }
    }
    let word = buffer.trim_matches(|c: char| !c.is_alphanumeric());
    (!word.is_empty()).then_some(word)
}

fn fold(ch: char) -> char {
    match ch {
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '`' | '\u{00B4}' => '\'',
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' | '\u{00AB}'
        | '\u{00BB}' => '"',
        '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
        other => other,
    }
}

/// The estimated Jaccard similarity of the shingle sets behind two signatures: the share of
/// agreeing bins, less the agreements the 8-bit truncation makes by chance.
pub(crate) fn similarity(a: &[u8], b: &[u8]) -> f64 {
    let agree = a.iter().zip(b).filter(|(x, y)| x == y).count();
    let share = agree as f64 / a.len().max(1) as f64;
    ((share - CHANCE) / (1.0 - CHANCE)).clamp(0.0, 1.0)
}

/// The hash under which a signature is filed for one LSH band.
pub(crate) fn band_hash(signature: &[u8], band: usize, rows: usize) -> u64 {
    xxh3_64_with_seed(band_rows(signature, band, rows), BAND_SEED ^ band as u64)
}

/// The values of one band.
pub(crate) fn band_rows(signature: &[u8], band: usize, rows: usize) -> &[u8] {
    &signature[band * rows..(band + 1) * rows]
}

/// The text form of a signature: `mh1-<shingle size>-<num hashes>:<base64url>`. The prefix
/// names the scheme and its parameters; signatures with different prefixes never compare.
pub(crate) fn fingerprint(prefix: &str, signature: &[u8]) -> String {
    format!("{prefix}:{}", URL_SAFE_NO_PAD.encode(signature))
}

/// The prefix of fingerprints made with these parameters.
pub(crate) fn fingerprint_prefix(shingle_size: usize, num_hashes: usize) -> String {
    format!("{SCHEME}-{shingle_size}-{num_hashes}")
}

/// Why a fingerprint text cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FingerprintError {
    /// Made by another scheme or with other parameters.
    Incompatible(String),
    Malformed,
}

/// The signature in a fingerprint made with `prefix`.
pub(crate) fn parse_fingerprint(
    prefix: &str,
    num_hashes: usize,
    text: &str,
) -> Result<Vec<u8>, FingerprintError> {
    let (theirs, encoded) = text.split_once(':').ok_or(FingerprintError::Malformed)?;
    if theirs != prefix {
        return Err(FingerprintError::Incompatible(theirs.to_owned()));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| FingerprintError::Malformed)?;
    if signature.len() != num_hashes {
        return Err(FingerprintError::Malformed);
    }
    Ok(signature)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn sketch(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        Sketcher::new(5, 128).sketch(&[text.to_owned()], 7, &mut out);
        out
    }

    /// Deterministic pseudo-random words (no rand in core).
    fn words(seed: u64, count: usize) -> Vec<String> {
        (0..count as u64)
            .map(|i| format!("w{:x}", xxh3_64_with_seed(&i.to_le_bytes(), seed) % 5_000))
            .collect()
    }

    fn exact_jaccard(a: &[String], b: &[String]) -> f64 {
        let set = |w: &[String]| w.windows(5).map(|s| s.join(" ")).collect::<HashSet<_>>();
        let (a, b) = (set(a), set(b));
        a.intersection(&b).count() as f64 / a.union(&b).count() as f64
    }

    #[test]
    fn words_are_folded_and_trimmed() {
        let mut buffer = String::new();
        let mut norm = |w: &str| normalize_word(w, &mut buffer).map(str::to_owned);
        assert_eq!(norm("\u{201C}Sovereignty,").as_deref(), Some("sovereignty"));
        assert_eq!(norm("It\u{2019}s").as_deref(), Some("it's"));
        assert_eq!(norm("well\u{2013}known").as_deref(), Some("well-known"));
        assert_eq!(norm("\u{00C9}COLE").as_deref(), Some("\u{00E9}cole"));
        assert_eq!(norm("\u{2014}"), None);
    }

    #[test]
    fn the_ascii_path_hashes_what_normalize_word_returns() {
        let mut buffer = String::new();
        let long = "Long".repeat(30);
        for token in [
            "Hello",
            "hello,",
            "\"Quoted\"",
            "U.S.",
            "--",
            "it's",
            "don`t",
            "(BBC)",
            "x",
            "MIXEDcase123",
            "...",
            "a-b",
            "\u{201C}Curly\u{201D}",
            "na\u{EF}ve",
            &long,
        ] {
            let expected = normalize_word(token, &mut buffer).map(|w| xxh3_64(w.as_bytes()));
            assert_eq!(word_hash(token, &mut buffer), expected, "{token}");
        }
    }

    #[test]
    fn unicode_spaces_separate_words_like_ascii_ones() {
        let plain = sketch("one two three four five six");
        assert_eq!(sketch("one\u{a0}two three\u{2009}four five six"), plain);
        assert_eq!(sketch("one\u{b}two three four five six"), plain);
    }

    #[test]
    fn typography_and_case_do_not_change_the_signature() {
        let plain = sketch("He said \"we will go\" -- and it's well-known that they went home.");
        let fancy = sketch(
            "He SAID \u{201C}we will go\u{201D} \u{2014} and it\u{2019}s well\u{2010}known that they went home.",
        );
        assert_eq!(plain, fancy);
        assert_eq!(similarity(&plain, &fancy), 1.0);
    }

    #[test]
    fn short_and_empty_bodies_still_have_signatures() {
        let short = sketch("Three words only");
        assert_eq!(short.len(), 128);
        assert_eq!(short, sketch("three words ONLY."));
        let mut empty = Vec::new();
        Sketcher::new(5, 128).sketch(&["--".to_owned()], 42, &mut empty);
        let mut other = Vec::new();
        Sketcher::new(5, 128).sketch(&["--".to_owned()], 43, &mut other);
        assert!(similarity(&empty, &other) < 0.1);
    }

    /// The estimate follows the exact Jaccard similarity, for short and long bodies alike,
    /// with the spread the threshold was chosen for (about 0.045 around J = 0.5).
    #[test]
    fn the_estimate_tracks_exact_jaccard() {
        let mut worst: f64 = 0.0;
        for (seed, length) in (0..60u64).zip([60usize, 150, 400, 1200].into_iter().cycle()) {
            let base = words(seed, length);
            // Replace a run of words: shingle overlap falls with its length.
            let replaced = length * (seed as usize % 5 + 1) / 12;
            let mut edited = base.clone();
            let other = words(seed + 1000, replaced);
            edited.splice(length / 3..length / 3 + replaced, other);
            let exact = exact_jaccard(&base, &edited);
            let estimate = similarity(&sketch(&base.join(" ")), &sketch(&edited.join(" ")));
            worst = worst.max((exact - estimate).abs());
            assert!(
                (exact - estimate).abs() < 0.2,
                "length {length}: exact {exact:.3}, estimate {estimate:.3}"
            );
        }
        assert!(worst > 0.0);
    }

    #[test]
    fn fingerprints_round_trip_and_name_their_parameters() {
        let signature = sketch("a body of a few words for the fingerprint test");
        let prefix = fingerprint_prefix(5, 128);
        let text = fingerprint(&prefix, &signature);
        assert!(text.starts_with("mh1-5-128:"), "{text}");
        assert_eq!(parse_fingerprint(&prefix, 128, &text), Ok(signature));
        assert_eq!(
            parse_fingerprint("mh1-4-128", 128, &text),
            Err(FingerprintError::Incompatible("mh1-5-128".into()))
        );
        assert_eq!(
            parse_fingerprint(&prefix, 128, "mh1-5-128:!!"),
            Err(FingerprintError::Malformed)
        );
    }
}
