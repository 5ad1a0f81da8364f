//! Delivery latency of the gateway's fan-out: articles written to the enriched topic at a fixed
//! rate, read by many SSE clients at once; prints p50/p90/p99/max from the record's write to
//! each client's receipt, the clients dropped, and the gateway's CPU and memory.
//!
//! ```sh
//! deploy/local/kafka.sh start
//! NEWSFLOW_BROKERS=127.0.0.1:9092 cargo bench -p newsflow-gateway --bench fanout
//! ```
//!
//! 200 clients at 200 articles/s for 30 s (`--clients`, `--rate`, `--seconds` after `--`).
//! Without `--bench` (as `cargo test --benches` runs it) one short smoke pass: 10 clients,
//! 50 articles/s, 2 s. The broker comes from `NEWSFLOW_BROKERS`, else `NEWSFLOW_TEST_BROKERS`.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // a bench command fails loudly and prints

use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt as _;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};

struct Settings {
    clients: usize,
    rate: u32,
    seconds: u64,
}

fn settings() -> Settings {
    let args: Vec<String> = std::env::args().collect();
    let full = args.iter().any(|a| a == "--bench");
    let value = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (clients, rate, seconds): (u64, u64, u64) = if full { (200, 200, 30) } else { (10, 50, 2) };
    Settings {
        clients: value("--clients", clients) as usize,
        rate: value("--rate", rate) as u32,
        seconds: value("--seconds", seconds),
    }
}

fn micros_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

/// CPU seconds (user + system) and RSS in MiB of a process, from /proc.
fn usage(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| {
        f.iter().filter_map(|v| v.parse::<f64>().ok()).sum()
    });
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    (ticks / 100.0, rss_kib / 1024.0)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let settings = settings();
    let Some(brokers) = ["NEWSFLOW_BROKERS", "NEWSFLOW_TEST_BROKERS"]
        .iter()
        .find_map(|k| std::env::var(k).ok())
    else {
        println!("fanout: no broker (set NEWSFLOW_BROKERS); skipped");
        return;
    };
    let prefix = format!("bench-fanout-{}.", micros_now());
    let topic = format!("{prefix}news.enriched.v1");
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    for result in admin
        .create_topics(
            &[NewTopic::new(&topic, 3, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        )
        .await
        .unwrap()
    {
        result.unwrap();
    }

    let listen = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let api = listen.local_addr().unwrap();
    let admin_addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    drop(listen);
    let mut gateway = Command::new(env!("CARGO_BIN_EXE_newsflow-gateway"))
        .args(["--brokers", &brokers, "--topic-prefix", &prefix])
        .args([
            "--listen",
            &api.to_string(),
            "--admin-addr",
            &admin_addr.to_string(),
        ])
        .args(["--client-buffer", "1024", "--max-clients", "10000"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let ready = Instant::now();
    while client
        .get(format!("http://{admin_addr}/readyz"))
        .send()
        .await
        .map_or(true, |r| !r.status().is_success())
    {
        assert!(
            ready.elapsed() < Duration::from_secs(30),
            "the gateway is not ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mut streams = Vec::new();
    for _ in 0..settings.clients {
        let response = client
            .get(format!("http://{api}/v1/stream"))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        streams.push(response.bytes_stream());
    }
    let total = settings.rate as usize * settings.seconds as usize;
    let readers: Vec<_> = streams
        .into_iter()
        .map(|mut body| {
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(total);
                let mut buffer = Vec::new();
                let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
                while latencies.len() < total {
                    let Ok(Some(Ok(chunk))) = tokio::time::timeout_at(deadline, body.next()).await
                    else {
                        break;
                    };
                    let now = micros_now();
                    buffer.extend_from_slice(&chunk);
                    // Each article's id is `fan-<write time in µs>`.
                    while let Some(at) = find(&buffer, b"\"id\":\"fan-") {
                        let rest = &buffer[at + 10..];
                        let Some(end) = rest.iter().position(|b| *b == b'"') else {
                            break;
                        };
                        if let Some(sent) = std::str::from_utf8(&rest[..end])
                            .ok()
                            .and_then(|s| s.parse::<u64>().ok())
                        {
                            latencies.push(now.saturating_sub(sent));
                        }
                        buffer.drain(..at + 10 + end);
                    }
                }
                latencies
            })
        })
        .collect();

    let (cpu_before, _) = usage(gateway.id());
    let writer_topic = topic.clone();
    let rate = settings.rate;
    let writer = tokio::task::spawn_blocking(move || {
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .set("linger.ms", "0")
            .create()
            .unwrap();
        let body = "The grid operator said repairs would take weeks. ".repeat(60);
        let started = Instant::now();
        for n in 0..total {
            let due = started + Duration::from_secs_f64(n as f64 / f64::from(rate));
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            let payload = format!(
                r#"{{"id":"fan-{}","source":"bench","title":"Article {n}","body":["{body}"],"topics":[],"entities":[]}}"#,
                micros_now()
            );
            let key = n.to_string();
            while producer
                .send(BaseRecord::to(&writer_topic).key(&key).payload(&payload))
                .is_err()
            {
                producer.poll(Duration::from_millis(5));
            }
            producer.poll(Duration::ZERO);
        }
        producer.flush(Duration::from_secs(30)).unwrap();
    });
    writer.await.unwrap();
    let mut all = Vec::new();
    let mut complete = 0;
    for reader in readers {
        let latencies = reader.await.unwrap();
        complete += usize::from(latencies.len() == total);
        all.extend(latencies);
    }
    let (cpu_after, rss) = usage(gateway.id());
    let dropped = client
        .get(format!("http://{admin_addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("newsflow_gateway_clients_dropped_total{reason=\"slow_client\"}"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>();
    let _ = gateway.kill();
    let _ = gateway.wait();
    all.sort_unstable();
    println!(
        "fanout: {} clients × {} articles at {}/s: {} deliveries, {complete} clients complete, {dropped} dropped",
        settings.clients,
        total,
        settings.rate,
        all.len()
    );
    println!(
        "fanout: latency ms p50 {:.1} p90 {:.1} p99 {:.1} max {:.1}; gateway {:.2} CPU s ({:.0} % of a core), RSS {:.0} MiB",
        percentile(&all, 0.50),
        percentile(&all, 0.90),
        percentile(&all, 0.99),
        percentile(&all, 1.0),
        cpu_after - cpu_before,
        (cpu_after - cpu_before) / settings.seconds as f64 * 100.0,
        rss
    );
    assert_eq!(complete, settings.clients, "every client got every article");
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
