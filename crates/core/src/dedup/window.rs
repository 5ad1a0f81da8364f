//! The retained window: every article seen within the window with its verdict, the signatures
//! of the unique ones and their LSH index, laid out to stay small (about 280 bytes per unique
//! article at a million, see the `dedup` benchmark).
//!
//! - Unique articles live in slots: a 32-byte entry plus `num_hashes` signature bytes.
//! - Copies live in their own slots without a signature: only their verdict is kept, to answer
//!   a replay with the same notice.
//! - Ids are packed end to end in one arena; lowercase hex ids (newsflow's own) are stored as
//!   the bytes they spell, half their length.
//! - The id index and the LSH band index are `hashbrown::HashTable`s of bare `u32`s: an id
//!   entry is a slot reference, a band entry is `slot * bands + band`. Their keys are never
//!   stored; they are recomputed from the arena or the signature when the table needs them.
//! - Expiry lists group slot references by event-time bucket (1/64 of the window), so the
//!   oldest bucket leaves at once. Lookups apply the window exactly; buckets only bound memory.

use std::collections::BTreeMap;

use hashbrown::HashTable;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::sketch::{band_hash, band_rows, similarity};
use crate::event::DuplicateKind;

/// A slot reference: a unique article's slot, or a copy's with this bit set.
pub(crate) type Ref = u32;
const COPY: u32 = 1 << 31;
const PACKED: u32 = 1 << 31;
const ID_SEED: u64 = 0x6964_7331_6e66_6c77;

/// An article id in its stored form, for hashing and comparing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IdKey {
    packed: bool,
    bytes: Vec<u8>,
}

impl IdKey {
    pub(crate) fn new(id: &str) -> Self {
        let text = id.as_bytes();
        let hex = text.len() >= 2
            && text.len() % 2 == 0
            && text.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
        match hex.then(|| hex::decode(text).ok()).flatten() {
            Some(bytes) => Self {
                packed: true,
                bytes,
            },
            None => Self {
                packed: false,
                bytes: text.to_vec(),
            },
        }
    }

    fn hash(&self) -> u64 {
        id_hash(self.packed, &self.bytes)
    }
}

fn id_hash(packed: bool, bytes: &[u8]) -> u64 {
    xxh3_64_with_seed(bytes, ID_SEED ^ u64::from(packed))
}

/// Where an id lies in the arena; the top bit of `len` marks a packed hex id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IdRef {
    start: u32,
    len: u32,
}

impl IdRef {
    const NONE: IdRef = IdRef { start: 0, len: 0 };

    fn packed(self) -> bool {
        self.len & PACKED != 0
    }

    fn range(self) -> std::ops::Range<usize> {
        let start = self.start as usize;
        start..start + (self.len & !PACKED) as usize
    }
}

/// Ids end to end. Released ids leave garbage that [`Window`] compacts away when it exceeds
/// the live bytes.
#[derive(Debug, Default)]
struct Ids {
    bytes: Vec<u8>,
    garbage: usize,
}

impl Ids {
    fn push(&mut self, packed: bool, bytes: &[u8]) -> Option<IdRef> {
        let start = u32::try_from(self.bytes.len()).ok()?;
        let len = u32::try_from(bytes.len())
            .ok()
            .filter(|len| len & PACKED == 0)?;
        start.checked_add(len)?;
        self.bytes.extend_from_slice(bytes);
        Some(IdRef {
            start,
            len: if packed { len | PACKED } else { len },
        })
    }

    fn get(&self, id: IdRef) -> &[u8] {
        &self.bytes[id.range()]
    }

    fn text(&self, id: IdRef) -> String {
        let bytes = self.get(id);
        if id.packed() {
            hex::encode(bytes)
        } else {
            String::from_utf8_lossy(bytes).into_owned()
        }
    }

    fn matches(&self, id: IdRef, key: &IdKey) -> bool {
        id.packed() == key.packed && self.get(id) == key.bytes.as_slice()
    }

    fn hash(&self, id: IdRef) -> u64 {
        id_hash(id.packed(), self.get(id))
    }
}

/// A unique article. `revision == 0` marks a free slot.
#[derive(Debug, Clone, Copy)]
struct UniqueEntry {
    content_hash: u64,
    event_time: i64,
    id: IdRef,
    revision: u32,
}

/// A copy's verdict. `revision == 0` marks a free slot.
#[derive(Debug, Clone, Copy)]
struct CopyEntry {
    content_hash: u64,
    event_time: i64,
    id: IdRef,
    duplicate_of: IdRef,
    revision: u32,
    /// Similarity × 10 000.
    similarity: u16,
    kind: DuplicateKind,
}

const FREE: UniqueEntry = UniqueEntry {
    content_hash: 0,
    event_time: 0,
    id: IdRef::NONE,
    revision: 0,
};

/// A retained article, as the stage needs to see it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Retained<'a> {
    pub content_hash: u64,
    pub event_time: i64,
    pub revision: u32,
    pub verdict: Verdict<'a>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Verdict<'a> {
    Unique {
        signature: &'a [u8],
    },
    Copy {
        duplicate_of: String,
        kind: DuplicateKind,
        /// Rounded to four decimals, as published.
        similarity: f64,
    },
}

/// The best retained unique article for a signature.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Match {
    pub slot: u32,
    pub similarity: f64,
    pub exact: bool,
}

#[derive(Debug)]
pub(crate) struct Window {
    num_hashes: usize,
    bands: usize,
    rows: usize,
    bucket_secs: i64,
    ids: Ids,
    uniques: Vec<UniqueEntry>,
    signatures: Vec<u8>,
    free_uniques: Vec<u32>,
    copies: Vec<CopyEntry>,
    free_copies: Vec<u32>,
    by_id: HashTable<Ref>,
    bands_index: HashTable<u32>,
    expiry: BTreeMap<i64, Vec<Ref>>,
    live: usize,
    candidates: Vec<u32>,
}

/// The most unique slots the band index can address (`slot * bands + band` in a `u32`).
fn max_slots(bands: usize) -> usize {
    (u32::MAX as usize / bands).min(COPY as usize)
}

impl Window {
    pub(crate) fn new(num_hashes: usize, bands: usize, rows: usize, window_secs: i64) -> Self {
        Self {
            num_hashes,
            bands,
            rows,
            bucket_secs: (window_secs / 64).max(1),
            ids: Ids::default(),
            uniques: Vec::new(),
            signatures: Vec::new(),
            free_uniques: Vec::new(),
            copies: Vec::new(),
            free_copies: Vec::new(),
            by_id: HashTable::new(),
            bands_index: HashTable::new(),
            expiry: BTreeMap::new(),
            live: 0,
            candidates: Vec::new(),
        }
    }

    /// Articles retained (unique and copies), expired ones not yet dropped included.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// The bytes the window holds on the heap (capacities, not lengths).
    pub(crate) fn memory_bytes(&self) -> usize {
        use std::mem::size_of;
        let expiry: usize = self
            .expiry
            .values()
            .map(|refs| refs.capacity() * size_of::<Ref>() + 48)
            .sum();
        size_of::<Self>()
            + self.ids.bytes.capacity()
            + self.uniques.capacity() * size_of::<UniqueEntry>()
            + self.signatures.capacity()
            + self.free_uniques.capacity() * 4
            + self.copies.capacity() * size_of::<CopyEntry>()
            + self.free_copies.capacity() * 4
            + self.by_id.allocation_size()
            + self.bands_index.allocation_size()
            + self.candidates.capacity() * 4
            + expiry
    }

    pub(crate) fn find(&self, key: &IdKey) -> Option<Ref> {
        let (ids, uniques, copies) = (&self.ids, &self.uniques, &self.copies);
        self.by_id
            .find(key.hash(), |&r| ids.matches(id_of(uniques, copies, r), key))
            .copied()
    }

    pub(crate) fn get(&self, r: Ref) -> Retained<'_> {
        if r & COPY == 0 {
            let entry = &self.uniques[r as usize];
            Retained {
                content_hash: entry.content_hash,
                event_time: entry.event_time,
                revision: entry.revision,
                verdict: Verdict::Unique {
                    signature: self.signature(r),
                },
            }
        } else {
            let entry = &self.copies[(r & !COPY) as usize];
            Retained {
                content_hash: entry.content_hash,
                event_time: entry.event_time,
                revision: entry.revision,
                verdict: Verdict::Copy {
                    duplicate_of: self.ids.text(entry.duplicate_of),
                    kind: entry.kind,
                    similarity: f64::from(entry.similarity) / 10_000.0,
                },
            }
        }
    }

    /// The id of a unique article.
    pub(crate) fn unique_id(&self, slot: u32) -> String {
        self.ids.text(self.uniques[slot as usize].id)
    }

    fn signature(&self, slot: u32) -> &[u8] {
        let start = slot as usize * self.num_hashes;
        &self.signatures[start..start + self.num_hashes]
    }

    /// The retained unique article most similar to `signature`: an exact copy (same content
    /// hash) first, else the highest estimated similarity of at least `threshold`, ties to
    /// the earliest event time, then the smallest id. Articles older than `cutoff` are gone.
    pub(crate) fn best_match(
        &mut self,
        signature: &[u8],
        content_hash: u64,
        cutoff: i64,
        threshold: f64,
    ) -> Option<Match> {
        let mut candidates = std::mem::take(&mut self.candidates);
        candidates.clear();
        for band in 0..self.bands {
            let rows = band_rows(signature, band, self.rows);
            let hash = band_hash(signature, band, self.rows);
            for &entry in self.bands_index.iter_hash(hash) {
                let slot = entry / self.bands as u32;
                if entry as usize % self.bands == band
                    && band_rows(self.signature(slot), band, self.rows) == rows
                {
                    candidates.push(slot);
                }
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        let mut best: Option<(Match, i64, IdRef)> = None;
        for &slot in &candidates {
            let entry = self.uniques[slot as usize];
            if entry.event_time < cutoff {
                continue;
            }
            let exact = entry.content_hash == content_hash;
            let similarity = if exact {
                1.0
            } else {
                similarity(self.signature(slot), signature)
            };
            if !exact && similarity < threshold {
                continue;
            }
            let candidate = Match {
                slot,
                similarity,
                exact,
            };
            let better = match &best {
                None => true,
                Some((current, time, id)) => {
                    (candidate.exact, candidate.similarity)
                        .partial_cmp(&(current.exact, current.similarity))
                        .map(|order| {
                            order
                                .then_with(|| time.cmp(&entry.event_time))
                                .then_with(|| self.ids.get(*id).cmp(self.ids.get(entry.id)))
                        })
                        == Some(std::cmp::Ordering::Greater)
                }
            };
            if better {
                best = Some((candidate, entry.event_time, entry.id));
            }
        }
        self.candidates = candidates;
        best.map(|(found, _, _)| found)
    }

    /// Retains a unique article; `None` when the window is full to its addressing limit.
    pub(crate) fn insert_unique(
        &mut self,
        key: &IdKey,
        content_hash: u64,
        event_time: i64,
        revision: u32,
        signature: &[u8],
    ) -> Option<Ref> {
        let slot = match self.free_uniques.pop() {
            Some(slot) => slot,
            None if self.uniques.len() < max_slots(self.bands) => {
                self.uniques.push(FREE);
                self.signatures
                    .resize(self.uniques.len() * self.num_hashes, 0);
                (self.uniques.len() - 1) as u32
            }
            None => return None,
        };
        let Some(id) = self.ids.push(key.packed, &key.bytes) else {
            self.free_uniques.push(slot);
            return None;
        };
        self.uniques[slot as usize] = UniqueEntry {
            content_hash,
            event_time,
            id,
            revision: revision.max(1),
        };
        let start = slot as usize * self.num_hashes;
        self.signatures[start..start + self.num_hashes].copy_from_slice(signature);
        let (bands, rows, num_hashes) = (self.bands, self.rows, self.num_hashes);
        let signatures = &self.signatures;
        for band in 0..bands {
            let hash = band_hash(signature, band, rows);
            self.bands_index
                .insert_unique(hash, slot * bands as u32 + band as u32, |&entry| {
                    let slot = (entry / bands as u32) as usize;
                    let signature = &signatures[slot * num_hashes..(slot + 1) * num_hashes];
                    band_hash(signature, entry as usize % bands, rows)
                });
        }
        self.file(slot, event_time, key);
        Some(slot)
    }

    /// Retains a copy's verdict; `None` when the window is full to its addressing limit.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn insert_copy(
        &mut self,
        key: &IdKey,
        content_hash: u64,
        event_time: i64,
        revision: u32,
        duplicate_of: &str,
        kind: DuplicateKind,
        similarity: f64,
    ) -> Option<Ref> {
        let index = match self.free_copies.pop() {
            Some(index) => index,
            None if self.copies.len() < COPY as usize => {
                self.copies.push(CopyEntry {
                    content_hash: 0,
                    event_time: 0,
                    id: IdRef::NONE,
                    duplicate_of: IdRef::NONE,
                    revision: 0,
                    similarity: 0,
                    kind,
                });
                (self.copies.len() - 1) as u32
            }
            None => return None,
        };
        let of = IdKey::new(duplicate_of);
        let ids = self
            .ids
            .push(key.packed, &key.bytes)
            .zip(self.ids.push(of.packed, &of.bytes));
        let Some((id, of)) = ids else {
            self.free_copies.push(index);
            return None;
        };
        self.copies[index as usize] = CopyEntry {
            content_hash,
            event_time,
            id,
            duplicate_of: of,
            revision: revision.max(1),
            similarity: (similarity.clamp(0.0, 1.0) * 10_000.0).round() as u16,
            kind,
        };
        let r = index | COPY;
        self.file(r, event_time, key);
        Some(r)
    }

    /// Adds a new entry to the id index and its expiry bucket.
    fn file(&mut self, r: Ref, event_time: i64, key: &IdKey) {
        let (ids, uniques, copies) = (&self.ids, &self.uniques, &self.copies);
        self.by_id
            .insert_unique(key.hash(), r, |&r| ids.hash(id_of(uniques, copies, r)));
        self.expiry
            .entry(event_time.div_euclid(self.bucket_secs))
            .or_default()
            .push(r);
        self.live += 1;
    }

    /// Forgets an entry.
    pub(crate) fn remove(&mut self, r: Ref) {
        let (ids, uniques, copies) = (&self.ids, &self.uniques, &self.copies);
        let id = id_of(uniques, copies, r);
        if let Ok(found) = self.by_id.find_entry(ids.hash(id), |&other| other == r) {
            found.remove();
        }
        if r & COPY == 0 {
            let slot = r;
            let entry = self.uniques[slot as usize];
            for band in 0..self.bands {
                let hash = band_hash(self.signature(slot), band, self.rows);
                let wanted = slot * self.bands as u32 + band as u32;
                if let Ok(found) = self.bands_index.find_entry(hash, |&e| e == wanted) {
                    found.remove();
                }
            }
            self.ids.garbage += entry.id.range().len();
            self.uniques[slot as usize] = FREE;
            self.free_uniques.push(slot);
        } else {
            let index = (r & !COPY) as usize;
            let entry = self.copies[index];
            self.ids.garbage += entry.id.range().len() + entry.duplicate_of.range().len();
            self.copies[index].revision = 0;
            self.free_copies.push(index as u32);
        }
        self.live -= 1;
        self.compact_ids_if_needed();
    }

    /// Drops every entry of the event-time buckets that lie wholly before `cutoff` and returns
    /// their ids (for tombstones).
    pub(crate) fn expire(&mut self, cutoff: i64) -> Vec<String> {
        let mut gone = Vec::new();
        while let Some(entry) = self.expiry.first_entry() {
            let bucket = *entry.key();
            if (bucket + 1).saturating_mul(self.bucket_secs) > cutoff {
                break;
            }
            for r in entry.remove() {
                let (revision, event_time, id) = if r & COPY == 0 {
                    let entry = &self.uniques[r as usize];
                    (entry.revision, entry.event_time, entry.id)
                } else {
                    let entry = &self.copies[(r & !COPY) as usize];
                    (entry.revision, entry.event_time, entry.id)
                };
                // A slot freed (and maybe reused) since it was filed here is someone else's.
                if revision == 0 || event_time.div_euclid(self.bucket_secs) != bucket {
                    continue;
                }
                gone.push(self.ids.text(id));
                self.remove(r);
            }
        }
        gone
    }

    /// Rewrites the id arena without its garbage once the garbage outweighs the live ids.
    fn compact_ids_if_needed(&mut self) {
        if self.ids.garbage < 1 << 16 || self.ids.garbage * 2 < self.ids.bytes.len() {
            return;
        }
        let old = std::mem::take(&mut self.ids);
        let mut moved = |id: &mut IdRef| {
            let range = id.range();
            let start = self.ids.bytes.len() as u32;
            self.ids.bytes.extend_from_slice(&old.bytes[range]);
            id.start = start;
        };
        for entry in self.uniques.iter_mut().filter(|e| e.revision != 0) {
            moved(&mut entry.id);
        }
        for entry in self.copies.iter_mut().filter(|e| e.revision != 0) {
            moved(&mut entry.id);
            moved(&mut entry.duplicate_of);
        }
        self.ids.bytes.shrink_to_fit();
    }
}

fn id_of(uniques: &[UniqueEntry], copies: &[CopyEntry], r: Ref) -> IdRef {
    if r & COPY == 0 {
        uniques[r as usize].id
    } else {
        copies[(r & !COPY) as usize].id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_ids_are_packed_and_others_kept() {
        let hex = IdKey::new("0a1b2c3d");
        assert!(hex.packed);
        assert_eq!(hex.bytes, [0x0a, 0x1b, 0x2c, 0x3d]);
        assert!(!IdKey::new("0A1B").packed);
        assert!(!IdKey::new("abc").packed);
        assert!(!IdKey::new("business/001.txt").packed);
        assert_ne!(IdKey::new("abcd"), IdKey::new("\u{ab}\u{cd}"));
    }

    fn signature(seed: u8) -> Vec<u8> {
        (0..32u8)
            .map(|i| i.wrapping_mul(seed).wrapping_add(seed))
            .collect()
    }

    #[test]
    fn entries_are_found_replaced_and_expired() {
        let mut window = Window::new(32, 4, 3, 64 * 10);
        let a = IdKey::new("aa");
        let slot = window.insert_unique(&a, 1, 100, 1, &signature(3)).unwrap();
        let copy = IdKey::new("copy-1");
        let r = window
            .insert_copy(&copy, 2, 205, 1, "aa", DuplicateKind::Near, 0.81234)
            .unwrap();
        assert_eq!(window.find(&a), Some(slot));
        assert_eq!(window.unique_id(slot), "aa");
        assert_eq!(
            window.get(r).verdict,
            Verdict::Copy {
                duplicate_of: "aa".into(),
                kind: DuplicateKind::Near,
                similarity: 0.8123
            }
        );
        let found = window.best_match(&signature(3), 9, 0, 0.9).unwrap();
        assert_eq!((found.slot, found.exact), (slot, false));
        assert!(window.best_match(&signature(3), 1, 0, 0.9).unwrap().exact);
        // Past the cutoff the article no longer matches, even before its bucket is dropped.
        assert_eq!(window.best_match(&signature(3), 1, 101, 0.9), None);
        assert_eq!(window.best_match(&signature(5), 9, 0, 0.9), None);
        assert_eq!(window.expire(109), Vec::<String>::new());
        assert_eq!(window.expire(110), vec!["aa".to_owned()]);
        assert_eq!(window.find(&a), None);
        assert_eq!(window.best_match(&signature(3), 1, 0, 0.9), None);
        assert_eq!(window.len(), 1);
        // The freed slot is reused.
        let b = IdKey::new("bb");
        assert_eq!(
            window.insert_unique(&b, 3, 300, 1, &signature(7)),
            Some(slot)
        );
        assert_eq!(
            window.expire(1000),
            vec!["copy-1".to_owned(), "bb".to_owned()]
        );
        assert_eq!(window.len(), 0);
    }

    #[test]
    fn the_id_arena_is_compacted() {
        let mut window = Window::new(32, 4, 3, 64);
        let long = "x".repeat(5000);
        for round in 0..40u32 {
            let key = IdKey::new(&format!("{long}{round}"));
            let r = window
                .insert_unique(&key, 1, 1, 1, &signature(round as u8))
                .unwrap();
            window.remove(r);
        }
        let kept = IdKey::new("kept");
        let r = window.insert_unique(&kept, 1, 1, 1, &signature(1)).unwrap();
        assert!(window.ids.bytes.len() < 40 * 5000);
        assert_eq!(window.find(&kept), Some(r));
        assert_eq!(window.unique_id(r), "kept");
    }
}
