//! The story records the stage emits (`schemas/story.v1.schema.json`, `news.stories.v1`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What happened to a story.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// An article opened a new story.
    Opened,
    /// An article (or a duplicate notice) joined the story.
    Joined,
    /// An article tied two or more stories: each absorbed story is emitted with `merged_into`
    /// set, then the surviving one.
    Merged,
    /// No article joined the story for `window` of event time; it is closed.
    Expired,
}

/// One change of one story, with the story's state after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoryRecord {
    pub change: Change,
    /// The article (or duplicate notice) that caused the change; null for `expired`.
    pub article_id: Option<String>,
    pub story: StoryState,
}

/// A story as its consumers see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoryState {
    /// Stable: derived from the id of the article that opened the story.
    pub id: String,
    /// The title and lede of the story's most central article (`representative_id`).
    pub title: Option<String>,
    pub lede: Option<String>,
    pub representative_id: String,
    #[serde(with = "crate::event::rfc3339")]
    pub first_seen: DateTime<Utc>,
    #[serde(with = "crate::event::rfc3339")]
    pub last_updated: DateTime<Utc>,
    /// Articles and duplicate copies counted, in all.
    pub article_count: u64,
    /// Distinct sources that carry the story.
    pub outlet_count: u64,
    /// The sources that carry it most, with their article counts.
    pub outlets: Vec<Count>,
    /// The most recent article ids, at most `max_articles`, newest last.
    pub articles: Vec<String>,
    /// The entities most mentioned across the story's articles (`mentions` summed).
    pub entities: Vec<EntityCount>,
    /// Topic ids, with the number of the story's articles tagged with each.
    pub topics: Vec<Count>,
    /// Dateline places, with the number of articles datelined there.
    pub places: Vec<Count>,
    /// The surviving story's id when this one was folded into it; null otherwise.
    pub merged_into: Option<String>,
}

/// A name and how many times it was counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    pub name: String,
    pub count: u64,
}

/// An entity of a story.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityCount {
    /// Wikidata QID where known.
    pub id: Option<String>,
    pub name: String,
    pub count: u64,
}
