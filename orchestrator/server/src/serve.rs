//! Starting the orchestrator: open the store named by a URL, resume running executions, serve
//! the API until a shutdown signal.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::service::{Config, Service};
use crate::store::{PostgresStore, SqliteStore, Store, StoreError};

/// Which store backs the orchestrator; parsed from `sqlite:PATH` or `postgres://…`.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreUrl {
    Sqlite(std::path::PathBuf),
    SqliteMemory,
    Postgres(String),
}

impl std::str::FromStr for StoreUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "sqlite::memory:" || s == "memory" {
            Ok(StoreUrl::SqliteMemory)
        } else if let Some(path) = s
            .strip_prefix("sqlite://")
            .or_else(|| s.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err("sqlite: needs a file path, e.g. sqlite:.sluice/sluice.db".into());
            }
            Ok(StoreUrl::Sqlite(path.into()))
        } else if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Ok(StoreUrl::Postgres(s.to_string()))
        } else {
            Err(format!(
                "unknown store {s:?}: use sqlite:PATH, sqlite::memory: or postgres://user@host:port/db"
            ))
        }
    }
}

impl StoreUrl {
    /// Open the store.
    pub async fn open(&self) -> Result<Arc<dyn Store>, StoreError> {
        Ok(match self {
            StoreUrl::Sqlite(path) => Arc::new(SqliteStore::open(path).await?),
            StoreUrl::SqliteMemory => Arc::new(SqliteStore::in_memory().await?),
            StoreUrl::Postgres(url) => Arc::new(PostgresStore::connect(url).await?),
        })
    }
}

/// Flags of `sluice serve`.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub store: StoreUrl,
    pub config: Config,
    /// Cancelled to shut down (by the process's signal handler).
    pub shutdown: CancellationToken,
    /// How long a shutdown may take before what is left is cut off.
    pub grace: Duration,
    /// The logs are JSON lines: the address line is one too.
    pub json_logs: bool,
}

/// Failures while starting or serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("opening the store: {0}")]
    Store(#[from] StoreError),
    #[error("starting the service: {0}")]
    Resume(#[from] crate::service::ServiceError),
    #[error("listening on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("serving: {0}")]
    Serve(std::io::Error),
}

/// Run the orchestrator until `options.shutdown` is cancelled, then shut down within the
/// grace period: stop accepting requests, answer long polls, let steps reach a checkpoint,
/// flush the group commits. Running executions stay in the store and resume on the next start.
pub async fn serve(options: ServeOptions) -> Result<(), ServeError> {
    let store = options.store.open().await?;
    let shutdown = options.shutdown.clone();
    let service = Service::open(store, options.config, shutdown.child_token()).await?;
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: options.listen,
            source,
        })?;
    let resumed = service.resume().await?;
    service.start_maintenance();
    tracing::info!(listen = %options.listen, resumed, "sluice serve is ready");
    // Tools and tests wait for this line to know the port is open; it is printed whatever
    // the log filter, as a JSON line when the logs are.
    let announce = format!(
        "sluice serve listening on http://{}",
        listener.local_addr().map_err(ServeError::Serve)?
    );
    if options.json_logs {
        eprintln!(
            "{}",
            serde_json::json!({
                "timestamp": crate::time::iso8601(crate::time::now()),
                "level": "INFO",
                "fields": {"message": announce},
                "target": "sluice_server::serve",
            })
        );
    } else {
        eprintln!("{announce}");
        eprintln!(
            "the console: http://{}/",
            listener.local_addr().map_err(ServeError::Serve)?
        );
    }
    let app = crate::api::router(service.clone());
    let serving = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown.clone().cancelled_owned());
    let grace = options.grace;
    // HTTP drains (no new connections; open requests finish, long polls answer at once)
    // while the service stops; a request still open when the grace period ends is cut off.
    let http = async {
        let served = tokio::select! {
            served = serving => served.map_err(ServeError::Serve),
            _ = async { shutdown.cancelled().await; tokio::time::sleep(grace).await } => {
                tracing::warn!("requests still open at the end of the grace period were cut off");
                Ok(())
            }
        };
        // A server that failed shuts the service down too.
        shutdown.cancel();
        served
    };
    let stop = async {
        shutdown.cancelled().await;
        tracing::info!(grace_seconds = grace.as_secs_f64(), "shutting down");
        service.shut_down(grace).await;
    };
    let (served, ()) = tokio::join!(http, stop);
    served
}
