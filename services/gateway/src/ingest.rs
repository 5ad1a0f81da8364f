//! `POST /v1/articles`: a request body → the raw events it holds, each checked against
//! `raw.v1` before anything is produced. One raw event (`application/json`), a batch (a JSON
//! array, or `application/x-ndjson`), or a page itself (`text/html`, `text/plain`) with its
//! source, url and id in `X-Newsflow-*` headers. Ids are derived as `newsflow produce` derives
//! them when the producer gives none.

use base64::Engine as _;
use newsflow_core::event::RawEvent;
use newsflow_core::ids;
use serde_json::{Map, Value};

/// The contract every ingested event must meet, compiled into the binary.
const RAW_SCHEMA: &str = include_str!("../../../schemas/raw.v1.schema.json");

/// Why a body was refused; nothing of it is produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// 415: not one of the accepted media types.
    #[error(
        "unsupported content type {0:?}: send application/json, application/x-ndjson, text/html or text/plain"
    )]
    UnsupportedMediaType(String),
    /// 400: not JSON, not a raw event, or a page without its source.
    #[error("{message}")]
    Invalid {
        message: String,
        /// Which event of a batch (0-based), when the body is one.
        index: Option<usize>,
        /// The failing keyword's place in `raw.v1` (`/properties/url/format`) and the value's
        /// place in the event (`/url`), for a schema violation.
        schema_path: Option<String>,
        instance_path: Option<String>,
    },
}

impl IngestError {
    fn invalid(message: impl Into<String>, index: Option<usize>) -> Self {
        IngestError::Invalid {
            message: message.into(),
            index,
            schema_path: None,
            instance_path: None,
        }
    }

    /// The JSON the gateway answers with.
    pub fn to_json(&self) -> Value {
        match self {
            IngestError::UnsupportedMediaType(_) => {
                serde_json::json!({"error": "unsupported_media_type", "message": self.to_string()})
            }
            IngestError::Invalid {
                message,
                index,
                schema_path,
                instance_path,
            } => serde_json::json!({
                "error": "invalid_body",
                "message": message,
                "index": index,
                "schema_path": schema_path,
                "instance_path": instance_path,
            }),
        }
    }
}

/// The `X-Newsflow-*` headers of a request.
#[derive(Debug, Clone, Default)]
pub struct PageHeaders {
    pub source: Option<String>,
    pub url: Option<String>,
    pub id: Option<String>,
}

/// Turns request bodies into checked raw events.
#[derive(Debug)]
pub struct Ingest {
    schema: jsonschema::Validator,
}

impl Ingest {
    pub fn new() -> anyhow::Result<Self> {
        let schema: Value = serde_json::from_str(RAW_SCHEMA)?;
        let schema = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&schema)
            .map_err(|err| anyhow::anyhow!("raw.v1.schema.json: {err}"))?;
        Ok(Self { schema })
    }

    /// The raw events of one request body, in order; all of them or an error.
    pub fn parse(
        &self,
        content_type: Option<&str>,
        headers: &PageHeaders,
        body: &[u8],
    ) -> Result<Vec<RawEvent>, IngestError> {
        let (media, charset) = media_type(content_type.unwrap_or(""));
        let objects = match media.as_str() {
            "application/json" => match json(body, None)? {
                Value::Array(items) if items.is_empty() => {
                    return Err(IngestError::invalid("the batch is empty", None));
                }
                Value::Array(items) => items,
                one => vec![one],
            },
            "application/x-ndjson" | "application/jsonl" | "application/json-seq" => {
                let lines: Vec<Value> = body
                    .split(|b| *b == b'\n')
                    .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
                    .enumerate()
                    .map(|(i, line)| json(line, Some(i)))
                    .collect::<Result<_, _>>()?;
                if lines.is_empty() {
                    return Err(IngestError::invalid("the batch is empty", None));
                }
                lines
            }
            "text/html" | "text/plain" => vec![page(&media, charset.as_deref(), headers, body)?],
            _ => return Err(IngestError::UnsupportedMediaType(media)),
        };
        let batch = objects.len() > 1 || media != "application/json";
        objects
            .into_iter()
            .enumerate()
            .map(|(i, value)| self.event(value, headers, batch.then_some(i)))
            .collect()
    }

    fn event(
        &self,
        value: Value,
        headers: &PageHeaders,
        index: Option<usize>,
    ) -> Result<RawEvent, IngestError> {
        let Value::Object(mut object) = value else {
            return Err(IngestError::invalid(
                "a raw event is a JSON object, not an array or a scalar",
                index,
            ));
        };
        let fallback = Value::Object(object.clone()).to_string();
        ids::complete_raw_object(&mut object, headers.source.as_deref(), &fallback);
        let value = Value::Object(object);
        if let Some(error) = self.schema.iter_errors(&value).next() {
            let place = error.instance_path().to_string();
            let shown = if place.is_empty() {
                "/"
            } else {
                place.as_str()
            };
            return Err(IngestError::Invalid {
                message: format!("not a raw.v1 event: {error} (at {shown})"),
                index,
                schema_path: Some(error.schema_path().to_string()),
                instance_path: Some(place),
            });
        }
        serde_json::from_value(value)
            .map_err(|err| IngestError::invalid(format!("not a raw.v1 event: {err}"), index))
    }
}

/// `text/HTML; charset=ISO-8859-1` → (`text/html`, `Some("iso-8859-1")`).
fn media_type(header: &str) -> (String, Option<String>) {
    let mut parts = header.split(';');
    let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let charset = parts.find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"').to_ascii_lowercase())
    });
    (media, charset)
}

fn json(bytes: &[u8], index: Option<usize>) -> Result<Value, IngestError> {
    newsflow_core::event::parse_json(bytes).map_err(|rejection| {
        IngestError::invalid(format!("not JSON: {}", rejection.message), index)
    })
}

/// A page sent as itself: its bytes become `content` when they are UTF-8 and declared so (or
/// undeclared), else `content_base64` with the declared charset for the normalizer to decode.
fn page(
    media: &str,
    charset: Option<&str>,
    headers: &PageHeaders,
    body: &[u8],
) -> Result<Value, IngestError> {
    let Some(source) = headers.source.as_deref().filter(|s| !s.trim().is_empty()) else {
        return Err(IngestError::invalid(
            "a page sent as itself needs the X-Newsflow-Source header",
            None,
        ));
    };
    let mut object = Map::new();
    object.insert("source".into(), Value::from(source.trim()));
    object.insert("content_type".into(), Value::from(media));
    for (key, value) in [("url", &headers.url), ("id", &headers.id)] {
        if let Some(value) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            object.insert(key.into(), Value::from(value));
        }
    }
    let utf8 = charset.is_none_or(|c| c == "utf-8" || c == "utf8");
    match std::str::from_utf8(body) {
        Ok(text) if utf8 => {
            object.insert("content".into(), Value::from(text));
        }
        _ => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(body);
            object.insert("content_base64".into(), Value::from(encoded));
            if let Some(charset) = charset {
                object.insert("charset".into(), Value::from(charset));
            }
        }
    }
    Ok(Value::Object(object))
}

#[cfg(test)]
mod tests {
    use super::*;
    use newsflow_core::event::ContentType;

    fn ingest() -> Ingest {
        Ingest::new().unwrap()
    }

    fn no_headers() -> PageHeaders {
        PageHeaders::default()
    }

    fn parse(content_type: &str, body: &str) -> Result<Vec<RawEvent>, IngestError> {
        ingest().parse(Some(content_type), &no_headers(), body.as_bytes())
    }

    #[test]
    fn one_event_a_batch_and_json_lines_are_read_with_derived_ids() {
        let one = parse(
            "application/json",
            r#"{"source":"wire","url":"https://example.org/a?utm_source=x","content_type":"text/plain","content":"Hello"}"#,
        )
        .unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(
            one[0].id,
            ids::id_for_url("wire", "https://example.org/a"),
            "the id newsflow produce derives"
        );
        let batch = parse(
            "application/json; charset=utf-8",
            r#"[{"id":"a","source":"s","content_type":"text/plain","content":"x"},
                {"id":"b","source":"s","content_type":"text/html","content":"<p>y</p>"}]"#,
        )
        .unwrap();
        assert_eq!(
            batch.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        let lines = parse(
            "application/x-ndjson",
            "{\"id\":\"a\",\"source\":\"s\",\"content_type\":\"text/plain\",\"content\":\"x\"}\n\n{\"source\":\"s\",\"content_type\":\"text/plain\",\"content\":\"y\"}\n",
        )
        .unwrap();
        assert_eq!(lines[1].id, ids::id_for_content("s", "y"));
    }

    #[test]
    fn a_schema_violation_names_its_place_and_refuses_the_whole_batch() {
        let err = parse(
            "application/json",
            r#"[{"id":"a","source":"s","content_type":"text/plain","content":"x"},
                {"id":"b","source":"s","content_type":"text/plain","content":"x","url":"not a url"}]"#,
        )
        .unwrap_err();
        let IngestError::Invalid {
            index,
            schema_path,
            instance_path,
            ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(*index, Some(1));
        assert_eq!(instance_path.as_deref(), Some("/url"));
        assert_eq!(schema_path.as_deref(), Some("/properties/url/format"));
        assert_eq!(err.to_json()["error"], "invalid_body");

        let missing = parse("application/json", r#"{"source":"s","content":"x"}"#).unwrap_err();
        assert!(missing.to_string().contains("content_type"), "{missing}");
    }

    #[test]
    fn bad_bodies_get_a_reason() {
        for (content_type, body, expected) in [
            ("application/json", "{not json", "not JSON"),
            ("application/json", "", "not JSON"),
            ("application/json", "[]", "empty"),
            ("application/json", "[1]", "JSON object"),
            ("application/x-ndjson", "\n\n", "empty"),
            ("application/x-ndjson", "{}\n{", "not JSON"),
            ("text/html", "<p>hi</p>", "X-Newsflow-Source"),
        ] {
            let err = parse(content_type, body).unwrap_err();
            assert!(err.to_string().contains(expected), "{body:?}: {err}");
        }
        assert_eq!(
            parse("application/pdf", "%PDF").unwrap_err(),
            IngestError::UnsupportedMediaType("application/pdf".into())
        );
        assert!(matches!(
            ingest().parse(None, &no_headers(), b"x"),
            Err(IngestError::UnsupportedMediaType(_))
        ));
    }

    #[test]
    fn a_page_sent_as_itself_becomes_a_raw_event() {
        let headers = PageHeaders {
            source: Some("crawler".into()),
            url: Some("https://example.org/story".into()),
            id: None,
        };
        let html = ingest()
            .parse(Some("text/html"), &headers, b"<h1>T</h1><p>Body</p>")
            .unwrap();
        assert_eq!(html[0].content_type, ContentType::TextHtml);
        assert_eq!(html[0].content.as_deref(), Some("<h1>T</h1><p>Body</p>"));
        assert_eq!(
            html[0].id,
            ids::id_for_url("crawler", "https://example.org/story")
        );

        let latin1 = ingest()
            .parse(
                Some("text/plain; charset=ISO-8859-1"),
                &PageHeaders {
                    id: Some("given".into()),
                    ..headers.clone()
                },
                b"Caf\xe9",
            )
            .unwrap();
        assert_eq!(latin1[0].id, "given");
        assert_eq!(latin1[0].content_base64.as_deref(), Some("Q2Fm6Q=="));
        assert_eq!(latin1[0].charset.as_deref(), Some("iso-8859-1"));

        let empty = ingest()
            .parse(Some("text/plain"), &headers, b"")
            .unwrap_err();
        assert!(empty.to_string().contains("content"), "{empty}");
    }
}
