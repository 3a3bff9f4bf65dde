//! Revocations in the ledger: recording one is idempotent (one row, one audit entry, and
//! "new" only the first time), whatever kind it is.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use airseal_vendor::ledger::{AuditFilter, Ledger, Revocation};

#[test]
fn a_revocation_recorded_twice_is_one_row_and_not_new_the_second_time() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(&dir.path().join("ledger.sqlite3")).unwrap();
    ledger.products().ensure("p", None).unwrap();
    let revocations = ledger.revocations();
    for what in [
        Revocation::License("KDQ55VCSPJWEW".into()),
        Revocation::Key("NQBQ6WG6N5JNNZKD29XK".into()),
        Revocation::MinIssuedAt {
            product: "p".into(),
            before: 1_767_225_600,
        },
    ] {
        assert!(revocations.add(&what, None).unwrap(), "{what:?}");
        assert!(!revocations.add(&what, Some("again")).unwrap(), "{what:?}");
    }
    let (entries, _) = revocations.list().unwrap();
    assert_eq!(entries.len(), 3, "{entries:?}");
    let audited = ledger
        .audit()
        .search(&AuditFilter {
            action: Some("revoke".into()),
            ..AuditFilter::default()
        })
        .unwrap();
    assert_eq!(audited.len(), 3);
}
