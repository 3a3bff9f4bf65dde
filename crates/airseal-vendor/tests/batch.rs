//! Batch generation: counts, uniqueness against the ledger, and agreement between the ledger
//! and the output file when the process stops between any two steps.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::path::Path;

use airseal_core::productkey::{DEFAULT_PATTERN, Pattern};
use airseal_vendor::batch::{self, BatchError, BatchRequest, KeySource, OutputFormat};
use airseal_vendor::keys::{KeyGenerator, seeded_rng};
use airseal_vendor::ledger::Ledger;

fn ledger(dir: &Path) -> Ledger {
    let l = Ledger::open(&dir.join("ledger.sqlite3")).unwrap();
    l.products().ensure("photo-pro", None).unwrap();
    l
}

fn request<'a>(out: &'a Path, count: u64, seed: u64) -> BatchRequest<'a> {
    let pattern = Pattern::parse(DEFAULT_PATTERN).unwrap();
    BatchRequest {
        product: "photo-pro",
        count,
        source: KeySource::Generator(KeyGenerator::random(pattern, 80, seeded_rng(seed)).unwrap()),
        format: OutputFormat::Txt,
        output: out,
        force: false,
        template: None,
        customer: None,
    }
}

fn file_keys(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.replace('-', ""))
        .collect()
}

#[test]
fn batch_writes_and_records_exactly_count_unique_keys() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = ledger(dir.path());
    let out = dir.path().join("a.txt");
    let report = batch::generate(&mut l, request(&out, 20_000, 1), &mut |_| {}).unwrap();
    assert_eq!(report.keys, 20_000);
    let keys = file_keys(&out);
    assert_eq!(keys.len(), 20_000);
    assert_eq!(keys.iter().collect::<HashSet<_>>().len(), 20_000);
    assert_eq!(
        l.batches().keys(report.batch).unwrap(),
        keys,
        "file and ledger agree, in order"
    );
    assert_eq!(l.keys().count("photo-pro").unwrap(), 20_000);
}

#[test]
fn keys_already_in_the_ledger_are_never_issued_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = ledger(dir.path());
    let first = dir.path().join("first.txt");
    batch::generate(&mut l, request(&first, 500, 7), &mut |_| {}).unwrap();
    // The same seed makes the same 500 candidates first: every one collides and is replaced.
    let second = dir.path().join("second.txt");
    let report = batch::generate(&mut l, request(&second, 500, 7), &mut |_| {}).unwrap();
    assert_eq!(report.collisions, 500);
    let a: HashSet<_> = file_keys(&first).into_iter().collect();
    let b: HashSet<_> = file_keys(&second).into_iter().collect();
    assert_eq!(b.len(), 500);
    assert!(a.is_disjoint(&b));
    assert_eq!(l.keys().count("photo-pro").unwrap(), 1000);
}

#[test]
fn stopping_before_commit_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("k.txt");
    {
        let mut l = ledger(dir.path());
        // A progress callback that fails the batch midway stands for a crash before commit:
        // the transaction is dropped, never committed.
        let mut calls = 0;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            batch::generate(&mut l, request(&out, 200_000, 3), &mut |_| {
                calls += 1;
                if calls == 2 {
                    panic!("simulated crash");
                }
            })
        }));
        assert!(result.is_err());
    }
    let mut l = ledger(dir.path());
    assert_eq!(l.keys().count("photo-pro").unwrap(), 0);
    assert!(!out.exists());
    assert!(batch::recover_pending(&mut l).unwrap().is_empty());
    // A re-run starts cleanly (and removes the stale temporary file).
    batch::generate(&mut l, request(&out, 1000, 3), &mut |_| {}).unwrap();
    assert_eq!(file_keys(&out).len(), 1000);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with(".k.txt.tmp-") || name.contains("airseal-batch")
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn stopping_after_commit_is_recovered_from_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("k.txt");
    let batch_id = {
        let mut l = ledger(dir.path());
        let unpublished =
            batch::generate_unpublished(&mut l, request(&out, 3000, 5), &mut |_| {}).unwrap();
        // "Crash": the batch is committed but its file never moved into place.
        std::mem::forget(unpublished);
        assert!(!out.exists());
        l.batches().pending().unwrap()[0].id
    };
    let mut l = ledger(dir.path());
    assert_eq!(batch::recover_pending(&mut l).unwrap(), vec![batch_id]);
    let keys = file_keys(&out);
    assert_eq!(keys.len(), 3000);
    assert_eq!(l.batches().keys(batch_id).unwrap(), keys);
    assert!(l.batches().pending().unwrap().is_empty());
    // Re-running the command now refuses to overwrite the recovered output.
    assert!(matches!(
        batch::generate(&mut l, request(&out, 10, 5), &mut |_| {}),
        Err(BatchError::AlreadyExists { .. })
    ));
}

/// Recovery rewrites a batch's output in the format it was recorded with; a format it does
/// not know is an error naming it, never a guess (it used to fall back to `txt`).
#[test]
fn recovery_refuses_a_recorded_format_it_does_not_know() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("k.txt");
    {
        let mut l = ledger(dir.path());
        let unpublished =
            batch::generate_unpublished(&mut l, request(&out, 10, 5), &mut |_| {}).unwrap();
        std::mem::forget(unpublished);
        l.sqlite_connection()
            .unwrap()
            .execute(
                "UPDATE batches SET params = json_set(params, '$.format', 'xml')",
                [],
            )
            .unwrap();
    }
    let mut l = ledger(dir.path());
    match batch::recover_pending(&mut l) {
        Err(BatchError::Ledger(airseal_vendor::ledger::LedgerError::UnknownValue {
            table: "batches",
            column: "params.format",
            value,
        })) => assert_eq!(value, "xml"),
        other => panic!("expected an unknown format, got {other:?}"),
    }
    assert!(!out.exists());
    assert_eq!(l.batches().pending().unwrap().len(), 1);
}

#[test]
fn unknown_product_is_refused_before_anything_happens() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = ledger(dir.path());
    let out = dir.path().join("k.txt");
    let mut req = request(&out, 10, 1);
    req.product = "nope";
    assert!(matches!(
        batch::generate(&mut l, req, &mut |_| {}),
        Err(BatchError::UnknownProduct { .. })
    ));
    assert!(!out.exists());
}
