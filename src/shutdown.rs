//! The root of the process's cancellation tree: Ctrl-C or SIGTERM cancels one token, which
//! `serve` and `worker` (and everything they own, through child tokens) watch.

use std::future::Future;

use tokio_util::sync::CancellationToken;

/// Resolves on Ctrl-C or, on Unix, SIGTERM (what Kubernetes sends).
async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// Run `work` with `root` cancelled on the first signal; `work` decides how to wind down.
/// The signal watch lives inside this future (no detached task), so it ends with `work`.
pub async fn run_until_done<F: Future>(root: CancellationToken, work: F) -> F::Output {
    let watch = async {
        signal().await;
        tracing::info!("signal received, shutting down");
        root.cancel();
        std::future::pending::<std::convert::Infallible>().await
    };
    tokio::select! {
        out = work => out,
        never = watch => match never {},
    }
}
