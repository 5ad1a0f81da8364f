//! How a service makes its outputs count: one interface, two implementations.
//!
//! - **at-least-once** ([`AtLeastOnce`]): inputs complete in the order they were read (a FIFO
//!   of acknowledgements), so the stored offset of a partition never passes an input whose
//!   outputs are still unacknowledged; librdkafka commits the stored offsets every second, on
//!   revocation and on close.
//! - **exactly-once** ([`ExactlyOnce`], the default): inputs are processed in batches, each one
//!   Kafka transaction with its input offsets.
//!
//! The runner calls `begin` before it sends an input's records, `add` once they are sent,
//! `commit` whenever something may be made durable, and `redo` for a batch to do again.

mod at_least_once;
mod exactly_once;

use std::time::Duration;

use rdkafka::consumer::Consumer;

pub(crate) use at_least_once::AtLeastOnce;
pub(crate) use exactly_once::{ExactlyOnce, Redo, Transaction};

use crate::client::RunnerContext;
use crate::error::RunnerError;
use crate::output::Sent;

/// A delivery mode.
pub(crate) trait Delivery {
    /// Called before the records of an input are sent (exactly-once: opens a transaction).
    fn begin(&mut self) -> Result<(), RunnerError>;

    /// Takes an input whose records were all sent.
    fn add(&mut self, sent: Sent);

    /// As many inputs as allowed are in flight: read no more until something completes.
    fn is_full(&self) -> bool;

    /// Inputs wait for a commit that the input being caught up should trigger at once
    /// (exactly-once: the open transaction; group commit at moderate rates).
    fn commits_when_caught_up(&self) -> bool;

    /// Resolves when there is something to commit without new input: at-least-once, the
    /// oldest input was acknowledged; exactly-once, the open transaction is due.
    async fn settled(&mut self) -> Result<(), RunnerError>;

    /// Makes what is complete durable. at-least-once: stores the offsets of acknowledged
    /// inputs. exactly-once: commits the open transaction when `now`, when it is due or full.
    fn commit<C: Consumer<RunnerContext>>(
        &mut self,
        consumer: &C,
        now: bool,
    ) -> Result<(), RunnerError>;

    /// exactly-once: an aborted batch the runner must redo; an error when a failure (e.g. in
    /// the rebalance callback) stops the runner.
    fn redo(&mut self) -> Result<Option<Redo>, RunnerError>;

    /// At shutdown: waits for in-flight work up to `drain_timeout` and commits it.
    async fn finish<C: Consumer<RunnerContext>>(
        &mut self,
        consumer: &C,
        drain_timeout: Duration,
    ) -> Result<(), RunnerError>;

    /// After the last input, also after an error: at-least-once commits what is stored.
    fn close<C: Consumer<RunnerContext>>(&mut self, consumer: &C);
}
