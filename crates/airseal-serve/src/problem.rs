//! Errors on the wire: `application/problem+json` (RFC 9457) with the same error name and
//! code the CLI prints with `--json` for that failure (DESIGN15 §5). The name and code come
//! from the vendor library's one mapping ([`airseal_vendor::problem`]); only the HTTP status
//! is chosen here, from the error's class. A problem never carries a secret, a token or a
//! request body.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Where problem types live (`type` is this followed by the error name).
pub const TYPE_BASE: &str = "https://airseal.invalid/problems/";

/// A refusal or failure, ready to be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The HTTP status.
    pub status: StatusCode,
    /// The stable error name (`no_seats_left`, `malformed`…).
    pub error: &'static str,
    /// The stable code (the CLI's exit code for it).
    pub code: u8,
    /// What went wrong, for people (no secrets, no request bodies).
    pub detail: String,
    /// Seconds after which a retry may succeed (429, 503).
    pub retry_after: Option<u64>,
}

impl Problem {
    /// A problem with `status`, name `error`, code `code` and `detail`.
    pub fn new(
        status: StatusCode,
        error: &'static str,
        code: u8,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            error,
            code,
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// The same problem, saying when to retry.
    #[must_use]
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// A failure of the service itself (500); the detail says no more than `what`.
    pub fn internal(what: &str) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", 70, what)
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        json!({
            "type": format!("{TYPE_BASE}{}", self.error),
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
            "error": self.error,
            "code": self.code,
        })
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body().to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
            .extensions_mut()
            .insert(crate::ops::Refusal(self.error));
        response
    }
}

/// A ledger error: busy → 503 with `Retry-After`; anything else is the service's own
/// failure (500), its detail kept to the error's class.
pub fn from_ledger(e: &airseal_vendor::ledger::LedgerError) -> Problem {
    use airseal_vendor::ledger::LedgerError;
    match e {
        LedgerError::Busy => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            1,
            "the ledger is busy; try again shortly",
        )
        .retry_after(1),
        _ => Problem::internal("the ledger failed"),
    }
}
