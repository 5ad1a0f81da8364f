//! The story stage on a Kafka runner: its [`Stage`] implementation (enriched articles and
//! duplicate notices in, [`StoryRecord`]s out) and its state topic (`newsflow.story-state.v1`).
//!
//! # State records
//!
//! Every input's changes are [`StateChange`]s, published by the runner with the input's story
//! records (in the same transaction under exactly-once). Keys and JSON values, version 1:
//!
//! ```text
//! story/<story id>   one open story, whole: {"v":1,"id":…,"rev":3,"serial":…,"seq":…,
//!                    "first_seen":…, "centroid":"<base64url>", …}; null when it expired or
//!                    was merged into another
//! df/<term, 8 hex>   how many documents of the stream held the term: 17
//! docs               how many documents the stream had: 5100
//! clock              the newest event time seen: "2022-02-24T05:00:00Z"
//! held/<notice id>   a duplicate notice waiting for its original: {"notice":{…},"since":…};
//!                    null once counted or dropped
//! ```
//!
//! Vectors are packed as unpadded URL-safe base64 of little-endian (u32 term, f32 weight)
//! pairs, shingles of u32 and members of u64 hashes likewise: a one-article story of the
//! default settings takes about 1.6 kB, a larger one more (fuller centroids and tallies).
//!
//! A story record carries the whole story, so the latest per key is all a restore needs, and
//! `rev` (one more per record of the story) makes applying a record again, or an older one,
//! change nothing. Counts only grow, so the larger of a held and a read count is kept. After
//! the start-up restore the stories are indexed again in the order they were last indexed
//! (`seq`), so the capped posting lists, and with them the candidates of the next article,
//! come out as they were.
//!
//! Several instances share the topic: each applies the others' records as it follows the
//! topic. The limit, like the deduplicator's: an article read by one instance a moment after
//! another instance's change of the same story (before that change came back through the
//! topic) does not see it, and two such changes of one story keep the later one; counts of
//! terms learned at the same moment on two instances keep the larger.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::tally::{EntityTally, Tally};
use super::terms::{HashKeyed, Term, Vector};
use super::{Change, Held, Representative, Story, StoryRecord, StoryStage, id_hash};
use crate::dedup::DUPLICATES;
use crate::error::{ErrorKind, Rejection, StageError};
use crate::event::{DuplicateNotice, Event, EventKind};
use crate::stage::{Emit, INPUT, PRIMARY, Port, Route, Stage, StageContext, StateChange};
use crate::topics;

/// The version of the state records.
const VERSION: u32 = 1;

/// A state record the stage cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("unknown state key {0:?}")]
    UnknownKey(String),
    #[error("state record {key:?}: {message}")]
    Invalid { key: String, message: String },
    #[error("state record {key:?} has version {found}; this stage reads version {VERSION}")]
    Version { key: String, found: u32 },
}

impl From<StateError> for Rejection {
    fn from(err: StateError) -> Self {
        Rejection::new(ErrorKind::MalformedJson, err.to_string())
    }
}

/// What changed since the changes were last taken, and what a follower must skip.
#[derive(Debug, Default)]
pub(super) struct Tracker {
    /// Off until the stage runs as a [`Stage`] (`newsflow run` keeps no state topic).
    on: bool,
    terms: Vec<Term>,
    clock: bool,
    held: Vec<StateChange>,
    /// Stories this instance removed whose tombstone has not come back through the topic yet:
    /// their earlier records, read after the removal, must not bring them back.
    gone: HashKeyed<u64, ()>,
    /// Set once the start-up restore is complete: from then on a restored story is indexed
    /// at once.
    restored: bool,
    /// The changes of the last input.
    pending: Vec<StateChange>,
}

impl Tracker {
    pub(super) fn terms(&mut self, terms: impl Iterator<Item = Term>) {
        if self.on {
            self.terms.extend(terms);
        }
    }

    pub(super) fn clock(&mut self) {
        self.clock = self.on;
    }

    pub(super) fn held(&mut self, held: &Held) {
        if self.on {
            let record = HeldRecord {
                notice: held.notice.clone(),
                since: held.since,
            };
            self.held.push(StateChange {
                key: format!("held/{}", held.notice.id),
                value: serde_json::to_vec(&record).ok(),
            });
        }
    }

    pub(super) fn held_gone(&mut self, notice_id: &str) {
        if self.on {
            self.held.push(StateChange {
                key: format!("held/{notice_id}"),
                value: None,
            });
        }
    }

    pub(super) fn story_gone(&mut self, hash: u64) {
        if self.on {
            self.gone.insert(hash, ());
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct HeldRecord {
    notice: DuplicateNotice,
    since: DateTime<Utc>,
}

/// One story, whole.
#[derive(Debug, Serialize, Deserialize)]
struct Snapshot {
    v: u32,
    id: String,
    rev: u64,
    serial: u64,
    seq: u64,
    first_seen: DateTime<Utc>,
    last_updated: DateTime<Utc>,
    last_stated: Option<DateTime<Utc>>,
    #[serde(with = "packed")]
    centroid: Vector,
    #[serde(with = "packed")]
    head: Vector,
    #[serde(with = "packed")]
    names: Vector,
    #[serde(with = "packed")]
    numbers: Vector,
    #[serde(with = "packed")]
    shingles: Vec<u32>,
    representative_id: String,
    title: Option<String>,
    lede: Option<String>,
    #[serde(with = "packed")]
    representative: Vector,
    article_count: u64,
    outlets: Tally,
    recent: Vec<(DateTime<Utc>, String)>,
    #[serde(with = "packed")]
    members: Vec<u64>,
    entities: EntityTally,
    topics: Tally,
    places: Tally,
}

/// Fixed-size values packed little-endian in base64.
trait Pack: Sized {
    const SIZE: usize;
    fn put(&self, out: &mut Vec<u8>);
    fn get(bytes: &[u8]) -> Self;
}

impl Pack for u32 {
    const SIZE: usize = 4;
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn get(bytes: &[u8]) -> Self {
        let mut b = [0u8; 4];
        b.copy_from_slice(&bytes[..4]);
        u32::from_le_bytes(b)
    }
}

impl Pack for u64 {
    const SIZE: usize = 8;
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn get(bytes: &[u8]) -> Self {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[..8]);
        u64::from_le_bytes(b)
    }
}

impl Pack for (Term, f32) {
    const SIZE: usize = 8;
    fn put(&self, out: &mut Vec<u8>) {
        self.0.put(out);
        self.1.to_bits().put(out);
    }
    fn get(bytes: &[u8]) -> Self {
        (u32::get(bytes), f32::from_bits(u32::get(&bytes[4..])))
    }
}

mod packed {
    use super::{Pack, URL_SAFE_NO_PAD};
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<T: Pack, S: Serializer>(values: &[T], s: S) -> Result<S::Ok, S::Error> {
        let mut bytes = Vec::with_capacity(values.len() * T::SIZE);
        for value in values {
            value.put(&mut bytes);
        }
        s.serialize_str(&URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn deserialize<'de, T: Pack, D: Deserializer<'de>>(d: D) -> Result<Vec<T>, D::Error> {
        let text = <&str>::deserialize(d)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(serde::de::Error::custom)?;
        if bytes.len() % T::SIZE != 0 {
            return Err(serde::de::Error::custom(
                "packed values of the wrong length",
            ));
        }
        Ok(bytes.chunks_exact(T::SIZE).map(T::get).collect())
    }
}

fn invalid(key: &str, message: impl std::fmt::Display) -> StateError {
    StateError::Invalid {
        key: key.to_owned(),
        message: message.to_string(),
    }
}

impl StoryStage {
    /// The state changes of the records an input made: each story they name, whole (or a
    /// tombstone when it expired or was merged away), the counts of the terms the input's
    /// articles held, the clock, and the held notices that came or went.
    fn collect_changes(&mut self, records: &[StoryRecord]) {
        let mut out: Vec<StateChange> = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        // The last record of a story says where it ended up.
        for record in records.iter().rev() {
            let id = record.story.id.as_str();
            if seen.contains(&id) {
                continue;
            }
            seen.push(id);
            let ended = record.change == Change::Expired || record.story.merged_into.is_some();
            let value = if ended { None } else { self.snapshot(id) };
            out.push(StateChange {
                key: format!("story/{id}"),
                value,
            });
        }
        out.reverse();
        out.append(&mut self.tracker.held);
        let mut terms = std::mem::take(&mut self.tracker.terms);
        if !terms.is_empty() {
            terms.sort_unstable();
            terms.dedup();
            for term in terms {
                let count = self.frequencies.stream_count(term);
                out.push(StateChange {
                    key: format!("df/{term:08x}"),
                    value: Some(count.to_string().into_bytes()),
                });
            }
            out.push(StateChange {
                key: "docs".to_owned(),
                value: Some(self.frequencies.documents().to_string().into_bytes()),
            });
        }
        if std::mem::take(&mut self.tracker.clock) {
            if let Some(watermark) = self.watermark {
                out.push(StateChange {
                    key: "clock".to_owned(),
                    value: serde_json::to_vec(&watermark).ok(),
                });
            }
        }
        self.tracker.pending = out;
    }

    /// The story's state record, its `rev` one higher than the last.
    fn snapshot(&mut self, id: &str) -> Option<Vec<u8>> {
        let slot = *self.story_ids.get(&id_hash(id))?;
        let story = self.slots.get_mut(slot as usize)?.as_mut()?;
        story.rev += 1;
        let story = &*story;
        let snapshot = Snapshot {
            v: VERSION,
            id: story.id.clone(),
            rev: story.rev,
            serial: story.serial,
            seq: story.seq,
            first_seen: story.first_seen,
            last_updated: story.last_updated,
            last_stated: story.last_stated,
            centroid: story.centroid.clone(),
            head: story.head.clone(),
            names: story.names.clone(),
            numbers: story.numbers.clone(),
            shingles: story.shingles.clone(),
            representative_id: story.representative.id.clone(),
            title: story.representative.title.clone(),
            lede: story.representative.lede.clone(),
            representative: story.representative.vector.clone(),
            article_count: story.article_count,
            outlets: story.outlets.clone(),
            recent: story.recent.iter().cloned().collect(),
            members: story.members.clone(),
            entities: story.entities.clone(),
            topics: story.topics.clone(),
            places: story.places.clone(),
        };
        serde_json::to_vec(&snapshot).ok()
    }

    /// Applies one record of the state topic (`None`: a tombstone). Idempotent: a record read
    /// again, or one older than what the stage holds, changes nothing.
    pub fn restore(&mut self, key: &str, value: Option<&[u8]>) -> Result<(), StateError> {
        let number = |bytes: &[u8]| -> Result<u64, StateError> {
            let text = std::str::from_utf8(bytes).map_err(|e| invalid(key, e))?;
            text.trim().parse().map_err(|e| invalid(key, e))
        };
        match (key.split_once('/'), value) {
            (Some(("story", id)), None) => {
                let hash = id_hash(id);
                if let Some(&slot) = self.story_ids.get(&hash) {
                    self.remove(slot);
                }
                // Nothing older of it can follow its tombstone.
                self.tracker.gone.remove(&hash);
            }
            (Some(("story", _)), Some(bytes)) => {
                let snapshot: Snapshot =
                    serde_json::from_slice(bytes).map_err(|e| invalid(key, e))?;
                if snapshot.v != VERSION {
                    return Err(StateError::Version {
                        key: key.to_owned(),
                        found: snapshot.v,
                    });
                }
                self.put(snapshot);
            }
            (Some(("held", id)), None) => {
                self.held.retain(|_, held| {
                    held.retain(|h| h.notice.id != id);
                    !held.is_empty()
                });
            }
            (Some(("held", _)), Some(bytes)) => {
                let record: HeldRecord =
                    serde_json::from_slice(bytes).map_err(|e| invalid(key, e))?;
                // Counted since (its own record read back late): not waiting any more.
                if self.article_story.contains_key(&id_hash(&record.notice.id)) {
                    return Ok(());
                }
                let original = id_hash(&record.notice.duplicate_of);
                let held = self.held.entry(original).or_default();
                if !held.iter().any(|h| h.notice.id == record.notice.id) {
                    held.push(Held {
                        notice: record.notice,
                        since: record.since,
                    });
                    self.held_order.push_back((record.since, original));
                }
            }
            (Some(("df", term)), Some(bytes)) => {
                let term = Term::from_str_radix(term, 16).map_err(|e| invalid(key, e))?;
                let count = u32::try_from(number(bytes)?).map_err(|e| invalid(key, e))?;
                self.frequencies.restore_count(term, count);
            }
            (None, Some(bytes)) if key == "docs" => {
                self.frequencies.restore_documents(number(bytes)?);
            }
            (None, Some(bytes)) if key == "clock" => {
                let clock: DateTime<Utc> =
                    serde_json::from_slice(bytes).map_err(|e| invalid(key, e))?;
                self.watermark = self.watermark.max(Some(clock));
            }
            // Counts and the clock are never deleted; a tombstone of one is ignored.
            (Some(("df", _)), None) => {}
            (None, None) if key == "docs" || key == "clock" => {}
            _ => return Err(StateError::UnknownKey(key.to_owned())),
        }
        Ok(())
    }

    /// Puts a restored story in place of the one with its id, unless that one is as new.
    fn put(&mut self, snapshot: Snapshot) {
        let hash = id_hash(&snapshot.id);
        if self.tracker.gone.contains_key(&hash) {
            return;
        }
        if let Some(&slot) = self.story_ids.get(&hash) {
            if self.story(slot).is_some_and(|s| s.rev >= snapshot.rev) {
                return;
            }
            self.remove(slot);
            self.tracker.gone.remove(&hash);
        }
        self.next_serial = self.next_serial.max(snapshot.serial + 1);
        let story = Story {
            id: snapshot.id,
            serial: snapshot.serial,
            rev: snapshot.rev,
            seq: snapshot.seq,
            first_seen: snapshot.first_seen,
            last_updated: snapshot.last_updated,
            last_stated: snapshot.last_stated,
            centroid_norm: super::terms::norm(&snapshot.centroid),
            centroid: snapshot.centroid,
            head: snapshot.head,
            names: snapshot.names,
            numbers: snapshot.numbers,
            shingles: snapshot.shingles,
            indexed: Vec::new(),
            representative: Representative {
                id: snapshot.representative_id,
                title: snapshot.title,
                lede: snapshot.lede,
                vector: snapshot.representative,
            },
            article_count: snapshot.article_count,
            outlets: snapshot.outlets,
            recent: snapshot.recent.into_iter().collect(),
            members: snapshot.members,
            entities: snapshot.entities,
            topics: snapshot.topics,
            places: snapshot.places,
        };
        let members = story.members.clone();
        let slot = self.place(story);
        for member in members {
            self.article_story.insert(member, slot);
        }
        if self.tracker.restored {
            self.reindex(slot);
            self.schedule(slot);
        }
    }

    /// Ends the start-up restore: the stories are indexed in the order they were last indexed,
    /// their expiry scheduled, the held notices queued by age.
    pub fn finish_restore(&mut self) {
        let mut order: Vec<(u64, u32)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(slot, story)| story.as_ref().map(|s| (s.seq, slot as u32)))
            .collect();
        order.sort_unstable();
        for (seq, slot) in order {
            self.reindex(slot);
            self.schedule(slot);
            // As it was, so the next records say what the original's would.
            if let Some(story) = self.story_mut(slot) {
                story.seq = seq;
            }
            self.next_seq = self.next_seq.max(seq + 1);
        }
        let mut queue: Vec<(DateTime<Utc>, u64)> = self
            .held
            .iter()
            .flat_map(|(original, held)| held.iter().map(|h| (h.since, *original)))
            .collect();
        queue.sort_unstable();
        self.held_order = queue.into();
        self.tracker.restored = true;
    }
}

impl Stage for StoryStage {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn inputs(&self) -> &'static [Port] {
        const {
            &[
                Port::new(INPUT, EventKind::Enriched, topics::ENRICHED),
                Port::new(DUPLICATES, EventKind::DuplicateNotice, topics::DUPLICATES),
            ]
        }
    }

    fn outputs(&self) -> &'static [Port] {
        const { &[Port::new(PRIMARY, EventKind::Story, topics::STORIES)] }
    }

    fn process(&mut self, event: Event, ctx: &StageContext) -> Result<Vec<Emit>, StageError> {
        self.tracker.on = true;
        let records = StoryStage::process(self, &event, ctx)?;
        self.collect_changes(&records);
        Ok(records
            .into_iter()
            .map(|record| Emit::new(Route::PRIMARY, Event::Story(record)))
            .collect())
    }

    fn is_stateful(&self) -> bool {
        true
    }

    fn take_state_changes(&mut self) -> Vec<StateChange> {
        std::mem::take(&mut self.tracker.pending)
    }

    fn restore_state(&mut self, key: &str, value: Option<&[u8]>) -> Result<(), Rejection> {
        self.tracker.on = true;
        self.restore(key, value).map_err(Rejection::from)
    }

    fn state_restored(&mut self) {
        self.finish_restore();
    }
}
