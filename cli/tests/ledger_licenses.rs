//! `airseal ledger licenses` end to end: a license from `issue`, the licenses of
//! `issue --batch --from-import`, and activation responses (first issue and re-issue on the
//! same seat) are all listed with their source, searchable, and exportable; `issue` with
//! only `--key` and no vendor folder records nothing and still succeeds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Output;

use serde_json::Value;

mod common;
use common::{airseal, exits, init_vendor, ok};

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/airseal-vendor/tests/fixtures/import")
        .join(name)
        .display()
        .to_string()
}

/// `airseal ledger licenses ARGS --format json`, parsed.
fn licenses(dir: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["ledger", "licenses"];
    all.extend(args);
    all.extend(["--format", "json"]);
    let out = ok(&airseal(dir, &all));
    let v: Value = serde_json::from_str(&out).unwrap();
    v.as_array().unwrap().clone()
}

/// A simulated machine (`--no-system-components`), so the test never depends on the host.
const MACHINE: [&str; 9] = [
    "--data-dir",
    "machine-a",
    "--no-system-components",
    "--component",
    "machine-id=a1",
    "--component",
    "mac=aa:aa:aa:aa:aa:01",
    "--component",
    "root-disk=disk-a",
];

fn on_machine(dir: &Path, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend(MACHINE);
    airseal(dir, &all)
}

#[test]
fn issue_batch_and_activation_licenses_are_listed_with_their_sources() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    init_vendor(
        d,
        "\n[products.photo-pro]\nactivation_template = \"pro\"\n\
         [products.photo-pro.templates.pro]\nkind = \"subscription\"\ndays = 365\n\
         max_activations = 1\n\
         [products.photo-pro.templates.imported]\nkind = \"subscription\"\ngrace_days = 7\n",
    );
    ok(&airseal(
        d,
        &[
            "keys",
            "generate",
            "--product",
            "photo-pro",
            "--count",
            "2",
            "--out",
            "keys.csv",
        ],
    ));
    let csv = std::fs::read_to_string(d.join("keys.csv")).unwrap();
    let keys: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();

    // 1. One license by hand, in the vendor folder: recorded.
    let issued = airseal(
        d,
        &[
            "issue",
            "--product",
            "photo-pro",
            "--product-key",
            keys[0],
            "--licensee-email",
            "Jane@Example.com",
            "--licensee-name",
            "Jane Doe",
            "--days",
            "30",
            "--out",
            "jane.lic",
        ],
    );
    ok(&issued);
    let said = String::from_utf8_lossy(&issued.stderr).into_owned();
    let jane_id = said
        .split_whitespace()
        .nth(2)
        .unwrap_or_default()
        .to_string();
    assert!(said.starts_with("issued license "), "{said}");

    // …and with only --key, outside any vendor folder: signed, nothing recorded.
    let elsewhere = tempfile::tempdir().unwrap();
    let key_file = d.join("keys/signing.key").display().to_string();
    ok(&airseal(
        elsewhere.path(),
        &[
            "issue",
            "--key",
            &key_file,
            "--product",
            "photo-pro",
            "--out",
            "loose.lic",
        ],
    ));
    assert!(elsewhere.path().join("loose.lic").exists());
    assert!(!elsewhere.path().join("ledger.sqlite3").exists());

    // 2. An import and its licenses (the fixture has rejected rows: exit 4).
    let out = exits(
        &airseal(
            d,
            &[
                "import",
                "--from",
                "cryptlex-v2",
                &fixture("cryptlex-v2.csv"),
                "--product",
                "photo-pro",
                "--template",
                "imported",
            ],
        ),
        4,
    );
    let batch: i64 = out
        .split("--from-import ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    let batch_arg = batch.to_string();
    ok(&airseal(
        d,
        &[
            "issue",
            "--batch",
            "--from-import",
            &batch_arg,
            "--out-dir",
            "licenses",
        ],
    ));
    let index = std::fs::read_to_string(d.join("licenses/index.csv")).unwrap();

    // 3. An activation, then the same machine asking again (a re-issue on its seat).
    for (req, resp) in [("a.req", "a.resp"), ("a2.req", "a2.resp")] {
        ok(&on_machine(
            d,
            &[
                "request",
                "--product",
                "photo-pro",
                "--key",
                keys[1],
                "--out",
                req,
            ],
        ));
        ok(&airseal(d, &["activate", req, "--out", resp]));
    }
    ok(&airseal(
        d,
        &[
            "install",
            "a2.resp",
            "--public-key",
            "keys/signing.pub",
            "--data-dir",
            "machine-a",
        ],
    ));
    // A refused activation (the key's one seat is taken) records nothing.
    let other = [
        "--data-dir",
        "machine-b",
        "--no-system-components",
        "--component",
        "machine-id=b1",
    ];
    let mut req = vec![
        "request",
        "--product",
        "photo-pro",
        "--key",
        keys[1],
        "--out",
        "b.req",
    ];
    req.extend(other);
    ok(&airseal(d, &req));
    assert_ne!(
        airseal(d, &["activate", "b.req", "--out", "b.resp"])
            .status
            .code(),
        Some(0)
    );

    // Everything, in the order it was signed, with its source.
    let all = licenses(d, &[]);
    let sources: Vec<&str> = all.iter().map(|r| r["source"].as_str().unwrap()).collect();
    assert_eq!(
        sources,
        [
            "issue",
            "batch",
            "batch",
            "batch",
            "batch",
            "activation",
            "activation"
        ],
        "{all:#?}"
    );
    let jane = &all[0];
    assert_eq!(jane["license_id"], jane_id.as_str());
    // Typed with dashes, written as the ledger stores the key (SPEC §17.3).
    assert_eq!(jane["key"], keys[0].replace('-', ""));
    assert_eq!(jane["email"], "Jane@Example.com");
    assert_eq!(jane["name"], "Jane Doe");
    // Issued with an expiry and no kind: a subscription (SPEC §17.3).
    assert_eq!(jane["kind"], "subscription");
    assert!(jane["expires_at"].is_string());
    assert!(jane["batch"].is_null() && jane["activation"].is_null());
    for row in &all[1..5] {
        assert_eq!(row["batch"], batch);
        // Each one is in the batch's index.csv under its license id.
        let id = row["license_id"].as_str().unwrap();
        assert!(index.contains(id), "{id} not in {index}");
    }
    // The response and its re-issue: one license id, one seat, two documents.
    let (first, again) = (&all[5], &all[6]);
    assert_eq!(first["license_id"], again["license_id"]);
    assert_eq!(first["activation"], again["activation"]);
    assert_ne!(first["token_id"], again["token_id"]);
    assert_eq!(first["kind"], "subscription");

    // Searches.
    let one = licenses(d, &["--license", &jane_id]);
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["source"], "issue");
    let seat_id = first["license_id"].as_str().unwrap();
    assert_eq!(licenses(d, &["--license", seat_id]).len(), 2);
    assert_eq!(licenses(d, &["--source", "batch"]).len(), 4);
    assert_eq!(licenses(d, &["--email", "jane@example"]).len(), 2);
    let imported = licenses(d, &["--key", "8f3a1c-6b2d9e-04c7f1-a95b3d"]);
    assert_eq!(imported.len(), 1, "an imported key, typed in lower case");
    let typed = keys[0].to_lowercase().replace('-', "");
    let generated = licenses(d, &["--key", &typed]);
    assert_eq!(
        generated.len(),
        1,
        "a generated key, typed without separators"
    );
    assert_eq!(imported[0]["key"], "8F3A1C-6B2D9E-04C7F1-A95B3D");
    assert_eq!(licenses(d, &["--limit", "3"]).len(), 3);
    assert!(
        !airseal(d, &["ledger", "licenses", "--source", "import"])
            .status
            .success()
    );

    // Export: CSV to a file, never over an existing one without --force.
    ok(&airseal(
        d,
        &[
            "ledger", "licenses", "--source", "issue", "--format", "csv", "--out", "l.csv",
        ],
    ));
    let csv = std::fs::read_to_string(d.join("l.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "license_id,source,product,key,kind,email,name,issued_at,expires_at,activation,\
         batch,signed_by,token_id"
    );
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with(&format!("{jane_id},issue,"))
    );
    assert!(
        !airseal(d, &["ledger", "licenses", "--out", "l.csv"])
            .status
            .success()
    );
    let table = ok(&airseal(d, &["ledger", "licenses"]));
    assert!(table.contains("(7 rows)"), "{table}");
    assert!(!table.contains("token_id"), "{table}");

    // The audit log has the single issue and the batch, with what it recorded.
    let audit: Value = serde_json::from_str(&ok(&airseal(
        d,
        &[
            "ledger", "audit", "--action", "license.", "--format", "json",
        ],
    )))
    .unwrap();
    let audit = audit.as_array().unwrap();
    assert_eq!(audit.len(), 2, "{audit:#?}");
    assert_eq!(audit[0]["action"], "license.issue_batch");
    assert_eq!(audit[0]["detail"]["recorded"], 4);
    assert_eq!(audit[1]["action"], "license.issue");
    assert_eq!(audit[1]["subject"], jane_id.as_str());
}
