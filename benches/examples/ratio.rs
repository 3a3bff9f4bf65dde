//! Full license verification against its floor (raw `verify_strict` over the same signed
//! bytes), measured so that the ratio survives a noisy machine:
//!
//! * `cargo run --release -p airseal-benches --example ratio` — 301 interleaved rounds of
//!   200 floor calls then 200 full verifications; prints medians and the median ratio.
//! * `valgrind --tool=callgrind target/release/examples/ratio floor N` (or `full N`, or
//!   `precomputed N` for a trust store after `precompute()`; `chained N` for the same claims
//!   signed by an issuing key whose certificate the license carries, so the root's signature
//!   over the certificate is checked too; `chained-cached N` for that license against a
//!   store that added the certificate and precomputed) — just N calls, for instruction
//!   counts; subtract the `N = 0` run for the per-call figure.
//!
//! BENCHMARKS.md records the results.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::hint::black_box;

use airseal_core::cert::{Certificate, MaySign};
use airseal_core::cose::ObjectType;
use airseal_core::{KeyId, LicenseClaims, cose};
use airseal_verify::{Expected, Machine, TrustStore};
use ed25519_dalek::{Signature, Signer, SigningKey};

const NOW: i64 = 1_767_225_600;

use airseal_benches::{median, time};

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors");
    // The typical node-locked license (295 bytes) of the committed vectors, signed by key A.
    let license = std::fs::read(dir.join("licenses/valid-node-locked.cose")).unwrap();
    let public = SigningKey::from_bytes(&[0xA1; 32]).verifying_key();
    let mut trust = TrustStore::new();
    trust.add_key(public.as_bytes()).unwrap();
    let machine = Machine::from_component_hashes(vec![[1; 8], [2; 8], [3; 8]]);
    let expected = Expected::product("photo-pro").machine(&machine);
    let mut precomputed = trust.clone();
    precomputed.precompute();
    let s = cose::parse_sign1(&license).unwrap();
    let msg = cose::sig_structure(s.protected, s.payload);
    let sig = Signature::from_bytes(&s.signature);
    let (chained, cert) = chained(s.payload);
    let mut cached = trust.clone();
    cached.add_certificate(&cert).unwrap();
    cached.precompute();
    assert_eq!(
        trust.verify(&chained, NOW, &expected).unwrap().claims(),
        trust.verify(&license, NOW, &expected).unwrap().claims()
    );

    let args: Vec<String> = std::env::args().collect();
    if let (Some(mode), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse::<u32>().ok())) {
        for _ in 0..n {
            if mode == "floor" {
                black_box(public.verify_strict(black_box(&msg), black_box(&sig))).unwrap();
            } else if mode == "precomputed" {
                drop(black_box(precomputed.verify(black_box(&license), NOW, &expected)).unwrap());
            } else if mode == "chained" {
                drop(black_box(trust.verify(black_box(&chained), NOW, &expected)).unwrap());
            } else if mode == "chained-cached" {
                drop(black_box(cached.verify(black_box(&chained), NOW, &expected)).unwrap());
            } else {
                drop(black_box(trust.verify(black_box(&license), NOW, &expected)).unwrap());
            }
        }
        return;
    }

    let (mut floors, mut fulls, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let (mut chain_ratios, mut cached_ratios) = (Vec::new(), Vec::new());
    for _ in 0..301 {
        let floor = time(200, || {
            black_box(public.verify_strict(black_box(&msg), black_box(&sig))).unwrap();
        });
        let full = time(200, || {
            drop(black_box(trust.verify(black_box(&license), NOW, &expected)).unwrap());
        });
        let chain = time(200, || {
            drop(black_box(trust.verify(black_box(&chained), NOW, &expected)).unwrap());
        });
        let chain_cached = time(200, || {
            drop(black_box(cached.verify(black_box(&chained), NOW, &expected)).unwrap());
        });
        floors.push(floor);
        fulls.push(full);
        ratios.push(full / floor);
        chain_ratios.push(chain / floor);
        cached_ratios.push(chain_cached / floor);
    }
    let parse = time(200_000, || {
        black_box(cose::parse_sign1(black_box(&license))).unwrap();
    });
    let sigs = time(200_000, || {
        drop(black_box(cose::sig_structure(s.protected, s.payload)))
    });
    let claims = time(200_000, || {
        drop(black_box(LicenseClaims::decode(black_box(s.payload), 0)).unwrap())
    });
    println!(
        "floor verify_strict {:.2} us | airseal full verify {:.2} us | median ratio {:.3}",
        median(&mut floors) / 1e3,
        median(&mut fulls) / 1e3,
        median(&mut ratios)
    );
    println!(
        "chained license ({} bytes): median ratio {:.3}; certificate added + precompute(): {:.3}",
        chained.len(),
        median(&mut chain_ratios),
        median(&mut cached_ratios)
    );
    println!(
        "stages: parse envelope {parse:.0} ns, Sig_structure {sigs:.0} ns, decode claims {claims:.0} ns"
    );
}

/// The typical license's claims signed by an issuing key (seed `b2` × 32) that root key A
/// certified for every product: the license and the certificate it carries.
fn chained(payload: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let root = SigningKey::from_bytes(&[0xA1; 32]);
    let issuing = SigningKey::from_bytes(&[0xB2; 32]);
    let mut certificate = Certificate {
        serial: 1,
        key: issuing.verifying_key().to_bytes(),
        not_before: NOW - 86_400 * 365,
        not_after: NOW + 86_400 * 365,
        products: vec![],
        may_sign: MaySign::LICENSES.with(MaySign::ACTIVATIONS),
        list_seq: None,
    };
    certificate.normalize();
    let protected = cose::encode_protected(
        &KeyId::of_public_key(root.verifying_key().as_bytes()),
        ObjectType::Certificate,
    );
    let body = certificate.encode();
    let signature = root.sign(&cose::sig_structure(&protected, &body));
    let cert = cose::encode_sign1(&protected, &body, &signature.to_bytes());
    let protected = cose::encode_protected_with_cert(ObjectType::License, &cert);
    let signature = issuing.sign(&cose::sig_structure(&protected, payload));
    (
        cose::encode_sign1(&protected, payload, &signature.to_bytes()),
        cert,
    )
}
