//! Errors on the wire: `application/problem+json` (RFC 9457) with the same error name and
//! code the CLI prints with `--json` for that failure (DESIGN15 §5). The name and code come
//! from the vendor library's one mapping ([`airseal_vendor::problem`]); only the HTTP status
//! is chosen here, from the error's class. A problem never carries a secret, a token or a
//! request body.

use airseal_vendor::activate::ActivationError;
use airseal_vendor::ledger::LedgerError;
use airseal_vendor::problem::{Class, ErrorName, Named};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::limit::{LimitKind, Limited};

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

/// The HTTP status of an error class (DESIGN15 §5).
pub fn status_of(class: Class) -> StatusCode {
    match class {
        Class::Malformed => StatusCode::BAD_REQUEST,
        Class::NotFound => StatusCode::NOT_FOUND,
        Class::Conflict => StatusCode::CONFLICT,
        Class::Gone => StatusCode::GONE,
        Class::Refused => StatusCode::UNPROCESSABLE_ENTITY,
        Class::Busy => StatusCode::SERVICE_UNAVAILABLE,
        Class::Unauthorized => StatusCode::UNAUTHORIZED,
        Class::Forbidden => StatusCode::FORBIDDEN,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The problem for a named library error with `detail`: its status from its class, and a
/// `Retry-After` when the ledger was busy.
pub fn named(name: ErrorName, detail: impl Into<String>) -> Problem {
    let problem = Problem::new(status_of(name.class), name.error, name.code, detail);
    match name.class {
        Class::Busy => problem.retry_after(1),
        _ => problem,
    }
}

/// A named library error: its detail is the error's own text when it is a refusal of the
/// request (which names only what the request gave), and only its class when the service
/// itself failed (whose text may name the vendor's files).
pub fn refusal<E: Named + std::fmt::Display>(e: &E) -> Problem {
    let name = e.named();
    match name.class {
        Class::Busy | Class::Failure => generic(name),
        _ => named(name, e.to_string()),
    }
}

fn generic(name: ErrorName) -> Problem {
    let detail = match name.class {
        Class::Busy => "the ledger is busy; try again shortly",
        _ => "the vendor's ledger failed; try again later or contact the vendor",
    };
    named(name, detail)
}

/// A ledger error. Its text may name files of the vendor's machine: only the class is told.
pub fn from_ledger(e: &LedgerError) -> Problem {
    let name = e.named();
    let detail = match name.class {
        Class::Busy => "the ledger is busy; try again shortly",
        Class::NotFound => "not found",
        Class::Conflict => "the key as entered matches several keys; enter it exactly as issued",
        _ => "the vendor's ledger failed; try again later or contact the vendor",
    };
    named(name, detail)
}

impl From<LedgerError> for Problem {
    fn from(e: LedgerError) -> Self {
        from_ledger(&e)
    }
}

impl From<ActivationError> for Problem {
    fn from(e: ActivationError) -> Self {
        let name = e.named();
        let detail = match &e {
            ActivationError::Ledger(l) => return from_ledger(l),
            // Never tell one customer which other keys exist.
            ActivationError::AmbiguousKey { entered, .. } => format!(
                "key {entered:?} matches several keys once separators and case are ignored; \
                 enter it exactly as issued"
            ),
            // The vendor's configuration, not the customer's doing.
            ActivationError::Template { .. } | ActivationError::NoTemplate { .. } => {
                "the vendor has not set up what this key's license contains; contact the vendor"
                    .to_string()
            }
            ActivationError::Issue(_) => {
                "the service cannot sign this response; contact the vendor".to_string()
            }
            other => other.to_string(),
        };
        named(name, detail)
    }
}

impl From<Limited> for Problem {
    fn from(l: Limited) -> Self {
        let what = match l.by {
            LimitKind::Client => "from this address",
            LimitKind::Key => "for this product key",
        };
        Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            1,
            format!("too many requests {what}; retry in {} s", l.retry_after),
        )
        .retry_after(l.retry_after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_ledger_is_503_with_retry_after() {
        let p = Problem::from(LedgerError::Busy);
        assert_eq!(p.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(p.retry_after, Some(1));
        assert_eq!(p.error, "busy");
        let response = p.into_response();
        assert_eq!(
            response.headers().get(header::RETRY_AFTER),
            Some(&HeaderValue::from(1u64))
        );
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE),
            Some(&HeaderValue::from_static("application/problem+json"))
        );
        // Also when it reaches the service inside an activation refusal.
        let p = Problem::from(ActivationError::Ledger(LedgerError::Busy));
        assert_eq!(p.status, StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn classes_choose_the_status() {
        let cases = [
            (Class::Malformed, 400),
            (Class::NotFound, 404),
            (Class::Conflict, 409),
            (Class::Gone, 410),
            (Class::Refused, 422),
            (Class::Busy, 503),
            (Class::Failure, 500),
        ];
        for (class, status) in cases {
            assert_eq!(status_of(class).as_u16(), status, "{class:?}");
        }
    }

    /// A refusal naming several stored keys never lists them to the caller.
    #[test]
    fn an_ambiguous_key_does_not_name_the_other_keys() {
        let p = Problem::from(ActivationError::AmbiguousKey {
            product: "p".into(),
            entered: "ab-cd".into(),
            keys: vec!["AB-CD".into(), "ABCD".into()],
        });
        assert_eq!(p.status, StatusCode::CONFLICT);
        assert!(!p.detail.contains("ABCD"), "{}", p.detail);
        let body = p.body().to_string();
        assert!(!body.contains("AB-CD"), "{body}");
    }
}
