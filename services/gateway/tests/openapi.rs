//! `schemas/openapi.yaml` is a valid OpenAPI 3.1 document (against the OpenAPI Initiative's
//! own schema), its references resolve, and it documents exactly the routes the gateway serves.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

use newsflow_gateway::server::ROUTES;
use serde_json::Value;

#[test]
fn the_document_is_valid_openapi_3_1() {
    let meta: Value = serde_json::from_str(
        &std::fs::read_to_string(
            newsflow_testkit::workspace_root()
                .join("crates/testkit/vendor/openapi-3.1.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&meta)
        .unwrap();
    let document = newsflow_testkit::openapi();
    let errors: Vec<String> = validator
        .iter_errors(&document)
        .map(|err| format!("{err} at {}", err.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));

    // Something invalid is refused, so the check above means something.
    let mut broken = document.clone();
    broken["paths"]["/v1/articles"]["post"]["responses"]["202"] = Value::from("accepted");
    assert!(!validator.is_valid(&broken));
}

fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                out.push(target);
            }
            map.values().for_each(|v| refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[test]
fn every_reference_resolves() {
    let document = newsflow_testkit::openapi();
    let mut targets = Vec::new();
    refs(&document, &mut targets);
    assert!(targets.len() > 10);
    for target in targets {
        if let Some(pointer) = target.strip_prefix('#') {
            assert!(document.pointer(pointer).is_some(), "dangling {target}");
        } else {
            let path = newsflow_testkit::schemas_dir().join(target);
            assert!(
                path.exists(),
                "{target}: no such schema beside openapi.yaml"
            );
        }
    }
}

#[test]
fn it_documents_exactly_the_routes_served() {
    let document = newsflow_testkit::openapi();
    let mut documented: Vec<(String, String)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| ["get", "post", "put", "delete", "patch"].contains(&k.as_str()))
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect();
    documented.sort();
    let mut served: Vec<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    served.sort();
    assert_eq!(documented, served);
}

#[test]
fn the_documented_bodies_are_what_the_gateway_writes() {
    use newsflow_gateway::ingest::{Ingest, PageHeaders};
    let ingest = Ingest::new().unwrap();
    let invalid = ingest
        .parse(
            Some("application/json"),
            &PageHeaders::default(),
            br#"{"id":"a","source":"s","content_type":"text/plain","content":"x","url":"nope"}"#,
        )
        .unwrap_err();
    newsflow_testkit::assert_valid_api("InvalidBody", &invalid.to_json());
    let not_json = ingest
        .parse(Some("application/json"), &PageHeaders::default(), b"{")
        .unwrap_err();
    newsflow_testkit::assert_valid_api("InvalidBody", &not_json.to_json());
    let media = ingest
        .parse(Some("image/png"), &PageHeaders::default(), b"x")
        .unwrap_err();
    newsflow_testkit::assert_valid_api("Error", &media.to_json());
}
