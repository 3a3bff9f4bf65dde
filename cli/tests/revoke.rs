//! `airseal revoke` and `airseal revocations export` through the binary (`SPEC.md` §13,
//! §17.4): a revoked key's licenses are refused whatever spelling of the key they carry;
//! revoke refuses what the ledger does not know and never lowers a cutoff; `--undo` is the
//! explicit way back; the key's status follows; a freed seat's license is listed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use serde_json::Value;

mod common;
use common::{MACHINE_A, airseal, exits, init_vendor, ok, stderr};

/// A vendor folder with product `photo-pro` (activation template `pro`), `n` generated keys
/// (display form) and two imported keys, `ABCD-1234-EFGH` and `KG/KEY,1`.
fn vendor(n: usize) -> (tempfile::TempDir, Vec<String>) {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    init_vendor(
        d,
        "\n[products.photo-pro]\nactivation_template = \"pro\"\n\
         [products.photo-pro.templates.pro]\nkind = \"subscription\"\ndays = 365\n\
         max_activations = 2\n",
    );
    let count = n.to_string();
    ok(&airseal(
        d,
        &[
            "keys",
            "generate",
            "--product",
            "photo-pro",
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
    std::fs::write(
        d.join("old.csv"),
        "key,email\nABCD-1234-EFGH,a@example.com\n\"KG/KEY,1\",b@example.com\n",
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
    (tmp, keys)
}

fn verify(d: &Path, license: &str, list: &str) -> i32 {
    let o = airseal(
        d,
        &[
            "verify",
            license,
            "--public-key",
            "keys/signing.pub",
            "--product",
            "photo-pro",
            "--revocations",
            list,
        ],
    );
    o.status.code().unwrap()
}

fn issue(d: &Path, product_key: &str, out: &str) {
    ok(&airseal(
        d,
        &[
            "issue",
            "--product",
            "photo-pro",
            "--product-key",
            product_key,
            "--out",
            out,
        ],
    ));
}

fn json(d: &Path, args: &[&str]) -> Value {
    serde_json::from_str(&ok(&airseal(d, args))).unwrap()
}

/// Finding 1: `revoke --key` in one spelling revokes licenses carrying any other spelling
/// of that key — typed with dashes, lower case, an imported key's own spelling — and those
/// the ledger never recorded (signed outside the vendor folder), but not another key's.
#[test]
fn revoking_a_key_revokes_every_spelling_of_it() {
    let (tmp, keys) = vendor(2);
    let d = tmp.path();
    let (key, other) = (&keys[0], &keys[1]);
    assert!(key.contains('-'), "{key}");
    issue(d, key, "dashes.lic");
    issue(d, &key.to_lowercase(), "lower.lic");
    issue(d, "abcd-1234-efgh", "imported.lic");
    issue(d, "KG/KEY,1", "kg.lic");
    issue(d, other, "other.lic");
    // Signed outside the vendor folder with the same signing key: nothing records it, so
    // only the key it carries (typed in lower case, with dashes) can revoke it.
    let outside = tempfile::tempdir().unwrap();
    let signing_key = d.join("keys/signing.key").display().to_string();
    ok(&airseal(
        outside.path(),
        &[
            "issue",
            "--key",
            &signing_key,
            "--product",
            "photo-pro",
            "--product-key",
            &key.to_lowercase(),
            "--no-ledger",
            "--out",
            "unrecorded.lic",
        ],
    ));
    std::fs::copy(
        outside.path().join("unrecorded.lic"),
        d.join("unrecorded.lic"),
    )
    .unwrap();

    // Each revoked in a spelling other than the one its licenses carry.
    ok(&airseal(d, &["revoke", "--key", &key.replace('-', "")]));
    ok(&airseal(d, &["revoke", "--key", "ABCD1234EFGH"]));
    ok(&airseal(d, &["revoke", "--key", "kg/key,1"]));
    ok(&airseal(d, &["revocations", "export", "--out", "list.txt"]));
    for revoked in [
        "dashes.lic",
        "lower.lic",
        "imported.lic",
        "kg.lic",
        "unrecorded.lic",
    ] {
        assert_eq!(verify(d, revoked, "list.txt"), 23, "{revoked}");
    }
    assert_eq!(
        verify(d, "other.lic", "list.txt"),
        0,
        "another key's license"
    );
}

/// Finding 1, second half: the list names the ids of every license the ledger recorded for
/// a revoked key, so an app with an older verifier (exact key comparison) refuses them too.
#[test]
fn a_revoked_keys_recorded_licenses_are_listed_by_id() {
    let (tmp, keys) = vendor(1);
    let d = tmp.path();
    issue(d, &keys[0], "a.lic");
    let id = json(d, &["inspect", "a.lic", "--json"])["claims"]["sub"]
        .as_str()
        .unwrap()
        .to_string();
    let revoked = json(d, &["revoke", "--key", &keys[0], "--json"]);
    let listed = &revoked["revoked"]["keys"][0];
    assert_eq!(listed["licenses"][0], id.as_str(), "{revoked}");
    assert_eq!(listed["from"], "active");
    let export = json(d, &["revocations", "export", "--out", "list.txt", "--json"]);
    assert_eq!(export["licenses"], 1, "{export}");
    assert_eq!(export["keys"], 1, "{export}");
}

/// Finding 5: unknown license ids, keys and products, and a cutoff in the future, are
/// refused; `--external` revokes an id issued elsewhere.
#[test]
fn revoke_refuses_what_the_ledger_does_not_know() {
    let (tmp, _) = vendor(1);
    let d = tmp.path();
    for (args, says) in [
        (&["revoke", "--license", "KDQ55VCSPJWEW"][..], "--external"),
        (&["revoke", "--key", "TOTALLY-NOT-A-KEY"][..], "no product"),
        (
            &[
                "revoke",
                "--product",
                "nosuch",
                "--issued-before",
                "2026-01-01",
            ][..],
            "nosuch",
        ),
        (
            &[
                "revoke",
                "--product",
                "photo-pro",
                "--issued-before",
                "9999-12-31",
            ][..],
            "in the future",
        ),
    ] {
        let o = airseal(d, args);
        exits(&o, 1);
        let err = stderr(&o);
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains('{') && !err.contains("Revok"), "{err}");
    }
    let out = ok(&airseal(
        d,
        &["revoke", "--license", "KDQ55VCSPJWEW", "--external"],
    ));
    assert!(out.contains("issued elsewhere"), "{out}");
    let export = json(d, &["revocations", "export", "--out", "list.txt", "--json"]);
    assert_eq!(export["licenses"], 1, "{export}");
    assert_eq!(export["min_issued_at"], 0, "{export}");
}

/// Finding 5: a later, lower cutoff is refused (it would un-revoke licenses); `--undo`
/// lowers or removes it explicitly, audited, and the next list has a higher sequence number.
#[test]
fn a_cutoff_only_rises_unless_undone() {
    let (tmp, _) = vendor(1);
    let d = tmp.path();
    let cutoff = |date: &str| {
        airseal(
            d,
            &[
                "revoke",
                "--product",
                "photo-pro",
                "--issued-before",
                date,
                "--json",
            ],
        )
    };
    let first = serde_json::from_str::<Value>(&ok(&cutoff("2025-06-01"))).unwrap();
    assert_eq!(first["revoked"]["issued_before"], "2025-06-01T00:00:00Z");
    let lower = cutoff("2025-01-01");
    exits(&lower, 1);
    assert!(
        stderr(&lower).contains("revoke --undo"),
        "{}",
        stderr(&lower)
    );
    ok(&cutoff("2025-09-01"));
    let seq = |name: &str| {
        json(d, &["revocations", "export", "--out", name, "--json"])["seq"]
            .as_u64()
            .unwrap()
    };
    let before = seq("list1.txt");
    let undone = json(
        d,
        &[
            "revoke",
            "--undo",
            "--product",
            "photo-pro",
            "--issued-before",
            "2025-01-01",
            "--reason",
            "too broad",
            "--json",
        ],
    );
    assert_eq!(undone["undone"]["issued_before"], "2025-01-01T00:00:00Z");
    assert_eq!(undone["undone"]["previous"], "2025-09-01T00:00:00Z");
    assert!(seq("list2.txt") > before);
    // Raising through --undo is refused; removing works, once.
    exits(
        &airseal(
            d,
            &[
                "revoke",
                "--undo",
                "--product",
                "photo-pro",
                "--issued-before",
                "2025-02-01",
            ],
        ),
        1,
    );
    ok(&airseal(d, &["revoke", "--undo", "--product", "photo-pro"]));
    let again = airseal(d, &["revoke", "--undo", "--product", "photo-pro"]);
    exits(&again, 1);
    assert!(stderr(&again).contains("not revoked"), "{}", stderr(&again));
    let audit = ok(&airseal(
        d,
        &["ledger", "audit", "--action", "revoke.undo", "--json"],
    ));
    assert!(audit.contains("too broad"), "{audit}");
}

/// Findings 5 and 6: after `revoke --key` the key reads as revoked everywhere
/// (`ledger keys`, `--status revoked`, `keys inspect`); `--undo` gives it back the status it
/// had, and its licenses verify again with the next list.
#[test]
fn a_revoked_key_says_so_and_undo_restores_it() {
    let (tmp, keys) = vendor(1);
    let d = tmp.path();
    let key = &keys[0];
    issue(d, key, "a.lic");
    let out = ok(&airseal(d, &["revoke", "--key", key, "--reason", "leaked"]));
    assert!(out.starts_with("revoked product key "), "{out}");
    assert!(!out.contains("Keys(") && !out.contains('{'), "{out}");
    let listed = ok(&airseal(d, &["ledger", "keys", "--status", "revoked"]));
    assert!(listed.contains(&key.replace('-', "")), "{listed}");
    let active = ok(&airseal(d, &["ledger", "keys", "--status", "active"]));
    assert!(!active.contains(&key.replace('-', "")), "{active}");
    // `keys inspect` says revoked, with a revoked license's exit code.
    let inspected = exits(&airseal(d, &["keys", "inspect", key, "--json"]), 23);
    assert!(inspected.contains("\"revoked\""), "{inspected}");
    // Revoking again changes nothing and says so.
    let again = ok(&airseal(d, &["revoke", "--key", key]));
    assert!(again.starts_with("already revoked"), "{again}");
    ok(&airseal(
        d,
        &["revocations", "export", "--out", "list1.txt"],
    ));
    assert_eq!(verify(d, "a.lic", "list1.txt"), 23);

    let undone = ok(&airseal(d, &["revoke", "--undo", "--key", key]));
    assert!(undone.contains("is active again"), "{undone}");
    let active = ok(&airseal(d, &["ledger", "keys", "--status", "active"]));
    assert!(active.contains(&key.replace('-', "")), "{active}");
    ok(&airseal(
        d,
        &["revocations", "export", "--out", "list2.txt"],
    ));
    assert_eq!(verify(d, "a.lic", "list2.txt"), 0);
    exits(&airseal(d, &["revoke", "--undo", "--key", key]), 1);
}

/// Finding 16: a seat the vendor frees (here a lost machine, by activation id) puts its
/// license in the next list, so the copy left on the old machine stops verifying there.
#[test]
fn a_deactivated_seats_license_is_in_the_next_list() {
    let (tmp, keys) = vendor(1);
    let d = tmp.path();
    let mut request = vec![
        "request",
        "--product",
        "photo-pro",
        "--key",
        keys[0].as_str(),
        "--out",
        "a.req",
    ];
    request.extend(MACHINE_A);
    ok(&airseal(d, &request));
    ok(&airseal(d, &["activate", "a.req", "--out", "a.resp"]));
    let mut install = vec![
        "install",
        "a.resp",
        "--public-key",
        "keys/signing.pub",
        "--product",
        "photo-pro",
    ];
    install.extend(&MACHINE_A[..2]);
    ok(&airseal(d, &install));
    let mut verify_machine = vec![
        "verify",
        "--machine",
        "--product",
        "photo-pro",
        "--public-key",
        "keys/signing.pub",
        "--revocations",
        "list.txt",
    ];
    verify_machine.extend(MACHINE_A);
    ok(&airseal(d, &["revocations", "export", "--out", "list.txt"]));
    ok(&airseal(d, &verify_machine));

    ok(&airseal(
        d,
        &[
            "deactivate",
            "--activation",
            "1",
            "--reason",
            "machine lost",
        ],
    ));
    ok(&airseal(
        d,
        &["revocations", "export", "--out", "list.txt", "--force"],
    ));
    exits(&airseal(d, &verify_machine), 23);
}

/// Finding 16, by proof: the machine releases its seat, the vendor accepts the proof, and a
/// copy of the machine's data folder taken before the release, put back afterwards, no
/// longer verifies with the next list.
#[test]
fn a_released_seats_license_is_in_the_next_list() {
    let (tmp, keys) = vendor(1);
    let d = tmp.path();
    let on_a = |args: &[&str]| {
        let mut v = args.to_vec();
        v.extend(MACHINE_A);
        airseal(d, &v)
    };
    ok(&on_a(&[
        "request",
        "--product",
        "photo-pro",
        "--key",
        &keys[0],
        "--out",
        "a.req",
    ]));
    ok(&airseal(d, &["activate", "a.req", "--out", "a.resp"]));
    ok(&airseal(
        d,
        &[
            "install",
            "a.resp",
            "--public-key",
            "keys/signing.pub",
            "--data-dir",
            "machine-a",
        ],
    ));
    let copy = d.join("machine-a-copy");
    std::fs::create_dir(&copy).unwrap();
    for entry in std::fs::read_dir(d.join("machine-a")).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
        }
    }
    ok(&airseal(
        d,
        &["release", "--data-dir", "machine-a", "--out", "a.proof"],
    ));
    ok(&airseal(d, &["deactivate", "a.proof"]));
    std::fs::remove_dir_all(d.join("machine-a")).unwrap();
    std::fs::rename(&copy, d.join("machine-a")).unwrap();
    ok(&airseal(d, &["revocations", "export", "--out", "list.txt"]));
    exits(
        &on_a(&[
            "verify",
            "--machine",
            "--product",
            "photo-pro",
            "--public-key",
            "keys/signing.pub",
            "--revocations",
            "list.txt",
        ]),
        23,
    );
}
