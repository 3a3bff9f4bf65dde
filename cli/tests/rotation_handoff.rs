//! README "Rotating and revoking issuing keys", step 2, through the binary: the server gets
//! the vendor folder WITHOUT the root key and signs with an issuing key; the one ledger is
//! handed to the root's machine (`ledger backup`, `ledger restore`) for a revocation and a
//! new certificate, and back; nothing either side recorded is lost on the way.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use serde_json::Value;

mod common;
use common::{airseal, exits, init_vendor, ok};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn json(o: &std::process::Output) -> Value {
    serde_json::from_str(&ok(o)).unwrap()
}

/// The `signed_by` of every license the ledger of `dir` records, by license id.
fn signed_by(dir: &Path) -> Vec<(String, String)> {
    let rows = json(&airseal(dir, &["ledger", "licenses", "--json"]));
    let mut v: Vec<(String, String)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["license_id"].as_str().unwrap().to_string(),
                r["signed_by"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn the_one_ledger_goes_to_the_root_and_back_without_the_root_key_on_the_server() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let server = tmp.path().join("server");
    let usb = tmp.path().join("usb");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&usb).unwrap();
    init_vendor(&root, "\n[products.photo]\n");
    let k1 = json(&airseal(
        &root,
        &[
            "issuing-key",
            "create",
            "--out",
            "issuing/k1",
            "--days",
            "90",
            "--can",
            "licenses",
            "--json",
        ],
    ));
    let k1 = k1["kid"].as_str().unwrap().to_string();

    // Deploy: the folder without keys/signing.key; the server signs with k1 only.
    copy_dir(&root, &server);
    std::fs::remove_file(server.join("keys/signing.key")).unwrap();
    let issue = |dir: &Path, key: &str, out: &str| {
        ok(&airseal(
            dir,
            &[
                "issue",
                "--product",
                "photo",
                "--days",
                "30",
                "--issuing-key",
                key,
                "--out",
                out,
            ],
        ))
    };
    issue(&server, "issuing/k1", "a.lic");
    let handoff = usb.join("ledger.sqlite3");
    let handoff = handoff.to_str().unwrap();
    ok(&airseal(&server, &["ledger", "backup", "--out", handoff]));

    // The root's machine: what the server issued is there; revoke k1, certify k2, export.
    ok(&airseal(&root, &["ledger", "restore", handoff]));
    assert_eq!(signed_by(&root), signed_by(&server));
    ok(&airseal(&root, &["revoke", "--issuing-key", &k1]));
    let k2 = json(&airseal(
        &root,
        &[
            "issuing-key",
            "create",
            "--out",
            "issuing/k2",
            "--days",
            "90",
            "--can",
            "licenses",
            "--json",
        ],
    ));
    let list = usb.join("revocations.txt");
    let list = list.to_str().unwrap();
    ok(&airseal(
        &root,
        &["revocations", "export", "--root", "--out", list],
    ));
    ok(&airseal(
        &root,
        &["ledger", "backup", "--force", "--out", handoff],
    ));

    // Back on the server: the revocation and the new certificate came with the ledger.
    copy_dir(&root.join("issuing/k2"), &server.join("issuing/k2"));
    ok(&airseal(&server, &["ledger", "restore", handoff]));
    let listed = json(&airseal(&server, &["issuing-key", "list", "--json"]));
    let status = |kid: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["kid"] == kid)
            .map(|r| r["status"].as_str().unwrap().to_string())
    };
    assert_eq!(status(&k1).as_deref(), Some("revoked"), "{listed}");
    assert_eq!(
        status(k2["kid"].as_str().unwrap()).as_deref(),
        Some("active")
    );
    issue(&server, "issuing/k2", "b.lic");
    assert!(!server.join("keys/signing.key").exists());
    let by = signed_by(&server);
    assert_eq!(by.len(), 2, "{by:?}");
    assert!(by.iter().any(|(_, k)| *k == k1), "{by:?}");
    assert!(by.iter().any(|(_, k)| k == k2["kid"].as_str().unwrap()));

    // Apps with the root's list: k2's license verifies, k1's is refused.
    let verify = |lic: &str| {
        airseal(
            &server,
            &[
                "verify",
                lic,
                "--public-key",
                "keys/signing.pub",
                "--product",
                "photo",
                "--revocations",
                list,
            ],
        )
    };
    ok(&verify("b.lic"));
    exits(&verify("a.lic"), 34);
}
