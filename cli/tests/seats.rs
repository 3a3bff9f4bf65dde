//! Seats that hold and terms that end (`SPEC.md` §17.1–§17.2), through the binary: a seat
//! belongs to a machine, a subscription's term is anchored, duplicate components buy
//! nothing, and a vendor release of an activation that does not exist says so.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use airseal_core::LicenseClaims;
use airseal_core::activation::{ActivationRequest, Purpose};
use airseal_core::armor::{armor, dearmor};
use airseal_core::cose::{ObjectType, parse_sign1};
use airseal_vendor::issue::Issuer;
use ed25519_dalek::SigningKey;
use serde_json::Value;

mod common;
use common::{airseal, exits, init_vendor, ok, stderr};

/// A vendor folder whose product `p` has `templates` (TOML under `[products.p]`, with
/// `activation_template = "t"` and `trial_template = "trial"` set by the caller as needed),
/// and one generated key; returns the folder and the key.
fn vendor(templates: &str) -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    init_vendor(d, &format!("\n[products.p]\n{templates}"));
    ok(&airseal(
        d,
        &[
            "keys",
            "generate",
            "--product",
            "p",
            "--count",
            "1",
            "--out",
            "k.csv",
        ],
    ));
    let key = std::fs::read_to_string(d.join("k.csv"))
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_string();
    (tmp, key)
}

/// Writes an armored request signed by device `seed` for `key` (a trial if `None`), with
/// these component hashes.
fn request(dir: &Path, name: &str, seed: u8, key: Option<&str>, components: &[u8], nonce: u8) {
    let device = Issuer::new(SigningKey::from_bytes(&[seed; 32]));
    let r = ActivationRequest {
        product: "p".into(),
        product_key: key.map(str::to_string),
        components: components.iter().map(|c| [*c; 8]).collect(),
        device_key: device.public_key(),
        nonce: [nonce; 16],
        created: 1_780_000_000,
        app_version: None,
        purpose: if key.is_some() {
            Purpose::Activation
        } else {
            Purpose::Trial
        },
        meters: vec![],
    };
    let bytes = device.sign(ObjectType::ActivationRequest, &r.encode());
    std::fs::write(
        dir.join(name),
        armor(ObjectType::ActivationRequest.armor_label(), &bytes),
    )
    .unwrap();
}

fn claims_of(response: &[u8]) -> LicenseClaims {
    let raw = dearmor(response).unwrap().into_owned();
    let s = parse_sign1(&raw).unwrap();
    LicenseClaims::decode(s.payload, s.payload_offset).unwrap()
}

/// `airseal activate REQ --out RESP --json --now NOW`: the summary, or the refusal.
fn activate(dir: &Path, req: &str, now: &str) -> Result<Value, String> {
    let resp = format!("{req}.resp");
    let o = airseal(
        dir,
        &[
            "activate", req, "--out", &resp, "--json", "--force", "--now", now,
        ],
    );
    if o.status.code() == Some(0) {
        Ok(serde_json::from_slice(&o.stdout).unwrap())
    } else {
        Err(stderr(&o))
    }
}

fn expires_of(dir: &Path, req: &str) -> i64 {
    claims_of(&std::fs::read(dir.join(format!("{req}.resp"))).unwrap())
        .expires_at
        .unwrap()
}

/// Finding 13: releasing an activation the ledger never had names the id, as a refusal of
/// its own, in text and in JSON mode, and never blames the ledger's data.
#[test]
fn releasing_an_activation_that_does_not_exist_says_so() {
    let (tmp, _) = vendor("");
    let d = tmp.path();
    for json in [false, true] {
        let mut args = vec!["deactivate", "--activation", "999", "--reason", "lost"];
        if json {
            args.push("--json");
        }
        let o = airseal(d, &args);
        exits(&o, 1);
        let err = stderr(&o);
        assert!(err.contains("no activation 999"), "{err}");
        assert!(!err.contains("unreadable"), "{err}");
    }
}
