//! Graceful shutdown: a token cancelled on SIGTERM or SIGINT.

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

/// Cancels the returned token on SIGTERM or SIGINT.
pub fn shutdown_on_signals() -> anyhow::Result<CancellationToken> {
    let token = CancellationToken::new();
    cancel_on_signals(token.clone())?;
    Ok(token)
}

/// Cancels `token` on SIGTERM or SIGINT. Needs the async runtime.
pub fn cancel_on_signals(token: CancellationToken) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(
            signal = name,
            "shutting down: no new input, draining in-flight work"
        );
        token.cancel();
    });
    Ok(())
}
