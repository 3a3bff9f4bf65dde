//! Runs `examples/vendor_backend.rs` — a vendor backend that creates a vendor folder,
//! generates a batch, imports a CSV, answers an activation request and exports a revocation
//! list with library calls alone — and checks what it did against the ledger and the files.
//! This is the proof that the CLI is not needed for any of it (issue: the vendor library is
//! the one API).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../examples/vendor_backend.rs"]
mod vendor_backend;

use airseal_vendor::ledger::{ActivationFilter, Ledger};

const NOW: i64 = 1_780_000_000; // 2026-05-28

#[test]
fn the_example_backend_runs_without_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let outcome = vendor_backend::run(dir.path(), NOW).unwrap();
    assert_eq!(outcome.generated, 100);
    assert_eq!(outcome.imported, 2);
    assert_eq!(outcome.revocation_seq, 1);

    // The ledger the example wrote holds what it said, read back independently.
    let ledger = Ledger::open(&dir.path().join("vendor/ledger.sqlite3")).unwrap();
    assert_eq!(ledger.keys().count("photo-pro").unwrap(), 102);
    let seats = ledger.seats().list(&ActivationFilter::default()).unwrap();
    assert_eq!(seats.len(), 1, "{seats:?}");
    assert_eq!(
        seats[0].key.as_deref(),
        Some(outcome.activated_key.replace('-', "").as_str())
    );
    assert_eq!(seats[0].license_id, outcome.license_id);
    assert!(seats[0].is_live());

    // The files a vendor ships: the batch, the signed list; the app's installed license.
    let keys = std::fs::read_to_string(dir.path().join("keys.txt")).unwrap();
    assert_eq!(keys.lines().count(), 100);
    assert!(keys.lines().any(|k| k == outcome.activated_key));
    assert!(
        std::fs::read_to_string(dir.path().join("revocations.txt"))
            .unwrap()
            .starts_with("-----BEGIN AIRSEAL REVOCATION LIST-----")
    );
    assert!(dir.path().join("customer-machine").is_dir());

    // The walk cannot be run twice over the same folder: nothing is overwritten.
    assert!(vendor_backend::run(dir.path(), NOW).is_err());
}
