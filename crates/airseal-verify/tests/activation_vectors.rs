//! Every case in `vectors/activation.json` (activation requests and deactivation proofs,
//! SPEC.md §15.1–15.2) reads to exactly its expected outcome: the decoded fields for valid
//! objects, the error class (and for `malformed` the context and rule) otherwise.

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use airseal_core::KeyId;
use airseal_core::activation::{ActivationRequest, DeactivationProof, Purpose};
use airseal_core::armor::dearmor;
use airseal_core::cose::parse_sign1;
use airseal_verify::Error;
use airseal_verify::activation::{verify_deactivation, verify_request};
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../vectors")
}

fn vectors() -> Value {
    let text = std::fs::read_to_string(vectors_dir().join("activation.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The JSON form of `vectors/README.md`, written here independently of the generator.
fn request_json(r: &ActivationRequest) -> Value {
    let mut v = json!({
        "product": r.product,
        "components": r.components.iter().map(hex::encode).collect::<Vec<_>>(),
        "device_key": hex::encode(r.device_key),
        "nonce": hex::encode(r.nonce),
        "created": r.created,
        "purpose": if r.purpose == Purpose::Trial { "trial" } else { "activation" },
    });
    if let Some(k) = &r.product_key {
        v["product_key"] = json!(k);
    }
    if let Some(a) = &r.app_version {
        v["app_version"] = json!(a);
    }
    if !r.meters.is_empty() {
        v["meters"] = r
            .meters
            .iter()
            .map(|(name, value)| json!({"name": name, "value": value}))
            .collect();
    }
    v
}

fn proof_json(p: &DeactivationProof) -> Value {
    json!({
        "product": p.product,
        "license_id": p.license_id,
        "token_id": hex::encode(&p.token_id),
        "device_key": hex::encode(p.device_key),
        "nonce": hex::encode(p.nonce),
        "created": p.created,
    })
}

/// Reads one case with the reader its `kind` names: the decoded fields or the error.
fn read(kind: &str, bytes: &[u8]) -> Result<Value, Error> {
    match kind {
        "request" => verify_request(bytes).map(|r| request_json(&r)),
        "deactivation" => verify_deactivation(bytes).map(|p| proof_json(&p)),
        other => panic!("unknown kind {other}"),
    }
}

#[test]
fn every_activation_vector_has_its_expected_outcome() {
    let v = vectors();
    let cases = v["cases"].as_array().unwrap();
    let (mut valid, mut hostile) = (0, 0);
    let mut kinds = std::collections::BTreeSet::new();
    for case in cases {
        let name = case["file"].as_str().unwrap();
        let kind = case["kind"].as_str().unwrap();
        let bytes = std::fs::read(vectors_dir().join(name)).unwrap();
        let want = &case["expected"];
        match (want["result"].as_str().unwrap(), read(kind, &bytes)) {
            ("valid", Ok(fields)) => {
                valid += 1;
                kinds.insert(kind.to_string());
                assert_eq!(fields, want["fields"], "{name}: decoded fields");
                // Decode → encode is the identity, for the payload and the envelope.
                let raw = dearmor(&bytes).unwrap();
                let sign1 = parse_sign1(&raw).unwrap();
                let again = match kind {
                    "request" => ActivationRequest::decode(sign1.payload, 0)
                        .unwrap()
                        .encode(),
                    _ => DeactivationProof::decode(sign1.payload, 0)
                        .unwrap()
                        .encode(),
                };
                assert_eq!(again, sign1.payload, "{name}: re-encoding");
                // The header names the device key inside.
                let device = hex::decode(want["fields"]["device_key"].as_str().unwrap()).unwrap();
                assert_eq!(
                    sign1.header.kid,
                    KeyId::of_public_key(&device.try_into().unwrap()),
                    "{name}: kid"
                );
            }
            ("valid", Err(e)) => panic!("{name}: expected valid, got {e}"),
            ("error", Ok(fields)) => {
                panic!("{name}: expected {}, got valid {fields}", want["error"])
            }
            ("error", Err(err)) => {
                hostile += 1;
                assert_eq!(
                    err.class(),
                    want["error"].as_str().unwrap(),
                    "{name}: {err}"
                );
                if let Error::Malformed(e) = &err {
                    assert_eq!(
                        e.context,
                        want["context"].as_str().unwrap(),
                        "{name}: {err}"
                    );
                    assert_eq!(
                        e.kind.rule(),
                        want["rule"].as_str().unwrap(),
                        "{name}: {err}"
                    );
                }
            }
            (other, _) => panic!("{name}: unknown expected result {other}"),
        }
    }
    assert_eq!(kinds.len(), 2, "valid cases of both kinds");
    assert!(valid >= 9, "only {valid} valid activation vectors");
    assert!(hostile >= 25, "only {hostile} hostile activation vectors");
    let classes: std::collections::BTreeSet<&str> = cases
        .iter()
        .filter_map(|c| c["expected"]["error"].as_str())
        .collect();
    for class in [
        "malformed",
        "bad_signature",
        "invalid_public_key",
        "wrong_type",
    ] {
        assert!(classes.contains(class), "no {class} case");
    }
}

/// The device keys listed are what their seeds make, with the kids of SPEC.md §3.2.
#[test]
fn activation_device_keys_match_their_seeds() {
    let v = vectors();
    let keys = v["device_keys"].as_array().unwrap();
    assert!(!keys.is_empty());
    for k in keys {
        let seed: [u8; 32] = hex::decode(k["seed"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let public = SigningKey::from_bytes(&seed).verifying_key().to_bytes();
        assert_eq!(hex::encode(public), k["public_key"].as_str().unwrap());
        assert_eq!(
            KeyId::of_public_key(&public).to_string(),
            k["kid"].as_str().unwrap()
        );
    }
}

/// `request.cose` is the request the activation-response vector answers: same nonce, same
/// components, and the response is bound to its device key.
#[test]
fn the_request_vector_is_what_the_response_vector_answers() {
    let request =
        verify_request(&std::fs::read(vectors_dir().join("activation/request.cose")).unwrap())
            .unwrap();
    let response = std::fs::read(vectors_dir().join("licenses/activation-response.cose")).unwrap();
    let sign1 = parse_sign1(&response).unwrap();
    let claims = airseal_core::LicenseClaims::decode(sign1.payload, 0).unwrap();
    assert_eq!(claims.request_nonce, Some(request.nonce));
    let machine = claims.machine.unwrap();
    assert_eq!(machine.components, request.components);
    assert_eq!(
        machine.device_key,
        Some(KeyId::of_public_key(&request.device_key).0)
    );
    assert_eq!(claims.product, request.product);
    assert_eq!(claims.product_key, request.product_key);
}
