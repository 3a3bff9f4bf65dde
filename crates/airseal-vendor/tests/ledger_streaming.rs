//! Listings one row at a time (`for_each`): the same rows in the same order as `list`, and a
//! callback that says stop (a reader gone, `| head`) ends the walk at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use airseal_vendor::keys::KeyKind;
use airseal_vendor::ledger::{AuditFilter, KeyFilter, Ledger, LedgerError, LicenseFilter};
use serde_json::json;

fn ledger_with_keys(n: usize) -> (tempfile::TempDir, Ledger) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(&dir.path().join("ledger.sqlite3")).unwrap();
    ledger.products().ensure("p", None).unwrap();
    let keys: Vec<String> = (0..n).map(|i| format!("KEY{i:05}")).collect();
    let mut w = ledger
        .batches()
        .begin("p", KeyKind::Random.into(), n as u64, None, &json!({}))
        .unwrap();
    for k in &keys {
        w.insert_key(k).unwrap();
    }
    w.commit().unwrap();
    (dir, ledger)
}

#[test]
fn for_each_walks_what_list_returns_and_stops_when_told() {
    let (_dir, ledger) = ledger_with_keys(50);
    let all = KeyFilter::default();
    let listed: Vec<String> = ledger
        .keys()
        .list(&all)
        .unwrap()
        .into_iter()
        .map(|k| k.record.key)
        .collect();
    assert_eq!(listed.len(), 50);
    let mut walked = Vec::new();
    ledger
        .keys()
        .for_each(&all, |k| {
            walked.push(k.record.key);
            Ok::<_, LedgerError>(())
        })
        .unwrap();
    assert_eq!(walked, listed);

    // The callback's own error ends the walk and comes back as is: stop after three, and
    // the fourth is never read.
    #[derive(Debug, PartialEq)]
    enum Stop {
        Gone,
        Ledger,
    }
    impl From<LedgerError> for Stop {
        fn from(_: LedgerError) -> Self {
            Stop::Ledger
        }
    }
    let mut calls = 0;
    let r = ledger.keys().for_each(&all, |_| {
        calls += 1;
        if calls == 3 { Err(Stop::Gone) } else { Ok(()) }
    });
    assert_eq!(r, Err(Stop::Gone));
    assert_eq!(calls, 3);

    // The limit holds as in `list`.
    let two = KeyFilter {
        limit: Some(2),
        ..KeyFilter::default()
    };
    let mut n = 0;
    ledger
        .keys()
        .for_each(&two, |_| {
            n += 1;
            Ok::<_, LedgerError>(())
        })
        .unwrap();
    assert_eq!(n, 2);
}

#[test]
fn audit_and_licenses_stream_in_list_order() {
    let (_dir, ledger) = ledger_with_keys(3);
    let filter = AuditFilter::default();
    let searched: Vec<i64> = ledger
        .audit()
        .search(&filter)
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert!(!searched.is_empty());
    let mut walked = Vec::new();
    ledger
        .audit()
        .for_each(&filter, |e| {
            walked.push(e.id);
            Ok::<_, LedgerError>(())
        })
        .unwrap();
    assert_eq!(walked, searched);
    let mut none = 0;
    ledger
        .licenses()
        .for_each(&LicenseFilter::default(), |_| {
            none += 1;
            Ok::<_, LedgerError>(())
        })
        .unwrap();
    assert_eq!(none, 0);
}
