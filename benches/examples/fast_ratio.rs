//! The precomputed strict verification (`PrecomputedKey::verify_strict`) against its floor,
//! ed25519-dalek's `VerifyingKey::verify_strict`, on the same 239-byte Sig_structure of
//! `vectors/licenses/valid-node-locked.cose`:
//!
//! * `cargo run --release -p airseal-benches --example fast_ratio` — 301 interleaved rounds
//!   of 200 floor calls then 200 fast-path calls; prints medians and the median ratio, and
//!   the one-off cost of building the tables.
//! * `valgrind --tool=callgrind target/release/examples/fast_ratio floor N` (or `fast N`) —
//!   just N calls, for instruction counts; subtract the `N = 0` run for the per-call figure.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::hint::black_box;

use airseal_core::cose;
use airseal_verify::PrecomputedKey;
use ed25519_dalek::{Signature, SigningKey};

use airseal_benches::{median, time};

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors");
    let license = std::fs::read(dir.join("licenses/valid-node-locked.cose")).unwrap();
    let public = SigningKey::from_bytes(&[0xA1; 32]).verifying_key();
    let s = cose::parse_sign1(&license).unwrap();
    let msg = cose::sig_structure(s.protected, s.payload);
    assert_eq!(msg.len(), 239);
    let sig_bytes = s.signature;
    let sig = Signature::from_bytes(&sig_bytes);
    let fast = PrecomputedKey::new(&public);
    assert!(fast.verify_strict(&msg, &sig_bytes));
    public.verify_strict(&msg, &sig).unwrap();

    let args: Vec<String> = std::env::args().collect();
    if let (Some(mode), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse::<u32>().ok())) {
        for _ in 0..n {
            if mode == "floor" {
                black_box(public.verify_strict(black_box(&msg), black_box(&sig))).unwrap();
            } else {
                assert!(black_box(
                    fast.verify_strict(black_box(&msg), black_box(&sig_bytes))
                ));
            }
        }
        return;
    }

    let (mut floors, mut fasts, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..301 {
        let floor = time(200, || {
            black_box(public.verify_strict(black_box(&msg), black_box(&sig))).unwrap();
        });
        let f = time(200, || {
            assert!(black_box(
                fast.verify_strict(black_box(&msg), black_box(&sig_bytes))
            ));
        });
        floors.push(floor);
        fasts.push(f);
        ratios.push(f / floor);
    }
    let build = time(20, || {
        drop(black_box(PrecomputedKey::new(black_box(&public))))
    });
    println!(
        "floor verify_strict {:.2} us | precomputed verify_strict {:.2} us | median ratio {:.3}",
        median(&mut floors) / 1e3,
        median(&mut fasts) / 1e3,
        median(&mut ratios)
    );
    println!("building one PrecomputedKey: {:.0} us", build / 1e3);
}
