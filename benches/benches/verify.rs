//! Full license verification against its floor, the raw Ed25519 `verify_strict` of a
//! message of the same size, measured in the same run (BENCHMARKS.md records the ratio).
//!
//! Run: `cargo bench -p airseal-benches --bench verify`

// A benchmark that cannot set up should stop loudly.
#![allow(clippy::expect_used)]

use airseal_core::cose;
use airseal_verify::{Expected, Machine, TrustStore};
use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::{Signature, SigningKey};
use std::hint::black_box;

const NOW: i64 = 1_767_225_600;

fn bench(c: &mut Criterion) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors");
    // The typical node-locked license from the committed vectors (295 bytes), signed by key A.
    let license = std::fs::read(dir.join("licenses/valid-node-locked.cose")).expect("vector file");
    let manifest: String = std::fs::read_to_string(dir.join("manifest.json")).expect("manifest");
    let key_a = SigningKey::from_bytes(&[0xA1; 32]);
    let public = key_a.verifying_key();
    assert!(
        manifest.contains(&hex(public.as_bytes())),
        "vector key A changed"
    );

    let mut trust = TrustStore::new();
    trust.add_key(public.as_bytes()).expect("key");
    let machine = Machine::from_component_hashes(vec![[1; 8], [2; 8], [3; 8]]);
    let expected = Expected::product("photo-pro").machine(&machine);
    trust
        .verify(&license, NOW, &expected)
        .expect("vector verifies");

    // The floor: verify_strict over exactly the bytes airseal's signature covers.
    let sign1 = cose::parse_sign1(&license).expect("parse");
    let message = cose::sig_structure(sign1.protected, sign1.payload);
    let signature = Signature::from_bytes(&sign1.signature);
    public
        .verify_strict(&message, &signature)
        .expect("floor verifies");

    let mut g = c.benchmark_group("license_verify");
    g.bench_function("floor_ed25519_verify_strict", |b| {
        b.iter(|| public.verify_strict(black_box(&message), black_box(&signature)))
    });
    g.bench_function("airseal_full_verify", |b| {
        b.iter(|| trust.verify(black_box(&license), black_box(NOW), black_box(&expected)))
    });
    let mut precomputed = trust.clone();
    precomputed.precompute();
    g.bench_function("airseal_full_verify_precomputed", |b| {
        b.iter(|| precomputed.verify(black_box(&license), black_box(NOW), black_box(&expected)))
    });
    let armored = airseal_core::armor::armor("AIRSEAL LICENSE", &license);
    g.bench_function("airseal_full_verify_armored", |b| {
        b.iter(|| {
            trust.verify(
                black_box(armored.as_bytes()),
                black_box(NOW),
                black_box(&expected),
            )
        })
    });
    g.finish();
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

criterion_group!(benches, bench);
criterion_main!(benches);
