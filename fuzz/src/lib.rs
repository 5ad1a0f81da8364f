//! What every fuzz target checks once its input is an event: the whole chain (normalizer,
//! deduplicator, tagger, stories) accepts or rejects it with a typed error, never a panic,
//! and what it emits serialises and parses back as the kind it claims to be.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use newsflow_core::event::{ContentType, Event, RawEvent};
use newsflow_core::stage::{Chain, Stage, StageContext};
use newsflow_core::{DedupStage, NormalizeStage, StoryConfig, StoryStage, TagStage, Taxonomy};

/// One chain per fuzzing process: the taxonomy takes a while to compile, and a chain that has
/// seen earlier inputs (a filled dedup window) is the more interesting one.
pub struct Pipeline {
    chain: Chain,
    stories: StoryStage,
    now: DateTime<Utc>,
}

impl Default for Pipeline {
    fn default() -> Self {
        let stages: Vec<Box<dyn Stage>> = vec![
            Box::new(NormalizeStage::default()),
            Box::new(DedupStage::default()),
            Box::new(TagStage::new(Arc::new(Taxonomy::default()))),
        ];
        let chain = Chain::new(stages).expect("the stages chain");
        let stories = StoryStage::new(StoryConfig::default()).expect("default story settings");
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .expect("a constant")
            .with_timezone(&Utc);
        Self {
            chain,
            stories,
            now,
        }
    }
}

impl Pipeline {
    /// Runs one raw event through every stage; panics only where a contract is broken.
    pub fn run(&mut self, raw: RawEvent) {
        let ctx = StageContext::at(self.now);
        let Ok(emits) = self.chain.process(Event::Raw(raw), &ctx) else {
            return; // a typed rejection: the dead-letter path
        };
        for emit in emits {
            let json = emit.event.to_json().expect("an emitted event serialises");
            let kind = emit.event.kind();
            let back = Event::from_json(kind, &json)
                .unwrap_or_else(|err| panic!("an emitted {kind:?} does not parse back: {err:?}"));
            assert_eq!(back.id(), emit.event.id());
            let _ = self.stories.process(&emit.event, &ctx);
        }
    }
}

/// A raw event carrying `content` as text of the given type.
pub fn raw(content_type: ContentType, content: String) -> RawEvent {
    RawEvent {
        url: Some("https://example.org/2024/05/06/a-story".into()),
        ..RawEvent::with_content("fuzz-1", "fuzz", content_type, content)
    }
}
