//! The one synchronous stage interface, in the spirit of Vector's `transform_one`: an event in,
//! zero or more (route, event) pairs out, or a typed error. The same stage value runs inside the
//! Kafka runner and inside `newsflow run`; it never sees Kafka, threads or the clock.

use chrono::{DateTime, Utc};

use crate::error::{ErrorKind, Rejection, StageError};
use crate::event::{Event, EventKind};

/// Where an output goes. The runner maps routes to topics; `newsflow run` writes primary
/// outputs and duplicate notices.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Route {
    /// The stage's main output topic (`--output-topic`).
    Primary,
    /// `news.duplicates.v1`.
    Duplicates,
    /// `news.topic.<topic-id>.v1`: a copy of an enriched article for one of its tags.
    Topic(String),
}

/// One output of a stage.
#[derive(Debug, Clone, PartialEq)]
pub struct Emit {
    pub route: Route,
    pub event: Event,
    /// More routes the same event goes to (the tagger's per-topic copies): the runner encodes
    /// the event once and produces it to each; `newsflow run` writes it once.
    pub copies: Vec<Route>,
}

impl Emit {
    pub fn new(route: Route, event: Event) -> Self {
        Self {
            route,
            event,
            copies: Vec::new(),
        }
    }

    /// The same event also goes to `routes`.
    #[must_use]
    pub fn with_copies(mut self, routes: impl IntoIterator<Item = Route>) -> Self {
        self.copies.extend(routes);
        self
    }

    /// Every route of this output: its own, then its copies'.
    pub fn routes(&self) -> impl Iterator<Item = &Route> {
        std::iter::once(&self.route).chain(&self.copies)
    }
}

/// What a stage may know about the world besides the event: time is passed in, so stages stay
/// pure and tests can fix it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageContext {
    /// The current time.
    pub now: DateTime<Utc>,
    /// The Kafka record timestamp of the input, when it came from Kafka.
    pub record_time: Option<DateTime<Utc>>,
}

impl StageContext {
    pub fn at(now: DateTime<Utc>) -> Self {
        Self {
            now,
            record_time: None,
        }
    }
}

/// One change of a stage's state, for its compacted state topic: the latest value per key
/// wins, and `None` (a tombstone) deletes the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    pub key: String,
    pub value: Option<Vec<u8>>,
}

/// A pipeline stage.
pub trait Stage: Send {
    /// Short, stable name (`decode`, `normalizer`, …): the `stage` of dead letters and metrics.
    fn name(&self) -> &'static str;
    /// The kind of event the stage consumes.
    fn input_kind(&self) -> EventKind;
    /// The kinds of event it emits; the first is its primary output.
    fn output_kinds(&self) -> &'static [EventKind];
    /// Processes one event.
    fn process(&mut self, event: Event, ctx: &StageContext) -> Result<Vec<Emit>, StageError>;

    /// Whether the stage keeps state that must survive restarts and be shared by every
    /// instance (through a compacted state topic). Stateless by default.
    fn is_stateful(&self) -> bool {
        false
    }

    /// The state changes made since the last call; the runner publishes them with the outputs
    /// of the input that caused them, in the same acknowledgement cycle.
    fn take_state_changes(&mut self) -> Vec<StateChange> {
        Vec::new()
    }

    /// Applies one record of the state topic: on start-up for every record, and afterwards for
    /// the changes other instances (and this one) publish. Must be idempotent.
    fn restore_state(&mut self, key: &str, value: Option<&[u8]>) -> Result<(), Rejection> {
        let _ = (key, value);
        Ok(())
    }

    /// Called once the start-up restore has applied the whole state topic, before any input.
    fn state_restored(&mut self) {}
}

/// The rejection for an event of the wrong kind, which only a miswired pipeline can produce.
pub fn unexpected_input(stage: &dyn Stage, event: &Event) -> StageError {
    StageError::rejected(
        ErrorKind::UnexpectedEventType,
        format!(
            "stage {} takes {:?} events, not {:?}",
            stage.name(),
            stage.input_kind(),
            event.kind()
        ),
    )
}

/// Passes every event through unchanged: the relay service, and the runner's test subject.
#[derive(Debug, Clone, Copy)]
pub struct IdentityStage {
    kind: EventKind,
}

impl IdentityStage {
    pub fn new(kind: EventKind) -> Self {
        Self { kind }
    }
}

impl Stage for IdentityStage {
    fn name(&self) -> &'static str {
        "identity"
    }

    fn input_kind(&self) -> EventKind {
        self.kind
    }

    fn output_kinds(&self) -> &'static [EventKind] {
        match self.kind {
            EventKind::Raw => &[EventKind::Raw],
            EventKind::Normalized => &[EventKind::Normalized],
            EventKind::Deduplicated => &[EventKind::Deduplicated],
            EventKind::DuplicateNotice => &[EventKind::DuplicateNotice],
            EventKind::Enriched => &[EventKind::Enriched],
        }
    }

    fn process(&mut self, event: Event, _ctx: &StageContext) -> Result<Vec<Emit>, StageError> {
        if event.kind() != self.kind {
            return Err(unexpected_input(self, &event));
        }
        Ok(vec![Emit::new(Route::Primary, event)])
    }
}

/// A stage's error, with the name of the stage that raised it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("stage {stage}: {error}")]
pub struct ChainError {
    pub stage: &'static str,
    pub error: StageError,
}

/// Stages run one after another in one thread: each stage's primary outputs feed the next;
/// other routes (duplicate notices, per-topic copies) and the last stage's outputs leave the
/// chain. This is `newsflow run`'s engine (which runs two chains, one per thread: the
/// normalizer, then the rest).
pub struct Chain {
    stages: Vec<Box<dyn Stage>>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.stages.iter().map(|s| s.name()))
            .finish()
    }
}

impl Chain {
    /// Builds a chain; each stage must consume what the one before it emits.
    pub fn new(stages: Vec<Box<dyn Stage>>) -> Result<Self, String> {
        if stages.is_empty() {
            return Err("a chain needs at least one stage".into());
        }
        for pair in stages.windows(2) {
            let produced = pair[0].output_kinds()[0];
            if produced != pair[1].input_kind() {
                return Err(format!(
                    "stage {} emits {produced:?} but {} takes {:?}",
                    pair[0].name(),
                    pair[1].name(),
                    pair[1].input_kind()
                ));
            }
        }
        Ok(Self { stages })
    }

    pub fn stage_names(&self) -> Vec<&'static str> {
        self.stages.iter().map(|s| s.name()).collect()
    }

    /// The kinds the chain can emit: the last stage's outputs, plus side outputs of earlier
    /// stages (e.g. duplicate notices).
    pub fn output_kinds(&self) -> Vec<EventKind> {
        let last = self.stages.len() - 1;
        let mut kinds: Vec<EventKind> = self.stages[last].output_kinds().to_vec();
        for stage in &self.stages[..last] {
            kinds.extend(stage.output_kinds().iter().skip(1));
        }
        kinds
    }

    /// Runs one event through every stage.
    pub fn process(&mut self, event: Event, ctx: &StageContext) -> Result<Vec<Emit>, ChainError> {
        let mut pending = vec![event];
        let mut out = Vec::new();
        let last = self.stages.len() - 1;
        for (index, stage) in self.stages.iter_mut().enumerate() {
            let mut next = Vec::new();
            for event in pending {
                let emitted = stage.process(event, ctx).map_err(|error| ChainError {
                    stage: stage.name(),
                    error,
                })?;
                // One process, one instance: nobody else reads the state changes.
                drop(stage.take_state_changes());
                for emit in emitted {
                    if index < last && emit.route == Route::Primary {
                        next.push(emit.event);
                    } else {
                        out.push(emit);
                    }
                }
            }
            pending = next;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::DecodeStage;
    use crate::event::{ContentType, RawEvent};

    fn raw(content: &str) -> Event {
        Event::Raw(RawEvent {
            id: "a".into(),
            source: "s".into(),
            url: None,
            fetched_at: None,
            ingested_at: None,
            content_type: ContentType::TextPlain,
            content: Some(content.into()),
            content_base64: None,
            charset: None,
            hints: None,
        })
    }

    fn ctx() -> StageContext {
        StageContext::at(chrono::DateTime::UNIX_EPOCH)
    }

    #[test]
    fn a_chain_passes_primary_outputs_along() {
        let mut chain = Chain::new(vec![
            Box::new(DecodeStage::default()),
            Box::new(IdentityStage::new(EventKind::Raw)),
        ])
        .unwrap();
        let out = chain.process(raw("text"), &ctx()).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].route, Route::Primary);
        assert_eq!(out[0].event.id(), "a");
        assert_eq!(chain.output_kinds(), vec![EventKind::Raw]);
    }

    #[test]
    fn a_chain_names_the_stage_that_rejected() {
        let mut chain = Chain::new(vec![Box::new(DecodeStage::default())]).unwrap();
        let err = chain.process(raw(" "), &ctx()).unwrap_err();
        assert_eq!(err.stage, "decode");
        assert!(matches!(err.error, StageError::Rejected(r) if r.kind == ErrorKind::EmptyContent));
    }

    #[test]
    fn a_miswired_chain_is_refused() {
        let err = Chain::new(vec![
            Box::new(DecodeStage::default()),
            Box::new(IdentityStage::new(EventKind::Normalized)),
        ])
        .unwrap_err();
        assert!(err.contains("decode emits Raw"), "{err}");
    }

    #[test]
    fn identity_rejects_the_wrong_kind() {
        let mut stage = IdentityStage::new(EventKind::Normalized);
        let err = stage.process(raw("x"), &ctx()).unwrap_err();
        assert!(matches!(err, StageError::Rejected(r) if r.kind == ErrorKind::UnexpectedEventType));
    }
}
