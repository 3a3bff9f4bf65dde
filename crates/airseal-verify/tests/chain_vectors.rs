//! Every case of `vectors/chain.json` (issuing-key certificates, chained objects and
//! revocation lists: `SPEC.md` §13, §18) has exactly its expected outcome, and the
//! chained typical license keeps the size SPEC.md promises.

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use airseal_core::cert::Certificate;
use airseal_core::revocation::RevocationList;
use airseal_verify::{ClockGuard, Error, Expected, KeyValidity, Machine, Status, TrustStore};
use serde_json::{Value, json};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../vectors")
}

fn manifest() -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir().join("chain.json")).unwrap()).unwrap()
}

fn hex32(s: &str) -> [u8; 32] {
    hex::decode(s).unwrap().try_into().unwrap()
}

fn read(case_file: &Value) -> Vec<u8> {
    std::fs::read(dir().join(case_file.as_str().unwrap())).unwrap()
}

fn trust(case: &Value) -> TrustStore {
    let mut t = TrustStore::new();
    for k in case["trusted_public_keys"].as_array().unwrap() {
        let hex = k.as_str().unwrap();
        let window = &case["key_validity"][hex];
        let validity = KeyValidity {
            not_before: window["not_before"].as_i64(),
            not_after: window["not_after"].as_i64(),
        };
        t.add_key_with_validity(&hex32(hex), validity).unwrap();
    }
    t
}

/// The JSON forms of `vectors/README.md` ("chain.json"), written from the decoded values.
fn cert_json(c: &Certificate) -> Value {
    let mut v = json!({
        "serial": c.serial, "key": hex::encode(c.key), "kid": hex::encode(c.key_id().0),
        "not_before": c.not_before, "not_after": c.not_after,
        "may_sign": c.may_sign.names().collect::<Vec<_>>(),
    });
    if !c.products.is_empty() {
        v["products"] = json!(c.products);
    }
    if let Some((lo, hi)) = c.list_seq {
        v["list_seq"] = json!([lo, hi]);
    }
    v
}

fn list_json(l: &RevocationList) -> Value {
    let mut v = json!({"seq": l.seq, "issued_at": l.issued_at});
    if !l.licenses.is_empty() {
        v["licenses"] = json!(l.licenses);
    }
    if !l.product_keys.is_empty() {
        v["product_keys"] = json!(l.product_keys);
    }
    if !l.min_issued_at.is_empty() {
        let m: Vec<Value> = l
            .min_issued_at
            .iter()
            .map(|(p, t)| json!({"product": p, "before": t}))
            .collect();
        v["min_issued_at"] = json!(m);
    }
    if !l.issuing_keys.is_empty() {
        let k: Vec<String> = l.issuing_keys.iter().map(|k| hex::encode(k.0)).collect();
        v["issuing_keys"] = json!(k);
    }
    v
}

/// Runs one case; the outcome as JSON in the manifest's `expected` form.
fn outcome(case: &Value, precompute: bool) -> Result<Value, Error> {
    let bytes = read(&case["file"]);
    let mut t = trust(case);
    if precompute {
        t.precompute();
    }
    let now = case["now"].as_i64().unwrap();
    match case["kind"].as_str().unwrap() {
        "license" => {
            let list = match case["revocation_list"].as_str() {
                Some(_) => Some(t.verify_revocations(&read(&case["revocation_list"]))?),
                None => None,
            };
            let machine = case["machine"].as_array().map(|m| {
                let m = Machine::from_component_hashes(
                    m.iter()
                        .map(|h| {
                            hex::decode(h.as_str().unwrap())
                                .unwrap()
                                .try_into()
                                .unwrap()
                        })
                        .collect(),
                );
                match case["device_public_key"].as_str() {
                    Some(d) => m.with_device_key(&hex32(d)),
                    None => m,
                }
            });
            let mut expected = Expected::product(case["product"].as_str().unwrap());
            if let Some(m) = &machine {
                expected = expected.machine(m);
            }
            if let Some(l) = &list {
                expected = expected.revocations(l);
            }
            let license = t.verify(&bytes, now, &expected)?;
            let issuer = license.issuer().unwrap();
            assert!(matches!(license.status(), Status::Valid));
            Ok(json!({
                "result": "valid",
                "status": "valid",
                "claims": airseal_core::json::claims_to_json(license.claims()),
                "active_features": license.active_features(now),
                "issuer": {"root": hex::encode(issuer.root().0), "kid": hex::encode(issuer.key_id().0),
                           "serial": issuer.certificate().serial},
            }))
        }
        "certificate" => {
            let issuer = t.add_certificate(&bytes)?;
            Ok(
                json!({"result": "valid", "root": hex::encode(issuer.root().0), "certificate": cert_json(issuer.certificate())}),
            )
        }
        "revocations" => {
            let list = t.verify_revocations(&bytes)?;
            let state = tempfile::tempdir().unwrap();
            let mut guard = ClockGuard::open(
                &state.path().join("guard"),
                b"chain vectors",
                &airseal_verify::GuardSecret::from_bytes([5; 32]),
            )?;
            if case["accepted_before"].is_string() {
                guard
                    .accept_revocations(&t.verify_revocations(&read(&case["accepted_before"]))?)?;
            }
            guard.accept_revocations(&list)?;
            Ok(json!({"result": "valid", "list": list_json(&list)}))
        }
        "request" => {
            airseal_verify::activation::verify_request(&bytes)?;
            Ok(json!({"result": "valid"}))
        }
        other => panic!("unknown kind {other}"),
    }
}

fn check_every_case(precompute: bool) {
    let m = manifest();
    let cases = m["cases"].as_array().unwrap();
    let (mut valid, mut hostile) = (0, 0);
    for case in cases {
        let name = case["file"].as_str().unwrap();
        let want = &case["expected"];
        match outcome(case, precompute) {
            Ok(got) => {
                assert_eq!(&got, want, "{name}");
                valid += 1;
            }
            Err(err) => {
                assert_eq!(want["result"], "error", "{name}: expected valid, got {err}");
                assert_eq!(err.class(), want["error"], "{name}: {err}");
                if let Error::Malformed(e) = &err {
                    assert_eq!(e.context, want["context"], "{name}: {err}");
                    assert_eq!(e.kind.rule(), want["rule"], "{name}: {err}");
                }
                hostile += 1;
            }
        }
    }
    assert!(valid >= 8, "only {valid} valid chain vectors");
    assert!(hostile >= 50, "only {hostile} hostile chain vectors");
}

#[test]
fn every_chain_vector_has_its_expected_outcome() {
    check_every_case(false);
}

/// With precomputed tables: the same outcomes.
#[test]
fn every_chain_vector_has_its_expected_outcome_with_precomputed_keys() {
    check_every_case(true);
}

/// Objects carrying a certificate the app added ahead of time verify through the cache:
/// the root check is skipped, the object's own signature still counts.
#[test]
fn added_certificates_give_the_same_outcomes() {
    let m = manifest();
    let case = |file: &str| {
        m["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["file"] == format!("chain/{file}"))
            .unwrap()
            .clone()
    };
    let lic = case("valid-chained-license.cose");
    let mut t = trust(&lic);
    t.add_certificate(&read(&case("valid-certificate.cose")["file"]))
        .unwrap();
    t.precompute();
    let machine = Machine::from_component_hashes(vec![[1; 8], [2; 8], [3; 8]]);
    let expected = Expected::product("photo-pro").machine(&machine);
    let now = lic["now"].as_i64().unwrap();
    let ok = t.verify(&read(&lic["file"]), now, &expected).unwrap();
    assert_eq!(
        airseal_core::json::claims_to_json(ok.claims()),
        lic["expected"]["claims"]
    );
    let forged = read(&case("object-bad-signature.cose")["file"]);
    assert_eq!(
        t.verify(&forged, now, &expected).unwrap_err(),
        Error::BadSignature
    );
}

#[test]
fn chained_typical_license_is_at_most_450_bytes() {
    let chained = std::fs::read(dir().join("chain/valid-chained-license.cose")).unwrap();
    let plain = std::fs::read(dir().join("licenses/valid-node-locked.cose")).unwrap();
    assert!(
        chained.len() <= 450,
        "chained license is {} bytes",
        chained.len()
    );
    assert!(plain.len() < 300, "plain license is {} bytes", plain.len());
    // The same claims: the difference is the carried certificate less the kid.
    let a = airseal_core::cose::parse_sign1(&chained).unwrap();
    let b = airseal_core::cose::parse_sign1(&plain).unwrap();
    assert_eq!(a.payload, b.payload);
}

/// The `certificate` fuzz target's hook takes every chain vector (its seed corpus) without
/// panicking, and its root is the vectors' root: the valid certificate is added by it.
#[test]
fn the_fuzz_hook_takes_every_chain_vector() {
    let m = manifest();
    for case in m["cases"].as_array().unwrap() {
        airseal_verify::fuzz_certificate(&read(&case["file"]));
    }
    let cert = read(&json!("chain/valid-certificate.cose"));
    let mut t = TrustStore::new();
    t.add_key(&hex32(m["roots"][0]["public_key"].as_str().unwrap()))
        .unwrap();
    assert!(t.add_certificate(&cert).is_ok());
}
