//! Measures the ledger's bulk path: one batch of random 20-symbol keys inserted (and checked
//! unique) into a ledger that already holds keys for the product.
//!
//! ```sh
//! cargo run --release -p airseal-vendor --example ledger_bulk -- \
//!     [EXISTING] [COUNT] [CHUNK] [single]
//! ```
//!
//! Defaults: 1,000,000 existing keys, a batch of 1,000,000, the whole batch in one
//! `insert_keys` call. `single` uses `insert_key` per key instead. Next to the ledger's time
//! it prints a floor measured in the same run (the same keys checked unique in an in-memory
//! hash set), so the ratio survives a noisy machine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::time::Instant;

use airseal_vendor::ledger::Ledger;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

fn random_keys(rng: &mut StdRng, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let (a, b) = (rng.next_u64(), rng.next_u64());
            (0..20)
                .map(|i| {
                    let v = if i < 12 {
                        a >> (5 * i)
                    } else {
                        b >> (5 * (i - 12))
                    };
                    char::from(ALPHABET[(v & 31) as usize])
                })
                .collect()
        })
        .collect()
}

/// CPU seconds (user + system) this process has used, from `/proc/self/stat` on Linux: less
/// disturbed than wall time by other work on a shared machine. `None` elsewhere.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may contain spaces).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux platform we run on.
    Some(ticks / 100.0)
}

fn insert(ledger: &mut Ledger, keys: &[String], chunk: usize, single: bool) -> (f64, f64, u64) {
    let start = Instant::now();
    let mut w = ledger
        .batches()
        .begin(
            "photo-pro",
            airseal_vendor::keys::KeyKind::Random.into(),
            keys.len() as u64,
            None,
            &serde_json::json!({}),
        )
        .unwrap();
    if single {
        for k in keys {
            w.insert_key(k).unwrap();
        }
    } else {
        for c in keys.chunks(chunk) {
            w.insert_keys(c).unwrap();
        }
    }
    let inserted = w.inserted();
    let insert_time = start.elapsed().as_secs_f64();
    let start = Instant::now();
    w.commit().unwrap();
    (insert_time, start.elapsed().as_secs_f64(), inserted)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: usize| {
        args.get(i)
            .and_then(|s| s.replace('_', "").parse().ok())
            .unwrap_or(default)
    };
    let existing = number(0, 1_000_000);
    let count = number(1, 1_000_000);
    let chunk = number(2, count).max(1);
    let single = args.iter().any(|a| a == "single");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite3");
    let mut ledger = Ledger::open(&path).unwrap();
    ledger.products().ensure("photo-pro", None).unwrap();
    let mut rng = StdRng::seed_from_u64(7);

    let old = random_keys(&mut rng, existing);
    let (fill_insert, fill_commit, _) = insert(&mut ledger, &old, existing.max(1), false);
    println!(
        "fill:  {existing} keys into an empty ledger: insert {fill_insert:.3} s, \
         commit {fill_commit:.3} s"
    );

    let new = random_keys(&mut rng, count);
    let cpu_before = cpu_seconds();
    let (insert_time, commit_time, inserted) = insert(&mut ledger, &new, chunk, single);
    let total = insert_time + commit_time;
    let cpu = match (cpu_before, cpu_seconds()) {
        (Some(a), Some(b)) => format!(" (CPU {:.2} s)", b - a),
        _ => String::new(),
    };
    let how = if single {
        "insert_key per key".to_string()
    } else {
        format!("insert_keys, chunks of {chunk}")
    };
    println!(
        "batch: {count} keys ({inserted} new) into {existing} ({how}): insert {insert_time:.3} s, \
         commit {commit_time:.3} s, total {total:.3} s{cpu}"
    );

    // Recovery's path: the batch's keys read back in the order they were offered.
    let start = Instant::now();
    let batch = ledger.batches().pending().unwrap().last().unwrap().id;
    let mut bytes = 0;
    let n = ledger
        .batches()
        .for_each_key(batch, |k| {
            bytes += k.len();
            Ok::<(), airseal_vendor::ledger::LedgerError>(())
        })
        .unwrap();
    println!(
        "read:  the batch's {n} keys back in order ({bytes} bytes): {:.3} s",
        start.elapsed().as_secs_f64()
    );

    // The floor: the same uniqueness check against the same keys, in memory.
    let start = Instant::now();
    let mut set: HashSet<&str> = HashSet::with_capacity(existing + count);
    set.extend(old.iter().map(String::as_str));
    let fresh = new.iter().filter(|k| set.insert(k.as_str())).count();
    let floor = start.elapsed().as_secs_f64();
    println!(
        "floor: in-memory HashSet check of the same {} keys ({fresh} new): {floor:.3} s; \
         ledger / floor = {:.1}",
        existing + count,
        total / floor
    );
    assert_eq!(
        ledger.keys().count("photo-pro").unwrap(),
        (existing + count) as u64
    );
    let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    println!(
        "files: ledger {:.0} MB, WAL {:.0} MB",
        size(&path) as f64 / 1e6,
        size(std::path::Path::new(&wal)) as f64 / 1e6
    );
}
