//! The gateway's metrics, declared once.

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};

use crate::hub::{DropReason, HubEvents};
use crate::stream::StreamEvents;

#[derive(Debug, Clone)]
pub struct GatewayMetrics {
    pub registry: Registry,
    /// Requests by route and status code.
    pub requests: IntCounterVec,
    pub ingested_records: IntCounter,
    pub ingested_bytes: IntCounter,
    pub clients: IntGauge,
    pub clients_dropped: IntCounterVec,
    pub events_sent: IntCounter,
    /// Records on a topic that are not enriched articles (skipped).
    pub bad_records: IntCounter,
}

impl GatewayMetrics {
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "newsflow_gateway_requests_total",
                "HTTP requests to the public API, by route and status code.",
            ),
            &["route", "status"],
        )?;
        let ingested_records = IntCounter::new(
            "newsflow_gateway_ingested_records_total",
            "Raw events produced to news.raw.v1 and acknowledged by the broker.",
        )?;
        let ingested_bytes = IntCounter::new(
            "newsflow_gateway_ingested_bytes_total",
            "Bytes of request bodies whose events were produced.",
        )?;
        let clients = IntGauge::new(
            "newsflow_gateway_clients",
            "Clients connected to a live stream (SSE or WebSocket).",
        )?;
        let clients_dropped = IntCounterVec::new(
            Opts::new(
                "newsflow_gateway_clients_dropped_total",
                "Streams the gateway ended, by reason (slow_client: its buffer filled).",
            ),
            &["reason"],
        )?;
        let events_sent = IntCounter::new(
            "newsflow_gateway_events_sent_total",
            "Articles sent to stream clients.",
        )?;
        let bad_records = IntCounter::new(
            "newsflow_gateway_bad_records_total",
            "Records of a subscribed topic that are not JSON articles, skipped.",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(ingested_records.clone()))?;
        registry.register(Box::new(ingested_bytes.clone()))?;
        registry.register(Box::new(clients.clone()))?;
        registry.register(Box::new(clients_dropped.clone()))?;
        registry.register(Box::new(events_sent.clone()))?;
        registry.register(Box::new(bad_records.clone()))?;
        for reason in [DropReason::SlowClient, DropReason::Shutdown] {
            clients_dropped.with_label_values(&[reason.as_str()]);
        }
        Ok(Self {
            registry,
            requests,
            ingested_records,
            ingested_bytes,
            clients,
            clients_dropped,
            events_sent,
            bad_records,
        })
    }
}

impl HubEvents for GatewayMetrics {
    fn dropped(&self, reason: DropReason) {
        self.clients_dropped
            .with_label_values(&[reason.as_str()])
            .inc();
    }
}

impl StreamEvents for GatewayMetrics {
    fn sent(&self) {
        self.events_sent.inc();
    }

    fn connected(&self, delta: i64) {
        self.clients.add(delta);
    }
}
