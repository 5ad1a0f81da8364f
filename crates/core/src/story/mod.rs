//! The story stage: different articles about one event, across outlets, clustered online.
//!
//! One pass, one article at a time: an article's stemmed words become TF-IDF vectors — all of
//! title, lede and body, title and lede alone, its names, its figures (document frequencies
//! learned from the stream on top of a shipped prior, so the first article is weighted
//! sensibly too; see `terms.rs`). The open stories that share its heaviest terms are found
//! through an inverted index whose posting lists are capped, so the cost of an article does not
//! grow with the number of open stories. Each candidate is scored in full: the cosines of those
//! vectors with the story's centroids and the shared entities, dateline places and topics
//! (a [`Score`]'s parts, leaving out words only a site's standing text holds), combined by a
//! fitted linear model (`StoryConfig::model`), times a time decay. The article joins the most
//! similar story at or above the threshold (stories it ties above the threshold are merged into
//! the oldest of them when they are alike as stories too), or opens a new one. A story expires
//! after `window` of event time without a new article. Duplicate notices count their copy
//! toward the story of their original (held until the original arrives, or the window passes).
//!
//! Every change is a [`StoryRecord`] with the story's state after it. The stage is pure: event
//! times come from the articles, the clock from the [`StageContext`].

pub mod config;
mod explain;
pub mod record;
mod state;
mod tally;
pub mod terms;
#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use chrono::{DateTime, Utc};
use xxhash_rust::xxh3::xxh3_64;

pub use config::{FieldWeights, ModelWeights, StoryConfig, StoryConfigError};
pub use explain::{CopyOf, Explanation, SharedTerm, explain};
pub use record::{Change, Count, EntityCount, StoryRecord, StoryState};
pub use state::StateError;

use crate::error::{ErrorKind, StageError};
use crate::event::{DuplicateNotice, EnrichedArticle, EntityType, Event};
use crate::stage::StageContext;
use tally::{EntityTally, Tally};
use terms::{Counts, Folder, Frequencies, HashKeyed, Term, Vector};

/// What an article brings to a story, computed once.
#[derive(Debug, Clone)]
pub struct Features {
    pub id: String,
    pub source: String,
    pub title: Option<String>,
    pub lede: Option<String>,
    /// `published_at`, else `fetched_at`, else `ingested_at`.
    pub time: DateTime<Utc>,
    /// `published_at`, else `fetched_at`: a time the article itself states. The time term only
    /// applies when both sides have one.
    pub stated_time: Option<DateTime<Utc>>,
    pub vector: Vector,
    /// Title and lede terms only.
    pub head: Vector,
    /// The terms mostly written as names.
    pub names: Vector,
    /// The terms holding a digit.
    pub numbers: Vector,
    /// Title and separate lede terms, sorted (never standing text).
    pub head_terms: Vec<Term>,
    /// The body's terms in order and its sampled runs (`terms::shingles`), to find text the
    /// article shares word for word with a story.
    pub body_terms: Vec<Term>,
    pub shingles: Vec<(u32, u32)>,
    /// (Wikidata id, name, mentions).
    pub entities: Vec<(Option<String>, String, u64)>,
    /// The keys the entities are counted under (Wikidata id, else `name:<name>`).
    pub entity_keys: Vec<String>,
    pub places: Vec<String>,
    pub topics: Vec<String>,
}

/// The parts of a similarity.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Score {
    /// The cosine of the article's vector with the story's centroid.
    pub text: f64,
    /// The cosine of the article's title and lede with the story's.
    pub head: f64,
    /// Title and lede against the whole text, both ways (the mean of the two cosines).
    pub cross: f64,
    /// The cosine of the names (words written with a capital inside sentences).
    pub names: f64,
    /// The cosine of the figures (words holding a digit: numbers, years, dates).
    pub numbers: f64,
    /// Body words of the article inside runs of `terms::SHINGLE` words found word for word in
    /// the story. Articles of one event from different outlets are written anew (copies are
    /// the deduplicator's), so such runs are a site's standing text (sign-up forms, player
    /// fallbacks, legal notes): every part above leaves out the words only they hold.
    pub standing_words: u32,
    /// Overlaps in 0..1: shared over the smaller side's count.
    pub entities: f64,
    pub places: f64,
    pub topics: f64,
    /// The gap between the article and the story's latest article, when both state a time.
    pub time_gap_seconds: Option<i64>,
    /// `0.5^(gap / half_life)`, 1 without a gap.
    pub time_factor: f64,
    /// The model's score (`StoryConfig::model`) of the parts above, in 0..1, times
    /// `time_factor`.
    pub similarity: f64,
}

#[derive(Debug, Clone)]
struct Representative {
    id: String,
    title: Option<String>,
    lede: Option<String>,
    vector: Vector,
}

#[derive(Debug, Clone)]
struct Story {
    id: String,
    /// Unique per story opened by this stage (slots are reused).
    serial: u64,
    /// Counts the story's state records (`state.rs`): a followed record applies only when it
    /// is newer than the story held.
    rev: u64,
    /// When the story was last indexed (the stage's count of re-indexings): a restore indexes
    /// the stories again in this order, so the capped posting lists come out as they were.
    seq: u64,
    first_seen: DateTime<Utc>,
    last_updated: DateTime<Utc>,
    last_stated: Option<DateTime<Utc>>,
    /// The sum of its articles' unit vectors, cut to the heaviest `story_terms`.
    centroid: Vector,
    centroid_norm: f32,
    /// The same for title and lede, names and figures (each cut to its own size).
    head: Vector,
    names: Vector,
    numbers: Vector,
    /// The smallest `SHINGLES` hashes of its articles' runs of words, sorted (a bottom-k
    /// sample: a run is looked up only below the largest kept).
    shingles: Vec<u32>,
    /// The terms it is indexed under.
    indexed: Vec<Term>,
    representative: Representative,
    article_count: u64,
    outlets: Tally,
    recent: VecDeque<(DateTime<Utc>, String)>,
    /// Hashes of every article id counted, for duplicate notices and clean-up.
    members: Vec<u64>,
    entities: EntityTally,
    topics: Tally,
    places: Tally,
}

impl Story {
    /// What a story holds beyond its own struct.
    fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        let strings = |items: &mut dyn Iterator<Item = &String>| -> usize {
            items.map(String::capacity).sum::<usize>()
        };
        let representative = &self.representative;
        self.id.capacity()
            + (self.centroid.capacity()
                + self.head.capacity()
                + self.names.capacity()
                + self.numbers.capacity()
                + representative.vector.capacity())
                * size_of::<(Term, f32)>()
            + self.shingles.capacity() * size_of::<u32>()
            + self.indexed.capacity() * size_of::<Term>()
            + representative.id.capacity()
            + representative.title.as_ref().map_or(0, String::capacity)
            + representative.lede.as_ref().map_or(0, String::capacity)
            + self.recent.capacity() * size_of::<(DateTime<Utc>, String)>()
            + strings(&mut self.recent.iter().map(|(_, id)| id))
            + self.members.capacity() * size_of::<u64>()
            + self.outlets.heap_bytes()
            + self.topics.heap_bytes()
            + self.places.heap_bytes()
            + self.entities.heap_bytes()
    }
}

/// A duplicate notice whose original has not been seen (yet).
#[derive(Debug, Clone)]
struct Held {
    notice: DuplicateNotice,
    since: DateTime<Utc>,
}

/// Counters a caller may report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoryStats {
    pub articles: u64,
    pub notices: u64,
    pub opened: u64,
    pub merged: u64,
    pub expired: u64,
    /// Notices whose original never arrived within the window.
    pub notices_dropped: u64,
}

/// The story stage. See the module documentation.
#[derive(Debug)]
pub struct StoryStage {
    config: StoryConfig,
    frequencies: Frequencies,
    folder: Folder,
    slots: Vec<Option<Story>>,
    free: Vec<u32>,
    next_serial: u64,
    /// Term → (slot, the story's normalized centroid weight of the term), oldest first.
    index: HashKeyed<Term, VecDeque<(u32, f32)>>,
    /// Article id hash → slot of its story.
    article_story: HashKeyed<u64, u32>,
    /// (last_updated, serial, slot): the earliest to expire on top, the older story first on a
    /// tie (slots differ after a restore, serials do not); stale entries are skipped.
    expiry: BinaryHeap<Reverse<(DateTime<Utc>, u64, u32)>>,
    held: HashKeyed<u64, Vec<Held>>,
    held_order: VecDeque<(DateTime<Utc>, u64)>,
    /// The newest event time seen (clamped to the clock plus `max_future_skew`).
    watermark: Option<DateTime<Utc>>,
    accumulator: HashKeyed<u32, f32>,
    /// The current article's vector by term, reused.
    lookup: HashKeyed<Term, f32>,
    stats: StoryStats,
    /// Story id hash → slot.
    story_ids: HashKeyed<u64, u32>,
    /// The count of re-indexings (`Story::seq`).
    next_seq: u64,
    /// The state topic's bookkeeping (`state.rs`).
    tracker: state::Tracker,
}

fn id_hash(id: &str) -> u64 {
    xxh3_64(id.as_bytes())
}

impl StoryStage {
    pub fn new(config: StoryConfig) -> Result<Self, StoryConfigError> {
        config.validate()?;
        Ok(Self {
            frequencies: Frequencies::new(&config),
            folder: Folder::new(config.stem),
            config,
            slots: Vec::new(),
            free: Vec::new(),
            next_serial: 0,
            index: HashKeyed::default(),
            article_story: HashKeyed::default(),
            expiry: BinaryHeap::new(),
            held: HashKeyed::default(),
            held_order: VecDeque::new(),
            watermark: None,
            accumulator: HashKeyed::default(),
            lookup: HashKeyed::default(),
            stats: StoryStats::default(),
            story_ids: HashKeyed::default(),
            next_seq: 0,
            tracker: state::Tracker::default(),
        })
    }

    pub fn config(&self) -> &StoryConfig {
        &self.config
    }

    /// Stories open now.
    pub fn open_stories(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    pub fn stats(&self) -> StoryStats {
        self.stats
    }

    /// The `n` open stories with the most articles (copies counted), largest first, ties by
    /// id: (id, representative title, article count).
    pub fn largest(&self, n: usize) -> Vec<(&str, Option<&str>, u64)> {
        let mut stories: Vec<&Story> = self.slots.iter().flatten().collect();
        let by_size = |a: &&Story, b: &&Story| {
            b.article_count
                .cmp(&a.article_count)
                .then_with(|| a.id.cmp(&b.id))
        };
        if stories.len() > n && n > 0 {
            stories.select_nth_unstable_by(n - 1, by_size);
        }
        stories.truncate(n);
        stories.sort_by(by_size);
        stories
            .into_iter()
            .map(|s| {
                let title = s.representative.title.as_deref();
                (s.id.as_str(), title, s.article_count)
            })
            .collect()
    }

    /// An estimate of the heap the stage holds: stories, index, article map, expiry queue,
    /// held notices and the frequencies learned from the stream (hash tables counted at their
    /// capacity with one control byte per bucket).
    pub fn memory_bytes(&self) -> usize {
        use std::mem::size_of;
        fn table<K, V>(map: &HashKeyed<K, V>) -> usize {
            map.capacity() * (size_of::<(K, V)>() + 1)
        }
        let stories: usize = self
            .slots
            .iter()
            .flatten()
            .map(|story| story.heap_bytes())
            .sum();
        let postings: usize = self
            .index
            .values()
            .map(|p| p.capacity() * size_of::<(u32, f32)>())
            .sum();
        size_of::<Self>()
            + self.slots.capacity() * size_of::<Option<Story>>()
            + stories
            + table(&self.index)
            + postings
            + table(&self.article_story)
            + self.expiry.capacity() * size_of::<Reverse<(DateTime<Utc>, u64, u32)>>()
            + self.held.len() * size_of::<Held>()
            + self.frequencies.memory_bytes()
            + self.folder.memory_bytes()
    }

    /// The stage's name in dead letters and metrics.
    pub const NAME: &'static str = "stories";

    /// An enriched article or a duplicate notice; any other event is a miswired pipeline.
    pub fn process(
        &mut self,
        event: &Event,
        ctx: &StageContext,
    ) -> Result<Vec<StoryRecord>, StageError> {
        match event {
            Event::Enriched(article) => Ok(self.article(article, ctx)),
            Event::DuplicateNotice(notice) => Ok(self.notice(notice)),
            other => Err(StageError::rejected(
                ErrorKind::UnexpectedEventType,
                format!(
                    "stage {} takes enriched articles and duplicate notices, not {:?}",
                    Self::NAME,
                    other.kind()
                ),
            )),
        }
    }

    /// The features of an article, its words counted into the stream's frequencies.
    pub fn features(&mut self, article: &EnrichedArticle) -> Features {
        self.features_with_words(article, false).0
    }

    fn features_with_words(
        &mut self,
        article: &EnrichedArticle,
        keep_words: bool,
    ) -> (Features, HashKeyed<Term, String>) {
        let a = &article.article;
        let counts = Counts::of(
            a.title.as_deref(),
            a.lede.as_deref(),
            a.body.iter().map(String::as_str),
            keep_words,
            self.config.fields.body_decay,
            &mut self.folder,
        );
        self.frequencies.observe(counts.terms());
        self.tracker.terms(counts.terms());
        let vectors = counts.vectors(&self.frequencies, &self.config);
        let words = counts.words;
        let mut places: Vec<String> = a
            .dateline
            .as_ref()
            .and_then(|d| d.place.as_deref())
            .map(|p| p.trim().to_lowercase())
            .filter(|p| !p.is_empty())
            .into_iter()
            .collect();
        places.dedup();
        let entities: Vec<(Option<String>, String, u64)> = article
            .entities
            .iter()
            // Places are the `places` evidence (datelines); people and organizations here.
            .filter(|e| e.entity_type != EntityType::Place || e.id.is_some())
            .map(|e| (e.id.clone(), e.name.clone(), u64::from(e.mentions)))
            .collect();
        let features = Features {
            entity_keys: entities
                .iter()
                .map(|(id, name, _)| tally::entity_key(id.as_deref(), name))
                .collect(),
            id: a.id.clone(),
            source: a.source.clone(),
            title: a.title.clone(),
            lede: a.lede.clone(),
            time: a.event_time(),
            stated_time: a.published_at.or(a.fetched_at),
            vector: vectors.full,
            head: vectors.head,
            names: vectors.names,
            numbers: vectors.numbers,
            shingles: terms::shingles(&counts.body_terms),
            head_terms: counts.head_terms,
            body_terms: counts.body_terms,
            entities,
            places,
            topics: article.topics.iter().map(|t| t.id.clone()).collect(),
        };
        (features, words)
    }

    /// Processes one enriched article: expired stories first, then the article's own change,
    /// then any held duplicate notices of it.
    pub fn article(&mut self, article: &EnrichedArticle, ctx: &StageContext) -> Vec<StoryRecord> {
        if let Some(record) = self.replay(&article.article.id) {
            return record;
        }
        let features = self.features(article);
        self.add(features, ctx)
    }

    /// An article or copy already counted (a redelivered input, e.g. after an aborted
    /// transaction): nothing changes, and its story's record is given again as `joined`.
    fn replay(&self, id: &str) -> Option<Vec<StoryRecord>> {
        let slot = *self.article_story.get(&id_hash(id))?;
        self.story(slot)?;
        Some(vec![self.record(Change::Joined, Some(id), slot)])
    }

    /// Places an article whose features are computed.
    pub fn add(&mut self, features: Features, ctx: &StageContext) -> Vec<StoryRecord> {
        self.stats.articles += 1;
        let mut out = self.advance(features.time, ctx);
        let scored = self.candidates(&features);
        let threshold = self.config.threshold;
        let mut above: Vec<(u32, f64)> = scored
            .into_iter()
            .filter(|(_, score)| score.similarity >= threshold)
            .map(|(slot, score)| (slot, score.similarity))
            .collect();
        let article_id = features.id.clone();
        let article_hash = id_hash(&article_id);
        let slot = if above.is_empty() {
            let slot = self.open(features);
            out.push(self.record(Change::Opened, Some(&article_id), slot));
            slot
        } else {
            // The article's best story, and the others it reaches that are alike as stories
            // too (their centroids score at or above `merge_threshold` against the best
            // one's): an article that bridges two different stories does not chain them.
            above.sort_by(|a, b| b.1.total_cmp(&a.1));
            let best = above[0].0;
            let group: Vec<u32> = above
                .iter()
                .map(|(slot, _)| *slot)
                .filter(|slot| {
                    *slot == best
                        || match (self.story(best), self.story(*slot)) {
                            (Some(a), Some(b)) => {
                                self.story_similarity(a, b) >= self.config.merge_threshold
                            }
                            _ => false,
                        }
                })
                .collect();
            // The survivor of a merge is the oldest story, so long-lived ids stay.
            let survivor = group
                .iter()
                .copied()
                .min_by_key(|slot| self.story(*slot).map(|s| (s.first_seen, s.serial)))
                .unwrap_or(best);
            let absorbed: Vec<u32> = group
                .iter()
                .copied()
                .filter(|slot| *slot != survivor)
                .collect();
            for slot in &absorbed {
                if let Some(record) = self.merge(*slot, survivor, &article_id) {
                    out.push(record);
                }
            }
            self.join(survivor, features);
            let change = if absorbed.is_empty() {
                Change::Joined
            } else {
                Change::Merged
            };
            out.push(self.record(change, Some(&article_id), survivor));
            survivor
        };
        self.article_story.insert(article_hash, slot);
        if let Some(held) = self.held.remove(&article_hash) {
            for held in held {
                self.tracker.held_gone(&held.notice.id);
                out.push(self.copy(slot, &held.notice));
            }
        }
        out
    }

    /// A duplicate notice: its copy counts toward its original's story, now or once the
    /// original arrives (within the window).
    pub fn notice(&mut self, notice: &DuplicateNotice) -> Vec<StoryRecord> {
        if let Some(record) = self.replay(&notice.id) {
            return record;
        }
        let original = id_hash(&notice.duplicate_of);
        let waiting = self.held.get(&original);
        if waiting.is_some_and(|held| held.iter().any(|h| h.notice.id == notice.id)) {
            return Vec::new();
        }
        self.stats.notices += 1;
        if let Some(&slot) = self.article_story.get(&original) {
            return vec![self.copy(slot, notice)];
        }
        let since = self.watermark.unwrap_or(notice.detected_at);
        let held = Held {
            notice: notice.clone(),
            since,
        };
        self.tracker.held(&held);
        self.held.entry(original).or_default().push(held);
        self.held_order.push_back((since, original));
        Vec::new()
    }

    /// Scores an article against the open stories it shares heavy terms with: the best
    /// `max_candidates` by their share of the article's terms, each scored in full.
    fn candidates(&mut self, features: &Features) -> Vec<(u32, Score)> {
        self.accumulator.clear();
        for (term, weight) in terms::heaviest(&features.vector, self.config.query_terms) {
            if let Some(postings) = self.index.get(&term) {
                for (slot, story_weight) in postings {
                    *self.accumulator.entry(*slot).or_insert(0.0) += weight * story_weight;
                }
            }
        }
        let mut best: Vec<(u32, f32)> = self.accumulator.iter().map(|(s, w)| (*s, *w)).collect();
        let keep = self.config.max_candidates;
        if best.len() > keep {
            best.select_nth_unstable_by(keep, |a, b| b.1.total_cmp(&a.1));
            best.truncate(keep);
        }
        // The article's weights by term: a story's centroid is then scored in one look-up per
        // centroid term, not a walk over both vectors.
        let mut lookup = std::mem::take(&mut self.lookup);
        lookup.clear();
        lookup.extend(features.vector.iter().copied());
        let scored = best
            .into_iter()
            .filter_map(|(slot, _)| {
                let story = self.story(slot)?;
                Some((slot, self.score(features, story, Some(&lookup))))
            })
            .collect();
        self.lookup = lookup;
        scored
    }

    /// The score of an article against a story; `lookup` holds the article's vector by term
    /// (or is built on the way).
    fn score(
        &self,
        features: &Features,
        story: &Story,
        lookup: Option<&HashKeyed<Term, f32>>,
    ) -> Score {
        let standing = standing_positions(
            &features.shingles,
            &story.shingles,
            features.body_terms.len(),
        );
        let standing_words = standing.iter().filter(|s| **s).count();
        if standing_words == 0 {
            return self.score_with(
                features,
                [
                    &features.vector,
                    &features.head,
                    &features.names,
                    &features.numbers,
                ],
                story,
                0,
                lookup,
            );
        }
        // The words only the shared runs hold are left out.
        let mut kept: Vec<Term> = features
            .body_terms
            .iter()
            .zip(&standing)
            .filter(|(_, standing)| !**standing)
            .map(|(term, _)| *term)
            .chain(features.head_terms.iter().copied())
            .collect();
        kept.sort_unstable();
        kept.dedup();
        let keep = |v: &Vector| -> Vector {
            let mut v: Vector = v
                .iter()
                .filter(|(t, _)| kept.binary_search(t).is_ok())
                .copied()
                .collect();
            terms::normalize(&mut v);
            v
        };
        let [vector, head, names, numbers] = [
            &features.vector,
            &features.head,
            &features.names,
            &features.numbers,
        ]
        .map(keep);
        self.score_with(
            features,
            [&vector, &head, &names, &numbers],
            story,
            standing_words as u32,
            None,
        )
    }

    /// How alike two stories are: the model on their centroids, as if one were an article.
    fn story_similarity(&self, a: &Story, b: &Story) -> f64 {
        let cosine = |x: &[(Term, f32)], y: &[(Term, f32)]| f64::from(terms::cosine(x, y));
        let overlap = |keys: Vec<String>, len: usize, contains: &dyn Fn(&str) -> bool| {
            tally::overlap(&keys, len, contains)
        };
        let time_factor = match (a.last_stated, b.last_stated) {
            (Some(x), Some(y)) => 0.5f64
                .powf((x - y).num_seconds().abs() as f64 / self.config.half_life.as_secs_f64()),
            _ => 1.0,
        };
        let parts = Score {
            text: cosine(&a.centroid, &b.centroid),
            head: cosine(&a.head, &b.head),
            cross: 0.5 * (cosine(&a.head, &b.centroid) + cosine(&a.centroid, &b.head)),
            names: cosine(&a.names, &b.names),
            numbers: cosine(&a.numbers, &b.numbers),
            entities: overlap(a.entities.keys(), b.entities.len(), &|k| {
                b.entities.contains(k)
            }),
            places: overlap(a.places.names(), b.places.len(), &|k| b.places.contains(k)),
            topics: overlap(a.topics.names(), b.topics.len(), &|k| b.topics.contains(k)),
            ..Score::default()
        };
        (self.config.model.score(&parts) * time_factor).clamp(0.0, 1.0)
    }

    /// The score of an article's vectors (full, head, names, numbers) against a story.
    fn score_with(
        &self,
        features: &Features,
        [vector, head, names, numbers]: [&Vector; 4],
        story: &Story,
        standing_words: u32,
        lookup: Option<&HashKeyed<Term, f32>>,
    ) -> Score {
        let full_dot = |b: &[(Term, f32)]| match lookup {
            Some(map) => b
                .iter()
                .map(|(term, w)| map.get(term).map_or(0.0, |x| x * w))
                .sum(),
            None => terms::dot(vector, b),
        };
        let text = if story.centroid_norm > 0.0 {
            f64::from((full_dot(&story.centroid) / story.centroid_norm).min(1.0))
        } else {
            0.0
        };
        // The article's vectors are unit length (or empty): only the story's norms are needed.
        let cosine = |unit: &[(Term, f32)], b: &[(Term, f32)], norm_b: f32| {
            if norm_b > 0.0 {
                f64::from((terms::dot(unit, b) / norm_b).min(1.0))
            } else {
                0.0
            }
        };
        let head_norm = terms::norm(&story.head);
        let full_head = if head_norm > 0.0 {
            f64::from((full_dot(&story.head) / head_norm).min(1.0))
        } else {
            0.0
        };
        let cross = 0.5 * (cosine(head, &story.centroid, story.centroid_norm) + full_head);
        let head = cosine(head, &story.head, head_norm);
        let names = cosine(names, &story.names, terms::norm(&story.names));
        let numbers = cosine(numbers, &story.numbers, terms::norm(&story.numbers));
        let entities = tally::overlap(&features.entity_keys, story.entities.len(), |key| {
            story.entities.contains(key)
        });
        let places = tally::overlap(&features.places, story.places.len(), |p| {
            story.places.contains(p)
        });
        let topics = tally::overlap(&features.topics, story.topics.len(), |t| {
            story.topics.contains(t)
        });
        let time_gap_seconds = match (features.stated_time, story.last_stated) {
            (Some(a), Some(b)) => Some((a - b).num_seconds().abs()),
            _ => None,
        };
        let time_factor = time_gap_seconds.map_or(1.0, |gap| {
            0.5f64.powf(gap as f64 / self.config.half_life.as_secs_f64())
        });
        let mut score = Score {
            text,
            head,
            cross,
            names,
            numbers,
            standing_words,
            entities,
            places,
            topics,
            time_gap_seconds,
            time_factor,
            similarity: 0.0,
        };
        score.similarity = (self.config.model.score(&score) * time_factor).clamp(0.0, 1.0);
        score
    }

    fn story(&self, slot: u32) -> Option<&Story> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    fn story_mut(&mut self, slot: u32) -> Option<&mut Story> {
        self.slots.get_mut(slot as usize).and_then(Option::as_mut)
    }

    /// Moves the watermark to `time` (if later) and expires what fell out of the window: stories
    /// (one record each) and held notices.
    fn advance(&mut self, time: DateTime<Utc>, ctx: &StageContext) -> Vec<StoryRecord> {
        let ceiling = ctx.now
            + chrono::Duration::from_std(self.config.max_future_skew)
                .unwrap_or(chrono::Duration::days(1));
        let time = time.min(ceiling);
        let watermark = match self.watermark {
            Some(w) if w >= time => return Vec::new(),
            _ => time,
        };
        self.watermark = Some(watermark);
        self.tracker.clock();
        let window =
            chrono::Duration::from_std(self.config.window).unwrap_or(chrono::Duration::days(3));
        let cutoff = watermark - window;
        let mut out = Vec::new();
        while let Some(Reverse((updated, serial, slot))) = self.expiry.peek().copied() {
            if updated >= cutoff {
                break;
            }
            self.expiry.pop();
            let current = self
                .story(slot)
                .is_some_and(|s| s.serial == serial && s.last_updated == updated);
            if current {
                out.push(self.record(Change::Expired, None, slot));
                self.remove(slot);
                self.stats.expired += 1;
            }
        }
        while let Some((since, original)) = self.held_order.front().copied() {
            if since >= cutoff {
                break;
            }
            self.held_order.pop_front();
            if let Some(held) = self.held.get_mut(&original) {
                let before = held.len();
                let tracker = &mut self.tracker;
                held.retain(|h| {
                    let keep = h.since >= cutoff;
                    if !keep {
                        tracker.held_gone(&h.notice.id);
                    }
                    keep
                });
                self.stats.notices_dropped += (before - held.len()) as u64;
                if held.is_empty() {
                    self.held.remove(&original);
                }
            }
        }
        out
    }

    fn open(&mut self, features: Features) -> u32 {
        self.stats.opened += 1;
        let serial = self.next_serial;
        self.next_serial += 1;
        let centroid = terms::heaviest(&features.vector, self.config.story_terms);
        let mut story = Story {
            id: crate::ids::id_for_story(&features.id),
            serial,
            rev: 0,
            seq: 0,
            first_seen: features.time,
            last_updated: features.time,
            last_stated: features.stated_time,
            centroid_norm: terms::norm(&centroid),
            centroid,
            head: terms::heaviest(&features.head, HEAD_TERMS),
            names: terms::heaviest(&features.names, NAME_TERMS),
            numbers: terms::heaviest(&features.numbers, NUMBER_TERMS),
            shingles: Vec::new(),
            indexed: Vec::new(),
            representative: Representative {
                id: features.id.clone(),
                title: None,
                lede: None,
                vector: terms::heaviest(&features.vector, REPRESENTATIVE_TERMS),
            },
            article_count: 0,
            outlets: Tally::default(),
            recent: VecDeque::new(),
            members: Vec::new(),
            entities: EntityTally::default(),
            topics: Tally::default(),
            places: Tally::default(),
        };
        count_in(&mut story, &features, &self.config);
        remember_shingles(&mut story.shingles, &features.shingles);
        story.representative.title = features.title;
        story.representative.lede = features.lede;
        let slot = self.place(story);
        self.reindex(slot);
        self.schedule(slot);
        slot
    }

    /// Puts a story in a free slot (or a new one), findable by its id.
    fn place(&mut self, story: Story) -> u32 {
        let hash = id_hash(&story.id);
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(story);
                slot
            }
            None => {
                self.slots.push(Some(story));
                (self.slots.len() - 1) as u32
            }
        };
        self.story_ids.insert(hash, slot);
        slot
    }

    fn join(&mut self, slot: u32, features: Features) {
        let story_terms = self.config.story_terms;
        let config = self.config.clone();
        let Some(story) = self.story_mut(slot) else {
            return;
        };
        story.centroid = terms::heaviest(
            &terms::add_scaled(&story.centroid, &features.vector, 1.0),
            story_terms,
        );
        story.centroid_norm = terms::norm(&story.centroid);
        add_into(&mut story.head, &features.head, HEAD_TERMS);
        add_into(&mut story.names, &features.names, NAME_TERMS);
        add_into(&mut story.numbers, &features.numbers, NUMBER_TERMS);
        remember_shingles(&mut story.shingles, &features.shingles);
        // Centrality: the article closer to the new centroid represents the story.
        let candidate = terms::heaviest(&features.vector, REPRESENTATIVE_TERMS);
        if terms::cosine(&candidate, &story.centroid)
            > terms::cosine(&story.representative.vector, &story.centroid)
        {
            story.representative = Representative {
                id: features.id.clone(),
                title: features.title.clone(),
                lede: features.lede.clone(),
                vector: candidate,
            };
        }
        count_in(story, &features, &config);
        self.reindex(slot);
        self.schedule(slot);
    }

    /// Counts a duplicate copy toward a story.
    fn copy(&mut self, slot: u32, notice: &DuplicateNotice) -> StoryRecord {
        let max_articles = self.config.max_articles;
        let max_tally = self.max_tally();
        let watermark = self.watermark;
        if let Some(story) = self.story_mut(slot) {
            story.article_count += 1;
            story.outlets.add(&notice.source, 1, max_tally);
            let time = watermark
                .unwrap_or(story.last_updated)
                .max(story.last_updated);
            push_recent(&mut story.recent, time, &notice.id, max_articles);
            story.members.push(id_hash(&notice.id));
        }
        self.article_story.insert(id_hash(&notice.id), slot);
        self.record(Change::Joined, Some(&notice.id), slot)
    }

    /// Folds story `from` into `into`; the record of the absorbed story.
    fn merge(&mut self, from: u32, into: u32, article_id: &str) -> Option<StoryRecord> {
        self.stats.merged += 1;
        let into_id = self.story(into)?.id.clone();
        let mut record = self.record(Change::Merged, Some(article_id), from);
        record.story.merged_into = Some(into_id);
        let absorbed = self.take(from)?;
        for member in &absorbed.members {
            self.article_story.insert(*member, into);
        }
        let config = self.config.clone();
        let max_tally = self.max_tally();
        let story = self.story_mut(into)?;
        story.centroid = terms::heaviest(
            &terms::add_scaled(&story.centroid, &absorbed.centroid, 1.0),
            config.story_terms,
        );
        story.centroid_norm = terms::norm(&story.centroid);
        add_into(&mut story.head, &absorbed.head, HEAD_TERMS);
        add_into(&mut story.names, &absorbed.names, NAME_TERMS);
        add_into(&mut story.numbers, &absorbed.numbers, NUMBER_TERMS);
        let absorbed_shingles: Vec<(u32, u32)> =
            absorbed.shingles.iter().map(|hash| (*hash, 0)).collect();
        remember_shingles(&mut story.shingles, &absorbed_shingles);
        if terms::cosine(&absorbed.representative.vector, &story.centroid)
            > terms::cosine(&story.representative.vector, &story.centroid)
        {
            story.representative = absorbed.representative;
        }
        story.first_seen = story.first_seen.min(absorbed.first_seen);
        story.last_updated = story.last_updated.max(absorbed.last_updated);
        story.last_stated = story.last_stated.max(absorbed.last_stated);
        story.article_count += absorbed.article_count;
        story.outlets.merge(&absorbed.outlets, max_tally);
        story.topics.merge(&absorbed.topics, max_tally);
        story.places.merge(&absorbed.places, max_tally);
        story.entities.merge(&absorbed.entities, max_tally);
        story.members.extend(absorbed.members);
        for (time, id) in absorbed.recent {
            push_recent(&mut story.recent, time, &id, config.max_articles);
        }
        self.reindex(into);
        self.schedule(into);
        Some(record)
    }

    /// Tallies keep a few more names than they list, so the listed ones stay right.
    fn max_tally(&self) -> usize {
        self.config.max_listed.saturating_mul(4)
    }

    /// Indexes a story under the heaviest terms of its centroid (and only those).
    fn reindex(&mut self, slot: u32) {
        let index_terms = self.config.index_terms;
        let max_postings = self.config.max_postings;
        let Some(story) = self.slots.get_mut(slot as usize).and_then(Option::as_mut) else {
            return;
        };
        let old = std::mem::take(&mut story.indexed);
        story.seq = self.next_seq;
        self.next_seq += 1;
        let norm = story.centroid_norm.max(f32::MIN_POSITIVE);
        let top = terms::heaviest(&story.centroid, index_terms);
        story.indexed = top.iter().map(|(t, _)| *t).collect();
        for term in old {
            if let Some(postings) = self.index.get_mut(&term) {
                postings.retain(|(s, _)| *s != slot);
                if postings.is_empty() {
                    self.index.remove(&term);
                }
            }
        }
        for (term, weight) in top {
            let postings = self.index.entry(term).or_default();
            postings.push_back((slot, weight / norm));
            if postings.len() > max_postings {
                postings.pop_front();
            }
        }
    }

    fn schedule(&mut self, slot: u32) {
        if let Some(story) = self.story(slot) {
            self.expiry
                .push(Reverse((story.last_updated, story.serial, slot)));
        }
    }

    /// Takes a story out of the stage: its slot, index entries and article map.
    fn take(&mut self, slot: u32) -> Option<Story> {
        let story = self.slots.get_mut(slot as usize)?.take()?;
        let hash = id_hash(&story.id);
        if self.story_ids.get(&hash) == Some(&slot) {
            self.story_ids.remove(&hash);
        }
        self.tracker.story_gone(hash);
        for term in &story.indexed {
            if let Some(postings) = self.index.get_mut(term) {
                postings.retain(|(s, _)| *s != slot);
                if postings.is_empty() {
                    self.index.remove(term);
                }
            }
        }
        self.free.push(slot);
        Some(story)
    }

    fn remove(&mut self, slot: u32) {
        if let Some(story) = self.take(slot) {
            for member in story.members {
                if self.article_story.get(&member) == Some(&slot) {
                    self.article_story.remove(&member);
                }
            }
        }
    }

    fn record(&self, change: Change, article_id: Option<&str>, slot: u32) -> StoryRecord {
        let state = self.story(slot).map(|s| self.state(s));
        StoryRecord {
            change,
            article_id: article_id.map(str::to_owned),
            story: state.unwrap_or_else(|| unreachable_state(article_id)),
        }
    }

    fn state(&self, story: &Story) -> StoryState {
        let listed = self.config.max_listed;
        StoryState {
            id: story.id.clone(),
            title: story.representative.title.clone(),
            lede: story.representative.lede.clone(),
            representative_id: story.representative.id.clone(),
            first_seen: story.first_seen,
            last_updated: story.last_updated,
            article_count: story.article_count,
            outlet_count: story.outlets.distinct(),
            outlets: story.outlets.top(listed),
            articles: story.recent.iter().map(|(_, id)| id.clone()).collect(),
            entities: story.entities.top(listed),
            topics: story.topics.top(listed),
            places: story.places.top(listed),
            merged_into: None,
        }
    }
}

/// Terms kept of the representative article's vector, to judge centrality.
const REPRESENTATIVE_TERMS: usize = 32;

/// Terms kept of a story's title-and-lede, name and figure centroids.
const HEAD_TERMS: usize = 32;
const NAME_TERMS: usize = 32;
const NUMBER_TERMS: usize = 16;

/// Run hashes a story keeps (the smallest).
const SHINGLES: usize = 128;

/// Adds an article's sampled runs to a story's sorted bottom-k sample.
fn remember_shingles(into: &mut Vec<u32>, shingles: &[(u32, u32)]) {
    into.extend(shingles.iter().map(|(hash, _)| *hash));
    into.sort_unstable();
    into.dedup();
    into.truncate(SHINGLES);
}

/// Which of an article's `n` body words lie in a sampled run the story holds too (empty when
/// none does).
fn standing_positions(article: &[(u32, u32)], story: &[u32], n: usize) -> Vec<bool> {
    let mut standing = Vec::new();
    let Some(&largest) = story.last() else {
        return standing;
    };
    for (hash, start) in article {
        if *hash <= largest && story.binary_search(hash).is_ok() {
            standing.resize(n, false);
            for flag in standing
                .iter_mut()
                .skip(*start as usize)
                .take(terms::SHINGLE)
            {
                *flag = true;
            }
        }
    }
    standing
}

/// `into += v`, cut to the heaviest `n` terms.
fn add_into(into: &mut Vector, v: &[(Term, f32)], n: usize) {
    *into = terms::heaviest(&terms::add_scaled(into, v, 1.0), n);
}

/// A record for a slot that holds no story: never built, because every caller passes a slot
/// it has just filled; it keeps `record` total without a panic.
fn unreachable_state(article_id: Option<&str>) -> StoryState {
    let id = article_id.unwrap_or_default().to_owned();
    StoryState {
        id: crate::ids::id_for_story(&id),
        title: None,
        lede: None,
        representative_id: id,
        first_seen: DateTime::UNIX_EPOCH,
        last_updated: DateTime::UNIX_EPOCH,
        article_count: 0,
        outlet_count: 0,
        outlets: Vec::new(),
        articles: Vec::new(),
        entities: Vec::new(),
        topics: Vec::new(),
        places: Vec::new(),
        merged_into: None,
    }
}

/// Counts an article's metadata into a story.
fn count_in(story: &mut Story, features: &Features, config: &StoryConfig) {
    let max_tally = config.max_listed.saturating_mul(4);
    story.article_count += 1;
    story.first_seen = story.first_seen.min(features.time);
    story.last_updated = story.last_updated.max(features.time);
    story.last_stated = story.last_stated.max(features.stated_time);
    story.outlets.add(&features.source, 1, max_tally);
    for (id, name, mentions) in &features.entities {
        story
            .entities
            .add(id.as_deref(), name, *mentions, max_tally);
    }
    for topic in &features.topics {
        story.topics.add(topic, 1, max_tally);
    }
    for place in &features.places {
        story.places.add(place, 1, max_tally);
    }
    push_recent(
        &mut story.recent,
        features.time,
        &features.id,
        config.max_articles,
    );
    story.members.push(id_hash(&features.id));
}

/// Keeps the `max` most recent ids, oldest first.
fn push_recent(
    recent: &mut VecDeque<(DateTime<Utc>, String)>,
    time: DateTime<Utc>,
    id: &str,
    max: usize,
) {
    let at = recent.partition_point(|(t, _)| *t <= time);
    recent.insert(at, (time, id.to_owned()));
    while recent.len() > max {
        recent.pop_front();
    }
}
