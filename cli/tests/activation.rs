//! `airseal activate`, `airseal deactivate` and `airseal ledger` end to end: real
//! processes racing for the last seat, a process killed mid-activation, and the listings.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use airseal_core::LicenseClaims;
use airseal_core::activation::{ActivationRequest, DeactivationProof, Purpose};
use airseal_core::armor::{armor, dearmor};
use airseal_core::cose::{ObjectType, parse_sign1};
use airseal_vendor::issue::Issuer;
use airseal_vendor::ledger::{ActivationFilter, Ledger};
use ed25519_dalek::SigningKey;
use serde_json::Value;

mod common;
use common::{airseal, init_vendor, ok, stderr};

/// A vendor folder with a signing key, product `photo-pro` (2 seats per key, 1
/// deactivation) and `n` keys; returns the folder and the keys.
fn vendor(n: usize) -> (tempfile::TempDir, Vec<String>) {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    init_vendor(
        d,
        "\n[products.photo-pro]\nactivation_template = \"pro\"\ntrial_template = \"trial\"\n\
         [products.photo-pro.templates.pro]\nkind = \"subscription\"\ndays = 365\n\
         max_activations = 2\nmax_deactivations = 1\n\
         [products.photo-pro.templates.trial]\ndays = 14\n",
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
            "k.csv",
        ],
    ));
    let keys = std::fs::read_to_string(d.join("k.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect();
    (tmp, keys)
}

fn device(seed: u8) -> Issuer {
    Issuer::new(SigningKey::from_bytes(&[seed; 32]))
}

/// Writes an armored activation request from device `seed` for `key` (trial if `None`).
fn request(dir: &Path, name: &str, seed: u8, key: Option<&str>, nonce: u8) {
    let d = device(seed);
    let mut r = ActivationRequest {
        product: "photo-pro".into(),
        product_key: key.map(|k| k.replace('-', "")),
        components: vec![[seed; 8], [seed ^ 0x55; 8], [seed ^ 0xaa; 8]],
        device_key: d.public_key(),
        nonce: [nonce; 16],
        created: 1_780_000_000,
        app_version: Some("1.0".into()),
        purpose: if key.is_some() {
            Purpose::Activation
        } else {
            Purpose::Trial
        },
        meters: vec![],
    };
    r.normalize();
    let bytes = d.sign(ObjectType::ActivationRequest, &r.encode());
    std::fs::write(
        dir.join(name),
        armor(ObjectType::ActivationRequest.armor_label(), &bytes),
    )
    .unwrap();
}

fn claims_of(response: &[u8]) -> LicenseClaims {
    let raw = dearmor(response).unwrap().into_owned();
    let s = parse_sign1(&raw).unwrap();
    assert_eq!(s.header.typ, ObjectType::ActivationResponse.typ());
    LicenseClaims::decode(s.payload, s.payload_offset).unwrap()
}

fn proof(dir: &Path, name: &str, seed: u8, claims: &LicenseClaims, nonce: u8) {
    let d = device(seed);
    let p = DeactivationProof {
        product: claims.product.clone(),
        license_id: claims.license_id.clone(),
        token_id: claims.token_id.clone(),
        device_key: d.public_key(),
        nonce: [nonce; 16],
        created: 1_780_000_000,
    };
    let bytes = d.sign(ObjectType::DeactivationProof, &p.encode());
    std::fs::write(
        dir.join(name),
        armor(ObjectType::DeactivationProof.armor_label(), &bytes),
    )
    .unwrap();
}

fn live_seats(dir: &Path) -> usize {
    Ledger::open(&dir.join("ledger.sqlite3"))
        .unwrap()
        .seats()
        .list(&ActivationFilter {
            live_only: true,
            ..Default::default()
        })
        .unwrap()
        .len()
}

#[test]
fn activate_deactivate_and_list_through_the_cli() {
    let (tmp, keys) = vendor(2);
    let d = tmp.path();
    request(d, "a.req", 1, Some(&keys[0]), 1);
    let out = ok(&airseal(
        d,
        &["activate", "a.req", "--out", "a.resp", "--json"],
    ));
    let summary: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["result"], "activated");
    assert_eq!(summary["seats"]["used"], 1);
    assert_eq!(summary["seats"]["limit"], 2);
    let a = claims_of(&std::fs::read(d.join("a.resp")).unwrap());
    assert_eq!(a.request_nonce, Some([1; 16]));
    assert_eq!(summary["license_id"], a.license_id.as_str());

    // Never overwritten without --force, and the refusal happens before the ledger changes.
    let again = airseal(d, &["activate", "a.req", "--out", "a.resp"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));
    let out = ok(&airseal(
        d,
        &["activate", "a.req", "--out", "a.resp", "--force", "--json"],
    ));
    let summary: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["result"], "reissued");
    assert_eq!(live_seats(d), 1);

    // Raw output, to standard output by default.
    request(d, "b.req", 2, Some(&keys[0]), 2);
    let printed = ok(&airseal(d, &["activate", "b.req"]));
    assert!(printed.starts_with("-----BEGIN AIRSEAL ACTIVATION RESPONSE-----"));
    request(d, "c.req", 3, Some(&keys[0]), 3);
    let full = airseal(d, &["activate", "c.req", "--out", "c.resp", "--raw"]);
    assert_eq!(full.status.code(), Some(1));
    assert!(stderr(&full).contains("no seats left"), "{}", stderr(&full));
    assert!(stderr(&full).contains("2 of 2 in use"), "{}", stderr(&full));
    assert!(!d.join("c.resp").exists());

    // A tampered request keeps the verifier's exit code (14: bad signature).
    let text = std::fs::read(d.join("c.req")).unwrap();
    let mut raw = dearmor(&text).unwrap().into_owned();
    let last = raw.len() - 1;
    raw[last] ^= 1;
    std::fs::write(d.join("bad.req"), raw).unwrap();
    let bad = airseal(d, &["activate", "bad.req", "--out", "bad.resp"]);
    assert_eq!(bad.status.code(), Some(14), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("bad.req"), "{}", stderr(&bad));

    // Deactivate A; the replayed proof and the over-limit one are refused.
    proof(d, "a.proof", 1, &a, 9);
    let out = ok(&airseal(d, &["deactivate", "a.proof", "--json"]));
    let summary: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["deactivations"]["used"], 1);
    assert_eq!(live_seats(d), 1);
    let replay = airseal(d, &["deactivate", "a.proof"]);
    assert_eq!(replay.status.code(), Some(1));
    assert!(
        stderr(&replay).contains("already accepted"),
        "{}",
        stderr(&replay)
    );
    ok(&airseal(
        d,
        &["activate", "c.req", "--out", "c.resp", "--raw"],
    ));
    let c = claims_of(&std::fs::read(d.join("c.resp")).unwrap());
    proof(d, "c.proof", 3, &c, 10);
    let limit = airseal(d, &["deactivate", "c.proof"]);
    assert!(
        stderr(&limit).contains("deactivation limit reached"),
        "{}",
        stderr(&limit)
    );

    // Trials: one per machine.
    request(d, "t.req", 7, None, 20);
    ok(&airseal(d, &["activate", "t.req", "--out", "t.resp"]));
    let mut text = std::fs::read_to_string(d.join("t.req")).unwrap();
    text.insert_str(0, "From the customer:\n\n"); // armor may be pasted inside an e-mail
    std::fs::write(d.join("t2.req"), text).unwrap();
    ok(&airseal(d, &["activate", "t2.req", "--out", "t2.resp"])); // same device: re-issued
    request(d, "t3.req", 7 + 100, None, 21);
    // Another device on another machine gets its own (the library tests cover the same
    // machine under a new device key).
    ok(&airseal(d, &["activate", "t3.req", "--out", "t3.resp"]));

    // The ledger listings.
    let csv = ok(&airseal(d, &["ledger", "activations", "--format", "csv"]));
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("id,product,key,purpose,license_id")
    );
    assert_eq!(lines.count(), 5, "{csv}");
    let json: Value = serde_json::from_str(&ok(&airseal(
        d,
        &["ledger", "activations", "--live", "--format", "json"],
    )))
    .unwrap();
    assert_eq!(json.as_array().unwrap().len(), 4, "{json}");
    let by_license: Value = serde_json::from_str(&ok(&airseal(
        d,
        &[
            "ledger",
            "activations",
            "--license",
            &a.license_id,
            "--format",
            "json",
        ],
    )))
    .unwrap();
    assert_eq!(by_license[0]["deactivated_by"], "proof");
    let device_id = by_license[0]["device_key_id"].as_str().unwrap().to_string();
    let by_device: Value = serde_json::from_str(&ok(&airseal(
        d,
        &[
            "ledger",
            "activations",
            "--device",
            &device_id[..6],
            "--format",
            "json",
        ],
    )))
    .unwrap();
    assert_eq!(by_device.as_array().unwrap().len(), 1);
    let table = ok(&airseal(d, &["ledger", "keys", "--key", &keys[0]]));
    assert!(table.contains("seats_in_use"), "{table}");
    assert!(table.contains("(1 row)"), "{table}");
    let audit: Value = serde_json::from_str(&ok(&airseal(
        d,
        &[
            "ledger",
            "audit",
            "--action",
            "activation.",
            "--format",
            "json",
        ],
    )))
    .unwrap();
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"activation.deactivate"), "{actions:?}");
    assert!(actions.contains(&"activation.reissue"), "{actions:?}");
    ok(&airseal(
        d,
        &["ledger", "audit", "--format", "csv", "--out", "audit.csv"],
    ));
    let exists = airseal(d, &["ledger", "audit", "--out", "audit.csv"]);
    assert_eq!(exists.status.code(), Some(1));

    // The vendor frees a lost machine's seat by hand.
    let id = by_device[0]["id"].as_i64().unwrap();
    let live: Value = serde_json::from_str(&ok(&airseal(
        d,
        &[
            "ledger",
            "activations",
            "--live",
            "--key",
            &keys[0],
            "--format",
            "json",
        ],
    )))
    .unwrap();
    let live_id = live[0]["id"].as_i64().unwrap().to_string();
    assert_ne!(live[0]["id"].as_i64().unwrap(), id);
    ok(&airseal(
        d,
        &[
            "deactivate",
            "--activation",
            &live_id,
            "--reason",
            "stolen laptop",
        ],
    ));
}

#[test]
fn racing_processes_never_sell_more_seats_than_the_limit() {
    let (tmp, keys) = vendor(1);
    let d = tmp.path();
    const N: u8 = 6;
    for i in 0..N {
        request(d, &format!("r{i}.req"), 40 + i, Some(&keys[0]), i);
    }
    let children: Vec<_> = (0..N)
        .map(|i| {
            Command::new(env!("CARGO_BIN_EXE_airseal"))
                .current_dir(d)
                .args([
                    "activate",
                    &format!("r{i}.req"),
                    "--out",
                    &format!("r{i}.resp"),
                ])
                .env("AIRSEAL_PASSPHRASE", common::PASSPHRASE)
                .env_remove("AIRSEAL_VENDOR")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let granted = outputs.iter().filter(|o| o.status.success()).count();
    assert_eq!(granted, 2, "exactly the limit is granted");
    for o in outputs.iter().filter(|o| !o.status.success()) {
        assert!(stderr(o).contains("no seats left"), "{}", stderr(o));
    }
    let files = (0..N)
        .filter(|i| d.join(format!("r{i}.resp")).exists())
        .count();
    assert_eq!(
        files, 2,
        "a response file for each seat, none for a refusal"
    );
    assert_eq!(live_seats(d), 2);
}

/// Kills `airseal activate` at spread-out moments. Whatever the moment, the ledger is
/// consistent (each seat has its response row and audit row, never more than the limit),
/// a response file is either absent or complete, and running the same request again gets
/// a response on the same seat.
#[cfg(unix)]
#[test]
fn killed_activation_leaves_the_ledger_consistent_and_rerunning_recovers() {
    let (tmp, keys) = vendor(1);
    let d = tmp.path();
    // How long one activation takes here (most of it unlocking the signing key).
    request(d, "probe.req", 90, Some(&keys[0]), 90);
    let started = Instant::now();
    ok(&airseal(
        d,
        &["activate", "probe.req", "--out", "probe.resp"],
    ));
    let full = started.elapsed();
    proof(
        d,
        "probe.proof",
        90,
        &claims_of(&std::fs::read(d.join("probe.resp")).unwrap()),
        91,
    );
    // Free the probe's seat again (max_deactivations is 1: this uses it).
    ok(&airseal(d, &["deactivate", "probe.proof"]));
    for round in 0..8u8 {
        let name = format!("k{round}");
        let seed = 60 + round % 2; // two devices, alternating: at most two seats
        request(d, &format!("{name}.req"), seed, Some(&keys[0]), 100 + round);
        let mut child = Command::new(env!("CARGO_BIN_EXE_airseal"))
            .current_dir(d)
            .args([
                "activate",
                &format!("{name}.req"),
                "--out",
                &format!("{name}.resp"),
            ])
            .env("AIRSEAL_PASSPHRASE", common::PASSPHRASE)
            .env_remove("AIRSEAL_VENDOR")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let delay = full.mul_f64(f64::from(round) / 7.0 * 1.2);
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL (may already have exited)
        child.wait().unwrap();

        let resp = d.join(format!("{name}.resp"));
        if resp.exists() {
            // Complete, or not there at all: never half a file.
            let c = claims_of(&std::fs::read(&resp).unwrap());
            assert_eq!(c.request_nonce, Some([100 + round; 16]));
        }
        let ledger = Ledger::open(&d.join("ledger.sqlite3")).unwrap();
        let conn = ledger.sqlite_connection().unwrap();
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        let orphans: i64 = conn
            .query_row(
                "SELECT count(*) FROM activations a WHERE NOT EXISTS
                   (SELECT 1 FROM responses r WHERE r.activation = a.id AND r.token_id = a.token_id)
                 OR NOT EXISTS (SELECT 1 FROM audit WHERE action = 'activation.create'
                   AND json_extract(detail, '$.activation') = a.id)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(orphans, 0, "a seat without its response or audit row");
        drop(ledger);
        assert!(live_seats(d) <= 2);

        // Re-running the same request always ends with a response, and uses no extra seat.
        let rerun = airseal(
            d,
            &[
                "activate",
                &format!("{name}.req"),
                "--out",
                &format!("{name}.resp"),
                "--force",
                "--json",
            ],
        );
        let summary: Value = serde_json::from_str(&ok(&rerun)).unwrap();
        assert!(summary["seats"]["used"].as_u64().unwrap() <= 2);
        let c = claims_of(&std::fs::read(&resp).unwrap());
        assert_eq!(c.request_nonce, Some([100 + round; 16]));
    }
    assert_eq!(live_seats(d), 2);
}

#[test]
fn keys_generated_with_a_template_are_activated_with_it() {
    let (tmp, _) = vendor(1);
    let d = tmp.path();
    let gen_with = |template: &str, out: &str| {
        airseal(
            d,
            &[
                "keys",
                "generate",
                "--product",
                "photo-pro",
                "--count",
                "1",
                "--template",
                template,
                "--out",
                out,
            ],
        )
    };
    let bad = gen_with("nosuch", "bad.csv");
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("nosuch"), "{}", stderr(&bad));
    ok(&gen_with("trial", "t.csv"));
    let key = std::fs::read_to_string(d.join("t.csv")).unwrap();
    let key = key.lines().nth(1).unwrap().split(',').next().unwrap();
    request(d, "r.req", 5, Some(key), 5);
    let out = ok(&airseal(
        d,
        &[
            "activate",
            "r.req",
            "--out",
            "r.resp",
            "--json",
            "--now",
            "2027-01-01",
        ],
    ));
    let summary: Value = serde_json::from_str(&out).unwrap();
    // The trial template: 14 days, and (no max_activations) one seat.
    assert_eq!(summary["expires"], 1_798_761_600 + 14 * 86_400);
    assert_eq!(summary["seats"]["limit"], 1);
}
