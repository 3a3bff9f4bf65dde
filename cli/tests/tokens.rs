//! `airseal tokens`: a token is printed once, only its hash is kept, `list` never shows
//! one, and `revoke` is recorded. (The service's use of tokens is tested in `serve_admin.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{airseal, fails, init_vendor, ok, ok_json};

fn vendor() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    init_vendor(tmp.path(), "");
    tmp
}

/// Every byte of every file in the vendor folder, as text (lossy).
fn folder_text(dir: &std::path::Path) -> String {
    let mut out = String::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            out.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
        }
    }
    out
}

#[test]
fn a_token_is_printed_once_and_never_listed_or_stored() {
    let tmp = vendor();
    let d = tmp.path();
    let o = airseal(
        d,
        &["tokens", "create", "--scope", "admin", "--name", "store"],
    );
    let text = ok(&o);
    let token = text.trim();
    let secret = token.rsplit('_').next().unwrap();
    assert!(token.starts_with("airseal_admin_"), "{token}");
    assert_eq!(secret.len(), 52, "{token}");
    assert!(common::stderr(&o).contains("only this once"));
    let made = ok_json(&airseal(
        d,
        &[
            "tokens",
            "create",
            "--scope",
            "portal",
            "--name",
            "kiosk",
            "--expires",
            "2999-01-31",
            "--json",
        ],
    ));
    assert_eq!(made["scope"], "portal");
    assert_eq!(made["expires"], "2999-02-01T00:00:00Z");
    let portal = made["token"].as_str().unwrap();
    assert!(portal.starts_with(&format!("airseal_portal_{}_", made["id"].as_str().unwrap())));

    for json in [false, true] {
        let mut args = vec!["tokens", "list"];
        if json {
            args.push("--json");
        }
        let listing = ok(&airseal(d, &args));
        assert!(
            listing.contains("store") && listing.contains("kiosk"),
            "{listing}"
        );
        assert!(
            !listing.contains(secret) && !listing.contains(portal),
            "{listing}"
        );
    }
    let list = ok_json(&airseal(d, &["tokens", "list", "--json"]));
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|t| t.get("token").is_none())
    );
    // Neither the ledger nor its audit log holds a token (the WAL is checkpointed when the
    // last connection closes).
    let stored = folder_text(d);
    assert!(!stored.contains(secret) && !stored.contains(portal));
    let audit = ok(&airseal(
        d,
        &["ledger", "audit", "--action", "token.", "--format", "json"],
    ));
    assert!(audit.contains("token.create") && !audit.contains(secret));
}

#[test]
fn revoking_is_recorded_and_names_are_never_reused() {
    let tmp = vendor();
    let d = tmp.path();
    ok(&airseal(
        d,
        &["tokens", "create", "--scope", "admin", "--name", "store"],
    ));
    let revoked = ok_json(&airseal(d, &["tokens", "revoke", "store", "--json"]));
    assert_eq!(revoked["name"], "store");
    assert!(revoked["revoked"].is_string());
    let err = fails(&airseal(d, &["tokens", "revoke", "store"]), 1);
    assert!(err.contains("already revoked"), "{err}");
    let err = fails(&airseal(d, &["tokens", "revoke", "nobody"]), 1);
    assert!(err.contains("tokens list"), "{err}");
    let err = fails(
        &airseal(
            d,
            &["tokens", "create", "--scope", "admin", "--name", "store"],
        ),
        1,
    );
    assert!(err.contains("never reused"), "{err}");
    let err = fails(
        &airseal(
            d,
            &["tokens", "create", "--scope", "admin", "--name", "a b"],
        ),
        1,
    );
    assert!(err.contains("not a token name"), "{err}");
    let err = fails(
        &airseal(
            d,
            &[
                "tokens",
                "create",
                "--scope",
                "admin",
                "--name",
                "x",
                "--expires",
                "2001-01-01",
            ],
        ),
        1,
    );
    assert!(err.contains("--expires"), "{err}");
    let err = fails(
        &airseal(
            d,
            &[
                "tokens",
                "create",
                "--scope",
                "admin",
                "--name",
                "x",
                "--expires",
                "soon",
            ],
        ),
        1,
    );
    assert!(
        err.starts_with("error: --expires:") || err.contains("--expires: "),
        "{err}"
    );
    let audit = ok(&airseal(
        d,
        &[
            "ledger",
            "audit",
            "--action",
            "token.revoke",
            "--format",
            "json",
        ],
    ));
    assert!(audit.contains("\"store\""), "{audit}");
    fails(
        &airseal(d, &["tokens", "create", "--scope", "root", "--name", "y"]),
        2,
    );
}
