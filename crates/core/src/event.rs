//! The events that travel between stages. `schemas/*.json` is the contract; these types are its
//! Rust form, and tests round-trip them through the schemas.
//!
//! Nullable fields of published events are always serialized (as `null` when unknown), so every
//! consumer sees the same set of keys. Consumers tolerate unknown fields: none of these types
//! denies them, so a `.v1` topic can grow additively.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{ErrorKind, Rejection};
use crate::story::StoryRecord;

/// How the page in a raw event is to be read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum ContentType {
    TextPlain,
    TextHtml,
    /// One JSON Feed 1.1 item.
    ApplicationJson,
    /// Anything else; kept so the decode step can reject it with `unknown_content_type`
    /// instead of a generic field error.
    Other(String),
}

impl ContentType {
    pub fn as_str(&self) -> &str {
        match self {
            ContentType::TextPlain => "text/plain",
            ContentType::TextHtml => "text/html",
            ContentType::ApplicationJson => "application/json",
            ContentType::Other(other) => other,
        }
    }
}

impl From<String> for ContentType {
    fn from(value: String) -> Self {
        // Media types are case-insensitive and may carry parameters (`text/html; charset=…`).
        let essence = value.split(';').next().unwrap_or_default().trim();
        match essence.to_ascii_lowercase().as_str() {
            "text/plain" => ContentType::TextPlain,
            "text/html" => ContentType::TextHtml,
            "application/json" | "application/feed+json" => ContentType::ApplicationJson,
            _ => ContentType::Other(value),
        }
    }
}

impl From<ContentType> for String {
    fn from(value: ContentType) -> Self {
        value.as_str().to_owned()
    }
}

/// Metadata a producer already knows; the normalizer prefers valid hints over what it parses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hints {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// As the producer has it; the normalizer parses and validates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// A page as fetched (`news.raw.v1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawEvent {
    pub id: String,
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient_time",
        serialize_with = "opt_rfc3339",
        skip_serializing_if = "Option::is_none"
    )]
    pub fetched_at: Option<DateTime<Utc>>,
    /// When the event entered `news.raw.v1` (its record timestamp); set by the decode step when
    /// the producer did not, and carried along by every later stage.
    #[serde(
        default,
        deserialize_with = "lenient_time",
        serialize_with = "opt_rfc3339",
        skip_serializing_if = "Option::is_none"
    )]
    pub ingested_at: Option<DateTime<Utc>>,
    pub content_type: ContentType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_base64: Option<String>,
    /// Label of the encoding of `content_base64` (`windows-1252`, `shift_jis`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hints: Option<Hints>,
}

impl RawEvent {
    /// A page given as text, with no URL, times, charset or hints.
    pub fn with_content(
        id: impl Into<String>,
        source: impl Into<String>,
        content_type: ContentType,
        content: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            source: source.into(),
            url: None,
            fetched_at: None,
            ingested_at: None,
            content_type,
            content: Some(content.into()),
            content_base64: None,
            charset: None,
            hints: None,
        }
    }

    /// A plain-text page of `source` with nothing else known, as the simplest producer (or a
    /// test) sends it.
    pub fn plain_text(
        id: impl Into<String>,
        source: impl Into<String>,
        content: impl Into<String>,
    ) -> Self {
        Self::with_content(id, source, ContentType::TextPlain, content)
    }
}

/// `SEOUL, June 16 (UPI) --`: where, when and by whom, as the article's first line says it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dateline {
    pub place: Option<String>,
    pub date_text: Option<String>,
    pub agency: Option<String>,
}

/// One item of a "Latest Headlines"/related-stories block split off the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Related {
    pub title: String,
    pub section: Option<String>,
    pub age_text: Option<String>,
    pub summary: Option<String>,
}

/// A clean, structured article (`news.normalized.v1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NormalizedArticle {
    pub id: String,
    pub revision: u32,
    pub source: String,
    pub url: Option<String>,
    pub title: Option<String>,
    pub section: Option<String>,
    pub authors: Vec<String>,
    #[serde(deserialize_with = "lenient_time", serialize_with = "opt_rfc3339")]
    pub published_at: Option<DateTime<Utc>>,
    pub published_at_raw: Option<String>,
    pub dateline: Option<Dateline>,
    pub lede: Option<String>,
    /// Clean paragraphs, in order.
    pub body: Vec<String>,
    pub related: Vec<Related>,
    /// ISO 639-1.
    pub language: Option<String>,
    pub word_count: u32,
    /// Hex SHA-256 of the body with case, whitespace, quotes and dashes folded.
    pub content_hash: String,
    #[serde(deserialize_with = "lenient_time", serialize_with = "opt_rfc3339")]
    pub fetched_at: Option<DateTime<Utc>>,
    #[serde(with = "rfc3339")]
    pub ingested_at: DateTime<Utc>,
    #[serde(with = "rfc3339")]
    pub normalized_at: DateTime<Utc>,
}

impl NormalizedArticle {
    /// An article known only by its id, source, body paragraphs and publication time (also its
    /// ingest and normalize time): no url, title, lede or other metadata, revision 1, and the
    /// `content_hash` and `word_count` the normalizer would compute. For synthetic streams,
    /// tests and benchmarks; set other fields with struct update syntax.
    pub fn from_body(
        id: &str,
        source: &str,
        body: Vec<String>,
        published_at: DateTime<Utc>,
    ) -> Self {
        let (content_hash, word_count) = crate::normalize::clean::hash_and_count(&body);
        Self {
            id: id.to_owned(),
            revision: 1,
            source: source.to_owned(),
            url: None,
            title: None,
            section: None,
            authors: Vec::new(),
            published_at: Some(published_at),
            published_at_raw: None,
            dateline: None,
            lede: None,
            body,
            related: Vec::new(),
            language: None,
            word_count,
            content_hash,
            fetched_at: None,
            ingested_at: published_at,
            normalized_at: published_at,
        }
    }

    /// The time the story happened as far as newsflow can tell: `published_at`, else
    /// `fetched_at`, else `ingested_at`. The dedup window runs on it.
    pub fn event_time(&self) -> DateTime<Utc> {
        self.published_at
            .or(self.fetched_at)
            .unwrap_or(self.ingested_at)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DedupStatus {
    Unique,
}

/// The deduplicator's verdict on an article that continues downstream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DedupInfo {
    pub status: DedupStatus,
    pub fingerprint: String,
}

/// A first copy of a story (`news.deduplicated.v1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeduplicatedArticle {
    #[serde(flatten)]
    pub article: NormalizedArticle,
    pub dedup: DedupInfo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateKind {
    Exact,
    Near,
}

/// A copy of an earlier story (`news.duplicates.v1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DuplicateNotice {
    pub id: String,
    /// The earliest unique article of the story, never a copy.
    pub duplicate_of: String,
    pub kind: DuplicateKind,
    /// Estimated similarity to `duplicate_of`, 0..1 (1 for exact copies).
    pub similarity: f64,
    pub source: String,
    pub title: Option<String>,
    #[serde(with = "rfc3339")]
    pub detected_at: DateTime<Utc>,
}

/// Where in the article a tag's evidence was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Title,
    Lede,
    Body,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The rule's canonical term (or a group's phrase).
    pub term: String,
    pub count: u32,
    #[serde(rename = "where")]
    pub location: Field,
    /// The text that matched, as the article writes it (case, diacritics, dashes), in order of
    /// first occurrence, at most three forms. Empty in events written before it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matched: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicTag {
    pub id: String,
    pub label: String,
    /// 0..1.
    pub score: f64,
    /// IPTC Media Topic codes (`medtop:…`).
    pub iptc: Vec<String>,
    pub evidence: Vec<Evidence>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityType {
    Person,
    Place,
    Org,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entity {
    /// Wikidata QID where known.
    pub id: Option<String>,
    pub name: String,
    #[serde(rename = "type")]
    pub entity_type: EntityType,
    pub mentions: u32,
}

/// A tagged article (`news.enriched.v1` and `news.topic.<topic-id>.v1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrichedArticle {
    #[serde(flatten)]
    pub article: NormalizedArticle,
    pub dedup: DedupInfo,
    pub topics: Vec<TopicTag>,
    pub entities: Vec<Entity>,
    pub tagger_version: String,
    pub taxonomy_version: String,
}

/// The kinds of event, one per contract in `schemas/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    Raw,
    Normalized,
    Deduplicated,
    DuplicateNotice,
    Enriched,
    /// A change of a story (`news.stories.v1`), the story stage's output.
    Story,
}

impl EventKind {
    pub const ALL: [EventKind; 6] = [
        EventKind::Raw,
        EventKind::Normalized,
        EventKind::Deduplicated,
        EventKind::DuplicateNotice,
        EventKind::Enriched,
        EventKind::Story,
    ];

    /// The JSON Schema in `schemas/` that events of this kind validate against.
    pub fn schema_file(self) -> &'static str {
        match self {
            EventKind::Raw => "raw.v1.schema.json",
            EventKind::Normalized => "normalized.v1.schema.json",
            EventKind::Deduplicated => "deduplicated.v1.schema.json",
            EventKind::DuplicateNotice => "duplicate-notice.v1.schema.json",
            EventKind::Enriched => "enriched.v1.schema.json",
            EventKind::Story => "story.v1.schema.json",
        }
    }

    /// The CloudEvents `type` attribute (`ce_type` header).
    pub fn cloudevents_type(self) -> &'static str {
        match self {
            EventKind::Raw => "io.newsflow.article.raw.v1",
            EventKind::Normalized => "io.newsflow.article.normalized.v1",
            EventKind::Deduplicated => "io.newsflow.article.deduplicated.v1",
            EventKind::DuplicateNotice => "io.newsflow.article.duplicate.v1",
            EventKind::Enriched => "io.newsflow.article.enriched.v1",
            EventKind::Story => "io.newsflow.story.v1",
        }
    }
}

/// Any event a stage consumes or emits.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Raw(RawEvent),
    Normalized(NormalizedArticle),
    Deduplicated(DeduplicatedArticle),
    DuplicateNotice(DuplicateNotice),
    Enriched(EnrichedArticle),
    Story(StoryRecord),
}

impl Event {
    pub fn kind(&self) -> EventKind {
        match self {
            Event::Raw(_) => EventKind::Raw,
            Event::Normalized(_) => EventKind::Normalized,
            Event::Deduplicated(_) => EventKind::Deduplicated,
            Event::DuplicateNotice(_) => EventKind::DuplicateNotice,
            Event::Enriched(_) => EventKind::Enriched,
            Event::Story(_) => EventKind::Story,
        }
    }

    /// The article id, which is also the Kafka key (a story's id for a story record).
    pub fn id(&self) -> &str {
        match self {
            Event::Raw(e) => &e.id,
            Event::Normalized(e) => &e.id,
            Event::Deduplicated(e) => &e.article.id,
            Event::DuplicateNotice(e) => &e.id,
            Event::Enriched(e) => &e.article.id,
            Event::Story(e) => &e.story.id,
        }
    }

    /// The event's `source` (for the CloudEvents `source` attribute).
    pub fn source(&self) -> &str {
        match self {
            Event::Raw(e) => &e.source,
            Event::Normalized(e) => &e.source,
            Event::Deduplicated(e) => &e.article.source,
            Event::DuplicateNotice(e) => &e.source,
            Event::Enriched(e) => &e.article.source,
            // A story has many sources; the stage that made the record stands for them.
            Event::Story(_) => crate::story::StoryStage::NAME,
        }
    }

    /// When the article entered `news.raw.v1`: the start of its end-to-end latency.
    pub fn ingested_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Event::Raw(e) => e.ingested_at,
            Event::Normalized(e) => Some(e.ingested_at),
            Event::Deduplicated(e) => Some(e.article.ingested_at),
            Event::DuplicateNotice(_) => None,
            Event::Enriched(e) => Some(e.article.ingested_at),
            Event::Story(_) => None,
        }
    }

    /// Parses a payload as an event of `kind`, with the typed reason when it cannot.
    pub fn from_json(kind: EventKind, payload: &[u8]) -> Result<Event, Rejection> {
        Ok(match kind {
            EventKind::Raw => Event::Raw(parse_json(payload)?),
            EventKind::Normalized => Event::Normalized(parse_json(payload)?),
            EventKind::Deduplicated => Event::Deduplicated(parse_json(payload)?),
            EventKind::DuplicateNotice => Event::DuplicateNotice(parse_json(payload)?),
            EventKind::Enriched => Event::Enriched(parse_json(payload)?),
            EventKind::Story => Event::Story(parse_json(payload)?),
        })
    }

    /// The JSON payload. Serializing these types cannot fail (no maps with non-string keys, no
    /// non-finite floats reach them), but the error is passed on rather than unwrapped.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        match self {
            Event::Raw(e) => serde_json::to_vec(e),
            Event::Normalized(e) => serde_json::to_vec(e),
            Event::Deduplicated(e) => serde_json::to_vec(e),
            Event::DuplicateNotice(e) => serde_json::to_vec(e),
            Event::Enriched(e) => serde_json::to_vec(e),
            Event::Story(e) => serde_json::to_vec(e),
        }
    }
}

/// Parses JSON bytes into `T`, turning serde's errors into the closed list of reasons.
pub fn parse_json<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, Rejection> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Err(Rejection::new(
            ErrorKind::EmptyContent,
            "the payload is empty",
        ));
    }
    if let Err(err) = std::str::from_utf8(payload) {
        return Err(Rejection::new(
            ErrorKind::InvalidUtf8,
            format!("the payload is not UTF-8: {err}"),
        ));
    }
    if let Some(depth) = too_deep(payload) {
        return Err(Rejection::new(
            ErrorKind::TooDeeplyNested,
            format!("the JSON nests deeper than {depth} levels"),
        ));
    }
    serde_json::from_slice(payload).map_err(json_rejection)
}

/// Arrays and objects nested at most this deep; serde_json's own limit (the same) does not
/// apply to fields it skips, where a hostile payload could hide a deep nest.
pub const MAX_JSON_DEPTH: usize = 128;

/// `Some(MAX_JSON_DEPTH)` when the JSON text nests deeper, anywhere (strings skipped).
fn too_deep(payload: &[u8]) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &byte in payload {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return Some(MAX_JSON_DEPTH);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// Maps a `serde_json` error to the reason a dead letter carries.
pub fn json_rejection(err: serde_json::Error) -> Rejection {
    use serde_json::error::Category;
    let message = err.to_string();
    let kind = match err.classify() {
        Category::Syntax if message.contains("recursion limit exceeded") => {
            ErrorKind::TooDeeplyNested
        }
        Category::Syntax | Category::Eof | Category::Io => ErrorKind::MalformedJson,
        Category::Data if message.starts_with("missing field") => ErrorKind::MissingField,
        Category::Data => ErrorKind::InvalidField,
    };
    Rejection::new(kind, message)
}

/// RFC 3339 in UTC with a `Z` and only as many fractional digits as needed.
pub fn format_rfc3339(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn opt_rfc3339<S: Serializer>(value: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(time) => s.serialize_str(&format_rfc3339(time)),
        None => s.serialize_none(),
    }
}

/// A timestamp that does not parse is a doubtful value, not a bad event: it becomes `None`.
fn lenient_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(d)?;
    Ok(value
        .as_ref()
        .and_then(serde_json::Value::as_str)
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map(|time| time.with_timezone(&Utc)))
}

pub(crate) mod rfc3339 {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_rfc3339(value))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|time| time.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_json(extra: &str) -> Vec<u8> {
        format!(
            r#"{{"id":"a1","source":"wire","content_type":"text/plain","content":"Hello."{extra}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn parses_a_minimal_raw_event() {
        let event = Event::from_json(EventKind::Raw, &raw_json("")).unwrap();
        let Event::Raw(raw) = event else {
            panic!("not raw")
        };
        assert_eq!(raw.id, "a1");
        assert_eq!(raw.content_type, ContentType::TextPlain);
        assert_eq!(raw.content.as_deref(), Some("Hello."));
    }

    #[test]
    fn a_deep_nest_anywhere_is_rejected_but_brackets_in_strings_are_text() {
        let deep = |n: usize| format!(r#","skipped":{}{}"#, "[".repeat(n), "]".repeat(n));
        let err = Event::from_json(EventKind::Raw, &raw_json(&deep(MAX_JSON_DEPTH))).unwrap_err();
        assert_eq!(err.kind, ErrorKind::TooDeeplyNested);
        // The event object itself is one level: this is as deep as it may go.
        assert!(Event::from_json(EventKind::Raw, &raw_json(&deep(MAX_JSON_DEPTH - 1))).is_ok());
        let brackets = format!(r#","note":"{} \" {{""#, "[".repeat(500));
        assert!(Event::from_json(EventKind::Raw, &raw_json(&brackets)).is_ok());
    }

    #[test]
    fn an_impossible_timestamp_becomes_none_not_an_error() {
        let payload = raw_json(r#","fetched_at":"2022-02-30T10:00:00Z""#);
        let Event::Raw(raw) = Event::from_json(EventKind::Raw, &payload).unwrap() else {
            panic!("not raw")
        };
        assert_eq!(raw.fetched_at, None);
    }

    #[test]
    fn timestamps_are_written_in_utc_with_z() {
        let payload = raw_json(r#","fetched_at":"2022-06-16T06:44:00-04:00""#);
        let event = Event::from_json(EventKind::Raw, &payload).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&event.to_json().unwrap()).unwrap();
        assert_eq!(json["fetched_at"], "2022-06-16T10:44:00Z");
    }

    #[test]
    fn content_type_parameters_and_case_are_ignored() {
        assert_eq!(
            ContentType::from("Text/HTML; charset=utf-8".to_owned()),
            ContentType::TextHtml
        );
        assert_eq!(
            ContentType::from("image/png".to_owned()),
            ContentType::Other("image/png".into())
        );
    }

    #[test]
    fn bad_payloads_get_their_own_reason() {
        let reason = |payload: &[u8]| Event::from_json(EventKind::Raw, payload).unwrap_err().kind;
        assert_eq!(reason(b""), ErrorKind::EmptyContent);
        assert_eq!(reason(b"{\"id\":"), ErrorKind::MalformedJson);
        assert_eq!(reason(b"not json"), ErrorKind::MalformedJson);
        assert_eq!(reason(b"{\"id\":\"\xff\"}"), ErrorKind::InvalidUtf8);
        assert_eq!(
            reason(br#"{"source":"s","content_type":"text/plain"}"#),
            ErrorKind::MissingField
        );
        assert_eq!(
            reason(br#"{"id":7,"source":"s","content_type":"text/plain"}"#),
            ErrorKind::InvalidField
        );
        let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let err = parse_json::<serde_json::Value>(nested.as_bytes()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::TooDeeplyNested);
        // Also in a field serde would skip.
        let extra =
            format!(r#"{{"id":"a","source":"s","content_type":"text/plain","x":{nested}}}"#);
        assert_eq!(reason(extra.as_bytes()), ErrorKind::TooDeeplyNested);
    }
}
