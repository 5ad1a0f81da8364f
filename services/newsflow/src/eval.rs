//! `newsflow eval extract DIR`: how well the normalizer reads real pages, by the scoring rules
//! of `html-eval` (trafilatura's own): a folder with `pages/` and `gold.jsonl` goes through
//! exactly what `newsflow run DIR/pages` runs, and the output lines are scored.
//!
//! - **Main text** (`lede`, then the `body` paragraphs, joined by newlines): each gold `with`
//!   snippet found (a case-sensitive substring after NFC and whitespace folding) is a true
//!   positive, else a false negative; each `without` snippet found is a false positive, else a
//!   true negative. A page dead-lettered or answered by a duplicate notice has no text.
//! - **Date**: the day of `published_at_raw` in its own offset when it has one, else the day of
//!   `published_at` (UTC), against `date`.
//! - **Author**: the set of names (a gold string split on `;`), case-insensitive.
//! - **Title**: equal after whitespace folding.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::Context as _;
use chrono::{DateTime, NaiveDate};
use newsflow_core::ids;
use serde::Serialize;
use serde_json::Value;
use unicode_normalization::UnicodeNormalization as _;

use crate::input::{Input, ReadOptions};
use crate::pipeline::{RunOptions, RunSummary, run_with_block_model};

/// The `source` the evaluation gives every page (it changes ids, never what is extracted).
const SOURCE: &str = "eval";

/// One page's gold.
#[derive(Debug, Clone, Default)]
pub struct Gold {
    pub file: String,
    pub with: Vec<String>,
    pub without: Vec<String>,
    pub title: Option<String>,
    pub authors: Option<Vec<String>>,
    pub date: Option<NaiveDate>,
}

/// What the pipeline made of one page.
#[derive(Debug, Clone, Default)]
pub struct Extracted {
    pub text: Option<String>,
    pub title: Option<String>,
    pub authors: Vec<String>,
    pub day: Option<NaiveDate>,
    /// `published_at_raw` as written, for the list of date misses.
    pub date_raw: Option<String>,
    /// The `error_kind` when the page was dead-lettered.
    pub dead_letter: Option<String>,
}

/// Main-text counts.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub tp: u64,
    pub fp: u64,
    pub fn_: u64,
    pub tn: u64,
}

impl Counts {
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
    pub fn f1(&self) -> f64 {
        ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_)
    }
    pub fn accuracy(&self) -> f64 {
        ratio(self.tp + self.tn, self.tp + self.tn + self.fp + self.fn_)
    }
    fn add(&mut self, other: Counts) {
        self.tp += other.tp;
        self.fp += other.fp;
        self.fn_ += other.fn_;
        self.tn += other.tn;
    }
}

fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// A field's accuracy over the pages that have gold for it.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Accuracy {
    pub right: u64,
    pub of: u64,
    pub share: f64,
}

impl Accuracy {
    fn count(&mut self, right: bool) {
        self.of += 1;
        self.right += u64::from(right);
        self.share = ratio(self.right, self.of);
    }
}

/// A page that lost much: its missed and wrongly kept snippets.
#[derive(Debug, Clone, Serialize)]
pub struct PageLoss {
    pub file: String,
    pub missed: Vec<String>,
    pub kept: Vec<String>,
    pub dead_letter: Option<String>,
}

/// How the pages with a gold date missed it.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct DateMisses {
    /// No date found on a page that gave an article.
    pub none: u64,
    /// A date one day off (often a UTC time of a local day).
    pub day_off: u64,
    /// Another day.
    pub wrong: u64,
    /// No article at all (dead-lettered or a duplicate notice).
    pub no_output: u64,
}

/// One page's date miss.
#[derive(Debug, Clone, Serialize)]
pub struct DateMiss {
    pub file: String,
    pub gold: NaiveDate,
    pub got: Option<NaiveDate>,
    pub raw: Option<String>,
}

/// The evaluation's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub pages: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub accuracy: f64,
    pub counts: Counts,
    /// Pages dead-lettered as `no_body`.
    pub no_body: usize,
    /// Pages without text for any reason (dead letters, duplicate notices).
    pub no_text: usize,
    pub dead_letters: BTreeMap<String, usize>,
    pub dates: Accuracy,
    pub authors: Accuracy,
    pub titles: Accuracy,
    pub date_misses: DateMisses,
    pub worst: Vec<PageLoss>,
    /// The first pages (by name) whose date was missed, as many as `worst` asks.
    pub worst_dates: Vec<DateMiss>,
}

/// Runs the pipeline over `DIR/pages` and scores it against `DIR/gold.jsonl`; with
/// `block_model` (a model file), the normalizer judges HTML blocks by it instead of the shipped
/// model.
pub fn extract(dir: &Path, worst: usize, block_model: Option<&Path>) -> anyhow::Result<Report> {
    let block_model = block_model
        .map(|path| {
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the block model {}", path.display()))
        })
        .transpose()?;
    let gold = read_gold(&dir.join("gold.jsonl"))?;
    let pages = dir.join("pages");
    anyhow::ensure!(
        pages.is_dir(),
        "{} has no pages/ folder (a folder laid out like html-eval: pages/ and gold.jsonl)",
        dir.display()
    );
    let tmp = tempfile::tempdir().context("cannot create a temporary folder")?;
    let output = tmp.path().join("out.jsonl");
    let dlq = tmp.path().join("dlq.jsonl");
    let options = RunOptions {
        inputs: vec![Input::Path(pages)],
        output: Some(output.clone()),
        dlq: Some(dlq.clone()),
        read: ReadOptions {
            source: Some(SOURCE.to_owned()),
            max_content_bytes: newsflow_core::decode::DEFAULT_MAX_CONTENT_BYTES,
        },
        taxonomy: None,
        stories: None,
        story_config: None,
    };
    let summary: RunSummary = run_with_block_model(&options, block_model.as_deref())?;
    anyhow::ensure!(
        summary.succeeded(),
        "the run failed: {:?}",
        summary.read.failures
    );
    let mut by_id: HashMap<String, Extracted> = HashMap::new();
    for line in lines(&output)? {
        let value: Value = serde_json::from_str(&line).context("an output line is not JSON")?;
        let Some(id) = value.get("id").and_then(Value::as_str) else {
            continue;
        };
        by_id.insert(id.to_owned(), extracted(&value));
    }
    for line in lines(&dlq)? {
        let value: Value = serde_json::from_str(&line).context("a --dlq line is not JSON")?;
        if let Some(id) = value.get("id").and_then(Value::as_str) {
            let kind = value
                .get("error_kind")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            by_id.insert(
                id.to_owned(),
                Extracted {
                    dead_letter: Some(kind.to_owned()),
                    ..Extracted::default()
                },
            );
        }
    }
    let scored: Vec<(Gold, Extracted)> = gold
        .into_iter()
        .map(|g| {
            let id = ids::id_for_file(SOURCE, &g.file);
            let ex = by_id.remove(&id).unwrap_or_default();
            (g, ex)
        })
        .collect();
    Ok(score(&scored, worst))
}

/// Scores extracted pages against their gold.
#[allow(clippy::too_many_lines)] // longer than 80 lines before the lint; to be split later
pub fn score(pages: &[(Gold, Extracted)], worst: usize) -> Report {
    let mut counts = Counts::default();
    let mut dates = Accuracy::default();
    let mut authors = Accuracy::default();
    let mut titles = Accuracy::default();
    let mut dead_letters: BTreeMap<String, usize> = BTreeMap::new();
    let mut no_text = 0;
    let mut losses: Vec<(u64, PageLoss)> = Vec::new();
    let mut date_misses = DateMisses::default();
    let mut worst_dates = Vec::new();
    for (gold, ex) in pages {
        if let Some(kind) = &ex.dead_letter {
            *dead_letters.entry(kind.clone()).or_default() += 1;
        }
        let text = ex.text.as_deref().map(fold);
        if text.is_none() {
            no_text += 1;
        }
        let mut page = Counts::default();
        let mut missed = Vec::new();
        let mut kept = Vec::new();
        for snippet in &gold.with {
            if text.as_deref().is_some_and(|t| t.contains(&fold(snippet))) {
                page.tp += 1;
            } else {
                page.fn_ += 1;
                missed.push(snippet.clone());
            }
        }
        for snippet in &gold.without {
            if text.as_deref().is_some_and(|t| t.contains(&fold(snippet))) {
                page.fp += 1;
                kept.push(snippet.clone());
            } else {
                page.tn += 1;
            }
        }
        counts.add(page);
        if page.fp + page.fn_ > 0 {
            losses.push((
                page.fp + page.fn_,
                PageLoss {
                    file: gold.file.clone(),
                    missed,
                    kept,
                    dead_letter: ex.dead_letter.clone(),
                },
            ));
        }
        if let Some(day) = gold.date {
            let right = ex.day == Some(day);
            dates.count(right);
            if !right {
                match ex.day {
                    _ if ex.text.is_none() => date_misses.no_output += 1,
                    None => date_misses.none += 1,
                    Some(got) if (got - day).num_days().abs() == 1 => date_misses.day_off += 1,
                    Some(_) => date_misses.wrong += 1,
                }
                if worst_dates.len() < worst {
                    worst_dates.push(DateMiss {
                        file: gold.file.clone(),
                        gold: day,
                        got: ex.day,
                        raw: ex.date_raw.clone(),
                    });
                }
            }
        }
        if let Some(gold_authors) = gold.authors.as_ref().filter(|a| !a.is_empty()) {
            authors.count(same_names(gold_authors, &ex.authors));
        }
        if let Some(title) = gold.title.as_deref().filter(|t| !t.trim().is_empty()) {
            titles.count(ex.title.as_deref().map(fold).as_deref() == Some(&fold(title)));
        }
    }
    losses.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.file.cmp(&b.1.file)));
    Report {
        pages: pages.len(),
        precision: counts.precision(),
        recall: counts.recall(),
        f1: counts.f1(),
        accuracy: counts.accuracy(),
        counts,
        no_body: dead_letters.get("no_body").copied().unwrap_or(0),
        no_text,
        dead_letters,
        dates,
        authors,
        titles,
        date_misses,
        worst: losses.into_iter().take(worst).map(|(_, l)| l).collect(),
        worst_dates,
    }
}

/// NFC, every run of whitespace to one space, trimmed.
pub fn fold(text: &str) -> String {
    let nfc: String = text.nfc().collect();
    nfc.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn same_names(gold: &[String], got: &[String]) -> bool {
    let set = |names: &mut dyn Iterator<Item = &String>| {
        let mut out: Vec<String> = names
            .map(|n| fold(n).to_lowercase())
            .filter(|n| !n.is_empty())
            .collect();
        out.sort();
        out.dedup();
        out
    };
    set(&mut gold.iter()) == set(&mut got.iter())
}

fn extracted(value: &Value) -> Extracted {
    if value.get("duplicate_of").is_some_and(|d| !d.is_null()) {
        return Extracted::default();
    }
    let text_of = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
    let mut parts: Vec<String> = Vec::new();
    if let Some(lede) = text_of("lede") {
        parts.push(lede);
    }
    if let Some(body) = value.get("body").and_then(Value::as_array) {
        parts.extend(body.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    let authors = value
        .get("authors")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Extracted {
        text: Some(parts.join("\n")),
        title: text_of("title"),
        authors,
        day: day_of(
            text_of("published_at_raw").as_deref(),
            text_of("published_at").as_deref(),
        ),
        date_raw: text_of("published_at_raw"),
        dead_letter: None,
    }
}

/// The day of the raw time in its own offset when it states one, else the UTC day.
fn day_of(raw: Option<&str>, utc: Option<&str>) -> Option<NaiveDate> {
    if let Some(local) = raw.and_then(|r| DateTime::parse_from_rfc3339(r.trim()).ok()) {
        return Some(local.date_naive());
    }
    utc.and_then(|u| DateTime::parse_from_rfc3339(u).ok())
        .map(|t| t.date_naive())
}

fn lines(path: &Path) -> anyhow::Result<Vec<String>> {
    let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    BufReader::new(file)
        .lines()
        .map(|l| l.with_context(|| format!("cannot read {}", path.display())))
        .filter(|l| !l.as_ref().is_ok_and(|l| l.trim().is_empty()))
        .collect()
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// Reads `gold.jsonl`.
pub fn read_gold(path: &Path) -> anyhow::Result<Vec<Gold>> {
    let mut out = Vec::new();
    for (n, line) in lines(path)?.into_iter().enumerate() {
        let value: Value = serde_json::from_str(&line)
            .with_context(|| format!("{}:{}: not JSON", path.display(), n + 1))?;
        let file = value
            .get("file")
            .and_then(Value::as_str)
            .with_context(|| format!("{}:{}: no `file`", path.display(), n + 1))?;
        let authors = match value.get("author") {
            Some(Value::String(s)) => Some(s.split(';').map(str::to_owned).collect()),
            Some(Value::Array(_)) => Some(strings(value.get("author"))),
            _ => None,
        };
        out.push(Gold {
            file: file.to_owned(),
            with: strings(value.get("with")),
            without: strings(value.get("without")),
            title: value
                .get("title")
                .and_then(Value::as_str)
                .map(str::to_owned),
            authors,
            date: value
                .get("date")
                .and_then(Value::as_str)
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
        });
    }
    Ok(out)
}

/// The report for a person, for a set laid out like html-dates (`--dates-only`): pages,
/// `no_body`, date accuracy and how the misses fall (none found, a day off, another day, no
/// article), then the first pages missed with what was read.
pub fn print_dates(report: &Report) -> String {
    let d = &report.dates;
    let m = &report.date_misses;
    let mut out = format!(
        "pages {}\nno_body {}  no text {}  dead letters {:?}\n",
        report.pages, report.no_body, report.no_text, report.dead_letters
    );
    out.push_str(&format!(
        "dates    {:.1} % right ({} of {})\nmissed   {} none found, {} a day off, {} another day, {} no article\n",
        d.share * 100.0,
        d.right,
        d.of,
        m.none,
        m.day_off,
        m.wrong,
        m.no_output
    ));
    if !report.worst_dates.is_empty() {
        out.push_str("\ndates missed (gold, read, published_at_raw):\n");
        for miss in &report.worst_dates {
            out.push_str(&format!(
                "  {}  {}  {}  {}\n",
                miss.file,
                miss.gold,
                miss.got.map_or_else(|| "-".to_owned(), |d| d.to_string()),
                miss.raw.as_deref().map_or_else(|| "-".to_owned(), short)
            ));
        }
    }
    out
}

/// The report for a person.
pub fn print(report: &Report) -> String {
    let c = &report.counts;
    let mut out = format!(
        "pages {}\nmain text  P {:.3}  R {:.3}  F1 {:.3}  accuracy {:.3}  (TP {} FP {} FN {} TN {})\n",
        report.pages,
        report.precision,
        report.recall,
        report.f1,
        report.accuracy,
        c.tp,
        c.fp,
        c.fn_,
        c.tn
    );
    out.push_str(&format!(
        "no_body {}  no text {}  dead letters {:?}\n",
        report.no_body, report.no_text, report.dead_letters
    ));
    for (name, a) in [
        ("dates", report.dates),
        ("authors", report.authors),
        ("titles", report.titles),
    ] {
        out.push_str(&format!(
            "{name:<8} {:.1} % right ({} of {})\n",
            a.share * 100.0,
            a.right,
            a.of
        ));
    }
    let m = &report.date_misses;
    out.push_str(&format!(
        "dates missed: {} none found, {} a day off, {} another day, {} no article\n",
        m.none, m.day_off, m.wrong, m.no_output
    ));
    if !report.worst.is_empty() {
        out.push_str(
            "\npages that lost most (missed = gold text not found, kept = furniture kept):\n",
        );
        for loss in &report.worst {
            out.push_str(&format!(
                "  {}{}\n",
                loss.file,
                loss.dead_letter
                    .as_deref()
                    .map(|k| format!(" [dead letter: {k}]"))
                    .unwrap_or_default()
            ));
            for m in &loss.missed {
                out.push_str(&format!("    missed: {}\n", short(m)));
            }
            for k in &loss.kept {
                out.push_str(&format!("    kept:   {}\n", short(k)));
            }
        }
    }
    out
}

fn short(text: &str) -> String {
    let folded = fold(text);
    if folded.chars().count() > 100 {
        format!("{}…", folded.chars().take(100).collect::<String>())
    } else {
        folded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gold(with: &[&str], without: &[&str]) -> Gold {
        Gold {
            file: "a.html".into(),
            with: with.iter().map(|s| (*s).to_owned()).collect(),
            without: without.iter().map(|s| (*s).to_owned()).collect(),
            ..Gold::default()
        }
    }

    #[test]
    fn snippets_are_found_after_folding_whitespace_and_case_matters() {
        let ex = Extracted {
            text: Some("The  first\nline.\nSecond line".into()),
            ..Extracted::default()
        };
        let report = score(
            &[(
                gold(&["first line.", "second line"], &["Second line", "Menu"]),
                ex,
            )],
            5,
        );
        assert_eq!(
            report.counts,
            Counts {
                tp: 1,
                fp: 1,
                fn_: 1,
                tn: 1
            }
        );
        assert!((report.f1 - 0.5).abs() < 1e-9);
    }

    #[test]
    fn a_page_without_text_misses_every_snippet_and_keeps_none() {
        let ex = Extracted {
            dead_letter: Some("no_body".into()),
            ..Extracted::default()
        };
        let report = score(&[(gold(&["a", "b"], &["c"]), ex)], 5);
        assert_eq!(report.counts.fn_, 2);
        assert_eq!(report.counts.tn, 1);
        assert_eq!(report.no_body, 1);
        assert_eq!(report.no_text, 1);
        assert_eq!(report.worst.len(), 1);
    }

    #[test]
    fn the_day_is_read_in_the_pages_own_offset() {
        assert_eq!(
            day_of(
                Some("2023-03-20T01:00:00+03:00"),
                Some("2023-03-19T22:00:00Z")
            ),
            NaiveDate::from_ymd_opt(2023, 3, 20)
        );
        assert_eq!(
            day_of(Some("March 20"), Some("2023-03-19T22:00:00Z")),
            NaiveDate::from_ymd_opt(2023, 3, 19)
        );
    }

    #[test]
    fn date_misses_are_told_apart() {
        let dated = |file: &str, day: u32| Gold {
            file: file.into(),
            date: NaiveDate::from_ymd_opt(2023, 3, day),
            ..Gold::default()
        };
        let read = |day: Option<u32>| Extracted {
            text: Some(String::new()),
            day: day.and_then(|d| NaiveDate::from_ymd_opt(2023, 3, d)),
            ..Extracted::default()
        };
        let pages = [
            (dated("right.html", 20), read(Some(20))),
            (dated("none.html", 20), read(None)),
            (dated("off.html", 20), read(Some(19))),
            (dated("wrong.html", 20), read(Some(2))),
            (dated("dead.html", 20), Extracted::default()),
        ];
        let report = score(&pages, 2);
        assert_eq!(report.dates.right, 1);
        assert_eq!(report.dates.of, 5);
        let m = report.date_misses;
        assert_eq!((m.none, m.day_off, m.wrong, m.no_output), (1, 1, 1, 1));
        assert_eq!(report.worst_dates.len(), 2);
        let text = print_dates(&report);
        assert!(text.contains("dates    20.0 % right (1 of 5)"), "{text}");
        assert!(text.contains("none.html  2023-03-20  -  -"), "{text}");
        assert!(!text.contains("main text"), "{text}");
    }

    #[test]
    fn author_sets_compare_without_case_or_order() {
        assert!(same_names(
            &["Ana Ruiz".into(), "bo li".into()],
            &["Bo  Li".into(), "ana ruiz".into()]
        ));
        assert!(!same_names(&["Ana Ruiz".into()], &[]));
    }
}
