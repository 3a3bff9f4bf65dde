//! Imports from other licensing platforms (migration 5): writing an import as one
//! transaction, and reading back what it wrote so licenses can be issued for it.
//!
//! The parsing and the report live in [`crate::import`]; this module only knows rows that
//! are already valid. An import is a batch of kind `import`: its new keys go through the
//! ordinary [`super::BatchWriter`] (so they are unique against everything the product
//! holds), their terms into `key_terms` (migration 3), and the batch row, the keys, the
//! terms, the import's report and its audit rows commit together or not at all. A process
//! killed midway leaves none of it.

use std::collections::BTreeSet;

use rusqlite::{Connection, OptionalExtension as _, params};
use serde_json::Value;

use super::lookup::loose_form;
use super::terms::{key_terms_in, put_key_terms_in};
use super::{
    BatchId, KeyStatus, KeyTerms, Ledger, LedgerError, audit_in, db, now, parse_json, to_u64,
};
use crate::issue::LicenseSpec;

/// Migration 5: `imports`, one row per committed import with its full report, and
/// `import_updates`, the existing keys an import replaced the terms of (`--update`).
///
/// The keys an import added are its batch's keys (`keys.batch`); the keys it updated stay in
/// the batch that first recorded them, so they are listed here to let licenses be issued for
/// "everything this import wrote".
pub(super) const MIGRATION_5: &str = "
CREATE TABLE imports (
    batch   INTEGER PRIMARY KEY REFERENCES batches(id),
    product TEXT NOT NULL REFERENCES products(id),
    preset  TEXT NOT NULL,
    file    TEXT NOT NULL,
    at      INTEGER NOT NULL,
    report  TEXT NOT NULL CHECK (json_valid(report))
) STRICT;

CREATE TABLE import_updates (
    batch   INTEGER NOT NULL REFERENCES batches(id),
    product TEXT NOT NULL,
    key     TEXT NOT NULL,
    PRIMARY KEY (batch, key),
    FOREIGN KEY (product, key) REFERENCES keys(product, key)
) STRICT, WITHOUT ROWID;
";

/// One valid row of an export, ready for the ledger.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportRow {
    /// The line of the export it came from (for the report).
    pub line: u64,
    /// The key, exactly as exported.
    pub key: String,
    /// The key's status on the old platform, mapped to ours.
    pub status: KeyStatus,
    /// Its licensee, expiry, limits, metadata and used seats.
    pub terms: KeyTerms,
}

/// What the ledger did with one row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowOutcome {
    /// A new key, recorded with its terms.
    New,
    /// The key was already there with the same terms and status: nothing to do.
    Same,
    /// The key was there with other terms or status, and `update` replaced them.
    Updated {
        /// The fields that changed.
        fields: Vec<String>,
    },
    /// The key was there with other terms or status and was left alone.
    Conflict {
        /// The fields that differ.
        fields: Vec<String>,
    },
}

/// The parts of an import the ledger records besides its rows.
#[derive(Clone, Debug)]
pub struct ImportWrite<'a> {
    /// The product.
    pub product: &'a str,
    /// The preset the file was read with (`cryptlex-v2`, …).
    pub preset: &'a str,
    /// The file, as given on the command line.
    pub file: &'a str,
    /// Replace the terms of keys already present with different ones.
    pub update: bool,
    /// Work out every outcome, then roll everything back.
    pub dry_run: bool,
}

/// A recorded import.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportInfo {
    /// Its batch.
    pub batch: BatchId,
    /// The product.
    pub product: String,
    /// The preset.
    pub preset: String,
    /// The file.
    pub file: String,
    /// When (seconds since 1970).
    pub at: i64,
    /// The report, as the import wrote it.
    pub report: Value,
}

/// One key an import wrote, with what a license for it needs.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportedKey {
    /// The key.
    pub key: String,
    /// Its status now (it may have been suspended or revoked since).
    pub status: KeyStatus,
    /// Its terms now.
    pub terms: KeyTerms,
}

/// The names of the fields in which two keys' records differ.
fn differences(
    old_status: KeyStatus,
    old: &KeyTerms,
    new_status: KeyStatus,
    new: &KeyTerms,
) -> Vec<String> {
    let mut out = Vec::new();
    if old_status != new_status {
        out.push("status".to_string());
    }
    if old.template != new.template {
        out.push("template".to_string());
    }
    if old.prior_activations != new.prior_activations {
        out.push("used_activations".to_string());
    }
    if old.prior_deactivations != new.prior_deactivations {
        out.push("used_deactivations".to_string());
    }
    if old.spec != new.spec {
        let as_map = |s: &LicenseSpec| match serde_json::to_value(s) {
            Ok(Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        let (a, b) = (as_map(&old.spec), as_map(&new.spec));
        let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        for name in names {
            if a.get(name) != b.get(name) {
                out.push(name.clone());
            }
        }
    }
    out
}

/// Inserts the terms of new keys, one row per statement, without a statement journal.
///
/// Why not [`put_key_terms_in`]: its `INSERT OR REPLACE` may abort halfway through a row
/// (the table has a second index and a foreign key), so inside a long transaction SQLite
/// opens a statement journal for every row and copies each touched 8 KiB page aside first —
/// measured 20 µs a row, 27 s for a million. Here the foreign keys are deferred to the
/// commit (`PRAGMA defer_foreign_keys`, which SQLite resets when the transaction ends) and a
/// conflict fails the statement instead of aborting it (`OR FAIL`): nothing can undo half a
/// row, so no statement journal is needed. The rows are new keys of this batch, so neither
/// ever fires; the deferred check still runs at the commit.
struct TermsInsert<'c> {
    insert: rusqlite::CachedStatement<'c>,
}

impl<'c> TermsInsert<'c> {
    fn create(tx: &'c Connection, product: &str) -> Result<Self, LedgerError> {
        tx.pragma_update(None, "defer_foreign_keys", "ON")
            .map_err(db("deferring foreign keys"))?;
        let mut insert = tx
            .prepare_cached(
                "INSERT OR FAIL INTO key_terms (product, key, template, spec, email,
                     prior_activations, prior_deactivations, source, loose)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .map_err(db("storing key terms"))?;
        insert
            .raw_bind_parameter(1, product)
            .map_err(db("storing key terms"))?;
        Ok(Self { insert })
    }

    /// Stores one key's terms, as [`put_key_terms_in`] would.
    fn push(&mut self, key: &str, terms: &KeyTerms, spec: &str) -> Result<(), LedgerError> {
        let st = &mut self.insert;
        st.raw_bind_parameter(2, key)
            .and_then(|()| st.raw_bind_parameter(3, terms.template.as_deref()))
            .and_then(|()| st.raw_bind_parameter(4, spec))
            .and_then(|()| st.raw_bind_parameter(5, terms.spec.licensee_email.as_deref()))
            .and_then(|()| {
                st.raw_bind_parameter(
                    6,
                    i64::try_from(terms.prior_activations).unwrap_or(i64::MAX),
                )
            })
            .and_then(|()| {
                st.raw_bind_parameter(
                    7,
                    i64::try_from(terms.prior_deactivations).unwrap_or(i64::MAX),
                )
            })
            .and_then(|()| st.raw_bind_parameter(8, terms.source.as_deref()))
            .and_then(|()| st.raw_bind_parameter(9, loose_form(key)))
            .and_then(|()| st.raw_execute())
            .map_err(db("storing key terms"))?;
        Ok(())
    }
}

/// Every row's spec as the JSON `key_terms` stores, in row order, on every core: done up
/// front, in file order, so the inserts (in key order) read one compact string per row
/// instead of chasing each spec's scattered allocations.
fn spec_json(rows: &[ImportRow]) -> Result<Vec<String>, LedgerError> {
    let one = |r: &ImportRow| {
        serde_json::to_string(&r.terms.spec).map_err(|e| LedgerError::Corrupt {
            what: format!("key terms of {}: {e}", r.key),
        })
    };
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let chunk = rows.len().div_ceil(threads).max(1);
    if threads < 2 || rows.len() < 4096 {
        return rows.iter().map(one).collect();
    }
    let parts: Vec<Result<Vec<String>, LedgerError>> = std::thread::scope(|s| {
        let handles: Vec<_> = rows
            .chunks(chunk)
            .map(|part| {
                (
                    part,
                    std::thread::Builder::new()
                        .spawn_scoped(s, move || part.iter().map(one).collect()),
                )
            })
            .collect();
        handles
            .into_iter()
            .map(|(part, h)| match h.ok().and_then(|h| h.join().ok()) {
                Some(r) => r,
                None => part.iter().map(one).collect(),
            })
            .collect()
    });
    let mut out = Vec::with_capacity(rows.len());
    for p in parts {
        out.extend(p?);
    }
    Ok(out)
}

fn set_status(
    conn: &Connection,
    product: &str,
    key: &str,
    s: KeyStatus,
) -> Result<(), LedgerError> {
    conn.prepare_cached("UPDATE keys SET status = ?3 WHERE product = ?1 AND key = ?2")
        .and_then(|mut st| st.execute(params![product, key, s.as_str()]))
        .map_err(db("setting a key's status"))?;
    Ok(())
}

fn status_in(conn: &Connection, product: &str, key: &str) -> Result<KeyStatus, LedgerError> {
    let s: String = conn
        .prepare_cached("SELECT status FROM keys WHERE product = ?1 AND key = ?2")
        .and_then(|mut st| st.query_row([product, key], |r| r.get(0)))
        .map_err(db("reading a key's status"))?;
    KeyStatus::from_ledger(&s)
}

impl Ledger {
    /// Writes an import: one batch of kind `import` holding the new keys, their terms and
    /// statuses, the replaced terms of existing keys when `w.update` is set, an `imports`
    /// row with the report `report` builds from the outcomes, and audit rows — all in one
    /// transaction. Returns the batch id (`None` for a dry run, which rolls everything back
    /// after working out the outcomes) and one outcome per row, in the order of `rows`.
    ///
    /// `rows` must not repeat a key (the importer rejects repeats before this point); a
    /// repeat is recorded once and reported as [`RowOutcome::Same`] or a conflict.
    ///
    /// # Errors
    /// [`LedgerError::UnknownProduct`], [`LedgerError::EmptyKey`], [`LedgerError::Busy`], or
    /// a database error; nothing is then recorded.
    pub fn write_import(
        &mut self,
        w: &ImportWrite<'_>,
        rows: &[ImportRow],
        report: impl FnOnce(Option<BatchId>, &[RowOutcome]) -> Value,
    ) -> Result<(Option<BatchId>, Vec<RowOutcome>), LedgerError> {
        let params = serde_json::json!({
            "preset": w.preset,
            "file": w.file,
            "update": w.update,
        });
        let product = w.product;
        let mut writer = self.begin_batch(
            product,
            "import",
            u64::try_from(rows.len()).unwrap_or(u64::MAX),
            None,
            &params,
        )?;
        let id = writer.id;
        let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
        let fresh = writer.insert_keys(&keys)?;
        // Terms go in key order too: the same left-to-right walk of the B-tree as the keys.
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_unstable_by(|&a, &b| {
            keys.get(a)
                .copied()
                .unwrap_or("")
                .cmp(keys.get(b).copied().unwrap_or(""))
        });
        let specs = spec_json(rows)?;
        let mut outcomes = vec![RowOutcome::Same; rows.len()];
        let mut updated = 0u64;
        {
            let tx: &Connection = &writer.tx;
            let mut terms_insert = TermsInsert::create(tx, product)?;
            for &i in &order {
                let (Some(row), Some(slot)) = (rows.get(i), outcomes.get_mut(i)) else {
                    continue;
                };
                if fresh.get(i).copied().unwrap_or(false) {
                    terms_insert.push(
                        &row.key,
                        &row.terms,
                        specs.get(i).map_or("{}", String::as_str),
                    )?;
                    if row.status != KeyStatus::Active {
                        set_status(tx, product, &row.key, row.status)?;
                    }
                    *slot = RowOutcome::New;
                    continue;
                }
                let old_status = status_in(tx, product, &row.key)?;
                let old_terms = key_terms_in(tx, product, &row.key)?.unwrap_or_default();
                let fields = differences(old_status, &old_terms, row.status, &row.terms);
                *slot = if fields.is_empty() {
                    RowOutcome::Same
                } else if w.update {
                    put_key_terms_in(tx, product, &row.key, &row.terms)?;
                    set_status(tx, product, &row.key, row.status)?;
                    tx.prepare_cached(
                        "INSERT OR IGNORE INTO import_updates (batch, product, key)
                         VALUES (?1, ?2, ?3)",
                    )
                    .and_then(|mut st| st.execute(params![id, product, row.key]))
                    .map_err(db("recording an updated key"))?;
                    audit_in(
                        tx,
                        "key.import_update",
                        &format!("{product}/{}", row.key),
                        &serde_json::json!({ "batch": id, "line": row.line, "fields": fields }),
                    )?;
                    updated += 1;
                    RowOutcome::Updated { fields }
                } else {
                    RowOutcome::Conflict { fields }
                };
            }
            drop(terms_insert);
        }
        if w.dry_run {
            // Dropping the writer rolls back the batch, its keys and terms.
            drop(writer);
            return Ok((None, outcomes));
        }
        let report = report(Some(id), &outcomes);
        {
            let tx: &Connection = &writer.tx;
            // No output file to publish, so the batch is complete as soon as it commits.
            tx.execute("UPDATE batches SET status = 'complete' WHERE id = ?1", [id])
                .map_err(db("completing an import batch"))?;
            tx.execute(
                "INSERT INTO imports (batch, product, preset, file, at, report)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, product, w.preset, w.file, now(), report.to_string()],
            )
            .map_err(db("recording an import"))?;
            audit_in(
                tx,
                "import",
                &id.to_string(),
                &serde_json::json!({
                    "product": product,
                    "preset": w.preset,
                    "file": w.file,
                    "new": writer.inserted,
                    "updated": updated,
                }),
            )?;
        }
        let id = writer.commit()?;
        Ok((Some(id), outcomes))
    }

    /// A recorded import, by its batch id.
    ///
    /// # Errors
    /// A database error, or [`LedgerError::Corrupt`].
    pub fn import_info(&self, batch: BatchId) -> Result<Option<ImportInfo>, LedgerError> {
        let raw = self
            .conn
            .query_row(
                "SELECT batch, product, preset, file, at, report FROM imports WHERE batch = ?1",
                [batch],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, String>(5)?,
                    ))
                },
            )
            .optional()
            .map_err(db("reading an import"))?;
        raw.map(|(batch, product, preset, file, at, report)| {
            Ok(ImportInfo {
                batch,
                product,
                preset,
                file,
                at,
                report: parse_json(&report, "import report")?,
            })
        })
        .transpose()
    }

    /// Every key an import wrote — the keys it added, in file order, then those whose
    /// terms it replaced — with their status and terms as they are now.
    ///
    /// # Errors
    /// [`LedgerError::UnknownBatch`] when `batch` is not an import, a database error, or
    /// [`LedgerError::Corrupt`].
    pub fn import_keys(&self, batch: BatchId) -> Result<Vec<ImportedKey>, LedgerError> {
        let Some(info) = self.import_info(batch)? else {
            return Err(LedgerError::UnknownBatch { id: batch });
        };
        const COLUMNS: &str = "k.key, k.status, t.template, t.spec, t.prior_activations,
                               t.prior_deactivations, t.source";
        let queries = [
            format!(
                "SELECT {COLUMNS} FROM keys k LEFT JOIN key_terms t
                   ON t.product = k.product AND t.key = k.key
                 WHERE k.product = ?1 AND k.batch = ?2 ORDER BY k.seq"
            ),
            format!(
                "SELECT {COLUMNS} FROM import_updates u
                 JOIN keys k ON k.product = u.product AND k.key = u.key
                 LEFT JOIN key_terms t ON t.product = k.product AND t.key = k.key
                 WHERE u.product = ?1 AND u.batch = ?2 ORDER BY k.key"
            ),
        ];
        let mut out = Vec::new();
        for sql in queries {
            let mut st = self
                .conn
                .prepare(&sql)
                .map_err(db("reading imported keys"))?;
            let mut rows = st
                .query(params![info.product, batch])
                .map_err(db("reading imported keys"))?;
            while let Some(r) = rows.next().map_err(db("reading imported keys"))? {
                let read = || -> rusqlite::Result<_> {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, Option<i64>>(4)?,
                        r.get::<_, Option<i64>>(5)?,
                        r.get::<_, Option<String>>(6)?,
                    ))
                };
                let (key, status, template, spec, prior_a, prior_d, source) =
                    read().map_err(db("reading imported keys"))?;
                let spec: LicenseSpec = match spec {
                    Some(s) => serde_json::from_str(&s).map_err(|e| LedgerError::Corrupt {
                        what: format!("key terms of {key}: {e}"),
                    })?,
                    None => LicenseSpec::default(),
                };
                out.push(ImportedKey {
                    status: KeyStatus::from_ledger(&status)?,
                    terms: KeyTerms {
                        template,
                        spec,
                        prior_activations: to_u64(prior_a.unwrap_or(0), "prior activations")?,
                        prior_deactivations: to_u64(prior_d.unwrap_or(0), "prior deactivations")?,
                        source,
                    },
                    key,
                });
            }
        }
        Ok(out)
    }
}
