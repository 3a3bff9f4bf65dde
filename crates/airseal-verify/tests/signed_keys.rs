#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Signed keys end to end (`SPEC.md` §12.4): the vendor signs, the app verifies with only the
//! public key, and every way a key can be wrong is reported as its own error class.

use airseal_core::cose::{self, ObjectType};
use airseal_core::signedkey::{self, SignedKeyPayload};
use airseal_core::{LicenseClaims, armor};
use airseal_vendor::issue::Issuer;
use airseal_vendor::signedkey::{sign_key, sign_keys_parallel};
use airseal_verify::{DecodeErrorKind, Error, Expected, TrustStore};
use ed25519_dalek::SigningKey;

/// 2026-01-01T00:00:00Z.
const DAY_START: i64 = 1_767_225_600;
/// Issue time: noon that day (the key records the day).
const CREATED: i64 = DAY_START + 12 * 3_600;
const DAY: i64 = 86_400;

fn issuer() -> Issuer {
    Issuer::new(SigningKey::from_bytes(&[7; 32]))
}

fn trust(issuer: &Issuer) -> TrustStore {
    let mut t = TrustStore::new();
    t.add_key(&issuer.public_key()).unwrap();
    t
}

/// F1 + F3, 30 days, serial 0x1234_5678.
fn sample_key(issuer: &Issuer) -> String {
    sign_key(issuer, "photo-pro", 0b101, 30, CREATED, 0x1234_5678)
}

/// The key with its payload changed by `edit`, re-encoded with the ORIGINAL signature and a
/// correct check symbol: what a forger who edits the fields and fixes the check symbol gets.
fn tampered(key: &str, edit: impl FnOnce(&mut [u8; 20])) -> String {
    let (mut bytes, _, signature) = signedkey::decode(key).unwrap();
    edit(&mut bytes);
    signedkey::encode(&bytes, &signature)
}

#[test]
fn signed_key_verifies_with_features_and_expiry() {
    let issuer = issuer();
    let key = sample_key(&issuer);
    let verified = trust(&issuer)
        .verify_signed_key(&key, "photo-pro", CREATED + 3_600)
        .unwrap();
    assert_eq!(verified.features(), 0b101);
    assert!(verified.feature_enabled("F1"));
    assert!(!verified.feature_enabled("F2"));
    assert!(verified.feature_enabled("F3"));
    assert!(!verified.feature_enabled("export-raw"));
    assert_eq!(verified.created_at(), DAY_START);
    assert_eq!(verified.expires_at(), Some(DAY_START + 30 * DAY));
    assert_eq!(verified.serial(), 0x1234_5678);
    assert_eq!(verified.key_id(), issuer.key_id());
    assert_eq!(verified.payload().days, 30);
}

#[test]
fn sloppy_typing_still_verifies() {
    let issuer = issuer();
    let key = sample_key(&issuer);
    let sloppy = key
        .to_lowercase()
        .replace('0', "o")
        .replace('1', "l")
        .replacen('-', " ", 8)
        .replacen('-', "\n", 1);
    trust(&issuer)
        .verify_signed_key(&sloppy, "photo-pro", CREATED)
        .unwrap();
}

#[test]
fn key_without_expiry_never_expires() {
    let issuer = issuer();
    let key = sign_key(&issuer, "photo-pro", 0, 0, CREATED, 9);
    let verified = trust(&issuer)
        .verify_signed_key(&key, "photo-pro", i64::MAX)
        .unwrap();
    assert_eq!(verified.expires_at(), None);
    assert!(!verified.feature_enabled("F1"));
}

#[test]
fn wrong_product() {
    let issuer = issuer();
    let key = sample_key(&issuer);
    let e = trust(&issuer)
        .verify_signed_key(&key, "photo-lite", CREATED)
        .unwrap_err();
    let [a, b] = signedkey::product_tag("photo-pro");
    assert_eq!(
        e,
        Error::WrongProduct {
            expected: "photo-lite".into(),
            found: format!("product tag {a:02x}{b:02x}"),
        }
    );
    assert_eq!(e.class(), "wrong_product");
}

#[test]
fn key_signed_by_another_key_is_unknown_key_id() {
    let issuer = issuer();
    let other = Issuer::new(SigningKey::from_bytes(&[8; 32]));
    let key = sample_key(&other);
    let e = trust(&issuer)
        .verify_signed_key(&key, "photo-pro", CREATED)
        .unwrap_err();
    assert_eq!(
        e,
        Error::UnknownKeyId {
            kid: other.key_id()
        }
    );
    // An empty trust store, too.
    let e = TrustStore::new()
        .verify_signed_key(&key, "photo-pro", CREATED)
        .unwrap_err();
    assert_eq!(e.class(), "unknown_key_id");
}

#[test]
fn edited_payload_is_a_bad_signature_not_a_typo() {
    let issuer = issuer();
    let trust = trust(&issuer);
    let key = sample_key(&issuer);
    // Every payload bit except the format byte and the key id (those give their own errors,
    // below), flipped with the check symbol recomputed: the signature catches each one.
    for bit in 9 * 8..20 * 8 {
        let forged = tampered(&key, |b| b[bit / 8] ^= 1 << (bit % 8));
        assert_eq!(
            trust.verify_signed_key(&forged, "photo-pro", CREATED),
            Err(Error::BadSignature),
            "payload bit {bit}"
        );
    }
    // A signature bit, likewise.
    let (bytes, _, mut signature) = signedkey::decode(&key).unwrap();
    signature[10] ^= 0x20;
    let forged = signedkey::encode(&bytes, &signature);
    assert_eq!(
        trust.verify_signed_key(&forged, "photo-pro", CREATED),
        Err(Error::BadSignature)
    );
    // A changed key id names a key the app does not trust: not "forged".
    let forged = tampered(&key, |b| b[1] ^= 1);
    assert_eq!(
        trust
            .verify_signed_key(&forged, "photo-pro", CREATED)
            .unwrap_err()
            .class(),
        "unknown_key_id"
    );
}

#[test]
fn typo_is_reported_as_a_typo() {
    let issuer = issuer();
    let trust = trust(&issuer);
    let key = sample_key(&issuer);
    // One wrong symbol anywhere, or two neighbours swapped (the core tests try them all).
    for pos in [0, 5, 40, 100, key.len() - 1] {
        let mut typo = key.clone().into_bytes();
        typo[pos] = if typo[pos] == b'7' { b'8' } else { b'7' };
        let typo = String::from_utf8(typo).unwrap();
        let e = trust
            .verify_signed_key(&typo, "photo-pro", CREATED)
            .unwrap_err();
        assert_eq!(e, Error::Typo, "symbol {pos}");
        assert_eq!((e.code(), e.class()), (20, "typo"));
    }
    let mut swapped = key.clone().into_bytes();
    let i = (0..swapped.len() - 1)
        .find(|&i| swapped[i] != swapped[i + 1] && swapped[i] != b'-' && swapped[i + 1] != b'-')
        .unwrap();
    swapped.swap(i, i + 1);
    assert_eq!(
        trust.verify_signed_key(&String::from_utf8(swapped).unwrap(), "photo-pro", CREATED),
        Err(Error::Typo)
    );
}

#[test]
fn strings_that_are_not_signed_keys_are_malformed() {
    let issuer = issuer();
    let trust = trust(&issuer);
    let key = sample_key(&issuer);
    let malformed = |typed: &str, offset: usize, why: &str| match trust.verify_signed_key(
        typed,
        "photo-pro",
        CREATED,
    ) {
        Err(Error::Malformed(d)) => {
            assert_eq!(d.context, "signed key");
            assert_eq!(d.offset, offset, "{d}");
            assert!(
                matches!(d.kind, DecodeErrorKind::InvalidValue(w) if w.contains(why)),
                "{d}"
            );
        }
        other => panic!("{typed:?}: {other:?}"),
    };
    malformed(&key[..key.len() - 1], 135, "too few");
    malformed(&format!("{key}-7"), 136, "too many");
    malformed("ABCDE-FGHJK-MNPQR-STVWX", 20, "too few");
    malformed(&key.replacen('-', "_", 1), 8, "not a key symbol");
    malformed(&key.replacen('-', "U", 1), 8, "not a key symbol");
    let mut other_format = tampered(&key, |b| b[0] = 0xA2);
    malformed(&other_format, 0, "version 1");
    // Padding bits set, with a valid check symbol: a second spelling of a key is refused.
    other_format = key.replace('-', "");
    let mut values: Vec<u8> = other_format
        .bytes()
        .map(|c| airseal_core::productkey::symbol_value(c).unwrap())
        .collect();
    values.truncate(135);
    values[134] |= 1;
    let check = airseal_core::productkey::check_value(values.iter().copied());
    values.push(check);
    let padded: String = values
        .iter()
        .map(|v| char::from(airseal_core::productkey::symbol(*v)))
        .collect();
    malformed(&padded, 134, "padding");
}

#[test]
fn expired_and_not_yet_valid() {
    let issuer = issuer();
    let trust = trust(&issuer);
    let key = sample_key(&issuer);
    let end = DAY_START + 30 * DAY;
    trust.verify_signed_key(&key, "photo-pro", end - 1).unwrap();
    assert_eq!(
        trust.verify_signed_key(&key, "photo-pro", end),
        Err(Error::Expired {
            expired_at: end,
            now: end
        })
    );
    // A key dated "tomorrow" (a vendor east of UTC) is accepted; further ahead is not.
    let valid_from = DAY_START - DAY;
    trust
        .verify_signed_key(&key, "photo-pro", valid_from)
        .unwrap();
    assert_eq!(
        trust.verify_signed_key(&key, "photo-pro", valid_from - 1),
        Err(Error::NotYetValid {
            valid_from,
            now: valid_from - 1
        })
    );
}

/// Domain separation. A signature is valid for exactly one message (finding a second message
/// it verifies for means breaking Ed25519). Signed keys sign `"airseal-signed-key-v1\0" ||
/// payload`, which starts with the byte `a` (0x61); every COSE object (license, revocation
/// list, …) signs a `Sig_structure`, which starts with 0x84 0x6a "Signature1". The two sets
/// of messages are disjoint whatever the payloads, so no signature the vendor ever made for
/// a license can verify as a key, and no key's signature as a license, even when an attacker
/// chooses the license payload. The checks below try the closest attempts.
#[test]
fn license_signatures_and_key_signatures_never_cross() {
    let issuer = issuer();
    let trust = trust(&issuer);
    let key = sample_key(&issuer);
    let (bytes, _, key_signature) = signedkey::decode(&key).unwrap();
    let message = signedkey::signing_message(&bytes);
    assert!(message.starts_with(b"airseal-signed-key-v1\0"));

    // License → key: the vendor signs COSE objects whose payload is the key's payload, or
    // even its whole signed message; their signatures do not make a key.
    for payload in [&bytes[..], &message[..]] {
        for typ in [ObjectType::License, ObjectType::SignedKey] {
            let cose_bytes = issuer.sign(typ, payload);
            let sign1 = cose::parse_sign1(&cose_bytes).unwrap();
            assert_eq!(sign1.header.kid, issuer.key_id());
            assert!(cose::sig_structure(sign1.protected, sign1.payload).starts_with(&[0x84, 0x6a]));
            let forged = signedkey::encode(&bytes, &sign1.signature);
            assert_eq!(
                trust.verify_signed_key(&forged, "photo-pro", CREATED),
                Err(Error::BadSignature)
            );
        }
    }
    // A real license's signature, too.
    let claims = LicenseClaims::new("acme", "0123456789ABC", "photo-pro", CREATED, vec![1; 8]);
    let license = issuer.issue(claims).unwrap();
    let signature = cose::parse_sign1(&license).unwrap().signature;
    let forged = signedkey::encode(&bytes, &signature);
    assert_eq!(
        trust.verify_signed_key(&forged, "photo-pro", CREATED),
        Err(Error::BadSignature)
    );

    // Key → license: the key's signature in a COSE envelope, over the key's bytes or its
    // message, never verifies as a license.
    let protected = cose::encode_protected(&issuer.key_id(), ObjectType::License);
    for payload in [&bytes[..], &message[..]] {
        let forged = cose::encode_sign1(&protected, payload, &key_signature);
        assert_eq!(
            trust
                .verify(&forged, CREATED, &Expected::product("photo-pro"))
                .unwrap_err(),
            Error::BadSignature
        );
    }

    // Nor is either readable as the other in the first place.
    assert_eq!(
        trust
            .verify(key.as_bytes(), CREATED, &Expected::product("photo-pro"))
            .unwrap_err()
            .class(),
        "malformed"
    );
    let armored = armor::armor("AIRSEAL LICENSE", &license);
    assert_eq!(
        trust
            .verify_signed_key(&armored, "photo-pro", CREATED)
            .unwrap_err()
            .class(),
        "malformed"
    );
}

#[test]
fn batch_keys_all_verify_and_differ() {
    let issuer = issuer();
    let trust = trust(&issuer);
    let serials: Vec<u32> = (0..64).map(|i| i * 7_919 + 1).collect();
    let keys = sign_keys_parallel(&issuer, "photo-pro", 0xff, 365, CREATED, &serials);
    assert_eq!(keys.len(), serials.len());
    for (key, serial) in keys.iter().zip(&serials) {
        assert_eq!(key.len(), 152);
        let v = trust.verify_signed_key(key, "photo-pro", CREATED).unwrap();
        assert_eq!(v.serial(), *serial);
        assert_eq!(
            v.payload(),
            &SignedKeyPayload {
                serial: *serial,
                ..*v.payload()
            }
        );
    }
    let mut unique = keys.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), keys.len());
}

/// The example of `SPEC.md` §12.4, pinned: Ed25519 is deterministic, so the same inputs
/// always give this string. Checked independently with Python (hashlib + pyca/cryptography).
#[test]
fn known_answer() {
    let issuer = issuer(); // seed 07 × 32
    assert_eq!(issuer.key_id().to_string(), "79a5c1d779551e8a");
    let key = sign_key(&issuer, "photo-pro", 0b101, 365, DAY_START, 0x1234_5678);
    assert_eq!(
        key,
        "M5WTBGEQ-F5AHX2JB-9R2G2V88-J0938NKR-ZV8SQPHQ-AQCCNBHX-HFDNTM5A-2CXKGHNH-EXYDMEB8-\
         KBE0JPCF-127KGXTB-8XT7S7BY-05VC4GX1-N7D0E7XK-HPMB0NP7-SR0DRJ3G-62GVA3RY"
    );
    let (bytes, payload, _) = signedkey::decode(&key).unwrap();
    assert_eq!(
        hex::encode(bytes),
        "a179a5c1d779551e8a4b4e05016d089012345678"
    );
    assert_eq!(
        (payload.created_day, payload.product_tag),
        (2_192, [0x4b, 0x4e])
    );
    trust(&issuer)
        .verify_signed_key(&key, "photo-pro", DAY_START)
        .unwrap();
}

/// A key retired before a signed key's creation day cannot vouch for it.
#[test]
fn signed_keys_respect_key_validity_windows() {
    use airseal_verify::KeyValidity;
    let issuer = Issuer::new(SigningKey::from_bytes(&[3; 32]));
    let created = 1_767_225_600; // 2026-01-01
    let key = sign_key(&issuer, "photo-pro", 1, 0, created, 42);
    let mut trust = TrustStore::new();
    trust
        .add_key_with_validity(
            &issuer.public_key(),
            KeyValidity {
                not_before: None,
                not_after: Some(created + 1),
            },
        )
        .unwrap();
    assert!(trust.verify_signed_key(&key, "photo-pro", created).is_ok());
    trust
        .add_key_with_validity(
            &issuer.public_key(),
            KeyValidity {
                not_before: None,
                not_after: Some(created),
            },
        )
        .unwrap();
    assert!(matches!(
        trust.verify_signed_key(&key, "photo-pro", created),
        Err(Error::KeyOutOfValidity { .. })
    ));
}
