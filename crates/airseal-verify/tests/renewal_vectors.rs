//! Every case in `vectors/renewal.json` (license updates, SPEC.md §15.8) gets exactly its
//! expected outcome from `check_update` against `renewal/installed.cose` and the machine's
//! device key: the update's claims when it installs, the error class otherwise.

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use airseal_core::json::claims_to_json;
use airseal_verify::TrustStore;
use airseal_verify::app::device::check_update;
use serde_json::Value;

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../vectors")
}

fn unhex<const N: usize>(v: &Value) -> [u8; N] {
    hex::decode(v.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

#[test]
fn every_renewal_vector_has_its_outcome() {
    let dir = vectors_dir();
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("renewal.json")).unwrap()).unwrap();
    let mut trust = TrustStore::new();
    for k in manifest["trusted_public_keys"].as_array().unwrap() {
        trust.add_key(&unhex::<32>(k)).unwrap();
    }
    let device: [u8; 32] = unhex(&manifest["device_public_key"]);
    let installed = std::fs::read(dir.join(manifest["installed"].as_str().unwrap())).unwrap();
    let cases = manifest["cases"].as_array().unwrap();
    assert!(cases.len() >= 10, "{} cases", cases.len());
    let mut accepted = 0;
    for case in cases {
        let file = case["file"].as_str().unwrap();
        let update = std::fs::read(dir.join(file)).unwrap();
        let now = case["now"].as_i64().unwrap();
        let expected = &case["expected"];
        match check_update(&trust, &update, &installed, &device, now) {
            Ok(license) => {
                assert_eq!(expected["result"], "installed", "{file}: installed");
                assert_eq!(
                    claims_to_json(license.claims()),
                    expected["claims"],
                    "{file}"
                );
                accepted += 1;
            }
            Err(e) => {
                assert_eq!(expected["result"], "error", "{file}: refused with {e}");
                assert_eq!(e.class(), expected["error"], "{file}: {e}");
            }
        }
    }
    assert!(
        accepted >= 2,
        "the valid update and its armored form install"
    );
}

/// The fuzz hook checks updates against the vectors' installed license, so the vector
/// update reaches acceptance there (the fuzzer explores past every check).
#[test]
fn the_fuzz_hooks_installed_license_is_the_vectors() {
    let dir = vectors_dir();
    let installed = std::fs::read(dir.join("renewal/installed.cose")).unwrap();
    assert_eq!(
        airseal_verify::fuzz_installed_license(),
        installed.as_slice()
    );
    let update = std::fs::read(dir.join("renewal/renewal.cose")).unwrap();
    airseal_verify::fuzz_license_update(&update);
    airseal_verify::fuzz_license_update(b"junk");
}
