//! What `sluice serve` exposes on `/metrics`, in the Prometheus text format. Counters and
//! histograms are updated where the work happens; the gauges that describe the store (tasks
//! waiting per activity, executions driven here) are read when scraped.

use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    Opts, Registry, TextEncoder,
};

/// The orchestrator's metrics.
pub struct Metrics {
    registry: Registry,
    pub api_requests: IntCounterVec,
    pub api_latency: HistogramVec,
    pub executions_started: IntCounterVec,
    pub executions_finished: IntCounterVec,
    pub transitions: IntCounter,
    pub step_duration: Histogram,
    pub commit_duration: Histogram,
    pub commit_batch: Histogram,
    pub schedule_lateness: Histogram,
    pub trigger_executions: IntCounterVec,
    pub map_run_items: IntCounterVec,
    pub tasks_pending: GaugeVec,
    pub task_oldest_age: GaugeVec,
    pub executions_driven: Gauge,
}

/// Latency buckets from 1 ms to about 65 s.
fn seconds_buckets() -> Vec<f64> {
    prometheus::exponential_buckets(0.001, 2.0, 17).unwrap_or_default()
}

impl Metrics {
    /// Every metric, registered.
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let counter_vec = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("registered once");
            c
        };
        let histogram = |name: &str, help: &str, buckets: Vec<f64>| {
            let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))
                .expect("valid metric");
            registry
                .register(Box::new(h.clone()))
                .expect("registered once");
            h
        };
        let gauge_vec = |name: &str, help: &str, labels: &[&str]| {
            let g = GaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry
                .register(Box::new(g.clone()))
                .expect("registered once");
            g
        };
        let api_latency = HistogramVec::new(
            HistogramOpts::new(
                "sluice_api_request_duration_seconds",
                "Time to answer an API request, by action",
            )
            .buckets(seconds_buckets()),
            &["action"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(api_latency.clone()))
            .expect("registered once");
        let transitions = IntCounter::new(
            "sluice_state_transitions_total",
            "Checkpointed steps of durable executions committed",
        )
        .expect("valid metric");
        registry
            .register(Box::new(transitions.clone()))
            .expect("registered once");
        let executions_driven = Gauge::new(
            "sluice_executions_driven",
            "Durable executions this replica drives now",
        )
        .expect("valid metric");
        registry
            .register(Box::new(executions_driven.clone()))
            .expect("registered once");
        Metrics {
            api_requests: counter_vec(
                "sluice_api_requests_total",
                "API requests, by action and HTTP status",
                &["action", "status"],
            ),
            api_latency,
            executions_started: counter_vec(
                "sluice_executions_started_total",
                "Executions started, by state machine and type",
                &["state_machine", "type"],
            ),
            executions_finished: counter_vec(
                "sluice_executions_finished_total",
                "Executions that ended, by state machine and status",
                &["state_machine", "status"],
            ),
            transitions,
            step_duration: histogram(
                "sluice_step_duration_seconds",
                "Time a durable execution's step took, from its start to its checkpoint",
                seconds_buckets(),
            ),
            commit_duration: histogram(
                "sluice_store_commit_duration_seconds",
                "Time one group commit of transitions took in the store",
                seconds_buckets(),
            ),
            commit_batch: histogram(
                "sluice_store_commit_batch_size",
                "Transitions per group commit",
                prometheus::exponential_buckets(1.0, 2.0, 12).unwrap_or_default(),
            ),
            schedule_lateness: histogram(
                "sluice_schedule_lateness_seconds",
                "Time from a schedule's tick to the start of its execution",
                seconds_buckets(),
            ),
            trigger_executions: counter_vec(
                "sluice_trigger_executions_total",
                "Executions object triggers started, by trigger",
                &["trigger"],
            ),
            map_run_items: counter_vec(
                "sluice_map_run_items_total",
                "Items of Distributed Map runs that ended, by status",
                &["status"],
            ),
            tasks_pending: gauge_vec(
                "sluice_activity_tasks_pending",
                "Activity tasks waiting for a worker, by activity (read when scraped)",
                &["activity"],
            ),
            task_oldest_age: gauge_vec(
                "sluice_activity_task_oldest_age_seconds",
                "Age of the oldest activity task waiting for a worker, by activity",
                &["activity"],
            ),
            executions_driven,
            registry,
        }
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!(error = %e, "encoding metrics failed");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// The state machine's name in an ARN, a bounded label.
pub fn machine_label(state_machine_arn: &str) -> &str {
    state_machine_arn
        .rsplit(":stateMachine:")
        .next()
        .unwrap_or(state_machine_arn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_prometheus_text_format() {
        let m = Metrics::new();
        m.api_requests
            .with_label_values(&["StartExecution", "200"])
            .inc();
        m.schedule_lateness.observe(0.2);
        let text = m.render();
        assert!(
            text.contains("# TYPE sluice_api_requests_total counter"),
            "{text}"
        );
        assert!(
            text.contains(r#"sluice_api_requests_total{action="StartExecution",status="200"} 1"#)
        );
        assert!(text.contains("sluice_schedule_lateness_seconds_count 1"));
        assert_eq!(
            machine_label("arn:aws:states:us-east-1:1:stateMachine:etl"),
            "etl"
        );
    }
}
