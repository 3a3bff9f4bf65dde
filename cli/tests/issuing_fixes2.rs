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
use common::{airseal, exits, fails, init_vendor, ok, ok_json};

const PRODUCTS: &str = "\n[products.photo]\n";

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
    ok_json(&create_raw(d, dir, can))
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

/// A vendor folder `v` and a copy `v2` of it, each having certified an issuing key (the same
/// serial, the same list range); the copy's kid.
fn copied_folders(t: &Path) -> (std::path::PathBuf, std::path::PathBuf, String) {
    let v = t.join("v");
    std::fs::create_dir(&v).unwrap();
    init_vendor(&v, PRODUCTS);
    create(&v, "issuing/base", "licenses");
    let v2 = t.join("v2");
    let cp = std::process::Command::new("cp")
        .args(["-a"])
        .arg(&v)
        .arg(&v2)
        .status()
        .unwrap();
    assert!(cp.success());
    let a = create(&v, "issuing/here", "licenses,revocations");
    let b = create(&v2, "issuing/fork", "licenses,revocations");
    assert_eq!(a["serial"], b["serial"], "{a} {b}");
    (v, v2, b["kid"].as_str().unwrap().to_string())
}

#[test]
fn a_certificate_whose_serial_is_taken_imports_and_is_revocable() {
    let t = tempfile::tempdir().unwrap();
    let (v, v2, fork) = copied_folders(t.path());
    let fork_dir = v2.join("issuing/fork");
    let fork_dir = fork_dir.to_str().unwrap();
    // Unknown here: signing with it is refused (the vendor could not revoke it), and
    // revoking it says to import it.
    let e = fails(
        &airseal(
            &v,
            &[
                "issue",
                "--issuing-key",
                fork_dir,
                "--product",
                "photo",
                "--out",
                "a.lic",
            ],
        ),
        1,
    );
    assert!(e.contains(&fork) && e.contains("issuing-key import"), "{e}");
    assert!(!v.join("a.lic").exists());
    let e = fails(&airseal(&v, &["revoke", "--issuing-key", &fork]), 1);
    assert!(e.contains("issuing-key import"), "{e}");
    // Imported although its serial is taken; every command still works.
    ok(&airseal(&v, &["issuing-key", "import", fork_dir]));
    let list = ok_json(&airseal(&v, &["issuing-key", "list", "--json"]));
    assert!(list.to_string().contains(&fork), "{list}");
    ok(&airseal(&v, &["ledger", "keys"]));
    ok(&airseal(
        &v,
        &[
            "issue",
            "--issuing-key",
            fork_dir,
            "--product",
            "photo",
            "--out",
            "b.lic",
        ],
    ));
    ok(&airseal(&v, &["revoke", "--issuing-key", &fork]));
    ok(&airseal(
        &v,
        &["revocations", "export", "--root", "--out", "r.list"],
    ));
    ok(&airseal(&v, &["ledger", "keys"]));
}

#[test]
fn a_damaged_file_in_the_record_does_not_stop_every_command() {
    let t = vendor();
    let d = t.path();
    create(d, "issuing/k1", "licenses");
    let dir = d.join("issuing/ledger-independent/certificates");
    std::fs::write(dir.join("99-0000000000000000.cert"), "not a certificate").unwrap();
    ok(&airseal(d, &["ledger", "keys"]));
    ok(&airseal(
        d,
        &["issue", "--root", "--product", "photo", "--out", "a.lic"],
    ));
    let e = fails(
        &airseal(
            d,
            &[
                "issuing-key",
                "import",
                dir.join("99-0000000000000000.cert").to_str().unwrap(),
            ],
        ),
        10,
    );
    assert!(e.contains("99-0000000000000000.cert"), "{e}");
}

#[test]
fn the_list_revoking_a_key_outranks_every_list_key_certified_before() {
    let t = vendor();
    let d = t.path();
    let k1 = create(d, "k1", "licenses")["kid"]
        .as_str()
        .unwrap()
        .to_string();
    let k2 = create(d, "k2", "licenses,revocations");
    let k2_hi = k2["list_seq"][1]
        .as_u64()
        .or_else(|| k2["list_range"][1].as_u64())
        .unwrap_or_else(|| panic!("{k2}"));
    // k2 signs lists before anything is revoked.
    ok(&airseal(
        d,
        &[
            "revocations",
            "export",
            "--issuing-key",
            "k2",
            "--out",
            "a.list",
        ],
    ));
    ok(&airseal(d, &["revoke", "--issuing-key", &k1]));
    let root = ok_json(&airseal(
        d,
        &[
            "revocations",
            "export",
            "--root",
            "--out",
            "b.list",
            "--json",
        ],
    ));
    let seq = root["seq"].as_u64().unwrap();
    assert!(seq >= k2_hi, "root list {seq} below k2's range end {k2_hi}");
    // k2 can no longer sign a list apps would accept: the vendor says so.
    let e = fails(
        &airseal(
            d,
            &[
                "revocations",
                "export",
                "--issuing-key",
                "k2",
                "--out",
                "c.list",
            ],
        ),
        1,
    );
    assert!(e.contains("certify a new list-signing"), "{e}");
    assert!(!d.join("c.list").exists());
    // A list key certified after it signs again.
    create(d, "k3", "licenses,revocations");
    ok(&airseal(
        d,
        &[
            "revocations",
            "export",
            "--issuing-key",
            "k3",
            "--out",
            "d.list",
        ],
    ));
}

#[test]
fn keys_inspect_says_a_revoked_issuing_keys_signed_key_is_revoked() {
    let t = vendor();
    let d = t.path();
    let k = create(d, "sk", "signed-keys")["kid"]
        .as_str()
        .unwrap()
        .to_string();
    ok(&airseal(
        d,
        &[
            "keys",
            "generate",
            "--product",
            "photo",
            "--kind",
            "signed",
            "--count",
            "1",
            "--issuing-key",
            "sk",
            "--out",
            "s.txt",
        ],
    ));
    let key = std::fs::read_to_string(d.join("s.txt")).unwrap();
    let key = key.lines().next().unwrap().to_string();
    ok(&airseal(d, &["keys", "inspect", &key]));
    ok(&airseal(d, &["revoke", "--issuing-key", &k]));
    let o = airseal(d, &["keys", "inspect", &key, "--json"]);
    exits(&o, 34);
    let info: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(info["class"], "issuing_key_revoked", "{info}");
    assert!(info["reason"].as_str().unwrap().contains(&k), "{info}");
}

#[test]
fn a_damaged_revoked_record_names_itself_not_the_ledger() {
    let t = vendor();
    let d = t.path();
    create(d, "issuing/k1", "licenses");
    let revoked = d.join("issuing/ledger-independent/revoked");
    std::fs::write(&revoked, "garbage\n").unwrap();
    let e = fails(&airseal(d, &["ledger", "keys"]), 1);
    assert!(e.contains("ledger-independent/revoked"), "{e}");
    assert!(!e.contains("ledger.sqlite3"), "{e}");
    assert!(e.contains("not the ledger"), "{e}");
}
