//! The precomputed verification path (`PrecomputedKey::verify_strict`) gives exactly the
//! answer of ed25519-dalek's `VerifyingKey::verify_strict`: on the committed license vectors,
//! on the C2SP CCTV Ed25519 edge-case vectors, and on thousands of random and mutated
//! signatures, keys and messages (valid, bit-flipped, `S + ℓ`, small-order and
//! non-canonical `R` and `A`, and mixed-order keys whose torsion part cancels or not).

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use airseal_core::armor::dearmor;
use airseal_core::cose::{parse_sign1, sig_structure};
use airseal_verify::PrecomputedKey;
use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;
use sha2::{Digest, Sha512};

/// ℓ, the order of the prime subgroup, little-endian.
const ELL: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
];

/// The encodings of the small-order points, canonical and not (C2SP CCTV `ed25519/README.md`).
const SMALL_ORDER: [&str; 14] = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000080",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
];

fn hex32(s: &str) -> [u8; 32] {
    hex::decode(s).unwrap().try_into().unwrap()
}

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Both paths on one (key bytes, message, signature); `None` for the key means it does not
/// decode. Panics if they disagree; returns the common verdict.
fn agree(key: &[u8; 32], fast: Option<&PrecomputedKey>, message: &[u8], sig: &[u8; 64]) -> bool {
    let strict = VerifyingKey::from_bytes(key)
        .map(|k| {
            k.verify_strict(message, &Signature::from_bytes(sig))
                .is_ok()
        })
        .unwrap_or(false);
    let fast = fast.is_some_and(|k| k.verify_strict(message, sig));
    assert_eq!(
        fast,
        strict,
        "fast path and verify_strict disagree: key {}, sig {}, message {}",
        hex::encode(key),
        hex::encode(sig),
        hex::encode(message)
    );
    strict
}

/// `agree` with the key decoded and precomputed here.
fn agree_bytes(key: &[u8; 32], message: &[u8], sig: &[u8; 64]) -> bool {
    let fast = PrecomputedKey::from_bytes(key);
    assert_eq!(fast.is_some(), VerifyingKey::from_bytes(key).is_ok());
    agree(key, fast.as_ref(), message, sig)
}

#[test]
fn committed_license_vectors_agree() {
    let dir = data_dir().join("../../vectors");
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let (mut checked, mut accepted) = (0, 0);
    for case in manifest["cases"].as_array().unwrap() {
        let bytes = std::fs::read(dir.join(case["file"].as_str().unwrap())).unwrap();
        let Ok(raw) = dearmor(&bytes) else { continue };
        let Ok(sign1) = parse_sign1(&raw) else {
            continue;
        };
        let message = sig_structure(sign1.protected, sign1.payload);
        for key in case["trusted_public_keys"].as_array().unwrap() {
            let key = hex32(key.as_str().unwrap());
            checked += 1;
            if agree_bytes(&key, &message, &sign1.signature) {
                accepted += 1;
            }
        }
    }
    println!("license vectors: {checked} (envelope, key) pairs agree, {accepted} accepted");
    assert!(
        checked > 100 && accepted > 40,
        "{checked} checked, {accepted} accepted"
    );
}

/// C2SP CCTV `ed25519vectors.json`, vectors 0–39 (see `tests/data/`): every one combines a
/// small-order, mixed-order or non-canonical `A` or `R`. Both paths reject all but the two
/// whose mixed-order torsion parts cancel.
#[test]
fn cctv_edge_cases_agree() {
    let text =
        std::fs::read_to_string(data_dir().join("tests/data/cctv_ed25519_0-39.json")).unwrap();
    let file: Value = serde_json::from_str(&text).unwrap();
    let mut by_flag: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    let vectors = file["vectors"].as_array().unwrap();
    let mut accepted_numbers = Vec::new();
    assert_eq!(vectors.len(), 40);
    for v in vectors {
        let key = hex32(v["key"].as_str().unwrap());
        let sig: [u8; 64] = hex::decode(v["sig"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let accepted = agree_bytes(&key, v["msg"].as_str().unwrap().as_bytes(), &sig);
        for flag in v["flags"].as_array().unwrap() {
            let e = by_flag
                .entry(flag.as_str().unwrap().to_string())
                .or_default();
            e.0 += 1;
            e.1 += u32::from(accepted);
        }
        // The CCTV README says "ed25519-dalek's verify_strict() reject[s] all vectors"; for
        // dalek 3.0 that is not so. It rejects small-order A and R, non-canonical R (byte
        // comparison) and small-order residues (cofactorless equation), but it does not
        // reject *mixed-order* A or R whose torsion parts cancel: vectors 7 and 29 verify.
        let rejected_by_rule = v["flags"].as_array().unwrap().iter().any(|f| {
            matches!(
                f.as_str().unwrap(),
                "low_order_A" | "low_order_R" | "non_canonical_R" | "low_order_residue"
            )
        });
        assert_eq!(accepted, !rejected_by_rule, "vector {}", v["number"]);
        if accepted {
            accepted_numbers.push(v["number"].as_u64().unwrap());
        }
    }
    assert_eq!(accepted_numbers, [7, 29]);
    for (flag, (n, accepted)) in &by_flag {
        println!("cctv {flag}: {n} vectors, {accepted} accepted by both");
    }
}

/// k = SHA-512(R ‖ A ‖ M) mod ℓ over the given encodings.
fn challenge(r: &[u8; 32], a: &[u8; 32], message: &[u8]) -> Scalar {
    let mut h = Sha512::new();
    h.update(r);
    h.update(a);
    h.update(message);
    Scalar::from_bytes_mod_order_wide(&h.finalize().into())
}

/// A signature computed from raw parts: `R` as given, `S = r + k·a`. With `A = [a]B + T₁` and
/// `R = [r]B + T₂` it satisfies `[S]B − [k]A = R` exactly when `T₂ = −[k]T₁`.
fn raw_sign(a: &Scalar, a_bytes: &[u8; 32], r: &Scalar, r_bytes: &[u8; 32], m: &[u8]) -> [u8; 64] {
    let s = r + challenge(r_bytes, a_bytes, m) * a;
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(r_bytes);
    sig[32..].copy_from_slice(s.as_bytes());
    sig
}

/// `x + y` for 256-bit little-endian numbers, or `None` on overflow.
fn add_256(x: &[u8; 32], y: &[u8; 32]) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let t = u16::from(x[i]) + u16::from(y[i]) + carry;
        out[i] = t as u8;
        carry = t >> 8;
    }
    (carry == 0).then_some(out)
}

/// Small-order encodings and non-canonical (y ≥ p) encodings of other points, with their
/// precomputed keys (built once: tables take a few milliseconds each in a debug build).
fn odd_keys() -> &'static Vec<([u8; 32], Option<PrecomputedKey>)> {
    static KEYS: OnceLock<Vec<([u8; 32], Option<PrecomputedKey>)>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut keys: Vec<[u8; 32]> = SMALL_ORDER.iter().map(|h| hex32(h)).collect();
        // y = p + t for t in 0..19 (the only y ≥ p that fit in 255 bits), both signs.
        for t in 0u8..19 {
            for sign in [0u8, 0x80] {
                let mut b = [0xffu8; 32];
                b[0] = 0xed + t;
                b[31] = 0x7f | sign;
                keys.push(b);
            }
        }
        keys.into_iter()
            .map(|k| (k, PrecomputedKey::from_bytes(&k)))
            .collect()
    })
}

#[derive(Default, Debug)]
struct Tally {
    checks: u64,
    accepted: u64,
}

impl Tally {
    fn check(&mut self, key: &[u8; 32], fast: Option<&PrecomputedKey>, m: &[u8], s: &[u8; 64]) {
        self.checks += 1;
        self.accepted += u64::from(agree(key, fast, m, s));
    }
}

/// One generated case: a key, a message, and the mutations to try on them.
fn differential_case(
    tally: &mut Tally,
    seed: [u8; 32],
    message: &[u8],
    bit: usize,
    torsion: usize,
    r_seed: [u8; 32],
) {
    let signing = SigningKey::from_bytes(&seed);
    let public = signing.verifying_key();
    let key = *public.as_bytes();
    let fast = PrecomputedKey::new(&public);
    let sig = signing.sign(message).to_bytes();

    // Valid, then every kind of damage.
    tally.check(&key, Some(&fast), message, &sig);
    let mut flipped = sig;
    flipped[bit / 8] ^= 1 << (bit % 8);
    tally.check(&key, Some(&fast), message, &flipped);
    if !message.is_empty() {
        let mut m = message.to_vec();
        m[bit % message.len()] ^= 1 << (bit % 8);
        tally.check(&key, Some(&fast), &m, &sig);
    }
    // S + ℓ, S + 2ℓ, ... (non-canonical S of the same value mod ℓ).
    let mut s: [u8; 32] = sig[32..].try_into().unwrap();
    while let Some(next) = add_256(&s, &ELL) {
        s = next;
        let mut malleated = sig;
        malleated[32..].copy_from_slice(&s);
        tally.check(&key, Some(&fast), message, &malleated);
    }
    // R with its sign bit flipped (−R) and R replaced by every small-order encoding.
    let mut neg_r = sig;
    neg_r[31] ^= 0x80;
    tally.check(&key, Some(&fast), message, &neg_r);
    for small in SMALL_ORDER {
        let mut s_r = sig;
        s_r[..32].copy_from_slice(&hex32(small));
        tally.check(&key, Some(&fast), message, &s_r);
    }
    // The same signature under small-order and non-canonical keys.
    for (odd, odd_fast) in odd_keys() {
        tally.check(odd, odd_fast.as_ref(), message, &sig);
        // A signature of "A = that point" computed with a = 0: k·A must cancel alone.
        let mut forged = sig;
        forged[32..].copy_from_slice(Scalar::ZERO.as_bytes());
        tally.check(odd, odd_fast.as_ref(), message, &forged);
    }

    // Mixed-order key A' = [a]B + T and mixed-order R' = [r]B + T₂: valid under the
    // cofactorless equation only when T₂ = −[k]T (about one case in eight).
    let a = Scalar::from_bytes_mod_order(seed);
    let r = Scalar::from_bytes_mod_order(r_seed);
    let t1 = EIGHT_TORSION[torsion % 8];
    let mixed_a: EdwardsPoint = a * ED25519_BASEPOINT_POINT + t1;
    let mixed_bytes = mixed_a.compress().to_bytes();
    let mixed_fast = PrecomputedKey::from_bytes(&mixed_bytes);
    let r_point = r * ED25519_BASEPOINT_POINT;
    for t2 in EIGHT_TORSION
        .iter()
        .take(if torsion & 8 == 0 { 8 } else { 2 })
    {
        let r_bytes = (r_point + t2).compress().to_bytes();
        let raw = raw_sign(&a, &mixed_bytes, &r, &r_bytes, message);
        tally.check(&mixed_bytes, mixed_fast.as_ref(), message, &raw);
    }
    // The raw signer itself, on the honest key: must be valid.
    let r_bytes = r_point.compress().to_bytes();
    let raw = raw_sign(&a, &a_bytes(&a), &r, &r_bytes, message);
    tally.check(
        &a_bytes(&a),
        PrecomputedKey::from_bytes(&a_bytes(&a)).as_ref(),
        message,
        &raw,
    );
}

fn a_bytes(a: &Scalar) -> [u8; 32] {
    (a * ED25519_BASEPOINT_POINT).compress().to_bytes()
}

#[test]
fn differential_random_and_mutated() {
    let cases: u32 = std::env::var("FAST_PATH_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1024);
    let mut runner = TestRunner::new(Config::with_cases(cases));
    let tally = std::cell::RefCell::new(Tally::default());
    let strategy = (
        any::<[u8; 32]>(),
        prop::collection::vec(any::<u8>(), 0..300),
        0usize..512,
        0usize..16,
        any::<[u8; 32]>(),
    );
    runner
        .run(&strategy, |(seed, message, bit, torsion, r_seed)| {
            differential_case(
                &mut tally.borrow_mut(),
                seed,
                &message,
                bit,
                torsion,
                r_seed,
            );
            Ok(())
        })
        .unwrap();
    let tally = tally.into_inner();
    println!(
        "differential: {} checks over {cases} generated cases, {} accepted by both",
        tally.checks, tally.accepted
    );
    assert!(tally.accepted >= u64::from(cases) * 2);
}

/// Random signature bytes and random keys: nearly all rejected, all agreed on.
#[test]
fn differential_random_bytes() {
    let mut runner = TestRunner::new(Config::with_cases(512));
    runner
        .run(
            &(any::<[u8; 32]>(), any::<[u8; 32]>(), any::<[u8; 32]>()),
            |(key, r, s)| {
                let mut sig = [0u8; 64];
                sig[..32].copy_from_slice(&r);
                sig[32..].copy_from_slice(&s);
                // Clear the top bits of S half the time, so the point arithmetic runs.
                if r[0] & 1 == 0 {
                    sig[63] &= 0x0f;
                }
                agree_bytes(&key, b"random", &sig);
                Ok(())
            },
        )
        .unwrap();
}

/// The fuzz hook (`fuzz_differential`) on generated inputs of both modes: it panics on any
/// disagreement.
#[test]
fn fuzz_hook_agrees() {
    let mut runner = TestRunner::new(Config::with_cases(256));
    runner
        .run(
            &(
                any::<u8>(),
                any::<[u8; 32]>(),
                prop::collection::vec(any::<u8>(), 64..200),
            ),
            |(mode, key, rest)| {
                let mut data = vec![mode];
                data.extend_from_slice(&key);
                // Sparse deltas in mode 1, so some signatures stay valid.
                let mut rest = rest;
                if mode & 1 == 1 && mode & 2 == 0 {
                    rest[..64].fill(0);
                }
                data.extend_from_slice(&rest);
                airseal_verify::fuzz_differential(&data);
                Ok(())
            },
        )
        .unwrap();
    airseal_verify::fuzz_differential(&[]);
}
