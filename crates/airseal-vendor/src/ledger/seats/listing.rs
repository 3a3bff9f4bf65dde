//! Read-only searches over keys, activations and the audit log, for `airseal ledger` and
//! for a vendor's own reports. Every filter is optional; text filters are matched
//! case-insensitively without `LIKE`, so `%` and `_` in a search mean themselves.

use rusqlite::params;

use super::{Activation, ActivationId, RawActivation, raw_activation};
use crate::ledger::terms::terms_from_record;
use crate::ledger::{
    AuditEntry, BatchId, KeyRecord, KeyStatus, Ledger, LedgerError, db, parse_json, to_u64,
};

/// Which activations [`Ledger::list_activations`] returns (every field narrows the list).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActivationFilter {
    /// Only this product.
    pub product: Option<String>,
    /// Only this product key (canonical form).
    pub key: Option<String>,
    /// Only this license id.
    pub license_id: Option<String>,
    /// Only devices whose key id or public key starts with this hex.
    pub device: Option<String>,
    /// Only licenses whose licensee e-mail contains this text.
    pub email: Option<String>,
    /// Only seats still held.
    pub live_only: bool,
    /// Only trials (`Some(true)`) or only key activations (`Some(false)`).
    pub trials: Option<bool>,
    /// At most this many rows.
    pub limit: Option<u32>,
}

/// Which keys [`Ledger::list_keys`] returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyFilter {
    /// Only this product.
    pub product: Option<String>,
    /// Only keys starting with this (canonical form).
    pub key_prefix: Option<String>,
    /// Only keys whose terms' licensee e-mail contains this text (imported keys).
    pub email: Option<String>,
    /// Only keys with this status.
    pub status: Option<KeyStatus>,
    /// At most this many rows.
    pub limit: Option<u32>,
}

/// Which audit rows [`Ledger::search_audit`] returns, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only actions starting with this (`activation.` matches every activation action).
    pub action: Option<String>,
    /// Only rows whose subject or detail contains this text (a key, a license id, a device
    /// key id).
    pub text: Option<String>,
    /// Only rows at or after this instant.
    pub since: Option<i64>,
    /// At most this many rows.
    pub limit: Option<u32>,
}

/// A key with its seat counts, as `airseal ledger keys` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyOverview {
    /// The key.
    pub record: KeyRecord,
    /// The licensee e-mail of its terms, if it has terms.
    pub email: Option<String>,
    /// The template its terms name, if any.
    pub template: Option<String>,
    /// Seats it used before an import.
    pub prior_activations: u64,
    /// Deactivations it used before an import.
    pub prior_deactivations: u64,
    /// Seats held now in this ledger.
    pub live_seats: u64,
    /// Seats given back in this ledger.
    pub deactivations: u64,
}

impl KeyOverview {
    /// Seats in use: prior plus live.
    pub fn seats_in_use(&self) -> u64 {
        self.prior_activations.saturating_add(self.live_seats)
    }
}

/// One response issued for an activation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedResponse {
    /// Its `cti`.
    pub token_id: Vec<u8>,
    /// The nonce of the request it answered.
    pub request_nonce: Vec<u8>,
    /// When it was signed.
    pub issued_at: i64,
}

/// SQLite's "no limit".
fn limit_of(limit: Option<u32>) -> i64 {
    limit.map_or(-1, i64::from)
}

impl Ledger {
    /// Activations matching `filter`, oldest first.
    ///
    /// # Errors
    /// A database error, or [`LedgerError::Corrupt`].
    pub fn list_activations(
        &self,
        filter: &ActivationFilter,
    ) -> Result<Vec<Activation>, LedgerError> {
        let sql = format!(
            "SELECT {} FROM activations a
             WHERE (?1 IS NULL OR a.product = ?1)
               AND (?2 IS NULL OR a.key = ?2)
               AND (?3 IS NULL OR a.license_id = ?3)
               AND (?4 IS NULL OR instr(lower(hex(a.device_kid)), lower(?4)) = 1
                               OR instr(lower(hex(a.device_key)), lower(?4)) = 1)
               AND (?5 IS NULL OR instr(lower(a.email), lower(?5)) > 0)
               AND (?6 = 0 OR a.deactivated_at IS NULL)
               AND (?7 IS NULL OR (a.key IS NULL) = ?7)
             ORDER BY a.id LIMIT ?8",
            super::ACTIVATION_COLUMNS
        );
        let mut st = self.conn.prepare(&sql).map_err(db("listing activations"))?;
        let raws = st
            .query_map(
                params![
                    filter.product,
                    filter.key,
                    filter.license_id,
                    filter.device,
                    filter.email,
                    filter.live_only,
                    filter.trials,
                    limit_of(filter.limit)
                ],
                raw_activation,
            )
            .map_err(db("listing activations"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db("listing activations"))?;
        raws.into_iter().map(RawActivation::check).collect()
    }

    /// Keys matching `filter`, in batch order, with their seat counts.
    ///
    /// The licensee e-mail lives inside each key's terms record (`terms.rs`), so that filter
    /// is applied here, before the limit; it is a "contains" search, which no index could
    /// serve anyway.
    ///
    /// # Errors
    /// A database error, or [`LedgerError::Corrupt`].
    pub fn list_keys(&self, filter: &KeyFilter) -> Result<Vec<KeyOverview>, LedgerError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT k.product, k.key, k.batch, b.kind, b.created, k.status, k.terms
                 FROM keys k JOIN batches b ON b.id = k.batch
                 WHERE (?1 IS NULL OR k.product = ?1)
                   AND (?2 IS NULL OR substr(k.key, 1, length(?2)) = ?2)
                   AND (?3 = 0 OR k.terms IS NOT NULL)
                   AND (?4 IS NULL OR k.status = ?4)
                 ORDER BY k.product, k.batch, k.seq LIMIT ?5",
            )
            .map_err(db("listing keys"))?;
        let needle = filter.email.as_deref().map(str::to_ascii_lowercase);
        let sql_limit = if needle.is_some() {
            -1
        } else {
            limit_of(filter.limit)
        };
        let mut rows = st
            .query(params![
                filter.product,
                filter.key_prefix,
                needle.is_some(),
                filter.status.map(KeyStatus::as_str),
                sql_limit
            ])
            .map_err(db("listing keys"))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(db("listing keys"))? {
            if filter.limit.is_some_and(|n| out.len() >= n as usize) {
                break;
            }
            let read = || -> rusqlite::Result<_> {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, BatchId>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, String>(5)?,
                    r.get_ref(6)?.as_blob_or_null()?,
                ))
            };
            let (product, key, batch, kind, created, status, record) =
                read().map_err(db("listing keys"))?;
            let terms = record
                .map(|b| terms_from_record(&key, b))
                .transpose()?
                .unwrap_or_default();
            let email = terms.spec.licensee_email;
            if let Some(needle) = &needle {
                let found = email
                    .as_deref()
                    .is_some_and(|e| e.to_ascii_lowercase().contains(needle.as_str()));
                if !found {
                    continue;
                }
            }
            let count = |deactivated: bool| -> Result<u64, LedgerError> {
                let n: i64 = self
                    .conn
                    .prepare_cached(
                        "SELECT count(*) FROM activations
                         WHERE product = ?1 AND key = ?2 AND (deactivated_at IS NOT NULL) = ?3",
                    )
                    .and_then(|mut st| {
                        st.query_row(params![product, key, deactivated], |r| r.get(0))
                    })
                    .map_err(db("counting seats"))?;
                to_u64(n, "seat count")
            };
            out.push(KeyOverview {
                live_seats: count(false)?,
                deactivations: count(true)?,
                record: KeyRecord {
                    status: KeyStatus::from_ledger(&status)?,
                    product,
                    key,
                    batch,
                    kind,
                    created,
                },
                email,
                template: terms.template,
                prior_activations: terms.prior_activations,
                prior_deactivations: terms.prior_deactivations,
            });
        }
        Ok(out)
    }

    /// Audit rows matching `filter`, newest first.
    ///
    /// # Errors
    /// A database error, or [`LedgerError::Corrupt`].
    pub fn search_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, LedgerError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT id, at, action, subject, detail FROM audit
                 WHERE (?1 IS NULL OR substr(action, 1, length(?1)) = ?1)
                   AND (?2 IS NULL OR instr(lower(subject), lower(?2)) > 0
                                   OR instr(lower(detail), lower(?2)) > 0)
                   AND (?3 IS NULL OR at >= ?3)
                 ORDER BY id DESC LIMIT ?4",
            )
            .map_err(db("searching the audit log"))?;
        let raws = st
            .query_map(
                params![
                    filter.action,
                    filter.text,
                    filter.since,
                    limit_of(filter.limit)
                ],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                },
            )
            .map_err(db("searching the audit log"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db("searching the audit log"))?;
        raws.into_iter()
            .map(|(id, at, action, subject, detail)| {
                Ok(AuditEntry {
                    id,
                    at,
                    action,
                    subject,
                    detail: parse_json(&detail, "audit detail")?,
                })
            })
            .collect()
    }

    /// Every response issued for an activation, oldest first.
    ///
    /// # Errors
    /// A database error.
    pub fn responses(&self, id: ActivationId) -> Result<Vec<IssuedResponse>, LedgerError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT token_id, request_nonce, issued_at FROM responses
                 WHERE activation = ?1 ORDER BY issued_at, token_id",
            )
            .map_err(db("reading responses"))?;
        st.query_map([id], |r| {
            Ok(IssuedResponse {
                token_id: r.get(0)?,
                request_nonce: r.get(1)?,
                issued_at: r.get(2)?,
            })
        })
        .map_err(db("reading responses"))?
        .collect::<Result<_, _>>()
        .map_err(db("reading responses"))
    }
}
