//! `Authorization: Bearer <token>` → who is calling ([`AdminCaller`]), or a 401/403 problem.
//! The token is checked by the vendor library ([`airseal_vendor::tokens::verify`]: lookup by
//! its public id, constant-time comparison of its hash) on the ledger pool. The token text is
//! never logged, echoed or put in a problem.

use std::sync::Arc;

use airseal_vendor::problem::Named as _;
use airseal_vendor::tokens::{self, AuthError, Caller, TokenScope};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::problem::Problem;
use crate::state::AppState;

/// A caller holding an admin token: what every admin handler takes first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminCaller(pub Caller);

impl AdminCaller {
    /// The audit log's actor for this caller (`token:<name>`).
    pub fn actor(&self) -> String {
        self.0.actor()
    }
}

/// A refused caller: a problem with `WWW-Authenticate` on 401.
#[derive(Debug)]
pub struct Refused(Problem);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let unauthorized = self.0.status == StatusCode::UNAUTHORIZED;
        let mut r = self.0.into_response();
        if unauthorized {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"airseal\""),
            );
        }
        r
    }
}

/// The problem for a refused token: 401 when there is no usable token, 403 when it works
/// but not for this. Names only the token's name (never its text).
pub fn problem(e: &AuthError) -> Problem {
    match e {
        AuthError::Malformed | AuthError::Unknown => crate::problem::named(
            e.named(),
            "an admin token is required: Authorization: Bearer airseal_admin_…",
        ),
        _ => crate::problem::refusal(e),
    }
}

/// The token of an `Authorization: Bearer …` header, if there is one.
fn bearer(parts: &Parts) -> Option<String> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

/// Checks the request's token for `needed`.
///
/// # Errors
/// [`Refused`].
pub async fn authorize(
    state: &AppState,
    parts: &Parts,
    needed: TokenScope,
) -> Result<Caller, Refused> {
    let Some(token) = bearer(parts) else {
        return Err(Refused(problem(&AuthError::Malformed)));
    };
    let now = chrono::Utc::now().timestamp();
    state
        .with_ledger(move |ledger| tokens::verify(ledger, &token, needed, now))
        .await
        .map_err(Refused)?
        .map_err(|e| Refused(problem(&e)))
}

impl FromRequestParts<Arc<AppState>> for AdminCaller {
    type Rejection = Refused;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        authorize(state, parts, TokenScope::Admin)
            .await
            .map(AdminCaller)
    }
}
