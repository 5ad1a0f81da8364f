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

/// Lowercase into `out`.
fn lower_into(word: &str, out: &mut String) {
    out.clear();
    if word.is_ascii() {
        out.extend(word.bytes().map(|b| char::from(b.to_ascii_lowercase())));
    } else {
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
}

/// A lowercased word's folded form into `out`: its Snowball English stem (`talks`, `talked` →
/// `talk`) with `stem`, else the word with a plural `s` off (`talks` → `talk`, not `press` or
/// `us`).
fn fold_lower_into(lower: &str, out: &mut String, stem: bool) {
    out.clear();
    if stem {
        static STEMMER: OnceLock<rust_stemmers::Stemmer> = OnceLock::new();
        let stemmer = STEMMER
            .get_or_init(|| rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English));
        out.push_str(&stemmer.stem(lower));
        return;
    }
    out.push_str(lower);
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

fn fold(word: &str, stem: bool) -> String {
    let (mut lower, mut out) = (String::new(), String::new());
    lower_into(word, &mut lower);
    fold_lower_into(&lower, &mut out, stem);
    out
}

/// The prior's words (`PRIOR_TSV`, the 40,000 commonest English words) by the hash of the
/// word, each with the term of its Snowball stem: built once per process, so stemming costs a
/// look-up. A word outside the prior (a name, a rare word) only loses a plural `s`. Keys are
/// 32-bit hashes like the terms, to keep the table small (another word taken for a prior word
/// by its hash: about one in 100,000).
fn stem_table() -> &'static HashKeyed<u32, Term> {
    static STEMS: OnceLock<HashKeyed<u32, Term>> = OnceLock::new();
    STEMS.get_or_init(|| {
        let mut table = HashKeyed::default();
        let mut lower = String::new();
        let mut stem = String::new();
        for word in prior_words() {
            lower_into(word, &mut lower);
            fold_lower_into(&lower, &mut stem, true);
            table.insert(term_hash(&lower), term_hash(&stem));
        }
        table
    })
}

/// The words of the prior.
fn prior_words() -> impl Iterator<Item = &'static str> {
    PRIOR_TSV
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split('\t').next())
}

/// Words to terms (see `StoryConfig::stem`), with a small direct-mapped cache of the stem
/// table's answers: the commonest words stay in it, so most words cost no look-up in the
/// (larger, colder) table.
#[derive(Debug, Clone, Default)]
pub struct Folder {
    stem: bool,
    buffer: String,
    /// (hash of the word, its stem's term or 0 for none), by the hash's low bits.
    recent: Vec<(u32, Term)>,
}

const RECENT: usize = 16_384;

impl Folder {
    pub fn new(stem: bool) -> Self {
        if stem {
            stem_table();
        }
        Self {
            stem,
            buffer: String::new(),
            recent: if stem {
                vec![(0, 0); RECENT]
            } else {
                Vec::new()
            },
        }
    }

    pub fn memory_bytes(&self) -> usize {
        self.recent.capacity() * std::mem::size_of::<(u32, Term)>() + self.buffer.capacity()
    }

    fn stems(&mut self, lower: &str) -> Option<Term> {
        if !self.stem {
            return None;
        }
        let hash = term_hash(lower);
        let slot = &mut self.recent[hash as usize % RECENT];
        if slot.0 != hash || hash == 0 {
            *slot = (hash, stem_table().get(&hash).copied().unwrap_or(0));
        }
        (slot.1 != 0).then_some(slot.1)
    }

    /// The term of a lowercased word.
    fn term(&mut self, lower: &str) -> Term {
        if let Some(term) = self.stems(lower) {
            return term;
        }
        fold_lower_into(lower, &mut self.buffer, false);
        term_hash(&self.buffer)
    }

    /// The folded form of a lowercased word (its stem, or the word less a plural `s`).
    fn folded(&mut self, lower: &str) -> String {
        let stem = self.stems(lower).is_some();
        fold_lower_into(lower, &mut self.buffer, stem);
        self.buffer.clone()
    }
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
    each_token(text, &mut String::new(), |lower, name| {
        out.push(Token {
            folded: fold(lower, false),
            name,
        });
    });
    out
}

/// Calls `f` with each word lowercased (in `buffer`, reused) and whether it is a name.
fn each_token(text: &str, buffer: &mut String, mut f: impl FnMut(&str, bool)) {
    let mut sentence_start = true;
    let mut word_start: Option<usize> = None;
    let mut flush = |word: &str, sentence_start: &mut bool| {
        let mut chars = word.chars();
        let first = chars.next();
        if chars.next().is_some() {
            let name = !*sentence_start && first.is_some_and(char::is_uppercase);
            lower_into(word, buffer);
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
fn prior_table(stem: bool) -> &'static HashMap<Term, f32> {
    static PRIOR: OnceLock<HashMap<Term, f32>> = OnceLock::new();
    static STEMMED: OnceLock<HashMap<Term, f32>> = OnceLock::new();
    let table = if stem { &STEMMED } else { &PRIOR };
    table.get_or_init(|| {
        let mut table = HashMap::new();
        for line in PRIOR_TSV.lines().filter(|l| !l.starts_with('#')) {
            let Some((word, zipf)) = line.split_once('\t') else {
                continue;
            };
            let Ok(zipf) = zipf.trim().parse::<f32>() else {
                continue;
            };
            // Several words may fold to one term (`talk`, `talks`): the most frequent counts.
            let entry = table.entry(term_hash(&fold(word, stem))).or_insert(zipf);
            *entry = entry.max(zipf);
        }
        table
    })
}

impl Frequencies {
    pub fn new(config: &StoryConfig) -> Self {
        let prior_df = prior_table(config.stem)
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

    /// Documents of the stream that hold `term`.
    pub fn stream_count(&self, term: Term) -> u32 {
        self.stream.get(&term).copied().unwrap_or(0)
    }

    /// Restores a count of the state topic: counts only grow, so the larger one is kept (a
    /// record read again, or an older one, changes nothing).
    pub fn restore_count(&mut self, term: Term, count: u32) {
        let entry = self.stream.entry(term).or_insert(0);
        *entry = (*entry).max(count);
    }

    /// Restores the number of documents counted, like [`Frequencies::restore_count`].
    pub fn restore_documents(&mut self, documents: u64) {
        self.documents = self.documents.max(documents);
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
    /// The terms of the title and of a lede written apart from the body, sorted: never a
    /// site's standing text.
    pub head_terms: Vec<Term>,
    /// The body's terms in order, to find runs of words shared word for word (standing text).
    pub body_terms: Vec<Term>,
    /// Folded words by term, kept only when asked (for explanations).
    pub words: HashKeyed<Term, String>,
}

#[derive(Debug, Clone, Copy, Default)]
struct TermCount {
    title: u32,
    lede: u32,
    /// Body occurrences, each weighted by its paragraph's place (`fields.body_decay`).
    body: f32,
    /// Body occurrences, unweighted.
    body_count: u32,
    names: u32,
    /// The word holds a digit (a figure, a year, a date).
    number: bool,
}

/// Words in a shingle: a run this long shared word for word is standing text.
pub const SHINGLE: usize = 8;

/// Runs of `SHINGLE` terms are sampled by their hash: one in this many is kept (the same ones
/// in every article, so two copies of a run keep the same samples). A run of standing text
/// longer than a few shingles is still found, at half the look-ups and memory (one in four lost
/// a boilerplate pair of each SemEval split).
pub const SHINGLE_SAMPLE: u32 = 2;

/// The sampled runs of `SHINGLE` terms (none for a shorter sequence): (hash, first word).
pub fn shingles(terms: &[Term]) -> Vec<(u32, u32)> {
    terms
        .windows(SHINGLE)
        .enumerate()
        .filter_map(|(start, w)| {
            let mut bytes = [0u8; SHINGLE * 4];
            for (chunk, term) in bytes.chunks_exact_mut(4).zip(w) {
                chunk.copy_from_slice(&term.to_le_bytes());
            }
            let hash = xxh3_64(&bytes) as u32;
            (hash % SHINGLE_SAMPLE == 0).then_some((hash, start as u32))
        })
        .collect()
}

/// An article's term vectors, each unit length and sorted by term.
#[derive(Debug, Clone, Default)]
pub struct Vectors {
    /// Title, lede and body.
    pub full: Vector,
    /// Title and lede only.
    pub head: Vector,
    /// The terms mostly written as names.
    pub names: Vector,
    /// The terms holding a digit.
    pub numbers: Vector,
}

impl Counts {
    /// Counts the words of title, lede and body; `keep_words` keeps each term's word.
    pub fn of<'a>(
        title: Option<&str>,
        lede: Option<&str>,
        body: impl IntoIterator<Item = &'a str>,
        keep_words: bool,
        body_decay: f64,
        folder: &mut Folder,
    ) -> Self {
        let mut counts = Counts {
            head_terms: Vec::new(),
            body_terms: Vec::new(),
            terms: HashKeyed::with_capacity_and_hasher(256, Default::default()),
            words: HashKeyed::default(),
        };
        let mut buffer = String::new();
        // `field`: 0 title, 1 lede, 2 body (with the paragraph's weight).
        // Body words seen so far: a word's weight falls with its place in the body.
        let mut position = 0u32;
        let mut add = |text: &str, field: u8, sink: &mut Vec<Term>| {
            each_token(text, &mut buffer, |lower, name| {
                let term = folder.term(lower);
                sink.push(term);
                let count = counts.terms.entry(term).or_default();
                match field {
                    0 => count.title += 1,
                    1 => count.lede += 1,
                    _ => {
                        count.body +=
                            (1.0 / (1.0 + body_decay * f64::from(position) / 100.0)) as f32;
                        count.body_count += 1;
                        position += 1;
                    }
                }
                count.names += u32::from(name);
                count.number = lower.bytes().any(|b| b.is_ascii_digit());
                if keep_words {
                    counts
                        .words
                        .entry(term)
                        .or_insert_with(|| folder.folded(lower));
                }
            });
        };
        let mut sink = Vec::new();
        if let Some(title) = title {
            add(title, 0, &mut sink);
        }
        let body: Vec<&str> = body.into_iter().collect();
        let mut head = std::mem::take(&mut sink);
        if let Some(lede) = lede {
            add(lede, 1, &mut sink);
            // A lede cut from the body's start is the body's words, standing text included.
            let derived = body.first().is_some_and(|first| {
                let start: String = lede.chars().take(40).collect();
                first.trim_start().starts_with(start.trim())
            });
            if derived {
                sink.clear();
            } else {
                head.append(&mut sink);
            }
        }
        head.sort_unstable();
        head.dedup();
        counts.head_terms = head;
        // A sentence the article repeats word for word (a player's fallback text, a standing
        // line) counts once.
        let mut sentences: Vec<u64> = Vec::new();
        for paragraph in body {
            for sentence in paragraph.split_inclusive(['.', '!', '?']) {
                let trimmed = sentence.trim();
                if trimmed.split_whitespace().nth(3).is_some() {
                    let hash = xxh3_64(trimmed.as_bytes());
                    if sentences.contains(&hash) {
                        continue;
                    }
                    sentences.push(hash);
                }
                add(sentence, 2, &mut sink);
            }
        }
        counts.body_terms = sink;
        counts
    }

    /// The distinct terms.
    pub fn terms(&self) -> impl Iterator<Item = Term> + '_ {
        self.terms.keys().copied()
    }

    /// The unit-length TF-IDF vectors: per term, the sum over fields of the field's weight
    /// times `1 + ln(count)` (body counts weighted by paragraph), times the term's idf, times
    /// `name_boost` when it was mostly written as a name; `head` counts title and lede only,
    /// `names` and `numbers` are the full vector's names and figures.
    pub fn vectors(&self, frequencies: &Frequencies, config: &StoryConfig) -> Vectors {
        let fields = &config.fields;
        let tf = |n: f64| {
            if n <= 0.0 {
                0.0
            } else if n < 1.0 {
                n
            } else {
                1.0 + n.ln()
            }
        };
        let mut out = Vectors::default();
        out.full.reserve(self.terms.len());
        for (&term, c) in &self.terms {
            let head = fields.title * tf(f64::from(c.title)) + fields.lede * tf(f64::from(c.lede));
            let weight = head + fields.body * tf(f64::from(c.body));
            let total = c.title + c.lede + c.body_count;
            let name = c.names * 2 > total;
            let boost = if name { config.name_boost } else { 1.0 };
            let idf = frequencies.idf(term) * boost;
            let weight = (weight * idf) as f32;
            if weight <= 0.0 {
                continue;
            }
            out.full.push((term, weight));
            let head = (head * idf) as f32;
            if head > 0.0 {
                out.head.push((term, head));
            }
            if c.number {
                out.numbers.push((term, weight));
            } else if name {
                out.names.push((term, weight));
            }
        }
        for vector in [
            &mut out.full,
            &mut out.head,
            &mut out.names,
            &mut out.numbers,
        ] {
            normalize(vector);
            vector.sort_unstable_by_key(|(term, _)| *term);
        }
        out
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
        let idf = |w: &str| frequencies.idf(term_hash(&fold(w, true)));
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
