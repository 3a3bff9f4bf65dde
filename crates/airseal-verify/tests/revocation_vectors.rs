//! Every case of `vectors/revocations.json` (`SPEC.md` §13): the signed list verifies and
//! names the revoked keys in their match form, and a license carrying each case's product
//! key is refused as `revoked` (exit 23's error) exactly when the case says so.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use airseal_core::LicenseClaims;
use airseal_core::productkey::match_form;
use airseal_vendor::issue::Issuer;
use airseal_verify::{Error, Expected, TrustStore};
use ed25519_dalek::SigningKey;
use serde_json::Value;

fn vectors() -> Value {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vectors/revocations.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn licenses_are_revoked_by_every_spelling_of_a_listed_key_and_no_other() {
    let v = vectors();
    let text = |k: &str| v[k].as_str().unwrap().to_string();
    let public: [u8; 32] = hex::decode(text("public_key")).unwrap().try_into().unwrap();
    let mut trust = TrustStore::new();
    trust.add_key(&public).unwrap();
    let list = trust
        .verify_revocations(&hex::decode(text("list")).unwrap())
        .unwrap();
    // The list holds the match form of each key the vendor revoked, as stored.
    let mut entries: Vec<String> = v["revoked_stored_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| match_form(k.as_str().unwrap()).into_owned())
        .collect();
    entries.sort();
    let mut listed = list.product_keys.clone();
    listed.sort();
    assert_eq!(listed, entries);

    // Licenses signed by another trusted key, one per case.
    let issuer = Issuer::new(SigningKey::from_bytes(&[7; 32]));
    trust.add_key(&issuer.public_key()).unwrap();
    let product = text("product");
    let cases = v["cases"].as_array().unwrap();
    assert!(cases.len() >= 4);
    let (mut revoked, mut kept) = (0, 0);
    for c in cases {
        let carried = c["license_product_key"].as_str().unwrap();
        assert_eq!(
            match_form(carried),
            c["match_form"].as_str().unwrap(),
            "{c}"
        );
        let mut claims = LicenseClaims::new(
            "acme",
            text("license_id"),
            product.clone(),
            list.issued_at - 1,
            vec![1; 8],
        );
        claims.product_key = Some(carried.to_string());
        let bytes = issuer.issue(claims).unwrap();
        let got = trust.verify(
            &bytes,
            list.issued_at,
            &Expected::product(&product).revocations(&list),
        );
        match c["expected"].as_str().unwrap() {
            "revoked" => {
                assert!(matches!(got, Err(Error::Revoked { .. })), "{c}: {got:?}");
                revoked += 1;
            }
            "not_revoked" => {
                assert!(got.is_ok(), "{c}: {got:?}");
                kept += 1;
            }
            other => panic!("unknown expectation {other}"),
        }
    }
    assert!(revoked > 0 && kept > 0);
}
