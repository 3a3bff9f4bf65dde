//! The ledger on PostgreSQL: the migrations give it SQLite's schema, the stores behave the
//! same on both backends, and writers in several connections (several service instances)
//! never oversell a seat or reuse a revocation list number. Needs `AIRSEAL_TEST_POSTGRES`
//! (each test makes and drops its own database); without it each test says it was skipped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Barrier};

use airseal_core::activation::{ActivationRequest, Purpose};
use airseal_core::cose::ObjectType;
use airseal_vendor::activate::{self, ActivationError};
use airseal_vendor::issue::Issuer;
use airseal_vendor::ledger::{
    AuditFilter, Backend, KeyFilter, KeyStatus, Ledger, LedgerError, LedgerLocation, NewCustomer,
    Revocation, TokenScope,
};
use airseal_vendor::vendor_dir::Config;
use common::{TempDb, postgres_or_skip};
use ed25519_dalek::SigningKey;

const NOW: i64 = 1_780_000_000;

const CONFIG: &str = r#"
vendor = "acme"

[products.photo-pro]
activation_template = "pro"

[products.photo-pro.templates.pro]
kind = "subscription"
days = 365
max_activations = 3
"#;

/// Tables, columns (name and type family) and explicit indexes, from the database's own
/// catalogue. PostgreSQL's bookkeeping (the schema version table, the `rowid` column a rowid
/// table gets) is left out, as SQLite's pragmas are.
type Schema = BTreeMap<String, (Vec<(String, &'static str)>, BTreeSet<String>)>;

fn family(declared: &str) -> &'static str {
    let t = declared.to_ascii_lowercase();
    if t.contains("int") {
        "integer"
    } else if t.contains("char") || t.contains("text") || t.contains("citext") {
        "text"
    } else if t.contains("blob") || t.contains("bytea") {
        "blob"
    } else if t.contains("real") || t.contains("double") {
        "real"
    } else {
        "other"
    }
}

fn sqlite_schema(l: &Ledger) -> Schema {
    let c = l.sqlite_connection().unwrap();
    let mut out = Schema::new();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for t in tables {
        let cols: Vec<(String, &'static str)> = c
            .prepare(&format!(
                "SELECT name, type FROM pragma_table_info('{t}') ORDER BY cid"
            ))
            .unwrap()
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, family(&r.get::<_, String>(1)?)))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let idx: BTreeSet<String> = c
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1 AND sql IS NOT NULL")
            .unwrap()
            .query_map([&t], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        out.insert(t, (cols, idx));
    }
    out
}

fn postgres_schema(url: &str) -> Schema {
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let mut out = Schema::new();
    let tables = c
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_name <> 'airseal_schema'",
            &[],
        )
        .unwrap();
    for t in tables {
        let t: String = t.get(0);
        let cols = c
            .query(
                "SELECT column_name::text, CASE WHEN data_type = 'USER-DEFINED'
                     THEN udt_name::text ELSE data_type::text END
                 FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = $1 AND column_name <> 'rowid'
                 ORDER BY ordinal_position",
                &[&t],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get::<_, String>(0), family(&r.get::<_, String>(1))))
            .collect();
        // Indexes that back a constraint (primary key, UNIQUE) are SQLite's autoindexes.
        let idx = c
            .query(
                "SELECT i.relname::text FROM pg_index x
                 JOIN pg_class i ON i.oid = x.indexrelid
                 JOIN pg_class tb ON tb.oid = x.indrelid
                 WHERE tb.relname = $1 AND tb.relnamespace = current_schema()::regnamespace
                   AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)",
                &[&t],
            )
            .unwrap()
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect();
        out.insert(t, (cols, idx));
    }
    out
}

#[test]
fn every_migration_gives_postgres_the_schema_sqlite_has() {
    let Some(base) = postgres_or_skip("every_migration_gives_postgres_the_schema_sqlite_has")
    else {
        return;
    };
    let db = TempDb::new(&base, "schema");
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Ledger::open(&dir.path().join("l.sqlite3")).unwrap();
    let pg = Ledger::open_url(&db.url).unwrap();
    assert_eq!(pg.backend(), Backend::Postgres);
    assert_eq!(
        pg.schema_version().unwrap(),
        sqlite.schema_version().unwrap()
    );
    let want = sqlite_schema(&sqlite);
    let got = postgres_schema(&db.url);
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>()
    );
    for (table, w) in &want {
        assert_eq!(Some(w), got.get(table), "table {table}");
    }
    // Opening again applies nothing and keeps the identity.
    let id = pg.identity().unwrap();
    assert_eq!(id.len(), 32);
    drop(pg);
    let again = Ledger::open_url(&db.url).unwrap();
    assert_eq!(again.identity().unwrap(), id);
    let migrations = again
        .audit()
        .search(&AuditFilter {
            action: Some("ledger.migrate".into()),
            ..AuditFilter::default()
        })
        .unwrap();
    assert_eq!(migrations.len(), want_migrations());
}

fn want_migrations() -> usize {
    airseal_vendor::ledger::MIGRATIONS.len()
}

#[test]
fn a_database_holding_other_tables_is_not_a_ledger_and_a_password_is_never_shown() {
    let Some(base) = postgres_or_skip(
        "a_database_holding_other_tables_is_not_a_ledger_and_a_password_is_never_shown",
    ) else {
        return;
    };
    let db = TempDb::new(&base, "foreign");
    let mut c = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    c.batch_execute(&["CREATE", "TABLE", "someone_elses (x int)"].join(" "))
        .unwrap();
    let e = Ledger::open_url(&db.url).unwrap_err();
    assert!(matches!(e, LedgerError::NotALedger { .. }), "{e:?}");
    // A wrong password: the error names the database, never the password.
    let wrong = db.url.replacen("://", "://nobody:s3cret-pw@", 1);
    let wrong = match wrong.split_once('@') {
        // user:password@ given twice when the base URL had one: keep ours.
        Some((head, tail)) if tail.contains('@') => {
            format!("{head}@{}", tail.split_once('@').unwrap().1)
        }
        _ => wrong,
    };
    let e = Ledger::open_url(&wrong).unwrap_err();
    assert!(matches!(e, LedgerError::Connect { .. }), "{e:?}");
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains("s3cret-pw"), "{shown}");
    assert!(shown.contains("***"), "{shown}");
    assert!(!LedgerLocation::parse(&wrong).to_string().contains("s3cret"));
}

/// The same lifecycle on SQLite and PostgreSQL gives the same answers.
#[test]
fn the_stores_answer_the_same_on_both_backends() {
    let Some(base) = postgres_or_skip("the_stores_answer_the_same_on_both_backends") else {
        return;
    };
    let db = TempDb::new(&base, "lifecycle");
    let dir = tempfile::tempdir().unwrap();
    let mut sqlite = Ledger::open(&dir.path().join("l.sqlite3")).unwrap();
    let mut pg = Ledger::open_url(&db.url).unwrap();
    assert_eq!(lifecycle(&mut sqlite), lifecycle(&mut pg));
}

/// What a ledger holds, as text, for comparing copies.
fn contents(l: &Ledger) -> Vec<String> {
    let mut out = vec![l.identity().unwrap()];
    out.extend(
        l.audit()
            .recent(1000)
            .unwrap()
            .iter()
            .map(|a| format!("{} {} {} {} {}", a.id, a.at, a.action, a.subject, a.detail)),
    );
    out.extend(
        l.keys()
            .list(&KeyFilter::default())
            .unwrap()
            .iter()
            .map(|k| format!("{k:?}")),
    );
    out.extend(
        l.customers()
            .list()
            .unwrap()
            .iter()
            .map(|c| format!("{c:?}")),
    );
    out.push(format!("{:?}", l.revocations().list().unwrap()));
    out.push(format!("{:?}", l.batches().list(None).unwrap()));
    out
}

/// A ledger copied from SQLite to PostgreSQL and back holds what it held, ids and identity
/// included; and the PostgreSQL copy keeps working (new ids follow the copied ones).
#[test]
fn a_ledger_copies_to_postgres_and_back() {
    let Some(base) = postgres_or_skip("a_ledger_copies_to_postgres_and_back") else {
        return;
    };
    let db = TempDb::new(&base, "copy");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("l.sqlite3");
    let mut original = Ledger::open(&file).unwrap();
    lifecycle(&mut original);
    let want = contents(&original);
    let (from, to) = (
        LedgerLocation::File(file.clone()),
        LedgerLocation::Postgres(db.url.clone()),
    );
    let report = airseal_vendor::ledger::copy::copy(&from, &to, false).unwrap();
    assert!(report.sampled > 0);
    assert!(
        report
            .tables
            .iter()
            .any(|t| t.table == "keys" && t.rows == 3)
    );
    let pg = Ledger::open_url(&db.url).unwrap();
    assert_eq!(contents(&pg), want);
    // Refused onto a database that now holds a ledger, unless asked.
    assert!(matches!(
        airseal_vendor::ledger::copy::copy(&from, &to, false),
        Err(LedgerError::TargetNotEmpty { .. })
    ));
    // Back to a new file.
    let back = dir.path().join("back.sqlite3");
    airseal_vendor::ledger::copy::copy(&to, &LedgerLocation::File(back.clone()), false).unwrap();
    let back = Ledger::open_existing(&back).unwrap();
    assert_eq!(contents(&back), want);
    // New rows on PostgreSQL get ids after the copied ones.
    let id = pg
        .audit()
        .record("x.after", "s", &serde_json::json!({}))
        .unwrap();
    assert_eq!(id, original.audit().recent(1).unwrap()[0].id + 1);
}

/// Products, a batch, key statuses and listing, customers (case-insensitive e-mail),
/// revocations and a list export, the audit log: what each answered, as text.
fn lifecycle(l: &mut Ledger) -> Vec<String> {
    let mut out = Vec::new();
    let p = l.products();
    out.push(format!(
        "{:?}",
        p.ensure("photo-pro", Some("Photo Pro")).unwrap()
    ));
    out.push(format!(
        "{:?}",
        p.ensure("photo-pro", Some("Photo Pro")).unwrap()
    ));
    out.push(format!(
        "{:?}",
        p.put_template("photo-pro", "pro", "days = 1").unwrap()
    ));
    out.push(format!("{:?}", p.template("photo-pro", "pro").unwrap()));
    out.push(format!(
        "{:?}",
        p.list().unwrap().iter().map(|p| &p.id).collect::<Vec<_>>()
    ));
    let mut w = l
        .batches()
        .begin(
            "photo-pro",
            airseal_vendor::keys::KeyKind::Random.into(),
            4,
            None,
            &serde_json::json!({ "customer": 7 }),
        )
        .unwrap();
    for k in ["KEY-B", "KEY-A", "KEY-C", "KEY-A"] {
        out.push(format!("{:?}", w.insert_key(k).unwrap()));
    }
    let batch = w.commit().unwrap();
    l.batches().mark_complete(batch).unwrap();
    out.push(format!(
        "{:?}",
        l.batches().get(batch).unwrap().map(|b| b.status)
    ));
    l.keys()
        .set_status("photo-pro", "KEY-B", KeyStatus::Suspended)
        .unwrap();
    let keys = l.keys().list(&KeyFilter::default()).unwrap();
    out.push(format!(
        "{:?}",
        keys.iter()
            .map(|k| (&k.record.key, k.record.status, k.live_seats))
            .collect::<Vec<_>>()
    ));
    let c = l
        .customers()
        .add(&NewCustomer {
            email: "Ann@Example.com".into(),
            name: Some("Ann".into()),
            ..NewCustomer::default()
        })
        .unwrap();
    out.push(format!("{:?}", (c.id, &c.email)));
    out.push(format!(
        "{:?}",
        l.customers()
            .by_email("ann@example.COM")
            .unwrap()
            .map(|c| c.id)
    ));
    out.push(format!(
        "{:?}",
        l.customers()
            .add(&NewCustomer {
                email: "ANN@example.com".into(),
                ..NewCustomer::default()
            })
            .map(|c| c.id)
            .map_err(|e| e.to_string())
    ));
    out.push(format!(
        "{:?}",
        l.revocations()
            .add(&Revocation::License("lic-1".into()), Some("lost"))
            .unwrap()
    ));
    out.push(format!(
        "{:?}",
        l.revocations()
            .add(&Revocation::License("lic-1".into()), Some("lost"))
            .unwrap()
    ));
    let issuer = Issuer::new(SigningKey::from_bytes(&[7; 32]));
    for _ in 0..2 {
        let (list, _) = airseal_vendor::revoke::export(l, &issuer, NOW).unwrap();
        out.push(format!("list {} {:?}", list.seq, list.licenses));
    }
    out.push(format!("{}", l.revocations().last_exported().unwrap()));
    // Service tokens, and the audit actor the service sets.
    let token = airseal_vendor::tokens::create(
        l,
        &airseal_vendor::tokens::NewToken {
            name: "shop".into(),
            scope: TokenScope::Admin,
            expires: None,
        },
        NOW,
    )
    .unwrap();
    let caller = airseal_vendor::tokens::verify(l, token.secret.expose(), TokenScope::Admin, NOW);
    out.push(format!("{:?}", caller.map(|c| c.name)));
    l.set_actor(Some("token:shop".into()));
    l.audit()
        .record("x.by_token", "s", &serde_json::json!({}))
        .unwrap();
    l.set_actor(None);
    out.push(format!(
        "{:?}",
        l.audit()
            .recent(2)
            .unwrap()
            .iter()
            .map(|a| (&a.action, &a.actor))
            .collect::<Vec<_>>()
    ));
    let audit: Vec<String> = l
        .audit()
        .search(&AuditFilter {
            text: Some("photo".into()),
            ..AuditFilter::default()
        })
        .unwrap()
        .into_iter()
        .map(|a| format!("{} {}", a.action, a.subject))
        .collect();
    out.push(format!("{audit:?}"));
    out
}

fn request(seed: u8, key: &str) -> Vec<u8> {
    let device = Issuer::new(SigningKey::from_bytes(&[seed; 32]));
    let mut r = ActivationRequest {
        product: "photo-pro".into(),
        product_key: Some(key.into()),
        components: vec![[seed; 8], [seed.wrapping_add(1); 8]],
        device_key: device.public_key(),
        nonce: [seed; 16],
        created: NOW,
        app_version: None,
        purpose: Purpose::Activation,
        meters: vec![],
    };
    r.normalize();
    device.sign(ObjectType::ActivationRequest, &r.encode())
}

/// Fifty machines activate one key with three seats at once, through ten connections (as ten
/// service instances would): exactly three get a seat, every other one is refused with the
/// seat error; and lists exported concurrently all get distinct numbers.
#[test]
fn fifty_concurrent_activations_across_connections_take_exactly_three_seats() {
    let Some(base) = postgres_or_skip(
        "fifty_concurrent_activations_across_connections_take_exactly_three_seats",
    ) else {
        return;
    };
    let db = TempDb::new(&base, "race");
    {
        let l = Ledger::open_url(&db.url).unwrap();
        l.products().ensure("photo-pro", None).unwrap();
        let mut w = l
            .batches()
            .begin(
                "photo-pro",
                airseal_vendor::keys::KeyKind::Random.into(),
                1,
                None,
                &serde_json::json!({}),
            )
            .unwrap();
        w.insert_key("RACE-KEY").unwrap();
        w.commit().unwrap();
    }
    let config = Arc::new(Config::parse(CONFIG, Path::new("airseal.toml")).unwrap());
    const CONNECTIONS: usize = 10;
    const PER: usize = 5;
    let barrier = Arc::new(Barrier::new(CONNECTIONS));
    let threads: Vec<_> = (0..CONNECTIONS)
        .map(|t| {
            let (url, config, barrier) = (db.url.clone(), config.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut l = Ledger::open_url(&url).unwrap();
                let issuer = Issuer::new(SigningKey::from_bytes(&[1; 32]));
                let requests: Vec<Vec<u8>> = (0..PER)
                    .map(|i| request(u8::try_from(10 + t * PER + i).unwrap(), "RACE-KEY"))
                    .collect();
                barrier.wait();
                let mut results = Vec::new();
                for r in &requests {
                    results.push(activate::answer_request(&mut l, &issuer, &config, r, NOW));
                }
                // Then everyone exports a list at once.
                let list = airseal_vendor::revoke::export(&mut l, &issuer, NOW)
                    .unwrap()
                    .0
                    .seq;
                (results, list)
            })
        })
        .collect();
    let mut seated = 0;
    let mut refused = 0;
    let mut seqs = Vec::new();
    for t in threads {
        let (results, seq) = t.join().unwrap();
        seqs.push(seq);
        for r in results {
            match r {
                Ok(resp) => {
                    assert!(!resp.reissued);
                    seated += 1;
                }
                Err(ActivationError::NoSeatsLeft { used, limit, .. }) => {
                    assert_eq!((used, limit), (3, 3));
                    refused += 1;
                }
                Err(e) => panic!("unexpected error: {e}"),
            }
        }
    }
    assert_eq!((seated, refused), (3, 47));
    seqs.sort_unstable();
    let distinct: BTreeSet<u64> = seqs.iter().copied().collect();
    assert_eq!(distinct.len(), CONNECTIONS, "{seqs:?}");
    let l = Ledger::open_url(&db.url).unwrap();
    let seats = l.seats().list(&Default::default()).unwrap();
    assert_eq!(seats.iter().filter(|a| a.is_live()).count(), 3);
    assert_eq!(
        l.revocations().last_exported().unwrap(),
        *seqs.last().unwrap()
    );
}
