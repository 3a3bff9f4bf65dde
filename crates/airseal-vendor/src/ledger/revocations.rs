//! Revocations (`SPEC.md` §13) and the revocation lists exported from them.

use rusqlite::{Connection, OptionalExtension as _, params};

use super::audit::audit_in;
use super::connection::write_tx;
use super::error::db;
use super::{Ledger, LedgerError, now};

/// One revocation recorded by the vendor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revocation {
    /// A license id (`sub`).
    License(String),
    /// A product key (canonical form).
    Key(String),
    /// Licenses of `product` issued before `before` are refused.
    MinIssuedAt {
        /// The product.
        product: String,
        /// The instant.
        before: i64,
    },
}

/// The revocations of a ledger: `ledger.revocations()`.
#[derive(Clone, Copy, Debug)]
pub struct Revocations<'a> {
    pub(super) conn: &'a Connection,
}

impl Ledger {
    /// Revocations and exported revocation lists.
    pub fn revocations(&self) -> Revocations<'_> {
        Revocations {
            conn: self.connection(),
        }
    }
}

impl Revocations<'_> {
    /// Records a revocation (idempotent: revoking twice changes nothing). A minimum issue
    /// time replaces the product's previous one. Audited.
    ///
    /// # Errors
    /// A database error.
    pub fn add(&self, what: &Revocation, reason: Option<&str>) -> Result<bool, LedgerError> {
        let tx = write_tx(self.conn)?;
        let (kind, product, value) = match what {
            Revocation::License(id) => ("license", None, id.clone()),
            Revocation::Key(k) => ("key", None, k.clone()),
            Revocation::MinIssuedAt { product, before } => {
                ("min_issued_at", Some(product.clone()), before.to_string())
            }
        };
        // `IS`, not the UNIQUE constraint: `product` is NULL for licenses and keys, and NULLs
        // never collide, so `INSERT OR IGNORE` alone recorded the same revocation again.
        let known = tx
            .query_row(
                "SELECT 1 FROM revocations WHERE kind = ?1 AND product IS ?2 AND value = ?3",
                params![kind, product, value],
                |_| Ok(()),
            )
            .optional()
            .map_err(db("looking up a revocation"))?
            .is_some();
        if known {
            return Ok(false);
        }
        if kind == "min_issued_at" {
            tx.execute(
                "DELETE FROM revocations WHERE kind = 'min_issued_at' AND product = ?1",
                [&product],
            )
            .map_err(db("replacing a minimum issue time"))?;
        }
        let changed = tx
            .execute(
                "INSERT OR IGNORE INTO revocations (kind, product, value, at, reason) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![kind, product, value, now(), reason],
            )
            .map_err(db("recording a revocation"))?;
        if changed == 1 {
            audit_in(
                &tx,
                "revoke",
                &format!(
                    "{kind}:{}{value}",
                    product
                        .as_deref()
                        .map(|p| format!("{p}/"))
                        .unwrap_or_default()
                ),
                &serde_json::json!({ "reason": reason }),
            )?;
        }
        tx.commit().map_err(db("committing a revocation"))?;
        Ok(changed == 1)
    }

    /// Every revocation recorded, and the next list's sequence number (one more than the
    /// last exported, so lists only ever grow).
    ///
    /// # Errors
    /// A database error.
    pub fn list(&self) -> Result<(Vec<Revocation>, u64), LedgerError> {
        let conn = self.conn;
        let mut stmt = conn
            .prepare("SELECT kind, product, value FROM revocations ORDER BY id")
            .map_err(db("reading revocations"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(db("reading revocations"))?;
        let mut out = Vec::new();
        for row in rows {
            let (kind, product, value) = row.map_err(db("reading revocations"))?;
            out.push(match kind.as_str() {
                "license" => Revocation::License(value),
                "key" => Revocation::Key(value),
                "min_issued_at" => Revocation::MinIssuedAt {
                    product: product.ok_or_else(|| LedgerError::Corrupt {
                        what: "a minimum issue time without a product".to_string(),
                    })?,
                    before: value.parse().map_err(|_| LedgerError::Corrupt {
                        what: format!("minimum issue time {value:?}"),
                    })?,
                },
                other => {
                    return Err(LedgerError::UnknownValue {
                        table: "revocations",
                        column: "kind",
                        value: other.to_string(),
                    });
                }
            });
        }
        let last: Option<i64> = conn
            .query_row("SELECT MAX(seq) FROM revocation_lists", [], |r| r.get(0))
            .map_err(db("reading revocation lists"))?;
        Ok((out, u64::try_from(last.unwrap_or(0)).unwrap_or(0) + 1))
    }

    /// Records that revocation list `seq` was exported with `entries` entries. Audited.
    ///
    /// # Errors
    /// A database error (also when `seq` was already used).
    pub fn record_list(&self, seq: u64, entries: u64) -> Result<(), LedgerError> {
        let tx = write_tx(self.conn)?;
        tx.execute(
            "INSERT INTO revocation_lists (seq, at, entries) VALUES (?1, ?2, ?3)",
            params![
                i64::try_from(seq).unwrap_or(i64::MAX),
                now(),
                i64::try_from(entries).unwrap_or(i64::MAX)
            ],
        )
        .map_err(db("recording a revocation list"))?;
        audit_in(
            &tx,
            "revocations.export",
            &seq.to_string(),
            &serde_json::json!({ "entries": entries }),
        )?;
        tx.commit().map_err(db("committing a revocation list"))?;
        Ok(())
    }
}
