//! Import and batch-issue throughput (issue #6 targets), each next to its floor in the same
//! run:
//!
//! * import of a 1,000,000-row Cryptlex v2 export into an empty ledger (target ≤ 10 s), next
//!   to the floor of recording the same million keys alone with `BatchWriter::insert_keys`;
//! * issuing signed licenses for 100,000 imported keys on every core (target ≥ 50,000/s),
//!   next to raw Ed25519 signing of a message of the same size on one and on every core.
//!
//! `cargo run --release -p airseal-vendor --example import_rate [ROWS] [LICENSES]`
//!
//! `import_rate --export-only FILE [ROWS]` only writes the export, for
//! `benches/import_end_to_end.sh`, which times the `airseal import` command itself.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::fmt::Write as _;
use std::time::Instant;

use airseal_vendor::import::{self, ImportOptions, Preset, licenses};
use airseal_vendor::issue::{Issuer, LicenseSpec};
use airseal_vendor::ledger::Ledger;
use ed25519_dalek::{Signer, SigningKey};

/// A realistic Cryptlex v2 dashboard export: BOM, CRLF, the header with its odd spacing,
/// every field quoted, custom fields and an activation on most rows.
fn export(rows: usize) -> Vec<u8> {
    let mut s = String::with_capacity(rows * 260);
    s.push('\u{feff}');
    s.push_str(
        "\"Key ID\", \"Product Key\", \"Email\", \"Status\", \"Expires On\", \"Total \
         Activations\", \"Used Activations\", \"Total Deactivations\", \"Used Deactivations\", \
         \"Creation Date\", \"Custom Fields\", \"Activation Location\",\"Activation Date\",\
         \"Activation Extra Data\",\"Activation OS\"\r\n",
    );
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..rows {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let key = format!(
            "{:06X}-{:06X}-{:06X}-{:06X}",
            x & 0xFF_FFFF,
            (x >> 24) & 0xFF_FFFF,
            (x >> 40) & 0xFF_FFFF,
            i & 0xFF_FFFF
        );
        let status = if i % 50 == 0 { "Suspended" } else { "Active" };
        let _ = write!(
            s,
            "\"{:024x}\", \"{key}\", \"user{i}@example.com\", \"{status}\", \"12/31/{}\", \
             \"{}\", \"{}\", \"2\", \"0\", \"01/{:02}/2024 09:30:00\", \"seats={}; plan=pro\", \
             \"Berlin, DE\",\"01/16/2024 10:00:00\",\"{{\"\"host\"\":\"\"pc-{i}\"\"}}\",\"Windows 11\"\r\n",
            x,
            2027 + i % 4,
            1 + i % 5,
            i % 2,
            1 + i % 28,
            1 + i % 10,
        );
    }
    s.into_bytes()
}

fn main() {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    if raw.first().map(String::as_str) == Some("--export-only") {
        let file = raw.get(1).expect("--export-only FILE [ROWS]");
        let rows = raw
            .get(2)
            .map_or(1_000_000, |n| n.parse().expect("a number"));
        std::fs::write(file, export(rows)).unwrap();
        return;
    }
    let args: Vec<usize> = raw.iter().map(|a| a.parse().expect("a number")).collect();
    let rows = args.first().copied().unwrap_or(1_000_000);
    let n_licenses = args.get(1).copied().unwrap_or(100_000);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("{threads} cores; {rows} rows; {n_licenses} licenses");

    let data = export(rows);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.csv");
    // On disk before anything is timed, as a vendor's downloaded export is: otherwise the
    // kernel writes these 250 MB back while the import's own commit waits on the disk.
    let mut file = std::fs::File::create(&path).unwrap();
    std::io::Write::write_all(&mut file, &data).unwrap();
    file.sync_all().unwrap();
    drop(file);
    println!("export: {:.1} MB", data.len() as f64 / 1e6);

    // Floor: the same keys recorded with no terms, in an empty ledger.
    let opts = ImportOptions {
        preset: Preset::CryptlexV2,
        product: "photo-pro".into(),
        maps: Vec::new(),
        template: None,
        skgl_secret: None,
        update: false,
        dry_run: false,
        file: "export.csv".into(),
    };
    let parsed = import::parse_export(&data, &opts).unwrap();
    let keys: Vec<&str> = parsed.rows.iter().map(|r| r.key.as_str()).collect();
    let floor_ledger = Ledger::open(&dir.path().join("floor.sqlite3")).unwrap();
    floor_ledger.products().ensure("photo-pro", None).unwrap();
    let t = Instant::now();
    let mut w = floor_ledger
        .batches()
        .begin(
            "photo-pro",
            airseal_vendor::ledger::BatchKind::Import,
            keys.len() as u64,
            None,
            &serde_json::json!({}),
        )
        .unwrap();
    w.insert_keys(&keys).unwrap();
    w.commit().unwrap();
    let floor = t.elapsed().as_secs_f64();
    drop(parsed);

    // The import, as `airseal import` runs it: read the file, parse, write, commit. Then the
    // same with a second connection open on the ledger, which keeps the import in WAL mode
    // (SQLite cannot leave it while another connection is open): the cost of writing every
    // page twice, through the WAL and then the checkpoint (SPEC §16, "Bulk imports").
    for (name, wal) in [("ledger.sqlite3", false), ("wal.sqlite3", true)] {
        let file = dir.path().join(name);
        let mut ledger = Ledger::open(&file).unwrap();
        ledger.products().ensure("photo-pro", None).unwrap();
        let other = wal.then(|| Ledger::open(&file).unwrap());
        let t = Instant::now();
        let bytes = std::fs::read(&path).unwrap();
        let read = t.elapsed().as_secs_f64();
        // With a progress callback, as the command passes one: its cost is in these times.
        let mut reports = 0u64;
        let mut count = |_: import::ImportProgress| reports += 1;
        let parsed = import::parse_export_with_progress(&bytes, &opts, &mut count).unwrap();
        let parse = t.elapsed().as_secs_f64() - read;
        let report =
            import::write_parsed_with_progress(&mut ledger, parsed, &opts, &mut count).unwrap();
        let total = t.elapsed().as_secs_f64();
        assert!(report.balanced());
        assert_eq!(report.imported as usize, rows);
        println!(
            "import {rows} rows{}: {total:.2} s (read {read:.2} s, parse {parse:.2} s, ledger \
             {:.2} s; {reports} progress reports) | floor: insert_keys alone {floor:.2} s",
            if wal { " kept in WAL mode" } else { "" },
            total - read - parse
        );
        drop(other);
    }

    // Issuing: a second vendor ledger holding one import of n_licenses rows.
    let small = export(n_licenses);
    let mut ledger = Ledger::open(&dir.path().join("issue.sqlite3")).unwrap();
    ledger.products().ensure("photo-pro", None).unwrap();
    let report = import::import(&mut ledger, &small, &opts).unwrap();
    let issuer = Issuer::new(SigningKey::from_bytes(&[42; 32]));
    let now = chrono::Utc::now().timestamp();
    let batch = report.batch.unwrap();
    let t = Instant::now();
    let plan = licenses::plan(
        &ledger,
        batch,
        &LicenseSpec::default(),
        |_| unreachable!(),
        now,
    )
    .unwrap();
    let plan_secs = t.elapsed().as_secs_f64();
    println!(
        "plan: {} keys and their terms read from the ledger in {plan_secs:.2} s ({} skipped: \
         suspended)",
        plan.jobs.len() + plan.skipped.len(),
        plan.skipped.len()
    );
    let specs: Vec<LicenseSpec> = plan.jobs.iter().map(|j| j.spec.clone()).collect();
    let n = specs.len();
    // Message size for the floor: one license's Sig_structure is a few bytes more than its
    // payload; the payload length is close enough and is what dominates SHA-512.
    let sample = {
        let mut rng = rand::rng();
        specs[0].to_claims(&issuer, now, &mut rng).unwrap().encode()
    };
    let key = SigningKey::from_bytes(&[42; 32]);
    let sign_floor = |threads: usize| {
        let t = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    for _ in 0..n / threads {
                        std::hint::black_box(key.sign(std::hint::black_box(&sample)));
                    }
                });
            }
        });
        (n / threads * threads) as f64 / t.elapsed().as_secs_f64()
    };
    let issue_rate = |threads: usize| {
        let done = std::sync::atomic::AtomicUsize::new(0);
        let t = Instant::now();
        licenses::issue_parallel(&issuer, &specs, now, threads, &|_, r| -> Result<(), ()> {
            let (_, bytes) = r.map_err(|_| ())?;
            std::hint::black_box(airseal_core::armor::armor(
                airseal_core::ObjectType::License.armor_label(),
                &bytes,
            ));
            done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        })
        .unwrap();
        assert_eq!(done.into_inner(), n);
        n as f64 / t.elapsed().as_secs_f64()
    };
    println!("payload {} bytes", sample.len());
    for round in 0..3 {
        let (f1, i1) = (sign_floor(1), issue_rate(1));
        let (fall, iall) = (sign_floor(threads), issue_rate(threads));
        println!(
            "round {round}: 1 thread: floor {f1:.0}/s, issue {i1:.0}/s ({:.2}) | {threads} \
             threads: floor {fall:.0}/s, issue {iall:.0}/s ({:.2})",
            i1 / f1,
            iall / fall
        );
    }
}
