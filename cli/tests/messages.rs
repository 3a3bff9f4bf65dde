//! Messages for people: times as RFC 3339 UTC with a relative form, never raw Unix
//! seconds; no progress bar drawn into a pipe or a log.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{airseal, init_vendor, ok, stderr};
use serde_json::Value;

#[test]
fn expiry_and_not_yet_valid_read_as_dates() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(&airseal(d, &["keygen", "--out", "keys"]));
    ok(&airseal(
        d,
        &[
            "issue",
            "--key",
            "keys/signing.key",
            "--product",
            "p",
            "--not-before",
            "2027-01-01",
            "--expires",
            "2027-12-04T15:56:06Z",
            "--out",
            "l.lic",
        ],
    ));
    let verify = |now: &str| {
        airseal(
            d,
            &[
                "verify",
                "l.lic",
                "--public-key",
                "keys/signing.pub",
                "--product",
                "p",
                "--now",
                now,
            ],
        )
    };
    let late = verify("2027-12-07T15:56:06Z");
    assert_eq!(late.status.code(), Some(17), "{}", stderr(&late));
    assert!(
        stderr(&late).contains("expired 3 days ago, at 2027-12-04T15:56:06Z"),
        "{}",
        stderr(&late)
    );
    assert!(!stderr(&late).contains("seconds since 1970"));
    let early = verify("2026-12-30T00:00:00Z");
    assert_eq!(early.status.code(), Some(16), "{}", stderr(&early));
    assert!(
        stderr(&early).contains("valid from 2027-01-01T00:00:00Z, in 2 days"),
        "{}",
        stderr(&early)
    );
    // JSON carries the same message (and the class and code to branch on).
    let o = airseal(
        d,
        &[
            "verify",
            "l.lic",
            "--public-key",
            "keys/signing.pub",
            "--product",
            "p",
            "--now",
            "2027-12-07T15:56:06Z",
            "--json",
        ],
    );
    let v: Value = serde_json::from_str(&String::from_utf8_lossy(&o.stdout)).unwrap();
    assert_eq!(v["error"], "expired");
    assert!(v["message"].as_str().unwrap().contains("3 days ago"), "{v}");
}

#[test]
fn no_progress_bar_into_a_pipe() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    init_vendor(d, "\n[products.p]\n");
    let o = airseal(
        d,
        &[
            "keys",
            "generate",
            "--product",
            "p",
            "--count",
            "2000",
            "--out",
            "k.csv",
        ],
    );
    ok(&o);
    let err = stderr(&o);
    assert!(
        !err.contains("ETA") && !err.contains('\r') && !err.contains('\x1b'),
        "{err:?}"
    );
    // The summary line is there, with an integer duration format and no raw float rate.
    assert!(err.contains("2000 random keys for p"), "{err}");
}

#[test]
fn revoke_says_what_it_revoked_in_words_not_rust() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    init_vendor(d, "\n[products.photo-pro]\n");
    let said = |args: &[&str]| {
        let o = airseal(d, args);
        ok(&o);
        String::from_utf8(o.stdout).unwrap()
    };
    let out = said(&["revoke", "--license", "KDQ55VCSPJWEW", "--external"]);
    assert!(
        out.starts_with("revoked license KDQ55VCSPJWEW (not recorded"),
        "{out}"
    );
    // The key is found however it was typed, and named as the ledger stores it.
    said(&[
        "keys",
        "generate",
        "--product",
        "photo-pro",
        "--count",
        "1",
        "--out",
        "k.txt",
    ]);
    let key = std::fs::read_to_string(d.join("k.txt")).unwrap();
    let key = key.trim();
    let out = said(&["revoke", "--key", &key.to_lowercase()]);
    assert!(
        out.starts_with(&format!(
            "revoked product key {} of photo-pro (was active);",
            key.replace('-', "")
        )),
        "{out}"
    );
    let out = said(&[
        "revoke",
        "--product",
        "photo-pro",
        "--issued-before",
        "2026-01-01",
    ]);
    assert!(
        out.starts_with(
            "revoked licenses of product photo-pro issued before 2026-01-01T00:00:00Z\n\
             export a new list with `airseal revocations export`"
        ),
        "{out}"
    );
    assert!(!out.contains('{') && !out.contains("MinIssuedAt"), "{out}");
}

#[test]
fn no_import_progress_into_a_pipe() {
    // Enough rows for the import to report progress in both phases (every few thousand
    // rows): into a pipe none of it is drawn, with or without --json.
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    init_vendor(d, "\n[products.p]\n");
    let mut csv = String::from("key,email\n");
    for i in 0..20_000 {
        csv.push_str(&format!("KEY-{i:08},user{i}@example.com\n"));
    }
    std::fs::write(d.join("export.csv"), csv).unwrap();
    let o = airseal(
        d,
        &[
            "import",
            "--from",
            "generic",
            "export.csv",
            "--product",
            "p",
        ],
    );
    ok(&o);
    let err = stderr(&o);
    assert!(
        !err.contains("ETA")
            && !err.contains("parsing")
            && !err.contains('\r')
            && !err.contains('\x1b'),
        "{err:?}"
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("20000"), "{out}");
    let o = airseal(
        d,
        &[
            "import",
            "--from",
            "generic",
            "export.csv",
            "--product",
            "p",
            "--json",
        ],
    );
    ok(&o);
    let err = stderr(&o);
    assert!(!err.contains("ETA") && !err.contains('\r'), "{err:?}");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["already_present"], 20_000, "{v}");
}
