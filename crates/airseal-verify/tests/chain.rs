#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Issuing-key certificates (SPEC.md §18): objects signed by a key a root certified verify
//! with only the root trusted, and each chain rule refuses with its own error.

use airseal_core::cert::{Certificate, MaySign};
use airseal_core::cose::{self, ObjectType};
use airseal_core::revocation::RevocationList;
use airseal_core::{KeyId, LicenseClaims, armor};
use airseal_verify::{Error, Expected, KeyValidity, TrustStore};
use ed25519_dalek::{Signer, SigningKey};

const T: i64 = 1_767_225_600;
const DAY: i64 = 86_400;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn kid(k: &SigningKey) -> KeyId {
    KeyId::of_public_key(k.verifying_key().as_bytes())
}

fn cert_for(issuing: &SigningKey, tweak: impl FnOnce(&mut Certificate)) -> Certificate {
    let mut c = Certificate {
        serial: 7,
        key: issuing.verifying_key().to_bytes(),
        not_before: T - DAY,
        not_after: T + 90 * DAY,
        products: vec![],
        may_sign: MaySign::LICENSES.with(MaySign::ACTIVATIONS),
        list_seq: None,
    };
    tweak(&mut c);
    c.normalize();
    c
}

fn sign_cert(root: &SigningKey, cert: &Certificate) -> Vec<u8> {
    let protected = cose::encode_protected(&kid(root), ObjectType::Certificate);
    let payload = cert.encode();
    let sig = root.sign(&cose::sig_structure(&protected, &payload));
    cose::encode_sign1(&protected, &payload, &sig.to_bytes())
}

fn sign_chained(issuing: &SigningKey, cert: &[u8], typ: ObjectType, payload: &[u8]) -> Vec<u8> {
    let protected = cose::encode_protected_with_cert(typ, cert);
    let sig = issuing.sign(&cose::sig_structure(&protected, payload));
    cose::encode_sign1(&protected, payload, &sig.to_bytes())
}

fn license(product: &str, iat: i64) -> Vec<u8> {
    let mut c = LicenseClaims::new("acme", "0123456789ABC", product, iat, vec![1; 8]);
    c.normalize();
    c.encode()
}

fn trust(root: &SigningKey) -> TrustStore {
    let mut t = TrustStore::new();
    t.add_key(root.verifying_key().as_bytes()).unwrap();
    t
}

fn verify(t: &TrustStore, bytes: &[u8]) -> Result<airseal_verify::License, Error> {
    t.verify(bytes, T, &Expected::product("photo-pro"))
}

#[test]
fn a_chained_license_verifies_with_only_the_root() {
    let (root, issuing) = (key(1), key(2));
    let cert = sign_cert(&root, &cert_for(&issuing, |_| {}));
    let lic = sign_chained(
        &issuing,
        &cert,
        ObjectType::License,
        &license("photo-pro", T),
    );
    let t = trust(&root);
    let ok = verify(&t, &lic).unwrap();
    assert_eq!(ok.key_id(), kid(&issuing));
    let issuer = ok.issuer().unwrap();
    assert_eq!(
        (issuer.root(), issuer.certificate().serial),
        (kid(&root), 7)
    );
    // The armored form too, and the header names the issuing key.
    let armored = armor::armor("AIRSEAL LICENSE", &lic);
    assert!(verify(&t, armored.as_bytes()).is_ok());
    assert_eq!(cose::parse_sign1(&lic).unwrap().header.kid, kid(&issuing));
    // A root-signed license still verifies exactly as before.
    let plain = {
        let payload = license("photo-pro", T);
        let protected = cose::encode_protected(&kid(&root), ObjectType::License);
        let sig = root.sign(&cose::sig_structure(&protected, &payload));
        cose::encode_sign1(&protected, &payload, &sig.to_bytes())
    };
    let ok = verify(&t, &plain).unwrap();
    assert!(ok.issuer().is_none());
    assert_eq!(ok.key_id(), kid(&root));
}

#[test]
fn each_chain_rule_refuses_with_its_error() {
    let (root, issuing, stranger) = (key(1), key(2), key(3));
    let t = trust(&root);
    let good = sign_cert(&root, &cert_for(&issuing, |_| {}));
    let payload = license("photo-pro", T);

    // Certificate signed by a key the app does not trust.
    let c = sign_cert(&stranger, &cert_for(&issuing, |_| {}));
    let lic = sign_chained(&issuing, &c, ObjectType::License, &payload);
    assert_eq!(
        verify(&t, &lic).unwrap_err(),
        Error::UnknownKeyId {
            kid: kid(&stranger)
        }
    );
    // Certificate tampered after signing: its window widened by a day.
    let widened = cert_for(&issuing, |c| c.not_after += DAY).encode();
    let mut c = good.clone();
    let original = cert_for(&issuing, |_| {}).encode();
    let at = c
        .windows(original.len())
        .position(|w| w == original)
        .unwrap();
    c[at..at + original.len()].copy_from_slice(&widened);
    let lic = sign_chained(&issuing, &c, ObjectType::License, &payload);
    assert_eq!(
        verify(&t, &lic).unwrap_err(),
        Error::BadCertificateSignature { root: kid(&root) }
    );
    // Object signed by another key than the certified one.
    let lic = sign_chained(&stranger, &good, ObjectType::License, &payload);
    assert_eq!(verify(&t, &lic).unwrap_err(), Error::BadSignature);
    // Type not allowed: a key for activations only signing a plain license.
    let c = sign_cert(
        &root,
        &cert_for(&issuing, |c| c.may_sign = MaySign::ACTIVATIONS),
    );
    let lic = sign_chained(&issuing, &c, ObjectType::License, &payload);
    assert_eq!(
        verify(&t, &lic).unwrap_err().class(),
        "certificate_type_not_allowed"
    );
    // Product not allowed.
    let c = sign_cert(
        &root,
        &cert_for(&issuing, |c| c.products = vec!["cad".into()]),
    );
    let lic = sign_chained(&issuing, &c, ObjectType::License, &payload);
    assert_eq!(
        verify(&t, &lic).unwrap_err(),
        Error::CertificateProductNotAllowed {
            serial: 7,
            product: "photo-pro".into()
        }
    );
    // Issued outside the window: before, and at the (exclusive) end.
    for iat in [T - 2 * DAY, T + 90 * DAY] {
        let lic = sign_chained(
            &issuing,
            &good,
            ObjectType::License,
            &license("photo-pro", iat),
        );
        let e = t
            .verify(&lic, T + 91 * DAY, &Expected::product("photo-pro"))
            .unwrap_err();
        assert_eq!(e.class(), "certificate_out_of_validity", "iat {iat}");
    }
    // The root's own window applies to the chain.
    let mut windowed = TrustStore::new();
    windowed
        .add_key_with_validity(
            root.verifying_key().as_bytes(),
            KeyValidity {
                not_before: None,
                not_after: Some(T),
            },
        )
        .unwrap();
    let lic = sign_chained(&issuing, &good, ObjectType::License, &payload);
    assert_eq!(
        verify(&windowed, &lic).unwrap_err(),
        Error::KeyOutOfValidity {
            kid: kid(&root),
            issued_at: T
        }
    );
    // Revoked issuing key: refused whatever its iat says.
    let mut list = RevocationList {
        seq: 3,
        issued_at: T,
        issuing_keys: vec![kid(&issuing)],
        ..RevocationList::default()
    };
    list.normalize();
    for iat in [T - DAY, T] {
        let lic = sign_chained(
            &issuing,
            &good,
            ObjectType::License,
            &license("photo-pro", iat),
        );
        assert_eq!(
            t.verify(&lic, T, &Expected::product("photo-pro").revocations(&list))
                .unwrap_err(),
            Error::IssuingKeyRevoked {
                kid: kid(&issuing),
                list_seq: 3
            }
        );
    }
}

#[test]
fn header_rules_for_carried_certificates() {
    let (root, issuing) = (key(1), key(2));
    let t = trust(&root);
    let good = sign_cert(&root, &cert_for(&issuing, |_| {}));
    // A certificate presented as a license is the wrong type.
    assert_eq!(verify(&t, &good).unwrap_err().class(), "wrong_type");
    // A certificate cannot carry a certificate.
    let payload = cert_for(&issuing, |_| {}).encode();
    let nested = sign_chained(&issuing, &good, ObjectType::Certificate, &payload);
    let mut t2 = trust(&root);
    assert_eq!(
        t2.add_certificate(&nested).unwrap_err().class(),
        "malformed"
    );
    // Nor does a request.
    let req = sign_chained(&issuing, &good, ObjectType::ActivationRequest, b"\xa0");
    assert!(cose::parse_sign1(&req).is_err());
    // A license whose header holds a license where the certificate belongs.
    let lic = sign_chained(
        &issuing,
        &good,
        ObjectType::License,
        &license("photo-pro", T),
    );
    let wrapped = sign_chained(
        &issuing,
        &lic,
        ObjectType::License,
        &license("photo-pro", T),
    );
    assert_eq!(verify(&t, &wrapped).unwrap_err().class(), "malformed");
}

#[test]
fn added_certificates_skip_the_root_check_and_sign_keys() {
    let (root, issuing) = (key(1), key(2));
    let cert = sign_cert(&root, &cert_for(&issuing, |_| {}));
    let lic = sign_chained(
        &issuing,
        &cert,
        ObjectType::License,
        &license("photo-pro", T),
    );
    let mut t = trust(&root);
    let issuer = t.add_certificate(&cert).unwrap();
    assert_eq!(issuer.key_id(), kid(&issuing));
    t.add_certificate(armor::armor("AIRSEAL ISSUING KEY CERTIFICATE", &cert).as_bytes())
        .unwrap();
    t.precompute();
    assert_eq!(verify(&t, &lic).unwrap().key_id(), kid(&issuing));
    // A certificate from an untrusted root is not added.
    let mut other = TrustStore::new();
    assert_eq!(
        other.add_certificate(&cert).unwrap_err(),
        Error::UnknownKeyId { kid: kid(&root) }
    );
}

fn list_bytes(signer: &SigningKey, cert: Option<&[u8]>, list: &RevocationList) -> Vec<u8> {
    match cert {
        Some(c) => sign_chained(signer, c, ObjectType::RevocationList, &list.encode()),
        None => {
            let protected = cose::encode_protected(&kid(signer), ObjectType::RevocationList);
            let payload = list.encode();
            let sig = signer.sign(&cose::sig_structure(&protected, &payload));
            cose::encode_sign1(&protected, &payload, &sig.to_bytes())
        }
    }
}

#[test]
fn revocation_lists_respect_windows_rights_and_ranges() {
    let (root, issuing, other) = (key(1), key(2), key(4));
    let list = |seq: u64, issuing_keys: Vec<KeyId>| {
        let mut l = RevocationList {
            seq,
            issued_at: T,
            issuing_keys,
            ..RevocationList::default()
        };
        l.normalize();
        l
    };
    let t = trust(&root);
    // The root signs any list.
    assert_eq!(
        t.verify_revocations(&list_bytes(&root, None, &list(u64::MAX, vec![])))
            .unwrap()
            .seq,
        u64::MAX
    );
    // A root outside its window does not (the issue: lists ignored key windows).
    let mut windowed = TrustStore::new();
    windowed
        .add_key_with_validity(
            root.verifying_key().as_bytes(),
            KeyValidity {
                not_before: Some(T + 1),
                not_after: None,
            },
        )
        .unwrap();
    assert_eq!(
        windowed
            .verify_revocations(&list_bytes(&root, None, &list(1, vec![])))
            .unwrap_err()
            .class(),
        "key_out_of_validity"
    );
    // An issuing key without the right to sign lists.
    let licenses_only = sign_cert(&root, &cert_for(&issuing, |_| {}));
    assert_eq!(
        t.verify_revocations(&list_bytes(
            &issuing,
            Some(&licenses_only),
            &list(5, vec![])
        ))
        .unwrap_err()
        .class(),
        "certificate_type_not_allowed"
    );
    // With the right: only inside its range, so it cannot push the sequence to the end.
    let lists = sign_cert(
        &root,
        &cert_for(&issuing, |c| {
            c.may_sign = MaySign::REVOCATIONS;
            c.list_seq = Some((100, 200));
        }),
    );
    assert_eq!(
        t.verify_revocations(&list_bytes(
            &issuing,
            Some(&lists),
            &list(150, vec![kid(&other)])
        ))
        .unwrap()
        .issuing_keys,
        vec![kid(&other)]
    );
    for seq in [99, 200, u64::MAX] {
        assert_eq!(
            t.verify_revocations(&list_bytes(&issuing, Some(&lists), &list(seq, vec![])))
                .unwrap_err(),
            Error::RevocationSeqOutOfRange {
                seq,
                lo: 100,
                hi: 200
            }
        );
    }
    // A list naming its own signer is refused (it cannot vouch for itself).
    assert_eq!(
        t.verify_revocations(&list_bytes(
            &issuing,
            Some(&lists),
            &list(150, vec![kid(&issuing)])
        ))
        .unwrap_err()
        .class(),
        "issuing_key_revoked"
    );
}

#[test]
fn revoking_an_issuing_key_ends_the_signed_keys_it_made() {
    use airseal_core::signedkey::{self, SignedKeyPayload};
    let (root, issuing) = (key(1), key(2));
    let cert = sign_cert(
        &root,
        &cert_for(&issuing, |c| c.may_sign = MaySign::SIGNED_KEYS),
    );
    let payload = SignedKeyPayload {
        kid: kid(&issuing),
        product_tag: signedkey::product_tag("photo-pro"),
        features: 1,
        days: 0,
        created_day: u16::try_from((T - signedkey::EPOCH_2020) / DAY).unwrap(),
        serial: 42,
    };
    let bytes = payload.to_bytes();
    let signature = issuing.sign(&signedkey::signing_message(&bytes)).to_bytes();
    let typed = signedkey::encode(&bytes, &signature);
    let mut t = trust(&root);
    // Not before its certificate is added: a key string cannot carry one.
    assert_eq!(
        t.verify_signed_key(&typed, "photo-pro", T).unwrap_err(),
        Error::UnknownKeyId { kid: kid(&issuing) }
    );
    t.add_certificate(&cert).unwrap();
    let empty = RevocationList {
        seq: 1,
        issued_at: T,
        ..RevocationList::default()
    };
    assert!(
        t.verify_signed_key_with_revocations(&typed, "photo-pro", T, &empty)
            .is_ok()
    );
    let mut revoking = RevocationList {
        seq: 2,
        issued_at: T,
        issuing_keys: vec![kid(&issuing)],
        ..RevocationList::default()
    };
    revoking.normalize();
    assert_eq!(
        t.verify_signed_key_with_revocations(&typed, "photo-pro", T, &revoking)
            .unwrap_err(),
        Error::IssuingKeyRevoked {
            kid: kid(&issuing),
            list_seq: 2
        }
    );
    // A list naming the key itself, in any spelling, refuses it too.
    let mut naming = RevocationList {
        seq: 3,
        issued_at: T,
        product_keys: vec![
            airseal_core::productkey::match_form(&typed.to_lowercase()).into_owned(),
        ],
        ..RevocationList::default()
    };
    naming.normalize();
    assert_eq!(
        t.verify_signed_key_with_revocations(&typed, "photo-pro", T, &naming)
            .unwrap_err()
            .class(),
        "revoked"
    );
}
