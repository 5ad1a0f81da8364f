//! Delivery guarantees of the microservices, proven on the real broker by killing them.
//!
//! Articles from `newsflow produce --repeat` (fresh ids, a few deliberate copies) flow through
//! normalizer → deduplicator → tagger while the services are killed with SIGKILL at random
//! moments (each after it had produced some output) and restarted, or while second instances
//! join and leave. Afterwards `news.enriched.v1` and `news.duplicates.v1` are read
//! `read_committed`, as downstream consumers read them, and every input id must be there.
//!
//! - exactly-once (the default mode): every id exactly once, none lost, none twice;
//! - at-least-once: none lost; repeats are allowed, and counted.
//!
//! The tests need the service binaries next to `newsflow` (`cargo test --workspace` builds
//! them). They run one at a time: each is a whole pipeline on a two-core machine. The long
//! version (20,000 articles, 20 kills): `cargo test -p newsflow --test exactly_once --
//! --ignored --nocapture`.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::outcome::{
    Outcome, assert_copies_flagged, assert_exactly_once, assert_none_lost, outcome, wait_for_output,
};
use common::pipeline::{Pipeline, STAGES, Stage};
use common::*;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

const PARTITIONS: u32 = 3;

/// One pipeline at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Runs the pipeline over `repeat` × the corpus directory while killing services `kills`
/// times, round robin over the stages, each at a random moment after it produced output.
fn crash_test(guarantee: &'static str, dir: &str, repeat: u32, kills: usize) -> Outcome {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let seed: u64 = rand::rng().random();
    let mut rng = StdRng::seed_from_u64(seed);
    println!("{guarantee} crash test: seed {seed}");

    let pipeline = Pipeline::new(&format!("crash-{}", &guarantee[..5]), guarantee, PARTITIONS);
    let mut services: Vec<Service> = STAGES.iter().map(|s| pipeline.start(*s, "a")).collect();
    let mut producer = pipeline.produce(dir, repeat, 150);
    let started = Instant::now();

    for kill in 0..kills {
        let index = kill % STAGES.len();
        wait_for_output(&mut services[index], Duration::from_secs(120));
        std::thread::sleep(Duration::from_millis(rng.random_range(500..3000)));
        services[index].signal("KILL");
        let code = services[index].wait_exit(Duration::from_secs(10));
        services[index] = pipeline.start(STAGES[index], "a");
        println!(
            "kill {}: {:?} at {:.1} s (exit {code:?})",
            kill + 1,
            STAGES[index],
            started.elapsed().as_secs_f64()
        );
    }
    let status = producer.wait().unwrap();
    assert!(status.success(), "newsflow produce failed");
    println!(
        "all produced at {:.1} s; waiting for the pipeline",
        started.elapsed().as_secs_f64()
    );
    let result = outcome(&pipeline, Duration::from_secs(180));
    println!("done at {:.1} s", started.elapsed().as_secs_f64());
    for service in services {
        service.signal("TERM");
        assert_eq!(service.wait(Duration::from_secs(40)), Some(0));
    }
    result
}

#[test]
fn exactly_once_survives_five_kills() {
    // bbc-2005/business: 510 pages × 10 = 5,100 articles, plus ~2 % copies.
    let result = crash_test("exactly-once", "bbc-2005/business", 10, 6);
    result.print("exactly-once, 6 kills");
    assert!(result.inputs >= 5_000, "{} inputs", result.inputs);
    assert_exactly_once(&result);
    assert_copies_flagged(&result);
}

#[test]
fn at_least_once_survives_five_kills_without_loss() {
    let result = crash_test("at-least-once", "bbc-2005/business", 10, 6);
    result.print("at-least-once, 6 kills");
    assert!(result.inputs >= 5_000, "{} inputs", result.inputs);
    assert_none_lost(&result);
    assert_copies_flagged(&result);
}

#[test]
#[ignore = "long: 20,000 articles and 20 kills (several minutes)"]
fn exactly_once_survives_twenty_kills_long() {
    // bbc-2005/tech: 401 pages × 50 = 20,050 articles.
    let result = crash_test("exactly-once", "bbc-2005/tech", 50, 20);
    result.print("exactly-once, 20 kills");
    assert!(result.inputs >= 20_000, "{} inputs", result.inputs);
    assert_exactly_once(&result);
    assert_copies_flagged(&result);
}

#[test]
fn instances_joining_and_leaving_lose_nothing_and_repeat_nothing() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let pipeline = Pipeline::new("rebalance", "exactly-once", PARTITIONS);
    let mut services: Vec<Service> = STAGES.iter().map(|s| pipeline.start(*s, "a")).collect();
    // 417 pages × 6 = 2,502 articles at 150/s: about 17 s of input.
    let mut producer = pipeline.produce("bbc-2005/politics", 6, 150);
    let started = Instant::now();

    wait_for_output(&mut services[2], Duration::from_secs(120));
    let mut joined: Vec<Service> = [Stage::Deduplicator, Stage::Tagger]
        .iter()
        .map(|s| pipeline.start(*s, "b"))
        .collect();
    for service in &mut joined {
        service.wait_ready(Duration::from_secs(60));
        wait_for_output(service, Duration::from_secs(60));
    }
    println!(
        "second deduplicator and tagger joined and produced by {:.1} s",
        started.elapsed().as_secs_f64()
    );
    std::thread::sleep(Duration::from_secs(3));
    for service in joined {
        service.signal("TERM");
        assert_eq!(service.wait(Duration::from_secs(40)), Some(0));
    }
    let last_change = Instant::now();
    println!("they left at {:.1} s", started.elapsed().as_secs_f64());
    assert!(
        producer.wait().unwrap().success(),
        "newsflow produce failed"
    );

    let result = outcome(&pipeline, Duration::from_secs(120));
    let settled = last_change.elapsed();
    result.print("exactly-once, join and leave");
    println!(
        "every id out {:.1} s after the last leave",
        settled.as_secs_f64()
    );
    // Not asserted here: copies flagged. With two deduplicators, a copy read on one instance
    // before the other instance's state record of its original arrived is not recognised
    // (the copies of this test follow their originals within milliseconds).
    assert_exactly_once(&result);
    assert!(
        settled <= Duration::from_secs(120),
        "the last ids came out {settled:?} after the last leave"
    );
    for service in services {
        service.signal("TERM");
        assert_eq!(service.wait(Duration::from_secs(40)), Some(0));
    }
}
