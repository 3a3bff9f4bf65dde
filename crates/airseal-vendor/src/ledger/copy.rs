//! Copying a whole ledger between backends (SQLite ↔ PostgreSQL), as `airseal ledger
//! migrate` does: every table's rows with their ids, the identity included, in one write
//! transaction on the target; then checked by counting each table's rows on both sides and
//! comparing a sample of rows (the first and last ones in full column order).
//!
//! A target that already holds rows is refused unless replacing it was asked for; a file
//! target is then kept aside (renamed `…replaced-SECONDS`), never deleted, and a PostgreSQL
//! one emptied in the copy's transaction (a failed copy leaves it as it was).

use std::path::PathBuf;

use serde::Serialize;

use super::connection::write_tx;
use super::db::{Backend, Connection, Value, params_from_iter};
use super::error::db;
use super::{Ledger, LedgerError, LedgerLocation, now};

/// Every table of the ledger, parents before the tables whose foreign keys name them.
/// A test checks it names every table of the schema.
pub const TABLES: &[&str] = &[
    "products",
    "templates",
    "batches",
    "keys",
    "key_shapes",
    "audit",
    "revocations",
    "revocation_lists",
    "activations",
    "responses",
    "trial_components",
    "deactivation_proofs",
    "seat_components",
    "imports",
    "import_updates",
    "licenses",
    "ledger_identity",
    "batch_outputs",
    "customers",
    "certificates",
    "tokens",
];

/// How many rows from each end of a table the check compares.
const SAMPLE: usize = 50;

/// What [`copy`] did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CopyReport {
    /// The source, any password replaced by `***`.
    pub from: String,
    /// The target, any password replaced by `***`.
    pub to: String,
    /// The ledger's identity (the same on both).
    pub identity: String,
    /// Each table and its row count (equal on both sides).
    pub tables: Vec<TableCount>,
    /// How many rows were compared value by value.
    pub sampled: u64,
    /// Where a replaced target file was kept.
    pub replaced: Option<PathBuf>,
}

/// One table's row count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TableCount {
    /// The table.
    pub table: String,
    /// Its rows.
    pub rows: u64,
}

/// Copies the ledger at `from` to `to` (see the module documentation). `from` must hold a
/// ledger; `to` must hold none, or `replace` must be given.
///
/// # Errors
/// [`LedgerError::CopyOntoItself`], [`LedgerError::TargetNotEmpty`],
/// [`LedgerError::CopyMismatch`], or those of opening either ledger.
pub fn copy(
    from: &LedgerLocation,
    to: &LedgerLocation,
    replace: bool,
) -> Result<CopyReport, LedgerError> {
    if same_place(from, to) {
        return Err(LedgerError::CopyOntoItself {
            location: to.to_string(),
        });
    }
    let source = match from {
        LedgerLocation::File(path) => Ledger::open_existing(path)?,
        LedgerLocation::Postgres(url) => Ledger::open_postgres(url)?,
    };
    let (target, replaced) = open_target(to, replace)?;
    let identity = source.identity()?;
    let tables = source.snapshot(|source| write_all(source, &target))?;
    let sampled = check(&source, &target, &tables)?;
    Ok(CopyReport {
        from: from.to_string(),
        to: to.to_string(),
        identity,
        tables,
        sampled,
        replaced,
    })
}

fn same_place(a: &LedgerLocation, b: &LedgerLocation) -> bool {
    match (a, b) {
        (LedgerLocation::File(a), LedgerLocation::File(b)) => {
            a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
        }
        (LedgerLocation::Postgres(a), LedgerLocation::Postgres(b)) => a == b,
        _ => false,
    }
}

/// Opens (or creates) the target, empty: a file target holding rows is renamed aside, a
/// PostgreSQL one is emptied later, inside the copy's transaction.
fn open_target(
    to: &LedgerLocation,
    replace: bool,
) -> Result<(Ledger, Option<PathBuf>), LedgerError> {
    match to {
        LedgerLocation::File(path) => {
            let mut replaced = None;
            if std::fs::metadata(path).is_ok_and(|m| m.len() > 0) {
                let existing = Ledger::open_existing(path)?;
                let rows = rows_held(existing.connection())?;
                drop(existing);
                if rows > 0 && !replace {
                    return Err(LedgerError::TargetNotEmpty {
                        location: to.to_string(),
                        rows,
                    });
                }
                replaced = Some(super::backup::set_aside(path, now())?);
            }
            Ok((Ledger::create_for_copy(path)?, replaced))
        }
        LedgerLocation::Postgres(url) => {
            let target = Ledger::open_postgres(url)?;
            let rows = rows_held(target.connection())?;
            if rows > 0 && !replace {
                return Err(LedgerError::TargetNotEmpty {
                    location: to.to_string(),
                    rows,
                });
            }
            Ok((target, None))
        }
    }
}

/// Rows a ledger holds besides what every new ledger has (its identity, its migrations'
/// audit rows).
fn rows_held(conn: &Connection) -> Result<u64, LedgerError> {
    let mut rows = 0_i64;
    for table in TABLES {
        let sql = match *table {
            "ledger_identity" => continue,
            "audit" => "SELECT count(*) FROM audit WHERE action <> 'ledger.migrate'".to_string(),
            t => format!("SELECT count(*) FROM {t}"),
        };
        let n: i64 = conn
            .query_row(&sql, [], |r| r.get(0))
            .map_err(db("counting a table's rows"))?;
        rows = rows.saturating_add(n);
    }
    Ok(u64::try_from(rows).unwrap_or(0))
}

/// The columns of `table` on `conn`.
fn columns(conn: &Connection, table: &str) -> Result<Vec<String>, LedgerError> {
    conn.prepare(&format!("SELECT * FROM {table} WHERE 1 = 0"))
        .and_then(|mut st| st.column_names())
        .map_err(db("reading a table's columns"))
}

/// Writes every row of `source` into `target` in one transaction.
fn write_all(source: &Ledger, target: &Ledger) -> Result<Vec<TableCount>, LedgerError> {
    let tx = write_tx(target.connection())?;
    if let Some(pg) = tx.as_postgres() {
        pg.empty_tables().map_err(db("emptying the target"))?;
    } else {
        // A new file ledger's own identity row makes way for the source's.
        tx.execute("DELETE FROM ledger_identity", [])
            .map_err(db("emptying the target"))?;
    }
    let from = source.connection();
    let mut counts = Vec::new();
    for table in TABLES {
        let target_cols = columns(&tx, table)?;
        let source_cols = columns(from, table)?;
        // PostgreSQL keeps SQLite's rowid of a rowid table as a column: copied from a file
        // ledger's rowid, and the order rows are inserted in when copied to a file.
        let select_cols: Vec<&str> = target_cols.iter().map(String::as_str).collect();
        let order =
            if from.backend() == Backend::Postgres && source_cols.iter().any(|c| c == "rowid") {
                " ORDER BY rowid"
            } else {
                ""
            };
        let select = format!("SELECT {} FROM {table}{order}", select_cols.join(", "));
        let placeholders: Vec<String> = (1..=target_cols.len()).map(|i| format!("?{i}")).collect();
        let insert = format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            target_cols.join(", "),
            placeholders.join(", ")
        );
        let mut ins = tx.prepare(&insert).map_err(db("copying rows"))?;
        let mut st = from.prepare(&select).map_err(db("reading rows to copy"))?;
        let mut rows = st.query([]).map_err(db("reading rows to copy"))?;
        let mut n = 0_u64;
        while let Some(r) = rows.next().map_err(db("reading rows to copy"))? {
            let values = (0..target_cols.len())
                .map(|i| r.get::<_, Value>(i))
                .collect::<Result<Vec<_>, _>>()
                .map_err(db("reading rows to copy"))?;
            ins.execute(params_from_iter(values.iter()))
                .map_err(db("copying rows"))?;
            n += 1;
        }
        counts.push(TableCount {
            table: (*table).to_string(),
            rows: n,
        });
    }
    if let Some(pg) = tx.as_postgres() {
        pg.reset_identities().map_err(db("moving the ids on"))?;
    }
    tx.commit().map_err(db("committing the copy"))?;
    Ok(counts)
}

/// Counts every table on both sides and compares its first and last [`SAMPLE`] rows.
fn check(source: &Ledger, target: &Ledger, counts: &[TableCount]) -> Result<u64, LedgerError> {
    let mut sampled = 0;
    for TableCount { table, rows } in counts {
        let count = |l: &Ledger| -> Result<i64, LedgerError> {
            l.connection()
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .map_err(db("counting a table's rows"))
        };
        let (a, b) = (count(source)?, count(target)?);
        if a != b || u64::try_from(a).ok() != Some(*rows) {
            return Err(LedgerError::CopyMismatch {
                table: table.clone(),
                what: format!("{a} rows in the source, {b} in the copy"),
            });
        }
        let cols: Vec<String> = columns(target.connection(), table)?
            .into_iter()
            .filter(|c| c != "rowid")
            .collect();
        for direction in ["ASC NULLS FIRST", "DESC NULLS LAST"] {
            let order: Vec<String> = cols.iter().map(|c| format!("{c} {direction}")).collect();
            let sql = format!(
                "SELECT {} FROM {table} ORDER BY {} LIMIT {SAMPLE}",
                cols.join(", "),
                order.join(", ")
            );
            let (x, y) = (
                read_rows(source, &sql, cols.len())?,
                read_rows(target, &sql, cols.len())?,
            );
            if x != y {
                return Err(LedgerError::CopyMismatch {
                    table: table.clone(),
                    what: "a sampled row differs".to_string(),
                });
            }
            sampled += u64::try_from(x.len()).unwrap_or(0);
        }
    }
    Ok(sampled)
}

fn read_rows(l: &Ledger, sql: &str, n: usize) -> Result<Vec<Vec<Value>>, LedgerError> {
    let mut st = l.connection().prepare(sql).map_err(db("sampling rows"))?;
    let rows = st
        .query_map([], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect())
        .map_err(db("sampling rows"))?;
    rows.collect::<Result<_, _>>().map_err(db("sampling rows"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_list_names_every_table_of_the_schema() {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::open(&dir.path().join("l.sqlite3")).unwrap();
        let mut schema: Vec<String> = l
            .sqlite_connection()
            .unwrap()
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        schema.sort();
        let mut listed: Vec<String> = TABLES.iter().map(|t| (*t).to_string()).collect();
        listed.sort();
        assert_eq!(schema, listed);
    }

    #[test]
    fn a_file_ledger_copies_to_a_file_and_a_full_target_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("a.sqlite3");
        let to = dir.path().join("b.sqlite3");
        {
            let l = Ledger::open(&from).unwrap();
            l.products().ensure("p", Some("P")).unwrap();
            l.audit()
                .record("x.y", "s", &serde_json::json!({}))
                .unwrap();
        }
        let (f, t) = (
            LedgerLocation::File(from.clone()),
            LedgerLocation::File(to.clone()),
        );
        let report = copy(&f, &t, false).unwrap();
        assert!(report.sampled > 0);
        let copied = Ledger::open_existing(&to).unwrap();
        let original = Ledger::open_existing(&from).unwrap();
        assert_eq!(copied.identity().unwrap(), original.identity().unwrap());
        assert_eq!(
            copied.audit().recent(100).unwrap(),
            original.audit().recent(100).unwrap()
        );
        drop(copied);
        assert!(matches!(
            copy(&f, &t, false),
            Err(LedgerError::TargetNotEmpty { .. })
        ));
        let again = copy(&f, &t, true).unwrap();
        assert!(again.replaced.as_ref().is_some_and(|p| p.exists()));
        assert!(matches!(
            copy(&f, &f, true),
            Err(LedgerError::CopyOntoItself { .. })
        ));
    }
}
