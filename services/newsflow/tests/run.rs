//! `newsflow run` as a user runs it: the binary, real files, the shared corpus.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

use std::path::Path;
use std::process::{Command, Output, Stdio};

use newsflow_core::EventKind;
use newsflow_core::decode::DEFAULT_MAX_CONTENT_BYTES;
use newsflow_core::ids;
use newsflow_testkit::{assert_valid, corpus_dir};
use serde_json::Value;

fn newsflow(args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_newsflow"));
    command
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // The env fallbacks must not leak in from the caller's shell.
    for (key, _) in std::env::vars() {
        if key.starts_with("NEWSFLOW_") {
            command.env_remove(key);
        }
    }
    let mut child = command.spawn().expect("newsflow starts");
    if let Some(text) = stdin {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    child.wait_with_output().expect("newsflow finishes")
}

fn lines(bytes: &[u8]) -> Vec<Value> {
    std::str::from_utf8(bytes)
        .expect("output is UTF-8")
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// Validates every output line against the schema of what the chain emits: a duplicate notice
/// when it has `duplicate_of`, else the last stage's primary output. Holds for every state of
/// the chain, as stages are added.
fn assert_valid_outputs(outputs: &[Value]) {
    let kinds = newsflow::pipeline::default_chain(DEFAULT_MAX_CONTENT_BYTES, Default::default())
        .expect("the default chain builds")
        .output_kinds();
    for output in outputs {
        let kind = if output.get("duplicate_of").is_some() {
            EventKind::DuplicateNotice
        } else {
            kinds[0]
        };
        assert!(
            kinds.contains(&kind),
            "the chain does not emit {kind:?}: {output}"
        );
        assert_valid(kind.schema_file(), output);
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn jsonl_good_lines_flow_in_order_and_the_bad_one_goes_to_the_dlq() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("feed.jsonl");
    std::fs::write(
        &input,
        concat!(
            r#"{"id":"a","content_type":"text/plain","content":"First story."}"#,
            "\n",
            "{\"id\":\"broken\", this is not json\n",
            "\n",
            r#"{"id":"b","source":"wire","content_type":"text/html","content":"<p>Second</p>"}"#,
            "\n",
        ),
    )
    .unwrap();
    let dlq = dir.path().join("dlq.jsonl");
    let out = newsflow(
        &[
            "run",
            input.to_str().unwrap(),
            "--dlq",
            dlq.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let outputs = lines(&out.stdout);
    let ids: Vec<&str> = outputs.iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["a", "b"]);
    assert_eq!(
        outputs[0]["source"], "feed",
        "source defaults to the file stem"
    );
    assert_eq!(outputs[1]["source"], "wire", "a line's own source wins");
    assert_valid_outputs(&outputs);

    let dead = lines(&std::fs::read(&dlq).unwrap());
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["error_kind"], "malformed_json");
    assert_eq!(dead[0]["input"]["line"], 2);
    assert_eq!(dead[0]["input"]["path"], input.to_str().unwrap());
    assert_eq!(dead[0]["original"], "{\"id\":\"broken\", this is not json");
    assert_valid("dead-letter-line.v1.schema.json", &dead[0]);
}

#[test]
fn stdin_rejections_are_summarised_on_stderr_without_dlq() {
    let out = newsflow(
        &["run", "-"],
        Some("{\"content_type\":\"text/plain\",\"content\":\"hello\"}\n[]\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let outputs = lines(&out.stdout);
    assert_eq!(outputs.len(), 1);
    assert_eq!(outputs[0]["source"], "stdin");
    assert_eq!(outputs[0]["id"], ids::id_for_content("stdin", "hello"));
    let err = stderr(&out);
    assert!(
        err.contains("rejected -:2") && err.contains("invalid_field"),
        "{err}"
    );
}

#[test]
fn the_bbc_corpus_runs_in_path_order_with_windows_1252_decoded() {
    let corpus = corpus_dir().join("bbc-2005");
    let out = newsflow(&["run", corpus.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let outputs = lines(&out.stdout);

    // Every .txt file below the folder (in any case), sorted by path.
    let mut expected = Vec::new();
    for entry in walk(&corpus) {
        let relative = entry
            .strip_prefix(&corpus)
            .unwrap()
            .to_str()
            .unwrap()
            .replace('\\', "/");
        if relative.to_ascii_lowercase().ends_with(".txt") {
            expected.push(ids::id_for_file("bbc-2005", &relative));
        }
    }
    let ids: Vec<String> = outputs
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(ids.len() > 2000, "only {} articles", ids.len());
    assert_eq!(ids, expected);
    assert_valid_outputs(&outputs);

    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(
        !text.contains('\u{fffd}'),
        "a replacement character in the output"
    );
    let sport_199 = ids::id_for_file("bbc-2005", "sport/199.txt");
    let article = outputs
        .iter()
        .find(|o| o["id"] == sport_199.as_str())
        .unwrap();
    let serialized = article.to_string();
    assert!(serialized.contains("£15.8m"), "{serialized}");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    let mut files = Vec::new();
    for path in entries {
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn without_input_it_runs_the_shipped_samples() {
    let out = newsflow(&["run"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let outputs = lines(&out.stdout);
    assert_eq!(outputs.len(), newsflow::input::SAMPLES.len());
    assert!(outputs.iter().all(|o| o["source"] == "samples"));
    assert_valid_outputs(&outputs);
}

#[test]
fn unknown_files_are_skipped_and_counted_and_missing_inputs_fail_the_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.TXT"), "A story.").unwrap();
    std::fs::write(dir.path().join("notes.pdf"), "%PDF").unwrap();
    std::fs::write(dir.path().join("empty.txt"), "  \n").unwrap();
    let missing = dir.path().join("missing.txt");
    let out = newsflow(
        &[
            "run",
            dir.path().to_str().unwrap(),
            missing.to_str().unwrap(),
            "--source",
            "desk",
        ],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "an unreadable input fails the run"
    );
    let outputs = lines(&out.stdout);
    assert_eq!(outputs.len(), 1, "the readable inputs are still processed");
    assert_eq!(outputs[0]["id"], ids::id_for_file("desk", "a.TXT"));
    let err = stderr(&out);
    assert!(err.contains("1 files skipped"), "{err}");
    assert!(err.contains("empty_content"), "{err}");
    assert!(err.contains("missing.txt"), "{err}");
}

#[test]
fn an_unwritable_output_fails_the_run() {
    let out = newsflow(&["run", "--output", "/nonexistent-dir/out.jsonl"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--output"), "{}", stderr(&out));
}

#[test]
fn an_oversized_file_is_rejected_without_stopping_the_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("big.txt"), "word ".repeat(1000)).unwrap();
    std::fs::write(dir.path().join("small.txt"), "A story.").unwrap();
    let dlq = dir.path().join("dlq.jsonl");
    let out = newsflow(
        &[
            "run",
            dir.path().to_str().unwrap(),
            "--max-content-bytes",
            "100",
            "--dlq",
            dlq.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(lines(&out.stdout).len(), 1);
    let dead = lines(&std::fs::read(&dlq).unwrap());
    assert_eq!(dead[0]["error_kind"], "too_large");
    assert_valid("dead-letter-line.v1.schema.json", &dead[0]);
}
