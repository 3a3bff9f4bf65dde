//! Issuing keys through the binary, the second hostile walkthrough's defects (`SPEC.md`
//! §18.4, §18.6–§18.10): an issuing key's folder never lands among the root key or the
//! vendor's records; a certificate whose serial another folder also used imports and is
//! revocable; `keys inspect` judges a signed key by the ledger's revocations; once the root
//! revokes an issuing key, no list key certified before can outrank its list.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Output;

use serde_json::Value;

mod common;
use common::{airseal, exits, init_vendor, ok, stderr};

const PRODUCTS: &str = "\n[products.photo]\n";

/// Asserts the command exited with `code`; its standard error.
#[track_caller]
fn fails(o: &Output, code: i32) -> String {
    exits(o, code);
    stderr(o)
}

fn json(o: &Output) -> Value {
    serde_json::from_str(&ok(o)).unwrap()
}

/// `issuing-key create` into `dir` (a path relative to `d`); the command's output.
fn create_raw(d: &Path, dir: &str, can: &str) -> Output {
    airseal(
        d,
        &[
            "issuing-key",
            "create",
            "--out",
            dir,
            "--days",
            "30",
            "--can",
            can,
            "--json",
        ],
    )
}

fn create(d: &Path, dir: &str, can: &str) -> Value {
    json(&create_raw(d, dir, can))
}

fn vendor() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    init_vendor(t.path(), PRODUCTS);
    t
}

#[test]
fn an_issuing_key_folder_never_lands_with_the_root_or_the_records() {
    let t = vendor();
    let d = t.path();
    // Make the record folder exist first.
    create(d, "issuing/first", "licenses");
    for out in [
        "keys",
        ".",
        "issuing/ledger-independent",
        "issuing/ledger-independent/x",
        "issuing",
        "keys/sub",
        "..",
    ] {
        let err = fails(&create_raw(d, out, "licenses"), 2);
        assert!(err.contains("cannot hold an issuing key"), "{out}: {err}");
        assert!(err.contains("--out"), "{out}: {err}");
    }
    assert!(!d.join("keys/issuing.key").exists());
    assert!(!d.join("issuing.key").exists());
    assert!(!d.join("issuing/issuing.key").exists());
    // A folder of its own inside the vendor folder is fine.
    create(d, "issuing/second", "licenses");
    assert!(d.join("issuing/second/issuing.key").exists());
}
