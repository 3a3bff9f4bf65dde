//! Every case in `vectors/manifest.json` verifies to exactly its expected outcome, and every
//! valid license re-encodes to the same claim bytes (decode → encode is the identity).

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use airseal_core::LicenseClaims;
use airseal_core::armor::dearmor;
use airseal_core::cose::parse_sign1;
use airseal_verify::{Expected, Machine, Status, TrustStore};
use serde_json::Value;

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../vectors")
}

fn manifest() -> Value {
    let text = std::fs::read_to_string(vectors_dir().join("manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn hex32(s: &str) -> [u8; 32] {
    hex::decode(s).unwrap().try_into().unwrap()
}

fn machine(case: &Value) -> Option<Machine> {
    case["machine"].as_array().map(|list| {
        Machine::from_component_hashes(
            list.iter()
                .map(|h| {
                    hex::decode(h.as_str().unwrap())
                        .unwrap()
                        .try_into()
                        .unwrap()
                })
                .collect(),
        )
    })
}

#[test]
fn every_vector_has_its_expected_outcome() {
    check_every_vector(false);
}

/// The same with precomputed tables: the fast path must give exactly the same outcomes.
#[test]
fn every_vector_has_its_expected_outcome_with_precomputed_keys() {
    check_every_vector(true);
}

fn check_every_vector(precompute: bool) {
    let m = manifest();
    let cases = m["cases"].as_array().unwrap();
    let (mut valid, mut hostile) = (0, 0);
    for case in cases {
        let name = case["file"].as_str().unwrap();
        let bytes = std::fs::read(vectors_dir().join(name)).unwrap();
        let mut trust = TrustStore::new();
        // A key the trust store refuses (SPEC.md §3.1) is the case's outcome.
        let mut refused = None;
        for k in case["trusted_public_keys"].as_array().unwrap() {
            let hex = k.as_str().unwrap();
            let window = &case["key_validity"][hex];
            let validity = airseal_verify::KeyValidity {
                not_before: window["not_before"].as_i64(),
                not_after: window["not_after"].as_i64(),
            };
            if let Err(e) = trust.add_key_with_validity(&hex32(hex), validity) {
                refused.get_or_insert(e);
            }
        }
        if precompute {
            trust.precompute();
        }
        let now = case["now"].as_i64().unwrap();
        let machine = machine(case).map(|m| match case["device_public_key"].as_str() {
            Some(device) => m.with_device_key(&hex32(device)),
            None => m,
        });
        let mut expected = Expected::product(case["product"].as_str().unwrap());
        if let Some(m) = &machine {
            expected = expected.machine(m);
        }
        if let Some(released) = case["release_date"].as_i64() {
            expected = expected.release_date(released);
        }
        let result = match refused {
            Some(e) => Err(e),
            None => trust.verify(&bytes, now, &expected),
        };
        let want = &case["expected"];
        match want["result"].as_str().unwrap() {
            "valid" => {
                valid += 1;
                let license = result.unwrap_or_else(|e| panic!("{name}: expected valid, got {e}"));
                let status = match license.status() {
                    Status::Valid => "valid",
                    Status::InGrace { .. } => "in_grace",
                    _ => "other",
                };
                assert_eq!(status, want["status"].as_str().unwrap(), "{name}: status");
                assert_eq!(
                    airseal_core::json::claims_to_json(license.claims()),
                    want["claims"],
                    "{name}: claims"
                );
                let active: Vec<Value> = license
                    .active_features(now)
                    .into_iter()
                    .map(Value::from)
                    .collect();
                assert_eq!(
                    Value::from(active),
                    want["active_features"],
                    "{name}: active features"
                );
            }
            "error" => {
                hostile += 1;
                let err = match result {
                    Ok(_) => panic!("{name}: expected {}, got a valid license", want["error"]),
                    Err(e) => e,
                };
                assert_eq!(
                    err.class(),
                    want["error"].as_str().unwrap(),
                    "{name}: {err}"
                );
                if let airseal_verify::Error::Malformed(e) = &err {
                    // Malformed cases also pin where and which rule, so a vector cannot pass
                    // by failing for some other reason.
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
            other => panic!("{name}: unknown expected result {other}"),
        }
    }
    assert!(valid >= 12, "only {valid} valid vectors");
    assert!(hostile >= 30, "only {hostile} hostile vectors");
}

#[test]
fn decode_then_encode_gives_the_same_bytes() {
    let m = manifest();
    let mut checked = 0;
    for case in m["cases"].as_array().unwrap() {
        if case["expected"]["result"] != "valid" {
            continue;
        }
        let bytes = std::fs::read(vectors_dir().join(case["file"].as_str().unwrap())).unwrap();
        let raw = dearmor(&bytes).unwrap();
        let sign1 = parse_sign1(&raw).unwrap();
        let claims = LicenseClaims::decode(sign1.payload, 0).unwrap();
        assert_eq!(claims.encode(), sign1.payload, "{}", case["file"]);
        // The envelope too: re-assembling the parts gives the input bytes.
        let again =
            airseal_core::cose::encode_sign1(sign1.protected, sign1.payload, &sign1.signature);
        assert_eq!(again, raw.as_ref());
        checked += 1;
    }
    assert!(checked >= 12);
}

#[test]
fn typical_node_locked_license_is_under_300_bytes() {
    let bytes = std::fs::read(vectors_dir().join("licenses/valid-node-locked.cose")).unwrap();
    assert!(
        bytes.len() < 300,
        "typical node-locked license is {} bytes",
        bytes.len()
    );
}

#[test]
fn readme_example_files_verify() {
    let (public, license) = airseal_verify::doc_example();
    let mut trust = TrustStore::new();
    trust.add_public_key_file(public.as_bytes()).unwrap();
    trust
        .verify(
            license.as_bytes(),
            1_767_225_600,
            &Expected::product("photo-pro"),
        )
        .unwrap();
}

/// The activation-response vector installs against the request the fuzz hook uses (so the
/// fuzzer starts from a response that passes every check), and only against that request.
#[test]
fn activation_response_vector_answers_the_fuzz_hooks_request() {
    let bytes = std::fs::read(vectors_dir().join("licenses/activation-response.cose")).unwrap();
    let mut trust = TrustStore::new();
    trust
        .add_key(&hex32(
            "bc7cbcb5636375fa1d82434d466724d92377f53b980695dd49d26d0ce12205a5",
        ))
        .unwrap();
    let request = airseal_verify::fuzz_pending_request();
    let license =
        airseal_verify::app::device::check_response(&trust, &bytes, &request, 1_767_225_600)
            .unwrap();
    assert_eq!(license.claims().request_nonce, Some(request.nonce));
    let mut other = request.clone();
    other.nonce[0] ^= 1;
    assert!(matches!(
        airseal_verify::app::device::check_response(&trust, &bytes, &other, 1_767_225_600),
        Err(airseal_verify::Error::WrongRequest { .. })
    ));
    let mut moved = request;
    moved.device_key = [0x6e; 32];
    assert!(
        airseal_verify::app::device::check_response(&trust, &bytes, &moved, 1_767_225_600).is_err()
    );
}
