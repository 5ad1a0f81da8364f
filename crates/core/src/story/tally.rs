//! Bounded counts of names (outlets, topics, places, entities) per story.

use super::record::{Count, EntityCount};

/// Counts per name. When it grows past its bound, the rarest names are forgotten, so a story
/// with thousands of outlets stays small; the distinct count is kept exactly.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Tally {
    counts: Vec<(String, u64)>,
    distinct: u64,
}

impl Tally {
    pub fn add(&mut self, name: &str, n: u64, max: usize) {
        match self.counts.iter_mut().find(|(k, _)| k == name) {
            Some((_, count)) => *count += n,
            None => {
                self.counts.push((name.to_owned(), n));
                self.distinct += 1;
                if self.counts.len() > max {
                    self.counts.sort_by_key(|entry| std::cmp::Reverse(entry.1));
                    self.counts.truncate(max);
                }
            }
        }
    }

    pub fn merge(&mut self, other: &Tally, max: usize) {
        let before = self.distinct;
        for (name, count) in &other.counts {
            self.add(name, *count, max);
        }
        // Names the other forgot were distinct there and may be here too: a lower bound.
        self.distinct = self
            .distinct
            .max(before + other.distinct - other.counts.len() as u64);
    }

    pub fn contains(&self, name: &str) -> bool {
        self.counts.iter().any(|(k, _)| k == name)
    }

    /// The names kept.
    pub fn names(&self) -> Vec<String> {
        self.counts.iter().map(|(k, _)| k.clone()).collect()
    }

    pub fn count(&self, name: &str) -> Option<u64> {
        self.counts.iter().find(|(k, _)| k == name).map(|(_, n)| *n)
    }

    pub fn len(&self) -> usize {
        self.counts.len()
    }

    pub fn heap_bytes(&self) -> usize {
        self.counts.capacity() * std::mem::size_of::<(String, u64)>()
            + self.counts.iter().map(|(k, _)| k.capacity()).sum::<usize>()
    }

    pub fn distinct(&self) -> u64 {
        self.distinct
    }

    /// The `n` most counted, ties by name.
    pub fn top(&self, n: usize) -> Vec<Count> {
        let mut counts = self.counts.clone();
        counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        counts
            .into_iter()
            .take(n)
            .map(|(name, count)| Count { name, count })
            .collect()
    }
}

/// The key an entity is counted under: its Wikidata id, else its name.
pub fn entity_key(id: Option<&str>, name: &str) -> String {
    match id {
        Some(id) => id.to_owned(),
        None => format!("name:{}", name.to_lowercase()),
    }
}

/// Entities by key, with the name shown.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct EntityTally {
    counts: Tally,
    names: Vec<(String, Option<String>, String)>,
}

impl EntityTally {
    pub fn add(&mut self, id: Option<&str>, name: &str, mentions: u64, max: usize) {
        let key = entity_key(id, name);
        self.counts.add(&key, mentions, max);
        if !self.names.iter().any(|(k, _, _)| *k == key) {
            self.names
                .push((key, id.map(str::to_owned), name.to_owned()));
        }
        if self.names.len() > max * 2 {
            let counts = &self.counts;
            self.names.retain(|(k, _, _)| counts.contains(k));
        }
    }

    pub fn merge(&mut self, other: &EntityTally, max: usize) {
        for (key, id, name) in &other.names {
            if let Some(count) = other.counts.count(key) {
                self.add(id.as_deref(), name, count, max);
            }
        }
    }

    pub fn contains(&self, key: &str) -> bool {
        self.counts.contains(key)
    }

    /// The keys kept.
    pub fn keys(&self) -> Vec<String> {
        self.counts.names()
    }

    pub fn len(&self) -> usize {
        self.counts.len()
    }

    pub fn heap_bytes(&self) -> usize {
        self.counts.heap_bytes()
            + self.names.capacity() * std::mem::size_of::<(String, Option<String>, String)>()
            + self
                .names
                .iter()
                .map(|(k, id, name)| {
                    k.capacity() + id.as_ref().map_or(0, String::capacity) + name.capacity()
                })
                .sum::<usize>()
    }

    pub fn top(&self, n: usize) -> Vec<EntityCount> {
        self.counts
            .top(n)
            .into_iter()
            .filter_map(|Count { name: key, count }| {
                let (_, id, name) = self.names.iter().find(|(k, _, _)| *k == key)?;
                Some(EntityCount {
                    id: id.clone(),
                    name: name.clone(),
                    count,
                })
            })
            .collect()
    }
}

/// Shared over the smaller side's count, 0 when either side has none.
pub fn overlap(keys: &[String], other_len: usize, contains: impl Fn(&str) -> bool) -> f64 {
    let smaller = keys.len().min(other_len);
    if smaller == 0 {
        return 0.0;
    }
    let shared = keys.iter().filter(|k| contains(k)).count();
    (shared as f64 / smaller as f64).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tally_forgets_the_rarest_but_counts_every_distinct_name() {
        let mut tally = Tally::default();
        for (name, n) in [("bbc", 5), ("upi", 3), ("a", 1), ("b", 1)] {
            tally.add(name, n, 3);
        }
        assert_eq!(tally.distinct(), 4);
        assert_eq!(tally.len(), 3);
        assert_eq!(
            tally.top(1),
            vec![Count {
                name: "bbc".into(),
                count: 5
            }]
        );
    }

    #[test]
    fn overlap_is_over_the_smaller_side() {
        let story = ["q1", "q2", "q3", "q4"];
        let keys = ["q1".to_owned(), "q9".to_owned()];
        let value = overlap(&keys, 4, |k| story.contains(&k));
        assert!((value - 0.5).abs() < 1e-9);
        assert_eq!(overlap(&[], 4, |_| true), 0.0);
    }
}
