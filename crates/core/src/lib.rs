//! newsflow's pure domain: event types, the synchronous stage interface, typed errors, decoding
//! and ids. No Kafka, no async runtime, no I/O: every stage here runs the same inside the Kafka
//! runner (`newsflow-runtime`) and inside the embedded pipeline (`newsflow run`).
//!
//! Nor does it print or read the clock: the time comes in [`StageContext`], the words go out
//! as events and errors. Printing is denied here; `tests/purity.rs` keeps the clock out.

#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod dead_letter;
pub mod decode;
pub mod dedup;
pub mod error;
pub mod event;
pub mod ids;
pub mod normalize;
pub mod stage;
pub mod story;
pub mod tag;
pub mod topics;

pub use dedup::{DedupConfig, DedupStage};
pub use error::{ErrorKind, Rejection, StageError};
pub use event::{Event, EventKind, RawEvent};
pub use normalize::{NormalizeConfig, NormalizeStage};
pub use stage::{Chain, DefaultTopic, Emit, Port, Route, Stage, StageContext, StateChange};
pub use story::{StoryConfig, StoryRecord, StoryStage};
pub use tag::{TagStage, Taxonomy};
