//! Any bytes as a request of the Step Functions API: the first byte picks the action, the
//! rest is the body. `api::handle` must answer with a result or an AWS error, never panic,
//! and never a server error (a 5xx would mean a request was mishandled, not refused).
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, Method, Uri};
use libfuzzer_sys::fuzz_target;
use sluice_server::api::{ACTIONS, handle};
use sluice_server::service::{Config, Service};
use sluice_server::store::SqliteStore;

/// One runtime and one service for the whole run: state built by earlier inputs (machines,
/// executions) makes later inputs reach deeper.
fn fixture() -> &'static (tokio::runtime::Runtime, Arc<Service>) {
    static FIXTURE: OnceLock<(tokio::runtime::Runtime, Arc<Service>)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a Tokio runtime");
        let service = runtime.block_on(async {
            let store = Arc::new(SqliteStore::in_memory().await.expect("an in-memory store"));
            Service::new(store, Config::default())
        });
        (runtime, service)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let (runtime, service) = fixture();
    let action = ACTIONS[pick as usize % ACTIONS.len()];
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-amz-target",
        HeaderValue::from_str(&format!("AWSStepFunctions.{action}")).expect("a header value"),
    );
    let uri: Uri = "/".parse().expect("a URI");
    runtime.block_on(async {
        // Long polls and Wait states are cut short; only panics and 5xx are failures.
        if let Ok(Err(e)) = tokio::time::timeout(
            Duration::from_millis(200),
            handle(service, &Method::POST, &uri, &headers, body),
        )
        .await
        {
            assert!(e.status.is_client_error(), "{action}: {e:?}");
        }
    });
});
