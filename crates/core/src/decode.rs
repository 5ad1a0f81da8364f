//! Turning bytes of unknown encoding into text, and the decode step that every pipeline starts
//! with: a raw event in, the same event with its page as checked UTF-8 `content` out.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};

use crate::error::{ErrorKind, Rejection, StageError};
use crate::event::{ContentType, Event, EventKind, RawEvent};
use crate::stage::{Emit, INPUT, PRIMARY, Port, Route, Stage, StageContext};
use crate::topics::RAW;

/// The default limit on a page's size (2 MiB), below the topics' `max.message.bytes`.
pub const DEFAULT_MAX_CONTENT_BYTES: usize = 2 * 1024 * 1024;

/// Fewer non-ASCII bytes than this are too little evidence to prefer another single-byte
/// encoding over windows-1252. Central European or Cyrillic text has far more.
const MIN_DETECTION_EVIDENCE: usize = 32;

/// Text decoded from bytes, with the encoding that was used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedText {
    pub text: String,
    pub encoding: &'static Encoding,
    /// True when some bytes were invalid in that encoding and became U+FFFD.
    pub had_errors: bool,
}

/// Decodes page bytes: a byte-order mark wins, then a declared `charset` label (the raw
/// event's, else one an HTML page declares in a `<meta>` within its first 1024 bytes, as
/// browsers prescan), then UTF-8 when the bytes are UTF-8 (allowing a stray invalid byte), then
/// the detector's guess (chardetng).
///
/// A page keeps its encoding when a few bytes do not fit it: each invalid byte becomes U+FFFD
/// where it stands (one bad byte in a UTF-8 page must not turn every `ü` into `Ã¼`). Only a
/// declaration that most of the page's non-ASCII bytes contradict is ignored.
///
/// windows-1252 is the fallback: when a text has too few non-ASCII bytes to tell one legacy
/// single-byte encoding from another (an English article with one `£` is scored as
/// windows-1250 by the detector, turning it into `Ł`), windows-1252 is used. It maps every
/// byte, so decoding never fails.
pub fn decode_bytes(bytes: &[u8], declared_charset: Option<&str>) -> DecodedText {
    if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
        let (text, had_errors) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
        return DecodedText {
            text: text.into_owned(),
            encoding,
            had_errors,
        };
    }
    let declared = declared_charset
        .and_then(|label| Encoding::for_label(label.trim().as_bytes()))
        .or_else(|| meta_charset(bytes));
    if let Some(encoding) = declared {
        let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
        if !had_errors || mostly_fits(bytes, &text, DECLARED_NON_ASCII_PER_ERROR) {
            return DecodedText {
                text: text.into_owned(),
                encoding,
                had_errors,
            };
        }
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return DecodedText {
            text: text.to_owned(),
            encoding: UTF_8,
            had_errors: false,
        };
    }
    let (lossy, _) = UTF_8.decode_without_bom_handling(bytes);
    if mostly_fits(bytes, &lossy, NON_ASCII_PER_ERROR) {
        return DecodedText {
            text: lossy.into_owned(),
            encoding: UTF_8,
            had_errors: true,
        };
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    let guess = detector.guess(None, chardetng::Utf8Detection::Allow);
    // UTF-8 was ruled out above; a detector that still says UTF-8 has too little to go on, and
    // so has one that picked a single-byte encoding from a handful of non-ASCII bytes.
    let non_ascii = bytes.iter().filter(|b| !b.is_ascii()).count();
    let encoding =
        if guess == UTF_8 || (guess.is_single_byte() && non_ascii < MIN_DETECTION_EVIDENCE) {
            WINDOWS_1252
        } else {
            guess
        };
    let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
    DecodedText {
        text: text.into_owned(),
        encoding,
        had_errors,
    }
}

/// At most one replacement character per `per_error` non-ASCII bytes of input: the encoding
/// fits and the errors are stray bytes.
fn mostly_fits(bytes: &[u8], decoded: &str, per_error: usize) -> bool {
    let errors = decoded.chars().filter(|&c| c == '\u{fffd}').count();
    let non_ascii = bytes.iter().filter(|b| !b.is_ascii()).count();
    errors * per_error <= non_ascii
}

/// How many non-ASCII bytes an undeclared page needs per invalid one to be read as UTF-8.
const NON_ASCII_PER_ERROR: usize = 8;
/// The same for a charset the event or the page declares: it stands unless most of the
/// non-ASCII bytes contradict it.
const DECLARED_NON_ASCII_PER_ERROR: usize = 2;

/// The charset an HTML page declares in its first 1024 bytes: `<meta charset="…">` or
/// `<meta http-equiv="Content-Type" content="…; charset=…">` (the WHATWG prescan, simplified:
/// the first `charset=` inside a `<meta` tag). UTF-16 labels mean UTF-8 here, as in browsers
/// (a page read as bytes that are ASCII-compatible cannot be UTF-16).
fn meta_charset(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(1024)];
    let lower: Vec<u8> = head.iter().map(u8::to_ascii_lowercase).collect();
    let mut from = 0;
    while let Some(at) = find(&lower[from..], b"<meta").map(|i| i + from) {
        let end = find(&lower[at..], b">").map_or(lower.len(), |i| i + at);
        let tag = &lower[at..end];
        if let Some(c) = find(tag, b"charset") {
            let rest = &tag[c + b"charset".len()..];
            let rest = rest.trim_ascii_start();
            if let Some(rest) = rest.strip_prefix(b"=") {
                let rest = rest.trim_ascii_start();
                let rest = rest
                    .strip_prefix(b"\"")
                    .or(rest.strip_prefix(b"'"))
                    .unwrap_or(rest);
                let label_end = rest
                    .iter()
                    .position(|b| matches!(b, b'"' | b'\'' | b';' | b' ' | b'/' | b'>'))
                    .unwrap_or(rest.len());
                let encoding = Encoding::for_label(&rest[..label_end])?;
                return Some(if encoding.name().starts_with("UTF-16") {
                    UTF_8
                } else {
                    encoding
                });
            }
        }
        from = end;
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The first stage of every pipeline: checks a raw event and decodes its page to text.
///
/// It rejects an unknown `content_type`, a page that is empty or whitespace only, a page over
/// the size limit, and `content_base64` that is not base64. It sets `ingested_at`: the record
/// timestamp of `news.raw.v1` when there is one, else what the event carries, else now.
#[derive(Debug, Clone)]
pub struct DecodeStage {
    max_content_bytes: usize,
}

impl Default for DecodeStage {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_CONTENT_BYTES)
    }
}

impl DecodeStage {
    pub fn new(max_content_bytes: usize) -> Self {
        Self { max_content_bytes }
    }

    /// Decodes one raw event and stamps it with `ingested_at`.
    pub fn decode(
        &self,
        mut raw: RawEvent,
        ingested_at: DateTime<Utc>,
    ) -> Result<RawEvent, Rejection> {
        if let ContentType::Other(other) = &raw.content_type {
            return Err(Rejection::new(
                ErrorKind::UnknownContentType,
                format!(
                    "content_type {other:?} is not one of text/plain, text/html, application/json"
                ),
            ));
        }
        let text = match (raw.content.take(), raw.content_base64.take()) {
            (Some(_), Some(_)) => {
                return Err(Rejection::new(
                    ErrorKind::InvalidField,
                    "both content and content_base64 are set; send exactly one",
                ));
            }
            (None, None) => {
                return Err(Rejection::new(
                    ErrorKind::MissingField,
                    "neither content nor content_base64 is set",
                ));
            }
            (Some(text), None) => {
                self.check_size(text.len())?;
                text
            }
            (None, Some(encoded)) => {
                // base64 grows data by 4/3; check before decoding so a huge payload costs nothing.
                self.check_size(encoded.len() / 4 * 3)?;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .map_err(|err| {
                        Rejection::new(
                            ErrorKind::UndecodableContent,
                            format!("content_base64 is not base64: {err}"),
                        )
                    })?;
                self.check_size(bytes.len())?;
                decode_bytes(&bytes, raw.charset.as_deref()).text
            }
        };
        if text.trim().is_empty() {
            return Err(Rejection::new(ErrorKind::EmptyContent, "the page is empty"));
        }
        raw.content = Some(text);
        raw.charset = None;
        raw.ingested_at = Some(ingested_at);
        Ok(raw)
    }

    fn check_size(&self, len: usize) -> Result<(), Rejection> {
        if len > self.max_content_bytes {
            return Err(Rejection::new(
                ErrorKind::TooLarge,
                format!(
                    "the page has {len} bytes, over the limit of {}",
                    self.max_content_bytes
                ),
            ));
        }
        Ok(())
    }
}

impl Stage for DecodeStage {
    fn name(&self) -> &'static str {
        "decode"
    }

    fn inputs(&self) -> &'static [Port] {
        const { &[Port::new(INPUT, EventKind::Raw, RAW)] }
    }

    fn outputs(&self) -> &'static [Port] {
        const { &[Port::new(PRIMARY, EventKind::Raw, RAW)] }
    }

    fn process(&mut self, event: Event, ctx: &StageContext) -> Result<Vec<Emit>, StageError> {
        let Event::Raw(raw) = event else {
            return Err(crate::stage::unexpected_input(self, &event));
        };
        let ingested_at = ctx.record_time.or(raw.ingested_at).unwrap_or(ctx.now);
        let decoded = self.decode(raw, ingested_at)?;
        Ok(vec![Emit::new(Route::PRIMARY, Event::Raw(decoded))])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(content: Option<&str>, content_base64: Option<&str>) -> RawEvent {
        RawEvent {
            id: "x".into(),
            source: "test".into(),
            url: None,
            fetched_at: None,
            ingested_at: None,
            content_type: ContentType::TextPlain,
            content: content.map(Into::into),
            content_base64: content_base64.map(Into::into),
            charset: None,
            hints: None,
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .unwrap()
            .to_utc()
    }

    #[test]
    fn windows_1252_bytes_decode_to_the_pound_sign() {
        let decoded = decode_bytes(b"a \xa315.8m signing", None);
        assert_eq!(decoded.text, "a \u{a3}15.8m signing");
        assert_eq!(decoded.encoding, WINDOWS_1252);
    }

    #[test]
    fn single_byte_text_with_plenty_of_evidence_keeps_the_detectors_guess() {
        let czech = "Příliš žluťoučký kůň úpěl ďábelské ódy. ".repeat(8);
        let bytes = encoding_rs::WINDOWS_1250.encode(&czech).0;
        assert_eq!(decode_bytes(&bytes, None).text, czech);
    }

    #[test]
    fn utf8_and_boms_are_recognised() {
        assert_eq!(decode_bytes("café".as_bytes(), None).text, "café");
        assert_eq!(decode_bytes(b"\xef\xbb\xbfhi", None).text, "hi");
        assert_eq!(decode_bytes(b"\xff\xfeh\x00i\x00", None).text, "hi");
    }

    #[test]
    fn a_declared_charset_is_used_when_the_bytes_fit_it() {
        // 0x8f 0x8c... are Shift_JIS; without the label the detector could guess otherwise.
        let sjis = encoding_rs::SHIFT_JIS.encode("東京").0;
        assert_eq!(decode_bytes(&sjis, Some("shift_jis")).text, "東京");
        // A label the bytes do not fit is ignored in favour of detection.
        assert_eq!(decode_bytes(b"\xa3100", Some("utf-8")).text, "\u{a3}100");
    }

    #[test]
    fn one_bad_byte_does_not_change_a_utf8_pages_encoding() {
        let mut page = "<p>Grüße aus Zürich, schöne Büsche, Äpfel und Öfen.</p>"
            .repeat(3)
            .into_bytes();
        page.push(0xff);
        page.extend_from_slice("<p>Tschüss</p>".as_bytes());
        let decoded = decode_bytes(&page, None);
        assert_eq!(decoded.encoding, UTF_8);
        assert!(decoded.had_errors);
        assert!(decoded.text.contains("Grüße aus Zürich"));
        assert!(decoded.text.contains("\u{fffd}<p>Tschüss"));
        // Declared UTF-8 too: the label stands.
        assert_eq!(decode_bytes(&page, Some("utf-8")).encoding, UTF_8);
    }

    #[test]
    fn an_html_pages_meta_charset_decides() {
        let body = encoding_rs::WINDOWS_1250
            .encode("<p>Zażółć gęślą jaźń</p>")
            .0;
        let mut page = b"<html><head><meta charset=\"windows-1250\"></head><body>".to_vec();
        page.extend_from_slice(&body);
        assert!(decode_bytes(&page, None).text.contains("Zażółć gęślą jaźń"));
        let mut page =
            b"<meta http-equiv='Content-Type' content='text/html; charset=ISO-8859-1'>".to_vec();
        page.extend_from_slice(b"<p>Caf\xe9 cr\xe8me</p>");
        assert!(decode_bytes(&page, None).text.contains("Café crème"));
        assert_eq!(meta_charset(b"<p>no meta</p>"), None);
    }

    #[test]
    fn base64_content_is_decoded_with_detection() {
        let stage = DecodeStage::default();
        let encoded = base64::engine::general_purpose::STANDARD.encode(b"\xa3100");
        let out = stage.decode(raw(None, Some(&encoded)), now()).unwrap();
        assert_eq!(out.content.as_deref(), Some("\u{a3}100"));
        assert_eq!(out.content_base64, None);
        assert_eq!(out.ingested_at, Some(now()));
    }

    #[test]
    fn bad_pages_are_rejected_with_their_reason() {
        let stage = DecodeStage::new(16);
        let kind = |event| stage.decode(event, now()).unwrap_err().kind;
        assert_eq!(kind(raw(Some("  \n"), None)), ErrorKind::EmptyContent);
        assert_eq!(kind(raw(None, None)), ErrorKind::MissingField);
        assert_eq!(kind(raw(Some("a"), Some("YQ=="))), ErrorKind::InvalidField);
        assert_eq!(kind(raw(None, Some("***"))), ErrorKind::UndecodableContent);
        assert_eq!(
            kind(raw(Some("seventeen bytes!!"), None)),
            ErrorKind::TooLarge
        );
        let mut html = raw(Some("x"), None);
        html.content_type = ContentType::Other("image/png".into());
        assert_eq!(kind(html), ErrorKind::UnknownContentType);
    }

    #[test]
    fn ingested_at_is_the_record_time_else_the_events_own_else_now() {
        let earlier = DateTime::parse_from_rfc3339("2020-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let record = DateTime::parse_from_rfc3339("2024-05-05T00:00:00Z")
            .unwrap()
            .to_utc();
        let ingested = |carried: Option<DateTime<Utc>>, record_time| {
            let mut event = raw(Some("text"), None);
            event.ingested_at = carried;
            let ctx = StageContext {
                now: now(),
                record_time,
            };
            let out = DecodeStage::default()
                .process(Event::Raw(event), &ctx)
                .unwrap();
            let Event::Raw(raw) = &out[0].event else {
                panic!("not raw")
            };
            raw.ingested_at
        };
        assert_eq!(ingested(Some(earlier), Some(record)), Some(record));
        assert_eq!(ingested(Some(earlier), None), Some(earlier));
        assert_eq!(ingested(None, None), Some(now()));
    }
}
