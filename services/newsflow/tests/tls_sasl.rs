//! TLS and SASL/SCRAM to Kafka through `--kafka-option` settings (here through
//! `NEWSFLOW_KAFKA_OPTIONS`): a private broker with a SASL_SSL listener (a certificate made by
//! the test with openssl, a SCRAM-SHA-256 user created when its storage is formatted); the
//! normalizer runs against it; wrong credentials make it exit non-zero within 10 s with a clear
//! error; the password appears in no log line, no `--help` or `--check-config` output and not
//! on `/metrics`.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::broker::PrivateBroker;
use common::pipeline::{Pipeline, binary, read_to_end_on};
use common::*;

const PASSWORD: &str = "s3cret-Pa55word-for-the-test";
const STORE_PASSWORD: &str = "store-pass-for-the-test";

fn run(program: &str, args: &[&str], dir: &Path) {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|err| panic!("{program} does not run: {err}"));
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A self-signed certificate for 127.0.0.1 (cert.pem) and the broker's PKCS#12 key store.
fn certificates(dir: &Path) {
    run(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        dir,
    );
    run(
        "openssl",
        &[
            "pkcs12",
            "-export",
            "-in",
            "cert.pem",
            "-inkey",
            "key.pem",
            "-out",
            "server.p12",
            "-name",
            "kafka",
            "-passout",
            &format!("pass:{STORE_PASSWORD}"),
        ],
        dir,
    );
}

/// A private broker: PLAINTEXT for the test's own clients, SASL_SSL (on `secure`) for the
/// service.
fn start_broker(dir: &Path, secure: u16) -> PrivateBroker {
    let extra = dir.join("sasl-ssl.properties");
    let keystore = dir.join("server.p12");
    PrivateBroker::start(&dir.join("kafka"), |port, controller| {
        std::fs::write(
            &extra,
            format!(
                "listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller},SASL_SSL://127.0.0.1:{secure}\n\
                 advertised.listeners=PLAINTEXT://127.0.0.1:{port},SASL_SSL://127.0.0.1:{secure}\n\
                 sasl.enabled.mechanisms=SCRAM-SHA-256\n\
                 listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;\n\
                 ssl.keystore.type=PKCS12\n\
                 ssl.keystore.location={}\n\
                 ssl.keystore.password={STORE_PASSWORD}\n\
                 ssl.key.password={STORE_PASSWORD}\n",
                keystore.display()
            ),
        )
        .unwrap();
        vec![
            "--extra-config".into(),
            extra.to_string_lossy().into_owned(),
            "--scram-user".into(),
            format!("newsflow={PASSWORD}"),
        ]
    })
}

/// `NEWSFLOW_KAFKA_OPTIONS` for SASL_SSL with SCRAM-SHA-256 as user `newsflow`.
fn kafka_options(dir: &Path, password: &str) -> String {
    format!(
        "security.protocol=SASL_SSL;sasl.mechanisms=SCRAM-SHA-256;sasl.username=newsflow;\
         sasl.password={password};ssl.ca.location={}",
        dir.join("cert.pem").display()
    )
}

/// The normalizer against the SASL_SSL listener, its stderr in `log`.
fn normalizer(pipeline: &Pipeline, secure: &str, options: &str, log: &Path) -> Service {
    let admin = format!("127.0.0.1:{}", free_port());
    let child = Command::new(binary("newsflow-normalizer"))
        .env("NEWSFLOW_KAFKA_OPTIONS", options)
        .env("RUST_LOG", "info")
        .args(["--brokers", secure, "--admin-addr", &admin])
        .args(["--input-topic", &pipeline.topics.raw()])
        .args(["--output-topic", &pipeline.topics.out()])
        .args(["--dlq-topic", &pipeline.topics.dlq()])
        .args([
            "--group-id",
            &format!("{}normalizer", pipeline.topics.prefix),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    Service { child, admin }
}

#[test]
fn a_stage_runs_over_sasl_ssl_and_wrong_credentials_fail_fast_without_leaking_secrets() {
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path());
    let secure_port = free_port();
    let broker = start_broker(dir.path(), secure_port);
    let secure = format!("127.0.0.1:{secure_port}");
    let pipeline = Pipeline::on(&broker.brokers, "sasl-ssl", "exactly-once", 1);
    assert!(
        pipeline
            .produce("bbc-2005/tech", 1, 100_000)
            .wait()
            .unwrap()
            .success()
    );
    let inputs = read_to_end_on(&broker.brokers, &[pipeline.topics.raw()], 1).len();
    assert!(inputs > 100, "{inputs} inputs");

    // The right credentials: every article normalized, read back over PLAINTEXT.
    let options = kafka_options(dir.path(), PASSWORD);
    let log = dir.path().join("normalizer.log");
    let service = normalizer(&pipeline, &secure, &options, &log);
    service.wait_ready(Duration::from_secs(60));
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut out = 0;
    while out < inputs {
        assert!(Instant::now() < deadline, "{out} of {inputs} normalized");
        std::thread::sleep(Duration::from_millis(500));
        out = read_to_end_on(&broker.brokers, &[pipeline.topics.out()], 1).len();
    }
    let (status, metrics) = service.get("/metrics").unwrap();
    assert_eq!(status, 200);
    assert!(metrics.contains("newsflow_input_records_total"));
    assert!(!metrics.contains(PASSWORD), "the password is on /metrics");
    service.signal("TERM");
    assert_eq!(service.wait(Duration::from_secs(40)), Some(0));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains(PASSWORD),
        "the password is in the log:\n{text}"
    );

    // Wrong credentials: a clear error and a non-zero exit within 10 s.
    let log = dir.path().join("wrong.log");
    let started = Instant::now();
    let mut service = normalizer(
        &pipeline,
        &secure,
        &kafka_options(dir.path(), "wrong"),
        &log,
    );
    let deadline = started + Duration::from_secs(10);
    while service.child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    if service.child.try_wait().unwrap().is_none() {
        panic!(
            "still running 10 s after the start with wrong credentials:\n{}",
            std::fs::read_to_string(&log).unwrap()
        );
    }
    let code = service.wait_exit(Duration::from_secs(1));
    println!(
        "wrong credentials: exit {code:?} after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(code, Some(1));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("error: the Kafka broker refused the credentials"),
        "{text}"
    );

    // --help and --check-config with the secret in the environment: masked.
    for flag in ["--help", "--check-config"] {
        let output = Command::new(binary("newsflow-normalizer"))
            .env("NEWSFLOW_KAFKA_OPTIONS", &options)
            .arg(flag)
            .output()
            .unwrap();
        assert!(output.status.success(), "{flag}");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            !text.contains(PASSWORD),
            "{flag} shows the password:\n{text}"
        );
        if flag == "--check-config" {
            assert!(text.contains("kafka.sasl.password = *****"), "{text}");
            assert!(
                text.contains("kafka.security.protocol = SASL_SSL"),
                "{text}"
            );
        }
    }
}
