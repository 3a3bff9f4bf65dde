//! Measures recording one `issue --batch` run in the ledger's `licenses` table
//! ([`ledger::Licenses::record_batch`]): COUNT licenses with random `cti`s, license ids and
//! e-mails, into a ledger that already holds EXISTING licenses.
//!
//! ```sh
//! cargo run --release -p airseal-vendor --example ledger_licenses -- [COUNT] [EXISTING]
//! ```
//!
//! Defaults: 100,000 licenses into an empty ledger. Each figure is measured twice: rows in
//! the order given (the import's order, what the CLI does) and sorted by `cti` first. Next
//! to them it prints a floor from the same run: the same rows inserted with the same
//! prepared statement into a table with the same columns and no index.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use airseal_core::{LicenseClaims, LicenseKind};
use airseal_vendor::ledger::Ledger;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde_json::json;

fn licenses(rng: &mut StdRng, n: usize, tag: &str) -> Vec<LicenseClaims> {
    (0..n)
        .map(|i| {
            let mut c = LicenseClaims::new(
                "acme",
                format!("{:013X}", rng.next_u64() >> 12),
                "photo-pro",
                1_780_000_000,
                rng.next_u64().to_be_bytes().to_vec(),
            );
            c.kind = LicenseKind::Subscription;
            c.product_key = Some(format!("{tag}{i:08}-{:08X}", rng.next_u32()));
            c.licensee.email = Some(format!("user{:x}@example.com", rng.next_u32()));
            c.licensee.name = Some(format!("User {i}"));
            c.expires_at = Some(1_811_536_000);
            c
        })
        .collect()
}

fn ledger_with(dir: &std::path::Path, rng: &mut StdRng, existing: usize) -> (Ledger, i64) {
    let ledger = Ledger::open(&dir.join("ledger.sqlite3")).unwrap();
    ledger.products().ensure("photo-pro", None).unwrap();
    let mut w = ledger
        .batches()
        .begin(
            "photo-pro",
            airseal_vendor::ledger::BatchKind::Import,
            0,
            None,
            &json!({}),
        )
        .unwrap();
    w.insert_key("K").unwrap();
    let batch = w.commit().unwrap();
    if existing > 0 {
        let old = licenses(rng, existing, "E");
        ledger
            .licenses()
            .record_batch(batch, &old, None, &json!({}))
            .unwrap();
    }
    (ledger, batch)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().map_or(100_000, |a| a.parse().unwrap());
    let existing: usize = args.next().map_or(0, |a| a.parse().unwrap());
    let mut rng = StdRng::seed_from_u64(6);
    println!("recording {count} licenses into a ledger holding {existing}");
    for sorted in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let (ledger, batch) = ledger_with(tmp.path(), &mut rng, existing);
        let mut rows = licenses(&mut rng, count, "N");
        if sorted {
            rows.sort_by(|a, b| a.token_id.cmp(&b.token_id));
        }

        // The floor: same columns, same bound values, no index, one transaction.
        ledger
            .sqlite_connection()
            .unwrap()
            .execute_batch(
                "CREATE TABLE floor (token_id BLOB, license_id TEXT, product TEXT,
                 product_key TEXT, kind TEXT, email TEXT, name TEXT, issued_at INTEGER,
                 expires_at INTEGER, source TEXT, activation INTEGER, batch INTEGER) STRICT",
            )
            .unwrap();
        let start = Instant::now();
        {
            let c = ledger.sqlite_connection().unwrap();
            c.execute_batch("BEGIN IMMEDIATE").unwrap();
            let mut st = c
                .prepare(
                    "INSERT INTO floor VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )
                .unwrap();
            for l in &rows {
                st.execute(rusqlite::params![
                    l.token_id,
                    l.license_id,
                    l.product,
                    l.product_key,
                    l.kind.as_str(),
                    l.licensee.email,
                    l.licensee.name,
                    l.issued_at,
                    l.expires_at,
                    "batch",
                    None::<i64>,
                    batch
                ])
                .unwrap();
            }
            drop(st);
            c.execute_batch("COMMIT").unwrap();
        }
        let floor = start.elapsed().as_secs_f64();

        let start = Instant::now();
        let n = ledger
            .licenses()
            .record_batch(batch, &rows, None, &json!({}))
            .unwrap();
        let ours = start.elapsed().as_secs_f64();
        assert_eq!(n as usize, count);
        println!(
            "{:<22} {ours:.3} s ({:.0} rows/s); floor without indexes {floor:.3} s; ratio {:.1}",
            if sorted {
                "sorted by cti:"
            } else {
                "in the order given:"
            },
            count as f64 / ours,
            ours / floor
        );
    }
}
