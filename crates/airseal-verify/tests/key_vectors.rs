//! Every case of `vectors/keys.json` reads as it says: valid keys to their canonical form,
//! typos as typos, malformed input as malformed; data keys to their fields with a valid MAC;
//! signed keys verify with the given public key.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use airseal_core::productkey::{KeyError, Pattern};
use airseal_vendor::keys::decode_data_key;
use airseal_verify::TrustStore;
use serde_json::Value;

fn vectors() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vectors/keys.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn key_strings_read_as_expected() {
    let v = vectors();
    let cases = v["keys"].as_array().unwrap();
    assert!(cases.len() >= 20);
    for c in cases {
        let pattern = Pattern::parse(c["pattern"].as_str().unwrap()).unwrap();
        let input = c["input"].as_str().unwrap();
        let got = pattern.canonicalize(input);
        match c["expected"].as_str().unwrap() {
            "valid" => assert_eq!(got.as_deref(), Ok(c["canonical"].as_str().unwrap()), "{c}"),
            "typo" => assert_eq!(got, Err(KeyError::CheckSymbolMismatch), "{c}"),
            "malformed" => {
                let reason = c["reason"].as_str().unwrap();
                match got {
                    Err(KeyError::WrongLength { .. }) => assert_eq!(reason, "wrong_length", "{c}"),
                    Err(KeyError::InvalidCharacter { .. }) => {
                        assert_eq!(reason, "invalid_character", "{c}")
                    }
                    other => panic!("{c}: {other:?}"),
                }
            }
            other => panic!("unknown expectation {other}"),
        }
    }
}

#[test]
fn data_keys_decode_to_their_fields() {
    let v = vectors();
    let mac_key: [u8; 32] = hex::decode(v["data_key_mac_key"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    for c in v["data_keys"].as_array().unwrap() {
        let pattern = Pattern::parse(c["pattern"].as_str().unwrap()).unwrap();
        let canonical = pattern.canonicalize(c["key"].as_str().unwrap()).unwrap();
        let product = c["product"].as_str().unwrap();
        let info = decode_data_key(&pattern, &canonical, product, Some(&mac_key));
        assert_eq!(
            u64::from(info.fields.features),
            c["features"].as_u64().unwrap()
        );
        assert_eq!(u64::from(info.fields.days), c["days"].as_u64().unwrap());
        assert_eq!(
            u64::from(info.fields.created_day),
            c["created_day"].as_u64().unwrap()
        );
        assert_eq!(u64::from(info.fields.serial), c["serial"].as_u64().unwrap());
        assert_eq!(info.fields.created_at(), c["created"].as_i64().unwrap());
        assert!(info.product_matches);
        assert_eq!(info.mac_valid, Some(true));
        assert_eq!(
            decode_data_key(&pattern, &canonical, product, Some(&[0; 32])).mac_valid,
            Some(false)
        );
    }
}

#[test]
fn signed_keys_verify_with_the_public_key() {
    let v = vectors();
    for c in v["signed_keys"].as_array().unwrap() {
        let mut trust = TrustStore::new();
        trust
            .add_key(
                &hex::decode(c["public_key"].as_str().unwrap())
                    .unwrap()
                    .try_into()
                    .unwrap(),
            )
            .unwrap();
        let key = trust
            .verify_signed_key(
                c["key"].as_str().unwrap(),
                c["product"].as_str().unwrap(),
                c["now"].as_i64().unwrap(),
            )
            .unwrap();
        assert_eq!(
            u64::from(key.features()),
            c["features"].as_u64().unwrap(),
            "{c}"
        );
        assert_eq!(u64::from(key.serial()), c["serial"].as_u64().unwrap());
        assert_eq!(key.created_at(), c["created"].as_i64().unwrap());
    }
}
