//! Product key generation against its floor: the same RNG and Crockford formatting without
//! the check symbol or pattern handling, in the same run (BENCHMARKS.md records both).
//!
//! Run: `cargo bench -p airseal-benches --bench keys`

#![allow(clippy::expect_used)]

use std::hint::black_box;

use airseal_core::productkey::{DEFAULT_PATTERN, Pattern, symbol};
use airseal_vendor::keys::{KeyGenerator, seeded_rng};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::Rng;

const BATCH: u64 = 10_000;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("key_generation");
    g.throughput(Throughput::Elements(BATCH));
    g.bench_function("floor_rng_plus_base32_no_check", |b| {
        let mut rng = seeded_rng(1);
        let mut out = Vec::with_capacity(20 * BATCH as usize);
        b.iter(|| {
            out.clear();
            for _ in 0..BATCH {
                // 95 random bits as 19 symbols, plus a fixed 20th: no pattern, no check.
                let mut r = rng.next_u64();
                for _ in 0..12 {
                    out.push(symbol((r & 31) as u8));
                    r >>= 5;
                }
                let mut r = rng.next_u64();
                for _ in 0..8 {
                    out.push(symbol((r & 31) as u8));
                    r >>= 5;
                }
            }
            black_box(&out);
        })
    });
    g.bench_function("airseal_random_key_20_symbols_with_check", |b| {
        let pattern = Pattern::parse(DEFAULT_PATTERN).expect("pattern");
        let mut gen_ = KeyGenerator::random(pattern, 80, seeded_rng(1)).expect("generator");
        let mut out = Vec::with_capacity(20 * BATCH as usize);
        b.iter(|| {
            out.clear();
            for _ in 0..BATCH {
                gen_.next_into(&mut out);
            }
            black_box(&out);
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
