//! Stable article ids, as the architecture derives them when the producer gives none.
//!
//! - a file: a hash of (`source`, the file's path relative to the INPUT argument);
//! - a line with a `url`: a hash of (`source`, canonical url);
//! - anything else: a hash of (`source`, content).
//!
//! Identical files at different paths are therefore different articles (and exact duplicates,
//! for the deduplicator to find), not replays of one article.

use sha2::{Digest, Sha256};
use url::Url;

/// Query parameters that only track a click and never select content.
const TRACKING_PARAMS: &[&str] = &[
    "fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "_ga", "yclid", "ref_src",
];

/// 128 bits of SHA-256 over the parts, each length-prefixed so `("ab","c")` and `("a","bc")`
/// differ; 32 lowercase hex characters.
fn hash_id(kind: &str, source: &str, value: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [kind, source, value] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(&hasher.finalize()[..16])
}

/// The id of an article read from a file; `relative_path` uses `/` separators.
pub fn id_for_file(source: &str, relative_path: &str) -> String {
    hash_id("file", source, relative_path)
}

/// The id of the story an article opened: stable, whatever joins or leaves the story later.
pub fn id_for_story(first_article_id: &str) -> String {
    hash_id("story", "", first_article_id)
}

/// The id of an article known by its URL (canonicalized first).
pub fn id_for_url(source: &str, url: &str) -> String {
    hash_id(
        "url",
        source,
        &canonical_url(url).unwrap_or_else(|| url.trim().to_owned()),
    )
}

/// The id of an article known only by its content.
pub fn id_for_content(source: &str, content: &str) -> String {
    hash_id("content", source, content)
}

/// Fills a raw event's `source` (with `default_source`, when given) and `id` where they are
/// absent, null or empty, as `newsflow produce` and the gateway do: the id from the canonical
/// `url`, else from the content, else from `fallback` (the record's own text). Returns the id.
pub fn complete_raw_object(
    object: &mut serde_json::Map<String, serde_json::Value>,
    default_source: Option<&str>,
    fallback: &str,
) -> Option<String> {
    use serde_json::Value;
    // Absent, null or empty: filled in. Any other non-string is left for the typed parse (or
    // the schema) to reject.
    let unset = |value: Option<&Value>| match value {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(_) => false,
    };
    if let Some(source) = default_source.filter(|_| unset(object.get("source"))) {
        object.insert("source".into(), Value::from(source));
    }
    if unset(object.get("id")) {
        let source = object.get("source").and_then(Value::as_str).unwrap_or("");
        let text = |key: &str| object.get(key).and_then(Value::as_str);
        let derived = if let Some(url) = text("url") {
            id_for_url(source, url)
        } else if let Some(content) = text("content").or_else(|| text("content_base64")) {
            id_for_content(source, content)
        } else {
            // Nothing to derive it from: the decode step will say what is missing.
            id_for_content(source, fallback)
        };
        object.insert("id".into(), Value::from(derived));
    }
    object.get("id").and_then(Value::as_str).map(str::to_owned)
}

/// The canonical form of an article URL: scheme and host lowercased (the `url` crate does that),
/// default port, fragment and tracking parameters (`utm_*`, `fbclid`, …) removed, the remaining
/// query kept in its order. `None` when the text is not an absolute http(s) URL.
pub fn canonical_url(raw: &str) -> Option<String> {
    let mut url = Url::parse(raw.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    url.set_fragment(None);
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| {
            let key = key.to_ascii_lowercase();
            !key.starts_with("utm_") && !TRACKING_PARAMS.contains(&key.as_str())
        })
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    Some(url.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_32_hex_chars_and_depend_on_every_part() {
        let id = id_for_file("bbc", "sport/199.txt");
        assert_eq!(id.len(), 32);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(id, id_for_file("bbc", "sport/199.txt"));
        assert_ne!(id, id_for_file("bbc", "sport/198.txt"));
        assert_ne!(id, id_for_file("other", "sport/199.txt"));
        assert_ne!(id_for_file("ab", "c"), id_for_file("a", "bc"));
        assert_ne!(id_for_file("s", "x"), id_for_content("s", "x"));
    }

    #[test]
    fn canonical_urls_drop_tracking_and_fragments() {
        assert_eq!(
            canonical_url("HTTPS://Example.COM:443/a/b?utm_source=x&id=7&fbclid=abc#top")
                .as_deref(),
            Some("https://example.com/a/b?id=7")
        );
        assert_eq!(
            canonical_url("https://example.com/?utm_medium=rss").as_deref(),
            Some("https://example.com/")
        );
        assert_eq!(canonical_url("not a url"), None);
        assert_eq!(canonical_url("ftp://example.com/file"), None);
    }

    #[test]
    fn the_same_page_with_other_tracking_has_the_same_id() {
        assert_eq!(
            id_for_url("upi", "https://www.upi.com/x.html?utm_campaign=a"),
            id_for_url("upi", "https://WWW.UPI.com/x.html#comments")
        );
    }
}
