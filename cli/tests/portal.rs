//! The customer portal over plain HTTP (no browser; `portal_browser.rs` drives a real one):
//! every page carries the strict Content-Security-Policy and friends, the vendor's own text
//! (product name, support address) is escaped, the forms work as plain URL-encoded posts
//! (what a browser without JavaScript sends), refusals are pages in the customer's terms with
//! the support address, and the download button gives back only activation responses.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::Duration;

use airseal_core::armor::dearmor;

mod common;
use common::service::Service;
use common::{MACHINE_A, airseal, init_vendor, ok};

/// Markup in the vendor's own settings, which must reach the page as text.
const PRODUCTS: &str = "\n[portal]\nsupport = \"<b>help</b>@acme.example & co\"\n\n\
    [products.photo-pro]\nname = \"Photo <script>alert(1)</script> Pro\"\n\
    activation_template = \"pro\"\n\
    [products.photo-pro.templates.pro]\nkind = \"subscription\"\ndays = 365\n\
    max_activations = 1\nmax_deactivations = 3\n";

struct Page {
    status: u16,
    headers: ureq::http::HeaderMap,
    body: String,
}

impl Page {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The security headers every portal answer carries.
    #[track_caller]
    fn assert_secured(&self) {
        let csp = self.header("content-security-policy");
        for part in [
            "default-src 'none'",
            "style-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(part), "{part} missing from {csp:?}");
        }
        assert!(!csp.contains("unsafe-inline") && !csp.contains("script-src"));
        assert_eq!(self.header("x-content-type-options"), "nosniff");
        assert_eq!(self.header("referrer-policy"), "no-referrer");
    }

    /// An HTML page with no script and no inline style (the policy would block them).
    #[track_caller]
    fn assert_html(&self) {
        assert!(self.header("content-type").starts_with("text/html"));
        assert!(self.body.starts_with("<!DOCTYPE html>"), "{}", self.body);
        let lower = self.body.to_ascii_lowercase();
        for forbidden in ["<script", "style=", "javascript:"] {
            assert!(!lower.contains(forbidden), "{forbidden} in:\n{}", self.body);
        }
        assert!(
            !has_event_handler(&lower),
            "an event handler in:\n{}",
            self.body
        );
    }
}

/// Whether `html` has an attribute ` onSOMETHING=` (an inline event handler).
fn has_event_handler(html: &str) -> bool {
    html.match_indices(" on").any(|(i, _)| {
        let rest = &html[i + 3..];
        let name_len = rest.chars().take_while(char::is_ascii_alphabetic).count();
        name_len > 0 && rest[name_len..].starts_with('=')
    })
}

#[test]
fn the_event_handler_check_finds_one() {
    assert!(has_event_handler(r#"<body onload="x()">"#));
    assert!(!has_event_handler("release it on the old machine"));
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

fn page(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Page {
    let mut r = r.unwrap();
    Page {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        body: r.body_mut().read_to_string().unwrap(),
    }
}

fn get(s: &Service, path: &str) -> Page {
    page(agent().get(s.at(path)).call())
}

fn post_form(s: &Service, path: &str, fields: &[(&str, &str)]) -> Page {
    page(agent().post(s.at(path)).send_form(fields.iter().copied()))
}

fn setup() -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    init_vendor(d, PRODUCTS);
    ok(&airseal(
        d,
        &[
            "keys",
            "generate",
            "--product",
            "photo-pro",
            "--count",
            "1",
            "--out",
            "k.csv",
        ],
    ));
    let csv = std::fs::read_to_string(d.join("k.csv")).unwrap();
    let key = csv.lines().nth(1).unwrap().split(',').next().unwrap();
    (tmp, key.to_string())
}

fn request(d: &Path, key: &str, machine: &[&str], out: &str) -> String {
    let mut args = vec![
        "request",
        "--product",
        "photo-pro",
        "--key",
        key,
        "--out",
        out,
    ];
    args.extend(machine);
    ok(&airseal(d, &args));
    std::fs::read_to_string(d.join(out)).unwrap()
}

#[test]
fn the_portal_answers_plain_forms_with_secured_escaped_pages() {
    let (tmp, key) = setup();
    let d = tmp.path();
    let s = Service::start(d, &["--allow-root-key"]);

    // The start page, and the stylesheet it uses, same origin.
    let home = get(&s, "/");
    assert_eq!(home.status, 200);
    home.assert_secured();
    home.assert_html();
    assert!(
        home.body.contains(r#"action="/activate""#)
            && home.body.contains(r#"enctype="multipart/form-data""#)
    );
    let css = get(&s, "/portal.css");
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").starts_with("text/css"));
    css.assert_secured();

    // A request pasted as text, posted URL-encoded: the response page.
    let req = request(d, &key, &MACHINE_A, "a.req");
    let answer = post_form(&s, "/activate", &[("text", &req)]);
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.assert_secured();
    answer.assert_html();
    assert_eq!(answer.header("cache-control"), "no-store");
    // The product's name from airseal.toml is text, not markup.
    assert!(
        answer
            .body
            .contains("Photo &lt;script&gt;alert(1)&lt;/script&gt; Pro"),
        "{}",
        answer.body
    );
    assert!(answer.body.contains("<svg ") && answer.body.contains("</svg>"));
    // The text to copy and the download's payload are the response.
    let start = answer
        .body
        .find("-----BEGIN AIRSEAL ACTIVATION RESPONSE-----")
        .unwrap();
    let end = answer.body[start..]
        .find("-----END AIRSEAL ACTIVATION RESPONSE-----")
        .unwrap();
    let armored = format!(
        "{}-----END AIRSEAL ACTIVATION RESPONSE-----\n",
        &answer.body[start..start + end]
    );
    let response_bytes = dearmor(armored.as_bytes()).unwrap().into_owned();

    // The download button: the same response as a file.
    let file = post_form(&s, "/download", &[("response", &armored)]);
    assert_eq!(file.status, 200);
    file.assert_secured();
    assert!(file.header("content-type").starts_with("text/plain"));
    assert_eq!(
        file.header("content-disposition"),
        "attachment; filename=\"response.txt\""
    );
    assert_eq!(
        dearmor(file.body.as_bytes()).unwrap().as_ref(),
        response_bytes.as_slice()
    );
    std::fs::write(d.join("a.resp"), &file.body).unwrap();
    let out = ok(&airseal(
        d,
        &[
            "install",
            "a.resp",
            "--public-key",
            "keys/signing.pub",
            "--data-dir",
            "machine-a",
        ],
    ));
    assert!(out.contains("INSTALLED"), "{out}");

    // …but not anything else: a request, or text of someone's choosing.
    for other in [req.as_str(), "<html>hello</html>"] {
        let refused = post_form(&s, "/download", &[("response", other)]);
        assert_eq!(refused.status, 400);
        refused.assert_secured();
        refused.assert_html();
        assert!(refused.header("content-disposition").is_empty());
        assert!(
            refused.body.contains("This is not an activation response"),
            "{}",
            refused.body
        );
    }

    // A form over the body limit (64 KiB) is a page too, with the API's status.
    let huge = "A".repeat(70 * 1024);
    let large = post_form(&s, "/activate", &[("text", &huge)]);
    assert_eq!(large.status, 413, "{}", large.body);
    large.assert_secured();
    assert!(
        large.body.contains("The file is too large"),
        "{}",
        large.body
    );

    // An empty form is told so.
    let empty = post_form(&s, "/activate", &[("text", "  ")]);
    assert_eq!(empty.status, 400);
    assert!(empty.body.contains("Nothing was given"), "{}", empty.body);

    // A refusal: the customer's terms, the support address escaped, the CLI's words for
    // the support desk, the API's status.
    let machine_b = [
        "--data-dir",
        "machine-b",
        "--no-system-components",
        "--component",
        "machine-id=b",
        "--component",
        "root-disk=b",
    ];
    let req_b = request(d, &key, &machine_b, "b.req");
    let refused = post_form(&s, "/activate", &[("text", &req_b)]);
    assert_eq!(refused.status, 409, "{}", refused.body);
    refused.assert_secured();
    refused.assert_html();
    assert!(
        refused.body.contains("This key has no free seat"),
        "{}",
        refused.body
    );
    assert!(
        refused
            .body
            .contains("or contact <strong>&lt;b&gt;help&lt;/b&gt;@acme.example &amp; co</strong>"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("no_seats_left"), "{}", refused.body);
    // …and counted as the API's refusals are, by route and error name.
    let metrics = get(&s, "/metrics").body;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("airseal_refusals_total")
                && l.contains(r#"route="/activate""#)
                && l.contains(r#"error="no_seats_left""#)),
        "{metrics}"
    );

    // A file of the wrong kind in the deactivation form.
    let wrong = post_form(&s, "/deactivate", &[("text", &req_b)]);
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    assert!(
        wrong.body.contains("This is not the right kind of file"),
        "{}",
        wrong.body
    );

    // The release proof, URL-encoded, frees the seat; twice is told kindly.
    ok(&airseal(
        d,
        &["release", "--data-dir", "machine-a", "--out", "a.proof"],
    ));
    let proof = std::fs::read_to_string(d.join("a.proof")).unwrap();
    let freed = post_form(&s, "/deactivate", &[("text", &proof)]);
    assert_eq!(freed.status, 200, "{}", freed.body);
    freed.assert_secured();
    assert!(freed.body.contains("The seat is free"), "{}", freed.body);
    let again = post_form(&s, "/deactivate", &[("text", &proof)]);
    assert_ne!(again.status, 200);
    assert!(
        again.body.contains("This seat was already given back"),
        "{}",
        again.body
    );
}

#[test]
fn a_rate_limited_customer_gets_a_page_saying_when_to_retry() {
    let (tmp, key) = setup();
    let d = tmp.path();
    // One portal request a minute per address.
    let s = Service::start(d, &["--allow-root-key", "--client-rate", "1"]);
    let req = request(d, &key, &MACHINE_A, "a.req");
    let first = post_form(&s, "/activate", &[("text", &req)]);
    assert_eq!(first.status, 200, "{}", first.body);
    let second = post_form(&s, "/activate", &[("text", &req)]);
    assert_eq!(second.status, 429, "{}", second.body);
    second.assert_secured();
    second.assert_html();
    let retry: u64 = second.header("retry-after").parse().unwrap();
    assert!(retry >= 1);
    assert!(second.body.contains("Too many requests"), "{}", second.body);
    assert!(
        second
            .body
            .contains(&format!("Try again in {retry} second")),
        "{}",
        second.body
    );
    assert!(second.body.contains("rate_limited"), "{}", second.body);
    // The start page itself is not rate-limited: it costs no ledger work.
    assert_eq!(get(&s, "/").status, 200);
}

#[test]
fn a_trial_through_the_portal_once_per_machine() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    init_vendor(
        d,
        "\n[products.photo-pro]\ntrial_template = \"trial\"\n\
         [products.photo-pro.templates.trial]\nkind = \"trial\"\ndays = 14\n",
    );
    let s = Service::start(d, &["--allow-root-key"]);
    let mut args = vec![
        "request",
        "--product",
        "photo-pro",
        "--trial",
        "--out",
        "t.req",
    ];
    args.extend(MACHINE_A);
    ok(&airseal(d, &args));
    let req = std::fs::read_to_string(d.join("t.req")).unwrap();
    let trial = post_form(&s, "/activate", &[("text", &req)]);
    assert_eq!(trial.status, 200, "{}", trial.body);
    // No name in airseal.toml: the product id; a trial holds no seat of a key.
    assert!(
        trial.body.contains("photo-pro: this machine is activated."),
        "{}",
        trial.body
    );
    assert!(!trial.body.contains("Seats of this key"), "{}", trial.body);
    assert!(
        trial.body.contains("The license runs until "),
        "{}",
        trial.body
    );

    // The same request again is the same trial, answered again (idempotent)…
    let again = post_form(&s, "/activate", &[("text", &req)]);
    assert_eq!(again.status, 200, "{}", again.body);
    assert!(
        again.body.contains("here is its response again"),
        "{}",
        again.body
    );

    // …but the same machine with a fresh device key (its data folder wiped) has had it.
    std::fs::remove_dir_all(d.join("machine-a")).unwrap();
    args.push("--force");
    ok(&airseal(d, &args));
    let req = std::fs::read_to_string(d.join("t.req")).unwrap();
    let again = post_form(&s, "/activate", &[("text", &req)]);
    assert_ne!(again.status, 200, "{}", again.body);
    assert!(
        again.body.contains("This machine has had its trial"),
        "{}",
        again.body
    );
    assert!(
        again
            .body
            .contains("or contact the company that sold you the software."),
        "{}",
        again.body
    );
}
