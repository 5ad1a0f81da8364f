//! Why an article got, or did not get, each topic: for editors tuning the taxonomy.

use std::fmt;

use super::engine::{self, Scratch};
use super::fold::FIELDS;
use super::model;
use super::taxonomy::{Taxonomy, Window};
use crate::event::{Entity, Field, NormalizedArticle};

/// A term of a topic that was found.
#[derive(Debug, Clone, PartialEq)]
pub struct TermExplanation {
    pub term: String,
    pub weight: f64,
    /// Occurrences in the title, the lede and the body.
    pub counts: [u32; 3],
    pub contribution: f64,
}

/// A co-occurrence group of a topic.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupExplanation {
    pub name: String,
    pub within: Window,
    pub weight: f64,
    pub required: bool,
    /// Sentences or paragraphs that held a phrase of every term list.
    pub satisfied: u32,
    pub contribution: f64,
    /// Phrases found in satisfying windows.
    pub found: Vec<String>,
    /// When never satisfied: the term lists the closest window lacked (each as its phrases).
    pub missing: Vec<Vec<String>>,
}

/// An exclusion phrase that was found.
#[derive(Debug, Clone, PartialEq)]
pub struct ExclusionExplanation {
    pub term: String,
    pub location: Field,
    pub count: u32,
}

/// The learned model's verdict on a topic it has (`model: builtin`).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelExplanation {
    pub probability: f64,
    /// Below it, the model vetoes the rules' tag.
    pub min_probability: f64,
    /// The terms found that weighed most, either way: (term, weight × value).
    pub terms: Vec<(String, f64)>,
}

/// Model terms shown per topic.
const MODEL_TERMS_SHOWN: usize = 8;

/// Where a topic with a `focus:` found its evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct FocusExplanation {
    /// Whether the title or the lede holds evidence (which meets the focus by itself).
    pub head: bool,
    /// Body paragraphs holding evidence.
    pub paragraphs: u32,
    /// All body paragraphs.
    pub body_paragraphs: u32,
    /// Body paragraphs with evidence needed (`paragraphs:`, or `share:` of the body).
    pub needed: u32,
    pub met: bool,
}

/// A match of a topic's rules as the article writes it, and the sentence that holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchExplanation {
    /// The term (or group phrase) that matched.
    pub term: String,
    /// The article's own text.
    pub matched: String,
    pub location: Field,
    pub sentence: String,
}

/// One topic's verdict and its reasons.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicExplanation {
    pub id: String,
    pub label: String,
    pub tagged: bool,
    /// Tagged only because a child topic was (`parent:` roll-up).
    pub through_child: bool,
    /// The score the tag carries (0 when not tagged).
    pub score: f64,
    pub raw: f64,
    pub threshold: f64,
    pub terms: Vec<TermExplanation>,
    pub groups: Vec<GroupExplanation>,
    pub exclusions: Vec<ExclusionExplanation>,
    /// For a topic with a `focus:` and evidence.
    pub focus: Option<FocusExplanation>,
    /// Every match of its terms and satisfied groups, in article order.
    pub matches: Vec<MatchExplanation>,
    /// For a topic of the learned model with evidence.
    pub model: Option<ModelExplanation>,
}

/// Why an article got each topic or fell short of it. `Display` renders it for people.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    pub taxonomy_version: String,
    pub rules_language: String,
    /// The article's language when it is not the rules' language (no topics then).
    pub language_skipped: Option<String>,
    /// Every topic of the taxonomy, in file order.
    pub topics: Vec<TopicExplanation>,
    pub entities: Vec<Entity>,
}

/// Explains how `taxonomy` tags `article`: the same analysis as [`TagStage`](super::TagStage),
/// with the breakdown kept for every topic.
pub fn explain(taxonomy: &Taxonomy, article: &NormalizedArticle) -> Explanation {
    let mut scratch = Scratch::default();
    let analysis = engine::analyze(taxonomy, article, &mut scratch, true);
    let tags = engine::tags(taxonomy, &analysis);
    let mut topics = Vec::with_capacity(taxonomy.topics.len());
    for (index, topic) in taxonomy.topics.iter().enumerate() {
        let outcome = analysis.topics.iter().find(|o| o.topic == index);
        let tag = tags.iter().find(|t| t.id == topic.id);
        let mut explanation = TopicExplanation {
            id: topic.id.clone(),
            label: topic.label.clone(),
            tagged: tag.is_some(),
            through_child: tag.is_some() && !outcome.is_some_and(|o| o.tagged),
            score: tag.map_or(0.0, |t| t.score),
            raw: outcome.map_or(0.0, |o| o.raw),
            threshold: topic.threshold,
            terms: Vec::new(),
            groups: Vec::new(),
            exclusions: Vec::new(),
            focus: None,
            matches: Vec::new(),
            model: None,
        };
        let Some(outcome) = outcome else {
            // Required groups with no hit at all still explain the verdict.
            for group in topic.groups.iter().filter(|g| g.required) {
                explanation.groups.push(GroupExplanation {
                    name: group.name.clone(),
                    within: group.within,
                    weight: group.weight,
                    required: true,
                    satisfied: 0,
                    contribution: 0.0,
                    found: Vec::new(),
                    missing: group.slots.clone(),
                });
            }
            topics.push(explanation);
            continue;
        };
        for t in &outcome.terms {
            let term = &topic.terms[t.term];
            explanation.terms.push(TermExplanation {
                term: term.label.clone(),
                weight: term.weight,
                counts: t.counts,
                contribution: t.contribution,
            });
        }
        explanation
            .terms
            .sort_by(|a, b| b.contribution.abs().total_cmp(&a.contribution.abs()));
        for (g, group) in topic.groups.iter().enumerate() {
            let result = outcome.groups.iter().find(|o| o.group == g);
            if result.is_none() && !group.required {
                continue;
            }
            let satisfied = result.map_or(0, |r| r.satisfied);
            let best_mask = result.map_or(0, |r| r.best_mask);
            let mut found: Vec<String> = Vec::new();
            for &(slot, item, _, _) in result.map_or(&[][..], |r| &r.found[..]) {
                let label = &group.slots[slot as usize][item as usize];
                if !found.contains(label) {
                    found.push(label.clone());
                }
            }
            let missing = if satisfied == 0 {
                group
                    .slots
                    .iter()
                    .enumerate()
                    .filter(|(s, _)| best_mask & (1 << s) == 0)
                    .map(|(_, labels)| labels.clone())
                    .collect()
            } else {
                Vec::new()
            };
            explanation.groups.push(GroupExplanation {
                name: group.name.clone(),
                within: group.within,
                weight: group.weight,
                required: group.required,
                satisfied,
                contribution: result.map_or(0.0, |r| r.contribution),
                found,
                missing,
            });
        }
        for &(item, field, count) in &outcome.exclusions {
            explanation.exclusions.push(ExclusionExplanation {
                term: topic.exclusions[item as usize].clone(),
                location: FIELDS[field as usize],
                count,
            });
        }
        explanation.matches = outcome
            .quotes
            .iter()
            .map(|q| MatchExplanation {
                term: q.term.clone(),
                matched: q.matched.clone(),
                location: FIELDS[q.field as usize],
                sentence: q.sentence.clone(),
            })
            .collect();
        if let (Some(verdict), Some(learned)) = (&outcome.model, taxonomy.model.as_deref()) {
            let mut terms: Vec<(String, f64)> = verdict
                .terms
                .iter()
                .map(|&(slot, c)| (model::term(learned, slot).to_owned(), c))
                .collect();
            terms.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
            terms.truncate(MODEL_TERMS_SHOWN);
            explanation.model = Some(ModelExplanation {
                probability: verdict.probability,
                min_probability: verdict.min_probability,
                terms,
            });
        }
        explanation.focus = outcome.focus.map(|f| FocusExplanation {
            head: f.head,
            paragraphs: f.paragraphs,
            body_paragraphs: f.body_paragraphs,
            needed: f.needed,
            met: f.met,
        });
        topics.push(explanation);
    }
    Explanation {
        taxonomy_version: taxonomy.version().to_owned(),
        rules_language: taxonomy.language().to_owned(),
        language_skipped: analysis.language_skipped.clone(),
        topics,
        entities: engine::entities(taxonomy, &analysis),
    }
}

/// Matches shown per topic.
const MATCHES_SHOWN: usize = 20;

/// Characters of a long sentence shown on either side of the match.
const CONTEXT_CHARS: usize = 160;

/// The sentence on one line, cut around `matched` when it is long.
fn sentence_around(sentence: &str, matched: &str) -> String {
    let line = sentence.split_whitespace().collect::<Vec<_>>().join(" ");
    let matched = matched.split_whitespace().collect::<Vec<_>>().join(" ");
    let chars: Vec<char> = line.chars().collect();
    if chars.len() <= 2 * CONTEXT_CHARS {
        return line;
    }
    let at = line
        .find(&matched)
        .map_or(0, |byte| line[..byte].chars().count());
    let from = at.saturating_sub(CONTEXT_CHARS);
    let to = (at + matched.chars().count() + CONTEXT_CHARS).min(chars.len());
    let mut out = String::new();
    if from > 0 {
        out.push('…');
    }
    out.extend(&chars[from..to]);
    if to < chars.len() {
        out.push('…');
    }
    out
}

fn field_name(field: Field) -> &'static str {
    match field {
        Field::Title => "title",
        Field::Lede => "lede",
        Field::Body => "body",
    }
}

fn counts(counts: &[u32; 3]) -> String {
    FIELDS
        .iter()
        .zip(counts)
        .filter(|(_, c)| **c > 0)
        .map(|(f, c)| format!("×{c} {}", field_name(*f)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn list(labels: &[String]) -> String {
    const SHOWN: usize = 6;
    let mut text = labels
        .iter()
        .take(SHOWN)
        .map(|l| format!("\"{l}\""))
        .collect::<Vec<_>>()
        .join(" | ");
    if labels.len() > SHOWN {
        text.push_str(&format!(" | … ({} more)", labels.len() - SHOWN));
    }
    format!("[{text}]")
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "taxonomy {} (rules in `{}`)",
            self.taxonomy_version, self.rules_language
        )?;
        if let Some(language) = &self.language_skipped {
            writeln!(
                f,
                "no topics: the article is in `{language}`, the rules are in `{}`",
                self.rules_language
            )?;
        }
        for topic in &self.topics {
            write!(f, "{}", topic)?;
        }
        if self.entities.is_empty() {
            writeln!(f, "entities: none")?;
        } else {
            let entities: Vec<String> = self
                .entities
                .iter()
                .map(|e| {
                    let id = e.id.as_deref().unwrap_or("no id");
                    let kind = match e.entity_type {
                        crate::event::EntityType::Person => "person",
                        crate::event::EntityType::Place => "place",
                        crate::event::EntityType::Org => "org",
                    };
                    format!("{} ({kind}, {id}) ×{}", e.name, e.mentions)
                })
                .collect();
            writeln!(f, "entities: {}", entities.join(", "))?;
        }
        Ok(())
    }
}

impl fmt::Display for TopicExplanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.tagged { "TAGGED" } else { "not tagged" };
        write!(f, "{} ({}): {verdict}", self.id, self.label)?;
        if self.tagged && self.through_child {
            write!(f, ", score {:.3} through a tagged child topic", self.score)?;
        } else if self.tagged {
            write!(
                f,
                ", score {:.3} (raw {:.2} ≥ threshold {:.2})",
                self.score, self.raw, self.threshold
            )?;
        } else if self.terms.is_empty()
            && self
                .groups
                .iter()
                .all(|g| g.found.is_empty() && g.satisfied == 0)
            && self.exclusions.is_empty()
            && self.raw == 0.0
        {
            write!(
                f,
                ", no rule phrase found (threshold {:.2})",
                self.threshold
            )?;
        } else {
            let mut reasons = Vec::new();
            if self.raw < self.threshold {
                reasons.push(format!(
                    "raw {:.2} < threshold {:.2}",
                    self.raw, self.threshold
                ));
            }
            for g in self
                .groups
                .iter()
                .filter(|g| g.required && g.satisfied == 0)
            {
                reasons.push(format!("required group \"{}\" not satisfied", g.name));
            }
            if !self.exclusions.is_empty() {
                reasons.push("vetoed by an exclusion".to_owned());
            }
            if self.focus.as_ref().is_some_and(|f| !f.met) {
                reasons.push("focus not met".to_owned());
            }
            // The model is asked about what the rules tag: a veto only when nothing else failed.
            let vetoed = self
                .model
                .as_ref()
                .filter(|m| m.probability < m.min_probability);
            if let Some(m) = vetoed.filter(|_| reasons.is_empty()) {
                reasons.push(format!(
                    "vetoed by the model (p {:.3} < {:.2})",
                    m.probability, m.min_probability
                ));
            }
            write!(f, ": {}", reasons.join("; "))?;
        }
        writeln!(f)?;
        for term in &self.terms {
            writeln!(
                f,
                "  term \"{}\" {} (weight {}) → {:+.2}",
                term.term,
                counts(&term.counts),
                term.weight,
                term.contribution
            )?;
        }
        for group in &self.groups {
            let required = if group.required { ", required" } else { "" };
            write!(
                f,
                "  group \"{}\" (within a {}, weight {}{required}): ",
                group.name,
                group.within.as_str(),
                group.weight
            )?;
            if group.satisfied > 0 {
                writeln!(
                    f,
                    "satisfied in {} {}{} with {} → {:+.2}",
                    group.satisfied,
                    group.within.as_str(),
                    if group.satisfied == 1 { "" } else { "s" },
                    list(&group.found),
                    group.contribution
                )?;
            } else {
                let lacking: Vec<String> = group.missing.iter().map(|m| list(m)).collect();
                writeln!(
                    f,
                    "not satisfied; the closest {} lacked {}",
                    group.within.as_str(),
                    lacking.join(" and ")
                )?;
            }
        }
        if let Some(focus) = &self.focus {
            let verdict = if focus.met { "met" } else { "not met" };
            if focus.head {
                writeln!(f, "  focus {verdict}: evidence in the title or lede")?;
            } else {
                writeln!(
                    f,
                    "  focus {verdict}: evidence in {} of {} body paragraphs, {} needed, none in the title or lede",
                    focus.paragraphs, focus.body_paragraphs, focus.needed
                )?;
            }
        }
        if let Some(m) = &self.model {
            let terms: Vec<String> = m
                .terms
                .iter()
                .map(|(t, c)| format!("\"{t}\" {c:+.2}"))
                .collect();
            writeln!(
                f,
                "  model: p {:.3} (needs {:.2}); its terms that weighed most: {}",
                m.probability,
                m.min_probability,
                terms.join(", ")
            )?;
        }
        for exclusion in &self.exclusions {
            writeln!(
                f,
                "  exclusion \"{}\" ×{} {} → vetoed",
                exclusion.term,
                exclusion.count,
                field_name(exclusion.location)
            )?;
        }
        for m in self.matches.iter().take(MATCHES_SHOWN) {
            writeln!(
                f,
                "  matched \"{}\" ({} \"{}\"): {}",
                m.matched,
                field_name(m.location),
                m.term,
                sentence_around(&m.sentence, &m.matched)
            )?;
        }
        if self.matches.len() > MATCHES_SHOWN {
            writeln!(f, "  … {} more matches", self.matches.len() - MATCHES_SHOWN)?;
        }
        Ok(())
    }
}
