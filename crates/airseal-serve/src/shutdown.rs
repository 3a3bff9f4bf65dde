//! Graceful shutdown on SIGTERM or SIGINT (Ctrl-C): stop accepting connections, let the
//! requests in flight finish (each vendor operation commits or rolls back as a whole, on
//! the blocking pool, whatever happens to its client), close idle keep-alive connections,
//! then close the ledger pool's connections, so that the process exits with nothing
//! half-written. A second signal during the wait is logged and changes nothing: the
//! transactions in flight are short, and SIGKILL remains for the impatient (the ledger
//! survives that too: every write is one SQLite or PostgreSQL transaction).

use crate::state::AppState;

/// Completes on SIGINT or SIGTERM, logging which.
pub async fn signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    let name = tokio::select! {
        () = interrupt => "SIGINT",
        () = terminate => "SIGTERM",
    };
    tracing::info!(
        signal = name,
        "shutting down: no new connections; requests in flight finish"
    );
}

/// After the last request was answered: closes the ledger pool and its connections.
pub(crate) fn finish(state: &AppState) {
    state.pool.close();
    tracing::info!("stopped: every request answered, ledger connections closed");
}
