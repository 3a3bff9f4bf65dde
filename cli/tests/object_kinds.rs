//! A signed object given to a command that reads another kind is named for what it is (a
//! revocation list, an activation request…) and refused with exit 12, the table's "wrong
//! type" — not decoded as a license and reported as damaged, nor blamed on a missing request.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{airseal, exits, init_vendor, ok, stderr};

#[test]
fn a_revocation_list_is_named_and_refused_where_a_license_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    init_vendor(d, "\n[products.photo-pro]\n");
    ok(&airseal(
        d,
        &["revoke", "--license", "KDQ55VCSPJWEW", "--external"],
    ));
    ok(&airseal(d, &["revocations", "export", "--out", "rl.txt"]));
    // `inspect` shows a list for what it is (with what it names); `verify` checks one given
    // alone, but asked for a license of a product, a list is the wrong type.
    let shown = ok(&airseal(d, &["inspect", "rl.txt"]));
    assert!(shown.contains("a revocation list"), "{shown}");
    assert!(shown.contains("license    KDQ55VCSPJWEW"), "{shown}");
    for args in [
        &[
            "verify",
            "rl.txt",
            "--public-key",
            "keys/signing.pub",
            "--product",
            "photo-pro",
        ],
        &[
            "install",
            "rl.txt",
            "--public-key",
            "keys/signing.pub",
            "--data-dir",
            "m",
        ],
    ] {
        let o = airseal(d, args);
        exits(&o, 12);
        let err = stderr(&o);
        assert!(err.contains("this is a revocation list"), "{args:?}: {err}");
    }
}

#[test]
fn revocations_export_to_standard_output_and_plural_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    init_vendor(d, "\n[products.photo-pro]\n");
    ok(&airseal(
        d,
        &["revoke", "--license", "KDQ55VCSPJWEW", "--external"],
    ));
    let o = airseal(d, &["revocations", "export", "--out", "-"]);
    let out = ok(&o);
    assert!(
        out.starts_with("-----BEGIN AIRSEAL REVOCATION LIST-----"),
        "{out}"
    );
    assert!(!d.join("-").exists(), "`-` is standard output, not a file");
    assert!(
        stderr(&o).contains("1 license, 0 product keys, 0 minimum issue times"),
        "{}",
        stderr(&o)
    );
    // With --json, standard output carries the JSON: the list needs a file.
    exits(
        &airseal(d, &["revocations", "export", "--out", "-", "--json"]),
        2,
    );
    // Nothing to revoke named: a usage error.
    exits(&airseal(d, &["revoke"]), 2);
    let o = airseal(
        d,
        &[
            "keys",
            "generate",
            "--product",
            "photo-pro",
            "--count",
            "1",
            "--out",
            "one.csv",
        ],
    );
    ok(&o);
    assert!(
        stderr(&o).contains(": 1 random key for photo-pro"),
        "{}",
        stderr(&o)
    );
}
