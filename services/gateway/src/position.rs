//! A reader's position: the next offset to read on every partition of every topic it reads,
//! carried to clients as the opaque `id:` of each event and given back as `Last-Event-ID`.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Next offset to read, by topic and partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Position {
    next: BTreeMap<(String, i32), i64>,
}

/// A `Last-Event-ID` that no gateway wrote.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("Last-Event-ID is not a position this gateway wrote: {0}")]
pub struct BadPosition(&'static str);

impl Position {
    /// The next offset on a partition, if the position has one.
    pub fn next(&self, topic: &str, partition: i32) -> Option<i64> {
        self.next.get(&(topic.to_owned(), partition)).copied()
    }

    /// Records that `offset` was delivered.
    pub fn advance(&mut self, topic: &str, partition: i32, offset: i64) {
        let next = self.next.entry((topic.to_owned(), partition)).or_insert(0);
        *next = (*next).max(offset.saturating_add(1));
    }

    pub fn set(&mut self, topic: &str, partition: i32, next: i64) {
        self.next.insert((topic.to_owned(), partition), next);
    }

    /// Whether the record at `offset` comes after this position (not yet delivered).
    pub fn is_new(&self, topic: &str, partition: i32, offset: i64) -> bool {
        self.next(topic, partition)
            .is_none_or(|next| offset >= next)
    }

    pub fn partitions(&self) -> impl Iterator<Item = (&str, i32, i64)> {
        self.next
            .iter()
            .map(|((topic, partition), next)| (topic.as_str(), *partition, *next))
    }

    /// The opaque token: for each topic `topic:p@next.p@next…`, topics joined by `,`,
    /// base64url. Each topic name is written once, so a client reading a few topics with many
    /// partitions gets a short `id:` with every event.
    pub fn token(&self) -> String {
        let mut text = String::new();
        let mut current: Option<&str> = None;
        for ((topic, partition), next) in &self.next {
            if current == Some(topic.as_str()) {
                text.push('.');
            } else {
                if current.is_some() {
                    text.push(',');
                }
                text.push_str(topic);
                text.push(':');
                current = Some(topic);
            }
            text.push_str(&format!("{partition}@{next}"));
        }
        URL_SAFE_NO_PAD.encode(text)
    }

    pub fn parse(token: &str) -> Result<Self, BadPosition> {
        let bytes = URL_SAFE_NO_PAD
            .decode(token.trim())
            .map_err(|_| BadPosition("not base64url"))?;
        let text = String::from_utf8(bytes).map_err(|_| BadPosition("not UTF-8"))?;
        let mut position = Position::default();
        for item in text.split(',').filter(|item| !item.is_empty()) {
            // Topic names cannot hold ':', '@' or ','.
            let (topic, partitions) = item
                .split_once(':')
                .filter(|(topic, _)| valid_topic(topic))
                .ok_or(BadPosition("an item is not topic:partition@offset…"))?;
            for pair in partitions.split('.') {
                let parsed = pair
                    .split_once('@')
                    .and_then(|(p, n)| Some((p.parse::<i32>().ok()?, n.parse::<i64>().ok()?)));
                match parsed {
                    Some((partition, next)) if partition >= 0 && next >= 0 => {
                        position.set(topic, partition, next);
                    }
                    _ => return Err(BadPosition("an item is not topic:partition@offset…")),
                }
            }
        }
        Ok(position)
    }
}

/// Kafka's rule for topic names: 1–249 of `[a-zA-Z0-9._-]`.
fn valid_topic(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_round_trips_through_its_token() {
        let mut position = Position::default();
        position.advance("news.topic.ukraine-war.v1", 0, 41);
        position.advance("news.topic.ukraine-war.v1", 2, 7);
        position.advance("news.topic.ukraine-war.v1", 2, 3); // older: no step back
        position.advance("dev.news.enriched.v1", 11, 0);
        let token = position.token();
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        let back = Position::parse(&token).unwrap();
        assert_eq!(back, position);
        assert_eq!(back.next("news.topic.ukraine-war.v1", 2), Some(8));
        assert!(back.is_new("news.topic.ukraine-war.v1", 0, 42));
        assert!(!back.is_new("news.topic.ukraine-war.v1", 0, 41));
        assert!(
            back.is_new("news.topic.ukraine-war.v1", 5, 0),
            "a partition not read yet"
        );
    }

    #[test]
    fn tokens_nobody_wrote_are_refused() {
        let enc = |text: &str| URL_SAFE_NO_PAD.encode(text);
        for bad in [
            "!!".to_owned(),
            enc("topic:0"),
            enc("topic:x@1"),
            enc("topic:0@-4"),
            enc("topic:0@1."),
            enc("to pic:0@1"),
            enc(":0@1"),
            URL_SAFE_NO_PAD.encode([0xff, 0xfe]),
        ] {
            assert!(Position::parse(&bad).is_err(), "{bad}");
        }
        assert_eq!(Position::parse("").unwrap(), Position::default());
    }
}
