//! What came out of a pipeline for its inputs: every input id counted on the enriched,
//! duplicates and dead-letter topics (read committed), with the checks the delivery tests make.

#![allow(clippy::unwrap_used)] // tests fail loudly

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use rdkafka::message::Message as _;

use super::pipeline::{Pipeline, read_to_end_on};
use super::{Service, key};

/// What came out of the pipeline for the inputs.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Distinct input ids.
    pub inputs: usize,
    /// Input records: more than `inputs` when the feeding producer wrote a record twice (a
    /// retry after a broker loss). Each such record is a replay for the pipeline and may come
    /// out once more: the guarantee is per input record.
    pub input_records: usize,
    pub copies: usize,
    /// Per input id: how many input records carry it.
    pub sent: HashMap<String, usize>,
    /// Per input id: how often it came out (enriched + duplicates + dlq).
    pub seen: HashMap<String, usize>,
    pub enriched: usize,
    pub duplicates: usize,
    pub dead_letters: usize,
    /// Deliberate copies that came out as duplicate notices neither themselves nor with their
    /// original flagged.
    pub unflagged_copies: Vec<String>,
}

impl Outcome {
    pub fn lost(&self) -> Vec<&String> {
        self.seen
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(id, _)| id)
            .collect()
    }
    /// Ids that came out more often than they went in.
    pub fn repeated(&self) -> usize {
        self.more_than_sent().count()
    }
    fn more_than_sent(&self) -> impl Iterator<Item = (&String, &usize)> {
        self.seen
            .iter()
            .filter(|(id, n)| **n > self.sent.get(*id).copied().unwrap_or(1))
    }
    pub fn print(&self, what: &str) {
        println!(
            "{what}: {} inputs in {} records ({} deliberate copies) -> {} enriched, {} duplicate notices, {} dead letters; lost {}, out more often than in {}, copies not flagged {}",
            self.inputs,
            self.input_records,
            self.copies,
            self.enriched,
            self.duplicates,
            self.dead_letters,
            self.lost().len(),
            self.repeated(),
            self.unflagged_copies.len()
        );
    }
}

/// Reads the outputs until every input id came out (or `timeout` passed), then once more.
pub fn outcome(pipeline: &Pipeline, timeout: Duration) -> Outcome {
    let inputs: Vec<String> = read_to_end_on(
        &pipeline.brokers,
        &[pipeline.topics.raw()],
        pipeline.partitions,
    )
    .iter()
    .map(key)
    .collect();
    let outputs = pipeline.final_topics();
    let deadline = Instant::now() + timeout;
    loop {
        let records: Vec<(String, String)> =
            read_to_end_on(&pipeline.brokers, &outputs, pipeline.partitions)
                .iter()
                .map(|m| (m.topic().to_owned(), key(m)))
                .collect();
        let mut sent: HashMap<String, usize> = HashMap::new();
        for id in &inputs {
            *sent.entry(id.clone()).or_default() += 1;
        }
        let mut result = Outcome {
            inputs: sent.len(),
            input_records: inputs.len(),
            copies: sent.keys().filter(|id| id.contains("-copy")).count(),
            seen: sent.keys().map(|id| (id.clone(), 0)).collect(),
            sent,
            ..Outcome::default()
        };
        let mut flagged = HashSet::new();
        for (topic, key) in &records {
            if let Some(n) = result.seen.get_mut(key) {
                *n += 1;
            }
            if *topic == outputs[0] {
                result.enriched += 1;
            } else if *topic == outputs[1] {
                result.duplicates += 1;
                flagged.insert(key.clone());
            } else {
                result.dead_letters += 1;
            }
        }
        // A copy and its original are keyed apart, so they may sit on different partitions and
        // the copy may be read first: then the original is the one flagged.
        result.unflagged_copies = result
            .sent
            .keys()
            .filter(|id| {
                id.split_once("-copy").is_some_and(|(original, _)| {
                    !flagged.contains(*id) && !flagged.contains(original)
                })
            })
            .cloned()
            .collect();
        if result.lost().is_empty() || Instant::now() >= deadline {
            return result;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// Waits until `service` produced some output since it started.
pub fn wait_for_output(service: &mut Service, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while service.counter("newsflow_output_records_total", "") < 1.0 {
        if let Some(status) = service.exited() {
            panic!("{} exited on its own ({status})", service.admin);
        }
        assert!(
            Instant::now() < deadline,
            "{} produced nothing within {timeout:?}",
            service.admin
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn assert_none_lost(result: &Outcome) {
    let lost = result.lost();
    assert!(
        lost.is_empty(),
        "{} ids lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
}

pub fn assert_exactly_once(result: &Outcome) {
    assert_none_lost(result);
    let twice: Vec<_> = result.more_than_sent().take(5).collect();
    assert!(
        twice.is_empty(),
        "{} ids out more often than they went in, e.g. {twice:?}",
        result.repeated()
    );
}

pub fn assert_copies_flagged(result: &Outcome) {
    assert!(result.copies > 0, "the input had deliberate copies");
    assert!(
        result.unflagged_copies.is_empty(),
        "deliberate copies not flagged: {:?}",
        result.unflagged_copies
    );
}
