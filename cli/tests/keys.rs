//! `airseal init` and `airseal keys …` end to end, including a real kill mid-batch.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use airseal_vendor::ledger::Ledger;
use serde_json::Value;

mod common;
use common::{airseal, ok};

fn vendor() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    ok(&airseal(tmp.path(), &["init", "--vendor-id", "acme"]));
    let mut cfg = std::fs::read_to_string(tmp.path().join("airseal.toml")).unwrap();
    cfg.push_str("\n[products.photo-pro]\nkey_pattern = \"XXXXX-XXXXX-XXXXX-XXXXX\"\nskgl_secret = \"567\"\n");
    cfg.push_str("\n[products.acme-cad]\nkey_pattern = \"ACME-XXXXX-XXXXX-XXXXX-XXXX\"\n");
    std::fs::write(tmp.path().join("airseal.toml"), cfg).unwrap();
    tmp
}

fn keys_in(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().replace('-', ""))
        .collect()
}

#[test]
fn generate_and_inspect_each_kind_of_answer() {
    let v = vendor();
    let d = v.path();
    ok(&airseal(
        d,
        &[
            "keys",
            "generate",
            "--product",
            "photo-pro",
            "--count",
            "200",
            "--out",
            "k.csv",
        ],
    ));
    let keys = keys_in(&d.join("k.csv"));
    assert_eq!(keys.len(), 200);
    let shown = std::fs::read_to_string(d.join("k.csv"))
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_string();

    let j = |o: Output| -> (i32, Value) {
        (
            o.status.code().unwrap(),
            serde_json::from_slice(&o.stdout).unwrap(),
        )
    };
    let (c, v1) = j(airseal(
        d,
        &[
            "keys",
            "inspect",
            &shown.to_lowercase(),
            "--product",
            "photo-pro",
            "--json",
        ],
    ));
    assert_eq!((c, v1["status"].as_str()), (0, Some("valid")), "{v1}");
    assert_eq!(v1["batch"], 1);

    let mut typo = shown.clone().into_bytes();
    typo[3] = if typo[3] == b'A' { b'B' } else { b'A' };
    let (c, v2) = j(airseal(
        d,
        &[
            "keys",
            "inspect",
            std::str::from_utf8(&typo).unwrap(),
            "--product",
            "photo-pro",
            "--json",
        ],
    ));
    assert_eq!((c, v2["status"].as_str()), (20, Some("typo")), "{v2}");

    // A well-formed key the ledger never issued: make one with a valid check symbol.
    let pattern = airseal_core::productkey::Pattern::parse("XXXXX-XXXXX-XXXXX-XXXXX").unwrap();
    let mut fresh = Vec::new();
    pattern.fill((0..19).map(|i| (i * 7 % 32) as u8), &mut fresh);
    let fresh = pattern.display(std::str::from_utf8(&fresh).unwrap());
    let (c, v3) = j(airseal(
        d,
        &[
            "keys",
            "inspect",
            &fresh,
            "--product",
            "photo-pro",
            "--json",
        ],
    ));
    assert_eq!((c, v3["status"].as_str()), (1, Some("unknown")), "{v3}");

    let (c, v4) = j(airseal(
        d,
        &[
            "keys",
            "inspect",
            "HELLO",
            "--product",
            "photo-pro",
            "--json",
        ],
    ));
    assert_eq!((c, v4["status"].as_str()), (10, Some("malformed")), "{v4}");

    // A prefixed pattern.
    ok(&airseal(
        d,
        &[
            "keys",
            "generate",
            "--product",
            "acme-cad",
            "--count",
            "3",
            "--out",
            "cad.txt",
        ],
    ));
    let cad = std::fs::read_to_string(d.join("cad.txt")).unwrap();
    assert!(
        cad.lines().all(|l| l.starts_with("ACME-") && l.len() == 27),
        "{cad}"
    );
}

#[test]
fn data_and_signed_keys_carry_their_features() {
    let v = vendor();
    let d = v.path();
    ok(&airseal(
        d,
        &[
            "keys",
            "generate",
            "--product",
            "photo-pro",
            "--kind",
            "data",
            "--features",
            "F1,F3",
            "--days",
            "30",
            "--count",
            "50",
            "--out",
            "d.jsonl",
        ],
    ));
    let first: Value = serde_json::from_str(
        std::fs::read_to_string(d.join("d.jsonl"))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["kind"], "data");
    let o = airseal(
        d,
        &[
            "keys",
            "inspect",
            first["key"].as_str().unwrap(),
            "--product",
            "photo-pro",
            "--json",
        ],
    );
    let info: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(info["features"], serde_json::json!(["F1", "F3"]), "{info}");
    assert_eq!(info["days"], 30);

    ok(&airseal(
        d,
        &[
            "keys",
            "generate",
            "--product",
            "photo-pro",
            "--kind",
            "signed",
            "--features",
            "F2",
            "--days",
            "365",
            "--count",
            "20",
            "--out",
            "s.txt",
        ],
    ));
    let signed = std::fs::read_to_string(d.join("s.txt")).unwrap();
    let key = signed.lines().next().unwrap();
    assert_eq!(key.len(), 152);
    // An app verifies it with the public key alone.
    let mut trust = airseal_verify::TrustStore::new();
    trust
        .add_public_key_file(&std::fs::read(d.join("keys/signing.pub")).unwrap())
        .unwrap();
    let now = chrono::Utc::now().timestamp();
    let verified = trust.verify_signed_key(key, "photo-pro", now).unwrap();
    assert!(verified.feature_enabled("F2") && !verified.feature_enabled("F1"));
    // `keys inspect` recognises it, verifies it and finds it in the ledger.
    let o = airseal(d, &["keys", "inspect", key, "--json"]);
    let info: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (o.status.code(), info["status"].as_str()),
        (Some(0), Some("valid")),
        "{info}"
    );
    assert_eq!(info["features"], serde_json::json!(["F2"]));
    assert!(info["batch"].is_i64(), "{info}");
}

#[test]
fn seed_needs_an_explicit_acknowledgement_and_never_for_signed_keys() {
    let v = vendor();
    let d = v.path();
    let o = airseal(
        d,
        &[
            "keys",
            "generate",
            "--product",
            "photo-pro",
            "--count",
            "5",
            "--seed",
            "1",
            "--out",
            "a.txt",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(2),
        "clap refuses --seed without --insecure-seed"
    );
    let o = airseal(
        d,
        &[
            "keys",
            "generate",
            "--product",
            "photo-pro",
            "--count",
            "5",
            "--seed",
            "1",
            "--insecure-seed",
            "--kind",
            "signed",
            "--out",
            "a.txt",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("refused for signed"));
    ok(&airseal(
        d,
        &[
            "keys",
            "generate",
            "--product",
            "photo-pro",
            "--count",
            "5",
            "--seed",
            "1",
            "--insecure-seed",
            "--out",
            "a.txt",
        ],
    ));
    let weak = airseal(
        d,
        &[
            "keys",
            "generate",
            "--product",
            "photo-pro",
            "--count",
            "5",
            "--pattern",
            "XXXX-XXXX",
            "--out",
            "w.txt",
        ],
    );
    assert_eq!(weak.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&weak.stderr).contains("35 bits"),
        "{}",
        String::from_utf8_lossy(&weak.stderr)
    );
}

#[test]
fn skgl_keys_decode_with_their_secret() {
    let d = tempfile::tempdir().unwrap();
    // From SKGL's own unit tests: valid with secret "567", 30 days, feature 1.
    let o = airseal(
        d.path(),
        &[
            "keys",
            "inspect",
            "--format",
            "skgl",
            "--secret",
            "567",
            "LZWXQ-SMBAS-JDVDL-XTEHB",
            "--json",
        ],
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["days"], 30);
    assert_eq!(v["features"], serde_json::json!(["F1"]));
    let o = airseal(
        d.path(),
        &[
            "keys",
            "inspect",
            "--format",
            "skgl",
            "--secret",
            "wrong",
            "LZWXQ-SMBAS-JDVDL-XTEHB",
            "--json",
        ],
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["valid"], false);
}

/// Kill `airseal keys generate` for real at several moments; afterwards (once the next
/// command has run recovery) the ledger and the output files hold exactly the same keys, a
/// re-run of the same command starts cleanly (removing the killed run's temporary file) or
/// finds its batch already recovered, and later batches add only new keys.
#[test]
fn killed_batch_leaves_ledger_and_file_in_agreement() {
    let v = vendor();
    let d = v.path();
    for (round, delay_ms) in [150u64, 600, 1500].into_iter().enumerate() {
        let out = format!("big{round}.csv");
        let mut child = Command::new(env!("CARGO_BIN_EXE_airseal"))
            .current_dir(d)
            .args([
                "keys",
                "generate",
                "--product",
                "photo-pro",
                "--count",
                "400000",
                "--quiet",
                "--out",
                &out,
            ])
            .env_remove("AIRSEAL_VENDOR")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        ok(&airseal(d, &["keys", "recover"]));
        let ledger = Ledger::open(&d.join("ledger.sqlite3")).unwrap();
        let recorded: usize = ledger.keys().count("photo-pro").unwrap() as usize;
        let mut in_files = 0;
        let mut all = HashSet::new();
        for r in 0..=round {
            let p = d.join(format!("big{r}.csv"));
            if p.exists() {
                let keys = keys_in(&p);
                in_files += keys.len();
                for k in keys {
                    assert!(
                        ledger.keys().info(Some("photo-pro"), &k).unwrap().is_some(),
                        "{k} written but not recorded"
                    );
                    assert!(all.insert(k), "duplicate key across batches");
                }
            }
        }
        assert_eq!(
            recorded, in_files,
            "round {round}: ledger holds {recorded}, files {in_files}"
        );
        // Re-running the same command: either the batch was committed (and is now recovered,
        // so its output exists and is not overwritten) or it starts cleanly.
        let committed = d.join(&out).exists();
        let rerun = airseal(
            d,
            &[
                "keys",
                "generate",
                "--product",
                "photo-pro",
                "--count",
                "2000",
                "--quiet",
                "--out",
                &out,
            ],
        );
        if committed {
            assert_eq!(
                rerun.status.code(),
                Some(1),
                "a recovered output is not overwritten"
            );
        } else {
            ok(&rerun);
        }
    }
    // A fresh batch afterwards is unique against everything recorded.
    ok(&airseal(
        d,
        &[
            "keys",
            "generate",
            "--product",
            "photo-pro",
            "--count",
            "1000",
            "--quiet",
            "--out",
            "after.csv",
        ],
    ));
    let ledger = Ledger::open(&d.join("ledger.sqlite3")).unwrap();
    let fresh = keys_in(&d.join("after.csv"));
    assert_eq!(fresh.iter().collect::<HashSet<_>>().len(), 1000);
    let leftovers: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("airseal-batch"))
        .collect();
    assert!(leftovers.is_empty(), "stale temporary files: {leftovers:?}");
    drop(ledger);
}

#[test]
fn issue_inside_a_vendor_folder_uses_its_key_vendor_id_and_named_templates() {
    let v = vendor();
    let d = v.path();
    let mut cfg = std::fs::read_to_string(d.join("airseal.toml")).unwrap();
    cfg.push_str("\n[products.photo-pro.templates.yearly]\nkind = \"subscription\"\ndays = 365\nfeatures = [\"F1\"]\n");
    std::fs::write(d.join("airseal.toml"), cfg).unwrap();
    ok(&airseal(
        d,
        &[
            "issue",
            "--product",
            "photo-pro",
            "--template",
            "yearly",
            "--licensee-email",
            "a@b.c",
            "--out",
            "y.lic",
        ],
    ));
    let o = airseal(
        d,
        &[
            "verify",
            "y.lic",
            "--public-key",
            "keys/signing.pub",
            "--product",
            "photo-pro",
            "--json",
        ],
    );
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["claims"]["iss"], "acme", "{j}");
    assert_eq!(j["claims"]["kind"], "subscription");
    assert_eq!(j["active_features"], serde_json::json!(["F1"]));
    let o = airseal(
        d,
        &[
            "issue",
            "--product",
            "photo-pro",
            "--template",
            "nope",
            "--out",
            "z.lic",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("nope"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn revocation_lists_carry_revocations_to_offline_apps() {
    let v = vendor();
    let d = v.path();
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
            "k.txt",
        ],
    ));
    let key = std::fs::read_to_string(d.join("k.txt"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    ok(&airseal(
        d,
        &[
            "issue",
            "--product",
            "photo-pro",
            "--product-key",
            &key.replace('-', ""),
            "--out",
            "a.lic",
        ],
    ));
    ok(&airseal(
        d,
        &["issue", "--product", "photo-pro", "--out", "b.lic"],
    ));
    let id_of = |f: &str| -> String {
        let o = airseal(d, &["inspect", f, "--json"]);
        serde_json::from_slice::<Value>(&o.stdout).unwrap()["claims"]["sub"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let verify = |f: &str, list: &str| {
        airseal(
            d,
            &[
                "verify",
                f,
                "--public-key",
                "keys/signing.pub",
                "--product",
                "photo-pro",
                "--revocations",
                list,
            ],
        )
        .status
        .code()
    };
    ok(&airseal(
        d,
        &["revocations", "export", "--out", "list1.txt"],
    ));
    assert_eq!(verify("a.lic", "list1.txt"), Some(0));

    ok(&airseal(
        d,
        &["revoke", "--key", &key, "--reason", "chargeback"],
    ));
    ok(&airseal(d, &["revoke", "--license", &id_of("b.lic")]));
    ok(&airseal(
        d,
        &["revocations", "export", "--out", "list2.txt"],
    ));
    assert_eq!(
        verify("a.lic", "list2.txt"),
        Some(23),
        "revoked through its product key"
    );
    assert_eq!(
        verify("b.lic", "list2.txt"),
        Some(23),
        "revoked by license id"
    );
    assert_eq!(
        verify("a.lic", "list1.txt"),
        Some(0),
        "the older list did not have it"
    );

    // The list is a signed object of its own type: it is not a license, and a license is
    // not a list.
    let o = airseal(
        d,
        &[
            "verify",
            "list2.txt",
            "--public-key",
            "keys/signing.pub",
            "--product",
            "photo-pro",
        ],
    );
    assert_eq!(o.status.code(), Some(12));
    assert_eq!(verify("a.lic", "b.lic"), Some(12));
    // Sequence numbers grow.
    let trust = {
        let mut t = airseal_verify::TrustStore::new();
        t.add_public_key_file(&std::fs::read(d.join("keys/signing.pub")).unwrap())
            .unwrap();
        t
    };
    let l1 = trust
        .verify_revocations(&std::fs::read(d.join("list1.txt")).unwrap())
        .unwrap();
    let l2 = trust
        .verify_revocations(&std::fs::read(d.join("list2.txt")).unwrap())
        .unwrap();
    assert!(l2.seq > l1.seq);
    // b.lic by its id, and a.lic as a license the ledger recorded for the revoked key.
    assert_eq!(l2.licenses.len(), 2);
    assert_eq!(l2.product_keys.len(), 1);
}

#[test]
fn a_file_name_that_names_another_format_is_refused() {
    let v = vendor();
    let d = v.path();
    let generate = |out: &str, extra: &[&str]| {
        let mut args = vec![
            "keys",
            "generate",
            "--product",
            "photo-pro",
            "--count",
            "3",
            "--out",
            out,
        ];
        args.extend_from_slice(extra);
        airseal(d, &args)
    };
    // `keys.json` used to get CSV: refused, nothing written, nothing recorded.
    let o = generate("keys.json", &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("keys.json") && err.contains("--format"),
        "{err}"
    );
    assert!(!d.join("keys.json").exists());
    let ledger = Ledger::open(&d.join("ledger.sqlite3")).unwrap();
    assert_eq!(ledger.keys().count("photo-pro").unwrap(), 0);
    // With --format the name is the vendor's choice; the known extensions need none.
    ok(&generate("keys.json", &["--format", "jsonl"]));
    let first = std::fs::read_to_string(d.join("keys.json")).unwrap();
    let line = first.lines().next().unwrap();
    assert!(serde_json::from_str::<Value>(line).is_ok(), "{line}");
    ok(&generate("keys.txt", &[]));
    assert_eq!(
        std::fs::read_to_string(d.join("keys.txt"))
            .unwrap()
            .lines()
            .count(),
        3
    );
    ok(&generate("batch-7", &[]));
    assert!(
        std::fs::read_to_string(d.join("batch-7"))
            .unwrap()
            .starts_with("key,")
    );
}
