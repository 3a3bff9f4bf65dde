//! Every signed license document (migration 6): one row per `cti`, whoever signed it —
//! `airseal issue`, `airseal issue --batch`, or an activation response (first issue or
//! re-issue) — so `airseal ledger licenses` can answer "what did we hand out to whom"
//! (`SPEC.md` §12.5).
//!
//! A row is written inside the transaction of the change that produced the license: the
//! seat transaction for activation responses ([`super::SeatTx`]), one transaction for a
//! whole batch ([`Licenses::record_batch`]), or its own transaction with its audit
//! row for a single issue ([`Licenses::record`]). The columns copy the claims a
//! vendor searches by; the signed document itself is not kept here (activation responses
//! keep their last one in `activations.response`).

use std::fmt;

use super::db::{Connection, Row, ToSql, params, params_from_iter};
use airseal_core::{KeyId, LicenseClaims, LicenseKind};
use serde_json::{Value, json};

use super::audit::audit_in;
use super::batches::batch_status;
use super::connection::{ListingCache, collect, write_tx};
use super::error::db;
use super::{ActivationId, BatchId, Ledger, LedgerError};

/// What signed a license.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LicenseSource {
    /// `airseal issue`: one license.
    Issue,
    /// `airseal issue --batch --from-import`: one license per imported key.
    Batch,
    /// An activation response, first issued or re-issued on a seat.
    Activation,
}

impl LicenseSource {
    /// The word stored in the ledger.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Issue => "issue",
            Self::Batch => "batch",
            Self::Activation => "activation",
        }
    }

    /// Parses `issue`, `batch` or `activation`.
    ///
    /// # Errors
    /// A message listing the sources.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "issue" => Ok(Self::Issue),
            "batch" => Ok(Self::Batch),
            "activation" => Ok(Self::Activation),
            other => Err(format!("{other:?}: expected issue, batch or activation")),
        }
    }
}

impl fmt::Display for LicenseSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One signed license document as the ledger records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LicenseRecord {
    /// Its `cti`: unique per signed document.
    pub token_id: Vec<u8>,
    /// Its license id (`sub`), shared by the responses re-issued on one seat.
    pub license_id: String,
    /// The product (`aud`).
    pub product: String,
    /// The product key it names, as the license spells it.
    pub product_key: Option<String>,
    /// Perpetual, subscription or trial.
    pub kind: LicenseKind,
    /// The licensee's e-mail.
    pub email: Option<String>,
    /// The licensee's name.
    pub name: Option<String>,
    /// `iat` (seconds since 1970).
    pub issued_at: i64,
    /// `exp`, if it has one.
    pub expires_at: Option<i64>,
    /// What signed it.
    pub source: LicenseSource,
    /// The activation it answered (activation responses only).
    pub activation: Option<ActivationId>,
    /// The batch it was issued for (batch issues only).
    pub batch: Option<BatchId>,
    /// The id of the key that signed it: an issuing key's for a chained license, else the
    /// root's (`SPEC.md` §18); `None` for licenses recorded before the ledger kept it.
    pub signed_by: Option<KeyId>,
}

/// Which licenses [`Licenses::list`] returns (every field narrows the list).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LicenseFilter {
    /// Only this product.
    pub product: Option<String>,
    /// Only this product key, with case and separators (`-`, space, `_`, `.`) ignored on
    /// both sides: licenses keep a key as it was given (imported keys verbatim, generated
    /// ones canonical).
    pub key: Option<String>,
    /// Only this license id.
    pub license_id: Option<String>,
    /// Only licenses whose licensee e-mail contains this text (case ignored).
    pub email: Option<String>,
    /// Only licenses from this source.
    pub source: Option<LicenseSource>,
    /// At most this many rows.
    pub limit: Option<u32>,
}

fn kind_from_ledger(s: &str) -> Result<LicenseKind, LedgerError> {
    match s {
        "perpetual" => Ok(LicenseKind::Perpetual),
        "subscription" => Ok(LicenseKind::Subscription),
        "trial" => Ok(LicenseKind::Trial),
        other => Err(LedgerError::UnknownValue {
            table: "licenses",
            column: "kind",
            value: other.to_string(),
        }),
    }
}

/// The insert every path shares; cached per connection, so a batch prepares it once.
const INSERT: &str = "INSERT INTO licenses (token_id, license_id, product, product_key, kind,
        email, name, issued_at, expires_at, source, activation, batch, signed_by)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";

/// Records one signed license inside the caller's transaction (`conn` is the transaction),
/// so the license and the change that produced it commit together. `activation` must be
/// set exactly when `source` is [`LicenseSource::Activation`], `batch` exactly when it is
/// [`LicenseSource::Batch`]. `signed_by`: the id of the key whose signature it carries
/// (an issuing key's for a chained license, `SPEC.md` §18).
///
/// # Errors
/// A database error: a `cti` already recorded, a source without its activation or batch,
/// an activation or batch that does not exist.
pub(crate) fn record_license_in(
    conn: &Connection,
    claims: &LicenseClaims,
    source: LicenseSource,
    activation: Option<ActivationId>,
    batch: Option<BatchId>,
    signed_by: Option<KeyId>,
) -> Result<(), LedgerError> {
    conn.prepare_cached(INSERT)
        .and_then(|mut st| {
            st.execute(params![
                claims.token_id,
                claims.license_id,
                claims.product,
                claims.product_key,
                claims.kind.as_str(),
                claims.licensee.email,
                claims.licensee.name,
                claims.issued_at,
                claims.expires_at,
                source.as_str(),
                activation,
                batch,
                signed_by.map(|k| k.to_string()),
            ])
        })
        .map_err(db("recording a license"))?;
    Ok(())
}

/// The id of the key whose signature a signed document (raw COSE) carries: the header's
/// `kid`, or for a chained document its certificate's key (`SPEC.md` §18). `None` for bytes
/// that are not a COSE_Sign1 (never the case for what this process has just signed).
pub(crate) fn signer_of(document: &[u8]) -> Option<KeyId> {
    airseal_core::cose::parse_sign1(document)
        .ok()
        .map(|s| s.header.kid)
}

/// The claims of a license document (raw COSE bytes, not armored) exactly as signed, for
/// recording licenses that a signing routine handed back as bytes. The signature is not
/// checked: only pass documents this process has just signed.
///
/// # Errors
/// [`LedgerError::BadLicense`] when the bytes are not a license.
pub fn signed_claims(document: &[u8]) -> Result<LicenseClaims, LedgerError> {
    let bad = |reason: String| LedgerError::BadLicense { reason };
    LicenseClaims::read_unverified(document).map_err(|e| bad(e.to_string()))
}

/// How a key is compared in searches: without `-`, spaces, `_` or `.`, ASCII letters in
/// lower case — the "loose form" activation uses to find an imported key (`SPEC.md`
/// §15.6). Written exactly as in `licenses_by_key` (migration 6), which SQLite needs to use
/// the index.
const KEY_FORM: &str =
    "lower(replace(replace(replace(replace(product_key, '-', ''), ' ', ''), '_', ''), '.', ''))";

/// The key condition of [`Licenses::list`]: [`KEY_FORM`] of the stored key against
/// the searched key's [`loose_form`](super::lookup::loose_form), bound by the caller — the
/// one Rust implementation of the rule. The `IS NOT NULL` term lets SQLite use the partial
/// index.
fn key_match() -> String {
    format!("product_key IS NOT NULL AND {KEY_FORM} = ?")
}

/// The ids of the licenses recorded for `key` of `product`, however the license spelled the
/// key (the loose form, through the `licenses_by_key` index): what a revocation list names
/// when the key is revoked (`SPEC.md` §17.4).
///
/// # Errors
/// A database error.
pub(super) fn license_ids_for_key_in(
    conn: &Connection,
    product: &str,
    key: &str,
) -> Result<Vec<String>, LedgerError> {
    conn.prepare_cached(&format!(
        "SELECT DISTINCT license_id FROM licenses WHERE {} AND product = ?",
        key_match()
    ))
    .and_then(|mut st| {
        st.query_map(params![super::lookup::loose_form(key), product], |r| {
            r.get(0)
        })?
        .collect()
    })
    .map_err(db("reading a key's licenses"))
}

const COLUMNS: &str = "token_id, license_id, product, product_key, kind, email, name, \
     issued_at, expires_at, source, activation, batch, signed_by";

/// A row as stored, before its words are checked.
type Raw = (
    Vec<u8>,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    i64,
    Option<i64>,
    String,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

fn raw(r: &Row<'_>) -> rusqlite::Result<Raw> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
        r.get(12)?,
    ))
}

fn check(raw: Raw) -> Result<LicenseRecord, LedgerError> {
    let (token_id, license_id, product, product_key, kind, email, name, iat, exp, src, a, b, by) =
        raw;
    let signed_by = match by {
        Some(text) => Some(KeyId::from_hex(&text).ok_or_else(|| LedgerError::Corrupt {
            what: format!("licenses.signed_by {text:?}"),
        })?),
        None => None,
    };
    Ok(LicenseRecord {
        token_id,
        license_id,
        product,
        product_key,
        kind: kind_from_ledger(&kind)?,
        email,
        name,
        issued_at: iat,
        expires_at: exp,
        source: LicenseSource::parse(&src).map_err(|_| LedgerError::UnknownValue {
            table: "licenses",
            column: "source",
            value: src.clone(),
        })?,
        activation: a,
        batch: b,
        signed_by,
    })
}

/// The signed licenses of a ledger: `ledger.licenses()`.
#[derive(Clone, Copy, Debug)]
pub struct Licenses<'a> {
    pub(super) conn: &'a Connection,
}

impl Ledger {
    /// Every signed license document: recording and listing them.
    pub fn licenses(&self) -> Licenses<'_> {
        Licenses {
            conn: self.connection(),
        }
    }
}

impl Licenses<'_> {
    /// Records a license signed by `airseal issue` (or a vendor's own backend), with its
    /// `license.issue` audit row, in one transaction. `extra` (a JSON object: the signing
    /// key id, the output file, …) is added to the audit row's details. `signed_by`: the
    /// id of the key that signed it (root or issuing key).
    ///
    /// # Errors
    /// A database error (also when the `cti` is already recorded); nothing is then
    /// recorded.
    pub fn record(
        &self,
        claims: &LicenseClaims,
        signed_by: Option<KeyId>,
        extra: &Value,
    ) -> Result<(), LedgerError> {
        let tx = write_tx(self.conn)?;
        record_license_in(&tx, claims, LicenseSource::Issue, None, None, signed_by)?;
        let mut detail = json!({
            "product": claims.product,
            "product_key": claims.product_key,
            "token_id": hex(&claims.token_id),
            "kind": claims.kind.as_str(),
            "email": claims.licensee.email,
            "expires_at": claims.expires_at,
        });
        merge(&mut detail, extra);
        audit_in(&tx, "license.issue", &claims.license_id, &detail)?;
        tx.commit().map_err(db("committing a license"))
    }

    /// Records the licenses of one `airseal issue --batch` run for `batch` (the import's
    /// batch), signed by `signed_by`, and its `license.issue_batch` audit row (`detail`, plus `recorded`), in one
    /// transaction: all of them or none. Returns how many were recorded.
    ///
    /// The insert is prepared once and the rows go in the order given, which keeps the
    /// listing in the import's order. Measured with `examples/ledger_licenses.rs`: 100,000
    /// licenses in about 0.5 s into an empty ledger, 1.2 s into one holding a million.
    /// Sorting by `cti` first buys nothing (unlike keys): it orders one of the four trees
    /// written, and the license ids and e-mails stay random.
    ///
    /// # Errors
    /// [`LedgerError::UnknownBatch`], or a database error (a `cti` recorded twice included);
    /// nothing is then recorded.
    pub fn record_batch(
        &self,
        batch: BatchId,
        licenses: &[LicenseClaims],
        signed_by: Option<KeyId>,
        detail: &Value,
    ) -> Result<u64, LedgerError> {
        let tx = write_tx(self.conn)?;
        batch_status(&tx, batch)?;
        for claims in licenses {
            record_license_in(
                &tx,
                claims,
                LicenseSource::Batch,
                None,
                Some(batch),
                signed_by,
            )?;
        }
        let recorded = u64::try_from(licenses.len()).unwrap_or(u64::MAX);
        let mut detail = detail.clone();
        merge(&mut detail, &json!({ "recorded": recorded }));
        audit_in(&tx, "license.issue_batch", &batch.to_string(), &detail)?;
        tx.commit().map_err(db("committing a batch's licenses"))?;
        Ok(recorded)
    }

    /// Calls `f` with each license matching `filter`, in the order they were recorded, and
    /// returns how many there were. Only the conditions given are put in the query, so a
    /// license id, or a product with its key, is found through its index. Streams, as
    /// [`super::Keys::for_each`] does; an error from `f` stops it.
    ///
    /// # Errors
    /// A database error, [`LedgerError::UnknownValue`], or what `f` returns.
    pub fn for_each<E: From<LedgerError>>(
        &self,
        filter: &LicenseFilter,
        mut f: impl FnMut(LicenseRecord) -> Result<(), E>,
    ) -> Result<u64, E> {
        let _cache = ListingCache::new(self.conn);
        let (sql, values) = select(filter);
        let mut st = self.conn.prepare(&sql).map_err(db("listing licenses"))?;
        let mut rows = st
            .query(params_from_iter(values.iter()))
            .map_err(db("listing licenses"))?;
        let mut n = 0;
        while let Some(r) = rows.next().map_err(db("listing licenses"))? {
            let license = check(raw(&r).map_err(db("listing licenses"))?)?;
            n += 1;
            f(license)?;
        }
        Ok(n)
    }

    /// The licenses [`Licenses::for_each`] would list, collected: for searches whose result is
    /// bounded (a `limit`, one key's or one license's rows); whole listings stream.
    ///
    /// # Errors
    /// As [`Licenses::for_each`].
    pub fn list(&self, filter: &LicenseFilter) -> Result<Vec<LicenseRecord>, LedgerError> {
        collect(|row| self.for_each(filter, row))
    }
}

/// The query of [`Licenses::list`] and its parameters. Only the conditions given
/// are in it: `?1 IS NULL OR column = ?1` would keep SQLite from using the indexes.
fn select(filter: &LicenseFilter) -> (String, Vec<Box<dyn ToSql>>) {
    let mut conditions: Vec<String> = Vec::new();
    let mut values: Vec<Box<dyn ToSql>> = Vec::new();
    if let Some(p) = &filter.product {
        conditions.push("product = ?".to_string());
        values.push(Box::new(p.clone()));
    }
    if let Some(k) = &filter.key {
        conditions.push(key_match());
        values.push(Box::new(super::lookup::loose_form(k)));
    }
    if let Some(id) = &filter.license_id {
        conditions.push("license_id = ?".to_string());
        values.push(Box::new(id.clone()));
    }
    if let Some(e) = &filter.email {
        // instr, not LIKE: `%` and `_` in a search mean themselves.
        conditions.push("instr(lower(email), lower(?)) > 0".to_string());
        values.push(Box::new(e.clone()));
    }
    if let Some(s) = filter.source {
        conditions.push("source = ?".to_string());
        values.push(Box::new(s.as_str()));
    }
    let mut sql = format!("SELECT {COLUMNS} FROM licenses");
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    sql.push_str(" ORDER BY rowid LIMIT ?");
    values.push(Box::new(filter.limit.map_or(-1, i64::from)));
    (sql, values)
}

/// Lowercase hex, for audit details.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Adds the entries of `extra` (if it is an object) to `detail` (an object).
fn merge(detail: &mut Value, extra: &Value) {
    if let (Value::Object(d), Value::Object(e)) = (detail, extra) {
        for (k, v) in e {
            d.insert(k.clone(), v.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_round_trip_and_unknown_words_are_refused() {
        for s in [
            LicenseSource::Issue,
            LicenseSource::Batch,
            LicenseSource::Activation,
        ] {
            assert_eq!(LicenseSource::parse(s.as_str()), Ok(s));
        }
        assert!(LicenseSource::parse("import").is_err());
    }

    #[test]
    fn the_table_refuses_a_source_without_its_activation_or_batch() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("l.sqlite3")).unwrap();
        let c = ledger.connection();
        let claims = LicenseClaims::new("acme", "L1", "p", 1, vec![1]);
        assert!(
            record_license_in(c, &claims, LicenseSource::Activation, None, None, None).is_err()
        );
        assert!(record_license_in(c, &claims, LicenseSource::Batch, None, None, None).is_err());
        // A batch that does not exist is refused by the foreign key.
        assert!(record_license_in(c, &claims, LicenseSource::Batch, None, Some(9), None).is_err());
        assert!(record_license_in(c, &claims, LicenseSource::Issue, Some(1), None, None).is_err());
        record_license_in(c, &claims, LicenseSource::Issue, None, None, None).unwrap();
        // The same cti twice is refused.
        assert!(record_license_in(c, &claims, LicenseSource::Issue, None, None, None).is_err());
        let n: i64 = c
            .query_row("SELECT count(*) FROM licenses", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn the_listing_streams_and_stops_when_its_callback_fails() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("l.sqlite3")).unwrap();
        for i in 0..5u8 {
            let claims = LicenseClaims::new("acme", format!("L{i}"), "p", 1, vec![i + 1]);
            record_license_in(
                ledger.connection(),
                &claims,
                LicenseSource::Issue,
                None,
                None,
                None,
            )
            .unwrap();
        }
        let mut ids = Vec::new();
        let r = ledger.licenses().for_each(&LicenseFilter::default(), |l| {
            ids.push(l.license_id);
            if ids.len() == 2 {
                Err(LedgerError::Busy)
            } else {
                Ok(())
            }
        });
        assert!(matches!(r, Err(LedgerError::Busy)), "{r:?}");
        assert_eq!(ids, ["L0", "L1"]);
        let all = ledger.licenses().list(&LicenseFilter::default()).unwrap();
        assert_eq!(all.len(), 5);
    }

    #[test]
    fn searches_by_license_id_and_by_product_and_key_use_their_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("l.sqlite3")).unwrap();
        let plan = |filter: LicenseFilter| -> String {
            let (sql, values) = select(&filter);
            let mut st = ledger
                .connection()
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap();
            st.query_map(params_from_iter(values.iter()), |r| r.get::<_, String>(3))
                .unwrap()
                .map(Result::unwrap)
                .collect::<Vec<_>>()
                .join("; ")
        };
        let by_id = plan(LicenseFilter {
            license_id: Some("X".into()),
            source: Some(LicenseSource::Issue),
            ..LicenseFilter::default()
        });
        assert!(by_id.contains("licenses_by_license_id"), "{by_id}");
        for product in [None, Some("p".to_string())] {
            let by_key = plan(LicenseFilter {
                product,
                key: Some("ab-cd".into()),
                limit: Some(3),
                ..LicenseFilter::default()
            });
            assert!(by_key.contains("licenses_by_key"), "{by_key}");
        }
        // The index is written with the expression the condition uses.
        assert!(crate::ledger::MIGRATIONS[5].sql.contains(KEY_FORM));
        // With nothing to narrow by, the table is read in rowid order: no sort.
        let all = plan(LicenseFilter::default());
        assert!(!all.contains("TEMP B-TREE"), "{all}");
    }
}
