//! The live fan-out: one reader per topic hands each record to the hub once, and the hub puts
//! it in the bounded buffer of every client that asked for it. A client whose buffer is full is
//! dropped with its reason; it never slows the reader or the other clients. Memory is bounded
//! by the number of clients times the buffer.
//!
//! The hub also knows, per partition, the next offset its readers will deliver. A client
//! registers under the same lock that delivery takes, so the live position it is given is
//! exactly where its live records begin: a resuming client reads what it missed up to there,
//! and nothing is delivered twice or skipped.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{mpsc, oneshot};

use crate::position::Position;

/// What a topic carries, and the SSE event name its records go out under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An enriched article (`news.enriched.v1`, `news.topic.<id>.v1`).
    Article,
    /// A duplicate notice (`news.duplicates.v1`): which article it copies.
    Duplicate,
    /// A dead letter (`news.dlq.v1`): only its stage and error kind, never the input itself.
    DeadLetter,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Article => "article",
            Kind::Duplicate => "duplicate",
            Kind::DeadLetter => "dead_letter",
        }
    }
}

/// One record of a topic, parsed once for every client.
#[derive(Debug, Clone)]
pub struct Record {
    pub kind: Kind,
    pub topic: Arc<str>,
    pub partition: i32,
    pub offset: i64,
    /// The enriched article, JSON on one line.
    pub payload: Arc<str>,
    /// Its entities' Wikidata ids, for `entities=` filters.
    pub entities: Arc<[String]>,
}

impl Record {
    /// A dead letter, told by its headers (`x-newsflow-stage`, `x-newsflow-error-kind`): the
    /// input itself may be anything and is not passed on.
    pub fn dead_letter(
        topic: Arc<str>,
        partition: i32,
        offset: i64,
        stage: Option<&str>,
        error_kind: Option<&str>,
    ) -> Self {
        let payload = serde_json::json!({"stage": stage, "error_kind": error_kind});
        Self {
            kind: Kind::DeadLetter,
            topic,
            partition,
            offset,
            payload: payload.to_string().into(),
            entities: Vec::new().into(),
        }
    }

    /// A record of `payload` (an enriched.v1 article or a duplicate notice), its entity ids
    /// read from it.
    pub fn parse(
        kind: Kind,
        topic: Arc<str>,
        partition: i32,
        offset: i64,
        payload: &[u8],
    ) -> Option<Self> {
        let value: serde_json::Value = serde_json::from_slice(payload).ok()?;
        let entities = value
            .get("entities")
            .and_then(serde_json::Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| item.get("id")?.as_str().map(str::to_owned))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        Some(Self {
            kind,
            topic,
            partition,
            offset,
            // One line whatever the producer wrote, as SSE's `data:` needs.
            payload: value.to_string().into(),
            entities: entities.into(),
        })
    }

    fn matches(&self, filter: &Filter) -> bool {
        // The entity filter is about articles; notices and dead letters asked for all come.
        filter.topics.contains(&*self.topic)
            && (self.kind != Kind::Article
                || filter
                    .entities
                    .as_ref()
                    .is_none_or(|wanted| self.entities.iter().any(|id| wanted.contains(id))))
    }
}

/// What a client reads: topics, and optionally only articles naming one of the entities.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub topics: HashSet<String>,
    pub entities: Option<HashSet<String>>,
}

/// Why a client's stream ended on the gateway's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Its buffer filled: it read more slowly than the topics were written.
    SlowClient,
    /// The gateway is shutting down.
    Shutdown,
}

impl DropReason {
    /// The `reason` label of `newsflow_gateway_clients_dropped_total` and of the final event.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::SlowClient => "slow_client",
            DropReason::Shutdown => "shutdown",
        }
    }
}

/// A registered client's end: live records, and the reason if the hub drops it.
#[derive(Debug)]
pub struct Subscription {
    pub id: u64,
    pub records: mpsc::Receiver<Record>,
    pub dropped: oneshot::Receiver<DropReason>,
    /// Where the live records begin, on every partition of the client's topics.
    pub live_from: Position,
}

struct Client {
    filter: Filter,
    sender: mpsc::Sender<Record>,
    dropped: oneshot::Sender<DropReason>,
}

#[derive(Default)]
struct State {
    next_id: u64,
    clients: HashMap<u64, Client>,
    /// The next offset the readers deliver, per partition.
    live: Position,
}

/// Counts the hub reports (to the metrics).
pub trait HubEvents: Send + Sync {
    fn delivered(&self, _clients: usize) {}
    fn dropped(&self, _reason: DropReason) {}
}

/// Reports nothing.
#[derive(Debug, Default)]
pub struct NoEvents;
impl HubEvents for NoEvents {}

/// The fan-out shared by the readers and the clients.
pub struct Hub {
    state: Mutex<State>,
    buffer: usize,
    max_clients: usize,
    events: Arc<dyn HubEvents>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("clients", &self.clients())
            .field("buffer", &self.buffer)
            .finish()
    }
}

/// `--max-clients` clients are connected already.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the gateway serves its maximum of {0} clients")]
pub struct Full(pub usize);

impl Hub {
    pub fn new(buffer: usize, max_clients: usize, events: Arc<dyn HubEvents>) -> Self {
        Self {
            state: Mutex::default(),
            buffer: buffer.max(1),
            max_clients,
            events,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn clients(&self) -> usize {
        self.lock().clients.len()
    }

    /// Where a reader starts on a partition (its high watermark when it was assigned).
    pub fn start_partition(&self, topic: &str, partition: i32, next: i64) {
        let mut state = self.lock();
        if state.live.next(topic, partition).is_none() {
            state.live.set(topic, partition, next);
        }
    }

    /// Registers a client; its live records begin at the returned `live_from`.
    pub fn subscribe(&self, filter: Filter) -> Result<Subscription, Full> {
        let mut state = self.lock();
        if state.clients.len() >= self.max_clients {
            return Err(Full(self.max_clients));
        }
        let (sender, records) = mpsc::channel(self.buffer);
        let (dropped_tx, dropped) = oneshot::channel();
        let mut live_from = Position::default();
        for (topic, partition, next) in state.live.partitions() {
            if filter.topics.contains(topic) {
                live_from.set(topic, partition, next);
            }
        }
        state.next_id += 1;
        let id = state.next_id;
        state.clients.insert(
            id,
            Client {
                filter,
                sender,
                dropped: dropped_tx,
            },
        );
        Ok(Subscription {
            id,
            records,
            dropped,
            live_from,
        })
    }

    /// A client went away on its own.
    pub fn unsubscribe(&self, id: u64) {
        self.lock().clients.remove(&id);
    }

    /// Hands one record to every client that asked for it; drops the clients that cannot take
    /// it. Records of a partition must come in offset order.
    pub fn publish(&self, record: &Record) {
        let mut state = self.lock();
        state
            .live
            .advance(&record.topic, record.partition, record.offset);
        let mut full = Vec::new();
        let mut delivered = 0;
        for (id, client) in &state.clients {
            if !record.matches(&client.filter) {
                continue;
            }
            match client.sender.try_send(record.clone()) {
                Ok(()) => delivered += 1,
                Err(mpsc::error::TrySendError::Full(_)) => full.push((*id, DropReason::SlowClient)),
                // The client's stream has ended; it unsubscribes itself, or we do it here.
                Err(mpsc::error::TrySendError::Closed(_)) => full.push((*id, DropReason::Shutdown)),
            }
        }
        for (id, reason) in full {
            if let Some(client) = state.clients.remove(&id) {
                if reason == DropReason::SlowClient {
                    self.events.dropped(reason);
                    let _ = client.dropped.send(reason);
                }
            }
        }
        drop(state);
        self.events.delivered(delivered);
    }

    /// Ends every client's stream with `Shutdown`.
    pub fn close(&self) {
        let clients: Vec<Client> = self.lock().clients.drain().map(|(_, c)| c).collect();
        for client in clients {
            self.events.dropped(DropReason::Shutdown);
            let _ = client.dropped.send(DropReason::Shutdown);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(topic: &str, partition: i32, offset: i64, entities: &[&str]) -> Record {
        Record {
            kind: Kind::Article,
            topic: topic.into(),
            partition,
            offset,
            payload: format!("{{\"offset\":{offset}}}").into(),
            entities: entities
                .iter()
                .map(|e| (*e).to_owned())
                .collect::<Vec<_>>()
                .into(),
        }
    }

    fn filter(topics: &[&str], entities: Option<&[&str]>) -> Filter {
        Filter {
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
            entities: entities.map(|e| e.iter().map(|e| (*e).to_owned()).collect()),
        }
    }

    #[tokio::test]
    async fn each_client_gets_what_it_asked_for() {
        let hub = Hub::new(16, 10, Arc::new(NoEvents));
        let mut war = hub.subscribe(filter(&["war"], None)).unwrap();
        let mut kyiv = hub
            .subscribe(filter(&["war", "china"], Some(&["Q1899"])))
            .unwrap();
        hub.publish(&record("war", 0, 5, &["Q1899"]));
        hub.publish(&record("china", 1, 9, &["Q148"]));
        hub.publish(&record("war", 0, 6, &[]));
        let offsets = |sub: &mut Subscription| {
            let mut got = Vec::new();
            while let Ok(r) = sub.records.try_recv() {
                got.push(r.offset);
            }
            got
        };
        assert_eq!(offsets(&mut war), [5, 6]);
        assert_eq!(offsets(&mut kyiv), [5]);
    }

    #[tokio::test]
    async fn a_slow_client_is_dropped_with_its_reason_and_the_others_keep_everything() {
        let hub = Hub::new(4, 10, Arc::new(NoEvents));
        let mut stuck = hub.subscribe(filter(&["war"], None)).unwrap();
        let mut readers: Vec<Subscription> = (0..3)
            .map(|_| hub.subscribe(filter(&["war"], None)).unwrap())
            .collect();
        let mut got = vec![0; readers.len()];
        for offset in 0..100 {
            hub.publish(&record("war", 0, offset, &[]));
            for (reader, count) in readers.iter_mut().zip(&mut got) {
                while reader.records.try_recv().is_ok() {
                    *count += 1;
                }
            }
        }
        assert_eq!(got, [100, 100, 100]);
        assert_eq!(stuck.dropped.try_recv(), Ok(DropReason::SlowClient));
        assert_eq!(hub.clients(), 3);
        // What it had buffered before it was dropped is still there for it to read.
        assert_eq!(stuck.records.recv().await.map(|r| r.offset), Some(0));
    }

    #[tokio::test]
    async fn a_client_learns_where_its_live_records_begin() {
        let hub = Hub::new(8, 10, Arc::new(NoEvents));
        hub.start_partition("war", 0, 40);
        hub.start_partition("war", 1, 7);
        hub.start_partition("china", 0, 3);
        hub.publish(&record("war", 0, 40, &[]));
        hub.start_partition("war", 0, 0); // a reader restarting does not move it back
        let mut sub = hub.subscribe(filter(&["war"], None)).unwrap();
        assert_eq!(sub.live_from.next("war", 0), Some(41));
        assert_eq!(sub.live_from.next("war", 1), Some(7));
        assert_eq!(sub.live_from.next("china", 0), None);
        hub.publish(&record("war", 0, 41, &[]));
        assert_eq!(sub.records.recv().await.map(|r| r.offset), Some(41));
    }

    #[tokio::test]
    async fn clients_are_bounded_and_closed_on_shutdown() {
        let hub = Hub::new(8, 2, Arc::new(NoEvents));
        let mut a = hub.subscribe(filter(&["war"], None)).unwrap();
        let b = hub.subscribe(filter(&["war"], None)).unwrap();
        assert_eq!(hub.subscribe(filter(&["war"], None)).unwrap_err(), Full(2));
        hub.unsubscribe(b.id);
        let _c = hub.subscribe(filter(&["war"], None)).unwrap();
        hub.close();
        assert_eq!(a.dropped.try_recv(), Ok(DropReason::Shutdown));
        assert_eq!(hub.clients(), 0);
    }

    #[test]
    fn records_are_parsed_once_with_their_entities() {
        let record = Record::parse(
            Kind::Article,
            "war".into(),
            0,
            1,
            br#"{"id":"a",
                "entities":[{"id":"Q1899","name":"Kyiv"},{"id":null,"name":"X"}]}"#,
        )
        .unwrap();
        assert_eq!(&*record.entities, ["Q1899".to_owned()]);
        assert!(!record.payload.contains('\n'));
        assert!(Record::parse(Kind::Article, "war".into(), 0, 1, b"not json").is_none());
    }
}
