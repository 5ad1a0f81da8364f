//! The contracts in `schemas/`: every example validates or fails as its name says (formats
//! asserted), and the Rust types round-trip through the schemas.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

use std::path::{Path, PathBuf};

use newsflow_core::dead_letter::DeadLetterLine;
use newsflow_core::event::{
    DeduplicatedArticle, DuplicateNotice, EnrichedArticle, NormalizedArticle, RawEvent,
};
use newsflow_core::story::StoryRecord;
use newsflow_core::{ErrorKind, EventKind};
use newsflow_testkit::{schema_errors, schemas_dir, validator};
use serde_json::Value;

fn examples(stem: &str, validity: &str) -> Vec<PathBuf> {
    let dir = schemas_dir().join("examples").join(stem).join(validity);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no {validity} examples in {}",
        dir.display()
    );
    files
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn schema_stems() -> Vec<String> {
    let mut stems: Vec<String> = std::fs::read_dir(schemas_dir())
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".schema.json").map(str::to_owned)
        })
        .collect();
    stems.sort();
    stems
}

#[test]
fn every_schema_has_valid_and_invalid_examples_that_behave_as_named() {
    let stems = schema_stems();
    assert_eq!(stems.len(), 7, "{stems:?}");
    for stem in stems {
        let validator = validator(&format!("{stem}.schema.json"));
        for path in examples(&stem, "valid") {
            let errors: Vec<String> = validator
                .iter_errors(&read_json(&path))
                .map(|e| format!("{e} at {}", e.instance_path()))
                .collect();
            assert!(
                errors.is_empty(),
                "{} should be valid: {errors:?}",
                path.display()
            );
        }
        for path in examples(&stem, "invalid") {
            // `<keyword>.<what-is-wrong>.json`: the rule the example breaks comes first.
            let name = path.file_name().unwrap().to_str().unwrap();
            let keyword = name.split('.').next().unwrap();
            let instance = read_json(&path);
            let broken: Vec<String> = validator
                .iter_errors(&instance)
                .map(|e| e.kind().keyword().to_owned())
                .collect();
            assert!(
                broken.iter().any(|k| k == keyword),
                "{} should break `{keyword}`, but breaks {broken:?}",
                path.display()
            );
        }
    }
}

/// Deserializes into `T`, serializes back and checks the result is the same JSON and valid.
fn round_trip<T>(stem: &str)
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    let schema = format!("{stem}.schema.json");
    for path in examples(stem, "valid") {
        let original = read_json(&path);
        let typed: T = serde_json::from_value(original.clone())
            .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        let back = serde_json::to_value(&typed).unwrap();
        assert_eq!(back, original, "{} does not round-trip", path.display());
        let errors = schema_errors(&schema, &back);
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    }
}

#[test]
fn rust_types_round_trip_through_the_schemas() {
    round_trip::<RawEvent>("raw.v1");
    round_trip::<NormalizedArticle>("normalized.v1");
    round_trip::<DeduplicatedArticle>("deduplicated.v1");
    round_trip::<DuplicateNotice>("duplicate-notice.v1");
    round_trip::<EnrichedArticle>("enriched.v1");
    round_trip::<DeadLetterLine>("dead-letter-line.v1");
    round_trip::<StoryRecord>("story.v1");
}

#[test]
fn every_event_kind_names_an_existing_schema() {
    for kind in EventKind::ALL {
        assert!(
            schemas_dir().join(kind.schema_file()).is_file(),
            "{kind:?} → {} is missing",
            kind.schema_file()
        );
    }
}

#[test]
fn the_error_kind_enum_is_the_closed_list_in_rust() {
    let schema = read_json(&schemas_dir().join("dead-letter-line.v1.schema.json"));
    let listed: Vec<&str> = schema["$defs"]["error_kind"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let ours: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(listed, ours);
}
