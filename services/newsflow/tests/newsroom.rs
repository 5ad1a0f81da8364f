//! The newsroom page in a real browser, against the gateway in front of the three stage
//! services: `scripts/newsroom-browser.py` (Playwright driving Debian's chromium) logs in,
//! sees a POSTed article appear with its chips and highlighted evidence, filters to one topic,
//! checks that a hostile title is shown as text with no script run, and saves a screenshot in
//! this test's output folder.
//!
//! `scripts/test.sh` installs chromium and Playwright (in `target/playwright`, a virtual
//! environment) and sets `NEWSFLOW_PLAYWRIGHT_PYTHON` to its interpreter.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::gateway::{Gateway, TOKEN, started_pipeline};

fn playwright_python() -> PathBuf {
    let python = std::env::var_os("NEWSFLOW_PLAYWRIGHT_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| newsflow_testkit::workspace_root().join("target/playwright/bin/python"));
    assert!(
        python.exists(),
        "no Playwright interpreter at {} (scripts/test.sh installs it; or set \
         NEWSFLOW_PLAYWRIGHT_PYTHON)",
        python.display()
    );
    python
}

/// Runs `command` to its end, killed after `timeout`.
fn output_within(command: &mut Command, timeout: Duration) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + timeout;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn the_newsroom_page_shows_tagged_articles_as_text_in_a_real_browser() {
    let python = playwright_python();
    let (pipeline, _services) = started_pipeline("newsroom-page");
    let gateway = Gateway::start(&pipeline.brokers, &pipeline.topics.prefix, &[]);
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("newsroom");
    let script = newsflow_testkit::workspace_root().join("scripts/newsroom-browser.py");
    let mut command = Command::new(&python);
    command.args([
        script.to_str().unwrap(),
        "--url",
        &gateway.url(""),
        "--token",
        TOKEN,
        "--out",
        out.to_str().unwrap(),
    ]);
    let output = output_within(&mut command, Duration::from_secs(180));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "the browser test failed:\n{stdout}\n{stderr}"
    );
    let shot = std::fs::metadata(out.join("newsroom.png")).unwrap();
    assert!(
        shot.len() > 10_000,
        "the screenshot is {} bytes",
        shot.len()
    );
}

#[test]
fn newsflow_subscribe_json_receives_a_posted_article() {
    let (pipeline, _services) = started_pipeline("newsroom-subscribe");
    let gateway = Gateway::start(&pipeline.brokers, &pipeline.topics.prefix, &[]);
    let mut subscriber = common::newsflow()
        .args([
            "subscribe",
            "--gateway",
            &gateway.url(""),
            "--tag",
            "ukraine-war",
        ])
        .args(["--json", "--limit", "1"])
        .env("NEWSFLOW_GATEWAY_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while gateway.service.counter("newsflow_gateway_clients", "") < 1.0 {
        assert!(
            Instant::now() < deadline,
            "newsflow subscribe did not connect"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let body = serde_json::json!({"id": "subscribe-1", "source": "wire",
        "content_type": "text/plain", "content": common::gateway::war_story(7)});
    let status = std::process::Command::new("curl")
        .args([
            "-sf",
            "-o",
            "/dev/null",
            "-H",
            &format!("Authorization: Bearer {TOKEN}"),
        ])
        .args([
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &body.to_string(),
        ])
        .arg(gateway.url("/v1/articles"))
        .status()
        .unwrap();
    assert!(status.success(), "the POST failed");
    let deadline = Instant::now() + Duration::from_secs(60);
    while subscriber.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = subscriber.kill();
            panic!("newsflow subscribe printed no article within 60 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = subscriber.wait_with_output().unwrap();
    assert!(output.status.success());
    let line = String::from_utf8(output.stdout).unwrap();
    let article: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(article["id"], "subscribe-1");
    newsflow_testkit::assert_valid("enriched.v1.schema.json", &article);
}
