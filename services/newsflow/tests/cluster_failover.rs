//! A replicated cluster that loses a broker mid-stream, as production clusters do.
//!
//! The test starts its own three-node cluster (`deploy/local/kafka.sh cluster`, ports from
//! `NEWSFLOW_TEST_CLUSTER_PORT`, default 29292; stopped when the test ends, also on a panic),
//! with every topic replicated three times (min.insync.replicas 2) and the internal topics
//! likewise. Two pipelines run side by side on it, one exactly-once and one at-least-once,
//! each normalizer → deduplicator → tagger over 5,100 articles (2 % deliberate copies). While
//! the articles flow, the node leading most of the pipelines' partitions is killed with
//! SIGKILL, kept down 20 s and started again; then another node is stopped gracefully, kept
//! down 10 s and started again. Afterwards, read committed as downstream consumers read:
//!
//! - exactly-once: every input id is on `news.enriched.v1` or `news.duplicates.v1` exactly once;
//! - at-least-once: every input id is there at least once (repeats are counted);
//! - every deliberate copy is flagged; every service answers `/readyz` with 200 and reports a
//!   consumer lag of 0 on every input partition, and stops cleanly on SIGTERM.
//!
//! It prints, for each node loss, how long each service took to its first output after it.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::broker::PrivateBroker;
use common::outcome::{
    Outcome, assert_copies_flagged, assert_exactly_once, assert_none_lost, outcome, wait_for_output,
};
use common::pipeline::{Pipeline, STAGES};
use common::*;

const NODES: u32 = 3;
const PARTITIONS: u32 = 3;
/// Articles per second into each pipeline: 5,100 articles take ~85 s, so they still flow when
/// the second node goes (the first is down 20 s and takes 10-30 s to start again).
const RATE: u32 = 60;

/// When a sample was taken, and each service's output counter then (NaN: no answer).
type Samples = Vec<(Instant, Vec<f64>)>;

/// Every service's output counter, sampled every 100 ms on a thread of its own.
struct Sampler {
    samples: Arc<Mutex<Samples>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    fn start(admins: Vec<String>) -> Self {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let (samples, stop) = (samples.clone(), stop.clone());
            move || {
                while !stop.load(Ordering::Relaxed) {
                    let values = admins
                        .iter()
                        .map(|admin| match http_get(admin, "/metrics") {
                            Some((200, text)) => {
                                metric_value(&text, "newsflow_output_records_total", "")
                            }
                            _ => f64::NAN,
                        })
                        .collect();
                    samples.lock().unwrap().push((Instant::now(), values));
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        });
        Self {
            samples,
            stop,
            thread: Some(thread),
        }
    }

    /// How long after `at` service `index` first counted more output than it had at `at`.
    fn first_output_after(&self, at: Instant, index: usize) -> Option<Duration> {
        let samples = self.samples.lock().unwrap();
        let before = samples
            .iter()
            .filter(|(t, values)| *t <= at && !values[index].is_nan())
            .map(|(_, values)| values[index])
            .next_back()
            .unwrap_or(0.0);
        samples
            .iter()
            .find(|(t, values)| *t > at && values[index] > before)
            .map(|(t, _)| *t - at)
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The pipelines' article topics, whose leaders decide which node is lost first.
fn article_topics(pipelines: &[&Pipeline]) -> Vec<String> {
    pipelines
        .iter()
        .flat_map(|p| {
            [
                "news.raw.v1",
                "news.normalized.v1",
                "news.deduplicated.v1",
                "news.enriched.v1",
                "news.duplicates.v1",
            ]
            .map(|name| p.topic(name))
        })
        .collect()
}

/// The node (among `candidates`) leading most of `topics`' partitions.
fn busiest(cluster: &PrivateBroker, topics: &[String], candidates: &[u32]) -> u32 {
    let leaders = cluster.leaders(topics);
    println!("partition leaders per node: {leaders:?}");
    *candidates
        .iter()
        .max_by_key(|node| leaders.get(&(**node as i32)).copied().unwrap_or(0))
        .unwrap()
}

/// Sleeps `duration`, failing at once if a service exits meanwhile.
fn watch(services: &mut [Service], duration: Duration) {
    let until = Instant::now() + duration;
    while Instant::now() < until {
        for service in services.iter_mut() {
            if let Some(status) = service.exited() {
                panic!("{} exited ({status})", service.admin);
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn wait_until(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The consumer lag a service reports: (partitions reported, their total lag).
fn lag(service: &Service) -> (usize, f64) {
    let Some((200, text)) = service.get("/metrics") else {
        return (0, f64::NAN);
    };
    let name = "newsflow_consumer_lag_records{";
    let series = text.lines().filter(|l| l.starts_with(name)).count();
    (
        series,
        metric_value(&text, "newsflow_consumer_lag_records", ""),
    )
}

#[test]
fn a_three_node_cluster_loses_a_leader_and_a_node_without_losing_or_doubling_articles() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let cluster = PrivateBroker::cluster(&dir.path().join("cluster"), NODES);
    println!(
        "cluster of {NODES} up at {} in {:.1} s",
        cluster.brokers,
        started.elapsed().as_secs_f64()
    );
    let modes = ["exactly-once", "at-least-once"];
    let pipelines: Vec<Pipeline> = modes
        .iter()
        .map(|mode| Pipeline::replicated(&cluster.brokers, &mode[..5], mode, PARTITIONS, 3))
        .collect();
    // Per pipeline: normalizer, deduplicator, tagger.
    let mut services: Vec<Service> = pipelines
        .iter()
        .flat_map(|p| STAGES.iter().map(|s| p.start(*s, "a")))
        .collect();
    for service in &services {
        service.wait_ready(Duration::from_secs(90));
    }
    let names: Vec<String> = modes
        .iter()
        .flat_map(|mode| STAGES.iter().map(move |s| format!("{mode} {s:?}")))
        .collect();
    for (name, service) in names.iter().zip(&services) {
        println!("{name}: admin {}", service.admin);
    }
    let sampler = Sampler::start(services.iter().map(|s| s.admin.clone()).collect());
    let mut producers: Vec<_> = pipelines
        .iter()
        .map(|p| p.produce("bbc-2005/business", 10, RATE))
        .collect();
    let flowing = Instant::now();
    for tagger in [2, 5] {
        wait_for_output(&mut services[tagger], Duration::from_secs(90));
    }
    println!(
        "articles out of both pipelines {:.1} s after the producers started",
        flowing.elapsed().as_secs_f64()
    );

    let topics = article_topics(&pipelines.iter().collect::<Vec<_>>());
    // Takes `node` away (gracefully: SIGTERM, else SIGKILL) for `down`, then starts it again;
    // returns when it was lost.
    let mut lose = |node: u32, graceful: bool, down: Duration| {
        let lost = Instant::now();
        if graceful {
            cluster.run_node("stop", node);
        } else {
            cluster.kill_node(node);
        }
        let how = if graceful {
            "stopped gracefully"
        } else {
            "killed (SIGKILL)"
        };
        println!(
            "node {node} {how} at {:.1} s",
            flowing.elapsed().as_secs_f64()
        );
        watch(&mut services, down);
        cluster.run_node("start", node);
        println!(
            "node {node} back at {:.1} s",
            flowing.elapsed().as_secs_f64()
        );
        lost
    };
    let nodes: Vec<u32> = (1..=NODES).collect();
    let killed = busiest(&cluster, &topics, &nodes);
    let lost_first = lose(killed, false, Duration::from_secs(20));
    let others: Vec<u32> = nodes.iter().copied().filter(|n| *n != killed).collect();
    let stopped = busiest(&cluster, &topics, &others);
    let lost_second = lose(stopped, true, Duration::from_secs(10));

    for producer in &mut producers {
        assert!(
            producer.wait().unwrap().success(),
            "newsflow produce failed"
        );
    }
    println!("all produced at {:.1} s", flowing.elapsed().as_secs_f64());
    let results: Vec<Outcome> = pipelines
        .iter()
        .map(|p| outcome(p, Duration::from_secs(90)))
        .collect();
    println!("every id out at {:.1} s", flowing.elapsed().as_secs_f64());

    for (what, at) in [
        (format!("node {killed} killed"), lost_first),
        (format!("node {stopped} stopped"), lost_second),
    ] {
        let firsts: Vec<String> = names
            .iter()
            .enumerate()
            .map(
                |(index, name)| match sampler.first_output_after(at, index) {
                    Some(after) => format!("{name} {:.1} s", after.as_secs_f64()),
                    None => format!("{name} none"),
                },
            )
            .collect();
        println!("{what}: first output after it: {}", firsts.join(", "));
    }
    drop(sampler);

    results[0].print("exactly-once, cluster failover");
    results[1].print("at-least-once, cluster failover");
    assert!(results[0].inputs >= 5_000, "{} inputs", results[0].inputs);
    assert_eq!(
        results[0].inputs, results[1].inputs,
        "both pipelines got every article"
    );
    assert_exactly_once(&results[0]);
    assert_none_lost(&results[1]);
    println!(
        "at-least-once: {} ids out more than once",
        results[1].repeated()
    );
    for result in &results {
        assert_copies_flagged(result);
        assert_eq!(result.dead_letters, 0, "no article is bad input");
    }

    wait_until("every service ready", Duration::from_secs(60), || {
        services
            .iter()
            .all(|s| matches!(s.get("/readyz"), Some((200, _))))
    });
    // Lag is reported every 5 s per owned input partition; each stage owns all of its
    // partitions with one instance.
    wait_until(
        "every service's consumer lag back to 0",
        Duration::from_secs(60),
        || {
            services.iter().all(|s| {
                let (partitions, total) = lag(s);
                partitions == PARTITIONS as usize && total == 0.0
            })
        },
    );
    for (name, service) in names.iter().zip(services) {
        service.signal("TERM");
        assert_eq!(
            service.wait(Duration::from_secs(40)),
            Some(0),
            "{name} did not stop cleanly"
        );
    }
    drop(cluster);
    println!("test done in {:.1} s", started.elapsed().as_secs_f64());
}
