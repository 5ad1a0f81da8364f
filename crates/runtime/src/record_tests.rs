//! Processing one record, without a broker.

use std::time::Duration;

use newsflow_core::event::RawEvent;
use newsflow_core::stage::{DefaultTopic, INPUT, IdentityStage, PRIMARY, Port};
use newsflow_core::topics::{RAW, tag_topic};
use newsflow_core::{EventKind, StateChange};
use rdkafka::message::{Header, OwnedMessage, Timestamp};

use super::*;
use crate::bindings::TopicBinding;

fn config() -> RunnerConfig {
    let mut config = crate::config::tests::sample();
    config.outputs = vec![TopicBinding::named(PRIMARY, "output_topic", "out")];
    config
}

fn raw_json(id: &str) -> Vec<u8> {
    Event::Raw(RawEvent::plain_text(id, "s", "text"))
        .to_json()
        .unwrap()
}

fn message(payload: Option<Vec<u8>>, headers: Option<OwnedHeaders>) -> OwnedMessage {
    OwnedMessage::new(
        payload,
        Some(b"key".to_vec()),
        "in".into(),
        Timestamp::CreateTime(1_700_000_000_000),
        2,
        41,
        headers,
    )
}

fn processor<S: Stage>(stage: S) -> Processor<S> {
    Processor::new(stage, config(), RunnerMetrics::new("t")).unwrap()
}

fn header(headers: &OwnedHeaders, key: &str) -> Option<String> {
    headers
        .iter()
        .find(|h| h.key == key)
        .and_then(|h| h.value)
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

async fn process<S: Stage>(stage: S, message: &OwnedMessage) -> Result<Processed, RunnerError> {
    processor(stage)
        .process(message, &CancellationToken::new())
        .await
}

#[tokio::test]
async fn an_output_goes_to_its_topic_keyed_by_id_with_cloudevents_headers() {
    let stage = IdentityStage::new(EventKind::Raw);
    let processed = process(stage, &message(Some(raw_json("a")), None))
        .await
        .unwrap();
    assert_eq!(processed.input.position.offset, 41);
    assert_eq!(processed.records.len(), 1);
    let record = &processed.records[0];
    assert_eq!(record.key.as_deref(), Some(&b"a"[..]));
    assert_eq!(record.to.len(), 1);
    let to = &record.to[0];
    assert_eq!((to.topic.as_str(), to.label), ("out", "primary"));
    assert_eq!(
        header(&to.headers, envelope::CE_TYPE).as_deref(),
        Some(EventKind::Raw.cloudevents_type())
    );
    assert_eq!(
        header(&to.headers, envelope::CE_SOURCE).as_deref(),
        Some("/newsflow/t")
    );
    assert!(header(&to.headers, envelope::TRACEPARENT).is_some());
}

#[tokio::test]
async fn a_forged_ce_type_goes_to_the_dead_letter_topic_cut_to_the_limit() {
    let headers = OwnedHeaders::new().insert(Header {
        key: envelope::CE_TYPE,
        value: Some("org.example.other"),
    });
    let stage = IdentityStage::new(EventKind::Raw);
    let processed = process(stage, &message(Some(raw_json("a")), Some(headers)))
        .await
        .unwrap();
    let record = &processed.records[0];
    assert_eq!(
        record.payload.as_ref().map(Vec::len),
        Some(8),
        "cut to dlq_max_bytes"
    );
    assert_eq!(record.key.as_deref(), Some(&b"key"[..]), "the original key");
    let to = &record.to[0];
    assert_eq!((to.topic.as_str(), to.label), ("dlq", "dlq"));
    assert_eq!(
        header(&to.headers, "x-newsflow-error-kind").as_deref(),
        Some("unexpected_event_type")
    );
    assert_eq!(
        header(&to.headers, "x-newsflow-source-offset").as_deref(),
        Some("41")
    );
}

#[tokio::test]
async fn bad_json_and_an_empty_record_are_dead_lettered() {
    let stage = IdentityStage::new(EventKind::Raw);
    let processed = process(stage, &message(Some(b"{not json".to_vec()), None))
        .await
        .unwrap();
    assert_eq!(processed.records[0].to[0].label, "dlq");
    let processed = process(stage, &message(None, None)).await.unwrap();
    let to = &processed.records[0].to[0];
    assert_eq!(
        header(&to.headers, "x-newsflow-error-kind").as_deref(),
        Some("empty_content")
    );
}

/// Emits to the given routes, then changes its state.
struct Routed(Vec<Route>);

impl Stage for Routed {
    fn name(&self) -> &'static str {
        "routed"
    }
    fn inputs(&self) -> &'static [Port] {
        const { &[Port::new(INPUT, EventKind::Raw, RAW)] }
    }
    fn outputs(&self) -> &'static [Port] {
        const {
            &[
                Port::new(PRIMARY, EventKind::Raw, RAW),
                Port {
                    name: "topic",
                    kind: EventKind::Raw,
                    topic: DefaultTopic::PerKey(tag_topic),
                },
            ]
        }
    }
    fn process(&mut self, event: Event, _ctx: &StageContext) -> Result<Vec<Emit>, StageError> {
        let first = self.0[0].clone();
        Ok(vec![
            Emit::new(first, event).with_copies(self.0[1..].to_vec()),
        ])
    }
    fn take_state_changes(&mut self) -> Vec<StateChange> {
        vec![StateChange {
            key: "k".into(),
            value: None,
        }]
    }
}

#[tokio::test]
async fn copies_go_to_their_topics_from_one_encoding_and_state_to_the_state_topic() {
    let stage = Routed(vec![Route::PRIMARY, Route::keyed("topic", "world")]);
    let mut config = config();
    config.outputs.push(TopicBinding::prefix(
        "topic",
        "tag_topic_prefix",
        "staging.",
    ));
    let processed = Processor::new(stage, config, RunnerMetrics::new("t"))
        .unwrap()
        .process(
            &message(Some(raw_json("a")), None),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    let topics: Vec<(&str, &str)> = processed
        .records
        .iter()
        .flat_map(|r| r.to.iter().map(|d| (d.topic.as_str(), d.label)))
        .collect();
    assert_eq!(
        topics,
        [
            ("out", "primary"),
            ("staging.news.topic.world.v1", "topic"),
            ("state", "state")
        ]
    );
    let ids: Vec<_> = processed.records[0]
        .to
        .iter()
        .map(|d| header(&d.headers, envelope::CE_ID))
        .collect();
    assert_ne!(ids[0], ids[1], "each output its own ce_id");
    assert_eq!(processed.records[1].payload, None, "a tombstone");
    assert_eq!(processed.state.len(), 1, "kept to redo a batch");
}

#[tokio::test]
async fn an_output_the_stage_does_not_declare_is_a_wiring_error() {
    let stage = Routed(vec![Route::to("duplicates")]);
    let err = process(stage, &message(Some(raw_json("a")), None))
        .await
        .unwrap_err();
    assert!(matches!(err, RunnerError::Wiring(_)), "{err}");
    assert!(err.to_string().contains("duplicates"), "{err}");
}

/// Fails transiently `left` times, then passes the event on.
struct Flaky {
    left: u32,
}

impl Stage for Flaky {
    fn name(&self) -> &'static str {
        "flaky"
    }
    fn inputs(&self) -> &'static [Port] {
        const { &[Port::new(INPUT, EventKind::Raw, RAW)] }
    }
    fn outputs(&self) -> &'static [Port] {
        const { &[Port::new(PRIMARY, EventKind::Raw, RAW)] }
    }
    fn process(&mut self, event: Event, _ctx: &StageContext) -> Result<Vec<Emit>, StageError> {
        if self.left > 0 {
            self.left -= 1;
            return Err(StageError::Transient("not now".into()));
        }
        Ok(vec![Emit::new(Route::PRIMARY, event)])
    }
}

#[tokio::test(start_paused = true)]
async fn transient_stage_errors_are_retried_and_counted() {
    let mut processor = processor(Flaky { left: 2 });
    let processed = processor
        .process(
            &message(Some(raw_json("a")), None),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(processed.records[0].to[0].label, "primary");
    assert_eq!(
        processor
            .metrics
            .retries
            .with_label_values(&["stage"])
            .get(),
        2
    );

    let mut stuck = processor_with_short_retries(Flaky { left: u32::MAX });
    let err = stuck
        .process(
            &message(Some(raw_json("a")), None),
            &CancellationToken::new(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, RunnerError::Stage { stage: "flaky", .. }),
        "{err}"
    );
}

fn processor_with_short_retries<S: Stage>(stage: S) -> Processor<S> {
    let mut config = config();
    config.retry_timeout = Duration::from_secs(1);
    Processor::new(stage, config, RunnerMetrics::new("t")).unwrap()
}
