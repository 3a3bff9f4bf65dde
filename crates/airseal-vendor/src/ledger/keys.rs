//! Product keys: what the ledger knows about each (its batch, status and own terms), how an
//! entered key is found (`lookup.rs`), and listings.

use std::fmt;

use super::db::{Connection, OptionalExtension as _, params};

use super::audit::audit_in;
use super::connection::{ListingCache, collect, write_tx};
use super::error::db;
use serde_json::json;

use super::lookup::find_key_in;
use super::terms::{key_terms_in, put_key_terms_in, terms_from_record};
use super::{
    BatchId, BatchKind, FoundKey, KeyTerms, Ledger, LedgerError, SeatKey, TermsRecord, limit_of,
    to_u64,
};

/// Whether a key may be used. Adding a status is a code change only (the column is free
/// text), but older builds will then report that ledger as [`LedgerError::UnknownValue`] when
/// they read such a key, so a new status should ship with a schema migration.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyStatus {
    /// Usable (the state of every new key).
    Active,
    /// Temporarily blocked, e.g. a payment dispute; may become active again.
    Suspended,
    /// Permanently withdrawn, e.g. leaked or refunded.
    Revoked,
}

impl KeyStatus {
    /// The word stored in the ledger.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Revoked => "revoked",
        }
    }

    /// Parses `active`, `suspended` or `revoked`.
    ///
    /// # Errors
    /// A message listing the statuses.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "active" => Ok(Self::Active),
            "suspended" => Ok(Self::Suspended),
            "revoked" => Ok(Self::Revoked),
            other => Err(format!("{other:?}: expected active, suspended or revoked")),
        }
    }

    pub(super) fn from_ledger(s: &str) -> Result<Self, LedgerError> {
        Self::parse(s).map_err(|_| LedgerError::UnknownValue {
            table: "keys",
            column: "status",
            value: s.to_string(),
        })
    }
}

impl fmt::Display for KeyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the ledger knows about one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRecord {
    /// The product.
    pub product: String,
    /// The key, canonical form.
    pub key: String,
    /// The batch that recorded it.
    pub batch: BatchId,
    /// What made it (its batch's kind).
    pub kind: BatchKind,
    /// When it was made (the batch's start, seconds since 1970).
    pub created: i64,
    /// Whether it may be used.
    pub status: KeyStatus,
}

/// Which keys [`Keys::list`] returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyFilter {
    /// Only this product.
    pub product: Option<String>,
    /// Only keys starting with this: as typed (an imported key's own spelling, separators
    /// and all) or in its canonical form (§12.1, airseal's own keys).
    pub key_prefix: Option<String>,
    /// Only keys whose terms' licensee e-mail contains this text (imported keys).
    pub email: Option<String>,
    /// Only keys with this status.
    pub status: Option<KeyStatus>,
    /// Only keys linked to this customer (`airseal keys update`, [`super::Customers`]).
    pub customer: Option<i64>,
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
    /// The customer it is linked to, if any.
    pub customer: Option<i64>,
    /// The vendor's notes on it.
    pub notes: Option<String>,
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

/// A key as a change to it sees it, read inside the change's transaction ([`Keys::change`]).
#[derive(Clone, Debug, PartialEq)]
pub struct KeyState {
    /// Its status, terms and batch, as activation reads them.
    pub key: SeatKey,
    /// Seats it holds now in this ledger (not counting those used before an import).
    pub live_seats: u64,
}

/// What a change writes ([`Keys::change`]).
#[derive(Clone, Debug, PartialEq)]
pub struct KeyEdit {
    /// The key's status after the change.
    pub status: KeyStatus,
    /// Its terms after the change (`None`: left as they are).
    pub terms: Option<KeyTerms>,
    /// The audit row's action (`key.suspend`, `key.update`, …).
    pub action: &'static str,
    /// The audit row's detail: what the key was before and is after.
    pub detail: serde_json::Value,
}

/// The product keys of a ledger: `ledger.keys()`.
#[derive(Clone, Copy, Debug)]
pub struct Keys<'a> {
    pub(super) conn: &'a Connection,
}

impl Ledger {
    /// Product keys: lookups, statuses, terms and listings.
    pub fn keys(&self) -> Keys<'_> {
        Keys {
            conn: self.connection(),
        }
    }
}

impl Keys<'_> {
    /// What the ledger knows about a key. With `product`, one lookup; without, the key is
    /// looked up under every product, and [`LedgerError::AmbiguousKey`] is returned if more
    /// than one has it.
    ///
    /// # Errors
    /// [`LedgerError::AmbiguousKey`], a database error, or [`LedgerError::Corrupt`].
    pub fn info(&self, product: Option<&str>, key: &str) -> Result<Option<KeyRecord>, LedgerError> {
        const COLUMNS: &str = "k.product, k.key, k.batch, b.kind, b.created, k.status";
        let read = |r: &super::db::Row<'_>| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, String>(5)?,
            ))
        };
        let raws = match product {
            Some(product) => self
                .conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM keys k JOIN batches b ON b.id = k.batch
                     WHERE k.product = ?1 AND k.key = ?2"
                ))
                .and_then(|mut st| st.query_map([product, key], read)?.collect())
                .map_err(db("looking up a key"))?,
            // One primary-key probe per product (CROSS JOIN fixes the loop order), rather
            // than a scan of every key.
            None => self
                .conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM products p CROSS JOIN keys k
                     JOIN batches b ON b.id = k.batch
                     WHERE k.product = p.id AND k.key = ?1"
                ))
                .and_then(|mut st| st.query_map([key], read)?.collect())
                .map_err(db("looking up a key"))?,
        };
        let raws: Vec<_> = raws;
        if raws.len() > 1 {
            return Err(LedgerError::AmbiguousKey {
                key: key.to_string(),
                products: raws.into_iter().map(|r| r.0).collect(),
            });
        }
        raws.into_iter()
            .next()
            .map(|(product, key, batch, kind, created, status)| {
                Ok(KeyRecord {
                    product,
                    key,
                    batch,
                    kind: BatchKind::from_ledger(&kind)?,
                    created,
                    status: KeyStatus::from_ledger(&status)?,
                })
            })
            .transpose()
    }

    /// How many keys the ledger holds for a product.
    ///
    /// # Errors
    /// A database error.
    pub fn count(&self, product: &str) -> Result<u64, LedgerError> {
        let n: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM keys WHERE product = ?1",
                [product],
                |r| r.get(0),
            )
            .map_err(db("counting keys"))?;
        to_u64(n, "key count")
    }

    /// Changes a key's status (revoke, suspend, reinstate) and audits the change. Returns
    /// the previous status; setting the status a key already has changes and audits nothing.
    ///
    /// # Errors
    /// [`LedgerError::UnknownKey`], or a database error.
    pub fn set_status(
        &self,
        product: &str,
        key: &str,
        status: KeyStatus,
    ) -> Result<KeyStatus, LedgerError> {
        let tx = write_tx(self.conn)?;
        let old: String = tx
            .query_row(
                "SELECT status FROM keys WHERE product = ?1 AND key = ?2",
                [product, key],
                |r| r.get(0),
            )
            .optional()
            .map_err(db("reading a key"))?
            .ok_or_else(|| LedgerError::UnknownKey {
                product: product.to_string(),
                key: key.to_string(),
            })?;
        let old = KeyStatus::from_ledger(&old)?;
        if old == status {
            return Ok(old);
        }
        tx.execute(
            "UPDATE keys SET status = ?3 WHERE product = ?1 AND key = ?2",
            params![product, key, status.as_str()],
        )
        .map_err(db("changing a key's status"))?;
        audit_in(
            &tx,
            "key.status",
            &format!("{product}/{key}"),
            &serde_json::json!({ "from": old.as_str(), "to": status.as_str() }),
        )?;
        tx.commit().map_err(db("committing a key's status"))?;
        Ok(old)
    }

    /// Changes a key in one write transaction: reads its state, asks `decide` what to write
    /// (`None`: nothing, and nothing is audited), writes the status and terms with the audit
    /// row, and returns what `decide` returned with it. What the rules of a change are is
    /// the caller's ([`crate::keys::ops`]); that nothing slips in between the read and the
    /// write is this function's.
    ///
    /// # Errors
    /// [`LedgerError::UnknownKey`], a database error, or what `decide` returns.
    pub fn change<T, E: From<LedgerError>>(
        &self,
        product: &str,
        key: &str,
        decide: impl FnOnce(&KeyState) -> Result<(Option<KeyEdit>, T), E>,
    ) -> Result<T, E> {
        let tx = write_tx(self.conn)?;
        let unknown = || LedgerError::UnknownKey {
            product: product.to_string(),
            key: key.to_string(),
        };
        let record = super::seats::seat_key_in(&tx, product, key)?.ok_or_else(unknown)?;
        let live: i64 = tx
            .query_row(
                "SELECT count(*) FROM activations
                 WHERE product = ?1 AND key = ?2 AND deactivated_at IS NULL",
                [product, key],
                |r| r.get(0),
            )
            .map_err(db("counting a key's seats"))?;
        let state = KeyState {
            key: record,
            live_seats: to_u64(live, "seat count")?,
        };
        let (change, out) = decide(&state)?;
        let Some(change) = change else {
            return Ok(out);
        };
        if change.status != state.key.status {
            tx.execute(
                "UPDATE keys SET status = ?3 WHERE product = ?1 AND key = ?2",
                params![product, key, change.status.as_str()],
            )
            .map_err(db("changing a key's status"))?;
        }
        if let Some(terms) = &change.terms {
            if Some(terms) != state.key.terms.as_ref() {
                put_key_terms_in(&tx, product, key, &TermsRecord::new(terms))?;
            }
        }
        audit_in(
            &tx,
            change.action,
            &format!("{product}/{key}"),
            &change.detail,
        )?;
        tx.commit().map_err(db("committing a key change"))?;
        Ok(out)
    }

    /// Gives an existing key its own terms (or replaces them), audited: what an importer
    /// records for each key, and how a vendor changes one key's limits by hand.
    ///
    /// # Errors
    /// [`LedgerError::UnknownKey`], or a database error.
    pub fn set_terms(&self, product: &str, key: &str, terms: &KeyTerms) -> Result<(), LedgerError> {
        let tx = write_tx(self.conn)?;
        put_key_terms_in(&tx, product, key, &TermsRecord::new(terms))?;
        audit_in(
            &tx,
            "key.terms",
            &format!("{product}/{key}"),
            &json!({
                "template": terms.template,
                "prior_activations": terms.prior_activations,
                "prior_deactivations": terms.prior_deactivations,
                "source": terms.source,
            }),
        )?;
        tx.commit().map_err(db("committing key terms"))?;
        Ok(())
    }

    /// Calls `f` with each key matching `filter`, in batch order, with its seat counts, and
    /// returns how many there were. Streams: one row is in memory at a time, with a small page
    /// cache (`connection.rs`), whatever the ledger holds. An error from `f` stops the listing
    /// and is returned.
    ///
    /// The licensee e-mail lives inside each key's terms record (`terms.rs`), so that filter
    /// is applied here, before the limit; it is a "contains" search, which no index could
    /// serve anyway. Batch order needs SQLite to sort the matching keys (`keys` has no index
    /// on `batch`, see the module docs); the sort spills to a temporary file beyond the cache.
    ///
    /// # Errors
    /// A database error, [`LedgerError::Corrupt`], [`LedgerError::UnknownValue`], or what `f`
    /// returns.
    pub fn for_each<E: From<LedgerError>>(
        &self,
        filter: &KeyFilter,
        mut f: impl FnMut(KeyOverview) -> Result<(), E>,
    ) -> Result<u64, E> {
        let _cache = ListingCache::new(self.conn);
        let needle = filter.email.as_deref().map(str::to_ascii_lowercase);
        // Both live in the terms record (a customer also in the batch's parameters), read row
        // by row: a filter on either is applied here, before the limit.
        let in_terms = needle.is_some() || filter.customer.is_some();
        // `LIMIT` only when there is one: with a limit SQLite sorts into a B-tree it can trim
        // (right for a few rows, but `LIMIT -1` takes that path too, a 4 KiB page read or
        // written per few rows), without one it uses its merge sorter. Measured on 3,000,000
        // keys (`benches/ledger_stream.sh`): 9 s instead of 28 s, 0.4 s of system time
        // instead of 11 s, the first row after 5 s instead of 18 s.
        let limited = !in_terms && filter.limit.is_some();
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT k.product, k.key, k.batch, b.kind, b.created, k.status, k.terms,
                        (SELECT count(*) FROM activations a WHERE a.product = k.product
                            AND a.key = k.key AND a.deactivated_at IS NULL),
                        (SELECT count(*) FROM activations a WHERE a.product = k.product
                            AND a.key = k.key AND a.deactivated_at IS NOT NULL),
                        json_extract(b.params, '$.customer')
                 FROM keys k JOIN batches b ON b.id = k.batch
                 WHERE (?1 IS NULL OR k.product = ?1)
                   AND (?2 IS NULL OR substr(k.key, 1, length(?2)) = ?2
                        OR substr(k.key, 1, length(?5)) = ?5)
                   AND (?3 = 0 OR k.terms IS NOT NULL)
                   AND (?4 IS NULL OR k.status = ?4)
                 ORDER BY k.product, k.key{}",
                if limited { " LIMIT ?6" } else { "" }
            ))
            .map_err(db("listing keys"))?;
        let prefix = filter.key_prefix.as_deref().map(str::trim);
        let canonical = prefix.and_then(airseal_core::productkey::canonical_form);
        let (product, with_terms, status) = (
            &filter.product,
            // Only keys with terms have an e-mail address.
            needle.is_some(),
            filter.status.map(KeyStatus::as_str),
        );
        let mut rows = if limited {
            st.query(params![
                product,
                prefix,
                with_terms,
                status,
                canonical,
                limit_of(filter.limit)
            ])
        } else {
            st.query(params![product, prefix, with_terms, status, canonical])
        }
        .map_err(db("listing keys"))?;
        let mut n: u64 = 0;
        while let Some(r) = rows.next().map_err(db("listing keys"))? {
            if filter.limit.is_some_and(|limit| n >= u64::from(limit)) {
                break;
            }
            let read = || -> rusqlite::Result<_> {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, BatchId>(2)?,
                    r.get_ref(3)?.as_str()?,
                    r.get::<_, i64>(4)?,
                    r.get_ref(5)?.as_str()?,
                    r.get_ref(6)?.as_blob_or_null()?,
                    r.get::<_, i64>(7)?,
                    r.get::<_, i64>(8)?,
                    r.get::<_, Option<i64>>(9)?,
                ))
            };
            let (
                product,
                key,
                batch,
                kind,
                created,
                status,
                record,
                live,
                deactivated,
                batch_customer,
            ) = read().map_err(db("listing keys"))?;
            let terms = record
                .map(|b| terms_from_record(&key, b))
                .transpose()?
                .unwrap_or_default();
            // A key's own link, else its batch's (`keys generate --customer`).
            let customer = terms.customer.or(batch_customer);
            if filter.customer.is_some() && customer != filter.customer {
                continue;
            }
            let email = terms.spec.licensee_email;
            if let Some(needle) = &needle {
                let found = email
                    .as_deref()
                    .is_some_and(|e| e.to_ascii_lowercase().contains(needle.as_str()));
                if !found {
                    continue;
                }
            }
            let overview = KeyOverview {
                live_seats: to_u64(live, "seat count")?,
                deactivations: to_u64(deactivated, "deactivation count")?,
                record: KeyRecord {
                    status: KeyStatus::from_ledger(status)?,
                    kind: BatchKind::from_ledger(kind)?,
                    product,
                    key,
                    batch,
                    created,
                },
                email,
                template: terms.template,
                prior_activations: terms.prior_activations,
                prior_deactivations: terms.prior_deactivations,
                customer,
                notes: terms.notes,
            };
            n += 1;
            f(overview)?;
        }
        Ok(n)
    }

    /// The keys [`Keys::for_each`] would list, collected: for searches whose result is
    /// bounded (a `limit`, one product's few keys); listings of a whole ledger stream.
    ///
    /// # Errors
    /// As [`Keys::for_each`].
    pub fn list(&self, filter: &KeyFilter) -> Result<Vec<KeyOverview>, LedgerError> {
        collect(|row| self.for_each(filter, row))
    }

    /// The terms of a key, if it has its own (imported keys do; generated keys use their
    /// product's template).
    ///
    /// # Errors
    /// A database error, or [`LedgerError::Corrupt`].
    pub fn terms(&self, product: &str, key: &str) -> Result<Option<KeyTerms>, LedgerError> {
        key_terms_in(self.conn, product, key)
    }

    /// The stored key an entry means: exact, then canonical form, then a loose match among
    /// imported keys (see `lookup.rs`). `None` when nothing matches.
    ///
    /// # Errors
    /// [`LedgerError::UnknownProduct`], [`LedgerError::AmbiguousEntry`] when the entry
    /// loosely matches several imported keys, or a database error.
    pub fn find(&self, product: &str, entered: &str) -> Result<Option<FoundKey>, LedgerError> {
        find_key_in(self.conn, product, entered)
    }
}
