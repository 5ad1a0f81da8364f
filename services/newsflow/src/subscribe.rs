//! `newsflow subscribe`: the gateway's live stream at a terminal. One readable line per article
//! (time, source, title, tags), or with `--json` the articles as JSON lines for scripts. When
//! the connection drops it reconnects with `Last-Event-ID`, so nothing is missed or repeated.

use std::io::Write as _;
use std::time::Duration;

use anyhow::Context as _;
use futures::StreamExt as _;
use serde_json::Value;

/// What `newsflow subscribe` was asked for.
#[derive(Debug, Clone)]
pub struct SubscribeOptions {
    /// The gateway's base URL (`http://127.0.0.1:8080`).
    pub gateway: String,
    pub tags: Vec<String>,
    pub entities: Vec<String>,
    pub token: Option<String>,
    pub json: bool,
    /// Stop after this many articles (for scripts and tests); `None`: until interrupted.
    pub limit: Option<u64>,
}

/// One event of a Server-Sent Events stream.
#[derive(Debug, Default, PartialEq, Eq)]
struct SseEvent {
    event: String,
    id: Option<String>,
    data: String,
}

/// Splits complete events off the front of `buffer` (comments and heartbeats skipped).
fn take_events(buffer: &mut String) -> Vec<SseEvent> {
    let mut events = Vec::new();
    while let Some(end) = buffer.find("\n\n") {
        let block: String = buffer.drain(..end + 2).collect();
        let mut event = SseEvent::default();
        for line in block.lines() {
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => event.event = value.to_owned(),
                "id" => event.id = Some(value.to_owned()),
                "data" => {
                    if !event.data.is_empty() {
                        event.data.push('\n');
                    }
                    event.data.push_str(value);
                }
                _ => {} // a comment (heartbeat) or a field we do not use
            }
        }
        if !event.event.is_empty() || !event.data.is_empty() {
            events.push(event);
        }
    }
    events
}

/// The readable line of an article: `time  source  title  [tags]`.
fn line(article: &Value) -> String {
    let text = |key: &str| article.get(key).and_then(Value::as_str).unwrap_or("");
    let time = [text("published_at"), text("ingested_at")]
        .into_iter()
        .find(|t| !t.is_empty())
        .unwrap_or("-");
    let tags: Vec<&str> = article
        .get("topics")
        .and_then(Value::as_array)
        .map(|topics| {
            topics
                .iter()
                .filter_map(|t| t.get("id")?.as_str())
                .collect()
        })
        .unwrap_or_default();
    let title = match text("title") {
        "" => "(no title)",
        title => title,
    };
    format!(
        "{time}  {}  {}  [{}]",
        text("source"),
        title.replace(['\n', '\r'], " "),
        tags.join(", ")
    )
}

fn url(options: &SubscribeOptions) -> String {
    let mut query = Vec::new();
    if !options.tags.is_empty() {
        query.push(format!("topics={}", options.tags.join(",")));
    }
    if !options.entities.is_empty() {
        query.push(format!("entities={}", options.entities.join(",")));
    }
    let base = options.gateway.trim_end_matches('/');
    if query.is_empty() {
        format!("{base}/v1/stream")
    } else {
        format!("{base}/v1/stream?{}", query.join("&"))
    }
}

/// Reads the stream until `limit` articles or an unrecoverable error (a refused token, an
/// unknown tag); reconnects after a dropped connection.
pub async fn subscribe(options: &SubscribeOptions) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let url = url(options);
    let mut last_id: Option<String> = None;
    let mut printed = 0u64;
    let mut stdout = std::io::stdout().lock();
    loop {
        let mut request = client.get(&url).header("accept", "text/event-stream");
        if let Some(token) = &options.token {
            request = request.bearer_auth(token);
        }
        if let Some(id) = &last_id {
            request = request.header("last-event-id", id);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) if last_id.is_some() => {
                eprintln!("newsflow subscribe: {err}; reconnecting");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            Err(err) => return Err(err).context(format!("cannot reach the gateway at {url}")),
        };
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            let message = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|v| v.get("message")?.as_str().map(str::to_owned))
                .unwrap_or(body);
            anyhow::bail!("the gateway answered {status}: {message}");
        }
        let mut body = response.bytes_stream();
        let mut buffer = String::new();
        while let Some(chunk) = body.next().await {
            let Ok(chunk) = chunk else { break };
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            for event in take_events(&mut buffer) {
                match event.event.as_str() {
                    "article" => {
                        if options.json {
                            writeln!(stdout, "{}", event.data)?;
                        } else {
                            let article: Value = serde_json::from_str(&event.data)
                                .context("the gateway sent an article that is not JSON")?;
                            writeln!(stdout, "{}", line(&article))?;
                        }
                        stdout.flush()?;
                        last_id = event.id.or(last_id);
                        printed += 1;
                        if options.limit.is_some_and(|limit| printed >= limit) {
                            return Ok(());
                        }
                    }
                    "error" => eprintln!(
                        "newsflow subscribe: the gateway ended the stream: {}",
                        event.data
                    ),
                    _ => {}
                }
            }
        }
        eprintln!("newsflow subscribe: the stream ended; reconnecting");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_split_as_the_sse_spec_says() {
        let mut buffer =
            ": heartbeat\n\nevent: article\nid: abc\ndata: {\"a\":1}\n\nevent: error\ndata: {}\n\nevent: art"
                .to_owned();
        let events = take_events(&mut buffer);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].event, "article");
        assert_eq!(events[0].id.as_deref(), Some("abc"));
        assert_eq!(events[0].data, "{\"a\":1}");
        assert_eq!(
            buffer, "event: art",
            "an incomplete event waits for the rest"
        );
    }

    #[test]
    fn an_article_reads_as_one_line() {
        let article = serde_json::json!({
            "published_at": "2026-12-06T10:00:00Z", "source": "wire",
            "title": "Kyiv\nblackouts", "topics": [{"id": "ukraine-war"}, {"id": "energy-security"}]
        });
        assert_eq!(
            line(&article),
            "2026-12-06T10:00:00Z  wire  Kyiv blackouts  [ukraine-war, energy-security]"
        );
    }
}
