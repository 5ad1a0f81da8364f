//! The learned second opinion (issue 27): a per-topic logistic regression over the article's
//! folded words and word pairs, which can veto a topic the rules would tag.
//!
//! **Features.** The folded article (see `fold.rs`) is cut into words (runs of letters and
//! digits); a *term* is a word, or two words of one sentence separated by one space (`frozen
//! assets`). A term's value is `log2(1 + n)`, where `n` adds up its occurrences, each counted
//! [`TITLE_WEIGHT`] times in the title, [`LEDE_WEIGHT`] times in the lede and once in the body.
//! [`features`] gives every term of an article with its value, for the trainer
//! (`crates/core/examples/train_tagger.rs`); the tagger finds only the model's terms, with an
//! automaton of its own over the same folded text (whole words; a pair's words separated by one
//! space), and only in articles whose rules tag a topic of the model, so the values agree.
//!
//! **Model.** For each topic of the model, `p = 1 / (1 + e^-(bias + Σ weight × value))` over the
//! topic's shipped terms (the others weigh nothing). The weights are trained on the tune half of
//! `tests/fixtures/tag/topic-labels.csv` only, and shipped as text (`taxonomy/model.tsv`),
//! compiled in with `include_str!`.
//!
//! **Combination.** A topic with a model is tagged only when its rules tag it *and* `p` reaches
//! the topic's `min_probability` (chosen by cross-validation on the tune half): the model can
//! only veto. A tag it lets through gains, after the rules' evidence, the model's terms that
//! weighed most for it in this article (at most [`MAX_MODEL_EVIDENCE`]), each with the forms the
//! article writes, so the tag still explains itself.

use std::collections::{BTreeMap, HashMap};

use aho_corasick::MatchKind;
use aho_corasick::automaton::{Automaton as _, StateID};
use aho_corasick::dfa::DFA;

use super::engine::search_dfa;
use super::fold::{BODY, Document, FIELDS, field_index, is_word_char};
use crate::event::{Evidence, NormalizedArticle};

/// The model shipped with the default taxonomy (`model: builtin`).
pub const DEFAULT_MODEL_TSV: &str = include_str!("../../taxonomy/model.tsv");

/// Occurrences in the title count this many times.
pub const TITLE_WEIGHT: f64 = 3.0;
/// Occurrences in the lede count this many times.
pub const LEDE_WEIGHT: f64 = 1.5;

/// At most this many model terms are added to a tag's evidence.
pub const MAX_MODEL_EVIDENCE: usize = 3;

/// At most this many forms of the article's text per evidence item.
const MAX_MATCHED: usize = 3;

const FIELD_WEIGHTS: [f64; 3] = [TITLE_WEIGHT, LEDE_WEIGHT, 1.0];

/// One topic's regression.
#[derive(Debug, Clone)]
pub(crate) struct TopicModel {
    pub id: String,
    pub bias: f64,
    pub min_probability: f64,
}

/// A compiled model: every topic's terms (numbered: slots) and an automaton over them.
#[derive(Debug, Clone)]
pub struct Model {
    pub(crate) topics: Vec<TopicModel>,
    /// The text of each term, by slot (sorted).
    terms: Vec<Box<str>>,
    /// Each slot's weights: (topic model, weight).
    weights: Vec<Vec<(u16, f64)>>,
    /// Every term (pattern number = slot), searched only in articles whose rules tag a topic of
    /// the model: the other articles pay nothing for it.
    dfa: DFA,
}

impl Model {
    /// Parses the model's text form: `#` comments; `topic<TAB>ID<TAB>BIAS<TAB>MIN_PROBABILITY`
    /// starts a topic; each following `TERM<TAB>WEIGHT` line is one of its terms.
    pub fn from_tsv(text: &str) -> Result<Model, String> {
        let mut topics: Vec<TopicModel> = Vec::new();
        let mut entries: BTreeMap<Box<str>, Vec<(u16, f64)>> = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let cols: Vec<&str> = line.split('\t').collect();
            let bad = |what: &str| format!("model line {}: {what}: {line:?}", n + 1);
            let number = |s: &str| {
                s.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| bad("not a number"))
            };
            if cols[0] == "topic" {
                if cols.len() != 4 || cols[1].is_empty() {
                    return Err(bad("expected topic, id, bias, min probability"));
                }
                topics.push(TopicModel {
                    id: cols[1].to_owned(),
                    bias: number(cols[2])?,
                    min_probability: number(cols[3])?,
                });
                continue;
            }
            if cols.len() != 2 {
                return Err(bad("expected a term and its weight"));
            }
            let topic = match topics.len().checked_sub(1) {
                Some(t) if t < usize::from(u16::MAX) => t as u16,
                _ => return Err(bad("a term before any topic")),
            };
            let term = cols[0];
            let words: Vec<&str> = term.split(' ').collect();
            if words.len() > 2
                || words
                    .iter()
                    .any(|w| w.is_empty() || !w.chars().all(is_word_char))
                || term.chars().any(char::is_uppercase)
            {
                return Err(bad("a term is one or two folded words"));
            }
            let weight = number(cols[1])?;
            entries
                .entry(term.into())
                .or_default()
                .push((topic, weight));
        }
        let (terms, weights): (Vec<Box<str>>, _) = entries.into_iter().unzip();
        let dfa = DFA::builder()
            .match_kind(MatchKind::Standard)
            .prefilter(false)
            .build(terms.iter().map(|t| t.as_bytes()))
            .map_err(|err| format!("cannot build the model's matcher: {err}"))?;
        Ok(Model {
            topics,
            terms,
            weights,
            dfa,
        })
    }

    /// The compiled-in model.
    pub fn builtin() -> Result<Model, String> {
        Model::from_tsv(DEFAULT_MODEL_TSV)
    }

    /// The number of a topic's model, if it has one.
    pub(crate) fn topic(&self, id: &str) -> Option<usize> {
        self.topics.iter().position(|t| t.id == id)
    }

    /// The topic ids of the model.
    pub fn topic_ids(&self) -> Vec<&str> {
        self.topics.iter().map(|t| t.id.as_str()).collect()
    }
}

/// Per-article buffers for [`score`].
#[derive(Debug, Default)]
pub(crate) struct ModelScratch {
    /// Weighted occurrences per slot.
    values: Vec<f64>,
    /// Occurrences per slot and field.
    counts: Vec<[u32; 3]>,
    /// Where each slot's term was found: (field, start, end), at most a few per slot.
    spans: Vec<Vec<(u8, u32, u32)>>,
    touched: Vec<u32>,
    /// The automaton's match states (see `engine::search_dfa`).
    found: Vec<(StateID, u32)>,
    /// Whether this article's terms were found.
    ready: bool,
}

impl ModelScratch {
    pub fn reset(&mut self) {
        for &s in &self.touched {
            self.values[s as usize] = 0.0;
            self.counts[s as usize] = [0; 3];
            self.spans[s as usize].clear();
        }
        self.touched.clear();
        self.ready = false;
    }

    /// Sized for `model`'s terms.
    pub fn prepare(&mut self, model: &Model) {
        if self.values.len() < model.terms.len() {
            self.values.resize(model.terms.len(), 0.0);
            self.counts.resize(model.terms.len(), [0; 3]);
            self.spans.resize(model.terms.len(), Vec::new());
        }
    }

    /// A match of the model's term `slot`.
    pub fn hit(&mut self, slot: u32, field: usize, start: u32, end: u32) {
        let s = slot as usize;
        let (Some(value), Some(count), Some(spans)) = (
            self.values.get_mut(s),
            self.counts.get_mut(s),
            self.spans.get_mut(s),
        ) else {
            return;
        };
        if *value == 0.0 {
            self.touched.push(slot);
        }
        *value += FIELD_WEIGHTS[field.min(2)];
        count[field.min(2)] += 1;
        if spans.len() < 8 {
            spans.push((field as u8, start, end));
        }
    }
}

/// Calls `f(term, field, start, end)` for every word and every word pair of the folded
/// document, in order (a pair after its first word).
fn for_each_term(doc: &Document, mut f: impl FnMut(&str, usize, u32, u32, Option<usize>)) {
    let text = doc.text.as_str();
    let bytes = text.as_bytes();
    let mut sentence = 0usize;
    let mut previous: Option<(usize, usize)> = None;
    let mut i = 0;
    while i < text.len() {
        let Some(c) = text[i..].chars().next() else {
            break;
        };
        if !is_word_char(c) {
            i += c.len_utf8();
            continue;
        }
        let start = i;
        let mut end = i;
        for c in text[start..].chars() {
            if !is_word_char(c) {
                break;
            }
            end += c.len_utf8();
        }
        while doc
            .sentences
            .get(sentence + 1)
            .is_some_and(|s| s.start as usize <= start)
        {
            sentence += 1;
        }
        let field = doc
            .sentences
            .get(sentence)
            .and_then(|s| doc.paragraphs.get(s.paragraph as usize))
            .map_or(2, |p| field_index(p.field));
        let pair = previous
            .filter(|&(_, prev_end)| prev_end + 1 == start && bytes[prev_end] == b' ')
            .map(|(prev_start, _)| prev_start);
        f(&text[start..end], field, start as u32, end as u32, pair);
        previous = Some((start, end));
        i = end;
    }
}

/// Every term (word or word pair, see the module) of an article with its value, sorted by term.
/// The trainer's features; the tagger computes the same values for the model's terms only.
pub fn features(article: &NormalizedArticle) -> Vec<(String, f64)> {
    let mut doc = Document::default();
    doc.load(article);
    let mut counts: HashMap<String, f64> = HashMap::new();
    for_each_term(&doc, |word, field, start, _end, pair| {
        *counts.entry(word.to_owned()).or_default() += FIELD_WEIGHTS[field];
        if let Some(pair_start) = pair {
            let end = start as usize + word.len();
            *counts
                .entry(doc.text[pair_start..end].to_owned())
                .or_default() += FIELD_WEIGHTS[field];
        }
    });
    let mut out: Vec<(String, f64)> = counts
        .into_iter()
        .map(|(term, n)| (term, (1.0 + n).log2()))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Finds the model's terms in the folded document (whole words, any case; a pair's words
/// separated by one space, as [`features`] counts them), once per article.
pub(crate) fn find_terms(model: &Model, doc: &Document, scratch: &mut ModelScratch) {
    if scratch.ready {
        return;
    }
    scratch.ready = true;
    scratch.prepare(model);
    let text = doc.text.as_str();
    let mut found = std::mem::take(&mut scratch.found);
    found.clear();
    search_dfa(&model.dfa, text.as_bytes(), &mut found);
    // In article order, so that each term's spans come first occurrence first.
    found.sort_unstable_by_key(|&(_, end)| end);
    for &(sid, end) in &found {
        for k in 0..model.dfa.match_len(sid) {
            let pattern = model.dfa.match_pattern(sid, k);
            let end = end as usize;
            let start = end - model.dfa.pattern_len(pattern);
            let bounded = !text[..start].chars().next_back().is_some_and(is_word_char)
                && !text[end..].chars().next().is_some_and(is_word_char);
            if !bounded {
                continue;
            }
            let sentence = doc.sentence_at(start as u32);
            let field = doc
                .sentences
                .get(sentence as usize)
                .and_then(|s| doc.paragraphs.get(s.paragraph as usize))
                .map_or(BODY, |p| field_index(p.field));
            scratch.hit(pattern.as_u32(), field, start as u32, end as u32);
        }
    }
    scratch.found = found;
}

/// A topic model's verdict on one article.
#[derive(Debug, Clone)]
pub(crate) struct ModelOutcome {
    pub probability: f64,
    pub min_probability: f64,
    /// The terms found (slots), with their contribution (weight × value), the largest first.
    pub terms: Vec<(u32, f64)>,
}

impl ModelOutcome {
    pub fn passes(&self) -> bool {
        self.probability >= self.min_probability
    }
}

/// The probability of topic model `topic` for the article whose terms `scratch` holds.
pub(crate) fn score(model: &Model, topic: usize, scratch: &ModelScratch) -> ModelOutcome {
    let tm = &model.topics[topic];
    let mut z = tm.bias;
    let mut terms: Vec<(u32, f64)> = Vec::new();
    for &slot in &scratch.touched {
        let Some(weights) = model.weights.get(slot as usize) else {
            continue;
        };
        let Some(&(_, weight)) = weights.iter().find(|w| usize::from(w.0) == topic) else {
            continue;
        };
        let contribution = weight * (1.0 + scratch.values[slot as usize]).log2();
        z += contribution;
        terms.push((slot, contribution));
    }
    terms.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ModelOutcome {
        probability: 1.0 / (1.0 + (-z).exp()),
        min_probability: tm.min_probability,
        terms,
    }
}

/// The term of a slot.
pub(crate) fn term(model: &Model, slot: u32) -> &str {
    model.terms.get(slot as usize).map_or("", |t| t)
}

/// The evidence of the model's strongest positive terms: each in the field of its first
/// occurrence, with its count there and the article's own forms.
pub(crate) fn evidence(
    model: &Model,
    outcome: &ModelOutcome,
    doc: &Document,
    scratch: &ModelScratch,
    article: &NormalizedArticle,
    walk: &mut super::fold::Walk,
) -> Vec<Evidence> {
    let mut out = Vec::new();
    for &(slot, contribution) in &outcome.terms {
        if contribution <= 0.0 || out.len() == MAX_MODEL_EVIDENCE {
            break;
        }
        let spans = &scratch.spans[slot as usize];
        let Some(&(field, _, _)) = spans.first() else {
            continue;
        };
        let mut matched: Vec<String> = Vec::new();
        for &(_, start, end) in spans.iter().filter(|s| s.0 == field) {
            if matched.len() == MAX_MATCHED {
                break;
            }
            if let Some(form) = doc.original(article, start, end, walk) {
                if !matched.iter().any(|m| m == form) {
                    matched.push(form.to_owned());
                }
            }
        }
        if matched.is_empty() {
            continue;
        }
        out.push(Evidence {
            term: term(model, slot).to_owned(),
            count: scratch.counts[slot as usize][usize::from(field)],
            location: FIELDS[usize::from(field)],
            matched,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn article(title: &str, body: &[&str]) -> NormalizedArticle {
        super::super::tests::article(Some(title), None, body)
    }

    #[test]
    fn the_shipped_model_parses() {
        // Trained on the audited tune half, it vetoes nothing and ships no topic (see
        // `train_tagger`); whatever it holds must parse and name topics of the taxonomy.
        let model = Model::builtin().expect("the shipped model is valid");
        let taxonomy = crate::Taxonomy::default();
        for id in model.topic_ids() {
            assert!(taxonomy.topic_ids().contains(&id), "{id}");
        }
    }

    #[test]
    fn bad_lines_are_refused() {
        assert!(
            Model::from_tsv("hackers\t1.0\n").is_err(),
            "a term before a topic"
        );
        assert!(Model::from_tsv("topic\tx\t0\t0.5\nthree words here\t1\n").is_err());
        assert!(Model::from_tsv("topic\tx\t0\t0.5\nHackers\t1\n").is_err());
        assert!(Model::from_tsv("topic\tx\t0\t0.5\nhackers\tlots\n").is_err());
    }

    #[test]
    fn words_and_pairs_count_with_the_title_weighted() {
        let a = article("Frozen assets", &["The assets were frozen. Assets, again."]);
        let f: HashMap<String, f64> = features(&a).into_iter().collect();
        // "assets": title (3) + body twice (1 + 1).
        assert!((f["assets"] - (1.0f64 + 5.0).log2()).abs() < 1e-9);
        assert!((f["frozen assets"] - (1.0f64 + 3.0).log2()).abs() < 1e-9);
        assert!(f.contains_key("assets were"));
        // No pair across a sentence's end or a comma.
        assert!(!f.contains_key("frozen again"));
        assert!(!f.contains_key("assets again"));
    }

    #[test]
    fn the_score_is_the_logistic_of_the_weighted_values_with_the_article_forms() {
        let model = Model::from_tsv("topic\tt\t-1\t0.5\nfrozen assets\t2\nassets\t0.5\nwere\t-1\n")
            .unwrap();
        let a = article("Frozen Assets", &["The assets were frozen."]);
        let mut doc = Document::default();
        doc.load(&a);
        let mut scratch = ModelScratch::default();
        find_terms(&model, &doc, &mut scratch);
        find_terms(&model, &doc, &mut scratch); // once per article: no double count
        let outcome = score(&model, 0, &scratch);
        let z = -1.0 + 2.0 * 2.0 + 0.5 * (1.0f64 + 4.0).log2() - 1.0;
        assert!((outcome.probability - 1.0 / (1.0 + (-z).exp())).abs() < 1e-9);
        assert!(outcome.passes());
        let mut walk = super::super::fold::Walk::default();
        let evidence = evidence(&model, &outcome, &doc, &scratch, &a, &mut walk);
        assert_eq!(evidence[0].term, "frozen assets");
        assert_eq!(evidence[0].matched, vec!["Frozen Assets".to_owned()]);
        assert_eq!(evidence[1].matched, vec!["Assets".to_owned()]);
        assert_eq!(evidence[1].count, 1, "in the title");
        assert_eq!(evidence.len(), 2, "the negative term is no evidence");
        scratch.reset();
        assert!(score(&model, 0, &scratch).terms.is_empty());
    }

    /// A cyber-security model for the tests below: `min_probability` decides whether it lets
    /// the story of [`hacked_bank`] through.
    fn cyber_model(min_probability: f64) -> Model {
        Model::from_tsv(&format!(
            "topic\tcyber-security\t-1\t{min_probability}\nhackers\t1.5\nphishing\t1\nbank\t-0.5\n"
        ))
        .unwrap()
    }

    fn hacked_bank() -> NormalizedArticle {
        article(
            "Hackers steal data from bank customers",
            &[
                "Hackers stole the personal data of millions of customers, the bank said.",
                "The hacking group sent phishing e-mails and malicious code to staff.",
                "Security firms warned users to change their passwords.",
            ],
        )
    }

    /// The default rules with [`cyber_model`] as their second opinion.
    fn stage_with_cyber_model(min_probability: f64) -> crate::TagStage {
        let taxonomy = crate::Taxonomy::default()
            .without_model()
            .with_model(cyber_model(min_probability));
        assert!(taxonomy.has_model());
        crate::TagStage::new(std::sync::Arc::new(taxonomy))
    }

    #[test]
    fn a_taxonomy_with_a_model_asks_it_and_explains_it() {
        let a = hacked_bank();
        let mut stage = stage_with_cyber_model(0.5);
        let tags = stage.tag(&a);
        let cyber = tags
            .topics
            .iter()
            .find(|t| t.id == "cyber-security")
            .expect("tagged: rules and model agree");
        // The model's strongest terms are evidence too, with the article's own forms.
        let rules_only = crate::Taxonomy::default().without_model();
        let mut plain = crate::TagStage::new(std::sync::Arc::new(rules_only));
        let plain_tags = plain.tag(&a);
        let plain_cyber = plain_tags.topics.iter().find(|t| t.id == "cyber-security");
        assert!(cyber.evidence.len() > plain_cyber.map_or(0, |t| t.evidence.len()));
        for e in &cyber.evidence {
            assert!(!e.matched.is_empty(), "{e:?}");
        }
        let explanation = super::super::explain(stage.taxonomy(), &a).to_string();
        assert!(explanation.contains("model: p "), "{explanation}");
    }

    #[test]
    fn a_model_below_its_min_probability_vetoes_the_rules_tag_and_says_so() {
        let a = hacked_bank();
        let mut stage = stage_with_cyber_model(0.999);
        let tags = stage.tag(&a);
        assert!(
            tags.topics.iter().all(|t| t.id != "cyber-security"),
            "vetoed: {tags:?}"
        );
        let explanation = super::super::explain(stage.taxonomy(), &a).to_string();
        assert!(explanation.contains("vetoed by the model"), "{explanation}");
    }
}
