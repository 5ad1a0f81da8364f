//! `newsflow run --stories` and `newsflow stories explain` as a user runs them: the binary and
//! files written here.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

use std::path::Path;
use std::process::{Command, Output};

use newsflow_testkit::assert_valid;
use serde_json::Value;

fn newsflow(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_newsflow"));
    command.args(args);
    for (key, _) in std::env::vars() {
        if key.starts_with("NEWSFLOW_") {
            command.env_remove(key);
        }
    }
    command.output().unwrap()
}

const CALL: &str = "Xi tells Putin China will keep backing Russia\n\nChinese President Xi \
Jinping told Russian President Vladimir Putin in a phone call on Wednesday that Beijing was \
willing to keep supporting Moscow on sovereignty and security, the Kremlin said.\n\nThe two \
leaders also discussed trade, which has grown since Western sanctions were imposed.\n";
const CALL_2: &str = "Putin and Xi speak by phone\n\nVladimir Putin and Xi Jinping spoke by \
phone on Wednesday; Xi said China would keep supporting Russia on sovereignty and security, \
according to the Kremlin.\n\nTrade between the two countries has grown since the sanctions.\n";
const FLOOD: &str = "Floods force thousands from their homes in Assam\n\nHeavy monsoon rain \
flooded villages across Assam on Wednesday, forcing thousands of families into relief camps as \
the Brahmaputra river rose above the danger mark.\n\nRescue teams used boats to reach stranded \
villagers.\n";

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn run_writes_story_records_and_leaves_the_output_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir(&input).unwrap();
    write(&input, "1-call.txt", CALL);
    write(&input, "2-call.txt", CALL_2);
    write(&input, "3-flood.txt", FLOOD);
    let input = input.display().to_string();
    let plain = tmp.path().join("plain.jsonl").display().to_string();
    let with = tmp.path().join("with.jsonl").display().to_string();
    let stories = tmp.path().join("stories.jsonl").display().to_string();
    assert!(newsflow(&["run", &input, "-o", &plain]).status.success());
    let out = newsflow(&["run", &input, "-o", &with, "--stories", &stories]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("3 story records"));
    let articles = |path: &str| -> Vec<Value> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| {
                let mut v: Value = serde_json::from_str(l).unwrap();
                v["normalized_at"] = Value::Null;
                v["ingested_at"] = Value::Null;
                v
            })
            .collect()
    };
    assert_eq!(articles(&plain), articles(&with));
    let records: Vec<Value> = std::fs::read_to_string(&stories)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for record in &records {
        assert_valid("story.v1.schema.json", record);
    }
    let changes: Vec<&str> = records
        .iter()
        .map(|r| r["change"].as_str().unwrap())
        .collect();
    assert_eq!(changes, ["opened", "joined", "opened"]);
    assert_eq!(records[1]["story"]["id"], records[0]["story"]["id"]);
    assert_eq!(records[1]["story"]["article_count"], 2);
    assert_ne!(records[2]["story"]["id"], records[0]["story"]["id"]);
}

#[test]
fn explain_says_why_two_articles_are_one_story() {
    let tmp = tempfile::tempdir().unwrap();
    let a = write(tmp.path(), "a.txt", CALL);
    let b = write(tmp.path(), "b.txt", CALL_2);
    let c = write(tmp.path(), "c.txt", FLOOD);
    let out = newsflow(&["stories", "explain", &a, &b]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("same story"), "{text}");
    assert!(
        text.contains("shared terms:") && text.contains("putin"),
        "{text}"
    );
    assert!(
        text.contains("Q7747"),
        "Putin's Wikidata id among shared entities: {text}"
    );

    let out = newsflow(&["stories", "explain", &a, &c, "--json"]);
    assert!(out.status.success());
    let why: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(why["same_story"], false);
    assert!(why["similarity"].as_f64().unwrap() < why["threshold"].as_f64().unwrap());
}

/// A site's registration wall, the bulk of two pages that carry different reports.
const WALL: &str = "To continue reading this article you must be a registered subscriber. \
Registration is free and takes less than a minute: enter your email address and choose a \
password, then confirm your account from the message we send you. Subscribers get unlimited \
access to every story on our website and app, our daily newsletter with the morning headlines, \
and invitations to members-only events. Already registered? Sign in with your email address and \
password. Forgotten your password? Enter your email address and we will send you a link to \
reset it. By registering you agree to our terms of use and privacy policy, including the use of \
cookies to personalise content and advertising.";

#[test]
fn explain_says_when_the_run_joins_a_copy_whatever_the_similarity() {
    // Two reports behind one registration wall: the deduplicator holds B as a near copy of A,
    // so the run counts B in A's story; the story score, which leaves shared standing text
    // out, finds nothing in common. Explain must give the run's verdict and say why.
    let tmp = tempfile::tempdir().unwrap();
    let a = write(
        tmp.path(),
        "a.txt",
        &format!(
            "Council approves bus lanes on the High Street\n\nCouncillors voted on Tuesday to add bus lanes.\n\n{WALL}\n"
        ),
    );
    let b = write(
        tmp.path(),
        "b.txt",
        &format!(
            "Family bakery wins national bread award\n\nA family bakery took first prize for its sourdough.\n\n{WALL}\n"
        ),
    );
    let stories = tmp.path().join("stories.jsonl").display().to_string();
    let output = tmp.path().join("out.jsonl").display().to_string();
    let out = newsflow(&["run", &a, &b, "-o", &output, "--stories", &stories]);
    assert!(out.status.success());
    let records: Vec<Value> = std::fs::read_to_string(&stories)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 2);
    assert_eq!(records[1]["change"], "joined");
    assert_eq!(records[1]["story"]["id"], records[0]["story"]["id"]);

    let out = newsflow(&["stories", "explain", &a, &b, "--json"]);
    assert!(out.status.success());
    let why: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(why["similarity"].as_f64().unwrap() < why["threshold"].as_f64().unwrap());
    assert_eq!(why["same_story"], true, "{why}");
    assert_eq!(why["copy_of"]["kind"], "near", "{why}");
    assert_eq!(why["copy_of"]["id"], records[0]["article_id"], "{why}");

    let out = newsflow(&["stories", "explain", &a, &b]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("same story"), "{text}");
    assert!(text.contains("B is a near copy of A"), "{text}");

    // Two different articles are no copies: explain says null.
    let c = write(tmp.path(), "c.txt", CALL);
    let d = write(tmp.path(), "d.txt", FLOOD);
    let out = newsflow(&["stories", "explain", &c, &d, "--json"]);
    let why: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(why["copy_of"], Value::Null, "{why}");
}

#[test]
fn a_bad_story_config_is_refused_with_its_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let a = write(tmp.path(), "a.txt", CALL);
    let config = write(tmp.path(), "stories.yaml", "treshold: 0.4\n");
    let out = newsflow(&["stories", "explain", &a, &a, "--story-config", &config]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown field `treshold`"), "{stderr}");
    let out = newsflow(&[
        "run",
        &a,
        "--stories",
        "/dev/null",
        "--story-config",
        &config,
    ]);
    assert!(!out.status.success());
}
