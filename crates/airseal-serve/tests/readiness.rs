//! `/readyz` answers from the ledger: ready while a pooled connection answers a query, 503
//! (a problem) when no connection can be had — the ledger gone, or the pool closed for
//! shutdown — while `/healthz` still says the process is up.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use airseal_serve::{AppState, ServeConfig};
use airseal_vendor::issue::Issuer;
use airseal_vendor::vendor_dir::VendorDir;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt as _;

fn state(dir: &std::path::Path) -> Arc<AppState> {
    let vendor = VendorDir::init(dir, "acme", false).unwrap();
    let config = ServeConfig::new(dir.to_path_buf(), SocketAddr::from(([127, 0, 0, 1], 0)));
    let issuer = Issuer::new(ed25519_dalek::SigningKey::from_bytes(&[7; 32]));
    Arc::new(AppState::new(vendor, config, issuer))
}

async fn get(state: &Arc<AppState>, path: &str) -> (StatusCode, String, String) {
    let response = airseal_serve::router(Arc::clone(state))
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        content_type,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

#[tokio::test]
async fn ready_while_the_ledger_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let state = state(tmp.path());
    let (status, _, body) = get(&state, "/readyz").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ready\n"));
}

#[tokio::test]
async fn not_ready_when_the_ledger_cannot_be_opened() {
    let tmp = tempfile::tempdir().unwrap();
    let state = state(tmp.path());
    // No connection was opened yet; the ledger goes away.
    for name in ["ledger.sqlite3", "ledger.sqlite3-wal", "ledger.sqlite3-shm"] {
        let _ = std::fs::remove_file(tmp.path().join(name));
    }
    let (status, content_type, body) = get(&state, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(content_type, "application/problem+json");
    let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["error"], "unavailable");
    assert_eq!(problem["status"], 503);
    // The process itself is up.
    let (status, _, body) = get(&state, "/healthz").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok\n"));
}

#[tokio::test]
async fn not_ready_once_shutting_down() {
    let tmp = tempfile::tempdir().unwrap();
    let state = state(tmp.path());
    assert_eq!(get(&state, "/readyz").await.0, StatusCode::OK);
    state.pool.close();
    let (status, _, body) = get(&state, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
}
