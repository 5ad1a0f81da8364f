//! The story stage's settings, with defaults tuned on the SemEval-2022 Task 8 training split
//! (`services/newsflow/tests/stories_eval.rs`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::dedup::config::humantime_text;

/// Settings of [`StoryStage`](super::StoryStage). Every field has a default, so `{}` is a valid
/// configuration; unknown fields are refused so a typo cannot pass silently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoryConfig {
    /// A story expires when the newest event time seen is this far past its last article.
    #[serde(with = "humantime_text")]
    pub window: Duration,
    /// An article joins the most similar open story at or above this similarity (0..1); two
    /// stories an article reaches at or above it are merged.
    pub threshold: f64,
    /// Stories an article reaches at or above `threshold` are merged only when they are this
    /// alike as stories (the model on their centroids; 0.5 reads as an expected rating of 2.5,
    /// halfway between "same story" and "unrelated"), so one article that tells two different
    /// stories does not chain them into one.
    pub merge_threshold: f64,
    /// How much each field's words count in an article's term vector.
    pub fields: FieldWeights,
    /// Words are reduced to their Snowball (Porter 2) English stems (`talks`, `talked` →
    /// `talk`); else only a plural `s` is taken off.
    pub stem: bool,
    /// A word written with a capital inside a sentence (a name, mostly) counts this much more.
    pub name_boost: f64,
    /// The similarity: a linear model of the evidence (see [`ModelWeights`]), fitted on the
    /// SemEval-2022 Task 8 training split by `crates/core/story/fit_model.py`.
    pub model: ModelWeights,
    /// The time term: the similarity is multiplied by `0.5^(gap / half_life)`, where the gap is
    /// between the article's event time and the story's last article (when both are known).
    #[serde(with = "humantime_text")]
    pub half_life: Duration,
    /// Story ids listed in a record's `articles` (the most recent); `article_count` is the total.
    pub max_articles: usize,
    /// Entities, topics, places and outlets listed per story record (the most frequent).
    pub max_listed: usize,
    /// Terms kept in a story's centroid (the heaviest).
    pub story_terms: usize,
    /// A story is found through its heaviest this many terms (the inverted index).
    pub index_terms: usize,
    /// An article looks stories up through its heaviest this many terms.
    pub query_terms: usize,
    /// Stories kept per term in the inverted index (the most recently updated), so a frequent
    /// term cannot make the look-up cost grow with the number of open stories.
    pub max_postings: usize,
    /// Stories scored in full per article: the best by their share of the article's terms.
    pub max_candidates: usize,
    /// The cold-start prior: it counts as this many documents, each this many words long.
    pub prior_documents: f64,
    pub prior_document_words: f64,
    /// How far an event time may lie ahead of the stage's clock; later times count as the
    /// clock plus this, so one wrong date cannot expire every story.
    #[serde(with = "humantime_text")]
    pub max_future_skew: Duration,
}

/// Weights of title, lede and body words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FieldWeights {
    pub title: f64,
    pub lede: f64,
    pub body: f64,
    /// The body's `i`-th word (from 0) counts `1 / (1 + body_decay · i / 100)`: the first
    /// sentences say what happened, the last ones are often a site's standing text.
    pub body_decay: f64,
}

/// The similarity of an article and a story: `intercept + Σ weight · √part` over the parts of
/// a [`Score`](super::Score) (the text cosines and the overlaps, each in 0..1; the root spreads
/// the cosines, which crowd near 0), cut to 0..1, times the time factor. Fitted by least
/// squares to the people's rating (1 = same story … 4 = unrelated) mapped to 1 … 0, so the
/// score reads as an expected rating. Entities, places and topics weigh 0 by default: on the
/// training split they added nothing the text did not say (fit_model.py shows the figures).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelWeights {
    pub intercept: f64,
    pub text: f64,
    pub head: f64,
    pub cross: f64,
    pub names: f64,
    pub numbers: f64,
    pub entities: f64,
    pub places: f64,
    pub topics: f64,
}

impl ModelWeights {
    /// The model's score of a score's parts (not cut, no time factor).
    pub fn score(&self, parts: &super::Score) -> f64 {
        let root = |x: f64| x.max(0.0).sqrt();
        self.intercept
            + self.text * root(parts.text)
            + self.head * root(parts.head)
            + self.cross * root(parts.cross)
            + self.names * root(parts.names)
            + self.numbers * root(parts.numbers)
            + self.entities * root(parts.entities)
            + self.places * root(parts.places)
            + self.topics * root(parts.topics)
    }
}

impl Default for FieldWeights {
    fn default() -> Self {
        Self {
            title: 1.5,
            lede: 1.5,
            body: 1.0,
            body_decay: 1.0,
        }
    }
}

impl Default for ModelWeights {
    fn default() -> Self {
        // `python3 crates/core/story/fit_model.py parts.tsv --parts text,head,cross,names`
        Self {
            intercept: -0.0806,
            text: 0.4871,
            head: 0.2209,
            cross: 0.3898,
            names: 0.2289,
            numbers: 0.0,
            entities: 0.0,
            places: 0.0,
            topics: 0.0,
        }
    }
}

impl Default for StoryConfig {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(3 * 24 * 3600),
            threshold: 0.596,
            merge_threshold: 0.5,
            fields: FieldWeights::default(),
            name_boost: 1.0,
            stem: true,
            model: ModelWeights::default(),
            half_life: Duration::from_secs(2 * 24 * 3600),
            max_articles: 20,
            max_listed: 10,
            story_terms: 96,
            index_terms: 12,
            query_terms: 12,
            max_postings: 128,
            max_candidates: 8,
            prior_documents: 1000.0,
            prior_document_words: 300.0,
            max_future_skew: Duration::from_secs(24 * 3600),
        }
    }
}

/// A configuration the stage cannot run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoryConfigError {
    #[error("threshold and merge_threshold must be in (0, 1], not {0}")]
    Threshold(String),
    #[error("{0} must be a finite number of at least 0, not {1}")]
    Weight(&'static str, String),
    #[error("model.{0} must be a finite number, not {1}")]
    Finite(&'static str, String),
    #[error("the field weights must not all be 0")]
    NoField,
    #[error("{0} must be at least 1")]
    Count(&'static str),
    #[error("window must be at least one second")]
    Window,
    #[error("half_life must be at least one second")]
    HalfLife,
}

impl StoryConfig {
    /// Checks the settings together.
    pub fn validate(&self) -> Result<(), StoryConfigError> {
        for threshold in [self.threshold, self.merge_threshold] {
            if !(threshold > 0.0 && threshold <= 1.0) {
                return Err(StoryConfigError::Threshold(threshold.to_string()));
            }
        }
        let weights = [
            ("fields.title", self.fields.title),
            ("fields.lede", self.fields.lede),
            ("fields.body", self.fields.body),
            ("name_boost", self.name_boost),
            ("fields.body_decay", self.fields.body_decay),
            ("prior_documents", self.prior_documents),
            ("prior_document_words", self.prior_document_words),
        ];
        for (name, value) in weights {
            if !(value.is_finite() && value >= 0.0) {
                return Err(StoryConfigError::Weight(name, value.to_string()));
            }
        }
        let m = &self.model;
        let model = [
            ("intercept", m.intercept),
            ("text", m.text),
            ("head", m.head),
            ("cross", m.cross),
            ("names", m.names),
            ("numbers", m.numbers),
            ("entities", m.entities),
            ("places", m.places),
            ("topics", m.topics),
        ];
        if let Some((name, value)) = model.iter().find(|(_, w)| !w.is_finite()) {
            return Err(StoryConfigError::Finite(name, value.to_string()));
        }
        if self.fields.title + self.fields.lede + self.fields.body <= 0.0 {
            return Err(StoryConfigError::NoField);
        }
        let counts = [
            ("max_articles", self.max_articles),
            ("max_listed", self.max_listed),
            ("story_terms", self.story_terms),
            ("index_terms", self.index_terms),
            ("query_terms", self.query_terms),
            ("max_postings", self.max_postings),
            ("max_candidates", self.max_candidates),
        ];
        if let Some((name, _)) = counts.iter().find(|(_, n)| *n == 0) {
            return Err(StoryConfigError::Count(name));
        }
        if self.window.as_secs() == 0 {
            return Err(StoryConfigError::Window);
        }
        if self.half_life.as_secs() == 0 {
            return Err(StoryConfigError::HalfLife);
        }
        Ok(())
    }

    /// Reads a YAML file's text; the error says what is wrong (with line and column for syntax).
    pub fn from_yaml(text: &str) -> Result<Self, String> {
        let config: StoryConfig = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_config_gets_the_defaults() {
        let config = StoryConfig::from_yaml("{}").unwrap();
        assert_eq!(config, StoryConfig::default());
    }

    #[test]
    fn yaml_is_read_with_durations_as_text_and_typos_refused() {
        let config =
            StoryConfig::from_yaml("window: 36h\nthreshold: 0.6\nfields:\n  title: 2\n").unwrap();
        assert_eq!(config.window, Duration::from_secs(36 * 3600));
        assert_eq!(config.threshold, 0.6);
        assert_eq!(config.fields.title, 2.0);
        assert_eq!(config.fields.body, 1.0);
        let err = StoryConfig::from_yaml("treshold: 0.5\n").unwrap_err();
        assert!(err.contains("unknown field `treshold`"), "{err}");
        assert!(StoryConfig::from_yaml("window: soon\n").is_err());
    }

    #[test]
    fn impossible_settings_are_refused() {
        let bad = |edit: fn(&mut StoryConfig)| {
            let mut config = StoryConfig::default();
            edit(&mut config);
            config.validate().unwrap_err()
        };
        assert!(matches!(
            bad(|c| c.threshold = 0.0),
            StoryConfigError::Threshold(_)
        ));
        assert!(matches!(
            bad(|c| c.fields.body_decay = f64::NAN),
            StoryConfigError::Weight("fields.body_decay", _)
        ));
        assert!(matches!(
            bad(|c| c.model.places = f64::INFINITY),
            StoryConfigError::Finite("places", _)
        ));
        assert_eq!(
            bad(|c| c.max_postings = 0),
            StoryConfigError::Count("max_postings")
        );
        assert_eq!(bad(|c| c.window = Duration::ZERO), StoryConfigError::Window);
        assert_eq!(
            bad(|c| {
                c.fields = FieldWeights {
                    title: 0.0,
                    lede: 0.0,
                    body: 0.0,
                    body_decay: 0.0,
                }
            }),
            StoryConfigError::NoField
        );
    }
}
