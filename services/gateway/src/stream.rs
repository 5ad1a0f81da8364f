//! One client's stream of articles, for SSE and the WebSocket alike: what it missed (when it
//! resumes) and then the live records, each once, with the client's position after it.

use std::sync::Arc;

use futures::Stream;
use rdkafka::config::ClientConfig;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::hub::{DropReason, Filter, Full, Hub, Record, Subscription};
use crate::kafka;
use crate::position::Position;

/// What a client is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// An article (or, when asked for, a duplicate notice or dead letter: `kind` is the event
    /// name), and the client's position once it has it (`id:`).
    Event {
        kind: &'static str,
        position: String,
        data: Arc<str>,
    },
    /// The last message: why the gateway ended the stream.
    End { reason: &'static str },
}

impl Outgoing {
    /// The WebSocket message: `{"event": "article", "id": …, "data": {…}}`.
    pub fn to_json(&self) -> String {
        match self {
            Outgoing::Event {
                kind,
                position,
                data,
            } => format!(r#"{{"event":"{kind}","id":"{position}","data":{data}}}"#),
            Outgoing::End { reason } => format!(r#"{{"event":"error","reason":"{reason}"}}"#),
        }
    }
}

/// Counts the streams report.
pub trait StreamEvents: Send + Sync {
    fn sent(&self) {}
    fn connected(&self, _delta: i64) {}
}

/// Leaves the hub when the client's stream is dropped (the client went away).
struct Registration {
    hub: Arc<Hub>,
    id: u64,
    events: Arc<dyn StreamEvents>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.hub.unsubscribe(self.id);
        self.events.connected(-1);
    }
}

/// Where a stream reads from.
#[derive(Clone)]
pub struct Source {
    pub hub: Arc<Hub>,
    pub kafka: ClientConfig,
    pub kinds: Arc<crate::kafka::TopicKinds>,
    pub shutdown: CancellationToken,
    pub events: Arc<dyn StreamEvents>,
}

/// A client's stream: registered with the hub now (so nothing published from here on is
/// missed), then, when it resumes from `resume`, what it missed up to its live start.
pub fn open(
    source: &Source,
    filter: Filter,
    resume: Option<Position>,
) -> Result<impl Stream<Item = Outgoing> + Send + 'static, Full> {
    let subscription = source.hub.subscribe(filter)?;
    source.events.connected(1);
    let registration = Registration {
        hub: source.hub.clone(),
        id: subscription.id,
        events: source.events.clone(),
    };
    let mut position = subscription.live_from.clone();
    let catch_up = resume.map(|from| {
        for (topic, partition, next) in from.partitions() {
            // Only the partitions this stream reads; the catch-up starts at `from`.
            if position.next(topic, partition).is_some() {
                position.set(topic, partition, next);
            }
        }
        let (sender, receiver) = mpsc::channel(256);
        let (kafka_config, kinds, until, shutdown) = (
            source.kafka.clone(),
            source.kinds.clone(),
            subscription.live_from.clone(),
            source.shutdown.clone(),
        );
        tokio::spawn(async move {
            let caught_up =
                kafka::catch_up(&kafka_config, &kinds, &from, &until, sender, shutdown).await;
            if let Err(err) = caught_up {
                tracing::warn!(error = %err, "a resuming client's catch-up read failed");
            }
        });
        receiver
    });
    let state = State {
        _registration: registration,
        subscription,
        catch_up,
        position,
        events: source.events.clone(),
        ended: false,
    };
    Ok(futures::stream::unfold(state, State::next))
}

struct State {
    _registration: Registration,
    subscription: Subscription,
    catch_up: Option<mpsc::Receiver<Record>>,
    position: Position,
    events: Arc<dyn StreamEvents>,
    ended: bool,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("hub", &self.hub)
            .finish_non_exhaustive()
    }
}

impl State {
    async fn next(mut self) -> Option<(Outgoing, Self)> {
        if self.ended {
            return None;
        }
        loop {
            let record = match &mut self.catch_up {
                Some(missed) => match missed.recv().await {
                    Some(record) => record,
                    None => {
                        self.catch_up = None; // caught up: the live records follow
                        continue;
                    }
                },
                None => match self.subscription.records.recv().await {
                    Some(record) => record,
                    None => {
                        // The hub let go of this client: say why, then end.
                        self.ended = true;
                        let reason = self
                            .subscription
                            .dropped
                            .try_recv()
                            .unwrap_or(DropReason::Shutdown);
                        return Some((
                            Outgoing::End {
                                reason: reason.as_str(),
                            },
                            self,
                        ));
                    }
                },
            };
            if !self
                .position
                .is_new(&record.topic, record.partition, record.offset)
            {
                continue; // delivered already
            }
            self.position
                .advance(&record.topic, record.partition, record.offset);
            self.events.sent();
            let out = Outgoing::Event {
                kind: record.kind.as_str(),
                position: self.position.token(),
                data: record.payload,
            };
            return Some((out, self));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::NoEvents;
    use futures::StreamExt as _;

    struct Quiet;
    impl StreamEvents for Quiet {}

    fn record(offset: i64) -> Record {
        Record {
            kind: crate::hub::Kind::Article,
            topic: "war".into(),
            partition: 0,
            offset,
            payload: format!("{{\"n\":{offset}}}").into(),
            entities: Vec::new().into(),
        }
    }

    #[tokio::test]
    async fn a_stream_sends_live_records_with_its_position_then_why_it_ended() {
        let hub = Arc::new(Hub::new(8, 4, Arc::new(NoEvents)));
        hub.start_partition("war", 0, 10);
        let source = Source {
            hub: hub.clone(),
            kafka: ClientConfig::new(),
            kinds: Arc::default(),
            shutdown: CancellationToken::new(),
            events: Arc::new(Quiet),
        };
        let filter = Filter {
            topics: ["war".to_owned()].into(),
            entities: None,
        };
        let mut stream = Box::pin(open(&source, filter, None).unwrap());
        assert_eq!(hub.clients(), 1);
        hub.publish(&record(10));
        hub.publish(&record(11));
        hub.close();
        let got: Vec<Outgoing> = stream.by_ref().collect().await;
        let Outgoing::Event { position, data, .. } = &got[1] else {
            panic!("{got:?}")
        };
        assert_eq!(&**data, "{\"n\":11}");
        assert_eq!(Position::parse(position).unwrap().next("war", 0), Some(12));
        assert_eq!(got[2], Outgoing::End { reason: "shutdown" });
        assert_eq!(got[2].to_json(), r#"{"event":"error","reason":"shutdown"}"#);
        drop(stream);
        assert_eq!(hub.clients(), 0);
    }
}
