//! The portal's security headers, on every portal response: a Content-Security-Policy that
//! allows nothing but the same-origin stylesheet and form posts to the portal itself (no
//! script at all, no framing), no MIME sniffing, no referrer.

use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;

/// The policy. `default-src 'none'` denies everything not named; the QR code is inline
/// SVG markup (part of the document, not an image load), so `img-src` stays denied too.
pub(crate) const CSP: &str = "default-src 'none'; style-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// Adds the headers to `response`.
pub(crate) async fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set: [(HeaderName, &'static str); 5] = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}
