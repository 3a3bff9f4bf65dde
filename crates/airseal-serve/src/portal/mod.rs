//! The customer portal at `/`: a customer pastes the `AIRSEAL:` text of an activation (or
//! trial) request, or uploads the file, and gets the response back as a file to download,
//! as a QR code on the page and as text to copy; a deactivation proof frees a seat the same
//! way. Server-rendered HTML (`pages.rs`), plain form posts (nothing needs JavaScript), a
//! strict Content-Security-Policy (`headers.rs`), refusals in the customer's terms with the
//! vendor's support address (`messages.rs`, `[portal] support` in `airseal.toml`).
//!
//! Each form post is one call of the same operation the portal API runs for
//! `POST /v1/activations` and `POST /v1/deactivations` (`crate::portal_api`): same rate
//! limits, same vendor library call, same audit actor. Only the rendering differs.

mod form;
mod headers;
mod messages;
mod pages;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use airseal_core::armor::{armor, dearmor};
use airseal_core::cose::{ObjectType, parse_sign1};

use crate::limit::Client;
use crate::portal_api::Failure;
use crate::problem::Problem;
use crate::state::AppState;
use messages::Refusal;
use pages::Vendor;

/// The portal's routes, each with the security headers.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(index))
        .route(pages::CSS_PATH, get(stylesheet))
        .route(pages::ACTIVATE_PATH, post(activate))
        .route(pages::DEACTIVATE_PATH, post(deactivate))
        .route(pages::DOWNLOAD_PATH, post(download))
        .layer(axum::middleware::map_response(headers::secure))
}

/// What every page shows about the vendor, from `airseal.toml`.
fn vendor(state: &AppState) -> Vendor {
    let config = state.vendor.config();
    Vendor {
        name: config.vendor.clone(),
        support: config.portal.as_ref().and_then(|p| p.support.clone()),
    }
}

/// A page with its status.
fn page(status: StatusCode, markup: maud::Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
}

/// A refusal page.
fn refused(state: &AppState, status: StatusCode, refusal: &Refusal) -> Response {
    page(status, pages::refused(&vendor(state), refusal))
}

async fn index(State(state): State<Arc<AppState>>) -> Response {
    page(StatusCode::OK, pages::index(&vendor(&state)))
}

async fn stylesheet() -> Response {
    let mut response = include_str!("portal.css").into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    response
}

/// The product's name as `airseal.toml` gives it, else its id.
fn product_name(state: &AppState, product: &str) -> String {
    state
        .vendor
        .config()
        .products
        .get(product)
        .and_then(|p| p.name.clone())
        .unwrap_or_else(|| product.to_string())
}

/// The form's file or text, once the client's rate limit let the request through; or the
/// page to answer instead.
async fn submission(
    state: &AppState,
    client: Result<Client, Problem>,
    request: Request,
) -> Result<(Client, Bytes), Response> {
    let client = client.map_err(|problem| failed(state, Failure::Service(problem)))?;
    let bytes = form::submitted(request)
        .await
        .map_err(|(status, refusal)| refused(state, status, &refusal))?;
    Ok((client, Bytes::from(bytes)))
}

async fn activate(
    State(state): State<Arc<AppState>>,
    client: Result<Client, Problem>,
    request: Request,
) -> Response {
    let (client, bytes) = match submission(&state, client, request).await {
        Ok(submitted) => submitted,
        Err(page) => return page,
    };
    match crate::portal_api::answer(&state, &client, bytes).await {
        Ok(response) => {
            let qr_svg = airseal_qr::encode(&response.bytes)
                .ok()
                .map(|code| code.svg_element());
            let answered = pages::Answered {
                product: product_name(&state, &response.claims.product),
                reissued: response.reissued,
                seats: response.seats.map(|s| s.to_string()),
                expires: response.claims.expires_at.map(messages::day),
                armored: response.armored(),
                qr_svg,
            };
            let mut page = page(StatusCode::OK, pages::answered(&vendor(&state), &answered));
            // The page holds a license: not for shared caches or the back button's cache.
            page.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            page
        }
        Err(failure) => failed(&state, failure),
    }
}

async fn deactivate(
    State(state): State<Arc<AppState>>,
    client: Result<Client, Problem>,
    request: Request,
) -> Response {
    let (client, bytes) = match submission(&state, client, request).await {
        Ok(submitted) => submitted,
        Err(page) => return page,
    };
    match crate::portal_api::give_back(&state, &client, bytes).await {
        Ok(done) => {
            let product = product_name(&state, &done.activation.product);
            let seats = done.seats.map(|s| s.to_string());
            page(
                StatusCode::OK,
                pages::released(&vendor(&state), &product, seats.as_deref()),
            )
        }
        Err(failure) => failed(&state, failure),
    }
}

/// The page for a refused or failed operation: the customer's terms for a vendor refusal,
/// the service's own words for a rate limit or an outage. The status, and the error name
/// and code shown for the support desk, are the API's for the same failure.
fn failed(state: &AppState, failure: Failure) -> Response {
    let (mut refusal, problem) = match failure {
        Failure::Refused(e) => {
            let refusal = messages::refusal(&e);
            (refusal, Problem::from(e))
        }
        Failure::Service(problem) => (messages::unavailable(&problem), problem),
    };
    // The problem's detail, never the error's own text: the API keeps from customers what
    // they must not see (other keys, the vendor's files), and so does the page.
    refusal.details = format!("{} ({}): {}", problem.error, problem.code, problem.detail);
    let mut response = refused(state, problem.status, &refusal);
    // Counted and logged by its error name, as the API's problem documents are.
    response
        .extensions_mut()
        .insert(crate::ops::Refusal(problem.error));
    if let Some(seconds) = problem.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// The "download" button: the response text posted back comes back as a file. Only an
/// activation response is given back, re-armored from its bytes, so this cannot be used to
/// make the portal serve a file of someone else's choosing.
async fn download(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let text = match form::field(request, "response").await {
        Ok(text) => text,
        Err((status, refusal)) => return refused(&state, status, &refusal),
    };
    let bytes = match dearmor(text.as_bytes()) {
        Ok(bytes) => bytes.into_owned(),
        Err(_) => return refused(&state, StatusCode::BAD_REQUEST, &messages::not_a_response()),
    };
    let is_response =
        parse_sign1(&bytes).is_ok_and(|s| s.header.typ == ObjectType::ActivationResponse.typ());
    if !is_response {
        return refused(&state, StatusCode::BAD_REQUEST, &messages::not_a_response());
    }
    let body = armor(ObjectType::ActivationResponse.armor_label(), &bytes);
    let disposition = format!("attachment; filename=\"{}\"", pages::RESPONSE_FILE);
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
