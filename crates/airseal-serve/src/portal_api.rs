//! The portal API (no token; rate-limited): customers turn an activation request into a
//! response, give a seat back, fetch the revocation list and the public keys. Each handler
//! is one vendor library call, the same `airseal activate` and `airseal deactivate` make.

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::problem::Problem;
use crate::state::AppState;

/// The portal API's routes.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/activations", post(activations))
        .route("/v1/deactivations", post(deactivations))
        .route("/v1/revocations", get(revocations))
        .route("/v1/keys/public", get(public_keys))
}

fn not_yet() -> Problem {
    Problem::new(
        axum::http::StatusCode::NOT_IMPLEMENTED,
        "not_implemented",
        1,
        "not implemented yet",
    )
}

async fn activations() -> Problem {
    not_yet()
}

async fn deactivations() -> Problem {
    not_yet()
}

async fn revocations() -> Problem {
    not_yet()
}

async fn public_keys() -> Problem {
    not_yet()
}
