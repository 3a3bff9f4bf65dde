//! `airseal renew` and installing its updates, through the binary (`SPEC.md` §15.8): two
//! machines activated with one key get one update each, with no request; each installs
//! only its own, only forward; suspended, revoked and ended keys are refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Output;

mod common;
use common::{airseal, exits, init_vendor, ok, stderr};

/// A vendor folder with product `photo-pro` (30-day subscriptions, 2 seats), one key, and
/// machines `m1` (`custom:id=one`) and `m2` (`custom:id=two`) activated with it on
/// 2026-01-01; the key is returned.
fn two_machines(d: &Path) -> String {
    init_vendor(
        d,
        "\n[products.photo-pro]\nactivation_template = \"pro\"\n\
         [products.photo-pro.templates.pro]\nkind = \"subscription\"\ndays = 30\n\
         max_activations = 2\n",
    );
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
    let key = csv
        .lines()
        .nth(1)
        .and_then(|l| l.split(',').next())
        .unwrap()
        .to_string();
    for (m, id) in [("m1", "one"), ("m2", "two")] {
        let component = format!("custom:id={id}");
        let req = format!("{m}.req");
        let resp = format!("{m}.resp");
        ok(&airseal(
            d,
            &[
                "request",
                "--product",
                "photo-pro",
                "--key",
                &key,
                "--data-dir",
                m,
                "--no-system-components",
                "--component",
                &component,
                "--out",
                &req,
                "--now",
                "2026-01-01",
            ],
        ));
        ok(&airseal(
            d,
            &["activate", &req, "--out", &resp, "--now", "2026-01-01"],
        ));
        ok(&install(d, &resp, m, "2026-01-01"));
    }
    key
}

fn install(d: &Path, file: &str, data: &str, now: &str) -> Output {
    airseal(
        d,
        &[
            "install",
            file,
            "--public-key",
            "keys/signing.pub",
            "--data-dir",
            data,
            "--now",
            now,
        ],
    )
}

fn verify_machine(d: &Path, data: &str, id: &str, now: &str) -> Output {
    let component = format!("custom:id={id}");
    airseal(
        d,
        &[
            "verify",
            "--machine",
            "--public-key",
            "keys/signing.pub",
            "--product",
            "photo-pro",
            "--data-dir",
            data,
            "--no-system-components",
            "--component",
            &component,
            "--now",
            now,
            "--json",
        ],
    )
}

/// The license id installed in `data`.
fn license_id(d: &Path, data: &str) -> String {
    let o = verify_machine(
        d,
        data,
        if data == "m1" { "one" } else { "two" },
        "2026-01-02",
    );
    let j: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    j["claims"]["sub"].as_str().unwrap().to_string()
}

fn renew(d: &Path, key: &str, now: &str, extra: &[&str]) -> Output {
    let mut args = vec!["renew", "--key", key, "--out-dir", "renewals", "--now", now];
    args.extend_from_slice(extra);
    airseal(d, &args)
}

#[test]
fn each_machine_installs_its_own_renewal_without_a_request() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let key = two_machines(d);
    let (id1, id2) = (license_id(d, "m1"), license_id(d, "m2"));

    let o = renew(d, &key, "2026-01-10", &["--json"]);
    let j: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(j["renewed"].as_array().unwrap().len(), 2, "{j}");
    // The key as the ledger stores it (canonical), however it was typed.
    assert_eq!(j["key"], key.replace('-', ""));
    // Anchored: the term ends 30 days after the first activation, whenever renewed.
    let first = 1_767_225_600; // 2026-01-01
    assert_eq!(j["term_end"], first + 30 * 86_400);
    let f1 = format!("renewals/{id1}.renewal.txt");
    let f2 = format!("renewals/{id2}.renewal.txt");
    assert!(d.join(&f1).exists() && d.join(&f2).exists());

    // m1 installs its own update with no request pending, and still verifies.
    assert!(!d.join("m1/pending.req").exists());
    let o = install(d, &f1, "m1", "2026-01-11");
    assert!(ok(&o).contains(&format!("INSTALLED license {id1}")));
    ok(&verify_machine(d, "m1", "one", "2026-01-11"));
    // m2's update on m1: bound to another machine and device key.
    let o = install(d, &f2, "m1", "2026-01-11");
    let code = o.status.code().unwrap();
    assert!(code == 18 || code == 27, "exit {code}: {}", stderr(&o));
    // The same update again, or the original response: not newer (exit 30).
    exits(&install(d, &f1, "m1", "2026-01-11"), 30);
    exits(&install(d, "m1.resp", "m1", "2026-01-11"), 30);
    // m2 installs its own.
    ok(&install(d, &f2, "m2", "2026-01-11"));

    // Nothing is overwritten without --force.
    let o = renew(d, &key, "2026-01-12", &[]);
    let err = stderr(exits_not_zero(&o));
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    // A later renewal replaces the first; the first cannot come back over it.
    let kept = std::fs::read(d.join(&f1)).unwrap();
    ok(&renew(d, &key, "2026-01-12", &["--force"]));
    ok(&install(d, &f1, "m1", "2026-01-13"));
    std::fs::write(d.join("old.txt"), kept).unwrap();
    exits(&install(d, "old.txt", "m1", "2026-01-13"), 30);

    // Recorded and audited: two renewals per seat.
    let o = airseal(
        d,
        &[
            "ledger",
            "audit",
            "--action",
            "license.renew",
            "--format",
            "json",
        ],
    );
    let rows: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 4, "{rows}");
    // Each update is a license of the seat's id: the activation and two renewals.
    let o = airseal(
        d,
        &["ledger", "licenses", "--license", &id1, "--format", "json"],
    );
    let rows: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 3, "{rows}");
}

#[track_caller]
fn exits_not_zero(o: &Output) -> &Output {
    assert_eq!(o.status.code(), Some(1), "{}", stderr(o));
    o
}

#[test]
fn renewal_is_refused_for_ended_and_revoked_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let key = two_machines(d);
    // The 30-day term ended on 2026-01-31 and was not extended.
    let err = stderr(exits_not_zero(&renew(d, &key, "2026-02-15", &[])));
    assert!(err.contains("ended") && err.contains("--extend"), "{err}");
    // Suspended: refused until reinstated.
    ok(&airseal(d, &["keys", "suspend", &key]));
    let err = stderr(exits_not_zero(&renew(d, &key, "2026-01-10", &[])));
    assert!(
        err.contains("suspended") && err.contains("reinstate"),
        "{err}"
    );
    ok(&airseal(d, &["keys", "reinstate", &key]));
    // Revoked.
    ok(&airseal(d, &["revoke", "--key", &key]));
    let err = stderr(exits_not_zero(&renew(d, &key, "2026-01-10", &[])));
    assert!(err.contains("revoked"), "{err}");
    assert!(!d.join("renewals").exists());
    // An unknown key.
    let err = stderr(exits_not_zero(&renew(d, "NOSUCH", "2026-01-10", &[])));
    assert!(err.contains("not in the ledger"), "{err}");
}

/// The vendor's day-to-day: the customer pays for another month after the term ended; the
/// key is extended and every machine gets the new end without sending a request, and an
/// extended feature set with it.
#[test]
fn an_extension_reaches_the_machines_through_a_renewal() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let key = two_machines(d);
    // On 2026-02-15 the term (to 2026-01-31) has ended: the machines refuse the license.
    exits(&verify_machine(d, "m1", "one", "2026-02-15"), 17);
    ok(&airseal(
        d,
        &[
            "keys",
            "update",
            &key,
            "--extend",
            "30",
            "--add-feature",
            "F2",
        ],
    ));
    let o = renew(d, &key, "2026-02-15", &["--json"]);
    let j: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    let first = 1_767_225_600; // 2026-01-01, the key's first activation
    assert_eq!(j["term_end"], first + 60 * 86_400, "{j}");
    for (m, id) in [("m1", "one"), ("m2", "two")] {
        let file = j["renewed"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["license_id"] == license_id_at(d, m))
            .unwrap()["file"]
            .as_str()
            .unwrap()
            .to_string();
        ok(&install(d, &file, m, "2026-02-15"));
        let o = verify_machine(d, m, id, "2026-02-15");
        let v: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
        assert_eq!(v["claims"]["exp"], first + 60 * 86_400);
        assert!(
            v["active_features"]
                .as_array()
                .unwrap()
                .contains(&serde_json::json!("F2")),
            "{v}"
        );
    }
}

/// The license id installed in `data`, read from the file (it may be expired).
fn license_id_at(d: &Path, data: &str) -> String {
    let o = airseal(d, &["inspect", &format!("{data}/license.lic"), "--json"]);
    let j: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    j["claims"]["sub"].as_str().unwrap().to_string()
}
