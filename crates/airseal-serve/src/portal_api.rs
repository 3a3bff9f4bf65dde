//! The portal API (no token; rate-limited per client address and per product key):
//! customers turn an activation request into a response, give a seat back, fetch the
//! revocation list and the public keys. Each handler is one vendor library call — the same
//! `airseal activate` and `airseal deactivate` make — run on the blocking pool.
//!
//! | route | body | answer |
//! |---|---|---|
//! | `POST /v1/activations` | an activation or trial request: raw, armored, or `AIRSEAL:` text | the signed response, armored (`text/plain`, the default); with `Accept: application/json` a JSON summary (as `airseal activate --json`) with `response` (armored) and `qr` (`AIRSEAL:` text); with `Accept: application/cose` or `application/octet-stream` the raw bytes. 201 for a new seat or trial, 200 when re-issued on the device's seat |
//! | `POST /v1/deactivations` | a deactivation proof (same forms) | JSON summary (as `airseal deactivate --json`) |
//! | `GET /v1/revocations` | — | the latest exported revocation list, armored (raw with `Accept: application/cose`/`octet-stream`); 404 problem when none was exported |
//! | `GET /v1/keys/public` | — | JSON: the root public key and the current issuing-key certificates |
//!
//! Refusals are `application/problem+json` ([`crate::problem`]).

use std::sync::Arc;

use airseal_core::ObjectType;
use airseal_core::armor::{armor, qr_text};
use airseal_vendor::activate;
use airseal_vendor::issuing;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::limit::Client;
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

/// A request body within the service's limit; a larger one is a 413 problem, an unreadable
/// one a 400 problem (never axum's plain-text rejections).
#[derive(Debug)]
pub struct Payload(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Payload {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Bytes::from_request(req, state).await {
            Ok(bytes) => Ok(Self(bytes)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                // What the CLI answers for an input too large to be an airseal file.
                airseal_vendor::problem::MALFORMED,
                "the body is larger than the service accepts (64 KiB unless configured)",
            )),
            Err(_) => Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "unreadable_body",
                1,
                "the request body could not be read",
            )),
        }
    }
}

/// How a signed object is sent back, from the request's `Accept`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Armored text (`text/plain`): the default.
    Armored,
    /// A JSON summary with the armored object in it.
    Json,
    /// The raw COSE bytes, with this content type.
    Raw(&'static str),
}

impl Format {
    /// The first media type of `Accept` (in the order given, q=0 skipped) the service
    /// offers; armored text when none is (or no `Accept` was sent).
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let accept = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','));
        for item in accept {
            let mut parts = item.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default().to_ascii_lowercase();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            if refused {
                continue;
            }
            match media.as_str() {
                "application/json" => return Self::Json,
                "application/cose" => return Self::Raw("application/cose"),
                "application/octet-stream" => return Self::Raw("application/octet-stream"),
                "text/plain" | "text/*" | "*/*" => return Self::Armored,
                _ => {}
            }
        }
        Self::Armored
    }
}

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

fn raw(status: StatusCode, content_type: &'static str, bytes: Vec<u8>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        bytes,
    )
        .into_response()
}

/// The clock the service answers at.
fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Why a portal operation gave no answer: the vendor library refused the file (kept typed,
/// so the HTML portal can say why in the customer's terms), or the service could not run
/// the operation (a rate limit, a busy or stopping ledger).
#[derive(Debug)]
pub(crate) enum Failure {
    /// The vendor library's refusal.
    Refused(activate::ActivationError),
    /// The service's own problem.
    Service(Problem),
}

impl From<Failure> for Problem {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Refused(e) => Problem::from(e),
            Failure::Service(p) => p,
        }
    }
}

impl From<Problem> for Failure {
    fn from(p: Problem) -> Self {
        Self::Service(p)
    }
}

impl From<crate::limit::Limited> for Failure {
    fn from(l: crate::limit::Limited) -> Self {
        Self::Service(Problem::from(l))
    }
}

/// The activation behind `POST /v1/activations` and the HTML portal's form: the product
/// key's rate limit, then [`activate::answer_request`] on the blocking pool as `client`.
///
/// # Errors
/// [`Failure`].
pub(crate) async fn answer(
    state: &Arc<AppState>,
    client: &Client,
    body: Bytes,
) -> Result<activate::Response, Failure> {
    let shared = Arc::clone(state);
    state
        .with_ledger_as(Some(client.actor()), move |ledger| {
            // The key's bucket before the ledger is touched; a request that does not verify
            // names no key and is refused by `answer_request` itself.
            if let Ok(request) = airseal_verify::activation::verify_request(&body) {
                if let Some(key) = &request.product_key {
                    shared.limiters.check_key(key)?;
                }
            }
            activate::answer_request(ledger, &shared.issuer, shared.vendor.config(), &body, now())
                .map_err(Failure::Refused)
        })
        .await?
        .inspect(crate::ops::count_activation)
}

/// The deactivation behind `POST /v1/deactivations` and the HTML portal's form:
/// [`activate::deactivate`] on the blocking pool as `client`.
///
/// # Errors
/// [`Failure`].
pub(crate) async fn give_back(
    state: &Arc<AppState>,
    client: &Client,
    body: Bytes,
) -> Result<activate::Deactivated, Failure> {
    state
        .with_ledger_as(Some(client.actor()), move |ledger| {
            activate::deactivate(ledger, &body, now()).map_err(Failure::Refused)
        })
        .await?
        .inspect(|_| crate::ops::count_deactivation())
}

/// `POST /v1/activations`: [`activate::answer_request`], as `airseal activate`.
async fn activations(
    State(state): State<Arc<AppState>>,
    client: Client,
    headers: HeaderMap,
    Payload(body): Payload,
) -> Result<Response, Problem> {
    let format = Format::from_headers(&headers);
    let response = answer(&state, &client, body).await?;
    let status = if response.reissued {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(match format {
        Format::Armored => text(status, response.armored()),
        Format::Raw(content_type) => raw(status, content_type, response.bytes),
        Format::Json => {
            let mut summary = response.summary();
            summary["response"] = json!(response.armored());
            summary["qr"] = json!(qr_text(&response.bytes));
            (status, axum::Json(summary)).into_response()
        }
    })
}

/// `POST /v1/deactivations`: [`activate::deactivate`], as `airseal deactivate PROOF`.
async fn deactivations(
    State(state): State<Arc<AppState>>,
    client: Client,
    Payload(body): Payload,
) -> Result<Response, Problem> {
    let done = give_back(&state, &client, body).await?;
    Ok(axum::Json(done.summary("proof")).into_response())
}

/// `GET /v1/revocations`: the latest list the vendor exported.
async fn revocations(
    State(state): State<Arc<AppState>>,
    _client: Client,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let shared = Arc::clone(&state);
    let list = state
        .with_ledger(move |_| airseal_vendor::revoke::latest_list(&shared.vendor))
        .await??;
    let Some(bytes) = list else {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            "no_revocation_list",
            1,
            "the vendor has not published a revocation list",
        ));
    };
    Ok(match Format::from_headers(&headers) {
        Format::Raw(content_type) => raw(StatusCode::OK, content_type, bytes),
        Format::Armored | Format::Json => text(
            StatusCode::OK,
            armor(ObjectType::RevocationList.armor_label(), &bytes),
        ),
    })
}

/// `GET /v1/keys/public`: the root public key and the current issuing certificates.
async fn public_keys(
    State(state): State<Arc<AppState>>,
    _client: Client,
) -> Result<Response, Problem> {
    let shared = Arc::clone(&state);
    let now = now();
    let published = state
        .with_ledger(move |ledger| issuing::published(&shared.vendor, ledger, now))
        .await?
        .map_err(|e| match e {
            issuing::IssuingError::Ledger(l) => Problem::from(l),
            _ => Problem::internal("the vendor's public key cannot be read"),
        })?;
    let certificates: Vec<serde_json::Value> = published
        .certificates
        .iter()
        .map(|c| {
            json!({
                "serial": c.serial,
                "key_id": c.kid.to_string(),
                "root_key_id": c.root_kid.to_string(),
                "status": c.status(now).as_str(),
                "not_before": c.not_before,
                "not_after": c.not_after,
                "products": c.products,
                "certificate": armor(ObjectType::Certificate.armor_label(), &c.certificate),
            })
        })
        .collect();
    Ok(axum::Json(json!({
        "root": {
            "key_id": published.root_kid.to_string(),
            "public_key": published.root_public_key,
        },
        "issuing_certificates": certificates,
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> Format {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT,
            HeaderValue::from_str(value).unwrap_or(HeaderValue::from_static("")),
        );
        Format::from_headers(&h)
    }

    #[test]
    fn accept_chooses_the_form() {
        assert_eq!(Format::from_headers(&HeaderMap::new()), Format::Armored);
        assert_eq!(accept("application/json"), Format::Json);
        assert_eq!(accept("application/cose"), Format::Raw("application/cose"));
        assert_eq!(
            accept("application/octet-stream"),
            Format::Raw("application/octet-stream")
        );
        assert_eq!(accept("text/html, */*;q=0.8"), Format::Armored);
        assert_eq!(accept("application/json;q=0, text/plain"), Format::Armored);
        assert_eq!(accept("image/png"), Format::Armored);
    }
}
