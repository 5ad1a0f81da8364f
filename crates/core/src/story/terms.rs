//! Words to weighted term vectors: tokens, the document frequencies learned from the stream on
//! top of a shipped prior, and TF-IDF vectors over title, lede and body.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use xxhash_rust::xxh3::xxh3_64;

use super::config::StoryConfig;

/// The cold-start prior: English word frequencies derived from wordfreq 3.1.1 (CC BY-SA 4.0),
/// one `word<TAB>zipf` per line. `crates/core/story/build_prior.py` rebuilds it.
pub const PRIOR_TSV: &str = include_str!("../../story/prior-en.tsv");

/// A term: the 32-bit hash of its folded form. Collisions among the words of two articles are
/// rare enough not to matter (about one in four billion per pair of distinct words).
pub type Term = u32;

/// Hashes keys that already are hashes (terms, hashed article ids): one multiply spreads them
/// over the table's bits, far cheaper than SipHash on the stage's hottest maps. The keys come
/// from xxh3, so flooding one bucket would take inputs crafted against it; a slower table,
/// not a wrong answer, is the worst that does.
#[derive(Debug, Default, Clone, Copy)]
pub struct PrehashedHasher(u64);

const SPREAD: u64 = 0x9E37_79B9_7F4A_7C15;

impl Hasher for PrehashedHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*byte)).wrapping_mul(SPREAD);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(SPREAD);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(SPREAD);
    }
}

/// A map keyed by a term or another hash.
pub type HashKeyed<K, V> = HashMap<K, V, BuildHasherDefault<PrehashedHasher>>;

/// A sparse vector, sorted by term.
pub type Vector = Vec<(Term, f32)>;

fn term_hash(folded: &str) -> Term {
    // The low 32 bits of xxh3: stable across platforms and versions.
    xxh3_64(folded.as_bytes()) as u32
}

/// Lowercase into `out`, and a plural `s` off (`talks` → `talk`, not `press` or `us`), so the
/// singular and plural of a word meet. Deliberately light: a stemmer would join words that
/// news keeps apart.
fn fold_into(word: &str, out: &mut String) {
    out.clear();
    if word.is_ascii() {
        out.extend(word.bytes().map(|b| char::from(b.to_ascii_lowercase())));
    } else {
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    if out.len() > 3
        && out.chars().nth(3).is_some()
        && out.ends_with('s')
        && !out.ends_with("ss")
        && !out.ends_with("us")
        && !out.ends_with("is")
    {
        out.pop();
    }
}

fn fold(word: &str) -> String {
    let mut out = String::new();
    fold_into(word, &mut out);
    out
}

/// One token of a text: its folded form and whether it was written as a name (a capital
/// letter, not at the start of a sentence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub folded: String,
    pub name: bool,
}

/// The words of a text: runs of letters and digits, at least two characters long.
pub fn tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    each_token(text, &mut String::new(), |folded, name| {
        out.push(Token {
            folded: folded.to_owned(),
            name,
        });
    });
    out
}

/// Calls `f` with each word's folded form (in `buffer`, reused) and whether it is a name.
fn each_token(text: &str, buffer: &mut String, mut f: impl FnMut(&str, bool)) {
    let mut sentence_start = true;
    let mut word_start: Option<usize> = None;
    let mut flush = |word: &str, sentence_start: &mut bool| {
        let mut chars = word.chars();
        let first = chars.next();
        if chars.next().is_some() {
            let name = !*sentence_start && first.is_some_and(char::is_uppercase);
            fold_into(word, buffer);
            f(buffer, name);
        }
        *sentence_start = false;
    };
    for (i, c) in text.char_indices() {
        if c.is_alphanumeric() {
            if word_start.is_none() {
                word_start = Some(i);
            }
            continue;
        }
        if let Some(start) = word_start.take() {
            flush(&text[start..i], &mut sentence_start);
        }
        if matches!(c, '.' | '!' | '?' | '\n' | ':' | '"' | '\u{201C}') {
            sentence_start = true;
        }
    }
    if let Some(start) = word_start {
        flush(&text[start..], &mut sentence_start);
    }
}

/// Document frequencies: the prior's, then what the stream adds.
#[derive(Debug, Clone)]
pub struct Frequencies {
    /// Zipf values per term; turned into prior document frequencies once, in `prior_df`.
    prior_df: HashKeyed<Term, f32>,
    prior_documents: f64,
    stream: HashKeyed<Term, u32>,
    documents: u64,
}

/// The prior as Zipf values per term (parsed once per process).
fn prior_table() -> &'static HashMap<Term, f32> {
    static PRIOR: OnceLock<HashMap<Term, f32>> = OnceLock::new();
    PRIOR.get_or_init(|| {
        let mut table = HashMap::new();
        for line in PRIOR_TSV.lines().filter(|l| !l.starts_with('#')) {
            let Some((word, zipf)) = line.split_once('\t') else {
                continue;
            };
            let Ok(zipf) = zipf.trim().parse::<f32>() else {
                continue;
            };
            // Several words may fold to one term (`talk`, `talks`): the most frequent counts.
            let entry = table.entry(term_hash(&fold(word))).or_insert(zipf);
            *entry = entry.max(zipf);
        }
        table
    })
}

impl Frequencies {
    pub fn new(config: &StoryConfig) -> Self {
        let prior_df = prior_table()
            .iter()
            .map(|(term, zipf)| {
                let per_word = 10f64.powf(f64::from(*zipf) - 9.0);
                let df = config.prior_documents
                    * (1.0 - (-config.prior_document_words * per_word).exp());
                (*term, df as f32)
            })
            .collect();
        Self {
            prior_df,
            prior_documents: config.prior_documents,
            stream: HashKeyed::default(),
            documents: 0,
        }
    }

    /// Counts one document's distinct terms.
    pub fn observe(&mut self, terms: impl IntoIterator<Item = Term>) {
        self.documents += 1;
        for term in terms {
            *self.stream.entry(term).or_insert(0) += 1;
        }
    }

    /// The heap of the frequencies learned from the stream (the prior is shared and static).
    pub fn memory_bytes(&self) -> usize {
        self.stream.capacity() * (std::mem::size_of::<(Term, u32)>() + 1)
    }

    /// Documents counted from the stream.
    pub fn documents(&self) -> u64 {
        self.documents
    }

    /// The inverse document frequency: `ln((N + 1) / (df + 0.5))`, where the prior adds
    /// `prior_documents` documents in which a word of frequency `f` (per word) appears with
    /// probability `1 - exp(-prior_document_words · f)`.
    pub fn idf(&self, term: Term) -> f64 {
        let prior_df = self.prior_df.get(&term).map_or(0.0, |df| f64::from(*df));
        let df = prior_df + f64::from(self.stream.get(&term).copied().unwrap_or(0));
        let n = self.prior_documents + self.documents as f64;
        ((n + 1.0) / (df + 0.5)).ln().max(0.0)
    }
}

/// The counts of one article's terms before weighting: per term, its count in each field and
/// how often it was written as a name.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    terms: HashKeyed<Term, TermCount>,
    /// Folded words by term, kept only when asked (for explanations).
    pub words: HashKeyed<Term, String>,
}

#[derive(Debug, Clone, Copy, Default)]
struct TermCount {
    title: u32,
    lede: u32,
    body: u32,
    names: u32,
}

impl Counts {
    /// Counts the words of title, lede and body; `keep_words` keeps each term's word.
    pub fn of<'a>(
        title: Option<&str>,
        lede: Option<&str>,
        body: impl IntoIterator<Item = &'a str>,
        keep_words: bool,
    ) -> Self {
        let mut counts = Counts {
            terms: HashKeyed::with_capacity_and_hasher(256, Default::default()),
            words: HashKeyed::default(),
        };
        let mut buffer = String::new();
        let mut add = |text: &str, field: fn(&mut TermCount) -> &mut u32| {
            each_token(text, &mut buffer, |folded, name| {
                let term = term_hash(folded);
                let count = counts.terms.entry(term).or_default();
                *field(count) += 1;
                count.names += u32::from(name);
                if keep_words {
                    counts
                        .words
                        .entry(term)
                        .or_insert_with(|| folded.to_owned());
                }
            });
        };
        if let Some(title) = title {
            add(title, |c| &mut c.title);
        }
        if let Some(lede) = lede {
            add(lede, |c| &mut c.lede);
        }
        for paragraph in body {
            add(paragraph, |c| &mut c.body);
        }
        counts
    }

    /// The distinct terms.
    pub fn terms(&self) -> impl Iterator<Item = Term> + '_ {
        self.terms.keys().copied()
    }

    /// The unit-length TF-IDF vector: per term, the sum over fields of the field's weight times
    /// `1 + ln(count)`, times the term's idf, times `name_boost` when it was mostly written as
    /// a name.
    pub fn vector(&self, frequencies: &Frequencies, config: &StoryConfig) -> Vector {
        let fields = &config.fields;
        let tf = |n: u32| {
            if n == 0 { 0.0 } else { 1.0 + f64::from(n).ln() }
        };
        let mut vector: Vector = self
            .terms
            .iter()
            .filter_map(|(&term, c)| {
                let weight = fields.title * tf(c.title)
                    + fields.lede * tf(c.lede)
                    + fields.body * tf(c.body);
                let total = c.title + c.lede + c.body;
                let boost = if c.names * 2 > total {
                    config.name_boost
                } else {
                    1.0
                };
                let weight = weight * frequencies.idf(term) * boost;
                (weight > 0.0).then_some((term, weight as f32))
            })
            .collect();
        normalize(&mut vector);
        vector.sort_unstable_by_key(|(term, _)| *term);
        vector
    }
}

/// Scales a vector to unit length (an empty or zero vector stays as it is).
pub fn normalize(vector: &mut Vector) {
    let norm = norm(vector);
    if norm > 0.0 {
        for (_, weight) in vector.iter_mut() {
            *weight /= norm;
        }
    }
}

pub fn norm(vector: &[(Term, f32)]) -> f32 {
    vector.iter().map(|(_, w)| w * w).sum::<f32>().sqrt()
}

/// The dot product of two vectors sorted by term.
pub fn dot(a: &[(Term, f32)], b: &[(Term, f32)]) -> f32 {
    let (mut i, mut j, mut sum) = (0, 0, 0.0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                sum += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    sum
}

/// The cosine of two vectors sorted by term.
pub fn cosine(a: &[(Term, f32)], b: &[(Term, f32)]) -> f32 {
    let denominator = norm(a) * norm(b);
    if denominator > 0.0 {
        (dot(a, b) / denominator).min(1.0)
    } else {
        0.0
    }
}

/// The heaviest `n` entries of a vector, sorted by term again.
pub fn heaviest(vector: &[(Term, f32)], n: usize) -> Vector {
    let mut top: Vector = vector.to_vec();
    if top.len() > n {
        top.select_nth_unstable_by(n, |a, b| b.1.total_cmp(&a.1));
        top.truncate(n);
    }
    top.sort_unstable_by_key(|(term, _)| *term);
    top
}

/// `a + scale · b`, both sorted by term.
pub fn add_scaled(a: &[(Term, f32)], b: &[(Term, f32)], scale: f32) -> Vector {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let next = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x.0 == y.0 => {
                i += 1;
                j += 1;
                (x.0, x.1 + scale * y.1)
            }
            (Some(x), Some(y)) if x.0 < y.0 => {
                i += 1;
                *x
            }
            (Some(x), None) => {
                i += 1;
                *x
            }
            (_, Some(y)) => {
                j += 1;
                (y.0, scale * y.1)
            }
            (None, None) => break,
        };
        out.push(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_fold_plurals_and_see_names_inside_sentences() {
        let words: Vec<(String, bool)> = tokens("Talks resumed. Xi and Putin's aides met in Kyiv")
            .into_iter()
            .map(|t| (t.folded, t.name))
            .collect();
        assert_eq!(
            words,
            [
                ("talk".to_owned(), false),
                ("resumed".to_owned(), false),
                ("xi".to_owned(), false),
                ("and".to_owned(), false),
                ("putin".to_owned(), true),
                ("aide".to_owned(), false),
                ("met".to_owned(), false),
                ("in".to_owned(), false),
                ("kyiv".to_owned(), true),
            ]
        );
    }

    #[test]
    fn the_prior_makes_common_words_cheap_and_names_dear_from_the_start() {
        let frequencies = Frequencies::new(&StoryConfig::default());
        let idf = |w: &str| frequencies.idf(term_hash(w));
        assert!(idf("the") < 0.1, "{}", idf("the"));
        assert!(idf("said") < idf("ceasefire"));
        assert!(idf("ceasefire") < idf("guentzel"));
    }

    #[test]
    fn the_stream_lowers_the_idf_of_what_it_repeats() {
        let mut frequencies = Frequencies::new(&StoryConfig::default());
        let before = frequencies.idf(term_hash("zaporizhzhia"));
        for _ in 0..200 {
            frequencies.observe([term_hash("zaporizhzhia")]);
        }
        assert!(frequencies.idf(term_hash("zaporizhzhia")) < before / 2.0);
    }

    #[test]
    fn vector_arithmetic() {
        let a = vec![(1, 0.6), (3, 0.8)];
        let b = vec![(2, 1.0), (3, 1.0)];
        assert!((dot(&a, &b) - 0.8).abs() < 1e-6);
        assert_eq!(add_scaled(&a, &b, 2.0), vec![(1, 0.6), (2, 2.0), (3, 2.8)]);
        assert_eq!(
            heaviest(&add_scaled(&a, &b, 2.0), 2),
            vec![(2, 2.0), (3, 2.8)]
        );
        assert!((cosine(&a, &a) - 1.0).abs() < 1e-6);
    }
}
