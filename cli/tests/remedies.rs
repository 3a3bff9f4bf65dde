//! The remedy text ("pass --force", "say which with --map …") is the CLI's to give: the
//! libraries name the failure and carry data (crates/airseal-vendor/tests/no_cli_words.rs),
//! and cli/src/error.rs adds the flag or command that fixes it. These tests check that each
//! refusal still tells the user what to do, through the binary.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

mod common;
use common::{airseal, ok, stderr};

/// Runs `args` in `dir`, expects exit 1, and returns standard error.
#[track_caller]
fn refused(dir: &Path, args: &[&str]) -> String {
    let o = airseal(dir, args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    err
}

fn vendor_with_product(extra: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    ok(&airseal(tmp.path(), &["init", "--vendor-id", "acme"]));
    let mut cfg = std::fs::read_to_string(tmp.path().join("airseal.toml")).unwrap();
    cfg.push_str("\n[products.photo-pro]\n");
    cfg.push_str(extra);
    std::fs::write(tmp.path().join("airseal.toml"), cfg).unwrap();
    tmp
}

#[test]
fn no_vendor_folder_names_init_and_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let generate = [
        "keys",
        "generate",
        "--product",
        "p",
        "--count",
        "1",
        "--out",
        "k.csv",
    ];
    let err = refused(tmp.path(), &generate);
    assert!(
        err.contains("airseal init")
            && err.contains("--vendor DIR")
            && err.contains("AIRSEAL_VENDOR"),
        "{err}"
    );
    let mut named = generate.to_vec();
    named.extend(["--vendor", "nowhere"]);
    let err = refused(tmp.path(), &named);
    assert!(
        err.contains("`airseal init ") && err.contains("nowhere`"),
        "{err}"
    );
}

#[test]
fn refusals_to_overwrite_name_force() {
    let v = vendor_with_product("");
    let d = v.path();
    let err = refused(d, &["init", "--vendor-id", "acme"]);
    assert!(
        err.contains("pass --force to create only what is missing"),
        "{err}"
    );
    let generate = [
        "keys",
        "generate",
        "--product",
        "photo-pro",
        "--count",
        "1",
        "--out",
        "k.csv",
    ];
    ok(&airseal(d, &generate));
    let err = refused(d, &generate);
    assert!(err.contains("k.csv already exists; pass --force"), "{err}");
}

#[test]
fn a_weak_pattern_names_allow_weak() {
    let v = vendor_with_product("");
    let err = refused(
        v.path(),
        &[
            "keys",
            "generate",
            "--product",
            "photo-pro",
            "--count",
            "1",
            "--pattern",
            "XXXX-XXXX",
            "--out",
            "k.csv",
        ],
    );
    assert!(
        err.contains("fewer than 80") && err.contains("--allow-weak"),
        "{err}"
    );
}

#[test]
fn a_missing_key_column_names_map() {
    let v = vendor_with_product("");
    std::fs::write(v.path().join("x.csv"), "Serial,Email\nA1,a@example.com\n").unwrap();
    let err = refused(
        v.path(),
        &[
            "import",
            "--from",
            "generic",
            "x.csv",
            "--product",
            "photo-pro",
        ],
    );
    assert!(err.contains("--map 'COLUMN=key'"), "{err}");
}

#[test]
fn a_key_without_template_names_the_ways_to_give_one() {
    let v = vendor_with_product("");
    let d = v.path();
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
    ok(&airseal(
        d,
        &[
            "request",
            "--product",
            "photo-pro",
            "--key",
            key,
            "--data-dir",
            "m",
            "--no-system-components",
            "--component",
            "custom:id=1",
            "--out",
            "req.txt",
        ],
    ));
    let err = refused(d, &["activate", "req.txt", "--out", "resp.txt"]);
    assert!(
        err.contains("activation_template") && err.contains("--template"),
        "{err}"
    );
}
