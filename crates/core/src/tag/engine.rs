//! Matching an article against a compiled taxonomy, and scoring each topic.
//!
//! One pass of the automaton over the folded article finds every phrase of every rule; each
//! match is kept when it is a whole word (no letter or digit continues it on either side) and,
//! for case-sensitive phrases, when its capitals agree. Then, per topic:
//!
//! - **terms**: within one topic, overlapping matches keep the longest (`war in Ukraine` is one
//!   match of that phrase, not also of `Ukraine`). A term found `n` times counts
//!   `weight × log2(1 + e)`, where `e` adds up its occurrences, each multiplied by the topic's
//!   title or lede boost where it occurs (1 in the body): the first mention counts most, and
//!   repetition has diminishing returns.
//! - **groups**: a sentence (or paragraph) satisfies a group when it holds a phrase of every one
//!   of the group's term lists; the group counts `weight × log2(1 + w)` over the boosts `w` of
//!   the satisfying windows. A `required` group must be satisfied at least once.
//! - **exclusions**: any match vetoes the topic.
//! - **focus** (optional): the topic's evidence (terms and satisfied groups of at least the
//!   focus weight) must be in the title or lede, or in enough body paragraphs (a count and a
//!   share of them), or the topic is not tagged: a passing mention is not the story's subject.
//!   A lede that is the body's first paragraph (the normalizer's) counts as that paragraph:
//!   reading it as the head too was tried on the tune half (2026.12.3) and gained as many
//!   false positives as it removed false negatives.
//!
//! The raw score is the sum; the topic is tagged when it reaches the threshold, and its score is
//! `raw / (raw + threshold)`: 0.5 at the threshold, approaching 1 with more evidence.

use std::cmp::Reverse;

use aho_corasick::automaton::{Automaton as _, StateID};
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, PatternID};

use super::fold::{BODY, Document, FIELDS, Walk, field_index, is_word_char};
use super::model::{self, ModelOutcome, ModelScratch};
use super::taxonomy::{Automaton, Focus, Taxonomy, Use};
use crate::event::{Entity, Evidence, NormalizedArticle, TopicTag};

/// At most this many evidence items per tag, the strongest first.
const MAX_EVIDENCE: usize = 16;

/// At most this many forms of the article's text per evidence item (`matched`).
const MAX_MATCHED: usize = 3;

/// Matches looked at per evidence item for its `matched` forms: a term found fifty times is
/// mostly written one way, and finding its forms must not cost fifty lookups.
const MAX_MATCHED_LOOKUPS: usize = 8;

#[derive(Debug, Clone, Copy)]
struct Hit {
    pattern: u32,
    start: u32,
    end: u32,
}

#[derive(Debug, Clone, Copy)]
struct SlotHit {
    group: u32,
    window: u32,
    slot: u16,
    item: u16,
    field: u8,
    start: u32,
    end: u32,
}

/// Where a term of a topic was found (a match kept after overlap resolution).
#[derive(Debug, Clone, Copy)]
struct TermHit {
    topic: u32,
    term: u32,
    start: u32,
    end: u32,
}

#[derive(Debug, Clone, Copy)]
struct ExclusionHit {
    topic: u32,
    item: u32,
    field: u8,
}

/// Per-article buffers, reused from one article to the next.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    pub doc: Document,
    hits: Vec<Hit>,
    /// Match states of the DFA and where they were entered (see `search_dfa`).
    match_states: Vec<(StateID, u32)>,
    /// Occurrences per taxonomy-wide term number and field.
    term_counts: Vec<[u32; 3]>,
    touched_terms: Vec<u32>,
    /// End of the last term match kept per topic (overlap resolution), and whether the topic
    /// has any evidence in this article.
    topic_last_end: Vec<u32>,
    topic_touched: Vec<bool>,
    touched_topics: Vec<u32>,
    sentence_hits: Vec<SlotHit>,
    paragraph_hits: Vec<SlotHit>,
    exclusion_hits: Vec<ExclusionHit>,
    /// (topic, paragraph) of term matches that are evidence for their topic's `focus`.
    focus_hits: Vec<(u32, u32)>,
    term_hits: Vec<TermHit>,
    walk: Walk,
    entity_counts: Vec<u32>,
    touched_entities: Vec<u32>,
    model: ModelScratch,
}

/// What one term contributed.
#[derive(Debug, Clone)]
pub(crate) struct TermOutcome {
    pub term: usize,
    pub counts: [u32; 3],
    pub contribution: f64,
}

/// How one group fared.
#[derive(Debug, Clone)]
pub(crate) struct GroupOutcome {
    pub group: usize,
    /// Windows (sentences or paragraphs) holding every term list.
    pub satisfied: u32,
    pub contribution: f64,
    /// For the window that came closest, which term lists it held (bit per list).
    pub best_mask: u32,
    /// Phrases found in satisfying windows: (slot, item, field) → occurrences.
    pub found: Vec<(u16, u16, u8, u32)>,
    /// The satisfying windows (sentence or paragraph numbers).
    pub windows: Vec<u32>,
    /// Where the phrases of satisfying windows are: (slot, item, field, start, end).
    pub spans: Vec<(u16, u16, u8, u32, u32)>,
}

/// How a topic with a `focus:` fared.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FocusOutcome {
    /// Whether the title or the lede holds evidence.
    pub head: bool,
    /// Body paragraphs holding evidence, of all body paragraphs.
    pub paragraphs: u32,
    pub body_paragraphs: u32,
    /// Body paragraphs with evidence needed.
    pub needed: u32,
    pub met: bool,
}

/// Why a topic was or was not tagged.
#[derive(Debug, Clone)]
pub(crate) struct TopicOutcome {
    pub topic: usize,
    pub raw: f64,
    pub tagged: bool,
    pub terms: Vec<TermOutcome>,
    pub groups: Vec<GroupOutcome>,
    /// Exclusions found: (item, field, occurrences).
    pub exclusions: Vec<(u32, u8, u32)>,
    pub focus: Option<FocusOutcome>,
    /// A tagged topic's evidence, with the article's own text of each match.
    pub evidence: Vec<Evidence>,
    /// With `detail`: every match of the topic's terms and satisfied groups, in article order.
    pub quotes: Vec<Quote>,
    /// The model's verdict, for a topic of the model that the rules tag (or with `detail`).
    pub model: Option<ModelOutcome>,
}

/// One match of a topic's rules, as the article writes it, with its sentence.
#[derive(Debug, Clone)]
pub(crate) struct Quote {
    /// The term's label (or the group phrase).
    pub term: String,
    pub field: u8,
    pub matched: String,
    pub sentence: String,
}

/// The analysis of one article.
#[derive(Debug, Clone, Default)]
pub(crate) struct Analysis {
    /// Topics with any evidence, in taxonomy order.
    pub topics: Vec<TopicOutcome>,
    /// Whether topic rules were skipped because of the article's language.
    pub language_skipped: Option<String>,
    /// (entity, mentions), most mentioned first.
    pub entities: Vec<(usize, u32)>,
}

fn log_count(effective: f64) -> f64 {
    (1.0 + effective).log2()
}

/// Whether an article in `language` gets tags from rules written in `rules_language`.
fn language_applies(language: Option<&str>, rules_language: &str) -> bool {
    match language {
        None => true,
        Some(l) => {
            let primary = l.split(['-', '_']).next().unwrap_or(l).trim();
            primary.is_empty() || primary.eq_ignore_ascii_case(rules_language)
        }
    }
}

impl Scratch {
    fn prepare(&mut self, taxonomy: &Taxonomy) {
        self.term_counts.resize(taxonomy.term_count, [0; 3]);
        self.topic_last_end.resize(taxonomy.topics.len(), 0);
        self.topic_touched.resize(taxonomy.topics.len(), false);
        self.entity_counts.resize(taxonomy.entities.len(), 0);
        self.hits.clear();
        self.sentence_hits.clear();
        self.paragraph_hits.clear();
        self.exclusion_hits.clear();
        self.focus_hits.clear();
        self.term_hits.clear();
    }

    fn reset(&mut self) {
        for &t in &self.touched_terms {
            self.term_counts[t as usize] = [0; 3];
        }
        self.touched_terms.clear();
        for &t in &self.touched_topics {
            self.topic_last_end[t as usize] = 0;
            self.topic_touched[t as usize] = false;
        }
        self.touched_topics.clear();
        for &e in &self.touched_entities {
            self.entity_counts[e as usize] = 0;
        }
        self.touched_entities.clear();
        self.model.reset();
    }

    fn touch_topic(&mut self, topic: u32) {
        if !self.topic_touched[topic as usize] {
            self.topic_touched[topic as usize] = true;
            self.touched_topics.push(topic);
        }
    }
}

/// Finds every rule phrase and entity alias in the article and scores every topic with
/// evidence. With `detail`, topics that fell short keep their breakdown too (for `explain`).
pub(crate) fn analyze(
    taxonomy: &Taxonomy,
    article: &NormalizedArticle,
    scratch: &mut Scratch,
    detail: bool,
) -> Analysis {
    scratch.prepare(taxonomy);
    scratch.doc.load(article);
    find_hits(taxonomy, scratch);
    let topics_apply = language_applies(article.language.as_deref(), taxonomy.language());
    collect(taxonomy, scratch);

    let mut analysis = Analysis {
        language_skipped: (!topics_apply).then(|| article.language.clone().unwrap_or_default()),
        ..Analysis::default()
    };
    if topics_apply {
        scratch.touched_topics.sort_unstable();
        scratch
            .sentence_hits
            .sort_unstable_by_key(|h| (h.group, h.window, h.slot));
        scratch
            .paragraph_hits
            .sort_unstable_by_key(|h| (h.group, h.window, h.slot));
        for i in 0..scratch.touched_topics.len() {
            let topic = scratch.touched_topics[i] as usize;
            let mut outcome = score_topic(taxonomy, scratch, topic, detail);
            // The model can only veto: it is asked about what the rules tag.
            let topic_model = taxonomy.topic_models.get(topic).copied().flatten();
            let learned = taxonomy.model.as_deref().zip(topic_model);
            if let Some((learned, m)) = learned.filter(|_| outcome.tagged || detail) {
                model::find_terms(learned, &scratch.doc, &mut scratch.model);
                let verdict = model::score(learned, m, &scratch.model);
                outcome.tagged &= verdict.passes();
                outcome.model = Some(verdict);
            }
            if outcome.tagged {
                outcome.evidence = evidence(taxonomy, &outcome, scratch, article);
                if let (Some(verdict), Some((learned, _))) = (&outcome.model, learned) {
                    let items = model::evidence(
                        learned,
                        verdict,
                        &scratch.doc,
                        &scratch.model,
                        article,
                        &mut scratch.walk,
                    );
                    for item in items {
                        if !outcome
                            .evidence
                            .iter()
                            .any(|e| e.term.eq_ignore_ascii_case(&item.term))
                        {
                            outcome.evidence.push(item);
                        }
                    }
                }
            }
            if detail {
                outcome.quotes = quotes(taxonomy, &outcome, scratch, article);
            }
            if detail || outcome.tagged {
                analysis.topics.push(outcome);
            }
        }
    }
    let mut entities: Vec<(usize, u32)> = scratch
        .touched_entities
        .iter()
        .map(|&e| (e as usize, scratch.entity_counts[e as usize]))
        .collect();
    entities.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    analysis.entities = entities;
    scratch.reset();
    analysis
}

/// Runs the automaton and keeps whole-word matches, ordered by start, longest first.
fn find_hits(taxonomy: &Taxonomy, scratch: &mut Scratch) {
    let text = scratch.doc.text.as_str();
    let patterns = &taxonomy.matcher.patterns;
    let hits = &mut scratch.hits;
    let mut keep = |pattern_id: PatternID, start: usize, end: usize| {
        let pattern = &patterns[pattern_id.as_usize()];
        if pattern.bounded_start && text[..start].chars().next_back().is_some_and(is_word_char) {
            return;
        }
        if pattern.bounded_end && text[end..].chars().next().is_some_and(is_word_char) {
            return;
        }
        hits.push(Hit {
            pattern: pattern_id.as_u32(),
            start: start as u32,
            end: end as u32,
        });
    };
    match &taxonomy.matcher.automaton {
        Automaton::Dfa(dfa) => {
            let match_states = &mut scratch.match_states;
            match_states.clear();
            search_dfa(dfa, text.as_bytes(), match_states);
            for &(sid, end) in match_states.iter() {
                for k in 0..dfa.match_len(sid) {
                    let pattern = dfa.match_pattern(sid, k);
                    let end = end as usize;
                    keep(pattern, end - dfa.pattern_len(pattern), end);
                }
            }
        }
        Automaton::Other(automaton) => {
            for m in automaton.find_overlapping_iter(text) {
                keep(m.pattern(), m.start(), m.end());
            }
        }
    }
    scratch
        .hits
        .sort_unstable_by_key(|h| (h.start, Reverse(h.end)));
}

/// Independent walks of the DFA that [`search_dfa`] interleaves.
const LANES: usize = 4;

/// Every match state the DFA enters while reading `text`, with the offset just past the byte
/// that led there (the end of every pattern the state matches), in no particular order.
///
/// A walk of the DFA is a chain of dependent table lookups, one per byte, each waiting for the
/// one before. So the text is cut into [`LANES`] parts of equal length, walked side by side
/// for the processor to overlap their lookups. The DFA's state after a byte depends only on the
/// last `max_pattern_len` bytes (the longest pattern prefix they end with), so a part's walk
/// starts that many bytes before the part, reporting nothing until it enters it: every match is
/// found once, by the part it ends in.
pub(crate) fn search_dfa(dfa: &DFA, text: &[u8], found: &mut Vec<(StateID, u32)>) {
    let Ok(start) = dfa.start_state(Anchored::No) else {
        return;
    };
    let part = text.len() / LANES;
    let mut state = [start; LANES];
    let warm_up = dfa.max_pattern_len();
    for (lane, state) in state.iter_mut().enumerate().skip(1) {
        for &byte in &text[(lane * part).saturating_sub(warm_up)..lane * part] {
            *state = dfa.next_state(Anchored::No, *state, byte);
        }
    }
    let lanes: [&[u8]; LANES] = std::array::from_fn(|lane| &text[lane * part..(lane + 1) * part]);
    // Byte `i` of every part, then byte `i + 1`: indexes, not iterators, keep the walks in step.
    #[allow(clippy::needless_range_loop)]
    for i in 0..part {
        for lane in 0..LANES {
            let sid = dfa.next_state(Anchored::No, state[lane], lanes[lane][i]);
            state[lane] = sid;
            if dfa.is_special(sid) {
                found.push((sid, (lane * part + i + 1) as u32));
            }
        }
    }
    // The last part also has the bytes that did not divide evenly.
    let mut sid = state[LANES - 1];
    for (at, &byte) in text.iter().enumerate().skip(LANES * part) {
        sid = dfa.next_state(Anchored::No, sid, byte);
        if dfa.is_special(sid) {
            found.push((sid, (at + 1) as u32));
        }
    }
    // Without a prefilter, the special states of an unanchored search are match states (its
    // dead state cannot be reached).
    found.retain(|&(sid, _)| dfa.is_match(sid));
}

/// Turns matches into term counts, group window hits, exclusions and entity mentions.
fn collect(taxonomy: &Taxonomy, scratch: &mut Scratch) {
    let mut entity_end = 0u32;
    // Hits come in order of their start, so the sentence holding each is found by walking on
    // from the last one's.
    let mut sentence = 0u32;
    for h in 0..scratch.hits.len() {
        let hit = scratch.hits[h];
        let sentences = &scratch.doc.sentences;
        while sentences
            .get(sentence as usize + 1)
            .is_some_and(|next| next.start <= hit.start)
        {
            sentence += 1;
        }
        let paragraph = scratch.doc.sentences[sentence as usize].paragraph;
        let field = field_index(scratch.doc.paragraphs[paragraph as usize].field) as u8;
        for variant in &taxonomy.matcher.patterns[hit.pattern as usize].variants {
            if let Some(case) = &variant.case {
                if !scratch.doc.case_matches(hit.start, hit.end, case)
                    || scratch.doc.shouting_around(hit.start, hit.end)
                {
                    continue;
                }
            }
            for usage in &variant.uses {
                match *usage {
                    Use::Term { topic, term } => {
                        if hit.start < scratch.topic_last_end[topic as usize] {
                            continue;
                        }
                        scratch.topic_last_end[topic as usize] = hit.end;
                        let global = taxonomy.topics[topic as usize].term_offset as u32 + term;
                        let counts = &mut scratch.term_counts[global as usize];
                        if *counts == [0; 3] {
                            scratch.touched_terms.push(global);
                        }
                        counts[field as usize] += 1;
                        if taxonomy.topics[topic as usize].terms[term as usize].focus {
                            scratch.focus_hits.push((topic, paragraph));
                        }
                        scratch.term_hits.push(TermHit {
                            topic,
                            term,
                            start: hit.start,
                            end: hit.end,
                        });
                        scratch.touch_topic(topic);
                    }
                    Use::Slot { group, slot, item } => {
                        let (topic, local) = taxonomy.group_index[group as usize];
                        let within = taxonomy.topics[topic].groups[local].within;
                        let (window, hits) = match within {
                            super::Window::Sentence => (sentence, &mut scratch.sentence_hits),
                            super::Window::Paragraph => (paragraph, &mut scratch.paragraph_hits),
                        };
                        hits.push(SlotHit {
                            group,
                            window,
                            slot,
                            item,
                            field,
                            start: hit.start,
                            end: hit.end,
                        });
                        scratch.touch_topic(topic as u32);
                    }
                    Use::Exclusion { topic, item } => {
                        scratch
                            .exclusion_hits
                            .push(ExclusionHit { topic, item, field });
                        scratch.touch_topic(topic);
                    }
                    Use::Entity { entity } => {
                        // Overlapping aliases (`President Xi`, `Xi`) are one mention.
                        if hit.start < entity_end {
                            continue;
                        }
                        entity_end = hit.end;
                        if scratch.entity_counts[entity as usize] == 0 {
                            scratch.touched_entities.push(entity);
                        }
                        scratch.entity_counts[entity as usize] += 1;
                    }
                }
            }
        }
    }
}

/// Scores a topic; its focus is only looked at when it could change the verdict (the raw score
/// reaches the threshold) or with `detail`.
fn score_topic(
    taxonomy: &Taxonomy,
    scratch: &Scratch,
    topic_index: usize,
    detail: bool,
) -> TopicOutcome {
    let topic = &taxonomy.topics[topic_index];
    let mut raw = 0.0;
    let mut terms = Vec::new();
    for (k, term) in topic.terms.iter().enumerate() {
        let counts = scratch.term_counts[topic.term_offset + k];
        if counts == [0; 3] {
            continue;
        }
        let effective: f64 = (0..3).map(|f| f64::from(counts[f]) * topic.boosts[f]).sum();
        let contribution = term.weight * log_count(effective);
        raw += contribution;
        terms.push(TermOutcome {
            term: k,
            counts,
            contribution,
        });
    }
    let mut groups = Vec::new();
    let mut required_missing = Vec::new();
    for (g, group) in topic.groups.iter().enumerate() {
        let global = (topic.group_offset + g) as u32;
        let hits = match group.within {
            super::Window::Sentence => &scratch.sentence_hits,
            super::Window::Paragraph => &scratch.paragraph_hits,
        };
        let from = hits.partition_point(|h| h.group < global);
        let to = hits.partition_point(|h| h.group <= global);
        let outcome = score_group(topic, group.slots.len(), group.weight, &hits[from..to], g);
        if group.required && outcome.satisfied == 0 {
            required_missing.push(g);
        }
        if from < to {
            raw += outcome.contribution;
            groups.push(outcome);
        }
    }
    let mut exclusions: Vec<(u32, u8, u32)> = Vec::new();
    for hit in scratch
        .exclusion_hits
        .iter()
        .filter(|h| h.topic as usize == topic_index)
    {
        match exclusions
            .iter_mut()
            .find(|e| e.0 == hit.item && e.1 == hit.field)
        {
            Some(e) => e.2 += 1,
            None => exclusions.push((hit.item, hit.field, 1)),
        }
    }
    let focus = topic
        .focus
        .filter(|_| detail || raw >= topic.threshold)
        .map(|focus| focus_outcome(taxonomy, scratch, topic_index, focus, &groups));
    let tagged = raw > 0.0
        && raw >= topic.threshold
        && exclusions.is_empty()
        && required_missing.is_empty()
        && focus.is_none_or(|f| f.met);
    TopicOutcome {
        topic: topic_index,
        raw,
        tagged,
        terms,
        groups,
        exclusions,
        focus,
        evidence: Vec::new(),
        quotes: Vec::new(),
        model: None,
    }
}

/// Where a topic's evidence is: its terms and satisfied groups that count for its focus.
fn focus_outcome(
    taxonomy: &Taxonomy,
    scratch: &Scratch,
    topic_index: usize,
    focus: Focus,
    groups: &[GroupOutcome],
) -> FocusOutcome {
    let topic = &taxonomy.topics[topic_index];
    let doc = &scratch.doc;
    let mut paragraphs: Vec<u32> = scratch
        .focus_hits
        .iter()
        .filter(|h| h.0 as usize == topic_index)
        .map(|h| h.1)
        .collect();
    for outcome in groups {
        let group = &topic.groups[outcome.group];
        if !focus.counts(group.weight) {
            continue;
        }
        paragraphs.extend(outcome.windows.iter().map(|&w| match group.within {
            super::Window::Sentence => doc.sentences[w as usize].paragraph,
            super::Window::Paragraph => w,
        }));
    }
    paragraphs.sort_unstable();
    paragraphs.dedup();
    let is_body = |p: &u32| field_index(doc.paragraphs[*p as usize].field) == BODY;
    let head = paragraphs.iter().any(|p| !is_body(p));
    let in_body = paragraphs.iter().filter(|p| is_body(p)).count() as u32;
    let body_paragraphs = doc
        .paragraphs
        .iter()
        .filter(|p| field_index(p.field) == BODY)
        .count();
    let needed = focus.needed(body_paragraphs);
    FocusOutcome {
        head,
        paragraphs: in_body,
        body_paragraphs: body_paragraphs as u32,
        needed,
        met: head || in_body >= needed,
    }
}

/// Scores one group from its hits, sorted by window then slot.
fn score_group(
    topic: &super::taxonomy::Topic,
    slots: usize,
    weight: f64,
    hits: &[SlotHit],
    group: usize,
) -> GroupOutcome {
    let full: u32 = if slots >= 32 {
        u32::MAX
    } else {
        (1u32 << slots) - 1
    };
    let mut satisfied = 0;
    let mut boost_sum = 0.0;
    let mut best_mask = 0u32;
    let mut found: Vec<(u16, u16, u8, u32)> = Vec::new();
    let mut windows = Vec::new();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < hits.len() {
        let window = hits[i].window;
        let mut j = i;
        let mut mask = 0u32;
        let mut field = BODY as u8;
        while j < hits.len() && hits[j].window == window {
            mask |= 1 << hits[j].slot;
            field = field.min(hits[j].field);
            j += 1;
        }
        if mask.count_ones() > best_mask.count_ones() {
            best_mask = mask;
        }
        if mask == full {
            satisfied += 1;
            windows.push(window);
            boost_sum += topic.boosts[field as usize];
            for h in &hits[i..j] {
                spans.push((h.slot, h.item, h.field, h.start, h.end));
                match found
                    .iter_mut()
                    .find(|f| f.0 == h.slot && f.1 == h.item && f.2 == h.field)
                {
                    Some(f) => f.3 += 1,
                    None => found.push((h.slot, h.item, h.field, 1)),
                }
            }
        }
        i = j;
    }
    GroupOutcome {
        group,
        satisfied,
        contribution: if satisfied > 0 {
            weight * log_count(boost_sum)
        } else {
            0.0
        },
        best_mask,
        found,
        windows,
        spans,
    }
}

/// One evidence item being built: label, field, count, weight for ordering.
type Item<'a> = (&'a str, usize, u32, f64);

/// The evidence of a tagged topic: its positive terms and the phrases of its satisfied groups,
/// per field, the most frequent first, each with the article's own text of its matches.
fn evidence(
    taxonomy: &Taxonomy,
    outcome: &TopicOutcome,
    scratch: &mut Scratch,
    article: &NormalizedArticle,
) -> Vec<Evidence> {
    let topic = &taxonomy.topics[outcome.topic];
    let mut items: Vec<Item<'_>> = Vec::new();
    for t in &outcome.terms {
        let term = &topic.terms[t.term];
        if term.weight <= 0.0 {
            continue;
        }
        for (f, &count) in t.counts.iter().enumerate() {
            if count > 0 {
                push_evidence(&mut items, &term.label, f, count, term.weight);
            }
        }
    }
    for g in &outcome.groups {
        let group = &topic.groups[g.group];
        for &(slot, item, field, count) in &g.found {
            let label = &group.slots[slot as usize][item as usize];
            push_evidence(&mut items, label, field as usize, count, group.weight);
        }
    }
    items.sort_by(|a, b| {
        b.2.cmp(&a.2)
            .then(b.3.total_cmp(&a.3))
            .then(a.1.cmp(&b.1))
            .then(a.0.cmp(b.0))
    });
    items.truncate(MAX_EVIDENCE);
    // Every match once, by position: (label, field, start, end).
    let mut all: Vec<(&str, u8, u32, u32)> = matches(taxonomy, outcome, scratch)
        .map(|m| (m.label, m.field, m.start, m.end))
        .collect();
    all.sort_unstable_by_key(|m| (m.2, m.3));
    let mut spans = Vec::new();
    items
        .into_iter()
        .map(|(term, field, count, _)| {
            spans.clear();
            spans.extend(
                all.iter()
                    .filter(|m| m.0 == term && m.1 == field as u8)
                    .map(|m| (m.2, m.3)),
            );
            Evidence {
                term: term.to_owned(),
                count,
                location: FIELDS[field],
                matched: matched_forms(scratch, article, &spans),
            }
        })
        .collect()
}

/// A match of a topic's rules: a kept term match, or a phrase in a satisfying group window.
struct Match<'a> {
    label: &'a str,
    field: u8,
    start: u32,
    end: u32,
}

/// Every match of a topic with positive weight: its terms' and its satisfied groups'.
fn matches<'t, 's>(
    taxonomy: &'t Taxonomy,
    outcome: &'s TopicOutcome,
    scratch: &'s Scratch,
) -> impl Iterator<Item = Match<'t>> + use<'t, 's> {
    let topic = &taxonomy.topics[outcome.topic];
    let doc = &scratch.doc;
    let terms = scratch
        .term_hits
        .iter()
        .filter(move |h| h.topic as usize == outcome.topic)
        .filter(move |h| topic.terms[h.term as usize].weight > 0.0)
        .map(move |h| Match {
            label: &topic.terms[h.term as usize].label,
            field: field_of(doc, h.start),
            start: h.start,
            end: h.end,
        });
    let groups = outcome.groups.iter().flat_map(move |g| {
        let group = &topic.groups[g.group];
        g.spans
            .iter()
            .map(move |&(slot, item, field, start, end)| Match {
                label: &group.slots[slot as usize][item as usize],
                field,
                start,
                end,
            })
    });
    terms.chain(groups)
}

fn field_of(doc: &Document, pos: u32) -> u8 {
    let sentence = doc.sentence_at(pos);
    let paragraph = doc.sentences[sentence as usize].paragraph;
    field_index(doc.paragraphs[paragraph as usize].field) as u8
}

/// The distinct texts of `spans` (sorted, in the folded text) as the article writes them, in
/// order of first occurrence, at most [`MAX_MATCHED`].
fn matched_forms(
    scratch: &mut Scratch,
    article: &NormalizedArticle,
    spans: &[(u32, u32)],
) -> Vec<String> {
    let mut forms: Vec<String> = Vec::new();
    let mut last = None;
    for &(start, end) in spans.iter().take(MAX_MATCHED_LOOKUPS) {
        if last == Some((start, end)) {
            continue;
        }
        last = Some((start, end));
        let Some(form) = scratch.doc.original(article, start, end, &mut scratch.walk) else {
            continue;
        };
        if !forms.iter().any(|f| f == form) {
            forms.push(form.to_owned());
            if forms.len() == MAX_MATCHED {
                break;
            }
        }
    }
    forms
}

/// Every match of a topic (for `explain`), with its sentence, in article order.
fn quotes(
    taxonomy: &Taxonomy,
    outcome: &TopicOutcome,
    scratch: &mut Scratch,
    article: &NormalizedArticle,
) -> Vec<Quote> {
    let mut found: Vec<(u32, u32, String, u8)> = matches(taxonomy, outcome, scratch)
        .map(|m| (m.start, m.end, m.label.to_owned(), m.field))
        .collect();
    found.sort_unstable();
    found.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1 && a.2 == b.2);
    let mut quotes = Vec::with_capacity(found.len());
    for (start, end, term, field) in found {
        let Some(matched) = scratch.doc.original(article, start, end, &mut scratch.walk) else {
            continue;
        };
        let sentence = scratch
            .doc
            .sentence_text(article, scratch.doc.sentence_at(start));
        quotes.push(Quote {
            term,
            field,
            matched: matched.to_owned(),
            sentence: sentence.to_owned(),
        });
    }
    quotes
}

fn push_evidence<'a>(
    items: &mut Vec<Item<'a>>,
    term: &'a str,
    field: usize,
    count: u32,
    weight: f64,
) {
    match items.iter_mut().find(|i| i.0 == term && i.1 == field) {
        Some(existing) => {
            existing.2 = existing.2.max(count);
            existing.3 = existing.3.max(weight);
        }
        None => items.push((term, field, count, weight)),
    }
}

/// `raw / (raw + threshold)`, to three decimals.
pub(crate) fn score(raw: f64, threshold: f64) -> f64 {
    let score = raw / (raw + threshold);
    (score * 1000.0).round() / 1000.0
}

/// The tags of an analysis: tagged topics in taxonomy order, each with its ancestors (a tagged
/// child tags its parent with the child's score and evidence, unless the parent has its own).
pub(crate) fn tags(taxonomy: &Taxonomy, analysis: &Analysis) -> Vec<TopicTag> {
    let mut tagged: Vec<Option<TopicTag>> = vec![None; taxonomy.topics.len()];
    for outcome in analysis.topics.iter().filter(|o| o.tagged) {
        let topic = &taxonomy.topics[outcome.topic];
        tagged[outcome.topic] = Some(TopicTag {
            id: topic.id.clone(),
            label: topic.label.clone(),
            score: score(outcome.raw, topic.threshold),
            iptc: topic.iptc.clone(),
            evidence: outcome.evidence.clone(),
        });
    }
    for outcome in analysis.topics.iter().filter(|o| o.tagged) {
        let Some(child) = tagged[outcome.topic].clone() else {
            continue;
        };
        let mut parent = taxonomy.topics[outcome.topic].parent;
        let mut steps = 0;
        while let Some(p) = parent {
            if steps > taxonomy.topics.len() {
                break;
            }
            steps += 1;
            let topic = &taxonomy.topics[p];
            match &mut tagged[p] {
                Some(existing) => existing.score = existing.score.max(child.score),
                slot @ None => {
                    *slot = Some(TopicTag {
                        id: topic.id.clone(),
                        label: topic.label.clone(),
                        score: child.score,
                        iptc: topic.iptc.clone(),
                        evidence: child.evidence.clone(),
                    })
                }
            }
            parent = topic.parent;
        }
    }
    tagged.into_iter().flatten().collect()
}

/// The entities of an analysis.
pub(crate) fn entities(taxonomy: &Taxonomy, analysis: &Analysis) -> Vec<Entity> {
    analysis
        .entities
        .iter()
        .map(|&(e, mentions)| {
            let def = &taxonomy.entities[e];
            Entity {
                id: def.id.clone(),
                name: def.name.clone(),
                entity_type: def.kind,
                mentions,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use aho_corasick::Input;
    use aho_corasick::automaton::Automaton as _;

    use super::*;

    /// The interleaved walk finds exactly the overlapping matches of the library's own search,
    /// for texts shorter than the warm-up, cut anywhere, with matches across the cuts.
    #[test]
    fn interleaved_search_finds_every_overlapping_match_once() {
        let patterns = [
            "war",
            "war in ukraine",
            "ukraine",
            "in",
            "kraine war",
            "a",
            "xi jinping",
        ];
        let dfa = &DFA::builder()
            .match_kind(aho_corasick::MatchKind::Standard)
            .prefilter(false)
            .build(patterns)
            .expect("a small DFA");
        let words = [
            "war", "in", "ukraine", "xi", "jinping", "and", "a", "\n", "kraine",
        ];
        let mut text = String::new();
        for n in 0..300 {
            let mut found = Vec::new();
            search_dfa(dfa, text.as_bytes(), &mut found);
            let mut ours: Vec<(PatternID, usize, usize)> = found
                .iter()
                .flat_map(|&(sid, end)| {
                    let end = end as usize;
                    (0..dfa.match_len(sid)).map(move |k| {
                        let pattern = dfa.match_pattern(sid, k);
                        (pattern, end - dfa.pattern_len(pattern), end)
                    })
                })
                .collect();
            let mut library: Vec<(PatternID, usize, usize)> = dfa
                .try_find_overlapping_iter(Input::new(&text))
                .expect("an unanchored search")
                .map(|m| (m.pattern(), m.start(), m.end()))
                .collect();
            ours.sort_unstable();
            library.sort_unstable();
            assert_eq!(ours, library, "{text:?}");
            text.push_str(words[(n * 7 + n / 3) % words.len()]);
            if n % 5 != 0 {
                text.push(' ');
            }
        }
    }
}
