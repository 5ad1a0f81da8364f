//! Why two articles are, or are not, one story: the score the stage would give the second
//! article against a story opened by the first, with its evidence.

use serde::Serialize;

use super::terms::Term;
use super::{Score, StoryConfig, StoryConfigError, StoryStage};
use crate::event::{DuplicateKind, DuplicateNotice, EnrichedArticle};
use crate::stage::StageContext;

/// One shared term and what it adds to the text cosine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SharedTerm {
    pub term: String,
    /// Its share of the cosine (the products of the two weights; they sum to `text`).
    pub weight: f64,
}

/// The evidence for one pair.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// Higher = more alike, 0..1; the stage compares it with `threshold`.
    pub similarity: f64,
    pub same_story: bool,
    pub threshold: f64,
    /// The text cosine (title, lede and body terms, TF-IDF).
    pub text: f64,
    /// Every part of the score the model weighs (text, head, cross, names, numbers, overlaps).
    pub parts: Score,
    /// The shared terms that weigh most, heaviest first.
    pub shared_terms: Vec<SharedTerm>,
    /// Shared entities (Wikidata id or name), their overlap (0..1) and its weight.
    pub shared_entities: Vec<String>,
    pub entity_overlap: f64,
    pub entity_weight: f64,
    pub shared_places: Vec<String>,
    pub place_overlap: f64,
    pub place_weight: f64,
    pub shared_topics: Vec<String>,
    pub topic_overlap: f64,
    pub topic_weight: f64,
    /// Seconds between the two articles' stated times; null when either has none (then no
    /// time term applies).
    pub time_gap_seconds: Option<i64>,
    pub time_factor: f64,
    /// B is a copy of A by the deduplicator: the stage counts a copy in its original's story
    /// (one more outlet carrying it), whatever `similarity`, so `same_story` is then true.
    /// Null when B is not a copy of A, or when the caller did not run the deduplicator.
    pub copy_of: Option<CopyOf>,
}

/// The deduplicator's verdict that B is a copy of A.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CopyOf {
    /// A's article id (the original's).
    pub id: String,
    pub kind: DuplicateKind,
    /// The deduplicator's estimate, 0..1 (1 for an exact copy).
    pub similarity: f64,
}

impl Explanation {
    /// The explanation when the deduplicator held B as a copy of A (`notice`): the run puts B
    /// in A's story whatever the similarity.
    #[must_use]
    pub fn with_copy(mut self, notice: &DuplicateNotice) -> Self {
        self.same_story = true;
        self.copy_of = Some(CopyOf {
            id: notice.duplicate_of.clone(),
            kind: notice.kind,
            similarity: notice.similarity,
        });
        self
    }
}

/// Shared terms listed at most.
const SHARED_TERMS: usize = 15;

/// Explains `b` against the story `a` opens, in a fresh stage with `config` (the two articles'
/// words are the stream's document frequencies, as in a run of these two alone).
pub fn explain(
    config: &StoryConfig,
    a: &EnrichedArticle,
    b: &EnrichedArticle,
    ctx: &StageContext,
) -> Result<Explanation, StoryConfigError> {
    let mut stage = StoryStage::new(config.clone())?;
    let (first, mut words) = stage.features_with_words(a, true);
    let first_entities = first.entity_keys.clone();
    let first_places = first.places.clone();
    let first_topics = first.topics.clone();
    stage.add(first, ctx);
    let (second, second_words) = stage.features_with_words(b, true);
    words.extend(second_words);
    let slot = stage
        .article_story
        .get(&super::id_hash(&a.article.id))
        .copied();
    let story = slot.and_then(|slot| stage.story(slot));
    let (score, shared_terms) = match story {
        Some(story) => {
            let norm = f64::from(story.centroid_norm.max(f32::MIN_POSITIVE));
            let mut shared: Vec<(Term, f64)> = shared_products(&second.vector, &story.centroid)
                .map(|(term, product)| (term, f64::from(product) / norm))
                .collect();
            shared.sort_by(|x, y| y.1.total_cmp(&x.1));
            let shared = shared
                .into_iter()
                .take(SHARED_TERMS)
                .map(|(term, weight)| SharedTerm {
                    term: words
                        .get(&term)
                        .cloned()
                        .unwrap_or_else(|| format!("#{term:08x}")),
                    weight,
                })
                .collect();
            (stage.score(&second, story, None), shared)
        }
        None => (Score::default(), Vec::new()),
    };
    let shared = |mine: Vec<String>, theirs: &[String]| -> Vec<String> {
        let mut shared: Vec<String> = mine.into_iter().filter(|k| theirs.contains(k)).collect();
        shared.sort();
        shared.dedup();
        shared
    };
    Ok(Explanation {
        similarity: score.similarity,
        same_story: score.similarity >= config.threshold,
        threshold: config.threshold,
        text: score.text,
        parts: score,
        shared_terms,
        shared_entities: shared(second.entity_keys.clone(), &first_entities),
        entity_overlap: score.entities,
        entity_weight: config.model.entities,
        shared_places: shared(second.places.clone(), &first_places),
        place_overlap: score.places,
        place_weight: config.model.places,
        shared_topics: shared(second.topics.clone(), &first_topics),
        topic_overlap: score.topics,
        topic_weight: config.model.topics,
        time_gap_seconds: score.time_gap_seconds,
        time_factor: score.time_factor,
        copy_of: None,
    })
}

/// The products of the weights of the terms two sorted vectors share.
fn shared_products<'a>(
    a: &'a [(Term, f32)],
    b: &'a [(Term, f32)],
) -> impl Iterator<Item = (Term, f32)> + 'a {
    a.iter().filter_map(move |(term, weight)| {
        b.binary_search_by_key(term, |(t, _)| *t)
            .ok()
            .map(|i| (*term, weight * b[i].1))
    })
}
