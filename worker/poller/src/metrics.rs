//! `sluice worker --metrics-listen ADDR`: `/metrics` (the Prometheus text format) and
//! `/healthz` on their own port, for a worker that serves no other HTTP.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};
use tokio_util::sync::CancellationToken;

/// What a worker counts.
pub struct WorkerMetrics {
    registry: Registry,
    /// Tasks answered, by activity and outcome (`succeeded`, `failed`).
    pub tasks: IntCounterVec,
    pub task_duration: HistogramVec,
    pub running: IntGaugeVec,
}

impl WorkerMetrics {
    pub fn new() -> WorkerMetrics {
        let registry = Registry::new();
        let tasks = IntCounterVec::new(
            Opts::new(
                "sluice_worker_tasks_total",
                "Activity tasks this worker ran, by activity and outcome",
            ),
            &["activity", "outcome"],
        )
        .expect("valid metric");
        let task_duration = HistogramVec::new(
            HistogramOpts::new(
                "sluice_worker_task_duration_seconds",
                "Time a task took, from taking it to answering, by activity",
            )
            .buckets(prometheus::exponential_buckets(0.001, 2.0, 20).unwrap_or_default()),
            &["activity"],
        )
        .expect("valid metric");
        let running = IntGaugeVec::new(
            Opts::new(
                "sluice_worker_tasks_running",
                "Tasks running now, by activity",
            ),
            &["activity"],
        )
        .expect("valid metric");
        for c in [
            Box::new(tasks.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(task_duration.clone()),
            Box::new(running.clone()),
        ] {
            registry.register(c).expect("registered once");
        }
        WorkerMetrics {
            registry,
            tasks,
            task_duration,
            running,
        }
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!(error = %e, "encoding metrics failed");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

impl std::fmt::Debug for WorkerMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerMetrics").finish_non_exhaustive()
    }
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        WorkerMetrics::new()
    }
}

/// Serve `/metrics` and `/healthz` on `addr` until `stop`.
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<WorkerMetrics>,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4",
                        )],
                        metrics.render(),
                    )
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(address = %listener.local_addr()?, "worker metrics listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
}
