//! The tag stage: topics (with the evidence for each) and entities for every unique article.
//!
//! A [`Taxonomy`] (YAML, see `crates/core/taxonomy/default.yaml` for the format and the default
//! topics) is compiled once into a single Aho-Corasick automaton over every phrase of every
//! rule and every entity alias. [`TagStage`] folds an article's title, lede and body (case,
//! diacritics, dashes; see `fold.rs`), runs the automaton once, and scores each topic from its
//! weighted terms, co-occurrence groups (within a sentence or a paragraph), exclusions, title
//! and lede boosts and threshold (see `engine.rs`). [`explain`] shows why an article got each
//! topic or fell short of it. The stage never fails on an article: an article with no text
//! simply gets no tags.
//!
//! Articles whose `language` is set and differs from the taxonomy's `language` get no topic
//! tags (the rules are English phrases); entities are still found.

mod engine;
mod explain;
mod fold;
mod locate;
mod model;
mod taxonomy;
#[cfg(test)]
mod tests;

use std::sync::Arc;

pub use explain::{
    ExclusionExplanation, Explanation, FocusExplanation, GroupExplanation, MatchExplanation,
    ModelExplanation, TermExplanation, TopicExplanation, explain,
};
pub use model::{DEFAULT_MODEL_TSV, LEDE_WEIGHT, Model, TITLE_WEIGHT, features};
pub use taxonomy::{
    DEFAULT_GAZETTEER_YAML, DEFAULT_TAXONOMY_YAML, Taxonomy, TaxonomyError, Window,
};

use crate::error::StageError;
use crate::event::{
    DeduplicatedArticle, EnrichedArticle, Entity, Event, EventKind, NormalizedArticle, TopicTag,
};
use crate::stage::{
    DefaultTopic, Emit, INPUT, PRIMARY, Port, Route, Stage, StageContext, unexpected_input,
};
use crate::topics;

/// The name of the output of the per-topic copies, one Kafka topic per taxonomy topic id
/// (`--tag-topic-prefix` goes before the default name).
pub const TOPIC_COPIES: &str = "topic";

/// The tagger's version, carried by every enriched article (`tagger_version`).
pub const TAGGER_VERSION: &str = concat!("newsflow-tagger/", env!("CARGO_PKG_VERSION"));

/// The topics and entities of one article.
#[derive(Debug, Clone, PartialEq)]
pub struct Tags {
    pub topics: Vec<TopicTag>,
    pub entities: Vec<Entity>,
}

/// Tags deduplicated articles: emits the enriched article on the primary route
/// (`news.enriched.v1`) with a copy per topic on its [`TOPIC_COPIES`] output, keyed by the topic id
/// (`news.topic.<id>.v1`).
#[derive(Debug)]
pub struct TagStage {
    taxonomy: Arc<Taxonomy>,
    scratch: engine::Scratch,
}

impl TagStage {
    pub fn new(taxonomy: Arc<Taxonomy>) -> Self {
        Self {
            taxonomy,
            scratch: engine::Scratch::default(),
        }
    }

    /// Replaces the taxonomy (hot reload); the next article uses the new one.
    pub fn set_taxonomy(&mut self, taxonomy: Arc<Taxonomy>) {
        self.taxonomy = taxonomy;
    }

    pub fn taxonomy(&self) -> &Arc<Taxonomy> {
        &self.taxonomy
    }

    /// The topics and entities of an article.
    pub fn tag(&mut self, article: &NormalizedArticle) -> Tags {
        let analysis = engine::analyze(&self.taxonomy, article, &mut self.scratch, false);
        Tags {
            topics: engine::tags(&self.taxonomy, &analysis),
            entities: engine::entities(&self.taxonomy, &analysis),
        }
    }

    /// The enriched form of a deduplicated article.
    pub fn enrich(&mut self, article: DeduplicatedArticle) -> EnrichedArticle {
        let tags = self.tag(&article.article);
        EnrichedArticle {
            article: article.article,
            dedup: article.dedup,
            topics: tags.topics,
            entities: tags.entities,
            tagger_version: TAGGER_VERSION.to_owned(),
            taxonomy_version: self.taxonomy.version().to_owned(),
        }
    }
}

impl Default for TagStage {
    /// A stage with the built-in taxonomy.
    fn default() -> Self {
        Self::new(Arc::new(Taxonomy::default()))
    }
}

impl Stage for TagStage {
    fn name(&self) -> &'static str {
        "tagger"
    }

    fn inputs(&self) -> &'static [Port] {
        const {
            &[Port::new(
                INPUT,
                EventKind::Deduplicated,
                topics::DEDUPLICATED,
            )]
        }
    }

    fn outputs(&self) -> &'static [Port] {
        const {
            &[
                Port::new(PRIMARY, EventKind::Enriched, topics::ENRICHED),
                Port {
                    name: TOPIC_COPIES,
                    kind: EventKind::Enriched,
                    topic: DefaultTopic::PerKey(topics::tag_topic),
                },
            ]
        }
    }

    fn process(&mut self, event: Event, _ctx: &StageContext) -> Result<Vec<Emit>, StageError> {
        let Event::Deduplicated(article) = event else {
            return Err(unexpected_input(self, &event));
        };
        let enriched = self.enrich(article);
        let copies: Vec<Route> = enriched
            .topics
            .iter()
            .map(|t| Route::keyed(TOPIC_COPIES, t.id.clone()))
            .collect();
        Ok(vec![
            Emit::new(Route::PRIMARY, Event::Enriched(enriched)).with_copies(copies),
        ])
    }
}
