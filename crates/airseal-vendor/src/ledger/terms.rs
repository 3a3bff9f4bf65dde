//! Per-key license terms (migration 3): what a license issued for one product key says,
//! when that differs from the product's template.
//!
//! Keys made by `keys generate` have no row here: their licenses come from a template. A key
//! imported from another platform carries its own licensee, expiry, activation limit and
//! metadata, and the seats it already used there; those live here, as a [`LicenseSpec`]
//! laid over the template when a license is issued or an activation answered.

use rusqlite::{Connection, OptionalExtension as _, params};

use super::{LedgerError, db, to_u64};
use crate::issue::LicenseSpec;

/// Migration 3: `key_terms`, one optional row per key.
///
/// `spec` is a [`LicenseSpec`] as JSON (its fields override the template's); `email` is a
/// copy of the spec's licensee e-mail, so `airseal ledger` can search by it. It has no index:
/// the search is "contains", which no index serves, and an index filled in e-mail order
/// (random, for keys inserted in key order) cost about 1.3 s per million imported rows.
/// `prior_activations` and `prior_deactivations` count what the key already used on the
/// platform it came from, so an import never hands out seats twice.
///
/// `loose` is the key with `-`, space, `_` and `.` removed and ASCII in lower case
/// ([`super::lookup::loose_form`]), so a customer who types an imported key in another case
/// or with other separators is found with one index probe. Both writers
/// ([`put_key_terms_in`] and the importer's bulk insert) compute it in Rust and bind it;
/// `NOT NULL` makes a writer that forgets fail. (A generated column would keep itself
/// right, but evaluating SQLite's `replace`/`lower` chain for every imported row costs more
/// than binding a string already made.)
pub(super) const MIGRATION_3: &str = "
CREATE TABLE key_terms (
    product             TEXT NOT NULL,
    key                 TEXT NOT NULL,
    template            TEXT,
    spec                TEXT NOT NULL CHECK (json_valid(spec)),
    email               TEXT,
    prior_activations   INTEGER NOT NULL DEFAULT 0 CHECK (prior_activations >= 0),
    prior_deactivations INTEGER NOT NULL DEFAULT 0 CHECK (prior_deactivations >= 0),
    source              TEXT,
    loose               TEXT NOT NULL,
    PRIMARY KEY (product, key),
    FOREIGN KEY (product, key) REFERENCES keys(product, key)
) STRICT, WITHOUT ROWID;

CREATE INDEX key_terms_loose ON key_terms (product, loose);
";

/// The terms of one key.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyTerms {
    /// The template the spec is laid over; `None` = the product's default.
    pub template: Option<String>,
    /// What this key's licenses say, over the template (`product_key` is filled in by the
    /// ledger).
    pub spec: LicenseSpec,
    /// Seats the key already used before it came to airseal.
    pub prior_activations: u64,
    /// Deactivations the key already used before it came to airseal.
    pub prior_deactivations: u64,
    /// Where the terms came from within their import (for example `cryptlex-v2 line 12`; the
    /// file is recorded once, with the import of the key's batch).
    pub source: Option<String>,
}

/// Writes (or replaces) the terms of an existing key inside the caller's transaction.
///
/// # Errors
/// A database error (including a foreign-key failure when the key is not in the ledger).
pub(crate) fn put_key_terms_in(
    conn: &Connection,
    product: &str,
    key: &str,
    terms: &KeyTerms,
) -> Result<(), LedgerError> {
    let spec = serde_json::to_string(&terms.spec).map_err(|e| LedgerError::Corrupt {
        what: format!("key terms of {key}: {e}"),
    })?;
    let (prior_a, prior_d) = (
        i64::try_from(terms.prior_activations).unwrap_or(i64::MAX),
        i64::try_from(terms.prior_deactivations).unwrap_or(i64::MAX),
    );
    conn.prepare_cached(
        "INSERT OR REPLACE INTO key_terms
             (product, key, template, spec, email, prior_activations, prior_deactivations,
              source, loose)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .and_then(|mut st| {
        st.execute(params![
            product,
            key,
            terms.template,
            spec,
            terms.spec.licensee_email,
            prior_a,
            prior_d,
            terms.source,
            super::lookup::loose_form(key)
        ])
    })
    .map_err(db("storing key terms"))?;
    Ok(())
}

/// Reads the terms of a key, if it has any.
///
/// # Errors
/// A database error, or [`LedgerError::Corrupt`] for a row that does not parse.
pub(crate) fn key_terms_in(
    conn: &Connection,
    product: &str,
    key: &str,
) -> Result<Option<KeyTerms>, LedgerError> {
    let row = conn
        .query_row(
            "SELECT template, spec, prior_activations, prior_deactivations, source
             FROM key_terms WHERE product = ?1 AND key = ?2",
            [product, key],
            |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            },
        )
        .optional()
        .map_err(db("reading key terms"))?;
    let Some((template, spec, prior_a, prior_d, source)) = row else {
        return Ok(None);
    };
    let spec: LicenseSpec = serde_json::from_str(&spec).map_err(|e| LedgerError::Corrupt {
        what: format!("key terms of {key}: {e}"),
    })?;
    Ok(Some(KeyTerms {
        template,
        spec,
        prior_activations: to_u64(prior_a, "prior activations")?,
        prior_deactivations: to_u64(prior_d, "prior deactivations")?,
        source,
    }))
}

impl super::Ledger {
    /// The terms of a key, if it has its own (imported keys do; generated keys use their
    /// product's template).
    ///
    /// # Errors
    /// A database error, or [`LedgerError::Corrupt`].
    pub fn key_terms(&self, product: &str, key: &str) -> Result<Option<KeyTerms>, LedgerError> {
        key_terms_in(&self.conn, product, key)
    }
}
