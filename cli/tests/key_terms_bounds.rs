//! Issue 13 hostile walkthrough, defects 9, 10, 11 and 18 through the binary: `keys inspect`
//! says a revoked or suspended key is one (and exits non-zero), `keys update` refuses an end
//! in the past and a negative extension with what to do instead, and no term runs past the
//! year 9999 (the one days rule's upper bound).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use serde_json::Value;

mod common;
use common::{airseal, exits, init_vendor, ok, stderr};

/// A product whose keys get a 30-day subscription.
const PRODUCT: &str = "\n[products.photo]\nactivation_template = \"sub\"\n\
    [products.photo.templates.sub]\nkind = \"subscription\"\ndays = 30\n";

/// A vendor folder with `photo` and `n` generated keys.
fn vendor(n: usize) -> (tempfile::TempDir, Vec<String>) {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    init_vendor(d, PRODUCT);
    let count = n.to_string();
    ok(&airseal(
        d,
        &[
            "keys",
            "generate",
            "--product",
            "photo",
            "--count",
            &count,
            "--out",
            "k.txt",
        ],
    ));
    let keys = std::fs::read_to_string(d.join("k.txt"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    (tmp, keys)
}

fn inspect(d: &Path, key: &str) -> (Option<i32>, Value) {
    let o = airseal(d, &["keys", "inspect", key, "--json"]);
    let j = serde_json::from_str(&String::from_utf8_lossy(&o.stdout)).unwrap();
    (o.status.code(), j)
}

/// Defect 9: a revoked key is reported revoked with a revoked license's exit code (23), a
/// suspended one suspended (exit 1); an active one stays valid (exit 0).
#[test]
fn keys_inspect_reports_revoked_and_suspended_keys() {
    let (tmp, keys) = vendor(3);
    let d = tmp.path();
    ok(&airseal(d, &["revoke", "--key", &keys[0]]));
    ok(&airseal(d, &["keys", "suspend", &keys[1]]));
    let (code, j) = inspect(d, &keys[0]);
    assert_eq!(
        (code, j["status"].as_str()),
        (Some(23), Some("revoked")),
        "{j}"
    );
    let (code, j) = inspect(d, &keys[1]);
    assert_eq!(
        (code, j["status"].as_str()),
        (Some(1), Some("suspended")),
        "{j}"
    );
    let (code, j) = inspect(d, &keys[2]);
    assert_eq!(
        (code, j["status"].as_str()),
        (Some(0), Some("valid")),
        "{j}"
    );
    // The text form says it too.
    let o = airseal(d, &["keys", "inspect", &keys[0]]);
    assert_eq!(o.status.code(), Some(23));
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        text.lines()
            .any(|l| l.starts_with("status") && l.contains("revoked")),
        "{text}"
    );
}

/// Defect 10: an end in the past is refused and names the ways to stop a key; the key's
/// terms are unchanged.
#[test]
fn an_end_in_the_past_is_refused() {
    let (tmp, keys) = vendor(1);
    let d = tmp.path();
    let key = &keys[0];
    let o = airseal(d, &["keys", "update", key, "--expires", "2020-01-01"]);
    exits(&o, 1);
    let err = stderr(&o);
    assert!(err.contains("not in the future"), "{err}");
    assert!(err.contains("airseal keys suspend"), "{err}");
    assert!(err.contains("airseal revoke --key"), "{err}");
    let audit = ok(&airseal(d, &["ledger", "audit", "--json"]));
    assert!(!audit.contains("key.update"), "{audit}");
    // A future end is taken.
    let next_year = (chrono::Utc::now() + chrono::Duration::days(365))
        .format("%Y-%m-%d")
        .to_string();
    ok(&airseal(
        d,
        &["keys", "update", key, "--expires", &next_year],
    ));
}

/// Defect 11: no term past the year 9999, wherever days are given.
#[test]
fn no_term_runs_past_the_year_9999() {
    let (tmp, keys) = vendor(1);
    let d = tmp.path();
    let refused = |args: &[&str]| {
        let o = airseal(d, args);
        exits(&o, 1);
        let err = stderr(&o);
        assert!(err.contains("9999"), "{args:?}: {err}");
    };
    let issue = [
        "issue",
        "--product",
        "photo",
        "--no-ledger",
        "--out",
        "x.lic",
    ];
    refused(&[&issue[..], &["--days", "4294967295"]].concat());
    refused(&[&issue[..], &["--days", "2932896"]].concat());
    assert!(!d.join("x.lic").exists());
    // The last day that can be written is accepted.
    ok(&airseal(
        d,
        &[&issue[..], &["--expires", "9999-12-31"]].concat(),
    ));
    let shown = ok(&airseal(d, &["inspect", "x.lic", "--json"]));
    let claims: Value = serde_json::from_str(&shown).unwrap();
    let exp = claims["claims"]["exp"].as_i64().unwrap();
    let printed = chrono::DateTime::from_timestamp(exp, 0)
        .unwrap()
        .to_rfc3339();
    assert!(printed.starts_with("9999-12-31T23:59:59"), "{printed}");

    // An extension past it.
    refused(&["keys", "update", &keys[0], "--extend", "4000000000"]);
    refused(&["keys", "update", &keys[0], "--extend", "2932896"]);

    // A template's days past it: refused when airseal.toml loads.
    let config = d.join("airseal.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("days = 30", "days = 4294967295")).unwrap();
    refused(&[
        "keys",
        "generate",
        "--product",
        "photo",
        "--count",
        "1",
        "--out",
        "k2.txt",
    ]);
    assert!(!d.join("k2.txt").exists());
}

/// Defect 18: a negative extension is a clear refusal, not clap's "use -- -5" tip.
#[test]
fn a_negative_extension_is_refused_plainly() {
    let (tmp, keys) = vendor(1);
    let d = tmp.path();
    let o = airseal(d, &["keys", "update", &keys[0], "--extend", "-5"]);
    assert_ne!(o.status.code(), Some(0));
    let err = stderr(&o);
    assert!(err.contains("negative extension is not allowed"), "{err}");
    assert!(err.contains("--expires"), "{err}");
    assert!(!err.contains("-- -5"), "{err}");
}
