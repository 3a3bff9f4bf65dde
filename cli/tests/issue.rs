//! `airseal issue` against the vendor folder's ledger (`SPEC.md` §17.3): the product and the
//! product key are checked before anything is signed (a typo told from an unknown key, a
//! suspended or revoked key refused), the license is recorded only once its file is written,
//! and outside a vendor folder the command says that nothing is recorded.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use serde_json::Value;

mod common;
use common::{airseal, exits, init_vendor, ok, stderr};

const ALPHABET: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A vendor folder with product `photo-pro`, one generated key (display form) and an
/// imported suspended key `SUSP-0001`.
fn vendor() -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    init_vendor(d, "\n[products.photo-pro]\n");
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
            "k.txt",
        ],
    ));
    let key = std::fs::read_to_string(d.join("k.txt"))
        .unwrap()
        .trim()
        .to_string();
    std::fs::write(
        d.join("old.csv"),
        "key,email,status\nSUSP-0001,a@example.com,suspended\n",
    )
    .unwrap();
    ok(&airseal(
        d,
        &[
            "import",
            "--from",
            "generic",
            "old.csv",
            "--product",
            "photo-pro",
        ],
    ));
    (tmp, key)
}

fn issue(d: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["issue", "--out", "x.lic"];
    args.extend_from_slice(extra);
    airseal(d, &args)
}

fn licenses_recorded(d: &Path) -> usize {
    let out = ok(&airseal(d, &["ledger", "licenses", "--json"]));
    match serde_json::from_str::<Value>(&out).unwrap() {
        Value::Array(rows) => rows.len(),
        other => other["licenses"].as_array().map_or(0, Vec::len),
    }
}

/// Finding 7: inside a vendor folder, an unknown product, a key that is not a key, an
/// unknown well-formed key, a mistyped key, and a suspended or revoked key are refused,
/// nothing signed or recorded; a key typed in lower case is found and written as stored.
#[test]
fn issue_checks_the_product_and_the_key_against_the_ledger() {
    let (tmp, key) = vendor();
    let d = tmp.path();
    let product = ["--product", "photo-pro"];
    let o = issue(d, &["--product", "nonexistent-product"]);
    exits(&o, 1);
    assert!(stderr(&o).contains("nonexistent-product"), "{}", stderr(&o));

    for bogus in ["TOTALLY-NOT-A-KEY", "00000-00000-00000-00000"] {
        let o = issue(d, &[&product[..], &["--product-key", bogus]].concat());
        exits(&o, 1);
        assert!(stderr(&o).contains("not in the ledger"), "{}", stderr(&o));
    }
    // The same key with its check symbol changed: a typo (exit 20, as for activation).
    let last = key.chars().last().unwrap();
    let other = ALPHABET.chars().find(|c| *c != last).unwrap();
    let typo = format!("{}{other}", &key[..key.len() - 1]);
    let o = issue(d, &[&product[..], &["--product-key", &typo]].concat());
    exits(&o, 20);
    assert!(stderr(&o).contains("typo"), "{}", stderr(&o));

    let o = issue(d, &[&product[..], &["--product-key", "susp-0001"]].concat());
    exits(&o, 1);
    assert!(stderr(&o).contains("suspended"), "{}", stderr(&o));
    assert!(!d.join("x.lic").exists());
    assert_eq!(licenses_recorded(d), 0);

    // Typed in lower case: found, and the license carries the key as the ledger stores it.
    let lower = key.to_lowercase();
    ok(&issue(
        d,
        &[&product[..], &["--product-key", &lower]].concat(),
    ));
    let claims = ok(&airseal(d, &["inspect", "x.lic", "--json"]));
    let claims: Value = serde_json::from_str(&claims).unwrap();
    assert_eq!(
        claims["claims"]["product_key"],
        key.replace('-', "").as_str(),
        "{claims}"
    );
    assert_eq!(licenses_recorded(d), 1);

    ok(&airseal(d, &["revoke", "--key", &key]));
    let o = airseal(
        d,
        &[
            "issue",
            "--product",
            "photo-pro",
            "--product-key",
            &key,
            "--out",
            "y.lic",
        ],
    );
    exits(&o, 1);
    assert!(
        stderr(&o).contains("revoked") && stderr(&o).contains("revoke --undo"),
        "{}",
        stderr(&o)
    );
    // --no-ledger signs without the ledger's checks, and records nothing.
    ok(&airseal(
        d,
        &[
            "issue",
            "--product",
            "photo-pro",
            "--product-key",
            &key,
            "--no-ledger",
            "--out",
            "z.lic",
        ],
    ));
    assert_eq!(licenses_recorded(d), 1);
}

/// Finding 8: a license whose file cannot be written is not recorded.
#[test]
fn a_license_that_could_not_be_written_is_not_recorded() {
    let (tmp, _) = vendor();
    let d = tmp.path();
    let o = airseal(
        d,
        &[
            "issue",
            "--product",
            "photo-pro",
            "--out",
            "nonexistent/dir/x.lic",
        ],
    );
    assert_ne!(o.status.code(), Some(0));
    assert_eq!(licenses_recorded(d), 0);
    let audit = ok(&airseal(
        d,
        &["ledger", "audit", "--action", "license.issue", "--json"],
    ));
    assert!(!audit.contains("nonexistent"), "{audit}");
    ok(&airseal(
        d,
        &["issue", "--product", "photo-pro", "--out", "x.lic"],
    ));
    assert_eq!(licenses_recorded(d), 1);
}

/// Finding 7: outside a vendor folder the license is signed with --key, and the command
/// says that no ledger records it, unless --no-ledger says that is intended.
#[test]
fn outside_a_vendor_folder_issue_says_nothing_is_recorded() {
    let (tmp, _) = vendor();
    let signing_key = tmp.path().join("keys/signing.key").display().to_string();
    let outside = tempfile::tempdir().unwrap();
    let args = [
        "issue",
        "--key",
        &signing_key,
        "--product",
        "photo-pro",
        "--out",
    ];
    let o = airseal(outside.path(), &[&args[..], &["a.lic"]].concat());
    ok(&o);
    assert!(
        stderr(&o).contains("recorded in no ledger"),
        "{}",
        stderr(&o)
    );
    let o = airseal(
        outside.path(),
        &[&args[..], &["b.lic", "--no-ledger"]].concat(),
    );
    ok(&o);
    assert!(!stderr(&o).contains("ledger"), "{}", stderr(&o));
}

/// Finding 11: contradictory terms are refused with the reason, not signed or dropped.
#[test]
fn contradictory_terms_are_refused() {
    let (tmp, _) = vendor();
    let d = tmp.path();
    let refused = |args: &[&str], says: &str| {
        let o = airseal(d, args);
        exits(&o, 1);
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
    };
    let issue = ["issue", "--product", "photo-pro", "--out", "x.lic"];
    refused(
        &[
            &issue[..],
            &["--not-before", "2028-01-01", "--expires", "2027-01-01"],
        ]
        .concat(),
        "could never be valid",
    );
    // Zero days: one rule, refused by `issue` and `keys generate` alike.
    refused(&[&issue[..], &["--days", "0"]].concat(), "0 days");
    let generate = [
        "keys",
        "generate",
        "--product",
        "photo-pro",
        "--count",
        "1",
        "--out",
        "k2.txt",
    ];
    refused(
        &[&generate[..], &["--kind", "data", "--days", "0"]].concat(),
        "0 days",
    );
    // Random keys cannot carry features or days: refused, not dropped.
    refused(&[&generate[..], &["--features", "F1"]].concat(), "features");
    refused(&[&generate[..], &["--days", "30"]].concat(), "days");
    assert!(!d.join("k2.txt").exists());
    // A perpetual license has no end.
    refused(
        &[&issue[..], &["--kind", "perpetual", "--days", "365"]].concat(),
        "perpetual",
    );
    assert!(!d.join("x.lic").exists());
    // A license with an expiry and no kind is a subscription, not "perpetual".
    ok(&airseal(d, &[&issue[..], &["--days", "365"]].concat()));
    let inspected: Value =
        serde_json::from_str(&ok(&airseal(d, &["inspect", "x.lic", "--json"]))).unwrap();
    assert_eq!(inspected["claims"]["kind"], "subscription", "{inspected}");
}
