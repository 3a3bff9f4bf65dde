//! Revocations (`SPEC.md` §13, §17.4) and the revocation lists exported from them.
//!
//! A revocation names what the ledger knows: a license it recorded (or, said explicitly, one
//! issued elsewhere), a key it holds, a product's cutoff that only rises. Each one, and each
//! explicit undo, is checked and written in one transaction with its audit row. What the next
//! list holds is read from the ledger as a whole ([`Revocations::contents`]): the revoked
//! license ids, every license recorded for a revoked key, every license of a freed seat, the
//! revoked keys in their match form, and the cutoffs.

use std::collections::BTreeSet;
use std::fmt;

use super::db::{Connection, OptionalExtension as _, params};
use airseal_core::KeyId;
use airseal_core::productkey::match_form;
use serde_json::json;

use super::audit::audit_in;
use super::connection::write_tx;
use super::error::db;
use super::keys::KeyStatus;
use super::licenses::license_ids_for_key_in;
use super::lookup::find_key_in;
use super::{Ledger, LedgerError, now};

/// One revocation recorded by the vendor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revocation {
    /// A license id (`sub`).
    License(String),
    /// A product key (as the ledger stores it).
    Key(String),
    /// Licenses of `product` issued before `before` are refused.
    MinIssuedAt {
        /// The product.
        product: String,
        /// The instant.
        before: i64,
    },
}

/// What to revoke, as the vendor names it ([`Revocations::revoke`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RevokeTarget {
    /// One license by its id. The ledger must have recorded it, unless `external` says it
    /// was issued elsewhere (another vendor backend, before this ledger).
    License {
        /// The license id (`sub`).
        id: String,
        /// Revoke it even though the ledger never recorded it.
        external: bool,
    },
    /// A product key, however it was typed (found as activation finds it, `SPEC.md` §15.6),
    /// in `product` or in every product that holds it.
    Key {
        /// The key as entered.
        key: String,
        /// Only this product.
        product: Option<String>,
    },
    /// Every license of `product` issued before `before` (a cutoff, which only rises).
    IssuedBefore {
        /// The product.
        product: String,
        /// The cutoff; not after now.
        before: i64,
    },
    /// An issuing key (`SPEC.md` §18): everything it signed is refused by apps holding a
    /// list that names it, whatever its issue time says.
    IssuingKey {
        /// The issuing key's id.
        kid: KeyId,
    },
}

/// What to take back, explicitly ([`Revocations::undo`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UndoTarget {
    /// A revoked license id.
    License {
        /// The license id.
        id: String,
    },
    /// A revoked key: its status goes back to what it was before it was revoked.
    Key {
        /// The key as entered.
        key: String,
        /// Only this product.
        product: Option<String>,
    },
    /// A product's cutoff: lowered to `to`, or removed.
    Cutoff {
        /// The product.
        product: String,
        /// The lower cutoff, or `None` to remove it.
        to: Option<i64>,
    },
    /// A revoked issuing key: active again in the next list.
    IssuingKey {
        /// The issuing key's id.
        kid: KeyId,
    },
}

/// A stored key a revocation or an undo changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokedKeyChange {
    /// The product.
    pub product: String,
    /// The key as the ledger stores it.
    pub key: String,
    /// Its status before.
    pub from: KeyStatus,
    /// Its status after.
    pub to: KeyStatus,
    /// The ids of the licenses the ledger recorded for it (which the next list names).
    pub licenses: Vec<String>,
}

/// What [`Revocations::revoke`] or [`Revocations::undo`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RevokeOutcome {
    /// A license id is (or no longer is) revoked.
    License {
        /// The id.
        id: String,
        /// Whether the ledger recorded it (false: revoked as issued elsewhere).
        recorded: bool,
    },
    /// Keys changed status.
    Keys(Vec<RevokedKeyChange>),
    /// A product's cutoff changed.
    Cutoff {
        /// The product.
        product: String,
        /// The cutoff before, if any.
        from: Option<i64>,
        /// The cutoff after, if any.
        to: Option<i64>,
    },
    /// An issuing key is (or no longer is) revoked.
    IssuingKey {
        /// The key's id.
        kid: KeyId,
        /// Its certificate's serial.
        serial: u64,
    },
}

/// What [`Revocations::revoke`] and [`Revocations::undo`] return.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokeReport {
    /// What changed (or, when `changed` is false, what already was so).
    pub outcome: RevokeOutcome,
    /// False when it already was so: nothing was written.
    pub changed: bool,
}

/// Why a revocation or an undo was refused. Nothing is written.
#[non_exhaustive]
#[derive(Debug)]
pub enum RevokeError {
    /// A license id or the reason holds a control character: never stored.
    Text(crate::ids::TextError),
    /// The ledger recorded no license with this id.
    UnknownLicense {
        /// The id.
        id: String,
    },
    /// No product holds this key.
    UnknownKey {
        /// The key as entered.
        key: String,
        /// The product searched, if one was named.
        product: Option<String>,
    },
    /// The ledger recorded no certificate for this issuing key.
    UnknownIssuingKey {
        /// The key id asked for.
        kid: KeyId,
    },
    /// The product is not in the ledger.
    UnknownProduct {
        /// The product.
        product: String,
    },
    /// A cutoff later than now would revoke licenses not yet issued.
    CutoffInFuture {
        /// The cutoff asked for.
        before: i64,
        /// Now.
        now: i64,
    },
    /// A revocation never lowers a product's cutoff (that would un-revoke licenses); an
    /// undo does, explicitly.
    CutoffLowered {
        /// The product.
        product: String,
        /// Its cutoff now.
        current: i64,
        /// The lower one asked for.
        requested: i64,
    },
    /// An undo that would raise a cutoff (a revocation does that).
    CutoffRaised {
        /// The product.
        product: String,
        /// Its cutoff now.
        current: i64,
        /// The higher one asked for.
        requested: i64,
    },
    /// An undo of something that is not revoked.
    NotRevoked {
        /// What, in words (`license X`, `key K`, `the cutoff of P`).
        what: String,
    },
    /// The ledger failed.
    Ledger(LedgerError),
}

impl From<LedgerError> for RevokeError {
    fn from(e: LedgerError) -> Self {
        Self::Ledger(e)
    }
}

impl fmt::Display for RevokeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let time = crate::time::format_time;
        match self {
            Self::Text(e) => e.fmt(f),
            Self::UnknownLicense { id } => {
                write!(f, "the ledger recorded no license with id {id:?}")
            }
            Self::UnknownKey { key, product: None } => {
                write!(f, "no product in the ledger holds the key {key:?}")
            }
            Self::UnknownKey {
                key,
                product: Some(p),
            } => write!(f, "product {p:?} holds no key {key:?}"),
            Self::UnknownProduct { product } => {
                write!(f, "the ledger has no product {product:?}")
            }
            Self::UnknownIssuingKey { kid } => {
                write!(
                    f,
                    "the ledger recorded no certificate for issuing key {kid}"
                )
            }
            Self::CutoffInFuture { before, now } => write!(
                f,
                "the cutoff {} is in the future (now {}): it would revoke licenses not yet issued",
                time(*before),
                time(*now)
            ),
            Self::CutoffLowered {
                product,
                current,
                requested,
            } => write!(
                f,
                "product {product:?} already refuses licenses issued before {}; a revocation \
                 never lowers that to {} (it would un-revoke licenses)",
                time(*current),
                time(*requested)
            ),
            Self::CutoffRaised {
                product,
                current,
                requested,
            } => write!(
                f,
                "undoing lowers a cutoff: product {product:?} refuses licenses issued before {}, \
                 and {} is later",
                time(*current),
                time(*requested)
            ),
            Self::NotRevoked { what } => write!(f, "{what} is not revoked"),
            Self::Ledger(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for RevokeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Ledger(e) => Some(e),
            _ => None,
        }
    }
}

/// What the next revocation list names, read from the whole ledger
/// ([`Revocations::contents`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListContents {
    /// The next list's sequence number (one more than the last exported).
    pub seq: u64,
    /// Revoked license ids: revoked by id, recorded for a revoked key, or of a freed seat.
    pub licenses: BTreeSet<String>,
    /// Revoked keys, in their match form (`SPEC.md` §13).
    pub product_keys: BTreeSet<String>,
    /// Per product, the cutoff.
    pub min_issued_at: Vec<(String, i64)>,
    /// Revoked issuing keys (`SPEC.md` §18).
    pub issuing_keys: BTreeSet<KeyId>,
    /// The lowest number a list naming them may have: the highest `hi` of their
    /// certificates' list ranges (0 when none has one) and, while some revoked key is not
    /// yet named by an exported list, the highest `hi` of EVERY certificate: the list is
    /// newer than any list a revoked key, or any other key certified so far, could sign.
    pub issuing_floor: u64,
    /// Revoked issuing keys no exported list has named yet: the list that first names one
    /// must be signed by the root.
    pub newly_revoked_issuing: Vec<KeyId>,
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

fn product_exists(conn: &Connection, product: &str) -> Result<bool, LedgerError> {
    conn.prepare_cached("SELECT 1 FROM products WHERE id = ?1")
        .and_then(|mut st| st.exists([product]))
        .map_err(db("looking up a product"))
}

/// The stored keys `entered` means: in `product`, or in every product that holds it.
fn find_keys(
    conn: &Connection,
    entered: &str,
    product: Option<&str>,
) -> Result<Vec<(String, String, KeyStatus)>, RevokeError> {
    let products: Vec<String> = match product {
        Some(p) => {
            if !product_exists(conn, p)? {
                return Err(RevokeError::UnknownProduct {
                    product: p.to_string(),
                });
            }
            vec![p.to_string()]
        }
        None => conn
            .prepare_cached("SELECT id FROM products ORDER BY id")
            .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
            .map_err(db("reading products"))?,
    };
    let mut out = Vec::new();
    for p in products {
        if let Some(found) = find_key_in(conn, &p, entered)? {
            let status: String = conn
                .query_row(
                    "SELECT status FROM keys WHERE product = ?1 AND key = ?2",
                    [&p, &found.key],
                    |r| r.get(0),
                )
                .map_err(db("reading a key"))?;
            out.push((p, found.key, KeyStatus::from_ledger(&status)?));
        }
    }
    if out.is_empty() {
        return Err(RevokeError::UnknownKey {
            key: entered.to_string(),
            product: product.map(str::to_string),
        });
    }
    Ok(out)
}

fn cutoff_of(conn: &Connection, product: &str) -> Result<Option<i64>, LedgerError> {
    let value: Option<String> = conn
        .query_row(
            "SELECT value FROM revocations WHERE kind = 'min_issued_at' AND product = ?1",
            [product],
            |r| r.get(0),
        )
        .optional()
        .map_err(db("reading a cutoff"))?;
    value
        .map(|v| {
            v.parse().map_err(|_| LedgerError::Corrupt {
                what: format!("minimum issue time {v:?}"),
            })
        })
        .transpose()
}

/// Sets a key's status inside the caller's transaction, audited as `key.status` (the
/// action [`super::Keys::set_status`] writes).
fn set_key_status_in(
    conn: &Connection,
    product: &str,
    key: &str,
    from: KeyStatus,
    to: KeyStatus,
    why: &str,
) -> Result<(), LedgerError> {
    conn.execute(
        "UPDATE keys SET status = ?3 WHERE product = ?1 AND key = ?2",
        params![product, key, to.as_str()],
    )
    .map_err(db("changing a key's status"))?;
    audit_in(
        conn,
        "key.status",
        &format!("{product}/{key}"),
        &json!({ "from": from.as_str(), "to": to.as_str(), "by": why }),
    )?;
    Ok(())
}

/// The ids of every license the ledger recorded for a stored key: licenses signed with it
/// (any spelling) and the licenses of its seats.
fn licenses_of_key(
    conn: &Connection,
    product: &str,
    key: &str,
) -> Result<Vec<String>, LedgerError> {
    let mut ids: BTreeSet<String> = license_ids_for_key_in(conn, product, key)?
        .into_iter()
        .collect();
    let seats: Vec<String> = conn
        .prepare_cached("SELECT license_id FROM activations WHERE product = ?1 AND key = ?2")
        .and_then(|mut st| st.query_map([product, key], |r| r.get(0))?.collect())
        .map_err(db("reading a key's seats"))?;
    ids.extend(seats);
    Ok(ids.into_iter().collect())
}

impl Revocations<'_> {
    /// Records a revocation exactly as given, without the checks of
    /// [`Revocations::revoke`] (idempotent: revoking twice changes nothing). A minimum issue
    /// time replaces the product's previous one. Audited. For tests and migrations of other
    /// systems' revocations; a vendor's revocation goes through [`Revocations::revoke`].
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

    /// Revokes what the ledger knows (`SPEC.md` §17.4), in one transaction with its audit
    /// rows: a license it recorded (or one said to be issued elsewhere); a key, whose status
    /// becomes `revoked` in every product found (its licenses are listed too); a product's
    /// cutoff, never in the future and never lower than the one it has. Revoking what is
    /// already revoked changes nothing (`changed` false).
    ///
    /// # Errors
    /// [`RevokeError`] naming what is unknown or refused; nothing is then written.
    pub fn revoke(
        &self,
        target: &RevokeTarget,
        reason: Option<&str>,
        now_at: i64,
    ) -> Result<RevokeReport, RevokeError> {
        if let RevokeTarget::License { id, .. } = target {
            crate::ids::check_text("license id", id).map_err(RevokeError::Text)?;
        }
        if let Some(reason) = reason {
            crate::ids::check_text("reason", reason).map_err(RevokeError::Text)?;
        }
        let tx = write_tx(self.conn)?;
        let report = match target {
            RevokeTarget::License { id, external } => {
                let recorded = tx
                    .prepare_cached(
                        "SELECT 1 FROM licenses WHERE license_id = ?1
                         UNION ALL SELECT 1 FROM activations WHERE license_id = ?1",
                    )
                    .and_then(|mut st| st.exists([id]))
                    .map_err(db("looking up a license"))?;
                if !recorded && !external {
                    return Err(RevokeError::UnknownLicense { id: id.clone() });
                }
                let known = tx
                    .prepare_cached(
                        "SELECT 1 FROM revocations WHERE kind = 'license' AND value = ?1",
                    )
                    .and_then(|mut st| st.exists([id]))
                    .map_err(db("looking up a revocation"))?;
                if !known {
                    tx.execute(
                        "INSERT INTO revocations (kind, product, value, at, reason)
                         VALUES ('license', NULL, ?1, ?2, ?3)",
                        params![id, now(), reason],
                    )
                    .map_err(db("recording a revocation"))?;
                    audit_in(
                        &tx,
                        "revoke",
                        &format!("license:{id}"),
                        &json!({ "reason": reason, "recorded": recorded,
                                 "before": "valid", "after": "revoked" }),
                    )?;
                }
                RevokeReport {
                    outcome: RevokeOutcome::License {
                        id: id.clone(),
                        recorded,
                    },
                    changed: !known,
                }
            }
            RevokeTarget::Key { key, product } => {
                let found = find_keys(&tx, key, product.as_deref())?;
                let mut changes = Vec::new();
                let mut changed = false;
                for (product, key, status) in found {
                    let licenses = licenses_of_key(&tx, &product, &key)?;
                    if status != KeyStatus::Revoked {
                        changed = true;
                        set_key_status_in(
                            &tx,
                            &product,
                            &key,
                            status,
                            KeyStatus::Revoked,
                            "revoke",
                        )?;
                        tx.execute(
                            "INSERT OR REPLACE INTO revocations
                                 (kind, product, value, at, reason, prior_status)
                             VALUES ('key', ?1, ?2, ?3, ?4, ?5)",
                            params![product, key, now(), reason, status.as_str()],
                        )
                        .map_err(db("recording a revocation"))?;
                        audit_in(
                            &tx,
                            "revoke",
                            &format!("key:{product}/{key}"),
                            &json!({ "reason": reason, "before": status.as_str(),
                                     "after": "revoked", "licenses": licenses }),
                        )?;
                    }
                    changes.push(RevokedKeyChange {
                        product,
                        key,
                        from: status,
                        to: KeyStatus::Revoked,
                        licenses,
                    });
                }
                RevokeReport {
                    outcome: RevokeOutcome::Keys(changes),
                    changed,
                }
            }
            RevokeTarget::IssuedBefore { product, before } => {
                if !product_exists(&tx, product)? {
                    return Err(RevokeError::UnknownProduct {
                        product: product.clone(),
                    });
                }
                if *before > now_at {
                    return Err(RevokeError::CutoffInFuture {
                        before: *before,
                        now: now_at,
                    });
                }
                let current = cutoff_of(&tx, product)?;
                if let Some(current) = current {
                    if *before < current {
                        return Err(RevokeError::CutoffLowered {
                            product: product.clone(),
                            current,
                            requested: *before,
                        });
                    }
                }
                let changed = current != Some(*before);
                if changed {
                    set_cutoff_in(&tx, product, Some(*before), reason)?;
                    audit_in(
                        &tx,
                        "revoke",
                        &format!("min_issued_at:{product}"),
                        &json!({ "reason": reason, "before": current, "after": before }),
                    )?;
                }
                RevokeReport {
                    outcome: RevokeOutcome::Cutoff {
                        product: product.clone(),
                        from: current,
                        to: Some(*before),
                    },
                    changed,
                }
            }
            RevokeTarget::IssuingKey { kid } => {
                let Some(cert) = super::certificates::get_in(&tx, kid)? else {
                    return Err(RevokeError::UnknownIssuingKey { kid: *kid });
                };
                let changed = cert.revoked_at.is_none();
                if changed {
                    super::certificates::set_revoked_in(&tx, kid, true, reason)?;
                }
                RevokeReport {
                    outcome: RevokeOutcome::IssuingKey {
                        kid: *kid,
                        serial: cert.serial,
                    },
                    changed,
                }
            }
        };
        tx.commit().map_err(db("committing a revocation"))?;
        Ok(report)
    }

    /// Takes a revocation back, explicitly and audited (`revoke.undo`): a license id leaves
    /// the list; a key gets back the status it had before it was revoked (`active` for a key
    /// revoked before the ledger kept that); a cutoff is lowered or removed. The next list
    /// exported (with a higher sequence number, as always) no longer names it.
    ///
    /// # Errors
    /// [`RevokeError::NotRevoked`], [`RevokeError::CutoffRaised`],
    /// [`RevokeError::CutoffInFuture`], an unknown key or product, or a ledger error.
    pub fn undo(
        &self,
        target: &UndoTarget,
        reason: Option<&str>,
        now_at: i64,
    ) -> Result<RevokeReport, RevokeError> {
        let tx = write_tx(self.conn)?;
        let outcome = match target {
            UndoTarget::License { id } => {
                let gone = tx
                    .execute(
                        "DELETE FROM revocations WHERE kind = 'license' AND value = ?1",
                        [id],
                    )
                    .map_err(db("removing a revocation"))?;
                if gone == 0 {
                    return Err(RevokeError::NotRevoked {
                        what: format!("license {id}"),
                    });
                }
                audit_in(
                    &tx,
                    "revoke.undo",
                    &format!("license:{id}"),
                    &json!({ "reason": reason, "before": "revoked", "after": "valid" }),
                )?;
                RevokeOutcome::License {
                    id: id.clone(),
                    recorded: true,
                }
            }
            UndoTarget::Key { key, product } => {
                let found = find_keys(&tx, key, product.as_deref())?;
                let mut changes = Vec::new();
                for (product, key, status) in found {
                    if status != KeyStatus::Revoked {
                        continue;
                    }
                    let prior: Option<Option<String>> = tx
                        .query_row(
                            "SELECT prior_status FROM revocations
                             WHERE kind = 'key' AND value = ?2 AND (product = ?1 OR product IS NULL)",
                            [&product, &key],
                            |r| r.get(0),
                        )
                        .optional()
                        .map_err(db("reading a revocation"))?;
                    let to = match prior.flatten() {
                        Some(s) => KeyStatus::from_ledger(&s)?,
                        None => KeyStatus::Active,
                    };
                    tx.execute(
                        "DELETE FROM revocations WHERE kind = 'key' AND value = ?2
                         AND (product = ?1 OR product IS NULL)",
                        [&product, &key],
                    )
                    .map_err(db("removing a revocation"))?;
                    set_key_status_in(&tx, &product, &key, status, to, "revoke.undo")?;
                    let licenses = licenses_of_key(&tx, &product, &key)?;
                    audit_in(
                        &tx,
                        "revoke.undo",
                        &format!("key:{product}/{key}"),
                        &json!({ "reason": reason, "before": "revoked", "after": to.as_str() }),
                    )?;
                    changes.push(RevokedKeyChange {
                        product,
                        key,
                        from: status,
                        to,
                        licenses,
                    });
                }
                if changes.is_empty() {
                    return Err(RevokeError::NotRevoked {
                        what: format!("key {key}"),
                    });
                }
                RevokeOutcome::Keys(changes)
            }
            UndoTarget::Cutoff { product, to } => {
                if !product_exists(&tx, product)? {
                    return Err(RevokeError::UnknownProduct {
                        product: product.clone(),
                    });
                }
                let Some(current) = cutoff_of(&tx, product)? else {
                    return Err(RevokeError::NotRevoked {
                        what: format!("the cutoff of product {product}"),
                    });
                };
                if let Some(to) = to {
                    if *to > now_at {
                        return Err(RevokeError::CutoffInFuture {
                            before: *to,
                            now: now_at,
                        });
                    }
                    if *to >= current {
                        return Err(RevokeError::CutoffRaised {
                            product: product.clone(),
                            current,
                            requested: *to,
                        });
                    }
                }
                set_cutoff_in(&tx, product, *to, reason)?;
                audit_in(
                    &tx,
                    "revoke.undo",
                    &format!("min_issued_at:{product}"),
                    &json!({ "reason": reason, "before": current, "after": to }),
                )?;
                RevokeOutcome::Cutoff {
                    product: product.clone(),
                    from: Some(current),
                    to: *to,
                }
            }
            UndoTarget::IssuingKey { kid } => {
                let Some(cert) = super::certificates::get_in(&tx, kid)? else {
                    return Err(RevokeError::UnknownIssuingKey { kid: *kid });
                };
                if cert.revoked_at.is_none() {
                    return Err(RevokeError::NotRevoked {
                        what: format!("issuing key {kid}"),
                    });
                }
                super::certificates::set_revoked_in(&tx, kid, false, reason)?;
                RevokeOutcome::IssuingKey {
                    kid: *kid,
                    serial: cert.serial,
                }
            }
        };
        tx.commit().map_err(db("committing an undo"))?;
        Ok(RevokeReport {
            outcome,
            changed: true,
        })
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
        Ok((out, self.next_seq()?))
    }

    fn next_seq(&self) -> Result<u64, LedgerError> {
        Ok(self.last_exported()?.saturating_add(1))
    }

    /// The highest sequence number of a list this ledger recorded as exported (0: none).
    ///
    /// # Errors
    /// A database error.
    pub fn last_exported(&self) -> Result<u64, LedgerError> {
        let last: Option<i64> = self
            .conn
            .query_row("SELECT MAX(seq) FROM revocation_lists", [], |r| r.get(0))
            .map_err(db("reading revocation lists"))?;
        Ok(u64::try_from(last.unwrap_or(0)).unwrap_or(0))
    }

    /// What the next revocation list names (`SPEC.md` §17.4): license ids revoked by id,
    /// every license the ledger recorded for a revoked key and every license of a freed
    /// seat (so a copy kept on the old machine stops working); every revoked key (by
    /// `revoke`, or imported as revoked) in its match form; each product's cutoff.
    ///
    /// # Errors
    /// A database error, or [`LedgerError::Corrupt`].
    pub fn contents(&self) -> Result<ListContents, LedgerError> {
        let conn = self.conn;
        let mut out = ListContents {
            seq: self.next_seq()?,
            ..ListContents::default()
        };
        for entry in self.list()?.0 {
            match entry {
                Revocation::License(id) => {
                    out.licenses.insert(id);
                }
                // A key revoked by `revoke` is listed through its status (below), which is
                // what activation reads too; rows without a product (recorded by `add`, or
                // before migration 8) have no status to follow.
                Revocation::Key(_) => {}
                Revocation::MinIssuedAt { product, before } => {
                    out.min_issued_at.push((product, before));
                }
            }
        }
        let unattached: Vec<String> = conn
            .prepare("SELECT value FROM revocations WHERE kind = 'key' AND product IS NULL")
            .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
            .map_err(db("reading revoked keys"))?;
        out.product_keys
            .extend(unattached.iter().map(|k| match_form(k).into_owned()));
        let revoked: Vec<(String, String)> = conn
            .prepare(
                "SELECT product, key FROM keys INDEXED BY keys_revoked WHERE status = 'revoked'",
            )
            .and_then(|mut st| st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .map_err(db("reading revoked keys"))?;
        for (product, key) in revoked {
            out.licenses.extend(licenses_of_key(conn, &product, &key)?);
            out.product_keys.insert(match_form(&key).into_owned());
        }
        let freed: Vec<String> = conn
            .prepare(
                "SELECT license_id FROM activations INDEXED BY activations_deactivated
                 WHERE deactivated_at IS NOT NULL",
            )
            .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
            .map_err(db("reading freed seats"))?;
        out.licenses.extend(freed);
        for (kid, hi, listed) in super::certificates::revoked_in(conn)? {
            out.issuing_keys.insert(kid);
            out.issuing_floor = out.issuing_floor.max(hi.unwrap_or(0));
            if listed.is_none() {
                out.newly_revoked_issuing.push(kid);
            }
        }
        if !out.newly_revoked_issuing.is_empty() {
            // The list that first names a revoked issuing key is numbered at or above the
            // end of EVERY range handed out, not only the revoked keys': otherwise another
            // list-signing key (perhaps stolen with it) could sign a higher-numbered list
            // that leaves it out, and apps would take it as newer (`SPEC.md` §18.4).
            out.issuing_floor = out
                .issuing_floor
                .max(super::certificates::highest_hi_in(conn)?);
        }
        Ok(out)
    }

    /// Records that revocation list `seq` was exported with `entries` entries, signed by
    /// `signed_by` (the root's or an issuing key's id), and that it names every revoked
    /// issuing key. Audited.
    ///
    /// # Errors
    /// A database error (also when `seq` was already used).
    pub fn record_list(
        &self,
        seq: u64,
        entries: u64,
        signed_by: Option<KeyId>,
    ) -> Result<(), LedgerError> {
        let tx = write_tx(self.conn)?;
        record_list_in(&tx, seq, entries, signed_by)?;
        tx.commit().map_err(db("committing a revocation list"))?;
        Ok(())
    }

    /// Builds, numbers and records the next list in one write transaction, so its number
    /// comes from under the ledger's write lock: `sign` gets the [`ListContents`] (whose
    /// `seq` is above every list recorded), returns the number it gave the list, how many
    /// entries it has, its signer, and what to hand back; the list is recorded as
    /// [`Revocations::record_list`] does, before the lock is released. Two processes (or
    /// service instances on one PostgreSQL ledger) exporting at once get two numbers.
    ///
    /// # Errors
    /// A database error (nothing recorded), or what `sign` returns.
    pub fn export_next<T, E: From<LedgerError>>(
        &self,
        sign: impl FnOnce(&ListContents) -> Result<(ExportedList, T), E>,
    ) -> Result<T, E> {
        let tx = write_tx(self.conn)?;
        let contents = Revocations { conn: &tx }.contents()?;
        let (list, out) = sign(&contents)?;
        record_list_in(&tx, list.seq, list.entries, list.signed_by)?;
        tx.commit().map_err(db("committing a revocation list"))?;
        Ok(out)
    }
}

/// A list [`Revocations::export_next`] records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportedList {
    /// Its sequence number.
    pub seq: u64,
    /// How many entries it has.
    pub entries: u64,
    /// The key that signed it.
    pub signed_by: Option<KeyId>,
}

fn record_list_in(
    tx: &Connection,
    seq: u64,
    entries: u64,
    signed_by: Option<KeyId>,
) -> Result<(), LedgerError> {
    tx.execute(
        "INSERT INTO revocation_lists (seq, at, entries, signed_by) VALUES (?1, ?2, ?3, ?4)",
        params![
            i64::try_from(seq).unwrap_or(i64::MAX),
            now(),
            i64::try_from(entries).unwrap_or(i64::MAX),
            signed_by.map(|k| k.to_string()),
        ],
    )
    .map_err(db("recording a revocation list"))?;
    super::certificates::mark_listed_in(tx, seq)?;
    audit_in(
        tx,
        "revocations.export",
        &seq.to_string(),
        &serde_json::json!({
            "entries": entries,
            "signed_by": signed_by.map(|k| k.to_string()),
        }),
    )?;
    Ok(())
}

/// Replaces a product's cutoff (or removes it, `to` None) inside the caller's transaction.
fn set_cutoff_in(
    conn: &Connection,
    product: &str,
    to: Option<i64>,
    reason: Option<&str>,
) -> Result<(), LedgerError> {
    conn.execute(
        "DELETE FROM revocations WHERE kind = 'min_issued_at' AND product = ?1",
        [product],
    )
    .map_err(db("replacing a cutoff"))?;
    if let Some(to) = to {
        conn.execute(
            "INSERT INTO revocations (kind, product, value, at, reason)
             VALUES ('min_issued_at', ?1, ?2, ?3, ?4)",
            params![product, to.to_string(), now(), reason],
        )
        .map_err(db("recording a cutoff"))?;
    }
    Ok(())
}
