//! Full license verification against its floor (raw `verify_strict` over the same signed
//! bytes), measured so that the ratio survives a noisy machine:
//!
//! * `cargo run --release -p airseal-benches --example ratio` — 301 interleaved rounds of
//!   200 floor calls then 200 full verifications; prints medians and the median ratio.
//! * `valgrind --tool=callgrind target/release/examples/ratio floor N` (or `full N`, or
//!   `precomputed N` for a trust store after `precompute()`) — just N calls, for instruction
//!   counts; subtract the `N = 0` run for the per-call figure.
//!
//! BENCHMARKS.md records the results.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::hint::black_box;

use airseal_core::{LicenseClaims, cose};
use airseal_verify::{Expected, Machine, TrustStore};
use ed25519_dalek::{Signature, SigningKey};

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

    let args: Vec<String> = std::env::args().collect();
    if let (Some(mode), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse::<u32>().ok())) {
        for _ in 0..n {
            if mode == "floor" {
                black_box(public.verify_strict(black_box(&msg), black_box(&sig))).unwrap();
            } else if mode == "precomputed" {
                drop(black_box(precomputed.verify(black_box(&license), NOW, &expected)).unwrap());
            } else {
                drop(black_box(trust.verify(black_box(&license), NOW, &expected)).unwrap());
            }
        }
        return;
    }

    let (mut floors, mut fulls, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..301 {
        let floor = time(200, || {
            black_box(public.verify_strict(black_box(&msg), black_box(&sig))).unwrap();
        });
        let full = time(200, || {
            drop(black_box(trust.verify(black_box(&license), NOW, &expected)).unwrap());
        });
        floors.push(floor);
        fulls.push(full);
        ratios.push(full / floor);
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
        "stages: parse envelope {parse:.0} ns, Sig_structure {sigs:.0} ns, decode claims {claims:.0} ns"
    );
}
