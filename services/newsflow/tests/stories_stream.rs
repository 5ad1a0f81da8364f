//! The story stage on a stream: the Ukraine-war articles of the shared corpus (event time from
//! the timestamp in their file names, passed as `hints.published_at`) interleaved with the
//! BBC 2005 articles, given event times on the same days. Through `newsflow run --stories`
//! (the library's `pipeline::run`): no story may mix a BBC article with a war article. Prints
//! the ten largest stories (run with `--nocapture`).

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write as _;
use std::path::PathBuf;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use newsflow::input::Input;
use newsflow::pipeline::{RunOptions, run};
use newsflow_testkit::{assert_valid, corpus_dir};
use serde_json::Value;

fn files(dir: PathBuf) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "txt") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// `20220125T090000Z_GB_en_7d015e6984.txt` → its time and country.
fn war_time(path: &std::path::Path) -> (DateTime<Utc>, String) {
    let name = path.file_name().unwrap().to_str().unwrap();
    let mut parts = name.split('_');
    let stamp = parts.next().unwrap();
    let country = parts.next().unwrap().to_owned();
    let time = NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ")
        .unwrap()
        .and_utc();
    (time, country)
}

#[test]
fn war_and_bbc_articles_never_share_a_story() {
    let corpus = corpus_dir();
    let mut events: Vec<(DateTime<Utc>, String, Value)> = Vec::new();
    let war = files(corpus.join("ukraine-war"));
    let war_times: Vec<DateTime<Utc>> = war.iter().map(|p| war_time(p).0).collect();
    for path in &war {
        let (time, country) = war_time(path);
        let id = format!("war/{}", path.file_stem().unwrap().to_str().unwrap());
        let content = std::fs::read_to_string(path).unwrap();
        events.push((
            time,
            id.clone(),
            serde_json::json!({
                "id": id, "source": format!("war-{}", country.to_lowercase()),
                "content_type": "text/plain", "content": content,
                "hints": {"published_at": time.to_rfc3339()},
            }),
        ));
    }
    for (i, path) in files(corpus.join("bbc-2005")).iter().enumerate() {
        // On the day of a war article, a few hours either side.
        let time =
            war_times[(i * 7) % war_times.len()] + Duration::hours((i as i64 * 13) % 48 - 24);
        let relative = path.strip_prefix(corpus.join("bbc-2005")).unwrap();
        let id = format!("bbc/{}", relative.display());
        // A few BBC files are windows-1252; their odd byte does not matter here.
        let content = String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
        events.push((
            time,
            id.clone(),
            serde_json::json!({
                "id": id, "source": "bbc", "content_type": "text/plain", "content": content,
                "hints": {"published_at": time.to_rfc3339()},
            }),
        ));
    }
    events.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));

    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("stream.jsonl");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    for (_, _, event) in &events {
        writeln!(file, "{event}").unwrap();
    }
    file.flush().unwrap();
    drop(file);
    let stories_path = tmp.path().join("stories.jsonl");
    let summary = run(&RunOptions {
        inputs: vec![Input::Path(input)],
        output: Some(tmp.path().join("out.jsonl")),
        dlq: Some(tmp.path().join("dlq.jsonl")),
        stories: Some(stories_path.clone()),
        ..RunOptions::default()
    })
    .unwrap();
    assert!(summary.succeeded());

    // Article → story (merges followed), the latest state per story.
    let mut story_of: HashMap<String, String> = HashMap::new();
    let mut merged_into: HashMap<String, String> = HashMap::new();
    let mut latest: HashMap<String, Value> = HashMap::new();
    let mut changes: BTreeMap<String, u64> = BTreeMap::new();
    for line in std::fs::read_to_string(&stories_path).unwrap().lines() {
        let record: Value = serde_json::from_str(line).unwrap();
        assert_valid("story.v1.schema.json", &record);
        *changes
            .entry(record["change"].as_str().unwrap().to_owned())
            .or_default() += 1;
        let story = record["story"]["id"].as_str().unwrap().to_owned();
        if let Some(into) = record["story"]["merged_into"].as_str() {
            merged_into.insert(story.clone(), into.to_owned());
        }
        if let Some(article) = record["article_id"].as_str() {
            story_of.entry(article.to_owned()).or_insert(story.clone());
        }
        latest.insert(story, record["story"].clone());
    }
    let resolve = |story: &str| {
        let mut story = story.to_owned();
        while let Some(next) = merged_into.get(&story) {
            story = next.clone();
        }
        story
    };
    let mut members: HashMap<String, Vec<String>> = HashMap::new();
    for (article, story) in &story_of {
        members
            .entry(resolve(story))
            .or_default()
            .push(article.clone());
    }
    let mixed: Vec<(&String, &Vec<String>)> = members
        .iter()
        .filter(|(_, articles)| {
            let kinds: HashSet<bool> = articles.iter().map(|a| a.starts_with("war/")).collect();
            kinds.len() > 1
        })
        .collect();

    let mut largest: Vec<(&String, &Vec<String>)> = members.iter().collect();
    largest.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(b.0)));
    println!(
        "story stream: {} articles ({} war, {} bbc), {} stories, records {changes:?}",
        story_of.len(),
        story_of.keys().filter(|a| a.starts_with("war/")).count(),
        story_of.keys().filter(|a| a.starts_with("bbc/")).count(),
        members.len()
    );
    println!("the ten largest stories:");
    for (story, articles) in largest.iter().take(10) {
        let state = &latest[*story];
        let title = state["title"]
            .as_str()
            .or(state["lede"].as_str())
            .unwrap_or("(untitled)");
        let title: String = title.chars().take(90).collect();
        let outlets: Vec<String> = state["outlets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| format!("{} {}", o["name"].as_str().unwrap(), o["count"]))
            .collect();
        println!(
            "  {:3} articles, {} outlets ({}), {} .. {}: {title}",
            articles.len(),
            state["outlet_count"],
            outlets.join(", "),
            &state["first_seen"].as_str().unwrap()[..10],
            &state["last_updated"].as_str().unwrap()[..10],
        );
    }
    assert!(
        mixed.is_empty(),
        "{} stories mix war and BBC articles: {:?}",
        mixed.len(),
        mixed.iter().take(3).collect::<Vec<_>>()
    );
    assert!(story_of.len() > 2_000, "{} articles placed", story_of.len());
}
