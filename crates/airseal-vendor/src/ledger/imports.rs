//! Imports from other licensing platforms (migration 5): writing an import as one
//! transaction, and reading back what it wrote so licenses can be issued for it.
//!
//! The parsing and the report live in [`crate::import`]; this module only knows rows that
//! are already valid. An import is a batch of kind `import`: its new keys go through the
//! ordinary [`super::BatchWriter`] (so they are unique against everything the product
//! holds), each with its terms in its own row (`terms.rs`), and the batch row, the keys, the
//! terms, the import's report and its audit rows commit together or not at all. A process
//! killed midway leaves none of it.

use std::collections::{BTreeSet, HashSet};

use super::db::{Connection, OptionalExtension as _, params};
use serde_json::Value;

use super::audit::audit_in;
use super::error::db;
use super::lookup;
use super::terms::{key_terms_in, put_key_terms_in, terms_from_record};
use super::{
    BatchId, BatchKind, KeyStatus, KeyTerms, KeyWithTerms, Ledger, LedgerError, TermsRecord, now,
    parse_json,
};
use crate::issue::LicenseSpec;

/// One valid row of an export, ready for the ledger.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportRow {
    /// The line of the export it came from (for the report).
    pub line: u64,
    /// The key, exactly as exported.
    pub key: String,
    /// The key's status on the old platform, mapped to ours.
    pub status: KeyStatus,
    /// Its licensee, expiry, limits, metadata and used seats, encoded ([`TermsRecord`]).
    pub terms: TermsRecord,
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

/// How each row's key will be found by its loose form (`lookup.rs`): `None` where a shape of
/// the product rebuilds it, else its loose form for the index. Returns those and the
/// shapes the product does not have yet. At most [`lookup::MAX_SHAPES`] shapes per product;
/// keys of further shapes go to the index.
fn loose_forms(
    tx: &Connection,
    product: &str,
    rows: &[ImportRow],
) -> Result<(Vec<Option<String>>, Vec<String>), LedgerError> {
    let mut known: HashSet<String> = tx
        .prepare_cached("SELECT shape FROM key_shapes WHERE product = ?1")
        .and_then(|mut st| st.query_map([product], |r| r.get(0))?.collect())
        .map_err(db("reading key shapes"))?;
    let mut added = Vec::new();
    let mut shape = String::new();
    let loose = rows
        .iter()
        .map(|r| {
            if lookup::shape_of(&r.key, &mut shape) {
                if known.contains(shape.as_str()) {
                    return None;
                }
                if known.len() < lookup::MAX_SHAPES {
                    known.insert(shape.clone());
                    added.push(shape.clone());
                    return None;
                }
            }
            Some(lookup::loose_form(&r.key))
        })
        .collect();
    Ok((loose, added))
}

/// For each row whose own spelling is not stored, the key the ledger already holds for it
/// in another spelling: its canonical form (§12.1) when that is stored, or the one key
/// imported before with the same loose form (`lookup.rs`, §16.2). An export of keys airseal
/// generated spells them with dashes (`NV3Y0-FMAQF-S40MV-E25QS`); they are the keys stored
/// as `NV3Y0FMAQFS40MVE25QS`, not new ones (`SPEC.md` §16). Only probed when the product
/// has keys of its own making or imported ones: a first import costs nothing here.
fn same_keys(
    tx: &Connection,
    product: &str,
    rows: &[ImportRow],
) -> Result<Vec<Option<String>>, LedgerError> {
    let generated: bool = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM batches WHERE product = ?1 AND kind != 'import')",
        )
        .and_then(|mut st| st.query_row([product], |r| r.get(0)))
        .map_err(db("reading a product's batches"))?;
    // Keys imported before, found by their loose form (`lookup.rs`): an export spelling a
    // key another way than an earlier import did (`abcd1234efgh`, `ABCD-1234-EFGH`).
    let imported: bool = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM key_shapes WHERE product = ?1)
                 OR EXISTS (SELECT 1 FROM keys INDEXED BY keys_loose
                            WHERE product = ?1 AND loose IS NOT NULL)",
        )
        .and_then(|mut st| st.query_row([product], |r| r.get(0)))
        .map_err(db("reading a product's imported keys"))?;
    if !generated && !imported {
        return Ok(vec![None; rows.len()]);
    }
    let mut exists = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM keys WHERE product = ?1 AND key = ?2)")
        .map_err(db("looking up a key"))?;
    let mut probe = |key: &str| -> Result<bool, LedgerError> {
        exists
            .query_row(params![product, key], |r| r.get(0))
            .map_err(db("looking up a key"))
    };
    rows.iter()
        .map(|r| {
            if probe(&r.key)? {
                return Ok(None);
            }
            if generated {
                if let Some(c) = airseal_core::productkey::canonical_form(&r.key) {
                    if c != r.key && probe(&c)? {
                        return Ok(Some(c));
                    }
                }
            }
            if imported {
                // One earlier key in another spelling is this key; several (an older
                // ledger's) stay as they are, and the row is a key of its own.
                match lookup::find_key_in(tx, product, &r.key) {
                    Ok(Some(found)) if found.key != r.key => return Ok(Some(found.key)),
                    Ok(_) | Err(LedgerError::AmbiguousEntry { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(None)
        })
        .collect()
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

/// The imports of a ledger: `ledger.imports()`.
#[derive(Clone, Copy, Debug)]
pub struct Imports<'a> {
    pub(super) ledger: &'a Ledger,
}

impl Ledger {
    /// Imports from other platforms: writing one, and reading back what it wrote.
    pub fn imports(&self) -> Imports<'_> {
        Imports { ledger: self }
    }
}

impl Imports<'_> {
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
    pub fn write(
        &self,
        w: &ImportWrite<'_>,
        rows: &[ImportRow],
        report: impl FnOnce(Option<BatchId>, &[RowOutcome]) -> Value,
    ) -> Result<(Option<BatchId>, Vec<RowOutcome>), LedgerError> {
        self.write_with_progress(w, rows, &mut |_| {}, report)
    }

    /// [`Imports::write`], telling `progress` how many of `rows` have been written so far:
    /// every few thousand rows while the keys go in (the bulk of the time), and
    /// `rows.len()` once they all have, before the commit.
    ///
    /// # Errors
    /// As [`Imports::write`].
    pub fn write_with_progress(
        &self,
        w: &ImportWrite<'_>,
        rows: &[ImportRow],
        progress: &mut dyn FnMut(u64),
        report: impl FnOnce(Option<BatchId>, &[RowOutcome]) -> Value,
    ) -> Result<(Option<BatchId>, Vec<RowOutcome>), LedgerError> {
        // A dry run rolls back: writing it once instead of twice would save nothing.
        let bulk = if w.dry_run { 0 } else { rows.len() };
        self.ledger.bulk_journal(bulk, |ledger| {
            ledger.imports().write_in(w, rows, progress, report)
        })
    }

    fn write_in(
        &self,
        w: &ImportWrite<'_>,
        rows: &[ImportRow],
        progress: &mut dyn FnMut(u64),
        report: impl FnOnce(Option<BatchId>, &[RowOutcome]) -> Value,
    ) -> Result<(Option<BatchId>, Vec<RowOutcome>), LedgerError> {
        let params = serde_json::json!({
            "preset": w.preset,
            "file": w.file,
            "update": w.update,
        });
        let product = w.product;
        let mut writer = self.ledger.batches().begin(
            product,
            BatchKind::Import,
            u64::try_from(rows.len()).unwrap_or(u64::MAX),
            None,
            &params,
        )?;
        let id = writer.id;
        let same = same_keys(&writer.tx, product, rows)?;
        let (loose, shapes) = loose_forms(&writer.tx, product, rows)?;
        let new_rows: Vec<KeyWithTerms<'_>> = rows
            .iter()
            .zip(&loose)
            .zip(&same)
            .filter(|(_, same)| same.is_none())
            .map(|((r, loose), _)| KeyWithTerms {
                key: &r.key,
                status: r.status,
                record: r.terms.as_bytes(),
                loose: loose.as_deref(),
            })
            .collect();
        let inserted = writer.insert_keys_with_terms(&new_rows, progress)?;
        drop(new_rows);
        drop(loose);
        // One flag per row again: a row whose key the ledger holds in another spelling was
        // not offered, and is not new.
        let mut inserted = inserted.into_iter();
        let fresh: Vec<bool> = same
            .iter()
            .map(|s| s.is_none() && inserted.next().unwrap_or(false))
            .collect();
        for shape in &shapes {
            writer
                .tx
                .execute(
                    "INSERT OR IGNORE INTO key_shapes (product, shape, slots) VALUES (?1, ?2, ?3)",
                    params![product, shape, lookup::shape_slots(shape) as i64],
                )
                .map_err(db("recording a key shape"))?;
        }
        let mut outcomes = vec![RowOutcome::New; rows.len()];
        let mut updated = 0u64;
        {
            let tx: &Connection = &writer.tx;
            for (((row, slot), _), same) in rows
                .iter()
                .zip(outcomes.iter_mut())
                .zip(&fresh)
                .zip(&same)
                .filter(|((_, new), _)| !**new)
            {
                // The key as the ledger stores it: the row's own spelling, or the canonical
                // form airseal generated it in (finding 14: one key, one row).
                let key = same.as_deref().unwrap_or(&row.key);
                let old_status = status_in(tx, product, key)?;
                let old_terms = key_terms_in(tx, product, key)?.unwrap_or_default();
                let fields = differences(old_status, &old_terms, row.status, &row.terms.terms()?);
                *slot = if fields.is_empty() {
                    RowOutcome::Same
                } else if w.update {
                    put_key_terms_in(tx, product, key, &row.terms)?;
                    set_status(tx, product, key, row.status)?;
                    tx.prepare_cached(
                        "INSERT OR IGNORE INTO import_updates (batch, product, key)
                         VALUES (?1, ?2, ?3)",
                    )
                    .and_then(|mut st| st.execute(params![id, product, key]))
                    .map_err(db("recording an updated key"))?;
                    audit_in(
                        tx,
                        "key.import_update",
                        &format!("{product}/{key}"),
                        &serde_json::json!({ "batch": id, "line": row.line, "fields": fields }),
                    )?;
                    updated += 1;
                    RowOutcome::Updated { fields }
                } else {
                    RowOutcome::Conflict { fields }
                };
            }
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
    pub fn get(&self, batch: BatchId) -> Result<Option<ImportInfo>, LedgerError> {
        let raw = self
            .ledger
            .connection()
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
    pub fn keys(&self, batch: BatchId) -> Result<Vec<ImportedKey>, LedgerError> {
        let Some(info) = self.get(batch)? else {
            return Err(LedgerError::UnknownBatch { id: batch });
        };
        let queries = [
            "SELECT k.key, k.status, k.terms FROM keys k
             WHERE k.product = ?1 AND k.batch = ?2 ORDER BY k.seq",
            "SELECT k.key, k.status, k.terms FROM import_updates u
             JOIN keys k ON k.product = u.product AND k.key = u.key
             WHERE u.product = ?1 AND u.batch = ?2 ORDER BY k.key",
        ];
        let mut out = Vec::new();
        for sql in queries {
            let mut st = self
                .ledger
                .connection()
                .prepare(sql)
                .map_err(db("reading imported keys"))?;
            let mut rows = st
                .query(params![info.product, batch])
                .map_err(db("reading imported keys"))?;
            while let Some(r) = rows.next().map_err(db("reading imported keys"))? {
                let read = || -> rusqlite::Result<_> {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get_ref(2)?.as_blob_or_null()?,
                    ))
                };
                let (key, status, record) = read().map_err(db("reading imported keys"))?;
                out.push(ImportedKey {
                    status: KeyStatus::from_ledger(&status)?,
                    terms: match record {
                        Some(b) => terms_from_record(&key, b)?,
                        None => KeyTerms::default(),
                    },
                    key,
                });
            }
        }
        Ok(out)
    }
}
