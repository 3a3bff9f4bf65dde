//! The vendor ledger: migrations, batches and their crash behaviour, uniqueness, the audit
//! log, and two processes sharing one ledger.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use airseal_vendor::keys::KeyKind;
use airseal_vendor::ledger::{
    AuditFilter, BatchKind, BatchStatus, KeyFilter, KeyStatus, Ledger, LedgerError, MIGRATIONS,
    SCHEMA_VERSION,
};
use serde_json::json;

fn ledger_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("ledger.sqlite3")
}

/// A ledger with products `p` and `q`.
fn new_ledger() -> (tempfile::TempDir, Ledger) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(&ledger_path(&dir)).unwrap();
    ledger.products().ensure("p", Some("Product P")).unwrap();
    ledger.products().ensure("q", None).unwrap();
    (dir, ledger)
}

/// Commits a batch of `keys` for `product` and returns its id.
fn batch_of(ledger: &Ledger, product: &str, keys: &[&str]) -> i64 {
    let mut w = ledger
        .batches()
        .begin(
            product,
            KeyKind::Random.into(),
            keys.len() as u64,
            None,
            &json!({}),
        )
        .unwrap();
    for k in keys {
        w.insert_key(k).unwrap();
    }
    w.commit().unwrap()
}

/// The audit log's actions, oldest first, without the schema migrations (whose number
/// grows with the schema; `migrations_apply_once_and_reopening_is_idempotent` checks them).
fn actions(ledger: &Ledger) -> Vec<String> {
    let mut log = ledger.audit().recent(1000).unwrap();
    log.reverse();
    log.into_iter()
        .map(|e| e.action)
        .filter(|a| a != "ledger.migrate")
        .collect()
}

#[test]
fn migrations_apply_once_and_reopening_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = ledger_path(&dir);
    let ledger = Ledger::open(&path).unwrap();
    assert_eq!(ledger.schema_version().unwrap(), SCHEMA_VERSION);
    let version: u32 = ledger
        .sqlite_connection()
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    drop(ledger);
    for _ in 0..3 {
        let ledger = Ledger::open(&path).unwrap();
        assert_eq!(ledger.schema_version().unwrap(), SCHEMA_VERSION);
        let migrations: Vec<_> = ledger
            .audit()
            .recent(1000)
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "ledger.migrate")
            .collect();
        assert_eq!(
            migrations.len(),
            MIGRATIONS.len(),
            "each migration applied (and audited) once"
        );
        assert!(actions(&ledger).is_empty());
    }
    let mut log: Vec<_> = Ledger::open(&path)
        .unwrap()
        .audit()
        .recent(1000)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "ledger.migrate")
        .collect();
    log.reverse();
    assert_eq!(log[0].detail, json!({ "from": 0, "to": 1 }));
    assert_eq!(
        log[MIGRATIONS.len() - 1].detail,
        json!({ "from": MIGRATIONS[MIGRATIONS.len() - 2].version, "to": SCHEMA_VERSION })
    );
}

/// A ledger as airseal wrote it at schema 6: migrations 1-6 exactly as shipped, one product,
/// two imported keys whose terms sit in `key_terms` as JSON (as the importer wrote them
/// then), and one generated key with none.
fn schema_6_ledger(path: &Path, spec_of_second: &str) {
    let c = rusqlite::Connection::open(path).unwrap();
    c.pragma_update(None, "page_size", 8192).unwrap();
    for m in MIGRATIONS.iter().filter(|m| m.version <= 6) {
        c.execute_batch(m.sql).unwrap();
        c.pragma_update(None, "user_version", m.version).unwrap();
    }
    c.pragma_update(None, "application_id", 0x4153_4C47)
        .unwrap();
    c.execute_batch(&format!(
        "INSERT INTO products (id, created) VALUES ('p', 0);
         INSERT INTO batches (id, product, kind, requested, created, status, params)
             VALUES (1, 'p', 'import', 2, 0, 'complete', '{{}}');
         INSERT INTO keys (product, key, batch, seq, status) VALUES
             ('p', 'AB12-cd34', 1, 0, 'active'), ('p', 'EF56-GH78', 1, 1, 'suspended'),
             ('p', 'GEN-0001', 1, 2, 'active');
         INSERT INTO key_terms (product, key, template, spec, email, prior_activations,
                                prior_deactivations, source, loose) VALUES
             ('p', 'AB12-cd34', 'pro',
              '{{\"licensee_email\":\"ada@example.com\",\"expires\":\"2027-12-31\",
                \"max_activations\":\"unlimited\",\"features\":[\"F1\"],
                \"metadata\":{{\"plan\":\"pro\",\"seats\":3}}}}',
              'ada@example.com', 2, 1, 'cryptlex-v2 line 2', 'ab12cd34'),
             ('p', 'EF56-GH78', NULL, '{spec_of_second}', NULL, 0, 0, NULL, 'ef56gh78');"
    ))
    .unwrap();
}

#[test]
fn migration_7_moves_key_terms_into_the_keys_rows_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = ledger_path(&dir);
    schema_6_ledger(&path, r#"{"licensee_name":"Bo"}"#);
    let ledger = Ledger::open(&path).unwrap();
    assert_eq!(ledger.schema_version().unwrap(), SCHEMA_VERSION);
    let terms = ledger.keys().terms("p", "AB12-cd34").unwrap().unwrap();
    assert_eq!(terms.template.as_deref(), Some("pro"));
    assert_eq!((terms.prior_activations, terms.prior_deactivations), (2, 1));
    assert_eq!(terms.source.as_deref(), Some("cryptlex-v2 line 2"));
    let json = serde_json::to_value(&terms.spec).unwrap();
    assert_eq!(
        json,
        json!({
            "licensee_email": "ada@example.com",
            "expires": "2027-12-31",
            "max_activations": "unlimited",
            "features": ["F1"],
            "metadata": { "plan": "pro", "seats": 3 },
        })
    );
    let second = ledger.keys().terms("p", "EF56-GH78").unwrap().unwrap();
    assert_eq!(second.spec.licensee_name.as_deref(), Some("Bo"));
    assert_eq!(ledger.keys().terms("p", "GEN-0001").unwrap(), None);
    // The loose lookup finds imported keys through the new index, and only them.
    let found = ledger.keys().find("p", "ab12 CD34").unwrap().unwrap();
    assert_eq!(found.key, "AB12-cd34");
    assert_eq!(ledger.keys().find("p", "gen_0001").unwrap(), None);
    let old_table: i64 = ledger
        .sqlite_connection()
        .unwrap()
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name LIKE 'key_terms%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(old_table, 0);
    // Statuses and listings are as before.
    let listed = ledger
        .keys()
        .list(&KeyFilter {
            email: Some("ADA@".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].record.key, "AB12-cd34");
    assert_eq!(listed[0].prior_activations, 2);
}

#[test]
fn migration_7_stops_on_an_unreadable_spec_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = ledger_path(&dir);
    // Valid JSON (the old CHECK allowed it) that is not a license spec.
    schema_6_ledger(&path, r#"{"licensee_name":7}"#);
    match Ledger::open(&path) {
        Err(LedgerError::Corrupt { what }) => assert!(what.contains("p/EF56-GH78"), "{what}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    let c = rusqlite::Connection::open(&path).unwrap();
    let version: u32 = c
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 6);
    let rows: i64 = c
        .query_row("SELECT count(*) FROM key_terms", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 2);
}

/// A word this build does not know, in a column that holds one of a fixed set, is an error
/// naming the table, the column and the value: never read as some default.
#[test]
fn unknown_words_in_the_ledger_are_errors_naming_where_they_are() {
    let (_dir, ledger) = new_ledger();
    let id = batch_of(&ledger, "p", &["K1"]);
    let unknown = |r: Result<(), LedgerError>| match r {
        Err(LedgerError::UnknownValue {
            table,
            column,
            value,
        }) => (table, column, value),
        other => panic!("expected UnknownValue, got {other:?}"),
    };
    let c = ledger.sqlite_connection().unwrap();
    c.execute("UPDATE batches SET kind = 'quantum' WHERE id = ?1", [id])
        .unwrap();
    assert_eq!(
        unknown(ledger.keys().info(Some("p"), "K1").map(drop)),
        ("batches", "kind", "quantum".to_string())
    );
    assert_eq!(
        unknown(ledger.batches().get(id).map(drop)),
        ("batches", "kind", "quantum".to_string())
    );
    let e = ledger.batches().get(id).unwrap_err().to_string();
    assert!(e.contains("batches.kind") && e.contains("quantum"), "{e}");
    c.execute("UPDATE batches SET kind = 'data' WHERE id = ?1", [id])
        .unwrap();
    assert_eq!(
        ledger.keys().info(Some("p"), "K1").unwrap().unwrap().kind,
        BatchKind::Generated(KeyKind::Data)
    );
    c.execute("UPDATE keys SET status = 'frozen'", []).unwrap();
    assert_eq!(
        unknown(ledger.keys().info(Some("p"), "K1").map(drop)),
        ("keys", "status", "frozen".to_string())
    );
    c.execute(
        "INSERT INTO revocations (kind, value, at) VALUES ('moon_phase', 'full', 0)",
        [],
    )
    .unwrap_err();
}

/// What a listing's callback returns to stop it.
#[derive(Debug)]
enum Stop {
    Here,
    #[allow(dead_code)] // Only read through Debug when a test fails.
    Ledger(LedgerError),
}

impl From<LedgerError> for Stop {
    fn from(e: LedgerError) -> Self {
        Self::Ledger(e)
    }
}

/// Listings stream: each row reaches the callback as it is read, and an error from the
/// callback (a closed pipe, a full disk) stops the listing there and is handed back.
#[test]
fn a_streaming_listing_stops_at_the_first_error_from_its_callback() {
    let (_dir, ledger) = new_ledger();
    let keys: Vec<String> = (0..10).map(|i| format!("K{i:02}")).collect();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    batch_of(&ledger, "p", &refs);
    let all = ledger
        .keys()
        .for_each(&KeyFilter::default(), |_| Ok::<_, Stop>(()));
    assert_eq!(all.unwrap(), 10);
    let mut seen = Vec::new();
    let r = ledger.keys().for_each(&KeyFilter::default(), |k| {
        seen.push(k.record.key);
        if seen.len() == 3 {
            Err(Stop::Here)
        } else {
            Ok(())
        }
    });
    assert!(matches!(r, Err(Stop::Here)), "{r:?}");
    assert_eq!(seen, ["K00", "K01", "K02"]);
    // The connection is usable afterwards, with its normal page cache back.
    let cache: i64 = ledger
        .sqlite_connection()
        .unwrap()
        .pragma_query_value(None, "cache_size", |r| r.get(0))
        .unwrap();
    assert_eq!(cache, -256 * 1024);
    assert_eq!(ledger.keys().list(&KeyFilter::default()).unwrap().len(), 10);

    let mut calls = 0;
    let r = ledger.audit().for_each(&AuditFilter::default(), |_| {
        calls += 1;
        Err(Stop::Here)
    });
    assert!(matches!(r, Err(Stop::Here)));
    assert_eq!(calls, 1);
    assert!(ledger.audit().recent(100).unwrap().len() > 1);
}

#[test]
fn a_ledger_from_a_newer_airseal_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = ledger_path(&dir);
    let ledger = Ledger::open(&path).unwrap();
    ledger
        .sqlite_connection()
        .unwrap()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(ledger);
    match Ledger::open(&path) {
        Err(LedgerError::TooNew { found, supported }) => {
            assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        }
        other => panic!("expected TooNew, got {other:?}"),
    }
    let e = Ledger::open(&path).unwrap_err();
    assert!(e.to_string().contains("upgrade airseal"), "{e}");
}

#[test]
fn files_that_are_not_ledgers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(
        &text,
        "just some text, long enough to not look like an empty file\n".repeat(20),
    )
    .unwrap();
    assert!(matches!(
        Ledger::open(&text),
        Err(LedgerError::NotALedger { .. })
    ));

    let other = dir.path().join("other.sqlite3");
    let conn = rusqlite::Connection::open(&other).unwrap();
    conn.execute_batch("CREATE TABLE customers (id INTEGER)")
        .unwrap();
    drop(conn);
    assert!(matches!(
        Ledger::open(&other),
        Err(LedgerError::NotALedger { .. })
    ));

    let missing = dir.path().join("no").join("such").join("ledger.sqlite3");
    assert!(matches!(
        Ledger::open(&missing),
        Err(LedgerError::Open { .. })
    ));
}

#[test]
fn wal_foreign_keys_and_synchronous_normal_are_on() {
    let (_dir, ledger) = new_ledger();
    let c = ledger.sqlite_connection().unwrap();
    let mode: String = c
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = c
        .pragma_query_value(None, "foreign_keys", |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
    let sync: i64 = c
        .pragma_query_value(None, "synchronous", |r| r.get(0))
        .unwrap();
    assert_eq!(sync, 1, "NORMAL");
}

#[test]
fn products_are_recorded_once_and_renames_are_audited() {
    let (_dir, ledger) = new_ledger();
    assert!(!ledger.products().ensure("p", Some("Product P")).unwrap());
    assert!(!ledger.products().ensure("p", None).unwrap());
    assert!(ledger.products().ensure("p", Some("Product P 2")).unwrap());
    let products = ledger.products().list().unwrap();
    let ids: Vec<_> = products.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["p", "q"]);
    assert_eq!(products[0].name.as_deref(), Some("Product P 2"));
    assert_eq!(
        actions(&ledger),
        ["product.create", "product.create", "product.rename"]
    );
    assert!(matches!(
        ledger.products().ensure("", None),
        Err(LedgerError::EmptyProductId)
    ));
}

#[test]
fn templates_are_stored_and_changes_audited() {
    let (_dir, ledger) = new_ledger();
    assert!(
        ledger
            .products()
            .put_template("p", "pro", "days = 365\n")
            .unwrap()
    );
    assert!(
        !ledger
            .products()
            .put_template("p", "pro", "days = 365\n")
            .unwrap()
    );
    assert!(
        ledger
            .products()
            .put_template("p", "pro", "days = 30\n")
            .unwrap()
    );
    assert_eq!(
        ledger.products().template("p", "pro").unwrap().as_deref(),
        Some("days = 30\n")
    );
    assert_eq!(ledger.products().template("p", "basic").unwrap(), None);
    assert!(matches!(
        ledger.products().put_template("nope", "pro", ""),
        Err(LedgerError::UnknownProduct { .. })
    ));
    let log = actions(&ledger);
    assert_eq!(&log[2..], ["template.create", "template.update"]);
}

#[test]
fn a_committed_batch_records_its_keys_and_an_audit_row() {
    let (dir, ledger) = new_ledger();
    let out = dir.path().join("keys.csv");
    let mut w = ledger
        .batches()
        .begin(
            "p",
            KeyKind::Random.into(),
            3,
            Some(&out),
            &json!({ "pattern": "XXXXX" }),
        )
        .unwrap();
    let id = w.batch_id();
    assert!(w.insert_key("AAAAA").unwrap());
    assert!(w.insert_key("BBBBB").unwrap());
    assert!(w.insert_key("CCCCC").unwrap());
    assert_eq!(w.inserted(), 3);
    assert_eq!(w.commit().unwrap(), id);

    assert_eq!(ledger.keys().count("p").unwrap(), 3);
    assert_eq!(ledger.keys().count("q").unwrap(), 0);
    let batch = ledger.batches().get(id).unwrap().unwrap();
    assert_eq!(batch.product, "p");
    assert_eq!(batch.kind, KeyKind::Random.into());
    assert_eq!((batch.requested, batch.inserted), (3, 3));
    assert_eq!(batch.status, BatchStatus::Pending);
    assert_eq!(batch.output.as_deref(), Some(out.as_path()));
    assert_eq!(batch.params, json!({ "pattern": "XXXXX" }));

    let key = ledger.keys().info(Some("p"), "BBBBB").unwrap().unwrap();
    assert_eq!(key.batch, id);
    assert_eq!(key.kind, BatchKind::Generated(KeyKind::Random));
    assert_eq!(key.kind.as_str(), "random");
    assert_eq!(key.status, KeyStatus::Active);
    assert_eq!(key.created, batch.created);
    assert_eq!(ledger.keys().info(None, "BBBBB").unwrap(), Some(key));
    assert_eq!(ledger.keys().info(Some("q"), "BBBBB").unwrap(), None);
    assert_eq!(ledger.keys().info(None, "ZZZZZ").unwrap(), None);

    let log = ledger.audit().recent(1).unwrap();
    assert_eq!(log[0].action, "batch.commit");
    assert_eq!(log[0].subject, id.to_string());
    assert_eq!(log[0].detail["inserted"], 3);
    assert_eq!(log[0].detail["product"], "p");
}

#[test]
fn dropping_a_batch_without_commit_leaves_nothing() {
    let (_dir, ledger) = new_ledger();
    let before = actions(&ledger);
    let id = {
        let mut w = ledger
            .batches()
            .begin("p", KeyKind::Random.into(), 2, None, &json!({}))
            .unwrap();
        assert!(w.insert_key("AAAAA").unwrap());
        assert_eq!(w.insert_keys(&["BBBBB", "CCCCC"]).unwrap(), [true, true]);
        w.batch_id()
    };
    assert_eq!(ledger.batches().get(id).unwrap(), None);
    assert!(ledger.batches().pending().unwrap().is_empty());
    assert_eq!(ledger.keys().count("p").unwrap(), 0);
    assert_eq!(actions(&ledger), before);
    // The ledger is usable afterwards, and the keys can be recorded for real.
    batch_of(&ledger, "p", &["AAAAA"]);
    assert_eq!(ledger.keys().count("p").unwrap(), 1);
}

#[test]
fn duplicates_are_refused_within_a_batch_and_against_earlier_ones() {
    let (_dir, ledger) = new_ledger();
    batch_of(&ledger, "p", &["AAAAA", "BBBBB"]);

    let mut w = ledger
        .batches()
        .begin("p", KeyKind::Random.into(), 6, None, &json!({}))
        .unwrap();
    assert!(!w.insert_key("AAAAA").unwrap(), "from an earlier batch");
    assert!(w.insert_key("CCCCC").unwrap());
    assert!(!w.insert_key("CCCCC").unwrap(), "earlier in this batch");
    // In bulk: the first occurrence wins, whatever the sort order inside the call.
    let flags = w
        .insert_keys(&[
            "ZZZZZ", "BBBBB", "DDDDD", "ZZZZZ", "CCCCC", "EEEEE", "DDDDD",
        ])
        .unwrap();
    assert_eq!(flags, [true, false, true, false, false, true, false]);
    assert_eq!(w.inserted(), 4);
    let id = w.commit().unwrap();
    assert_eq!(ledger.batches().get(id).unwrap().unwrap().inserted, 4);
    assert_eq!(ledger.keys().count("p").unwrap(), 6);
    // Keys come back in the order they were offered, not the order they were inserted.
    assert_eq!(
        ledger.batches().keys(id).unwrap(),
        ["CCCCC", "ZZZZZ", "DDDDD", "EEEEE"]
    );
}

#[test]
fn the_same_key_may_belong_to_two_products() {
    let (_dir, ledger) = new_ledger();
    batch_of(&ledger, "p", &["AAAAA"]);
    let mut w = ledger
        .batches()
        .begin("q", KeyKind::Random.into(), 1, None, &json!({}))
        .unwrap();
    assert!(w.insert_key("AAAAA").unwrap());
    w.commit().unwrap();
    assert_eq!(ledger.keys().count("q").unwrap(), 1);
    assert_eq!(
        ledger
            .keys()
            .info(Some("q"), "AAAAA")
            .unwrap()
            .unwrap()
            .product,
        "q"
    );
    match ledger.keys().info(None, "AAAAA") {
        Err(LedgerError::AmbiguousKey { products, .. }) => assert_eq!(products, ["p", "q"]),
        other => panic!("expected AmbiguousKey, got {other:?}"),
    }
}

#[test]
fn batches_need_a_known_product_and_non_empty_keys() {
    let (_dir, ledger) = new_ledger();
    assert!(matches!(
        ledger
            .batches()
            .begin("nope", KeyKind::Random.into(), 1, None, &json!({})),
        Err(LedgerError::UnknownProduct { .. })
    ));
    let mut w = ledger
        .batches()
        .begin("p", KeyKind::Random.into(), 1, None, &json!({}))
        .unwrap();
    assert!(matches!(w.insert_key(""), Err(LedgerError::EmptyKey)));
    assert!(matches!(
        w.insert_keys(&["AAAAA", ""]),
        Err(LedgerError::EmptyKey)
    ));
    assert_eq!(w.inserted(), 0, "a refused call records nothing");
}

#[test]
fn the_audit_log_is_append_only() {
    let (_dir, ledger) = new_ledger();
    let id = ledger
        .audit()
        .record(
            "license.issue",
            "p",
            &json!({ "licensee": "jane@example.com" }),
        )
        .unwrap();
    let c = ledger.sqlite_connection().unwrap();
    let e = c
        .execute("UPDATE audit SET action = 'nothing' WHERE id = ?1", [id])
        .unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
    let e = c
        .execute("DELETE FROM audit WHERE id = ?1", [id])
        .unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
    let e = c.execute("DELETE FROM audit", []).unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
    let last = &ledger.audit().recent(1).unwrap()[0];
    assert_eq!((last.id, last.action.as_str()), (id, "license.issue"));
    assert_eq!(last.detail["licensee"], "jane@example.com");
}

#[test]
fn key_status_changes_are_audited() {
    let (_dir, ledger) = new_ledger();
    batch_of(&ledger, "p", &["AAAAA"]);
    assert_eq!(
        ledger
            .keys()
            .set_status("p", "AAAAA", KeyStatus::Revoked)
            .unwrap(),
        KeyStatus::Active
    );
    assert_eq!(
        ledger
            .keys()
            .info(Some("p"), "AAAAA")
            .unwrap()
            .unwrap()
            .status,
        KeyStatus::Revoked
    );
    let n = ledger.audit().recent(100).unwrap().len();
    // Setting the same status again changes and audits nothing.
    ledger
        .keys()
        .set_status("p", "AAAAA", KeyStatus::Revoked)
        .unwrap();
    assert_eq!(ledger.audit().recent(100).unwrap().len(), n);
    let last = &ledger.audit().recent(1).unwrap()[0];
    assert_eq!(last.action, "key.status");
    assert_eq!(last.subject, "p/AAAAA");
    assert_eq!(last.detail, json!({ "from": "active", "to": "revoked" }));
    assert!(matches!(
        ledger.keys().set_status("q", "AAAAA", KeyStatus::Revoked),
        Err(LedgerError::UnknownKey { .. })
    ));
}

#[test]
fn pending_batches_are_listed_until_completed_or_aborted() {
    let (dir, ledger) = new_ledger();
    let out = dir.path().join("a.txt");
    let mut w = ledger
        .batches()
        .begin(
            "p",
            KeyKind::Random.into(),
            2,
            Some(&out),
            &json!({ "format": "txt" }),
        )
        .unwrap();
    w.insert_keys(&["BBBBB", "AAAAA"]).unwrap();
    let a = w.commit().unwrap();
    let b = batch_of(&ledger, "p", &["CCCCC", "DDDDD"]);

    let pending = ledger.batches().pending().unwrap();
    assert_eq!(pending.iter().map(|p| p.id).collect::<Vec<_>>(), [a, b]);
    assert_eq!(pending[0].output.as_deref(), Some(out.as_path()));
    assert_eq!(pending[0].params["format"], "txt");

    // Recovery reads the keys back in the order they were offered.
    let mut seen = Vec::new();
    let n = ledger
        .batches()
        .for_each_key(a, |k| {
            seen.push(k.to_string());
            Ok::<(), LedgerError>(())
        })
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(seen, ["BBBBB", "AAAAA"]);

    ledger.batches().mark_complete(a).unwrap();
    ledger.batches().mark_complete(a).unwrap(); // again: nothing to do
    assert_eq!(ledger.batches().abort(b).unwrap(), 2);
    assert!(ledger.batches().pending().unwrap().is_empty());
    assert_eq!(
        ledger.batches().get(a).unwrap().unwrap().status,
        BatchStatus::Complete
    );
    assert_eq!(
        ledger.batches().get(b).unwrap().unwrap().status,
        BatchStatus::Aborted
    );
    assert_eq!(ledger.keys().count("p").unwrap(), 2);
    assert!(ledger.batches().keys(b).unwrap().is_empty());
    assert!(matches!(
        ledger.batches().mark_complete(b),
        Err(LedgerError::BatchNotPending {
            status: BatchStatus::Aborted,
            ..
        })
    ));
    assert!(matches!(
        ledger.batches().abort(a),
        Err(LedgerError::BatchNotPending {
            status: BatchStatus::Complete,
            ..
        })
    ));
    assert!(matches!(
        ledger.batches().mark_complete(999),
        Err(LedgerError::UnknownBatch { id: 999 })
    ));
    assert!(matches!(
        ledger.batches().keys(999),
        Err(LedgerError::UnknownBatch { id: 999 })
    ));
    let log = actions(&ledger);
    assert_eq!(&log[log.len() - 2..], ["batch.complete", "batch.abort"]);
}

#[test]
fn a_second_connection_waits_for_the_batch_then_sees_all_of_it() {
    let (dir, ledger) = new_ledger();
    drop(ledger);
    let path = ledger_path(&dir);
    let (ready_tx, ready_rx) = mpsc::channel();
    let writer_path = path.clone();
    let writer = thread::spawn(move || {
        let ledger = Ledger::open(&writer_path).unwrap();
        let mut w = ledger
            .batches()
            .begin("p", KeyKind::Random.into(), 1000, None, &json!({}))
            .unwrap();
        let keys: Vec<String> = (0..1000).map(|i| format!("K{i:05}")).collect();
        w.insert_keys(&keys).unwrap();
        ready_tx.send(()).unwrap();
        thread::sleep(Duration::from_millis(600));
        w.commit().unwrap();
    });
    ready_rx.recv().unwrap();
    let other = Ledger::open(&path).unwrap();
    // Readers are not blocked, and see the ledger as it was before the batch.
    assert_eq!(other.keys().count("p").unwrap(), 0);
    // A writer waits for the batch's lock (busy timeout) instead of failing...
    let start = Instant::now();
    other.products().ensure("r", None).unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(300),
        "did not wait: {:?}",
        start.elapsed()
    );
    writer.join().unwrap();
    // ...and afterwards sees the whole batch, never part of it.
    assert_eq!(other.keys().count("p").unwrap(), 1000);
    assert_eq!(other.batches().pending().unwrap()[0].inserted, 1000);
}

#[test]
fn bulk_batch_of_200_000_keys() {
    let (_dir, ledger) = new_ledger();
    // Deterministic pseudo-random 20-symbol keys (xorshift), like real random keys.
    let alphabet = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next_key = move || {
        let mut key = String::with_capacity(20);
        for _ in 0..20 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            key.push(char::from(alphabet[(state >> 59) as usize]));
        }
        key
    };
    let first: Vec<String> = (0..100_000).map(|_| next_key()).collect();
    let second: Vec<String> = (0..100_000).map(|_| next_key()).collect();

    let mut w = ledger
        .batches()
        .begin("p", KeyKind::Random.into(), 200_000, None, &json!({}))
        .unwrap();
    let flags = w.insert_keys(&first).unwrap();
    assert!(flags.iter().all(|&f| f));
    // The same keys again (all refused), then fresh ones one at a time.
    assert!(w.insert_keys(&first[..1000]).unwrap().iter().all(|&f| !f));
    for key in &second {
        assert!(w.insert_key(key).unwrap());
    }
    assert_eq!(w.inserted(), 200_000);
    let id = w.commit().unwrap();

    assert_eq!(ledger.keys().count("p").unwrap(), 200_000);
    assert_eq!(ledger.batches().get(id).unwrap().unwrap().inserted, 200_000);
    let keys = ledger.batches().keys(id).unwrap();
    assert_eq!(keys.len(), 200_000);
    assert_eq!(&keys[..100_000], first.as_slice());
    assert_eq!(&keys[100_000..], second.as_slice());
}

/// Runs in a child process (see the next test): starts a batch, or commits one, and dies
/// without unwinding, as `kill -9` would leave it.
#[test]
fn crash_child() {
    let Ok(path) = std::env::var("AIRSEAL_LEDGER_CRASH") else {
        return;
    };
    let ledger = Ledger::open(Path::new(&path)).unwrap();
    // A tiny page cache makes SQLite spill uncommitted pages into the WAL mid-batch, the
    // hardest case for "nothing recorded".
    ledger
        .sqlite_connection()
        .unwrap()
        .pragma_update(None, "cache_size", 10)
        .unwrap();
    let commit = std::env::var("AIRSEAL_LEDGER_CRASH_COMMIT").is_ok();
    let mut w = ledger
        .batches()
        .begin(
            "p",
            KeyKind::Random.into(),
            20_000,
            Some(Path::new("out.txt")),
            &json!({}),
        )
        .unwrap();
    let keys: Vec<String> = (0..20_000).map(|i| format!("CRASH{i:06}")).collect();
    w.insert_keys(&keys).unwrap();
    if commit {
        w.commit().unwrap();
    }
    std::process::abort();
}

fn run_crash_child(path: &Path, commit: bool) {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "crash_child", "--test-threads=1", "--nocapture"])
        .env("AIRSEAL_LEDGER_CRASH", path);
    if commit {
        cmd.env("AIRSEAL_LEDGER_CRASH_COMMIT", "1");
    }
    let output = cmd.output().unwrap();
    let status = output.status;
    // SIGABRT, not a panic (exit code 101) before reaching the abort.
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        assert_eq!(
            status.signal(),
            Some(6),
            "the child should have aborted: {status:?}\n{}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
    assert!(!status.success(), "the child should have aborted");
}

#[test]
fn a_killed_batch_leaves_nothing_or_a_pending_batch() {
    let (dir, ledger) = new_ledger();
    drop(ledger);
    let path = ledger_path(&dir);

    run_crash_child(&path, false);
    let ledger = Ledger::open(&path).unwrap();
    assert_eq!(ledger.keys().count("p").unwrap(), 0);
    assert!(ledger.batches().pending().unwrap().is_empty());
    drop(ledger);

    run_crash_child(&path, true);
    let ledger = Ledger::open(&path).unwrap();
    let pending = ledger.batches().pending().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].inserted, 20_000);
    assert_eq!(ledger.keys().count("p").unwrap(), 20_000);
    assert_eq!(ledger.batches().keys(pending[0].id).unwrap().len(), 20_000);
    ledger.batches().mark_complete(pending[0].id).unwrap();
    assert!(ledger.batches().pending().unwrap().is_empty());
}

/// A vendor folder with one product in its ledger.
fn vendor_folder(dir: &Path) -> airseal_vendor::vendor_dir::VendorDir {
    let v = airseal_vendor::vendor_dir::VendorDir::init(dir, "acme", false).unwrap();
    let l = v.open_ledger().unwrap();
    l.products().ensure("p", None).unwrap();
    v
}

#[test]
fn open_existing_never_creates_a_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite3");
    assert!(matches!(
        Ledger::open_existing(&path),
        Err(LedgerError::Missing { .. })
    ));
    assert!(!path.exists());
    std::fs::write(&path, b"").unwrap();
    assert!(matches!(
        Ledger::open_existing(&path),
        Err(LedgerError::Empty { .. })
    ));
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    let created = Ledger::open(&path).unwrap().identity().unwrap();
    assert_eq!(created.len(), 32);
    assert_eq!(
        Ledger::open_existing(&path).unwrap().identity().unwrap(),
        created
    );
}

#[test]
fn a_vendor_folder_refuses_a_foreign_ledger() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let va = vendor_folder(a.path());
    let vb = vendor_folder(b.path());
    std::fs::copy(vb.ledger_path(), va.ledger_path()).unwrap();
    let e = va.open_ledger().unwrap_err();
    match e {
        LedgerError::Foreign {
            expected, found, ..
        } => {
            assert_eq!(Some(expected), va.recorded_ledger_id().unwrap());
            assert_eq!(found, vb.recorded_ledger_id().unwrap());
        }
        other => panic!("{other}"),
    }
}

#[test]
fn backup_and_restore_round_trip_and_refuse_another_folders_backup() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let va = vendor_folder(a.path());
    let vb = vendor_folder(b.path());
    let out = tempfile::tempdir().unwrap();
    let backup = out.path().join("a.bak");
    let report = va.open_ledger().unwrap().backup_to(&backup, false).unwrap();
    assert_eq!(
        Some(report.identity.clone()),
        va.recorded_ledger_id().unwrap()
    );
    assert!(report.audited);
    assert!(matches!(
        va.open_ledger().unwrap().backup_to(&backup, false),
        Err(LedgerError::OutputExists { .. })
    ));
    va.open_ledger()
        .unwrap()
        .products()
        .ensure("later", None)
        .unwrap();

    // Another folder's backup changes nothing.
    let b_backup = out.path().join("b.bak");
    vb.open_ledger()
        .unwrap()
        .backup_to(&b_backup, false)
        .unwrap();
    assert!(matches!(
        va.restore_ledger(&b_backup),
        Err(LedgerError::Foreign { .. })
    ));
    assert!(
        va.open_ledger()
            .unwrap()
            .products()
            .get("later")
            .unwrap()
            .is_some()
    );

    let restored = va.restore_ledger(&backup).unwrap();
    assert_eq!(restored.identity, report.identity);
    let aside = restored.kept_aside.unwrap();
    let l = va.open_ledger().unwrap();
    assert!(l.products().get("later").unwrap().is_none());
    assert!(l.products().get("p").unwrap().is_some());
    assert!(
        l.audit()
            .recent(5)
            .unwrap()
            .iter()
            .any(|e| e.action == "ledger.restore")
    );
    let kept = Ledger::open(&aside).unwrap();
    assert!(kept.products().get("later").unwrap().is_some());
}

/// A ledger from an older airseal (no identity) put into a folder that records one is
/// refused before it is migrated: the foreign file is left exactly as it was.
#[test]
fn an_older_foreign_ledger_is_refused_before_it_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let v = vendor_folder(dir.path());
    let old = dir.path().join("old.sqlite3");
    schema_6_ledger(&old, r#"{"licensee_name":"Bo"}"#);
    let before = std::fs::read(&old).unwrap();
    std::fs::remove_file(v.ledger_path()).unwrap();
    std::fs::copy(&old, v.ledger_path()).unwrap();
    match v.open_ledger() {
        Err(LedgerError::Foreign { found: None, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read(v.ledger_path()).unwrap(), before);
}
