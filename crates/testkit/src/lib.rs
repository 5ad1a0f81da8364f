//! Helpers for newsflow's tests: validating JSON against the project's schemas, finding the
//! shared corpus and the test broker, and unique topic names so tests never see each other.

pub mod kafka;
pub mod scores;
pub mod synthetic;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rand::Rng as _;
use serde_json::Value;

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/testkit lives two levels below the workspace root")
        .to_path_buf()
}

/// `schemas/` at the workspace root.
pub fn schemas_dir() -> PathBuf {
    workspace_root().join("schemas")
}

/// The shared corpus: `NEWSFLOW_CORPUS`, else `../shared/corpus` beside the workspace.
pub fn corpus_dir() -> PathBuf {
    let dir = std::env::var_os("NEWSFLOW_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/corpus"));
    assert!(
        dir.is_dir(),
        "the news corpus is not at {} (set NEWSFLOW_CORPUS)",
        dir.display()
    );
    dir
}

/// The bootstrap servers of the test broker: `NEWSFLOW_TEST_BROKERS`, else 127.0.0.1:9092
/// (what `deploy/local/kafka.sh start` runs).
pub fn brokers() -> String {
    std::env::var("NEWSFLOW_TEST_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".to_owned())
}

/// A name no other test run uses: `<prefix>-<random hex>`.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{:016x}", rand::rng().random::<u64>())
}

fn all_schemas() -> &'static Vec<(String, Value)> {
    static SCHEMAS: OnceLock<Vec<(String, Value)>> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let mut schemas = Vec::new();
        for entry in std::fs::read_dir(schemas_dir()).expect("schemas/ is readable") {
            let path = entry.expect("schemas/ entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            if name.ends_with(".schema.json") {
                let text = std::fs::read_to_string(&path).expect("schema is readable");
                let value: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|err| panic!("{name} is not JSON: {err}"));
                schemas.push((name, value));
            }
        }
        schemas
    })
}

/// Serves `$ref`s to the project's own schemas from `schemas/`, so validation never goes online.
struct LocalSchemas;

impl jsonschema::Retrieve for LocalSchemas {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        all_schemas()
            .iter()
            .find(|(_, schema)| schema["$id"].as_str() == Some(uri.as_str()))
            .map(|(_, schema)| schema.clone())
            .ok_or_else(|| format!("{uri} is not a schema in schemas/").into())
    }
}

/// A validator for `schemas/<file>` (JSON Schema 2020-12, formats asserted); `$ref`s to the
/// other schemas of the folder resolve offline.
pub fn validator(file: &str) -> jsonschema::Validator {
    let (_, root) = all_schemas()
        .iter()
        .find(|(name, _)| name == file)
        .unwrap_or_else(|| panic!("no schema named {file} in schemas/"));
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .with_retriever(LocalSchemas)
        .build(root)
        .unwrap_or_else(|err| panic!("{file} is not a valid schema: {err}"))
}

/// Every validation error of `instance` against `schemas/<file>`, as readable lines.
pub fn schema_errors(file: &str, instance: &Value) -> Vec<String> {
    validator(file)
        .iter_errors(instance)
        .map(|err| format!("{} at {}", err, err.instance_path()))
        .collect()
}

/// Panics with every error unless `instance` is valid against `schemas/<file>`.
pub fn assert_valid(file: &str, instance: &Value) {
    let errors = schema_errors(file, instance);
    assert!(
        errors.is_empty(),
        "not valid against {file}:\n  {}\ninstance: {instance}",
        errors.join("\n  ")
    );
}

/// `schemas/openapi.yaml`, the gateway's HTTP API, as JSON.
pub fn openapi() -> Value {
    let path = schemas_dir().join("openapi.yaml");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// Panics with every error unless `instance` is valid against the component schema `name` of
/// `schemas/openapi.yaml` (its `#/components/...` references resolve within the document).
pub fn assert_valid_api(name: &str, instance: &Value) {
    let document = openapi();
    let root = serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("#/components/schemas/{name}"),
        "components": document["components"],
    });
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|err| panic!("components/schemas/{name} is not a valid schema: {err}"));
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|err| format!("{} at {}", err, err.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "not valid against openapi.yaml's {name}:\n  {}\ninstance: {instance}",
        errors.join("\n  ")
    );
}
