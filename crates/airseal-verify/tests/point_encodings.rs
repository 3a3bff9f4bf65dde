//! SPEC.md §3.1 lists, in hex, the public key encodings a verifier refuses: the 8 points of
//! small order and the non-canonical encodings a lax decoder takes for points. Every one of
//! them is refused by the trust store, and every other encoding of those `y` values is not a
//! key at all.

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use airseal_verify::{Error, TrustStore};
use ed25519_dalek::VerifyingKey;

/// The 64-digit hex strings in backticks in SPEC.md §3.1.
fn spec_hex() -> Vec<[u8; 32]> {
    let spec =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../SPEC.md")).unwrap();
    let section: String = spec
        .lines()
        .skip_while(|l| !l.starts_with("### 3.1 "))
        .skip(1)
        .take_while(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    section
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|t| hex::decode(t).unwrap().try_into().unwrap())
        .collect()
}

/// `NN ff … ff 7f` and `NN ff … ff ff` for `NN` = `ed` … `ff`: `y` = p … p + 18.
fn y_at_least_p() -> Vec<[u8; 32]> {
    let mut out = Vec::new();
    for first in 0xedu8..=0xff {
        for last in [0x7f, 0xff] {
            let mut b = [0xff; 32];
            b[0] = first;
            b[31] = last;
            out.push(b);
        }
    }
    out
}

#[test]
fn every_encoding_spec_lists_is_refused_as_a_key() {
    let listed = spec_hex();
    // 8 small-order points and the two x = 0 encodings with the sign bit set.
    assert_eq!(listed.len(), 10, "SPEC.md §3.1 lists {} keys", listed.len());
    for key in listed.iter().chain(&y_at_least_p()) {
        let got = TrustStore::new().add_key(key);
        assert!(
            matches!(got, Err(Error::InvalidPublicKey)),
            "{} accepted: {got:?}",
            hex::encode(key)
        );
    }
}

#[test]
fn the_non_canonical_encodings_are_refused_by_the_canonical_rule_not_by_the_decoder() {
    // The lax decoder accepts some of the y >= p encodings as points of large order: only
    // the canonical-encoding rule keeps them out of the trust store.
    let lax: Vec<String> = y_at_least_p()
        .iter()
        .filter(|k| VerifyingKey::from_bytes(k).is_ok_and(|v| !v.is_weak()))
        .map(hex::encode)
        .collect();
    assert!(
        lax.contains(&"f0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f".into()),
        "{lax:?}"
    );
    // And a canonical key of large order is of course accepted.
    let good = ed25519_dalek::SigningKey::from_bytes(&[0xa1; 32])
        .verifying_key()
        .to_bytes();
    TrustStore::new().add_key(&good).unwrap();
}
