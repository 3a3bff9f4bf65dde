//! `--json` on every command that prints a result: one JSON document on standard output,
//! with the fields README's "JSON output" section lists.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use common::{MACHINE_A, airseal, init_vendor, ok, stderr};
use serde_json::Value;

/// Runs `airseal ARGS` (which must succeed) and parses its whole standard output as one
/// JSON document.
#[track_caller]
fn json(d: &Path, args: &[&str]) -> Value {
    let o = airseal(d, args);
    let out = ok(&o);
    serde_json::from_str(&out).unwrap_or_else(|e| {
        panic!(
            "{args:?}: not one JSON document ({e}): {out:?}; stderr {}",
            stderr(&o)
        )
    })
}

fn on_machine<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut all = args.to_vec();
    all.extend(MACHINE_A);
    all
}

#[test]
fn every_command_that_prints_a_result_prints_json() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    init_vendor(
        d,
        "\n[products.photo-pro]\nactivation_template = \"pro\"\n\
         [products.photo-pro.templates.pro]\nkind = \"subscription\"\ndays = 365\n\
         max_activations = 2\n",
    );

    let k = json(d, &["keygen", "--out", "other-keys", "--json"]);
    assert_eq!(k["key_id"].as_str().unwrap().len(), 16, "{k}");
    assert!(k["public_key"].as_str().unwrap().ends_with("signing.pub"));
    assert!(d.join("other-keys/signing.key").exists());

    let g = json(
        d,
        &[
            "keys",
            "generate",
            "--product",
            "photo-pro",
            "--count",
            "3",
            "--out",
            "k.csv",
            "--json",
        ],
    );
    assert_eq!(g["keys"], 3, "{g}");
    assert_eq!(g["product"], "photo-pro");
    assert!(g["batch"].is_i64());
    let key = std::fs::read_to_string(d.join("k.csv")).unwrap();
    let key = key.lines().nth(1).unwrap().split(',').next().unwrap();

    let r = json(d, &["keys", "recover", "--json"]);
    assert_eq!(r["recovered_batches"], serde_json::json!([]), "{r}");
    assert_eq!(
        (
            r["leftovers_removed"].as_u64(),
            r["leftover_bytes"].as_u64()
        ),
        (Some(0), Some(0))
    );
    let b = json(d, &["ledger", "backup", "--out", "l.bak", "--json"]);
    assert_eq!(b["result"], "backup", "{b}");
    assert_eq!(
        b["bytes"].as_u64(),
        Some(std::fs::metadata(d.join("l.bak")).unwrap().len())
    );
    assert_eq!(b["identity"].as_str().map(str::len), Some(32), "{b}");
    assert!(
        b["schema_version"].is_u64() && b["audited"].is_boolean(),
        "{b}"
    );
    let r = json(d, &["ledger", "restore", "l.bak", "--json"]);
    assert_eq!(r["result"], "restored", "{r}");
    assert_eq!(r["identity"], b["identity"]);
    assert_eq!(r["replaced_identity"], b["identity"]);
    assert!(
        r["kept_aside"]
            .as_str()
            .unwrap()
            .contains("ledger.sqlite3.replaced-"),
        "{r}"
    );
    assert_eq!(r["backup_schema_version"], b["schema_version"]);
    assert!(r["from"].is_string() && r["ledger"].is_string(), "{r}");

    let i = json(
        d,
        &[
            "issue",
            "--product",
            "photo-pro",
            "--licensee-email",
            "jane@example.com",
            "--days",
            "30",
            "--out",
            "jane.lic",
            "--json",
        ],
    );
    let license_id = i["license_id"].as_str().unwrap().to_string();
    assert_eq!(i["product"], "photo-pro", "{i}");
    assert_eq!(i["out"], "jane.lic");
    assert_eq!(i["claims"]["licensee"]["email"], "jane@example.com");
    // --json with the license itself on standard output would be two documents: refused.
    let both = airseal(
        d,
        &["issue", "--product", "photo-pro", "--out", "-", "--json"],
    );
    assert_eq!(both.status.code(), Some(2), "{}", stderr(&both));

    let v = json(
        d,
        &[
            "verify",
            "jane.lic",
            "--public-key",
            "keys/signing.pub",
            "--product",
            "photo-pro",
            "--json",
        ],
    );
    assert_eq!(v["valid"], true, "{v}");
    let v = json(d, &["inspect", "jane.lic", "--json"]);
    assert_eq!(v["verified"], false, "{v}");

    let r = json(
        d,
        &on_machine(&[
            "request",
            "--product",
            "photo-pro",
            "--key",
            key,
            "--out",
            "a.req",
            "--json",
        ]),
    );
    assert_eq!(r["purpose"], "activation", "{r}");
    assert_eq!(r["components"], 2);
    assert_eq!(r["out"], "a.req");

    let a = json(d, &["activate", "a.req", "--out", "a.resp", "--json"]);
    assert_eq!(a["result"], "activated", "{a}");

    let inst = json(
        d,
        &[
            "install",
            "a.resp",
            "--public-key",
            "keys/signing.pub",
            "--data-dir",
            "machine-a",
            "--json",
        ],
    );
    assert_eq!(inst["installed"], true, "{inst}");
    assert_eq!(inst["product"], "photo-pro");
    assert_eq!(inst["license_id"], a["license_id"]);

    let rel = json(
        d,
        &[
            "release",
            "--data-dir",
            "machine-a",
            "--out",
            "a.proof",
            "--json",
        ],
    );
    assert_eq!(rel["released"], true, "{rel}");
    assert_eq!(rel["out"], "a.proof");
    let de = json(d, &["deactivate", "a.proof", "--json"]);
    assert_eq!(de["result"], "deactivated", "{de}");

    let rv = json(d, &["revoke", "--license", &license_id, "--json"]);
    assert_eq!(rv["revoked"]["license"], license_id.as_str(), "{rv}");
    assert_eq!(rv["new"], true);
    let x = json(
        d,
        &["revocations", "export", "--out", "revoked.txt", "--json"],
    );
    assert_eq!(x["seq"], 1, "{x}");
    // jane.lic, revoked by id, and the license of the seat just deactivated.
    assert_eq!(x["licenses"], 2);
    assert_eq!(x["out"], "revoked.txt");

    let ki = json(d, &["keys", "inspect", key, "--json"]);
    assert_eq!(ki["status"], "valid", "{ki}");

    // An import, with its report, then a license for every imported key.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/airseal-vendor/tests/fixtures/import/cryptlex-v2.csv");
    let o = airseal(
        d,
        &[
            "import",
            "--from",
            "cryptlex-v2",
            fixture.to_str().unwrap(),
            "--product",
            "photo-pro",
            "--template",
            "pro",
            "--json",
        ],
    );
    // (The fixture has rejected rows; whatever the exit code says about them, the report
    // is one JSON document.)
    let im: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {o:?}"));
    let batch = im["batch"].as_i64().unwrap_or_else(|| panic!("{im}"));
    let b = json(
        d,
        &[
            "issue",
            "--batch",
            "--from-import",
            &batch.to_string(),
            "--out-dir",
            "licenses",
            "--json",
        ],
    );
    assert_eq!(b["import_batch"], batch, "{b}");
    assert!(b["issued"].as_u64().unwrap() >= 1, "{b}");
    assert_eq!(b["out_dir"], "licenses");

    // Listings: `--json` is `--format json`, one array.
    let keys = json(d, &["ledger", "keys", "--json"]);
    assert!(keys.as_array().unwrap().len() > 3, "{keys}");
    let lic = json(d, &["ledger", "licenses", "--json"]);
    assert!(lic.as_array().unwrap().len() >= 2, "{lic}");
    let audit = json(d, &["ledger", "audit", "--json"]);
    assert!(!audit.as_array().unwrap().is_empty());
}
