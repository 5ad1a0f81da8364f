//! newsflow's pure domain: event types, the synchronous stage interface, typed errors, decoding
//! and ids. No Kafka, no async runtime, no I/O: every stage here runs the same inside the Kafka
//! runner (`newsflow-runtime`) and inside the embedded pipeline (`newsflow run`).

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
pub use stage::{Chain, Emit, Route, Stage, StageContext, StateChange};
pub use story::{StoryConfig, StoryRecord, StoryStage};
pub use tag::{TagStage, Taxonomy};
