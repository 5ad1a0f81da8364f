//! The admin server: `/metrics` (Prometheus text), `/healthz` (the process serves), `/readyz`
//! (joined its consumer group, broker reachable, state restored).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use crate::metrics::RunnerMetrics;

/// What readiness is made of; the runner and its consumer context update it.
#[derive(Debug)]
pub struct Health {
    joined: AtomicBool,
    broker_reachable: AtomicBool,
    state_restored: AtomicBool,
    metrics: RunnerMetrics,
}

impl Health {
    /// A stage without state to restore starts with `state_restored` set.
    pub fn new(metrics: RunnerMetrics, has_state: bool) -> Self {
        Self {
            joined: AtomicBool::new(false),
            broker_reachable: AtomicBool::new(false),
            state_restored: AtomicBool::new(!has_state),
            metrics,
        }
    }

    pub fn set_joined(&self, joined: bool) {
        self.joined.store(joined, Ordering::SeqCst);
        self.update_gauge();
    }

    pub fn set_broker_reachable(&self, reachable: bool) {
        self.broker_reachable.store(reachable, Ordering::SeqCst);
        self.update_gauge();
    }

    pub fn set_state_restored(&self, restored: bool) {
        self.state_restored.store(restored, Ordering::SeqCst);
        self.update_gauge();
    }

    /// What is missing for readiness; empty when ready.
    pub fn missing(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if !self.joined.load(Ordering::SeqCst) {
            missing.push("not yet joined the consumer group");
        }
        if !self.broker_reachable.load(Ordering::SeqCst) {
            missing.push("broker not reachable");
        }
        if !self.state_restored.load(Ordering::SeqCst) {
            missing.push("state not yet restored");
        }
        missing
    }

    pub fn is_ready(&self) -> bool {
        self.missing().is_empty()
    }

    fn update_gauge(&self) {
        self.metrics.ready.set(i64::from(self.is_ready()));
    }
}

#[derive(Clone)]
struct AdminState {
    metrics: RunnerMetrics,
    health: Arc<Health>,
}

/// The admin routes.
pub fn router(metrics: RunnerMetrics, health: Arc<Health>) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz_handler))
        .with_state(AdminState { metrics, health })
}

async fn metrics_handler(State(state): State<AdminState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

async fn readyz_handler(State(state): State<AdminState>) -> impl IntoResponse {
    let missing = state.health.missing();
    if missing.is_empty() {
        (StatusCode::OK, "ready\n".to_owned())
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n", missing.join("; ")),
        )
    }
}

/// Binds `addr` (a clear error when it is taken) and serves until `shutdown` is cancelled.
pub async fn serve(
    addr: SocketAddr,
    router: Router,
    shutdown: CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|err| anyhow::anyhow!("cannot serve the admin endpoints on {addr}: {err}"))?;
    let local = listener.local_addr()?;
    tracing::info!(addr = %local, "admin server: /metrics /healthz /readyz");
    Ok(tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(err) = served {
            tracing::error!(error = %err, "admin server failed");
        }
    }))
}
