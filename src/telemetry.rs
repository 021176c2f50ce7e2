//! Logs and traces, set up at the binary's edge. Logs go to stderr, filtered by `SLUICE_LOG`
//! (default `info`): plain text (coloured only on a terminal), or JSON lines with
//! `SLUICE_LOG_FORMAT=json`. With `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans (an API request, a checkpointed step, a task
//! dispatch, each carrying the execution ARN and state name) are also exported over OTLP/HTTP.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Keeps the trace exporter alive; dropping it flushes the spans not yet sent. Drop it
/// outside the async runtime (the exporter's HTTP client blocks).
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("sluice: flushing traces failed: {e}");
        }
    }
}

/// Where traces go: the traces endpoint, or the base endpoint with `/v1/traces`.
fn traces_endpoint() -> Option<String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if let Some(url) = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        return Some(url);
    }
    var("OTEL_EXPORTER_OTLP_ENDPOINT")
        .map(|base| format!("{}/v1/traces", base.trim_end_matches('/')))
}

/// Install the log (and trace) subscriber for the process.
pub fn init(service: &'static str) -> Telemetry {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("SLUICE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let mut provider = None;
    let otel = match traces_endpoint() {
        None => None,
        Some(endpoint) => {
            match opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(endpoint.clone())
                .build()
            {
                Ok(exporter) => {
                    let p = SdkTracerProvider::builder()
                        .with_batch_exporter(exporter)
                        .with_resource(
                            opentelemetry_sdk::Resource::builder()
                                .with_service_name(service)
                                .build(),
                        )
                        .build();
                    let tracer = p.tracer("sluice");
                    provider = Some(p);
                    // Spans at info and above, whatever `SLUICE_LOG` keeps in the logs.
                    Some(
                        tracing_opentelemetry::layer()
                            .with_tracer(tracer)
                            .with_filter(tracing_subscriber::filter::LevelFilter::INFO),
                    )
                }
                Err(e) => {
                    eprintln!("sluice: traces to {endpoint} are off: {e}");
                    None
                }
            }
        }
    };
    let registry = tracing_subscriber::registry().with(otel);
    if std::env::var("SLUICE_LOG_FORMAT").as_deref() == Ok("json") {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_writer(std::io::stderr)
                    .with_filter(filter),
            )
            .init();
    } else {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(std::io::stderr)
                    .with_filter(filter),
            )
            .init();
    }
    Telemetry { provider }
}
