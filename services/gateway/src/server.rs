//! The public API: `POST /v1/articles`, `GET /v1/stream` (Server-Sent Events) and `GET /v1/ws`
//! (the same stream as a WebSocket).

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::{Stream, StreamExt as _};
use governor::{DefaultKeyedRateLimiter, Quota};
use newsflow_core::topics;
use serde_json::{Value, json};

use crate::auth::Tokens;
use crate::hub::Filter;
use crate::ingest::{Ingest, IngestError, PageHeaders};
use crate::kafka::{self, ProduceError, RawProducer, Readers};
use crate::metrics::GatewayMetrics;
use crate::position::Position;
use crate::stream::{self, Outgoing, Source};

/// Heartbeat comments on an idle stream, so proxies keep it open.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// What the gateway serves, and how.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Prepended to every topic name, as `newsflow topics create --prefix` does.
    pub topic_prefix: String,
    pub max_body_bytes: usize,
    /// Requests per second per token.
    pub rate_limit: Option<NonZeroU32>,
}

/// Everything the routes share.
pub struct Gateway {
    pub settings: Settings,
    pub tokens: Tokens,
    pub ingest: Ingest,
    pub producer: RawProducer,
    pub readers: Readers,
    pub source: Source,
    pub metrics: GatewayMetrics,
    limiter: Option<DefaultKeyedRateLimiter<String>>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    pub fn new(
        settings: Settings,
        tokens: Tokens,
        producer: RawProducer,
        readers: Readers,
        source: Source,
        metrics: GatewayMetrics,
    ) -> anyhow::Result<Self> {
        let limiter = settings
            .rate_limit
            .map(|rate| DefaultKeyedRateLimiter::keyed(Quota::per_second(rate)));
        Ok(Self {
            settings,
            tokens,
            ingest: Ingest::new()?,
            producer,
            readers,
            source,
            metrics,
            limiter,
        })
    }

    /// The Kafka topic of a taxonomy id (`ukraine-war`), or of every enriched article.
    fn topic(&self, topic_id: Option<&str>) -> String {
        let name = topic_id.map_or_else(|| topics::ENRICHED.to_owned(), topics::tag_topic);
        format!("{}{name}", self.settings.topic_prefix)
    }

    fn count(&self, route: &str, status: StatusCode) {
        self.metrics
            .requests
            .with_label_values(&[route, status.as_str()])
            .inc();
    }
}

/// The routes of the public API (method, path), as `schemas/openapi.yaml` documents them.
pub const ROUTES: [(&str, &str); 3] = [
    ("post", "/v1/articles"),
    ("get", "/v1/stream"),
    ("get", "/v1/ws"),
];

/// The newsroom page: plain files compiled into the binary, no build step. Open, like the
/// admin routes; the page asks for a token before it reads anything.
const PAGE: [(&str, &str, &str); 3] = [
    (
        "/",
        "text/html; charset=utf-8",
        include_str!("../static/index.html"),
    ),
    (
        "/app.js",
        "text/javascript; charset=utf-8",
        include_str!("../static/app.js"),
    ),
    (
        "/style.css",
        "text/css; charset=utf-8",
        include_str!("../static/style.css"),
    ),
];

/// Only the page's own files run or load: an article's text that slipped into the markup could
/// not run a script either.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// The routes of the public API, and the page.
pub fn router(gateway: Arc<Gateway>) -> Router {
    let [(_, articles), (_, stream), (_, ws)] = ROUTES;
    let mut router = Router::new();
    for (path, content_type, body) in PAGE {
        router = router.route(
            path,
            get(move || async move {
                (
                    [
                        (header::CONTENT_TYPE, content_type),
                        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
                        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                    ],
                    body,
                )
            }),
        );
    }
    router
        .route(articles, post(post_articles))
        .route(stream, get(get_stream))
        .route(ws, get(get_ws))
        .with_state(gateway)
}

/// An error answer: the status and a JSON body `{"error": kind, "message": …}`.
struct ApiError {
    status: StatusCode,
    body: Value,
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &str, message: impl std::fmt::Display) -> Self {
        Self {
            status,
            body: json!({"error": kind, "message": message.to_string()}),
            retry_after: None,
        }
    }

    fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid token is needed: Authorization: Bearer <token>",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        if let Some(seconds) = self.retry_after {
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The token a request presents: the bearer header, else `?access_token=` (EventSource cannot
/// send headers).
fn presented<'a>(headers: &'a HeaderMap, query: Option<&'a str>) -> Option<&'a str> {
    Tokens::bearer(header_str(headers, header::AUTHORIZATION.as_str())).or(query)
}

fn authorize(gateway: &Gateway, token: Option<&str>) -> Result<(), ApiError> {
    if gateway.tokens.admits(token) {
        Ok(())
    } else {
        Err(ApiError::unauthorized())
    }
}

fn rate_limit(gateway: &Gateway, token: Option<&str>) -> Result<(), ApiError> {
    let Some(limiter) = &gateway.limiter else {
        return Ok(());
    };
    let key = token.unwrap_or("").to_owned();
    limiter.check_key(&key).map_err(|not_until| {
        let wait = not_until.wait_time_from(governor::clock::Clock::now(
            &governor::clock::DefaultClock::default(),
        ));
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "over the rate limit for this token",
        )
        .retry_after(wait.as_secs_f64().ceil() as u64)
    })
}

async fn post_articles(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let answer = ingest(&gateway, &headers, body).await;
    let response = match answer {
        Ok(ids) => (StatusCode::ACCEPTED, axum::Json(json!({"ids": ids}))).into_response(),
        Err(err) => {
            // Refused before the body was read (token, rate, size): the connection is closed
            // after the answer, and saying so keeps the client from sending its next request
            // on it.
            let unread = matches!(
                err.status,
                StatusCode::UNAUTHORIZED
                    | StatusCode::TOO_MANY_REQUESTS
                    | StatusCode::PAYLOAD_TOO_LARGE
            );
            let mut response = err.into_response();
            if unread {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            response
        }
    };
    gateway.count("/v1/articles", response.status());
    response
}

async fn ingest(
    gateway: &Gateway,
    headers: &HeaderMap,
    body: Body,
) -> Result<Vec<String>, ApiError> {
    let token = presented(headers, None);
    authorize(gateway, token)?;
    rate_limit(gateway, token)?;
    let limit = gateway.settings.max_body_bytes;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the body is over the limit of {limit} bytes"),
        )
    })?;
    let page = PageHeaders {
        source: header_str(headers, "x-newsflow-source").map(str::to_owned),
        url: header_str(headers, "x-newsflow-url").map(str::to_owned),
        id: header_str(headers, "x-newsflow-id").map(str::to_owned),
    };
    let content_type = header_str(headers, header::CONTENT_TYPE.as_str());
    let events = gateway
        .ingest
        .parse(content_type, &page, &bytes)
        .map_err(|err| {
            let status = match err {
                IngestError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                IngestError::Invalid { .. } => StatusCode::BAD_REQUEST,
            };
            ApiError {
                status,
                body: err.to_json(),
                retry_after: None,
            }
        })?;
    let ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
    let count = events.len() as u64;
    gateway
        .producer
        .produce_all(events)
        .await
        .map_err(|err| match err {
            ProduceError::Busy => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "busy", &err).retry_after(1)
            }
            ProduceError::Unavailable(_) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "broker_unavailable", &err)
                    .retry_after(5)
            }
            ProduceError::Refused(_) | ProduceError::Encode(_) => {
                tracing::error!(error = %err, "ingest failed");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "produce_failed", &err)
            }
        })?;
    gateway.metrics.ingested_records.inc_by(count);
    gateway.metrics.ingested_bytes.inc_by(bytes.len() as u64);
    Ok(ids)
}

/// A stream's query: `topics=a,b`, `entities=Q1,Q2`, `access_token=…`, and for the
/// WebSocket (whose browser API cannot send headers) `last_event_id=…`.
type StreamQuery = Query<HashMap<String, String>>;

fn list(query: &HashMap<String, String>, key: &str) -> Vec<String> {
    query
        .get(key)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Checks a stream request and registers the client: its stream of outgoing messages.
async fn open_stream(
    gateway: &Gateway,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<impl Stream<Item = Outgoing> + Send + 'static, ApiError> {
    authorize(
        gateway,
        presented(headers, query.get("access_token").map(String::as_str)),
    )?;
    let ids = list(query, "topics");
    if let Some(bad) = ids.iter().find(|id| !topics::is_valid_topic_id(id)) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_topic",
            format!("{bad:?} is not a taxonomy topic id"),
        ));
    }
    let mut names: HashSet<String> = if ids.is_empty() {
        [gateway.topic(None)].into()
    } else {
        ids.iter().map(|id| gateway.topic(Some(id))).collect()
    };
    // `include=duplicates,dead_letters`: the notices and dead letters too, for a page that
    // counts copies per article and shows the dead-letter rate.
    for extra in list(query, "include") {
        let kinds = &gateway.source.kinds;
        names.insert(match extra.as_str() {
            "duplicates" => kinds.duplicates.clone(),
            "dead_letters" => kinds.dead_letters.clone(),
            other => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_include",
                    format!("include={other:?}: only duplicates and dead_letters"),
                ));
            }
        });
    }
    let resume = header_str(headers, "last-event-id")
        .or(query.get("last_event_id").map(String::as_str))
        .filter(|id| !id.trim().is_empty())
        .map(Position::parse)
        .transpose()
        .map_err(|err| ApiError::new(StatusCode::BAD_REQUEST, "invalid_last_event_id", err))?;
    let unavailable = |err: &dyn std::fmt::Display| {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "broker_unavailable", err).retry_after(5)
    };
    // Topics already read exist; the others are looked up (a client of its own per request).
    let unknown = gateway.readers.not_started(&names).await;
    let missing = if unknown.is_empty() {
        Vec::new()
    } else {
        kafka::missing_topics(&gateway.source.kafka, unknown)
            .await
            .map_err(|err| unavailable(&err))?
    };
    if !missing.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_topic",
            format!("no such topic: {}", missing.join(", ")),
        ));
    }
    gateway
        .readers
        .ensure(&names)
        .await
        .map_err(|err| unavailable(&err))?;
    let entities = list(query, "entities");
    let filter = Filter {
        topics: names,
        entities: (!entities.is_empty()).then(|| entities.into_iter().collect()),
    };
    stream::open(&gateway.source, filter, resume).map_err(|full| {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "too_many_clients", full).retry_after(5)
    })
}

async fn get_stream(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    Query(query): StreamQuery,
) -> Response {
    let response = match open_stream(&gateway, &headers, &query).await {
        Ok(outgoing) => {
            let events = outgoing.map(|message| Ok::<_, Infallible>(sse_event(message)));
            Sse::new(events)
                .keep_alive(KeepAlive::new().interval(HEARTBEAT))
                .into_response()
        }
        Err(err) => err.into_response(),
    };
    gateway.count("/v1/stream", response.status());
    response
}

fn sse_event(message: Outgoing) -> SseEvent {
    match message {
        Outgoing::Event {
            kind,
            position,
            data,
        } => SseEvent::default().event(kind).id(position).data(&*data),
        Outgoing::End { reason } => SseEvent::default()
            .event("error")
            .data(json!({"reason": reason}).to_string()),
    }
}

async fn get_ws(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    Query(query): StreamQuery,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let opened = match upgrade {
        // The token is checked first: a request without one learns nothing else.
        Err(rejection) => authorize(
            &gateway,
            presented(&headers, query.get("access_token").map(String::as_str)),
        )
        .and(Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "not_websocket",
            rejection.body_text(),
        ))),
        Ok(upgrade) => open_stream(&gateway, &headers, &query)
            .await
            .map(|outgoing| upgrade.on_upgrade(move |socket| websocket(socket, outgoing))),
    };
    let response = opened.unwrap_or_else(IntoResponse::into_response);
    gateway.count("/v1/ws", response.status());
    response
}

async fn websocket(mut socket: WebSocket, outgoing: impl Stream<Item = Outgoing> + Send) {
    let mut outgoing = std::pin::pin!(outgoing);
    loop {
        tokio::select! {
            message = outgoing.next() => {
                let Some(message) = message else { break };
                if socket.send(Message::Text(message.to_json().into())).await.is_err() {
                    break;
                }
            }
            incoming = socket.recv() => match incoming {
                // The client only listens; a close or an error ends the stream.
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}
