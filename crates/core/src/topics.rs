//! Every Kafka topic of the architecture, declared once. `newsflow topics create` creates them,
//! `schemas/asyncapi.yaml` documents them, and a test keeps the two in step.

use crate::event::EventKind;

/// How a topic keeps its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cleanup {
    /// Time-based retention.
    Delete,
    /// Latest record per key (state topics).
    Compact,
}

/// One topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: &'static str,
    /// What its records carry; `None` for topics that do not carry an article contract
    /// (dead letters hold original bytes; the dedup state has its own records).
    pub kind: Option<EventKind>,
    pub cleanup: Cleanup,
    pub description: &'static str,
}

pub const RAW: &str = "news.raw.v1";
pub const NORMALIZED: &str = "news.normalized.v1";
pub const DEDUPLICATED: &str = "news.deduplicated.v1";
pub const DUPLICATES: &str = "news.duplicates.v1";
pub const ENRICHED: &str = "news.enriched.v1";
pub const DLQ: &str = "news.dlq.v1";
pub const DEDUP_STATE: &str = "newsflow.dedup-state.v1";
/// Story records (`schemas/story.v1.schema.json`), keyed by story id.
pub const STORIES: &str = "news.stories.v1";
pub const STORY_STATE: &str = "newsflow.story-state.v1";

/// The fixed topics. Per-tag topics (`news.topic.<topic-id>.v1`) come from the taxonomy.
pub const TOPICS: &[TopicSpec] = &[
    TopicSpec {
        name: RAW,
        kind: Some(EventKind::Raw),
        cleanup: Cleanup::Delete,
        description: "pages as fetched by crawlers and feeds",
    },
    TopicSpec {
        name: NORMALIZED,
        kind: Some(EventKind::Normalized),
        cleanup: Cleanup::Delete,
        description: "clean, structured articles",
    },
    TopicSpec {
        name: DEDUPLICATED,
        kind: Some(EventKind::Deduplicated),
        cleanup: Cleanup::Delete,
        description: "first copies of each story",
    },
    TopicSpec {
        name: DUPLICATES,
        kind: Some(EventKind::DuplicateNotice),
        cleanup: Cleanup::Delete,
        description: "notices for exact and near copies of earlier stories",
    },
    TopicSpec {
        name: ENRICHED,
        kind: Some(EventKind::Enriched),
        cleanup: Cleanup::Delete,
        description: "tagged articles with topics, evidence and entities",
    },
    TopicSpec {
        name: DLQ,
        kind: None,
        cleanup: Cleanup::Delete,
        description: "rejected inputs of every stage, original bytes and headers kept",
    },
    TopicSpec {
        name: DEDUP_STATE,
        kind: None,
        cleanup: Cleanup::Compact,
        description: "deduplicator fingerprints, read in full by every instance",
    },
    TopicSpec {
        name: STORIES,
        // Keyed by story id (not an article id), compacted so the latest record of a story
        // is its current state.
        kind: Some(EventKind::Story),
        cleanup: Cleanup::Compact,
        description: "story records: one per change of a story, keyed by story id",
    },
    TopicSpec {
        name: STORY_STATE,
        kind: None,
        cleanup: Cleanup::Compact,
        description: "the story stage's open stories and learned frequencies",
    },
];

/// The per-tag topic of a taxonomy topic id (`ukraine-war` → `news.topic.ukraine-war.v1`).
pub fn tag_topic(topic_id: &str) -> String {
    format!("news.topic.{topic_id}.v1")
}

/// A Kafka-legal topic id: 1..=200 chars of `[a-z0-9-]`, not starting or ending with `-`.
pub fn is_valid_topic_id(topic_id: &str) -> bool {
    !topic_id.is_empty()
        && topic_id.len() <= 200
        && !topic_id.starts_with('-')
        && !topic_id.ends_with('-')
        && topic_id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_are_unique_and_versioned() {
        let mut names: Vec<_> = TOPICS.iter().map(|t| t.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TOPICS.len());
        assert!(TOPICS.iter().all(|t| t.name.ends_with(".v1")));
    }

    #[test]
    fn tag_topics_follow_the_pattern() {
        assert_eq!(tag_topic("ukraine-war"), "news.topic.ukraine-war.v1");
        assert!(is_valid_topic_id("china-russia-relations"));
        assert!(!is_valid_topic_id("Ukraine War"));
        assert!(!is_valid_topic_id("-x"));
    }
}
