//! Issue 13 hostile walkthrough, defect 4, through the binary: a revocation list's number
//! stays above every list ever exported from the vendor folder, also after `ledger restore`
//! of a backup older than the last export (the folder's `revocations.seq`), and after a
//! restore in a folder that lists were exported from before that file existed (the replaced
//! ledger's number is carried over).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use serde_json::Value;

mod common;
use common::{airseal, init_vendor, ok};

fn export(d: &Path, out: &str) -> u64 {
    let o = ok(&airseal(
        d,
        &["revocations", "export", "--out", out, "--force", "--json"],
    ));
    serde_json::from_str::<Value>(&o).unwrap()["seq"]
        .as_u64()
        .unwrap()
}

fn verify(d: &Path, license: &str, list: &str) -> Option<i32> {
    airseal(
        d,
        &[
            "verify",
            license,
            "--public-key",
            "keys/signing.pub",
            "--product",
            "photo",
            "--revocations",
            list,
        ],
    )
    .status
    .code()
}

#[test]
fn a_restored_older_ledger_never_reuses_a_list_number() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    init_vendor(d, "\n[products.photo]\n");
    ok(&airseal(
        d,
        &[
            "keys",
            "generate",
            "--product",
            "photo",
            "--count",
            "2",
            "--out",
            "k.txt",
        ],
    ));
    let text = std::fs::read_to_string(d.join("k.txt")).unwrap();
    let keys: Vec<&str> = text.lines().collect();
    for (key, out) in keys.iter().zip(["a.lic", "b.lic"]) {
        ok(&airseal(
            d,
            &[
                "issue",
                "--product",
                "photo",
                "--product-key",
                key,
                "--out",
                out,
            ],
        ));
    }
    export(d, "list0.txt");
    ok(&airseal(d, &["ledger", "backup", "--out", "l.bak"]));

    // Revoked after the backup; exported as list N.
    ok(&airseal(d, &["revoke", "--key", keys[0]]));
    let n = export(d, "list1.txt");
    assert_eq!(verify(d, "a.lic", "list1.txt"), Some(23));

    // The backup knows neither the revocation nor list N: the next list is still above N.
    ok(&airseal(d, &["ledger", "restore", "l.bak"]));
    let after_restore = export(d, "list2.txt");
    assert!(after_restore > n, "{after_restore} after {n}");
    // The verifier reads both lists as before (the restored ledger no longer revokes a.lic).
    assert_eq!(verify(d, "a.lic", "list2.txt"), Some(0));
    assert_eq!(verify(d, "b.lic", "list1.txt"), Some(0));

    // Lists exported before the folder recorded numbers: the replaced ledger's last list
    // is carried over by the restore.
    ok(&airseal(d, &["revoke", "--key", keys[1]]));
    let m = export(d, "list3.txt");
    std::fs::remove_file(d.join("revocations.seq")).unwrap();
    ok(&airseal(d, &["ledger", "restore", "l.bak"]));
    let carried = export(d, "list4.txt");
    assert!(carried > m, "{carried} after {m}");
    assert_eq!(verify(d, "b.lic", "list3.txt"), Some(23));
    assert_eq!(verify(d, "b.lic", "list4.txt"), Some(0));

    // A ledger lost without a backup and started again: the folder still remembers.
    std::fs::remove_file(d.join("ledger.sqlite3")).unwrap();
    std::fs::remove_file(d.join("ledger.id")).unwrap();
    ok(&airseal(d, &["init", "--vendor-id", "acme", "--force"]));
    let fresh = export(d, "list5.txt");
    assert!(fresh > carried, "{fresh} after {carried}");
}
