//! `schemas/asyncapi.yaml` documents every topic the code declares, with the payload schema,
//! CloudEvents type and dead-letter headers the code uses.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

use newsflow_core::dead_letter::headers;
use newsflow_core::topics::{TOPICS, tag_topic};
use serde_json::Value;

fn document() -> Value {
    let path = newsflow_testkit::schemas_dir().join("asyncapi.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

/// Follows a local `$ref` (`#/components/...`).
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(pointer) if pointer.starts_with('#') => doc
            .pointer(&pointer[1..])
            .unwrap_or_else(|| panic!("dangling {pointer}")),
        _ => value,
    }
}

fn channel<'a>(doc: &'a Value, address: &str) -> &'a Value {
    doc["channels"]
        .as_object()
        .unwrap()
        .values()
        .find(|c| c["address"] == address)
        .unwrap_or_else(|| panic!("asyncapi.yaml has no channel for {address}"))
}

fn messages<'a>(doc: &'a Value, channel: &'a Value) -> Vec<&'a Value> {
    channel["messages"]
        .as_object()
        .unwrap()
        .values()
        .map(|m| resolve(doc, m))
        .collect()
}

#[test]
fn every_declared_topic_is_documented_with_its_contract() {
    let doc = document();
    for topic in TOPICS {
        let channel = channel(&doc, topic.name);
        let Some(kind) = topic.kind else { continue };
        let messages = messages(&doc, channel);
        assert_eq!(messages.len(), 1, "{}", topic.name);
        let message = messages[0];
        assert_eq!(
            message["payload"]["$ref"],
            kind.schema_file(),
            "{}",
            topic.name
        );
        assert!(
            newsflow_testkit::schemas_dir()
                .join(kind.schema_file())
                .is_file()
        );
        let headers = &message["headers"]["allOf"];
        let base = resolve(&doc, &headers[0]);
        for required in [
            "ce_specversion",
            "ce_id",
            "ce_source",
            "ce_type",
            "ce_time",
            "content-type",
        ] {
            assert!(
                base["required"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r == required),
                "{required}"
            );
        }
        assert!(base["properties"]["traceparent"].is_object());
        assert_eq!(
            headers[1]["properties"]["ce_type"]["const"],
            kind.cloudevents_type(),
            "{}",
            topic.name
        );
        let bindings = resolve(&doc, &message["bindings"]);
        assert_eq!(
            bindings["kafka"]["key"]["type"], "string",
            "{} is keyed by article id",
            topic.name
        );
    }
}

#[test]
fn the_story_topics_are_documented_compacted_and_keyed_by_story_id() {
    let doc = document();
    for name in [
        newsflow_core::topics::STORIES,
        newsflow_core::topics::STORY_STATE,
    ] {
        let spec = TOPICS.iter().find(|t| t.name == name).unwrap();
        assert_eq!(spec.cleanup, newsflow_core::topics::Cleanup::Compact);
        let channel = channel(&doc, name);
        let bindings = resolve(&doc, &channel["bindings"]);
        assert_eq!(
            bindings["kafka"]["topicConfiguration"]["cleanup.policy"][0], "compact",
            "{name}"
        );
    }
    let channel = channel(&doc, newsflow_core::topics::STORIES);
    let message = messages(&doc, channel)[0];
    assert_eq!(message["payload"]["$ref"], "story.v1.schema.json");
    assert!(
        message["bindings"]["kafka"]["key"]["description"]
            .as_str()
            .unwrap()
            .contains("story id")
    );
}

#[test]
fn the_per_tag_stream_is_documented() {
    let doc = document();
    let address = tag_topic("{topicId}");
    let channel = channel(&doc, &address);
    assert!(channel["parameters"]["topicId"].is_object());
    let messages = messages(&doc, channel);
    assert_eq!(messages[0]["payload"]["$ref"], "enriched.v1.schema.json");
}

#[test]
fn the_dead_letter_headers_are_the_ones_the_code_writes() {
    let doc = document();
    let channel = channel(&doc, newsflow_core::topics::DLQ);
    let message = messages(&doc, channel)[0];
    let mut documented: Vec<&str> = message["headers"]["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    let mut written: Vec<&str> = headers::ALL.to_vec();
    documented.sort_unstable();
    written.sort_unstable();
    assert_eq!(documented, written);
}

#[test]
fn every_consumer_group_is_named() {
    let doc = document();
    let groups: Vec<&str> = doc["operations"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|op| op.pointer("/bindings/kafka/groupId/enum/0"))
        .map(|g| g.as_str().unwrap())
        .collect();
    for group in [
        "newsflow-normalizer",
        "newsflow-deduplicator",
        "newsflow-tagger",
        "newsflow-relay",
    ] {
        assert!(groups.contains(&group), "{group} is not documented");
    }
}
