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

/// A ledger with product `p` and two generated keys.
fn ledger_with_keys(dir: &std::path::Path) -> Ledger {
    use airseal_vendor::keys::KeyKind;
    let ledger = Ledger::open(&dir.join("ledger.sqlite3")).unwrap();
    ledger.products().ensure("p", None).unwrap();
    let mut batch = ledger
        .batches()
        .begin("p", KeyKind::Random.into(), 2, None, &serde_json::json!({}))
        .unwrap();
    batch
        .insert_keys(&["NQBQ6WG6N5JNNZKD29XK", "7K3QDM2XRP9FTWB4HCNV"])
        .unwrap();
    batch.commit().unwrap();
    ledger
}

#[test]
fn revoking_a_key_sets_its_status_and_undo_restores_the_one_it_had() {
    use airseal_vendor::ledger::{KeyStatus, RevokeOutcome, RevokeTarget, UndoTarget};
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger_with_keys(dir.path());
    let key = "NQBQ6WG6N5JNNZKD29XK";
    ledger
        .keys()
        .set_status("p", key, KeyStatus::Suspended)
        .unwrap();
    let target = RevokeTarget::Key {
        key: "nqbq6-wg6n5-jnnzk-d29xk".into(),
        product: None,
    };
    let report = ledger
        .revocations()
        .revoke(&target, Some("leak"), 0)
        .unwrap();
    assert!(report.changed);
    let RevokeOutcome::Keys(keys) = &report.outcome else {
        panic!("{report:?}")
    };
    assert_eq!(
        (keys[0].key.as_str(), keys[0].from, keys[0].to),
        (key, KeyStatus::Suspended, KeyStatus::Revoked)
    );
    let status = |k: &str| ledger.keys().info(Some("p"), k).unwrap().unwrap().status;
    assert_eq!(status(key), KeyStatus::Revoked);
    assert!(
        !ledger
            .revocations()
            .revoke(&target, None, 0)
            .unwrap()
            .changed
    );
    let contents = ledger.revocations().contents().unwrap();
    assert_eq!(contents.product_keys.iter().collect::<Vec<_>>(), [key]);

    let undo = UndoTarget::Key {
        key: key.into(),
        product: Some("p".into()),
    };
    ledger.revocations().undo(&undo, Some("paid"), 0).unwrap();
    assert_eq!(
        status(key),
        KeyStatus::Suspended,
        "the status it had before"
    );
    assert!(
        ledger
            .revocations()
            .contents()
            .unwrap()
            .product_keys
            .is_empty()
    );
    assert!(ledger.revocations().undo(&undo, None, 0).is_err());
}

#[test]
fn a_cutoff_is_known_product_past_and_only_rises() {
    use airseal_vendor::ledger::{RevokeError, RevokeTarget, UndoTarget};
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger_with_keys(dir.path());
    let now = 1_800_000_000;
    let cutoff = |product: &str, before: i64| RevokeTarget::IssuedBefore {
        product: product.into(),
        before,
    };
    let r = ledger.revocations();
    assert!(matches!(
        r.revoke(&cutoff("q", now - 10), None, now),
        Err(RevokeError::UnknownProduct { .. })
    ));
    assert!(matches!(
        r.revoke(&cutoff("p", now + 1), None, now),
        Err(RevokeError::CutoffInFuture { .. })
    ));
    r.revoke(&cutoff("p", now - 10), None, now).unwrap();
    assert!(matches!(
        r.revoke(&cutoff("p", now - 20), None, now),
        Err(RevokeError::CutoffLowered { current, requested, .. })
            if current == now - 10 && requested == now - 20
    ));
    assert_eq!(
        r.contents().unwrap().min_issued_at,
        [("p".into(), now - 10)]
    );
    r.undo(
        &UndoTarget::Cutoff {
            product: "p".into(),
            to: Some(now - 20),
        },
        None,
        now,
    )
    .unwrap();
    assert_eq!(
        r.contents().unwrap().min_issued_at,
        [("p".into(), now - 20)]
    );
    assert!(matches!(
        r.revoke(
            &RevokeTarget::License {
                id: "NOPE".into(),
                external: false
            },
            None,
            now
        ),
        Err(RevokeError::UnknownLicense { .. })
    ));
    assert!(matches!(
        r.revoke(
            &RevokeTarget::Key {
                key: "TOTALLY-NOT-A-KEY".into(),
                product: None
            },
            None,
            now
        ),
        Err(RevokeError::UnknownKey { .. })
    ));
}
