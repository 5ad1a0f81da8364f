//! The gateway's flags and its run: the public API on `--listen`, the admin endpoints on
//! `--admin-addr`, until SIGTERM or SIGINT.

use std::future::IntoFuture as _;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use clap::Parser;
use newsflow_runtime::flags::{ClientArgs, ObserveArgs};
use tokio_util::sync::CancellationToken;

use crate::auth::Tokens;
use crate::hub::Hub;
use crate::kafka::{RawProducer, Readers, TopicKinds};
use crate::metrics::GatewayMetrics;
use crate::server::{Gateway, Settings};
use crate::stream::Source;

/// The send buffer of each API connection (Linux doubles it): enough for a stream client on a
/// slow, distant link; small enough that a client that reads nothing fills it quickly.
const SEND_BUFFER_BYTES: usize = 256 * 1024;

/// How long a shutdown waits for requests in flight and streams to end.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The environment variable that may hold tokens, separated by `;`.
pub const TOKENS_ENV: &str = "NEWSFLOW_GATEWAY_TOKENS";

#[derive(Debug, Parser)]
#[command(
    name = "newsflow-gateway",
    version,
    about = "HTTP ingest into news.raw.v1 and live feeds of tagged articles (SSE, WebSocket)",
    long_about = "Takes raw events or pages over HTTP (POST /v1/articles) and produces them to \
news.raw.v1 once the broker acknowledged them; serves the topic feeds live as Server-Sent Events \
(GET /v1/stream?topics=ukraine-war) and as a WebSocket (GET /v1/ws), resumable with \
Last-Event-ID. Tokens (--tokens-file, NEWSFLOW_GATEWAY_TOKENS separated by ';') guard /v1/*; \
with none the API is open and a warning is logged."
)]
pub struct Args {
    #[command(flatten)]
    pub client: ClientArgs,

    /// Address of the public API.
    #[arg(
        long,
        env = "NEWSFLOW_GATEWAY_LISTEN",
        default_value = "0.0.0.0:8080",
        value_name = "ADDR"
    )]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub observe: ObserveArgs,

    /// Prefix of every topic name, as given to `newsflow topics create --prefix`.
    #[arg(
        long,
        env = "NEWSFLOW_TOPIC_PREFIX",
        default_value = "",
        value_name = "PREFIX"
    )]
    pub topic_prefix: String,

    /// File of bearer tokens, one per line, `#` comments.
    #[arg(long, env = "NEWSFLOW_GATEWAY_TOKENS_FILE", value_name = "FILE")]
    pub tokens_file: Option<PathBuf>,

    /// Request bodies over this many bytes get 413 (default: the normalizer's page limit).
    #[arg(long, env = "NEWSFLOW_MAX_BODY_BYTES", value_name = "BYTES",
          default_value_t = newsflow_core::NormalizeConfig::default().max_content_bytes)]
    pub max_body_bytes: usize,

    /// Requests per second per token; past it, 429 with Retry-After. Default: no limit.
    #[arg(long, env = "NEWSFLOW_GATEWAY_RATE_LIMIT", value_name = "PER_SECOND")]
    pub rate_limit: Option<NonZeroU32>,

    /// Stream clients served at once; more get 503.
    #[arg(
        long,
        env = "NEWSFLOW_GATEWAY_MAX_CLIENTS",
        default_value = "1000",
        value_name = "N"
    )]
    pub max_clients: usize,

    /// Articles buffered per stream client; a client that falls this far behind is dropped
    /// with `event: error` and its reason.
    #[arg(
        long,
        env = "NEWSFLOW_GATEWAY_CLIENT_BUFFER",
        default_value = "256",
        value_name = "N"
    )]
    pub client_buffer: usize,

    /// How long an ingest request waits for the broker's acknowledgement before 503.
    #[arg(long, env = "NEWSFLOW_GATEWAY_ACK_TIMEOUT", default_value = "10s",
          value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub ack_timeout: Duration,

    /// Print the configuration (secrets masked) and exit.
    #[arg(long)]
    pub check_config: bool,
}

impl Args {
    fn describe(&self, tokens: &Tokens) -> String {
        let options: Vec<String> = self
            .client
            .options()
            .map(|o| format!("{}={}", o.key, o.shown_value()))
            .collect();
        format!(
            "brokers = {}\nkafka_options = [{}]\nlisten = {}\nadmin_addr = {}\ntopic_prefix = {:?}\n\
             tokens = {}\nmax_body_bytes = {}\nrate_limit = {}\nmax_clients = {}\nclient_buffer = {}\nack_timeout = {}",
            self.client.brokers,
            options.join(", "),
            self.listen,
            self.observe.admin_addr,
            self.topic_prefix,
            tokens.len(),
            self.max_body_bytes,
            self.rate_limit
                .map_or("off".to_owned(), |r| format!("{r}/s per token")),
            self.max_clients,
            self.client_buffer,
            humantime::format_duration(self.ack_timeout),
        )
    }
}

/// Runs the gateway until a signal; the error, if any, for `main` to print.
pub async fn run(args: Args, shutdown: CancellationToken) -> anyhow::Result<()> {
    let env_tokens = std::env::var(TOKENS_ENV).ok();
    let tokens = Tokens::load(args.tokens_file.as_deref(), env_tokens.as_deref())?;
    anyhow::ensure!(args.max_clients > 0, "--max-clients must be at least 1");
    anyhow::ensure!(args.client_buffer > 0, "--client-buffer must be at least 1");
    if args.check_config {
        println!("{}", args.describe(&tokens));
        println!("# configuration is valid");
        return Ok(());
    }
    if tokens.is_open() {
        tracing::warn!(
            "no tokens configured (--tokens-file, {TOKENS_ENV}): the API is open to anyone who can reach it"
        );
    }
    let metrics = GatewayMetrics::new().context("cannot declare the metrics")?;
    newsflow_runtime::metrics::register(
        &metrics.registry,
        newsflow_runtime::telemetry::spans_dropped(),
    )
    .context("cannot declare the span metrics")?;
    let (gateway, hub) = build(&args, tokens, &metrics, &shutdown)?;
    let raw_topic = gateway.producer.topic().to_owned();
    let ready = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn(watch_broker(
        gateway.producer.clone(),
        ready.clone(),
        shutdown.clone(),
    ));
    let admin = newsflow_runtime::admin::serve(
        args.observe.admin_addr,
        admin_router(metrics, ready),
        shutdown.clone(),
    )
    .await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot serve the API on {}", args.listen))?;
    tracing::info!(addr = %listener.local_addr()?, topic = %raw_topic, "gateway: POST /v1/articles, GET /v1/stream, GET /v1/ws");
    let closing = shutdown.clone();
    let close_hub = hub.clone();
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        // The kernel's share of a stuck client stays small too: without a cap, Linux buffers
        // about 3 MB towards a client that reads nothing before the gateway notices.
        let _ = socket2::SockRef::from(&*tcp).set_send_buffer_size(SEND_BUFFER_BYTES);
        let _ = tcp.set_nodelay(true);
    });
    let server =
        axum::serve(listener, crate::server::router(gateway)).with_graceful_shutdown(async move {
            closing.cancelled().await;
            // Streams never end by themselves: end them, each with its reason.
            close_hub.close();
        });
    let mut server = std::pin::pin!(server.into_future());
    tokio::select! {
        served = &mut server => served.context("the API server failed")?,
        () = async {
            shutdown.cancelled().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            // A client that reads nothing never lets its connection finish: stop waiting.
            tracing::warn!(grace = ?SHUTDOWN_GRACE, "connections still open after the grace period; closing them");
        }
    }
    let _ = admin.await;
    if let Ok(Some(fatal)) = watcher.await {
        // The orchestrator restarts the process; a new producer starts clean.
        anyhow::bail!("the Kafka producer failed for good: {fatal}");
    }
    tracing::info!("gateway stopped");
    Ok(())
}

/// The gateway's parts: producer, readers, hub and the state its routes share.
fn build(
    args: &Args,
    tokens: Tokens,
    metrics: &GatewayMetrics,
    shutdown: &CancellationToken,
) -> anyhow::Result<(Arc<Gateway>, Arc<Hub>)> {
    let kafka = args.client.client_config();
    let hub = Arc::new(Hub::new(
        args.client_buffer,
        args.max_clients,
        Arc::new(metrics.clone()),
    ));
    let bad = metrics.bad_records.clone();
    let kinds = Arc::new(TopicKinds {
        duplicates: format!("{}{}", args.topic_prefix, newsflow_core::topics::DUPLICATES),
        dead_letters: format!("{}{}", args.topic_prefix, newsflow_core::topics::DLQ),
    });
    let readers = Readers::new(
        kafka.clone(),
        kinds.clone(),
        hub.clone(),
        shutdown.clone(),
        Arc::new(move || bad.inc()),
    );
    let raw_topic = format!("{}{}", args.topic_prefix, newsflow_core::topics::RAW);
    let producer = RawProducer::new(kafka.clone(), &raw_topic, args.ack_timeout)?;
    let source = Source {
        hub: hub.clone(),
        kafka,
        kinds,
        shutdown: shutdown.clone(),
        events: Arc::new(metrics.clone()),
    };
    let settings = Settings {
        topic_prefix: args.topic_prefix.clone(),
        max_body_bytes: args.max_body_bytes,
        rate_limit: args.rate_limit,
    };
    let gateway = Arc::new(Gateway::new(
        settings,
        tokens,
        producer,
        readers,
        source,
        metrics.clone(),
    )?);
    Ok((gateway, hub))
}

/// Ready while the broker answers: checked every few seconds, as the stage services do.
/// Returns the producer's fatal error when it has one (after stopping the gateway): an
/// idempotent producer can fail for good, and then every request would get 503 for ever.
async fn watch_broker(
    producer: RawProducer,
    ready: Arc<AtomicBool>,
    shutdown: CancellationToken,
) -> Option<String> {
    loop {
        if let Some(fatal) = producer.fatal_error() {
            ready.store(false, Ordering::Relaxed);
            tracing::error!(error = %fatal, "the Kafka producer failed for good; stopping");
            shutdown.cancel();
            return Some(fatal);
        }
        let probe = producer.clone();
        let reachable = tokio::task::spawn_blocking(move || probe.broker_reachable())
            .await
            .unwrap_or(false);
        if ready.swap(reachable, Ordering::Relaxed) != reachable {
            tracing::info!(reachable, "broker");
        }
        tokio::select! {
            () = shutdown.cancelled() => return None,
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}

type AdminState = (GatewayMetrics, Arc<AtomicBool>);

fn admin_router(metrics: GatewayMetrics, ready: Arc<AtomicBool>) -> Router {
    Router::new()
        .route("/metrics", get(render))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state((metrics, ready))
}

async fn readyz(State((_, ready)): State<AdminState>) -> impl IntoResponse {
    if ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the broker does not answer\n",
        )
    }
}

async fn render(State((metrics, _)): State<AdminState>) -> impl IntoResponse {
    let families = metrics.registry.gather();
    let text = prometheus::TextEncoder::new()
        .encode_to_string(&families)
        .unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

/// Parses the flags (for `main`).
pub fn args() -> Args {
    Args::parse()
}
