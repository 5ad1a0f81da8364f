//! The one synchronous stage interface, in the spirit of Vector's `transform_one`: an event in,
//! zero or more (route, event) pairs out, or a typed error. Each stage declares the streams it
//! reads and writes ([`Port`]: a name, an event kind, a default topic); its routes name them and
//! the runner maps the names to topics. The same stage value runs inside the Kafka runner and
//! inside `newsflow run`; it never sees Kafka, threads or the clock.

use chrono::{DateTime, Utc};

use crate::error::{ErrorKind, Rejection, StageError};
use crate::event::{Event, EventKind};

/// The name of a stage's main input; `--input-topic` chooses its topic.
pub const INPUT: &str = "input";

/// The name of a stage's main output; `--output-topic` chooses its topic.
pub const PRIMARY: &str = "primary";

/// A stream a stage reads or writes, as the stage declares it: the name its routes use (and
/// the runner maps to a topic, from a flag), the kind of event, and the topic it defaults to.
#[derive(Debug, Clone, Copy)]
pub struct Port {
    pub name: &'static str,
    pub kind: EventKind,
    pub topic: DefaultTopic,
}

impl Port {
    pub const fn new(name: &'static str, kind: EventKind, topic: &'static str) -> Self {
        Self {
            name,
            kind,
            topic: DefaultTopic::Named(topic),
        }
    }
}

/// The topic a port goes to unless a flag says otherwise.
#[derive(Debug, Clone, Copy)]
pub enum DefaultTopic {
    /// One topic.
    Named(&'static str),
    /// One topic per route key (the tagger's `news.topic.<id>.v1`, one per tag): the name made
    /// from the key.
    PerKey(fn(&str) -> String),
}

/// Where an output goes: one of the outputs the stage declares, and for an output with a topic
/// per key, the key. The runner maps outputs to topics; `newsflow run` writes primary outputs
/// and duplicate notices.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Route {
    pub output: &'static str,
    pub key: Option<String>,
}

impl Route {
    /// The stage's main output.
    pub const PRIMARY: Self = Self::to(PRIMARY);

    /// The output named `output`.
    pub const fn to(output: &'static str) -> Self {
        Self { output, key: None }
    }

    /// The topic of `key` of the output named `output`.
    pub fn keyed(output: &'static str, key: impl Into<String>) -> Self {
        Self {
            output,
            key: Some(key.into()),
        }
    }

    pub fn is_primary(&self) -> bool {
        self.output == PRIMARY
    }
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
    /// The streams the stage reads; the first, named [`INPUT`], is its main input.
    fn inputs(&self) -> &'static [Port];
    /// The streams it writes; the first, named [`PRIMARY`], is its main output.
    fn outputs(&self) -> &'static [Port];

    /// The kind of event the stage's main input carries.
    fn input_kind(&self) -> EventKind {
        self.inputs()[0].kind
    }
    /// The kinds of event it emits; the first is its primary output's.
    fn output_kinds(&self) -> Vec<EventKind> {
        self.outputs().iter().map(|port| port.kind).collect()
    }
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

    fn inputs(&self) -> &'static [Port] {
        identity_ports(self.kind, INPUT)
    }

    fn outputs(&self) -> &'static [Port] {
        identity_ports(self.kind, PRIMARY)
    }

    fn process(&mut self, event: Event, _ctx: &StageContext) -> Result<Vec<Emit>, StageError> {
        if event.kind() != self.kind {
            return Err(unexpected_input(self, &event));
        }
        Ok(vec![Emit::new(Route::PRIMARY, event)])
    }
}

/// The identity stage's one input or output of `kind`, on the kind's topic.
fn identity_ports(kind: EventKind, name: &'static str) -> &'static [Port] {
    use crate::topics::{DEDUPLICATED, DUPLICATES, ENRICHED, NORMALIZED, RAW, STORIES};
    macro_rules! port {
        ($kind:ident, $topic:expr) => {
            if name == INPUT {
                const { &[Port::new(INPUT, EventKind::$kind, $topic)] }
            } else {
                const { &[Port::new(PRIMARY, EventKind::$kind, $topic)] }
            }
        };
    }
    match kind {
        EventKind::Raw => port!(Raw, RAW),
        EventKind::Normalized => port!(Normalized, NORMALIZED),
        EventKind::Deduplicated => port!(Deduplicated, DEDUPLICATED),
        EventKind::DuplicateNotice => port!(DuplicateNotice, DUPLICATES),
        EventKind::Enriched => port!(Enriched, ENRICHED),
        EventKind::Story => port!(Story, STORIES),
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
        let mut kinds: Vec<EventKind> = self.stages[last].output_kinds();
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
                    if index < last && emit.route.is_primary() {
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
    use crate::event::RawEvent;

    fn raw(content: &str) -> Event {
        Event::Raw(RawEvent::plain_text("a", "s", content))
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
        assert_eq!(out[0].route, Route::PRIMARY);
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
