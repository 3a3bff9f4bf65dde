//! Operating the service: liveness (`/healthz`), readiness (`/readyz`), Prometheus metrics
//! (`/metrics`), the log subscriber (text or JSON lines on standard error), and the layer
//! that counts, times and logs every request.
//!
//! What a request's log line holds is chosen here, once: method, the matched **route
//! template** (`/v1/keys/{key}`, never the path as sent, so no product key or query string
//! reaches the log), status, duration, client address and the problem's error name. Never a
//! header (so never an `Authorization` token), never a body.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::config::LogFormat;
use crate::problem::Problem;
use crate::state::AppState;

/// Requests answered, by route template, method and status.
pub const REQUESTS: &str = "airseal_http_requests_total";
/// Time to answer a request, seconds, by route template.
pub const LATENCY: &str = "airseal_http_request_duration_seconds";
/// Activation requests answered with a signed response, by kind (`seat`, `reissue`, `trial`).
pub const ACTIVATIONS: &str = "airseal_activations_total";
/// Deactivation proofs accepted (seats given back).
pub const DEACTIVATIONS: &str = "airseal_deactivations_total";
/// Requests refused with a problem, by route template and error name (the CLI's names:
/// `no_seats_left`, `key_revoked`, `rate_limited`…).
pub const REFUSALS: &str = "airseal_refusals_total";

/// Latency buckets (seconds): the activation target is p99 < 50 ms.
const BUCKETS: [f64; 12] = [
    0.000_5, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// How long `/readyz` waits for a ledger connection before saying "not ready".
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// The liveness, readiness and metrics routes.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    // Installed before the first request, so every request is counted.
    let _ = metrics_handle();
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The process is up and answering.
async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready to serve: a ledger connection from the pool answers a query (the schema version).
/// 503 (a problem) when the ledger cannot be reached, the pool is saturated for longer than
/// [`READY_TIMEOUT`], or the service is shutting down — so a load balancer stops sending.
async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let probe = state.with_ledger(|ledger| ledger.schema_version());
    let detail = match tokio::time::timeout(READY_TIMEOUT, probe).await {
        Ok(Ok(Ok(_))) => return "ready\n".into_response(),
        Ok(Ok(Err(e))) => {
            tracing::warn!(error = %e, "readiness: the ledger did not answer");
            "the ledger cannot be reached"
        }
        Ok(Err(p)) => {
            tracing::warn!(error = p.error, "readiness: no ledger connection");
            "no ledger connection could be had"
        }
        Err(_) => "no ledger connection came free in time",
    };
    Problem::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", 1, detail)
        .retry_after(5)
        .into_response()
}

/// The Prometheus text exposition of every metric.
async fn metrics() -> Response {
    match metrics_handle() {
        Some(handle) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            )],
            handle.render(),
        )
            .into_response(),
        None => Problem::internal("metrics are not available in this process").into_response(),
    }
}

/// The process's metrics recorder, installed on first use (`None` when another recorder
/// was installed first, which only an embedding program can do).
fn metrics_handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(LATENCY.to_string()), &BUCKETS)
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            // Histograms keep raw samples until upkeep folds them in: do it every few
            // seconds even when nobody scrapes.
            let upkeep = handle.clone();
            let _ = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(Duration::from_secs(5));
                        upkeep.run_upkeep();
                    }
                });
            Some(handle)
        })
        .as_ref()
}

fn describe() {
    metrics::describe_counter!(
        REQUESTS,
        "HTTP requests answered, by route, method and status"
    );
    metrics::describe_histogram!(
        LATENCY,
        metrics::Unit::Seconds,
        "Time to answer an HTTP request, by route"
    );
    metrics::describe_counter!(
        ACTIVATIONS,
        "Activation requests answered with a signed response, by kind"
    );
    metrics::describe_counter!(
        REFUSALS,
        "Requests refused with a problem, by route and error"
    );
}

/// Counts one answered activation request by kind: `seat` (a new seat), `reissue` (the
/// machine's own seat again) or `trial`. Called by the handlers that answer activation
/// requests (the portal API and the portal page).
pub fn count_activation(response: &airseal_vendor::activate::Response) {
    let kind = if response.reissued {
        "reissue"
    } else if response.seats.is_none() {
        "trial"
    } else {
        "seat"
    };
    metrics::counter!(ACTIVATIONS, "kind" => kind).increment(1);
}

/// Counts one seat given back (a deactivation proof accepted).
pub fn count_deactivation() {
    metrics::counter!(DEACTIVATIONS).increment(1);
}

/// Put on a problem's response by [`Problem`]'s `IntoResponse`, so that [`observe`] counts
/// and logs the refusal by its error name without reading the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal(pub &'static str);

/// The layer around every route: counts the request (route template, method, status),
/// records its latency, counts a refusal by its error name, and logs one line — with no
/// header, body, query string or path parameter (see the module documentation).
pub(crate) async fn observe(request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let peer = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let response = next.run(request).await;
    let elapsed = start.elapsed();
    let status = response.status();
    let refusal = response.extensions().get::<Refusal>().map(|r| r.0);
    metrics::counter!(
        REQUESTS,
        "route" => route.clone(),
        "method" => method.to_string(),
        "status" => status.as_str().to_string()
    )
    .increment(1);
    metrics::histogram!(LATENCY, "route" => route.clone()).record(elapsed.as_secs_f64());
    if let Some(error) = refusal {
        metrics::counter!(REFUSALS, "route" => route.clone(), "error" => error).increment(1);
    }
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    let client = peer.map(tracing::field::display);
    if status.is_server_error() {
        tracing::warn!(%method, %route, status = status.as_u16(), micros, client, error = refusal, "request");
    } else {
        tracing::info!(%method, %route, status = status.as_u16(), micros, client, error = refusal, "request");
    }
    response
}

/// Why the log subscriber could not be installed.
#[non_exhaustive]
#[derive(Debug)]
pub enum LogInitError {
    /// The level filter does not parse.
    Filter {
        /// The filter as given.
        filter: String,
        /// Why.
        reason: String,
    },
    /// A subscriber was installed already.
    AlreadySet,
}

impl std::fmt::Display for LogInitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Filter { filter, reason } => {
                write!(f, "log filter {filter:?} does not parse: {reason}")
            }
            Self::AlreadySet => f.write_str("a log subscriber is installed already"),
        }
    }
}

impl std::error::Error for LogInitError {}

/// The log filter when none is given: the service's own events at `info` (one line per
/// request, start and stop), everything else at `warn`.
pub const DEFAULT_LOG_FILTER: &str = "warn,airseal_serve=info";

/// Installs the process's log subscriber: lines on standard error, as text or one JSON
/// object per line, filtered by `filter` (`tracing-subscriber`'s `EnvFilter` syntax, e.g.
/// `info` or `warn,airseal_serve=debug`; `None`: [`DEFAULT_LOG_FILTER`]).
///
/// # Errors
/// [`LogInitError`].
pub fn init_logging(format: LogFormat, filter: Option<&str>) -> Result<(), LogInitError> {
    use tracing_subscriber::EnvFilter;
    let text = filter.unwrap_or(DEFAULT_LOG_FILTER);
    let filter = EnvFilter::try_new(text).map_err(|e| LogInitError::Filter {
        filter: text.to_string(),
        reason: e.to_string(),
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let done = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    done.map_err(|_| LogInitError::AlreadySet)
}
