//! How many signed keys per second the vendor side makes, next to its floor measured in the
//! same run: ed25519-dalek's raw `SigningKey::sign` of a 42-byte message (the size of a
//! signed key's message), on one thread and on two.
//!
//! ```sh
//! cargo run --release -p airseal-vendor --example signed_keys_rate [keys-per-round] [rounds]
//! ```
//!
//! The four measurements are interleaved round by round and the median of each is printed,
//! so a noisy neighbour slows all of them alike.

use std::hint::black_box;
use std::time::Instant;

use airseal_core::signedkey;
use airseal_vendor::issue::Issuer;
use airseal_vendor::signedkey::{sign_key, sign_keys_parallel};
use ed25519_dalek::{Signer, SigningKey};

/// 2026-01-01T00:00:00Z.
const CREATED: i64 = 1_767_225_600;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(7);

    let signing_key = SigningKey::from_bytes(&[7; 32]);
    let issuer = Issuer::new(signing_key.clone());
    let message = [0x5au8; 42];
    let serials: Vec<u32> = (0..n as u32)
        .map(|i| i.wrapping_mul(2_654_435_761))
        .collect();

    let floor_one = || {
        for _ in 0..n {
            black_box(signing_key.sign(black_box(&message)));
        }
    };
    let floor_two = || {
        std::thread::scope(|s| {
            let other = s.spawn(|| {
                for _ in 0..n / 2 {
                    black_box(signing_key.sign(black_box(&message)));
                }
            });
            for _ in n / 2..n {
                black_box(signing_key.sign(black_box(&message)));
            }
            let _ = other.join();
        });
    };
    let keys_one = || {
        for s in &serials {
            black_box(sign_key(&issuer, "photo-pro", 0b101, 365, CREATED, *s));
        }
    };
    let keys_two = || {
        black_box(sign_keys_parallel(
            &issuer,
            "photo-pro",
            0b101,
            365,
            CREATED,
            &serials,
        ));
    };

    let cases: [(&str, &dyn Fn()); 4] = [
        ("floor: SigningKey::sign, 42 B, 1 thread", &floor_one),
        ("floor: SigningKey::sign, 42 B, 2 threads", &floor_two),
        ("sign_key, 1 thread", &keys_one),
        ("sign_keys_parallel, 2 threads", &keys_two),
    ];
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    for _ in 0..rounds {
        for ((_, run), r) in cases.iter().zip(&mut rates) {
            let t = Instant::now();
            run();
            r.push(n as f64 / t.elapsed().as_secs_f64());
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    let medians: Vec<f64> = rates.iter_mut().map(median).collect();

    println!(
        "{n} keys per round, {rounds} rounds, {} cores reported",
        std::thread::available_parallelism().map_or(1, |c| c.get())
    );
    for ((name, _), m) in cases.iter().zip(&medians) {
        println!("{name:<44} {m:>10.0} per second");
    }
    if let [f1, f2, k1, k2] = medians[..] {
        println!(
            "ratio sign_key / floor (1 thread)            {:>10.3}",
            k1 / f1
        );
        println!(
            "ratio sign_keys_parallel / floor (2 threads) {:>10.3}",
            k2 / f2
        );
        println!(
            "target 50 000 keys/s: {}",
            if k2 >= 50_000.0 { "met" } else { "NOT met" }
        );
    }

    let example = sign_key(&issuer, "photo-pro", 0b101, 365, CREATED, 0x1234_5678);
    let symbols = example.chars().filter(|c| *c != '-').count();
    println!(
        "example key ({symbols} symbols, {} characters shown, {} bytes):\n{example}",
        example.len(),
        signedkey::KEY_LEN
    );
}
