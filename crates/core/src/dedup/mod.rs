//! The dedupe stage (`deduplicator`): finds exact and near copies of stories seen within a
//! window of event time.
//!
//! # Verdicts
//!
//! Each normalized article gets one output:
//! - **unique**: no retained unique article is a copy of it. It goes on
//!   (`news.deduplicated.v1`) with `dedup {status: "unique", fingerprint}` and is retained as
//!   a candidate for later articles.
//! - **exact copy**: a retained unique article has the same `content_hash`. A notice goes to
//!   `news.duplicates.v1` with `kind: "exact"`, `similarity: 1`.
//! - **near copy**: a retained unique article's estimated word-shingle Jaccard similarity is at
//!   least [`DedupConfig::threshold`] (the highest wins; ties go to the earliest event time).
//!   A notice with `kind: "near"` and the estimate, rounded to four decimals.
//!
//! `duplicate_of` is always a unique article: copies are retained for their verdict but are
//! never candidates, so a copy of a copy points at the original, and only when it is itself
//! similar enough to the original.
//!
//! The same id with the same `content_hash` is a **replay** and gets the verdict it got the
//! first time (same fingerprint and revision, or same `duplicate_of`, kind and similarity;
//! `detected_at` is the time of the replay). The same id with another `content_hash` is a
//! **correction**: its previous verdict is dropped (so it is never a copy of itself), it is
//! judged anew and published with `revision` = previous revision + 1 (or the input's revision
//! when that is higher).
//!
//! # Sketch
//!
//! Body words (lowercased, typographic quotes and dashes folded, edge punctuation trimmed)
//! form overlapping shingles of `shingle_size` words. A signature of `num_hashes` one-byte
//! MinHash values (one-permutation hashing with optimal densification, xxh3 hashes) estimates
//! their Jaccard similarity with a standard deviation of about 0.045 around 0.5 for the
//! default 128 values; candidates are found by LSH over `bands` bands of `rows_per_band`
//! values, then confirmed by the estimate. See [`sketch`](self) internals and
//! [`DedupConfig`] for the defaults and why.
//!
//! # Window
//!
//! Retained articles expire once their event time ([`NormalizedArticle::event_time`], capped at
//! the stage clock plus `max_future_skew`) is more than `window` behind the newest event time
//! seen (processed or restored). Lookups apply the window exactly; memory is released per
//! bucket of 1/64 of the window. An article already older than the window is judged but not
//! retained. [`DedupStage::retained`] and [`DedupStage::memory_bytes`] report the size.
//!
//! # State topic (`newsflow.dedup-state.v1`)
//!
//! Every change of the window is a [`StateChange`], taken with
//! [`DedupStage::take_state_changes`] and published by the runner in the same ack cycle as the
//! verdict. The key is the article id; the value is a JSON object (the topic's content type is
//! `application/json`), one line, version 1:
//!
//! ```text
//! unique: {"v":1,"rev":1,"t":1104537600,"hash":"0123456789abcdef","fp":"mh1-5-128:<base64url>"}
//! copy:   {"v":1,"rev":1,"t":1104537600,"hash":"0123456789abcdef","of":"<id>","kind":"near","sim":0.8125}
//! ```
//!
//! - `v`: record version (1). A reader refuses other versions.
//! - `rev`: the revision published for the article; `t`: its event time in Unix seconds;
//!   `hash`: the first 16 hex digits of its `content_hash`.
//! - `fp` (unique articles): the fingerprint as published, `mh1-<shingle size>-<num hashes>:`
//!   and the signature in unpadded URL-safe base64. A record whose prefix differs from the
//!   reader's configuration is refused ([`RestoreError::Incompatible`]): its signature would
//!   not compare. Bands and threshold may change freely; the index is rebuilt from signatures.
//! - `of`, `kind`, `sim` (copies): the verdict to repeat on a replay.
//! - A null value (tombstone) when the article leaves the window or its id is dropped. A
//!   correction overwrites its id's record.
//!
//! [`DedupStage::restore`] applies one record: a tombstone forgets the id; a record of the same
//! revision and content as the retained one is a no-op, one of a lower revision is stale and
//! ignored, anything else replaces the id's entry. Restoring a whole topic into a fresh stage
//! therefore rebuilds the window of its writers, and an instance reading back its own records
//! changes nothing. Restoring may expire entries (the restored event times move the clock); it
//! then emits tombstones like processing does.
//!
//! [`NormalizedArticle::event_time`]: crate::event::NormalizedArticle::event_time

pub(crate) mod config;
mod sketch;
mod state;
mod window;

use chrono::{DateTime, TimeDelta, Utc};
use xxhash_rust::xxh3::xxh3_64;

pub use config::{DedupConfig, DedupConfigError};
pub use state::RestoreError;

use self::sketch::Sketcher;
use self::state::{Record, RecordVerdict};
use self::window::{IdKey, Verdict, Window};
use crate::StageError;
use crate::error::Rejection;
use crate::event::{
    DedupInfo, DedupStatus, DeduplicatedArticle, DuplicateKind, DuplicateNotice, Event, EventKind,
    NormalizedArticle,
};
use crate::stage::{
    Emit, INPUT, PRIMARY, Port, Route, Stage, StageContext, StateChange, unexpected_input,
};
use crate::topics;

/// The name of the output of duplicate notices (`--duplicates-topic`).
pub const DUPLICATES: &str = "duplicates";

/// The dedupe stage. See the [module docs](self).
#[derive(Debug)]
pub struct DedupStage {
    config: DedupConfig,
    prefix: String,
    window_secs: i64,
    sketcher: Sketcher,
    window: Window,
    /// The newest event time seen, Unix seconds.
    newest: Option<i64>,
    /// Articles dropped from the window as they expired, since the stage was built.
    evicted: u64,
    changes: Vec<StateChange>,
    signature: Vec<u8>,
}

impl Default for DedupStage {
    fn default() -> Self {
        Self::build(DedupConfig::default())
    }
}

impl DedupStage {
    /// A stage with an empty window.
    pub fn new(config: DedupConfig) -> Result<Self, DedupConfigError> {
        config.validate()?;
        Ok(Self::build(config))
    }

    fn build(config: DedupConfig) -> Self {
        let window_secs = i64::try_from(config.window.as_secs()).unwrap_or(i64::MAX);
        Self {
            prefix: sketch::fingerprint_prefix(config.shingle_size, config.num_hashes),
            window_secs,
            sketcher: Sketcher::new(config.shingle_size, config.num_hashes),
            window: Window::new(
                config.num_hashes,
                config.bands,
                config.rows_per_band,
                window_secs,
            ),
            newest: None,
            evicted: 0,
            changes: Vec::new(),
            signature: Vec::with_capacity(config.num_hashes),
            config,
        }
    }

    pub fn config(&self) -> &DedupConfig {
        &self.config
    }

    /// Articles in the window (unique ones and copies' verdicts).
    pub fn retained(&self) -> usize {
        self.window.len()
    }

    /// Articles dropped from the window as their event time left it, since the stage was built.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// The approximate heap size of the window, in bytes.
    pub fn memory_bytes(&self) -> usize {
        self.window.memory_bytes()
            + self.changes.capacity() * std::mem::size_of::<StateChange>()
            + self.signature.capacity()
    }

    /// The state changes made since the last call, in order, for `newsflow.dedup-state.v1`.
    pub fn take_state_changes(&mut self) -> Vec<StateChange> {
        std::mem::take(&mut self.changes)
    }

    /// Applies one record of `newsflow.dedup-state.v1` (`None`: a tombstone). Idempotent; see
    /// the module docs.
    pub fn restore(&mut self, key: &str, value: Option<&[u8]>) -> Result<(), RestoreError> {
        let id = IdKey::new(key);
        let Some(bytes) = value else {
            if let Some(r) = self.window.find(&id) {
                self.window.remove(r);
            }
            return Ok(());
        };
        let record = Record::decode(bytes, &self.prefix, self.config.num_hashes)?;
        if let Some(r) = self.window.find(&id) {
            let current = self.window.get(r);
            let same = current.revision == record.revision
                && current.content_hash == record.content_hash
                && current.event_time == record.event_time;
            if same || current.revision > record.revision {
                return Ok(());
            }
            self.window.remove(r);
        }
        self.advance_clock(record.event_time);
        if record.event_time < self.cutoff() {
            self.changes.push(StateChange {
                key: key.to_owned(),
                value: None,
            });
            return Ok(());
        }
        let retained = match record.verdict {
            RecordVerdict::Unique { signature } => self.window.insert_unique(
                &id,
                record.content_hash,
                record.event_time,
                record.revision,
                &signature,
            ),
            RecordVerdict::Copy {
                duplicate_of,
                kind,
                similarity,
            } => self.window.insert_copy(
                &id,
                record.content_hash,
                record.event_time,
                record.revision,
                &duplicate_of,
                kind,
                similarity,
            ),
        };
        let _ = retained;
        Ok(())
    }

    /// The oldest event time still in the window.
    fn cutoff(&self) -> i64 {
        self.newest
            .map_or(i64::MIN, |newest| newest.saturating_sub(self.window_secs))
    }

    /// Moves the clock to `event_time` when that is newer, dropping what leaves the window.
    fn advance_clock(&mut self, event_time: i64) {
        if self.newest.is_some_and(|newest| newest >= event_time) {
            return;
        }
        self.newest = Some(event_time);
        let cutoff = self.cutoff();
        for key in self.window.expire(cutoff) {
            self.evicted += 1;
            self.changes.push(StateChange { key, value: None });
        }
    }

    fn event_time(&self, article: &NormalizedArticle, ctx: &StageContext) -> i64 {
        let skew = TimeDelta::from_std(self.config.max_future_skew).unwrap_or(TimeDelta::MAX);
        let latest = ctx
            .now
            .checked_add_signed(skew)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        article.event_time().min(latest).timestamp()
    }

    fn dedupe(&mut self, mut article: NormalizedArticle, ctx: &StageContext) -> Emit {
        let event_time = self.event_time(&article, ctx);
        self.advance_clock(event_time);
        let cutoff = self.cutoff();
        let content_hash = short_hash(&article.content_hash);
        let key = IdKey::new(&article.id);
        let mut revision = article.revision.max(1);
        let mut replaced = false;
        if let Some(r) = self.window.find(&key) {
            let previous = self.window.get(r);
            if previous.event_time >= cutoff {
                if previous.content_hash == content_hash {
                    return self.replay(article, previous.revision, previous.verdict, ctx);
                }
                revision = revision.max(previous.revision.saturating_add(1));
            }
            self.window.remove(r);
            replaced = true;
        }

        self.sketcher
            .sketch(&article.body, content_hash, &mut self.signature);
        let found =
            self.window
                .best_match(&self.signature, content_hash, cutoff, self.config.threshold);
        let keep = event_time >= cutoff;
        let record_verdict;
        let emit = match found {
            Some(found) => {
                let duplicate_of = self.window.unique_id(found.slot);
                let (kind, similarity) = if found.exact {
                    (DuplicateKind::Exact, 1.0)
                } else {
                    (
                        DuplicateKind::Near,
                        (found.similarity * 10_000.0).round() / 10_000.0,
                    )
                };
                let retained = keep
                    && self
                        .window
                        .insert_copy(
                            &key,
                            content_hash,
                            event_time,
                            revision,
                            &duplicate_of,
                            kind,
                            similarity,
                        )
                        .is_some();
                record_verdict = retained.then(|| RecordVerdict::Copy {
                    duplicate_of: duplicate_of.clone(),
                    kind,
                    similarity,
                });
                notice(article, duplicate_of, kind, similarity, ctx)
            }
            None => {
                let retained = keep
                    && self
                        .window
                        .insert_unique(&key, content_hash, event_time, revision, &self.signature)
                        .is_some();
                record_verdict = retained.then(|| RecordVerdict::Unique {
                    signature: self.signature.clone(),
                });
                article.revision = revision;
                let fingerprint = sketch::fingerprint(&self.prefix, &self.signature);
                unique(article, fingerprint)
            }
        };
        let key = emit.event.id().to_owned();
        match record_verdict {
            Some(verdict) => {
                let record = Record {
                    revision,
                    event_time,
                    content_hash,
                    verdict,
                };
                let value = record.encode(|signature| sketch::fingerprint(&self.prefix, signature));
                self.changes.push(StateChange {
                    key,
                    value: Some(value),
                });
            }
            None if replaced => self.changes.push(StateChange { key, value: None }),
            None => {}
        }
        emit
    }

    /// The first verdict again.
    fn replay(
        &self,
        mut article: NormalizedArticle,
        revision: u32,
        verdict: Verdict<'_>,
        ctx: &StageContext,
    ) -> Emit {
        match verdict {
            Verdict::Unique { signature } => {
                article.revision = revision;
                let fingerprint = sketch::fingerprint(&self.prefix, signature);
                unique(article, fingerprint)
            }
            Verdict::Copy {
                duplicate_of,
                kind,
                similarity,
            } => notice(article, duplicate_of, kind, similarity, ctx),
        }
    }
}

fn unique(article: NormalizedArticle, fingerprint: String) -> Emit {
    Emit::new(
        Route::PRIMARY,
        Event::Deduplicated(DeduplicatedArticle {
            article,
            dedup: DedupInfo {
                status: DedupStatus::Unique,
                fingerprint,
            },
        }),
    )
}

fn notice(
    article: NormalizedArticle,
    duplicate_of: String,
    kind: DuplicateKind,
    similarity: f64,
    ctx: &StageContext,
) -> Emit {
    Emit::new(
        Route::to(DUPLICATES),
        Event::DuplicateNotice(DuplicateNotice {
            id: article.id,
            duplicate_of,
            kind,
            similarity,
            source: article.source,
            title: article.title.filter(|title| !title.is_empty()),
            detected_at: ctx.now,
        }),
    )
}

/// The first 64 bits of a hex SHA-256 content hash (a hash of the text when it is not hex, so
/// a malformed hash still tells contents apart).
fn short_hash(content_hash: &str) -> u64 {
    content_hash
        .get(..16)
        .and_then(|head| u64::from_str_radix(head, 16).ok())
        .unwrap_or_else(|| xxh3_64(content_hash.as_bytes()))
}

impl Stage for DedupStage {
    fn name(&self) -> &'static str {
        "deduplicator"
    }

    fn inputs(&self) -> &'static [Port] {
        const { &[Port::new(INPUT, EventKind::Normalized, topics::NORMALIZED)] }
    }

    fn outputs(&self) -> &'static [Port] {
        const {
            &[
                Port::new(PRIMARY, EventKind::Deduplicated, topics::DEDUPLICATED),
                Port::new(DUPLICATES, EventKind::DuplicateNotice, topics::DUPLICATES),
            ]
        }
    }

    fn process(&mut self, event: Event, ctx: &StageContext) -> Result<Vec<Emit>, StageError> {
        match event {
            Event::Normalized(article) => Ok(vec![self.dedupe(article, ctx)]),
            other => Err(unexpected_input(self, &other)),
        }
    }

    fn is_stateful(&self) -> bool {
        true
    }

    fn take_state_changes(&mut self) -> Vec<StateChange> {
        DedupStage::take_state_changes(self)
    }

    fn restore_state(&mut self, key: &str, value: Option<&[u8]>) -> Result<(), Rejection> {
        self.restore(key, value).map_err(Rejection::from)
    }
}

#[cfg(test)]
mod tests;
