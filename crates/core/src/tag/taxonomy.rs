//! The topic taxonomy: its YAML form, validation with `line:column` errors, and the compiled
//! matcher (one Aho-Corasick automaton over every phrase of every rule and entity alias).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, MatchKind, dfa::DFA};
use serde_yaml::{Mapping, Value};
use sha2::{Digest, Sha256};

use super::fold::{fold_phrase, is_word_char};
use super::locate::Locator;
use super::model::Model;
use crate::event::EntityType;
use crate::topics::is_valid_topic_id;

/// The taxonomy compiled into newsflow (`crates/core/taxonomy/default.yaml`).
pub const DEFAULT_TAXONOMY_YAML: &str = include_str!("../../taxonomy/default.yaml");
/// The entity gazetteer compiled into newsflow, used by taxonomies without `entities:`.
pub const DEFAULT_GAZETTEER_YAML: &str = include_str!("../../taxonomy/gazetteer.yaml");

const DEFAULT_THRESHOLD: f64 = 3.0;
const DEFAULT_TITLE_BOOST: f64 = 2.0;
const DEFAULT_LEDE_BOOST: f64 = 1.5;
const MAX_WEIGHT: f64 = 100.0;
const MAX_BOOST: f64 = 10.0;

/// One problem in a taxonomy file: where it is and what is wrong, for `file:line:column: reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxonomyError {
    /// 1-based.
    pub line: usize,
    /// 1-based, when known.
    pub column: Option<usize>,
    /// The node at fault (`topics[2].terms[0].weight`); empty for syntax errors.
    pub path: String,
    pub reason: String,
}

impl fmt::Display for TaxonomyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.line)?;
        if let Some(column) = self.column {
            write!(f, ":{column}")?;
        }
        if self.path.is_empty() {
            write!(f, ": {}", self.reason)
        } else {
            write!(f, ": {}: {}", self.path, self.reason)
        }
    }
}

impl std::error::Error for TaxonomyError {}

/// The span a co-occurrence group must be satisfied within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Sentence,
    Paragraph,
}

impl Window {
    pub fn as_str(self) -> &'static str {
        match self {
            Window::Sentence => "sentence",
            Window::Paragraph => "paragraph",
        }
    }
}

#[derive(Debug)]
pub(crate) struct Term {
    pub label: String,
    pub weight: f64,
    /// Whether a match is evidence for the topic's `focus`.
    pub focus: bool,
}

#[derive(Debug)]
pub(crate) struct Group {
    pub name: String,
    pub within: Window,
    pub weight: f64,
    pub required: bool,
    /// For each slot, the labels of its phrases.
    pub slots: Vec<Vec<String>>,
}

#[derive(Debug)]
pub(crate) struct Topic {
    pub id: String,
    pub label: String,
    pub parent: Option<usize>,
    pub iptc: Vec<String>,
    pub threshold: f64,
    /// Multipliers for matches in the title, the lede and the body (always 1).
    pub boosts: [f64; 3],
    pub terms: Vec<Term>,
    pub groups: Vec<Group>,
    pub exclusions: Vec<String>,
    pub focus: Option<Focus>,
    /// Index of the first term in the taxonomy-wide term numbering.
    pub term_offset: usize,
    /// Index of the first group in the taxonomy-wide group numbering.
    pub group_offset: usize,
}

/// A topic's `focus:` requirement: its evidence must be at the head of the article (title or
/// lede) or spread over its body, not in a passing mention.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Focus {
    /// Evidence that counts: a term of at least this weight, or a satisfied group of at least
    /// this weight (0: any of positive weight).
    pub weight: f64,
    /// Body paragraphs that must hold evidence, at least...
    pub paragraphs: u32,
    /// ...and at least this share of the body's paragraphs.
    pub share: f64,
}

impl Focus {
    /// Whether evidence of `weight` counts.
    pub fn counts(&self, weight: f64) -> bool {
        weight > 0.0 && weight >= self.weight
    }

    /// The body paragraphs with evidence needed in a body of `paragraphs`: never more than the
    /// body has (a text of one paragraph, a page sent without breaks, is read whole).
    pub fn needed(&self, paragraphs: usize) -> u32 {
        let share = (self.share * paragraphs as f64 - 1e-9).ceil().max(0.0) as u32;
        let all = u32::try_from(paragraphs).unwrap_or(u32::MAX).max(1);
        self.paragraphs.max(share).min(all)
    }
}

#[derive(Debug)]
pub(crate) struct EntityDef {
    pub id: Option<String>,
    pub name: String,
    pub kind: EntityType,
}

/// What a matched phrase counts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Use {
    Term { topic: u32, term: u32 },
    Slot { group: u32, slot: u16, item: u16 },
    Exclusion { topic: u32, item: u32 },
    Entity { entity: u32 },
}

#[derive(Debug)]
pub(crate) struct Variant {
    /// For case-sensitive phrases, the phrase with its capitals (ASCII, folded otherwise).
    pub case: Option<Box<[u8]>>,
    pub uses: Vec<Use>,
}

#[derive(Debug)]
pub(crate) struct Pattern {
    /// Whether the phrase starts (ends) with a word character, so the text before (after) the
    /// match must not continue the word.
    pub bounded_start: bool,
    pub bounded_end: bool,
    pub variants: Vec<Variant>,
}

/// The compiled automaton over every folded phrase.
#[derive(Debug)]
pub(crate) enum Automaton {
    /// A DFA, walked by the tagger's own search loop (see `engine::find_hits`).
    Dfa(Box<DFA>),
    /// Whatever `aho-corasick` builds when the DFA would be too big.
    Other(AhoCorasick),
}

#[derive(Debug)]
pub(crate) struct Matcher {
    pub automaton: Automaton,
    pub patterns: Vec<Pattern>,
}

/// A validated, compiled taxonomy. Cheap to share (`Arc<Taxonomy>`) between stages and
/// threads; [`TagStage::set_taxonomy`](super::TagStage::set_taxonomy) swaps it at run time.
pub struct Taxonomy {
    version: String,
    language: String,
    pub(crate) topics: Vec<Topic>,
    /// Taxonomy-wide group number → (topic, group within the topic).
    pub(crate) group_index: Vec<(usize, usize)>,
    pub(crate) term_count: usize,
    pub(crate) entities: Vec<EntityDef>,
    pub(crate) matcher: Matcher,
    /// The learned second opinion (`model: builtin`), and per topic its model's number.
    pub(crate) model: Option<Arc<Model>>,
    pub(crate) topic_models: Vec<Option<usize>>,
    warnings: Vec<TaxonomyError>,
}

impl fmt::Debug for Taxonomy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Taxonomy")
            .field("version", &self.version)
            .field("language", &self.language)
            .field("topics", &self.topic_ids())
            .field("entities", &self.entities.len())
            .field("patterns", &self.matcher.patterns.len())
            .finish()
    }
}

impl Default for Taxonomy {
    /// The compiled-in taxonomy and gazetteer (a test keeps them valid).
    fn default() -> Self {
        match Taxonomy::from_yaml(DEFAULT_TAXONOMY_YAML) {
            Ok(taxonomy) => taxonomy,
            Err(errors) => panic!(
                "the built-in taxonomy is invalid: {}",
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        }
    }
}

impl Taxonomy {
    /// Parses and validates a taxonomy. Every problem found is reported, each with its line
    /// (and column) in `text`; YAML syntax errors stop at the first. A taxonomy without an
    /// `entities:` section uses the built-in gazetteer.
    pub fn from_yaml(text: &str) -> Result<Taxonomy, Vec<TaxonomyError>> {
        let spec = parse(text)?;
        let (entities, gazetteer_text) = match spec.entities {
            Some(entities) => (entities, None),
            None => {
                let gazetteer = parse(DEFAULT_GAZETTEER_YAML).map_err(|errors| {
                    errors
                        .into_iter()
                        .map(|mut e| {
                            e.reason = format!("built-in gazetteer: {}", e.reason);
                            e
                        })
                        .collect::<Vec<_>>()
                })?;
                (
                    gazetteer.entities.unwrap_or_default(),
                    Some(DEFAULT_GAZETTEER_YAML),
                )
            }
        };
        let version = match spec.version {
            Some(version) => version,
            None => {
                let mut hasher = Sha256::new();
                hasher.update(text.as_bytes());
                if let Some(gazetteer) = gazetteer_text {
                    hasher.update(gazetteer.as_bytes());
                }
                format!("sha256:{}", &hex::encode(hasher.finalize())[..16])
            }
        };
        let warnings = spec.warnings;
        let model = match spec.model {
            false => None,
            true => Some(Arc::new(Model::builtin().map_err(|reason| {
                vec![TaxonomyError {
                    line: 1,
                    column: None,
                    path: "model".to_owned(),
                    reason: format!("built-in model: {reason}"),
                }]
            })?)),
        };
        let mut taxonomy =
            compile(version, spec.language, spec.topics, entities).map_err(|reason| {
                vec![TaxonomyError {
                    line: 1,
                    column: None,
                    path: String::new(),
                    reason,
                }]
            })?;
        taxonomy.warnings = warnings;
        taxonomy.set_model(model);
        Ok(taxonomy)
    }

    /// The same rules without the learned second opinion (what the rules alone tag: for the
    /// model's trainer and for evaluation).
    pub fn without_model(mut self) -> Self {
        self.set_model(None);
        self
    }

    /// The same rules with `model` as their second opinion (tests of the model's use, whatever
    /// the shipped model holds).
    #[cfg(test)]
    pub(crate) fn with_model(mut self, model: Model) -> Self {
        self.set_model(Some(Arc::new(model)));
        self
    }

    /// Whether a model can veto this taxonomy's topics (`model: builtin`).
    pub fn has_model(&self) -> bool {
        self.model.is_some()
    }

    fn set_model(&mut self, model: Option<Arc<Model>>) {
        self.topic_models = self
            .topics
            .iter()
            .map(|t| model.as_ref().and_then(|m| m.topic(&t.id)))
            .collect();
        self.model = model;
    }

    /// What is valid but likely wrong, each with its line: a term or alias of one word that is
    /// a common English word (a stop word), matched in any case: it tags stories that use the
    /// word in passing or in another sense. A case-sensitive term, a negative weight, or the
    /// word as an item of a co-occurrence group is not warned about.
    pub fn warnings(&self) -> &[TaxonomyError] {
        &self.warnings
    }

    /// The taxonomy's `version:`, else `sha256:` and the start of a hash of the file(s).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The language the rules are written in (ISO 639-1); articles in another language get no
    /// topic tags.
    pub fn language(&self) -> &str {
        &self.language
    }

    /// The topic ids in file order (each has its stream `news.topic.<id>.v1`).
    pub fn topic_ids(&self) -> Vec<&str> {
        self.topics.iter().map(|t| t.id.as_str()).collect()
    }

    /// The label of a topic.
    pub fn topic_label(&self, id: &str) -> Option<&str> {
        self.topics
            .iter()
            .find(|t| t.id == id)
            .map(|t| t.label.as_str())
    }

    /// The number of entities in the gazetteer.
    pub fn entity_count(&self) -> usize {
        self.entities.len()
    }
}

// ---------------------------------------------------------------------------------------------
// The YAML form.

/// A phrase with its aliases.
#[derive(Debug)]
struct PhraseSpec {
    term: String,
    aliases: Vec<String>,
    case_sensitive: bool,
    path: String,
}

#[derive(Debug)]
struct TermSpec {
    phrase: PhraseSpec,
    weight: f64,
}

#[derive(Debug)]
struct GroupSpec {
    name: String,
    within: Window,
    weight: f64,
    required: bool,
    all: Vec<Vec<PhraseSpec>>,
}

#[derive(Debug)]
struct TopicSpec {
    id: String,
    label: String,
    parent: Option<String>,
    iptc: Vec<String>,
    threshold: f64,
    title_boost: f64,
    lede_boost: f64,
    terms: Vec<TermSpec>,
    groups: Vec<GroupSpec>,
    exclude: Vec<PhraseSpec>,
    focus: Option<Focus>,
}

#[derive(Debug)]
struct EntitySpec {
    name: String,
    id: Option<String>,
    kind: EntityType,
    /// The name and the aliases, with whether each is case-sensitive.
    phrases: Vec<(String, bool, String)>,
}

#[derive(Debug)]
struct Spec {
    version: Option<String>,
    language: String,
    topics: Vec<TopicSpec>,
    entities: Option<Vec<EntitySpec>>,
    /// `model: builtin`: the compiled-in model may veto the topics it has.
    model: bool,
    warnings: Vec<TaxonomyError>,
}

const ROOT_FIELDS: &[&str] = &[
    "version", "language", "defaults", "topics", "entities", "model",
];
const DEFAULTS_FIELDS: &[&str] = &["threshold", "title_boost", "lede_boost"];
const TOPIC_FIELDS: &[&str] = &[
    "id",
    "label",
    "parent",
    "iptc",
    "threshold",
    "title_boost",
    "lede_boost",
    "terms",
    "groups",
    "exclude",
    "focus",
];
const FOCUS_FIELDS: &[&str] = &["weight", "paragraphs", "share"];
const TERM_FIELDS: &[&str] = &["term", "weight", "aliases", "case_sensitive"];
const PHRASE_FIELDS: &[&str] = &["term", "aliases", "case_sensitive"];
const GROUP_FIELDS: &[&str] = &["name", "within", "weight", "required", "all"];
const ENTITY_FIELDS: &[&str] = &["name", "id", "type", "aliases", "case_sensitive_aliases"];

struct Walker {
    locator: Locator,
    errors: Vec<TaxonomyError>,
    warnings: Vec<TaxonomyError>,
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn item(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// Edit distance, for "did you mean" hints on misspelt field names.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

impl Walker {
    /// Warns about the one-word phrases among `phrases` (at `paths`) that are common words.
    fn warn_common_words(&mut self, phrases: &[(&String, String)]) {
        let common = stop_words::lookup("en").unwrap_or_default();
        for (phrase, path) in phrases {
            let folded = fold_phrase(phrase);
            if !folded.contains(' ') && common.contains(&folded.as_str()) {
                let (line, column) = self.locator.position(path);
                self.warnings.push(TaxonomyError {
                    line,
                    column: Some(column),
                    path: path.clone(),
                    reason: format!(
                        "`{phrase}` is a common word and matches in any story; make it a phrase, \
                         `case_sensitive: true`, or an item of a group that pins its sense"
                    ),
                });
            }
        }
    }

    fn error(&mut self, path: &str, reason: impl Into<String>) {
        let (line, column) = self.locator.position(path);
        self.errors.push(TaxonomyError {
            line,
            column: Some(column),
            path: path.to_owned(),
            reason: reason.into(),
        });
    }

    /// The mapping at `path`, with unknown keys reported.
    fn mapping<'v>(
        &mut self,
        value: &'v Value,
        path: &str,
        fields: &[&str],
    ) -> Option<&'v Mapping> {
        let Value::Mapping(mapping) = value else {
            self.error(
                path,
                format!("expected a mapping, found {}", describe(value)),
            );
            return None;
        };
        for key in mapping.keys() {
            match key.as_str() {
                Some(key) if fields.contains(&key) => {}
                Some(key) => {
                    let hint = fields
                        .iter()
                        .filter(|f| distance(f, key) <= 2)
                        .min_by_key(|f| distance(f, key))
                        .map(|f| format!(" (did you mean `{f}`?)"))
                        .unwrap_or_default();
                    self.error(
                        &child(path, key),
                        format!(
                            "unknown field `{key}`{hint}; expected one of: {}",
                            fields.join(", ")
                        ),
                    );
                }
                None => self.error(
                    path,
                    format!("field names must be strings, found {}", describe(key)),
                ),
            }
        }
        Some(mapping)
    }

    fn string(&mut self, value: &Value, path: &str) -> Option<String> {
        match value {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Value::String(_) => {
                self.error(path, "must not be empty");
                None
            }
            other => {
                self.error(
                    path,
                    format!("expected a string, found {}", describe(other)),
                );
                None
            }
        }
    }

    fn number(&mut self, value: &Value, path: &str) -> Option<f64> {
        match value.as_f64() {
            Some(n) if n.is_finite() => Some(n),
            _ => {
                self.error(
                    path,
                    format!("expected a number, found {}", describe(value)),
                );
                None
            }
        }
    }

    fn boolean(&mut self, value: &Value, path: &str) -> Option<bool> {
        match value {
            Value::Bool(b) => Some(*b),
            other => {
                self.error(
                    path,
                    format!("expected true or false, found {}", describe(other)),
                );
                None
            }
        }
    }

    fn list<'v>(&mut self, value: &'v Value, path: &str) -> Option<&'v [Value]> {
        match value {
            Value::Sequence(items) => Some(items),
            Value::Null => Some(&[]),
            other => {
                self.error(path, format!("expected a list, found {}", describe(other)));
                None
            }
        }
    }

    fn strings(&mut self, value: &Value, path: &str) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(items) = self.list(value, path) {
            for (i, v) in items.iter().enumerate() {
                if let Some(s) = self.string(v, &item(path, i)) {
                    out.push(s);
                }
            }
        }
        out
    }

    /// A number in `range` (a weight, threshold or boost).
    fn bounded(
        &mut self,
        value: &Value,
        path: &str,
        what: &str,
        min: f64,
        max: f64,
        min_inclusive: bool,
    ) -> Option<f64> {
        let n = self.number(value, path)?;
        let low_ok = if min_inclusive { n >= min } else { n > min };
        if !low_ok || n > max {
            let low = if min_inclusive { "at least" } else { "above" };
            self.error(
                path,
                format!("{what} must be {low} {min} and at most {max}, not {n}"),
            );
            return None;
        }
        Some(n)
    }

    fn phrase_text(&mut self, text: String, case_sensitive: bool, path: &str) -> Option<String> {
        if fold_phrase(&text).is_empty() {
            self.error(path, format!("`{text}` has no letters or digits to match"));
            return None;
        }
        if case_sensitive
            && !text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '.' || c == '\'')
        {
            self.error(
                path,
                format!("case-sensitive phrases must be plain ASCII words, not `{text}`"),
            );
            return None;
        }
        Some(text)
    }

    /// A phrase: a string, or a mapping with `term`, `aliases`, `case_sensitive` (and `weight`
    /// where `weighted`).
    fn phrase(&mut self, value: &Value, path: &str, weighted: bool) -> Option<(PhraseSpec, f64)> {
        if let Value::String(_) = value {
            let term = self.string(value, path)?;
            let term = self.phrase_text(term, false, path)?;
            return Some((
                PhraseSpec {
                    term,
                    aliases: Vec::new(),
                    case_sensitive: false,
                    path: path.to_owned(),
                },
                1.0,
            ));
        }
        let fields = if weighted { TERM_FIELDS } else { PHRASE_FIELDS };
        let mapping = self.mapping(value, path, fields)?;
        let case_sensitive = match mapping.get("case_sensitive") {
            Some(v) => self
                .boolean(v, &child(path, "case_sensitive"))
                .unwrap_or(false),
            None => false,
        };
        let term = match mapping.get("term") {
            Some(v) => self
                .string(v, &child(path, "term"))
                .and_then(|t| self.phrase_text(t, case_sensitive, &child(path, "term"))),
            None => {
                self.error(path, "missing field `term`");
                None
            }
        };
        let mut aliases = Vec::new();
        let mut alias_paths = Vec::new();
        if let Some(v) = mapping.get("aliases") {
            let aliases_path = child(path, "aliases");
            if let Some(items) = self.list(v, &aliases_path) {
                for (i, alias) in items.iter().enumerate() {
                    let alias_path = item(&aliases_path, i);
                    if let Some(alias) = self.string(alias, &alias_path) {
                        if let Some(alias) = self.phrase_text(alias, case_sensitive, &alias_path) {
                            aliases.push(alias);
                            alias_paths.push(alias_path);
                        }
                    }
                }
            }
        }
        let weight = match mapping.get("weight") {
            Some(v) => {
                let weight_path = child(path, "weight");
                let weight =
                    self.bounded(v, &weight_path, "a weight", -MAX_WEIGHT, MAX_WEIGHT, true);
                if weight == Some(0.0) {
                    self.error(
                        &weight_path,
                        "a weight of 0 has no effect; remove the term instead",
                    );
                }
                weight
            }
            None => Some(1.0),
        };
        if weighted && !case_sensitive && weight.is_some_and(|w| w > 0.0) {
            let mut phrases: Vec<(&String, String)> =
                aliases.iter().zip(alias_paths).collect::<Vec<_>>();
            if let Some(term) = &term {
                phrases.insert(0, (term, child(path, "term")));
            }
            self.warn_common_words(&phrases);
        }
        Some((
            PhraseSpec {
                term: term?,
                aliases,
                case_sensitive,
                path: path.to_owned(),
            },
            weight?,
        ))
    }

    fn phrases(&mut self, value: &Value, path: &str) -> Vec<PhraseSpec> {
        let mut out = Vec::new();
        if let Some(items) = self.list(value, path) {
            for (i, v) in items.iter().enumerate() {
                if let Some((phrase, _)) = self.phrase(v, &item(path, i), false) {
                    out.push(phrase);
                }
            }
        }
        out
    }

    fn group(&mut self, value: &Value, path: &str) -> Option<GroupSpec> {
        let mapping = self.mapping(value, path, GROUP_FIELDS)?;
        let name = match mapping.get("name") {
            Some(v) => self.string(v, &child(path, "name")),
            None => {
                self.error(path, "missing field `name`");
                None
            }
        };
        let within = match mapping.get("within") {
            None => Some(Window::Sentence),
            Some(v) => match v.as_str() {
                Some("sentence") => Some(Window::Sentence),
                Some("paragraph") => Some(Window::Paragraph),
                _ => {
                    self.error(&child(path, "within"), "expected `sentence` or `paragraph`");
                    None
                }
            },
        };
        let required = match mapping.get("required") {
            Some(v) => self.boolean(v, &child(path, "required")),
            None => Some(false),
        };
        let weight = match mapping.get("weight") {
            Some(v) => self.bounded(
                v,
                &child(path, "weight"),
                "a group's weight",
                0.0,
                MAX_WEIGHT,
                true,
            ),
            None => Some(1.0),
        };
        if weight == Some(0.0) && required == Some(false) {
            self.error(
                &child(path, "weight"),
                "a group of weight 0 that is not required has no effect",
            );
        }
        let mut all = Vec::new();
        let all_path = child(path, "all");
        match mapping.get("all") {
            None => self.error(
                path,
                "missing field `all` (the term lists that must occur together)",
            ),
            Some(v) => {
                if let Some(slots) = self.list(v, &all_path) {
                    if slots.len() < 2 {
                        self.error(
                            &all_path,
                            "a group needs at least two term lists that must occur together",
                        );
                    }
                    if slots.len() > 16 {
                        self.error(&all_path, "a group may have at most 16 term lists");
                    }
                    for (i, slot) in slots.iter().enumerate() {
                        let slot_path = item(&all_path, i);
                        let phrases = self.phrases(slot, &slot_path);
                        if phrases.is_empty()
                            && !matches!(slot, Value::Sequence(s) if !s.is_empty())
                        {
                            self.error(&slot_path, "empty term list: the group could never match");
                        }
                        all.push(phrases);
                    }
                }
            }
        }
        Some(GroupSpec {
            name: name?,
            within: within?,
            weight: weight?,
            required: required?,
            all,
        })
    }

    fn topic(&mut self, value: &Value, path: &str, defaults: (f64, f64, f64)) -> Option<TopicSpec> {
        let mapping = self.mapping(value, path, TOPIC_FIELDS)?;
        let id = match mapping.get("id") {
            Some(v) => self.string(v, &child(path, "id")).and_then(|id| {
                if is_valid_topic_id(&id) {
                    Some(id)
                } else {
                    self.error(
                        &child(path, "id"),
                        format!("bad topic id `{id}`: use 1 to 200 of a-z, 0-9 and `-`, not at either end"),
                    );
                    None
                }
            }),
            None => {
                self.error(path, "missing field `id`");
                None
            }
        };
        let label = match mapping.get("label") {
            Some(v) => self.string(v, &child(path, "label")),
            None => {
                self.error(path, "missing field `label`");
                None
            }
        };
        let parent = match mapping.get("parent") {
            None | Some(Value::Null) => Some(None),
            Some(v) => self.string(v, &child(path, "parent")).map(Some),
        };
        let mut iptc = Vec::new();
        if let Some(v) = mapping.get("iptc") {
            let iptc_path = child(path, "iptc");
            for (i, code) in self.strings(v, &iptc_path).into_iter().enumerate() {
                let digits = code.strip_prefix("medtop:").unwrap_or("");
                if digits.len() == 8 && digits.bytes().all(|b| b.is_ascii_digit()) {
                    iptc.push(code);
                } else {
                    self.error(
                        &item(&iptc_path, i),
                        format!(
                            "bad IPTC Media Topic code `{code}`: expected `medtop:` and 8 digits"
                        ),
                    );
                }
            }
        }
        let threshold = match mapping.get("threshold") {
            Some(v) => self.bounded(
                v,
                &child(path, "threshold"),
                "a threshold",
                0.0,
                1000.0,
                false,
            ),
            None => Some(defaults.0),
        };
        let title_boost = match mapping.get("title_boost") {
            Some(v) => self.bounded(
                v,
                &child(path, "title_boost"),
                "a boost",
                0.0,
                MAX_BOOST,
                false,
            ),
            None => Some(defaults.1),
        };
        let lede_boost = match mapping.get("lede_boost") {
            Some(v) => self.bounded(
                v,
                &child(path, "lede_boost"),
                "a boost",
                0.0,
                MAX_BOOST,
                false,
            ),
            None => Some(defaults.2),
        };
        let mut terms = Vec::new();
        if let Some(v) = mapping.get("terms") {
            let terms_path = child(path, "terms");
            if let Some(items) = self.list(v, &terms_path) {
                for (i, t) in items.iter().enumerate() {
                    if let Some((phrase, weight)) = self.phrase(t, &item(&terms_path, i), true) {
                        terms.push(TermSpec { phrase, weight });
                    }
                }
            }
        }
        let mut groups: Vec<GroupSpec> = Vec::new();
        if let Some(v) = mapping.get("groups") {
            let groups_path = child(path, "groups");
            if let Some(items) = self.list(v, &groups_path) {
                for (i, g) in items.iter().enumerate() {
                    let group_path = item(&groups_path, i);
                    if let Some(group) = self.group(g, &group_path) {
                        if groups.iter().any(|other| other.name == group.name) {
                            self.error(
                                &child(&group_path, "name"),
                                format!("duplicate group name `{}`", group.name),
                            );
                        }
                        groups.push(group);
                    }
                }
            }
        }
        let exclude = match mapping.get("exclude") {
            Some(v) => self.phrases(v, &child(path, "exclude")),
            None => Vec::new(),
        };
        let focus = match mapping.get("focus") {
            Some(v) => self.focus(v, &child(path, "focus"), &terms, &groups),
            None => None,
        };
        // Two terms (or aliases) of one topic with the same folded text would count twice.
        let mut seen: HashMap<String, String> = HashMap::new();
        for term in &terms {
            for text in std::iter::once(&term.phrase.term).chain(&term.phrase.aliases) {
                let folded = fold_phrase(text);
                if let Some(first) = seen.get(&folded) {
                    self.error(
                        &term.phrase.path,
                        format!("`{text}` is already a term or alias of this topic (`{first}`)"),
                    );
                } else {
                    seen.insert(folded, text.clone());
                }
            }
        }
        Some(TopicSpec {
            id: id?,
            label: label?,
            parent: parent?,
            iptc,
            threshold: threshold?,
            title_boost: title_boost?,
            lede_boost: lede_boost?,
            terms,
            groups,
            exclude,
            focus,
        })
    }

    /// A topic's `focus:`, checked against its terms and groups.
    fn focus(
        &mut self,
        value: &Value,
        path: &str,
        terms: &[TermSpec],
        groups: &[GroupSpec],
    ) -> Option<Focus> {
        let mapping = self.mapping(value, path, FOCUS_FIELDS)?;
        let mut focus = Focus {
            weight: 0.0,
            paragraphs: 1,
            share: 0.0,
        };
        if let Some(v) = mapping.get("weight") {
            let weight_path = child(path, "weight");
            focus.weight =
                self.bounded(v, &weight_path, "a focus weight", 0.0, MAX_WEIGHT, false)?;
            let heaviest = terms
                .iter()
                .map(|t| t.weight)
                .chain(groups.iter().map(|g| g.weight))
                .fold(0.0, f64::max);
            if heaviest < focus.weight {
                self.error(
                    &weight_path,
                    format!(
                        "no term or group of this topic weighs {} or more, so the focus can never be met",
                        focus.weight
                    ),
                );
                return None;
            }
        }
        if let Some(v) = mapping.get("paragraphs") {
            let paragraphs_path = child(path, "paragraphs");
            match v.as_u64() {
                Some(n @ 1..=1000) => focus.paragraphs = n as u32,
                _ => {
                    self.error(
                        &paragraphs_path,
                        format!(
                            "expected a whole number of paragraphs from 1 to 1000, found {}",
                            v.as_f64()
                                .map_or_else(|| describe(v).to_owned(), |n| n.to_string())
                        ),
                    );
                    return None;
                }
            }
        }
        if let Some(v) = mapping.get("share") {
            focus.share = self.bounded(v, &child(path, "share"), "a share", 0.0, 1.0, true)?;
        }
        Some(focus)
    }

    fn entity(&mut self, value: &Value, path: &str) -> Option<EntitySpec> {
        let mapping = self.mapping(value, path, ENTITY_FIELDS)?;
        let name = match mapping.get("name") {
            Some(v) => self
                .string(v, &child(path, "name"))
                .and_then(|n| self.phrase_text(n, false, &child(path, "name"))),
            None => {
                self.error(path, "missing field `name`");
                None
            }
        };
        let id = match mapping.get("id") {
            None | Some(Value::Null) => Some(None),
            Some(v) => self.string(v, &child(path, "id")).and_then(|id| {
                let digits = id.strip_prefix('Q').unwrap_or("");
                if !digits.is_empty()
                    && !digits.starts_with('0')
                    && digits.bytes().all(|b| b.is_ascii_digit())
                {
                    Some(Some(id))
                } else {
                    self.error(
                        &child(path, "id"),
                        format!("bad Wikidata id `{id}`: expected Q and a number, or null"),
                    );
                    None
                }
            }),
        };
        let kind = match mapping.get("type").and_then(Value::as_str) {
            Some("person") => Some(EntityType::Person),
            Some("place") => Some(EntityType::Place),
            Some("org") => Some(EntityType::Org),
            _ => {
                self.error(&child(path, "type"), "expected `person`, `place` or `org`");
                None
            }
        };
        let mut phrases = Vec::new();
        if let Some(name) = &name {
            phrases.push((name.clone(), false, child(path, "name")));
        }
        for (field, case_sensitive) in [("aliases", false), ("case_sensitive_aliases", true)] {
            if let Some(v) = mapping.get(field) {
                let list_path = child(path, field);
                for (i, alias) in self.strings(v, &list_path).into_iter().enumerate() {
                    let alias_path = item(&list_path, i);
                    if let Some(alias) = self.phrase_text(alias, case_sensitive, &alias_path) {
                        phrases.push((alias, case_sensitive, alias_path));
                    }
                }
            }
        }
        Some(EntitySpec {
            name: name?,
            id: id?,
            kind: kind?,
            phrases,
        })
    }
}

fn parse(text: &str) -> Result<Spec, Vec<TaxonomyError>> {
    let value: Value = serde_yaml::from_str(text).map_err(|err| {
        let (line, column) = err
            .location()
            .map(|l| (l.line(), Some(l.column())))
            .unwrap_or((1, None));
        vec![TaxonomyError {
            line,
            column,
            path: String::new(),
            reason: format!("YAML syntax: {err}"),
        }]
    })?;
    let mut walker = Walker {
        locator: Locator::new(text),
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let spec = walk(&mut walker, &value);
    let mut errors = walker.errors;
    match spec {
        Some(mut spec) if errors.is_empty() => {
            spec.warnings = walker.warnings;
            spec.warnings.sort_by_key(|e| (e.line, e.column));
            Ok(spec)
        }
        _ => {
            if errors.is_empty() {
                errors.push(TaxonomyError {
                    line: 1,
                    column: None,
                    path: String::new(),
                    reason: "the taxonomy is invalid".to_owned(),
                });
            }
            errors.sort_by_key(|e| (e.line, e.column));
            Err(errors)
        }
    }
}

fn walk(w: &mut Walker, value: &Value) -> Option<Spec> {
    if value.is_null() {
        w.error("", "the file is empty: expected `topics:` (and optionally `version:`, `language:`, `defaults:`, `entities:`)");
        return None;
    }
    let root = w.mapping(value, "", ROOT_FIELDS)?;
    let version = match root.get("version") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(v) => w.string(v, "version"),
    };
    let language = match root.get("language") {
        None => "en".to_owned(),
        Some(v) => match w.string(v, "language") {
            Some(l) if l.len() == 2 && l.bytes().all(|b| b.is_ascii_lowercase()) => l,
            Some(l) => {
                w.error(
                    "language",
                    format!("expected an ISO 639-1 code such as `en`, not `{l}`"),
                );
                "en".to_owned()
            }
            None => "en".to_owned(),
        },
    };
    let mut defaults = (DEFAULT_THRESHOLD, DEFAULT_TITLE_BOOST, DEFAULT_LEDE_BOOST);
    if let Some(v) = root.get("defaults") {
        if let Some(d) = w.mapping(v, "defaults", DEFAULTS_FIELDS) {
            if let Some(t) = d.get("threshold") {
                defaults.0 = w
                    .bounded(t, "defaults.threshold", "a threshold", 0.0, 1000.0, false)
                    .unwrap_or(defaults.0);
            }
            if let Some(b) = d.get("title_boost") {
                defaults.1 = w
                    .bounded(b, "defaults.title_boost", "a boost", 0.0, MAX_BOOST, false)
                    .unwrap_or(defaults.1);
            }
            if let Some(b) = d.get("lede_boost") {
                defaults.2 = w
                    .bounded(b, "defaults.lede_boost", "a boost", 0.0, MAX_BOOST, false)
                    .unwrap_or(defaults.2);
            }
        }
    }
    let mut topics: Vec<TopicSpec> = Vec::new();
    let mut topic_paths: Vec<String> = Vec::new();
    match root.get("topics") {
        None if root.contains_key("entities") => {}
        None => w.error("", "missing field `topics`"),
        Some(v) => {
            if let Some(items) = w.list(v, "topics") {
                for (i, t) in items.iter().enumerate() {
                    let path = item("topics", i);
                    if let Some(topic) = w.topic(t, &path, defaults) {
                        topics.push(topic);
                        topic_paths.push(path);
                    }
                }
            }
        }
    }
    // Ids are unique; parents exist, differ from the topic and form no cycle; every topic can
    // be tagged (it has a rule of positive weight, or it is the parent of one that has).
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (i, topic) in topics.iter().enumerate() {
        if let Some(&j) = first.get(topic.id.as_str()) {
            let (line, _) = w.locator.position(&child(&topic_paths[j], "id"));
            w.error(
                &child(&topic_paths[i], "id"),
                format!(
                    "duplicate topic id `{}` (first defined on line {line})",
                    topic.id
                ),
            );
        } else {
            first.insert(&topic.id, i);
        }
    }
    for (i, topic) in topics.iter().enumerate() {
        let Some(parent) = &topic.parent else {
            continue;
        };
        let parent_path = child(&topic_paths[i], "parent");
        if parent == &topic.id {
            w.error(&parent_path, "a topic cannot be its own parent");
            continue;
        }
        let Some(&p) = first.get(parent.as_str()) else {
            w.error(
                &parent_path,
                format!("unknown parent `{parent}`: no topic has that id"),
            );
            continue;
        };
        let mut at = p;
        for _ in 0..topics.len() {
            match topics[at].parent.as_deref().and_then(|id| first.get(id)) {
                Some(&next) if next == i => {
                    w.error(
                        &parent_path,
                        format!(
                            "parent `{parent}` leads back to `{}`: topics form a cycle",
                            topic.id
                        ),
                    );
                    break;
                }
                Some(&next) => at = next,
                None => break,
            }
        }
    }
    for (i, topic) in topics.iter().enumerate() {
        let has_rule = topic.terms.iter().any(|t| t.weight > 0.0)
            || topic.groups.iter().any(|g| g.weight > 0.0);
        let is_parent = topics
            .iter()
            .any(|t| t.parent.as_deref() == Some(topic.id.as_str()));
        if !has_rule && !is_parent {
            w.error(
                &topic_paths[i],
                format!(
                    "topic `{}` has no term or group of positive weight, so it can never be tagged",
                    topic.id
                ),
            );
        }
    }
    let entities = match root.get("entities") {
        None => None,
        Some(v) => {
            let mut entities = Vec::new();
            let mut owners: HashMap<(String, bool), String> = HashMap::new();
            if let Some(items) = w.list(v, "entities") {
                for (i, e) in items.iter().enumerate() {
                    let path = item("entities", i);
                    if let Some(entity) = w.entity(e, &path) {
                        for (phrase, case_sensitive, phrase_path) in &entity.phrases {
                            let key = (fold_phrase(phrase), *case_sensitive);
                            match owners.get(&key) {
                                Some(owner) if owner != &entity.name => {
                                    w.error(
                                        phrase_path,
                                        format!("`{phrase}` already names entity `{owner}`"),
                                    );
                                }
                                Some(_) => {}
                                None => {
                                    owners.insert(key, entity.name.clone());
                                }
                            }
                        }
                        entities.push(entity);
                    }
                }
            }
            Some(entities)
        }
    };
    let model = match root.get("model") {
        None | Some(Value::Null) => false,
        Some(v) => match w.string(v, "model") {
            Some(m) if m == "builtin" => true,
            Some(m) => {
                w.error(
                    "model",
                    format!("the only model is `builtin` (the compiled-in one), not `{m}`"),
                );
                false
            }
            None => false,
        },
    };
    Some(Spec {
        version,
        language,
        topics,
        entities,
        model,
        warnings: Vec::new(),
    })
}

// ---------------------------------------------------------------------------------------------
// Compilation.

#[derive(Default)]
struct PatternTable {
    index: HashMap<String, usize>,
    folded: Vec<String>,
    patterns: Vec<Pattern>,
}

impl PatternTable {
    fn add(&mut self, text: &str, case_sensitive: bool, usage: Use) {
        let folded = fold_phrase(text);
        let case: Option<Box<[u8]>> = case_sensitive.then(|| {
            // The ASCII phrase with its capitals, spaced like its folded form.
            let spaced: Vec<&str> = text
                .split(|c: char| c.is_whitespace() || c == '-')
                .filter(|w| !w.is_empty())
                .collect();
            spaced.join(" ").into_bytes().into_boxed_slice()
        });
        let index = match self.index.get(&folded) {
            Some(&i) => i,
            None => {
                let i = self.patterns.len();
                let bounded_start = folded.chars().next().is_some_and(is_word_char);
                let bounded_end = folded.chars().next_back().is_some_and(is_word_char);
                self.patterns.push(Pattern {
                    bounded_start,
                    bounded_end,
                    variants: Vec::new(),
                });
                self.index.insert(folded.clone(), i);
                self.folded.push(folded);
                i
            }
        };
        let pattern = &mut self.patterns[index];
        // A case pattern that does not line up with the folded text cannot be checked.
        let case = case.filter(|c| c.len() == self.folded[index].len());
        match pattern.variants.iter_mut().find(|v| v.case == case) {
            Some(variant) => {
                if !variant.uses.contains(&usage) {
                    variant.uses.push(usage);
                }
            }
            None => pattern.variants.push(Variant {
                case,
                uses: vec![usage],
            }),
        }
    }
}

fn compile(
    version: String,
    language: String,
    specs: Vec<TopicSpec>,
    entity_specs: Vec<EntitySpec>,
) -> Result<Taxonomy, String> {
    let mut table = PatternTable::default();
    let ids: HashMap<String, usize> = specs
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.clone(), i))
        .collect();
    let mut topics = Vec::with_capacity(specs.len());
    let mut group_index = Vec::new();
    let mut term_count = 0;
    for (t, spec) in specs.into_iter().enumerate() {
        let topic_index = t as u32;
        let mut terms = Vec::with_capacity(spec.terms.len());
        for (k, term) in spec.terms.iter().enumerate() {
            let usage = Use::Term {
                topic: topic_index,
                term: k as u32,
            };
            table.add(&term.phrase.term, term.phrase.case_sensitive, usage);
            for alias in &term.phrase.aliases {
                table.add(alias, term.phrase.case_sensitive, usage);
            }
            terms.push(Term {
                label: term.phrase.term.clone(),
                weight: term.weight,
                focus: spec.focus.is_some_and(|f| f.counts(term.weight)),
            });
        }
        let group_offset = group_index.len();
        let mut groups = Vec::with_capacity(spec.groups.len());
        for (g, group) in spec.groups.into_iter().enumerate() {
            let global = group_index.len() as u32;
            group_index.push((t, g));
            let mut slots = Vec::with_capacity(group.all.len());
            for (s, slot) in group.all.iter().enumerate() {
                let mut labels = Vec::with_capacity(slot.len());
                for (k, phrase) in slot.iter().enumerate() {
                    let usage = Use::Slot {
                        group: global,
                        slot: s as u16,
                        item: k as u16,
                    };
                    table.add(&phrase.term, phrase.case_sensitive, usage);
                    for alias in &phrase.aliases {
                        table.add(alias, phrase.case_sensitive, usage);
                    }
                    labels.push(phrase.term.clone());
                }
                slots.push(labels);
            }
            groups.push(Group {
                name: group.name,
                within: group.within,
                weight: group.weight,
                required: group.required,
                slots,
            });
        }
        let mut exclusions = Vec::with_capacity(spec.exclude.len());
        for (k, phrase) in spec.exclude.iter().enumerate() {
            let usage = Use::Exclusion {
                topic: topic_index,
                item: k as u32,
            };
            table.add(&phrase.term, phrase.case_sensitive, usage);
            for alias in &phrase.aliases {
                table.add(alias, phrase.case_sensitive, usage);
            }
            exclusions.push(phrase.term.clone());
        }
        topics.push(Topic {
            parent: spec.parent.as_ref().and_then(|p| ids.get(p).copied()),
            id: spec.id,
            label: spec.label,
            iptc: spec.iptc,
            threshold: spec.threshold,
            boosts: [spec.title_boost, spec.lede_boost, 1.0],
            term_offset: term_count,
            group_offset,
            terms,
            groups,
            exclusions,
            focus: spec.focus,
        });
        term_count += topics[t].terms.len();
    }
    let mut entities = Vec::with_capacity(entity_specs.len());
    for (e, spec) in entity_specs.into_iter().enumerate() {
        for (phrase, case_sensitive, _) in &spec.phrases {
            table.add(phrase, *case_sensitive, Use::Entity { entity: e as u32 });
        }
        entities.push(EntityDef {
            id: spec.id,
            name: spec.name,
            kind: spec.kind,
        });
    }
    let automaton = build_automaton(&table.folded)?;
    Ok(Taxonomy {
        version,
        language,
        topics,
        group_index,
        term_count,
        entities,
        warnings: Vec::new(),
        model: None,
        topic_models: Vec::new(),
        matcher: Matcher {
            automaton,
            patterns: table.patterns,
        },
    })
}

/// One automaton over every phrase. A DFA is the fastest to search (one table lookup per
/// byte), and the tagger walks it with its own loop; for very large taxonomies whose DFA would
/// be too big, the builder falls back to its own choice.
fn build_automaton(patterns: &[String]) -> Result<Automaton, String> {
    let dfa = DFA::builder()
        .match_kind(MatchKind::Standard)
        // The search loop starts at the start state only; no prefilter skips ahead.
        .prefilter(false)
        .build(patterns);
    match dfa {
        Ok(dfa) => Ok(Automaton::Dfa(Box::new(dfa))),
        Err(_) => AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(patterns)
            .map(Automaton::Other)
            .map_err(|err| format!("cannot build the matcher: {err}")),
    }
}
