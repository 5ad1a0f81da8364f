//! INPUT arguments → raw events, by the rules of the embedded pipeline contract, shared by
//! `newsflow run` and `newsflow produce`.
//!
//! - a file: `.txt` → `text/plain`, `.html`/`.htm` → `text/html`, `.jsonl`/`.ndjson` → one raw
//!   event per line, `.json` → one JSON Feed item (extensions match in any case); other files
//!   are skipped and counted;
//! - a directory: every file below it, recursively, sorted by path;
//! - `-`: JSON Lines on stdin.
//!
//! `source` defaults to the INPUT's own name (file stem or folder name). Ids follow
//! [`newsflow_core::ids`]: a file's id hashes its path relative to the INPUT argument.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use newsflow_core::dead_letter::InputRef;
use newsflow_core::event::{ContentType, RawEvent, json_rejection, parse_json};
use newsflow_core::{ErrorKind, Rejection, ids};
use serde_json::Value;

/// The shipped samples `newsflow run` uses when given no INPUT (written by us in the layouts
/// of the shared corpus: a seed-like page, a headline-first text, a body-only text, HTML).
pub const SAMPLES: &[(&str, &[u8])] = &[
    (
        "grain-corridor-body-only.txt",
        include_bytes!("../samples/grain-corridor-body-only.txt"),
    ),
    (
        "harbour-ferry-seed.txt",
        include_bytes!("../samples/harbour-ferry-seed.txt"),
    ),
    (
        "library-reopens-headline-first.txt",
        include_bytes!("../samples/library-reopens-headline-first.txt"),
    ),
    (
        "museum-night-page.html",
        include_bytes!("../samples/museum-night-page.html"),
    ),
];

/// The source of the shipped samples.
pub const SAMPLES_SOURCE: &str = "samples";

/// How many bytes of an oversized file a dead letter keeps.
const OVERSIZED_ORIGINAL_BYTES: usize = 64 * 1024;

/// One INPUT argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// `-`: JSON Lines on stdin.
    Stdin,
    /// A file or a directory.
    Path(PathBuf),
    /// The shipped samples.
    Samples,
}

impl Input {
    pub fn parse(arg: &str) -> Self {
        if arg == "-" {
            Input::Stdin
        } else {
            Input::Path(PathBuf::from(arg))
        }
    }
}

/// How a file is read, by its extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// One article per file.
    Page(ContentType),
    /// One raw event per line.
    JsonLines,
}

/// The format of `path`, or `None` when such files are skipped.
pub fn format_of(path: &Path) -> Option<Format> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "txt" => Format::Page(ContentType::TextPlain),
        "html" | "htm" => Format::Page(ContentType::TextHtml),
        "json" => Format::Page(ContentType::ApplicationJson),
        "jsonl" | "ndjson" => Format::JsonLines,
        _ => return None,
    })
}

/// An input that cannot become a raw event, with what is known of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub id: Option<String>,
    pub rejection: Rejection,
}

/// One article read from the inputs: a raw event, or why it cannot be one.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub input: InputRef,
    /// The bytes as read (a file, or one line), for dead letters.
    pub original: Vec<u8>,
    pub outcome: Result<RawEvent, Rejected>,
}

/// Counters of one pass over the inputs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    pub files: u64,
    pub lines: u64,
    pub skipped_files: u64,
    /// Inputs that could not be read, as `path: error`.
    pub failures: Vec<String>,
}

/// Reading options.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// `--source`; when `None`, each INPUT's own name.
    pub source: Option<String>,
    /// Files larger than this are rejected (`too_large`) without being read in full.
    pub max_content_bytes: usize,
}

impl Default for ReadOptions {
    /// Each INPUT's own name as its source, and the normalizer's size limit.
    fn default() -> Self {
        Self {
            source: None,
            max_content_bytes: newsflow_core::decode::DEFAULT_MAX_CONTENT_BYTES,
        }
    }
}

/// Reads every input in order and hands each record to `sink`. Inputs that cannot be read are
/// counted in [`ReadStats::failures`] and skipped; an error from `sink` (an unwritable output)
/// stops the pass and is returned.
pub fn read_inputs<E>(
    inputs: &[Input],
    options: &ReadOptions,
    stats: &mut ReadStats,
    mut sink: impl FnMut(Record) -> Result<(), E>,
) -> Result<(), E> {
    for input in inputs {
        match input {
            Input::Samples => {
                let source = options.source.as_deref().unwrap_or(SAMPLES_SOURCE);
                for (name, bytes) in SAMPLES {
                    let path = Path::new(name);
                    let Some(Format::Page(content_type)) = format_of(path) else {
                        continue;
                    };
                    stats.files += 1;
                    let input = InputRef {
                        path: format!("samples/{name}"),
                        line: None,
                    };
                    sink(page_record(
                        input,
                        source,
                        name,
                        content_type,
                        bytes.to_vec(),
                    ))?;
                }
            }
            Input::Stdin => {
                let source = options.source.as_deref().unwrap_or("stdin");
                let stdin = io::stdin();
                let reader = stdin.lock();
                if let Err(err) = read_lines(reader, "-", source, stats, &mut sink)? {
                    stats.failures.push(format!("-: {err}"));
                }
            }
            Input::Path(path) => read_path(path, options, stats, &mut sink)?,
        }
    }
    Ok(())
}

/// The default source of a file or folder INPUT: its stem or name.
fn default_source(path: &Path, is_dir: bool) -> String {
    let named = if is_dir {
        path.file_name().map(|n| n.to_string_lossy().into_owned())
    } else {
        path.file_stem().map(|n| n.to_string_lossy().into_owned())
    };
    named
        .filter(|n| !n.is_empty() && n != "." && n != "..")
        .or_else(|| {
            // `.` or `..`: name the folder it stands for.
            std::fs::canonicalize(path)
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        })
        .unwrap_or_else(|| "local".to_owned())
}

fn read_path<E>(
    path: &Path,
    options: &ReadOptions,
    stats: &mut ReadStats,
    sink: &mut impl FnMut(Record) -> Result<(), E>,
) -> Result<(), E> {
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(err) => {
            stats.failures.push(format!("{}: {err}", path.display()));
            return Ok(());
        }
    };
    let source = options
        .source
        .clone()
        .unwrap_or_else(|| default_source(path, metadata.is_dir()));
    if !metadata.is_dir() {
        let relative = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        return read_file(path, &relative, &source, options, stats, sink);
    }
    // `sort_by_file_name` sorts the entries of each directory, which walks the tree in path
    // order.
    let walker = walkdir::WalkDir::new(path).sort_by_file_name().into_iter();
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                let at = err.path().unwrap_or(path).display().to_string();
                stats.failures.push(format!("{at}: {err}"));
                continue;
            }
        };
        if entry.file_type().is_dir() {
            continue;
        }
        let relative = entry
            .path()
            .strip_prefix(path)
            .unwrap_or(entry.path())
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        read_file(entry.path(), &relative, &source, options, stats, sink)?;
    }
    Ok(())
}

fn read_file<E>(
    path: &Path,
    relative: &str,
    source: &str,
    options: &ReadOptions,
    stats: &mut ReadStats,
    sink: &mut impl FnMut(Record) -> Result<(), E>,
) -> Result<(), E> {
    let Some(format) = format_of(path) else {
        stats.skipped_files += 1;
        return Ok(());
    };
    let shown = path.display().to_string();
    let file = match File::open(path) {
        Ok(file) => file,
        Err(err) => {
            stats.failures.push(format!("{shown}: {err}"));
            return Ok(());
        }
    };
    match format {
        Format::JsonLines => {
            if let Err(err) = read_lines(BufReader::new(file), &shown, source, stats, sink)? {
                stats.failures.push(format!("{shown}: {err}"));
            }
            Ok(())
        }
        Format::Page(content_type) => {
            let limit = options.max_content_bytes;
            let mut bytes = Vec::new();
            // Read one byte past the limit: enough to know a file is too large without holding
            // all of it.
            if let Err(err) = file.take(limit as u64 + 1).read_to_end(&mut bytes) {
                stats.failures.push(format!("{shown}: {err}"));
                return Ok(());
            }
            stats.files += 1;
            let input = InputRef {
                path: shown,
                line: None,
            };
            if bytes.len() > limit {
                bytes.truncate(OVERSIZED_ORIGINAL_BYTES);
                let rejection = Rejection::new(
                    ErrorKind::TooLarge,
                    format!(
                        "the file is over the limit of {limit} bytes; the dead letter keeps its first {OVERSIZED_ORIGINAL_BYTES}"
                    ),
                );
                let id = Some(ids::id_for_file(source, relative));
                return sink(Record {
                    input,
                    original: bytes,
                    outcome: Err(Rejected { id, rejection }),
                });
            }
            sink(page_record(input, source, relative, content_type, bytes))
        }
    }
}

/// A whole-file article. UTF-8 without a byte-order mark travels as `content`; anything else as
/// `content_base64`, for the decode step's charset detection.
fn page_record(
    input: InputRef,
    source: &str,
    relative: &str,
    content_type: ContentType,
    bytes: Vec<u8>,
) -> Record {
    let (content, content_base64) = match std::str::from_utf8(&bytes) {
        Ok(text) if !text.starts_with('\u{feff}') => (Some(text.to_owned()), None),
        _ => {
            use base64::Engine as _;
            (
                None,
                Some(base64::engine::general_purpose::STANDARD.encode(&bytes)),
            )
        }
    };
    let raw = RawEvent {
        id: ids::id_for_file(source, relative),
        source: source.to_owned(),
        url: None,
        fetched_at: None,
        ingested_at: None,
        content_type,
        content,
        content_base64,
        charset: None,
        hints: None,
    };
    Record {
        input,
        original: bytes,
        outcome: Ok(raw),
    }
}

/// Reads JSON Lines; blank lines are skipped. The outer result is the sink's, the inner one a
/// read error of the input.
fn read_lines<E>(
    mut reader: impl BufRead,
    shown: &str,
    source: &str,
    stats: &mut ReadStats,
    sink: &mut impl FnMut(Record) -> Result<(), E>,
) -> Result<Result<(), io::Error>, E> {
    let mut number = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => return Ok(Ok(())),
            Ok(_) => {}
            Err(err) => return Ok(Err(err)),
        }
        number += 1;
        let trimmed = trim_line_end(&line);
        if trimmed.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        stats.lines += 1;
        let input = InputRef {
            path: shown.to_owned(),
            line: Some(number),
        };
        let outcome = raw_from_line(trimmed, source);
        sink(Record {
            input,
            original: trimmed.to_vec(),
            outcome,
        })?;
    }
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// One JSON line → a raw event. A missing `source` is the INPUT's; a missing `id` is derived
/// from the canonical `url`, else from the content.
pub fn raw_from_line(line: &[u8], source: &str) -> Result<RawEvent, Rejected> {
    let value: Value = parse_json(line).map_err(|rejection| Rejected {
        id: None,
        rejection,
    })?;
    let Value::Object(mut object) = value else {
        return Err(Rejected {
            id: None,
            rejection: Rejection::new(
                ErrorKind::InvalidField,
                "a raw event is a JSON object, not an array or a scalar",
            ),
        });
    };
    let id = ids::complete_raw_object(&mut object, Some(source), &String::from_utf8_lossy(line));
    serde_json::from_value::<RawEvent>(Value::Object(object)).map_err(|err| Rejected {
        id,
        rejection: json_rejection(err),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_match_in_any_case() {
        assert_eq!(
            format_of(Path::new("a/B.TXT")),
            Some(Format::Page(ContentType::TextPlain))
        );
        assert_eq!(
            format_of(Path::new("x.Htm")),
            Some(Format::Page(ContentType::TextHtml))
        );
        assert_eq!(format_of(Path::new("x.NDJSON")), Some(Format::JsonLines));
        assert_eq!(
            format_of(Path::new("x.json")),
            Some(Format::Page(ContentType::ApplicationJson))
        );
        assert_eq!(format_of(Path::new("x.pdf")), None);
        assert_eq!(format_of(Path::new("README")), None);
    }

    #[test]
    fn a_line_gets_the_inputs_source_and_a_url_id() {
        let raw = raw_from_line(
            br#"{"url":"https://Example.com/a?utm_source=x","content_type":"text/plain","content":"hi"}"#,
            "feed",
        )
        .unwrap();
        assert_eq!(raw.source, "feed");
        assert_eq!(raw.id, ids::id_for_url("feed", "https://example.com/a"));
    }

    #[test]
    fn a_line_keeps_its_own_id_and_source() {
        let raw = raw_from_line(
            br#"{"id":"a","source":"wire","content_type":"text/plain","content":"hi"}"#,
            "feed",
        )
        .unwrap();
        assert_eq!((raw.id.as_str(), raw.source.as_str()), ("a", "wire"));
    }

    #[test]
    fn bad_lines_say_why() {
        let kind = |line: &[u8]| raw_from_line(line, "s").unwrap_err().rejection.kind;
        assert_eq!(kind(b"{oops"), ErrorKind::MalformedJson);
        assert_eq!(kind(b"[1,2]"), ErrorKind::InvalidField);
        assert_eq!(kind(b"\xff\xfe{}"), ErrorKind::InvalidUtf8);
        assert_eq!(
            kind(br#"{"id":"x","content":"hi"}"#),
            ErrorKind::MissingField
        );
        assert_eq!(
            kind(br#"{"id":7,"content_type":"text/plain","content":"hi"}"#),
            ErrorKind::InvalidField
        );
        let nested = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(kind(nested.as_bytes()), ErrorKind::TooDeeplyNested);
    }

    #[test]
    fn a_rejected_line_keeps_its_id() {
        let rejected = raw_from_line(br#"{"id":"b","content_type":7}"#, "s").unwrap_err();
        assert_eq!(rejected.id.as_deref(), Some("b"));
    }

    #[test]
    fn non_utf8_files_travel_as_base64() {
        let input = InputRef {
            path: "x".into(),
            line: None,
        };
        let record = page_record(
            input,
            "s",
            "x.txt",
            ContentType::TextPlain,
            b"\xa315.8m".to_vec(),
        );
        let raw = record.outcome.unwrap();
        assert_eq!(raw.content, None);
        assert_eq!(raw.content_base64.as_deref(), Some("ozE1Ljht"));
    }
}
