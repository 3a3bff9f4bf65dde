//! The airseal vendor service (`airseal serve`): an HTTP API for the vendor's backend and a
//! self-service offline-activation portal for customers, over the vendor library
//! (`airseal-vendor`). Handlers are thin: parse → one vendor call on the blocking pool
//! ([`state::AppState::with_ledger`]) → respond; errors become `application/problem+json`
//! ([`problem`]). ARCHITECTURE.md, "The vendor service", has the map.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod admin_api;
pub mod auth;
pub mod config;
pub mod limit;
pub mod openapi;
pub mod ops;
pub mod pool;
mod portal;
pub mod portal_api;
pub mod problem;
pub mod shutdown;
pub mod state;
pub mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use airseal_vendor::issue::Issuer;
use airseal_vendor::issuing::SignerChoice;
use airseal_vendor::ledger::LedgerError;
use airseal_vendor::vendor_dir::{VendorDir, VendorDirError};
use axum::Router;

pub use config::ServeConfig;
pub use state::AppState;

/// Every route of the service. Each module adds its own with one line here (its
/// `routes()`, which must not set a fallback: unknown routes and methods are answered here,
/// as problems).
pub fn router(state: Arc<AppState>) -> Router {
    let limits = state.config.limits;
    Router::new()
        .merge(ops::routes())
        .merge(portal_api::routes())
        .merge(admin_api::routes())
        .merge(openapi::routes())
        .merge(portal::routes())
        .fallback(|| async {
            problem::Problem::new(
                axum::http::StatusCode::NOT_FOUND,
                "not_found",
                1,
                "no such route",
            )
        })
        .method_not_allowed_fallback(|| async {
            problem::Problem::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                1,
                "this route does not take this method",
            )
        })
        .layer(axum::extract::DefaultBodyLimit::max(limits.body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            limits.request_timeout,
            timeout,
        ))
        .layer(axum::middleware::from_fn(ops::observe))
        .with_state(state)
}

/// Answers 503 (a problem) to a request not answered within the configured time. A vendor
/// operation already running on the blocking pool still finishes (its transaction commits
/// or not as a whole); the client retries, and activation is idempotent.
async fn timeout(
    axum::extract::State(limit): axum::extract::State<std::time::Duration>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => problem::Problem::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            1,
            "the request took too long; try again",
        )
        .retry_after(1)
        .into_response(),
    }
}

/// Why the service could not start.
#[non_exhaustive]
#[derive(Debug)]
pub enum ServeError {
    /// The vendor folder could not be opened.
    VendorDir(VendorDirError),
    /// The ledger could not be opened.
    Ledger(LedgerError),
    /// The address could not be listened on.
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Serving failed.
    Io(std::io::Error),
    /// The async runtime could not be started.
    Runtime(std::io::Error),
    /// Logging could not be set up.
    Logging(ops::LogInitError),
    /// The TLS certificate or key could not be used.
    Tls(tls::TlsError),
    /// The signer is the vendor's root key and the service was not allowed to use it.
    RootKey {
        /// The root key file.
        path: std::path::PathBuf,
    },
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::VendorDir(e) => e.fmt(f),
            Self::Ledger(e) => e.fmt(f),
            Self::Listen { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            Self::Io(e) => write!(f, "serving failed: {e}"),
            Self::Runtime(e) => write!(f, "cannot start the service's runtime: {e}"),
            Self::Logging(e) => e.fmt(f),
            Self::Tls(e) => e.fmt(f),
            Self::RootKey { path } => write!(
                f,
                "the service would sign with the root key {}: an online service should hold an \
                 issuing key the root certified, so that the root stays offline",
                path.display()
            ),
        }
    }
}

impl std::error::Error for ServeError {}

/// Refuses to run the service with the root key unless `allow_root_key` (the issue's rule:
/// an online service signs with an issuing key, so that a stolen server key can be revoked
/// without replacing the root every app trusts).
///
/// # Errors
/// [`ServeError::RootKey`].
pub fn check_signer(choice: &SignerChoice, allow_root_key: bool) -> Result<(), ServeError> {
    match choice {
        SignerChoice::Root(path) if !allow_root_key => {
            Err(ServeError::RootKey { path: path.clone() })
        }
        _ => Ok(()),
    }
}

pub use shutdown::signal as shutdown_signal;

/// A service bound to its address, not yet answering.
#[derive(Debug)]
pub struct Server {
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    tls: Option<tls::Acceptor>,
}

impl Server {
    /// Opens the vendor folder and the ledger, and binds the listening address. `issuer` is
    /// the key the service signs with (the caller unlocked it).
    ///
    /// # Errors
    /// [`ServeError`].
    pub async fn bind(config: ServeConfig, issuer: Issuer) -> Result<Self, ServeError> {
        let vendor = VendorDir::open(&config.vendor_dir)
            .map_err(ServeError::VendorDir)?
            .with_database(config.database.clone());
        // Before anything else: a bad certificate or key stops the service at start.
        let tls = config
            .tls
            .as_ref()
            .map(tls::acceptor)
            .transpose()
            .map_err(ServeError::Tls)?;
        let state = Arc::new(AppState::new(vendor, config, issuer));
        let pool = Arc::clone(&state.pool);
        tokio::task::spawn_blocking(move || pool.warm_up())
            .await
            .map_err(|e| ServeError::Io(std::io::Error::other(e)))?
            .map_err(ServeError::Ledger)?;
        let listen = state.config.listen;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| ServeError::Listen {
                addr: listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(ServeError::Io)?;
        Ok(Self {
            state,
            listener,
            addr,
            tls,
        })
    }

    /// The address the service listens on (the port chosen when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL the service answers on: `https://ADDR` with TLS, else `http://ADDR`.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The shared state (tests and the other rooms' setup).
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Answers requests until `shutdown` completes, then lets requests in flight finish.
    ///
    /// # Errors
    /// [`ServeError::Io`].
    pub async fn serve<S>(self, shutdown: S) -> Result<(), ServeError>
    where
        S: Future<Output = ()> + Send + 'static,
    {
        use axum::serve::ListenerExt as _;
        // Buckets of clients gone quiet are forgotten, so memory follows recent traffic.
        let tidy = {
            let state = Arc::clone(&self.state);
            tokio::spawn(async move {
                let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
                loop {
                    every.tick().await;
                    state.limiters.tidy();
                }
            })
        };
        let app =
            router(Arc::clone(&self.state)).into_make_service_with_connect_info::<SocketAddr>();
        match self.tls {
            None => {
                let listener = self.listener.tap_io(|tcp| {
                    let _ = tcp.set_nodelay(true);
                });
                axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown)
                    .await
            }
            Some(acceptor) => {
                let listener = tls::TlsListener::new(self.listener, acceptor)
                    .map_err(ServeError::Io)?
                    .tap_io(|_| {});
                axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown)
                    .await
            }
        }
        .map_err(ServeError::Io)?;
        tidy.abort();
        shutdown::finish(&self.state);
        Ok(())
    }
}

/// [`Server::bind`], then `ready(address)`, then [`Server::serve`].
///
/// # Errors
/// [`ServeError`].
pub async fn run<S>(
    config: ServeConfig,
    issuer: Issuer,
    ready: impl FnOnce(SocketAddr),
    shutdown: S,
) -> Result<(), ServeError>
where
    S: Future<Output = ()> + Send + 'static,
{
    let server = Server::bind(config, issuer).await?;
    ready(server.local_addr());
    server.serve(shutdown).await
}
