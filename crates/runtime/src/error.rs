//! The runner's one error type. Each error says whether the service must stop at once
//! ([`RunnerError::is_fatal`]: no retry, no abort can help) and whether the call that failed may
//! simply be made again ([`RunnerError::is_retryable`]), so no caller has to find an error again
//! by downcasting a chain of messages.

use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// What a failed call of the Kafka client tells: its code, message and librdkafka's verdict on
/// it. Made from a [`KafkaError`], or by hand in tests (librdkafka's own error values cannot be
/// made outside the client).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct KafkaFailure {
    pub code: Option<RDKafkaErrorCode>,
    pub message: String,
    /// librdkafka says the same call may succeed when made again (e.g. a timeout).
    pub retriable: bool,
    /// librdkafka says the client cannot be used any more.
    pub fatal: bool,
}

impl From<KafkaError> for KafkaFailure {
    fn from(error: KafkaError) -> Self {
        let (retriable, fatal) = match &error {
            KafkaError::Transaction(err) => (err.is_retriable(), err.is_fatal()),
            _ => (false, false),
        };
        Self {
            code: error.rdkafka_error_code(),
            message: error.to_string(),
            retriable,
            fatal,
        }
    }
}

impl KafkaFailure {
    /// A producer with the same transactional id (a newer instance) fenced this one.
    pub fn fenced(&self) -> bool {
        use RDKafkaErrorCode as Code;
        matches!(
            self.code,
            Some(Code::Fenced | Code::ProducerFenced | Code::InvalidProducerEpoch)
        )
    }
}

/// A transactional call of the Kafka client that did not return long after its timeout: the
/// producer cannot be used any more (every further call would conflict with the stuck one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the Kafka client did not return from {what} within {limit:?}; the service stops so that a \
     restart (which fences this producer and redoes the open transaction) recovers"
)]
pub struct StuckCall {
    pub what: &'static str,
    pub limit: Duration,
}

/// Why the runner could not go on.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// An error of the Kafka client no retry can fix (the broker refused our credentials or our
    /// TLS handshake), reported by a client's error callback.
    #[error("{0}")]
    Client(String),
    /// A call of the Kafka client failed.
    #[error("cannot {what}: {failure}")]
    Kafka {
        what: &'static str,
        failure: KafkaFailure,
    },
    #[error(transparent)]
    Stuck(#[from] StuckCall),
    /// A record could not be delivered within the retry timeout.
    #[error("delivery to {topic} kept failing: {failure}")]
    Delivery {
        topic: String,
        failure: KafkaFailure,
    },
    /// The producer refused a record (not a full queue: that is waited out).
    #[error("cannot produce to {topic}: {failure}")]
    Produce {
        topic: String,
        failure: KafkaFailure,
    },
    #[error("the producer went away before acknowledging a record")]
    ProducerGone,
    /// The stage's transient error outlived the retry timeout.
    #[error("stage {stage} kept failing for {waited:?}: {message}")]
    Stage {
        stage: &'static str,
        waited: Duration,
        message: String,
    },
    #[error("shut down while retrying a transient error: {0}")]
    ShutDown(String),
    /// The stage and the service's configuration do not fit (a stage emitted to an output the
    /// service has no topic for).
    #[error("{0}")]
    Wiring(String),
    /// exactly-once: a transaction failed and could not be aborted and redone.
    #[error("a transaction of {inputs} inputs failed: {cause}{detail}")]
    Transaction {
        inputs: usize,
        cause: Box<RunnerError>,
        detail: String,
    },
    /// exactly-once: a transaction failed earlier (in the rebalance callback); the message is
    /// that failure's.
    #[error("{0}")]
    Failed(String),
    /// Setting up: clients, the admin server, the state restore.
    #[error(transparent)]
    Setup(#[from] anyhow::Error),
}

impl RunnerError {
    pub(crate) fn kafka(what: &'static str, error: impl Into<KafkaFailure>) -> Self {
        Self::Kafka {
            what,
            failure: error.into(),
        }
    }

    /// No retry and no abort can fix it: the producer is fenced, librdkafka calls it fatal, a
    /// call is stuck, or the broker refuses us.
    pub fn is_fatal(&self) -> bool {
        match self {
            Self::Kafka { failure, .. } => failure.fatal || failure.fenced(),
            Self::Stuck(_) | Self::Client(_) | Self::Failed(_) | Self::Transaction { .. } => true,
            _ => false,
        }
    }

    /// The same call may succeed when made again (librdkafka says so, e.g. on a timeout while
    /// the broker is away).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Kafka { failure, .. } => failure.retriable && !failure.fatal,
            _ => false,
        }
    }

    /// A newer producer with the same transactional id took over.
    pub fn is_fenced(&self) -> bool {
        matches!(self, Self::Kafka { failure, .. } if failure.fenced())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: RDKafkaErrorCode, retriable: bool, fatal: bool) -> KafkaFailure {
        KafkaFailure {
            code: Some(code),
            message: format!("{code:?}"),
            retriable,
            fatal,
        }
    }

    #[test]
    fn each_error_knows_whether_it_is_fatal_or_retryable() {
        let timeout = RunnerError::kafka(
            "commit",
            failure(RDKafkaErrorCode::RequestTimedOut, true, false),
        );
        assert!(timeout.is_retryable() && !timeout.is_fatal());
        let fenced = RunnerError::kafka(
            "commit",
            failure(RDKafkaErrorCode::ProducerFenced, false, false),
        );
        assert!(fenced.is_fatal() && fenced.is_fenced() && !fenced.is_retryable());
        let stuck = RunnerError::from(StuckCall {
            what: "commit_transaction",
            limit: Duration::from_secs(1),
        });
        assert!(stuck.is_fatal() && !stuck.is_retryable());
        let plain = RunnerError::kafka("commit", KafkaError::Canceled);
        assert!(!plain.is_fatal() && !plain.is_retryable());
        assert_eq!(
            plain.to_string(),
            format!("cannot commit: {}", KafkaError::Canceled)
        );
    }
}
