//! Seat accounting for offline activation (migration 4, `SPEC.md` §15): which machines
//! hold a seat of which product key, every response issued, the deactivation proofs
//! accepted, and the trials each machine has had.
//!
//! The rules that keep the vendor from overselling live here as constraints and in one
//! transaction, not only in the caller's code:
//!
//! * **One live seat per (product, key, device key)**: a partial unique index. Asking again
//!   from the same device is answered by re-issuing on the existing seat.
//! * **Check and insert together**: [`Seats::begin`] takes SQLite's write lock
//!   (`BEGIN IMMEDIATE`) *before* anything is read, so the seat count a caller checks
//!   cannot change until it commits or drops the [`SeatTx`]. Two processes racing for the
//!   last seat are serialised by the lock: the second one reads the first one's seat.
//! * **A change and its audit row commit together**, or neither does (a crash included).
//!
//! Trials are activations without a key. A machine counts as one that already had the
//! product's trial when at least *threshold* of an earlier trial's component hashes are
//! among its own — exactly the test the verifier applies to a machine binding (§4.2), so
//! "the earlier trial license would run here" and "this machine already had a trial" agree.
//! `trial_components` indexes every trial's hashes so the test is a few index probes.

use std::collections::BTreeMap;

use super::db::{Connection, OptionalExtension as _, Row, Transaction, params};
use airseal_core::activation::{ActivationRequest, DeactivationProof, NONCE_LEN, Purpose};
use airseal_core::claims::{COMPONENT_HASH_LEN, matched_components};
use airseal_core::{KeyId, LicenseClaims};
use serde_json::{Value, json};

use super::audit::audit_in;
use super::connection::{ListingCache, collect, write_tx};
use super::error::db;
use super::products::require_product;
use super::{
    BatchId, BatchKind, KeyStatus, KeyTerms, Ledger, LedgerError, Revocation, limit_of, parse_json,
    terms, to_u64,
};

/// Identifies an activation: the `activations` table's integer primary key.
pub type ActivationId = i64;

/// One seat (or trial) as the ledger records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Activation {
    /// Its id.
    pub id: ActivationId,
    /// The product.
    pub product: String,
    /// The product key (canonical form); `None` for a trial.
    pub key: Option<String>,
    /// Activation or trial.
    pub purpose: Purpose,
    /// The device public key the license is bound to.
    pub device_key: [u8; 32],
    /// The license id (`sub`) of the responses issued for this seat (kept on re-issue).
    pub license_id: String,
    /// The `cti` of the last response issued.
    pub token_id: Vec<u8>,
    /// The seat's machine: the component hashes of the request that took the seat. A later
    /// request is answered on this seat only when it has at least `threshold` of them; every
    /// request's own hashes are kept in [`Seats::component_history`].
    pub components: Vec<[u8; COMPONENT_HASH_LEN]>,
    /// How many of them must match (the binding's threshold).
    pub threshold: u8,
    /// The nonce of the last request answered.
    pub request_nonce: [u8; NONCE_LEN],
    /// When the seat was first granted.
    pub activated_at: i64,
    /// When a response was last re-issued for it, if ever.
    pub reissued_at: Option<i64>,
    /// How many times a response was re-issued.
    pub reissues: u64,
    /// When the seat was given back, if it was.
    pub deactivated_at: Option<i64>,
    /// What freed the seat, if it was freed.
    pub deactivated_by: Option<DeactivatedBy>,
    /// The app version of the last request.
    pub app_version: Option<String>,
    /// The meters of the last request.
    pub meters: Vec<(String, i64)>,
    /// The licensee's e-mail written into the license, for searching.
    pub email: Option<String>,
    /// The last signed response (raw COSE bytes).
    pub response: Vec<u8>,
}

impl Activation {
    /// The device key's id, as licenses and `airseal ledger` show it.
    pub fn device_key_id(&self) -> KeyId {
        KeyId::of_public_key(&self.device_key)
    }

    /// Whether the seat is still held.
    pub fn is_live(&self) -> bool {
        self.deactivated_at.is_none()
    }
}

/// Which activations [`Seats::list`] returns (every field narrows the list).
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

/// What freed a seat (`activations.deactivated_by`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeactivatedBy {
    /// The device's deactivation proof.
    Proof,
    /// The vendor released it (a lost or wiped machine).
    Vendor,
}

impl DeactivatedBy {
    /// The word stored in the ledger.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Proof => "proof",
            Self::Vendor => "vendor",
        }
    }

    fn from_ledger(s: &str) -> Result<Self, LedgerError> {
        match s {
            "proof" => Ok(Self::Proof),
            "vendor" => Ok(Self::Vendor),
            other => Err(LedgerError::UnknownValue {
                table: "activations",
                column: "deactivated_by",
                value: other.to_string(),
            }),
        }
    }
}

impl std::fmt::Display for DeactivatedBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// As its stored word, so JSON output keeps the words it always had.
impl serde::Serialize for DeactivatedBy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The columns [`activation_from_row`] reads, in order.
const ACTIVATION_COLUMNS: &str = "a.id, a.product, a.key, a.purpose, a.device_key, a.license_id, \
     a.token_id, a.components, a.threshold, a.request_nonce, a.activated_at, a.reissued_at, \
     a.reissues, a.deactivated_at, a.deactivated_by, a.app_version, a.meters, a.email, a.response";

/// An activation row as stored, before its blobs and words are checked.
struct RawActivation {
    id: i64,
    product: String,
    key: Option<String>,
    purpose: String,
    device_key: Vec<u8>,
    license_id: String,
    token_id: Vec<u8>,
    components: Vec<u8>,
    threshold: i64,
    request_nonce: Vec<u8>,
    activated_at: i64,
    reissued_at: Option<i64>,
    reissues: i64,
    deactivated_at: Option<i64>,
    deactivated_by: Option<String>,
    app_version: Option<String>,
    meters: Option<String>,
    email: Option<String>,
    response: Vec<u8>,
}

fn raw_activation(r: &Row<'_>) -> rusqlite::Result<RawActivation> {
    Ok(RawActivation {
        id: r.get(0)?,
        product: r.get(1)?,
        key: r.get(2)?,
        purpose: r.get(3)?,
        device_key: r.get(4)?,
        license_id: r.get(5)?,
        token_id: r.get(6)?,
        components: r.get(7)?,
        threshold: r.get(8)?,
        request_nonce: r.get(9)?,
        activated_at: r.get(10)?,
        reissued_at: r.get(11)?,
        reissues: r.get(12)?,
        deactivated_at: r.get(13)?,
        deactivated_by: r.get(14)?,
        app_version: r.get(15)?,
        meters: r.get(16)?,
        email: r.get(17)?,
        response: r.get(18)?,
    })
}

fn corrupt(what: String) -> LedgerError {
    LedgerError::Corrupt { what }
}

impl RawActivation {
    fn check(self) -> Result<Activation, LedgerError> {
        let id = self.id;
        let purpose = match self.purpose.as_str() {
            "activation" => Purpose::Activation,
            "trial" => Purpose::Trial,
            other => {
                return Err(LedgerError::UnknownValue {
                    table: "activations",
                    column: "purpose",
                    value: other.to_string(),
                });
            }
        };
        let device_key = <[u8; 32]>::try_from(self.device_key.as_slice())
            .map_err(|_| corrupt(format!("activation {id}: device key length")))?;
        let request_nonce = <[u8; NONCE_LEN]>::try_from(self.request_nonce.as_slice())
            .map_err(|_| corrupt(format!("activation {id}: nonce length")))?;
        let components = split_components(&self.components)
            .ok_or_else(|| corrupt(format!("activation {id}: components length")))?;
        let threshold = u8::try_from(self.threshold)
            .map_err(|_| corrupt(format!("activation {id}: threshold {}", self.threshold)))?;
        let meters = match self.meters {
            None => Vec::new(),
            Some(text) => match parse_json(&text, "activation meters")? {
                Value::Object(map) => map
                    .into_iter()
                    .map(|(k, v)| v.as_i64().map(|v| (k, v)))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| corrupt(format!("activation {id}: meter values")))?,
                _ => return Err(corrupt(format!("activation {id}: meters"))),
            },
        };
        Ok(Activation {
            id,
            product: self.product,
            key: self.key,
            purpose,
            device_key,
            license_id: self.license_id,
            token_id: self.token_id,
            components,
            threshold,
            request_nonce,
            activated_at: self.activated_at,
            reissued_at: self.reissued_at,
            reissues: to_u64(self.reissues, "re-issue count")?,
            deactivated_at: self.deactivated_at,
            deactivated_by: self
                .deactivated_by
                .as_deref()
                .map(DeactivatedBy::from_ledger)
                .transpose()?,
            app_version: self.app_version,
            meters,
            email: self.email,
            response: self.response,
        })
    }
}

fn split_components(bytes: &[u8]) -> Option<Vec<[u8; COMPONENT_HASH_LEN]>> {
    if bytes.is_empty() || bytes.len() % COMPONENT_HASH_LEN != 0 {
        return None;
    }
    bytes
        .chunks_exact(COMPONENT_HASH_LEN)
        .map(|c| <[u8; COMPONENT_HASH_LEN]>::try_from(c).ok())
        .collect()
}

fn join_components(components: &[[u8; COMPONENT_HASH_LEN]]) -> Vec<u8> {
    components.concat()
}

fn meters_json(meters: &[(String, i64)]) -> Option<String> {
    if meters.is_empty() {
        return None;
    }
    let map: serde_json::Map<String, Value> =
        meters.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    Some(Value::Object(map).to_string())
}

fn purpose_word(p: Purpose) -> &'static str {
    match p {
        Purpose::Activation => "activation",
        Purpose::Trial => "trial",
    }
}

/// `product/key`, or `product/trial`: the audit log's subject for a seat.
fn seat_subject(product: &str, key: Option<&str>) -> String {
    format!("{product}/{}", key.unwrap_or("trial"))
}

/// The components of one request answered on a seat (`seat_components`, migration 9).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeatRequest {
    /// When it was answered.
    pub at: i64,
    /// The request's nonce.
    pub request_nonce: Vec<u8>,
    /// The request's component hashes, as sent.
    pub components: Vec<[u8; COMPONENT_HASH_LEN]>,
    /// How many of the seat's own components it had; `None` for the request that took the
    /// seat.
    pub matched: Option<u8>,
}

/// What the ledger knows about a product key, read inside a seat transaction.
#[derive(Clone, Debug, PartialEq)]
pub struct SeatKey {
    /// Whether the key may be used.
    pub status: KeyStatus,
    /// The batch that recorded it.
    pub batch: BatchId,
    /// What made the key (its batch's kind).
    pub kind: BatchKind,
    /// The batch's parameters (a `template` entry names the key's template).
    pub batch_params: Value,
    /// The key's own terms, if it has any (imported keys).
    pub terms: Option<KeyTerms>,
    /// When the key was created (its batch's creation).
    pub created: i64,
    /// When the key's term started, if it has (`SPEC.md` §17.1).
    pub term_start: Option<i64>,
}

/// A write transaction over the seat tables: the ledger's write lock is held from
/// [`Seats::begin`] until [`SeatTx::commit`] (or drop, which rolls back), so every
/// read inside sees the state its writes will be checked against.
pub struct SeatTx<'a> {
    tx: Transaction<'a>,
}

impl std::fmt::Debug for SeatTx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeatTx").finish_non_exhaustive()
    }
}

/// The activations (seats and trials) of a ledger: `ledger.seats()`.
#[derive(Clone, Copy, Debug)]
pub struct Seats<'a> {
    pub(super) conn: &'a Connection,
}

impl Ledger {
    /// Activations: the seat transaction, lookups, releases and listings.
    pub fn seats(&self) -> Seats<'_> {
        Seats {
            conn: self.connection(),
        }
    }
}

impl<'a> Seats<'a> {
    /// Starts a seat transaction: takes the ledger's write lock (`BEGIN IMMEDIATE`, waiting
    /// up to [`super::BUSY_TIMEOUT`] for another process) before anything is read.
    ///
    /// # Errors
    /// [`LedgerError::Busy`], or a database error.
    pub fn begin(&self) -> Result<SeatTx<'a>, LedgerError> {
        Ok(SeatTx {
            tx: write_tx(self.conn)?,
        })
    }

    /// One activation by id.
    ///
    /// # Errors
    /// A database error, or [`LedgerError::Corrupt`].
    pub fn get(&self, id: ActivationId) -> Result<Option<Activation>, LedgerError> {
        activation_where(self.conn, "a.id = ?1", params![id])
    }

    /// Frees a seat without a proof from the device (a machine that was lost or wiped), as
    /// the vendor's own decision: audited with `reason`, counted as a deactivation. Returns
    /// the activation as it now is.
    ///
    /// # Errors
    /// [`LedgerError::UnknownActivation`], [`LedgerError::AlreadyDeactivated`], or a
    /// database error.
    pub fn release(
        &self,
        id: ActivationId,
        reason: &str,
        now: i64,
    ) -> Result<Activation, LedgerError> {
        let tx = write_tx(self.conn)?;
        let changed = tx
            .execute(
                "UPDATE activations SET deactivated_at = ?2, deactivated_by = 'vendor'
                 WHERE id = ?1 AND deactivated_at IS NULL",
                params![id, now],
            )
            .map_err(db("releasing a seat"))?;
        let a = activation_where(&tx, "a.id = ?1", params![id])?
            .ok_or(LedgerError::UnknownActivation { id })?;
        if changed == 0 {
            return Err(LedgerError::AlreadyDeactivated {
                id,
                license_id: a.license_id,
                at: a.deactivated_at.unwrap_or_default(),
            });
        }
        audit_in(
            &tx,
            "activation.release",
            &seat_subject(&a.product, a.key.as_deref()),
            &json!({ "activation": id, "license_id": a.license_id, "reason": reason }),
        )?;
        tx.commit().map_err(db("committing a released seat"))?;
        Ok(a)
    }

    /// Calls `f` with each activation matching `filter`, oldest first, and returns how many
    /// there were. Streams, as [`super::Keys::for_each`] does; an error from `f` stops it.
    ///
    /// # Errors
    /// A database error, [`LedgerError::Corrupt`], [`LedgerError::UnknownValue`], or what `f`
    /// returns.
    pub fn for_each<E: From<LedgerError>>(
        &self,
        filter: &ActivationFilter,
        mut f: impl FnMut(Activation) -> Result<(), E>,
    ) -> Result<u64, E> {
        let _cache = ListingCache::new(self.conn);
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
            ACTIVATION_COLUMNS
        );
        let mut st = self.conn.prepare(&sql).map_err(db("listing activations"))?;
        let mut rows = st
            .query(params![
                filter.product,
                filter.key,
                filter.license_id,
                filter.device,
                filter.email,
                filter.live_only,
                filter.trials,
                limit_of(filter.limit)
            ])
            .map_err(db("listing activations"))?;
        let mut n = 0;
        while let Some(r) = rows.next().map_err(db("listing activations"))? {
            let a = raw_activation(&r)
                .map_err(db("listing activations"))?
                .check()?;
            n += 1;
            f(a)?;
        }
        Ok(n)
    }

    /// The activations [`Seats::for_each`] would list, collected: for searches whose result is
    /// bounded (a `limit`, one key's or one license's rows); whole listings stream.
    ///
    /// # Errors
    /// As [`Seats::for_each`].
    pub fn list(&self, filter: &ActivationFilter) -> Result<Vec<Activation>, LedgerError> {
        collect(|row| self.for_each(filter, row))
    }

    /// The components of every request answered on an activation, oldest first: the one
    /// that took the seat, then each re-issue (`SPEC.md` §17.2).
    ///
    /// # Errors
    /// A database error, or [`LedgerError::Corrupt`].
    pub fn component_history(&self, id: ActivationId) -> Result<Vec<SeatRequest>, LedgerError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT at, request_nonce, components, matched FROM seat_components
                 WHERE activation = ?1 ORDER BY id",
            )
            .map_err(db("reading a seat's components"))?;
        let rows = st
            .query_map([id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                ))
            })
            .map_err(db("reading a seat's components"))?;
        let mut out = Vec::new();
        for row in rows {
            let (at, request_nonce, components, matched) =
                row.map_err(db("reading a seat's components"))?;
            out.push(SeatRequest {
                at,
                request_nonce,
                components: split_components(&components)
                    .ok_or_else(|| corrupt(format!("activation {id}: history components")))?,
                matched: matched
                    .map(|m| {
                        u8::try_from(m)
                            .map_err(|_| corrupt(format!("activation {id}: matched {m}")))
                    })
                    .transpose()?,
            });
        }
        Ok(out)
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

fn activation_where(
    conn: &Connection,
    condition: &str,
    params: impl super::db::Params,
) -> Result<Option<Activation>, LedgerError> {
    conn.prepare_cached(&format!(
        "SELECT {ACTIVATION_COLUMNS} FROM activations a WHERE {condition}"
    ))
    .and_then(|mut st| st.query_row(params, raw_activation).optional())
    .map_err(db("reading an activation"))?
    .map(RawActivation::check)
    .transpose()
}

impl SeatTx<'_> {
    /// [`super::Keys::find`] inside the seat transaction, so the key found is the key whose
    /// seats are then counted and written: exact, canonical, then loose among imported
    /// keys (`SPEC.md` §15.6).
    ///
    /// # Errors
    /// As [`super::Keys::find`].
    pub fn find_key(
        &self,
        product: &str,
        entered: &str,
    ) -> Result<Option<super::FoundKey>, LedgerError> {
        super::lookup::find_key_in(&self.tx, product, entered)
    }

    /// The key's status, batch and terms, or `None` when the ledger does not have it.
    ///
    /// # Errors
    /// [`LedgerError::UnknownProduct`], a database error, or [`LedgerError::Corrupt`].
    pub fn key(&self, product: &str, key: &str) -> Result<Option<SeatKey>, LedgerError> {
        require_product(&self.tx, product)?;
        seat_key_in(&self.tx, product, key)
    }

    /// The revocation recorded against a product key or a license id, if any.
    ///
    /// # Errors
    /// A database error.
    pub fn revocation(
        &self,
        key: Option<&str>,
        license_id: Option<&str>,
    ) -> Result<Option<Revocation>, LedgerError> {
        let mut st = self
            .tx
            .prepare_cached("SELECT 1 FROM revocations WHERE kind = ?1 AND value = ?2")
            .map_err(db("reading revocations"))?;
        for (kind, value) in [("key", key), ("license", license_id)] {
            let Some(value) = value else { continue };
            if st
                .exists([kind, value])
                .map_err(db("reading revocations"))?
            {
                return Ok(Some(match kind {
                    "key" => Revocation::Key(value.to_string()),
                    _ => Revocation::License(value.to_string()),
                }));
            }
        }
        Ok(None)
    }

    /// The live seat (or live trial, when `key` is `None`) this machine holds: bound to
    /// `device_key`, and whose own components (as first activated) are matched by at least
    /// its threshold of `components`, counting distinct hashes
    /// ([`airseal_core::claims::matched_components`]). A seat belongs to a machine, not to a
    /// device key alone (`SPEC.md` §17.2): the same device key asking with other components
    /// is another machine, and gets `None`.
    ///
    /// # Errors
    /// A database error, or [`LedgerError::Corrupt`].
    pub fn live_activation(
        &self,
        product: &str,
        key: Option<&str>,
        device_key: &[u8; 32],
        components: &[[u8; COMPONENT_HASH_LEN]],
    ) -> Result<Option<Activation>, LedgerError> {
        let mut st = self
            .tx
            .prepare_cached(&format!(
                "SELECT {ACTIVATION_COLUMNS} FROM activations a
                 WHERE a.product = ?1 AND a.key IS ?2 AND a.device_key = ?3
                   AND a.deactivated_at IS NULL ORDER BY a.id"
            ))
            .map_err(db("reading an activation"))?;
        let rows = st
            .query_map(params![product, key, device_key.as_slice()], raw_activation)
            .map_err(db("reading an activation"))?;
        for row in rows {
            let a = row.map_err(db("reading an activation"))?.check()?;
            if matched_components(&a.components, components) >= a.threshold {
                return Ok(Some(a));
            }
        }
        Ok(None)
    }

    /// A live seat of `key` bound to `device_key`, whatever its components: when
    /// [`SeatTx::live_activation`] finds none for a request, this is the seat the same
    /// device key holds on another machine (a copied key, or a machine changed beyond its
    /// threshold), for the refusal to name.
    ///
    /// # Errors
    /// A database error, or [`LedgerError::Corrupt`].
    pub fn device_seat(
        &self,
        product: &str,
        key: &str,
        device_key: &[u8; 32],
    ) -> Result<Option<Activation>, LedgerError> {
        activation_where(
            &self.tx,
            "a.product = ?1 AND a.key = ?2 AND a.device_key = ?3 AND a.deactivated_at IS NULL \
             ORDER BY a.id LIMIT 1",
            params![product, key, device_key.as_slice()],
        )
    }

    /// Seats of a key held now in this ledger (not counting seats used elsewhere before an
    /// import: add [`KeyTerms::prior_activations`]).
    ///
    /// # Errors
    /// A database error.
    pub fn live_seats(&self, product: &str, key: &str) -> Result<u64, LedgerError> {
        let n: i64 = self
            .tx
            .query_row(
                "SELECT count(*) FROM activations
                 WHERE product = ?1 AND key = ?2 AND deactivated_at IS NULL",
                [product, key],
                |r| r.get(0),
            )
            .map_err(db("counting seats"))?;
        to_u64(n, "seat count")
    }

    /// Deactivations of a key recorded in this ledger (add
    /// [`KeyTerms::prior_deactivations`] for the total).
    ///
    /// # Errors
    /// A database error.
    pub fn deactivations(&self, product: &str, key: &str) -> Result<u64, LedgerError> {
        let n: i64 = self
            .tx
            .query_row(
                "SELECT count(*) FROM activations
                 WHERE product = ?1 AND key = ?2 AND deactivated_at IS NOT NULL",
                [product, key],
                |r| r.get(0),
            )
            .map_err(db("counting deactivations"))?;
        to_u64(n, "deactivation count")
    }

    /// The earliest trial of `product` this machine already had: one from the same device
    /// key, or one whose component hashes overlap `components` by at least its own
    /// threshold (the earlier machine asking again) or by at least `threshold`, the one the
    /// new trial's license would carry (a new license that would run on the earlier
    /// machine: one component of that machine, asked for alone, is that machine).
    /// Deactivated trials count: giving a trial back does not earn a new one.
    ///
    /// # Errors
    /// A database error, or [`LedgerError::Corrupt`].
    pub fn earlier_trial(
        &self,
        product: &str,
        components: &[[u8; COMPONENT_HASH_LEN]],
        device_key: &[u8; 32],
        threshold: u8,
    ) -> Result<Option<Activation>, LedgerError> {
        let kid = KeyId::of_public_key(device_key);
        if let Some(a) = activation_where(
            &self.tx,
            "a.device_kid = ?1 AND a.product = ?2 AND a.key IS NULL AND a.device_key = ?3 \
             ORDER BY a.id LIMIT 1",
            params![kid.0.as_slice(), product, device_key.as_slice()],
        )? {
            return Ok(Some(a));
        }
        // Count, per earlier trial, how many of this machine's hashes it recorded, each
        // distinct hash once (requests refuse repeats since `SPEC.md` §15.1 said so; trials
        // recorded before keep theirs deduplicated by the table's key).
        let mut distinct: Vec<&[u8; COMPONENT_HASH_LEN]> = components.iter().collect();
        distinct.sort_unstable();
        distinct.dedup();
        let mut matches: BTreeMap<i64, u8> = BTreeMap::new();
        let mut st = self
            .tx
            .prepare_cached(
                "SELECT activation FROM trial_components WHERE product = ?1 AND hash = ?2",
            )
            .map_err(db("looking up trials"))?;
        for hash in distinct {
            let ids = st
                .query_map(params![product, hash.as_slice()], |r| r.get::<_, i64>(0))
                .map_err(db("looking up trials"))?;
            for id in ids {
                let id = id.map_err(db("looking up trials"))?;
                let n = matches.entry(id).or_insert(0);
                *n = n.saturating_add(1);
            }
        }
        for (id, matched) in matches {
            let Some(a) = activation_where(&self.tx, "a.id = ?1", params![id])? else {
                continue;
            };
            if matched >= a.threshold.min(threshold) {
                return Ok(Some(a));
            }
        }
        Ok(None)
    }

    /// Records a new seat (or trial) for `request`, answered with `response` whose claims
    /// are `claims`, the license (in `licenses`) and its audit row. `key` is the canonical
    /// product key (`None` for a trial). Returns the new activation's id.
    ///
    /// # Errors
    /// A database error; a second live seat for the same (product, key, device key) is
    /// refused by the unique index.
    pub fn insert_activation(
        &self,
        request: &ActivationRequest,
        key: Option<&str>,
        claims: &LicenseClaims,
        response: &[u8],
        now: i64,
    ) -> Result<ActivationId, LedgerError> {
        let threshold = claims.machine.as_ref().map_or(0, |m| m.threshold);
        let kid = KeyId::of_public_key(&request.device_key);
        self.tx
            .prepare_cached(
                "INSERT INTO activations (product, key, purpose, device_key, device_kid,
                     license_id, token_id, components, threshold, request_nonce, activated_at,
                     app_version, meters, email, response)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    request.product,
                    key,
                    purpose_word(request.purpose),
                    request.device_key.as_slice(),
                    kid.0.as_slice(),
                    claims.license_id,
                    claims.token_id,
                    join_components(&request.components),
                    threshold,
                    request.nonce.as_slice(),
                    now,
                    request.app_version,
                    meters_json(&request.meters),
                    claims.licensee.email,
                    response,
                ])
            })
            .map_err(db("recording an activation"))?;
        let id = self
            .tx
            .last_insert_rowid()
            .map_err(db("reading the new row's id"))?;
        self.record_components(id, request, None, now)?;
        self.record_response(id, request, claims, now)?;
        super::licenses::record_license_in(
            &self.tx,
            claims,
            super::licenses::LicenseSource::Activation,
            Some(id),
            None,
            super::licenses::signer_of(response),
        )?;
        audit_in(
            &self.tx,
            if key.is_some() {
                "activation.create"
            } else {
                "trial.create"
            },
            &seat_subject(&request.product, key),
            &json!({
                "activation": id,
                "license_id": claims.license_id,
                "token_id": hex(&claims.token_id),
                "device_key_id": kid.to_string(),
                "app_version": request.app_version,
            }),
        )?;
        Ok(id)
    }

    /// Records a response re-issued on an existing seat (same machine, new request): the
    /// seat now has the request's nonce, version and meters, and the new response, which is
    /// also recorded in `licenses`. The seat's own components stay those it was taken with;
    /// the request's are added to its history. Audited.
    ///
    /// # Errors
    /// A database error.
    pub fn record_reissue(
        &self,
        activation: &Activation,
        request: &ActivationRequest,
        claims: &LicenseClaims,
        response: &[u8],
        now: i64,
    ) -> Result<(), LedgerError> {
        self.tx
            .prepare_cached(
                "UPDATE activations SET token_id = ?2, request_nonce = ?3, reissued_at = ?4,
                     reissues = reissues + 1, app_version = ?5, meters = ?6, response = ?7
                 WHERE id = ?1",
            )
            .and_then(|mut st| {
                st.execute(params![
                    activation.id,
                    claims.token_id,
                    request.nonce.as_slice(),
                    now,
                    request.app_version,
                    meters_json(&request.meters),
                    response,
                ])
            })
            .map_err(db("recording a re-issued response"))?;
        let matched = matched_components(&activation.components, &request.components);
        self.record_components(activation.id, request, Some(matched), now)?;
        self.record_response(activation.id, request, claims, now)?;
        super::licenses::record_license_in(
            &self.tx,
            claims,
            super::licenses::LicenseSource::Activation,
            Some(activation.id),
            None,
            super::licenses::signer_of(response),
        )?;
        audit_in(
            &self.tx,
            "activation.reissue",
            &seat_subject(&activation.product, activation.key.as_deref()),
            &json!({
                "activation": activation.id,
                "license_id": activation.license_id,
                "token_id": hex(&claims.token_id),
                "app_version": request.app_version,
                // Kept per re-issue: one seat answered for several component sets is how a
                // cloned machine shows up (SPEC.md §15.7).
                "components": request.components.iter().map(|c| hex(c)).collect::<Vec<_>>(),
            }),
        )?;
        Ok(())
    }

    /// Adds a request's components to the seat's history (`seat_components`).
    fn record_components(
        &self,
        id: ActivationId,
        request: &ActivationRequest,
        matched: Option<u8>,
        now: i64,
    ) -> Result<(), LedgerError> {
        self.tx
            .prepare_cached(
                "INSERT INTO seat_components (activation, at, request_nonce, components, matched)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    id,
                    now,
                    request.nonce.as_slice(),
                    join_components(&request.components),
                    matched
                ])
            })
            .map_err(db("recording a seat's components"))?;
        Ok(())
    }

    /// Records that the key's term started at `start` (`SPEC.md` §17.1), in the transaction
    /// of its first activation `activation`. Written once: a key whose term already started
    /// keeps its start (nothing is changed, and `false` is returned). Audited with before and
    /// after.
    ///
    /// # Errors
    /// A database error.
    pub fn start_term(
        &self,
        product: &str,
        key: &str,
        start: i64,
        starts: crate::terms::TermStarts,
        activation: ActivationId,
    ) -> Result<bool, LedgerError> {
        let changed = self
            .tx
            .execute(
                "UPDATE keys SET term_start = ?3
                 WHERE product = ?1 AND key = ?2 AND term_start IS NULL",
                params![product, key, start],
            )
            .map_err(db("recording a term's start"))?;
        if changed == 0 {
            return Ok(false);
        }
        audit_in(
            &self.tx,
            "key.term_start",
            &seat_subject(product, Some(key)),
            &json!({
                "before": { "term_start": null },
                "after": { "term_start": start },
                "term_starts": starts.as_str(),
                "activation": activation,
            }),
        )?;
        Ok(true)
    }

    fn record_response(
        &self,
        id: ActivationId,
        request: &ActivationRequest,
        claims: &LicenseClaims,
        now: i64,
    ) -> Result<(), LedgerError> {
        self.tx
            .prepare_cached(
                "INSERT INTO responses (token_id, activation, request_nonce, issued_at)
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut st| {
                st.execute(params![claims.token_id, id, request.nonce.as_slice(), now])
            })
            .map_err(db("recording a response"))?;
        if request.purpose == Purpose::Trial {
            let mut st = self
                .tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO trial_components (product, hash, activation)
                     VALUES (?1, ?2, ?3)",
                )
                .map_err(db("recording a trial"))?;
            for c in &request.components {
                st.execute(params![request.product, c.as_slice(), id])
                    .map_err(db("recording a trial"))?;
            }
        }
        Ok(())
    }

    /// When a deactivation proof with this nonce was accepted, if one was.
    ///
    /// # Errors
    /// A database error.
    pub fn proof_accepted_at(&self, nonce: &[u8; NONCE_LEN]) -> Result<Option<i64>, LedgerError> {
        self.tx
            .query_row(
                "SELECT accepted_at FROM deactivation_proofs WHERE nonce = ?1",
                [nonce.as_slice()],
                |r| r.get(0),
            )
            .optional()
            .map_err(db("reading deactivation proofs"))
    }

    /// The activation (live or not) that issued license `license_id` of `product`.
    ///
    /// # Errors
    /// A database error, or [`LedgerError::Corrupt`].
    pub fn activation_by_license(
        &self,
        product: &str,
        license_id: &str,
    ) -> Result<Option<Activation>, LedgerError> {
        activation_where(
            &self.tx,
            "a.license_id = ?1 AND a.product = ?2",
            params![license_id, product],
        )
    }

    /// Whether `token_id` is the `cti` of a response issued for this activation.
    ///
    /// # Errors
    /// A database error.
    pub fn issued_token(&self, id: ActivationId, token_id: &[u8]) -> Result<bool, LedgerError> {
        self.tx
            .prepare_cached("SELECT 1 FROM responses WHERE token_id = ?1 AND activation = ?2")
            .and_then(|mut st| st.exists(params![token_id, id]))
            .map_err(db("reading responses"))
    }

    /// Frees the seat named by an accepted deactivation proof and records the proof's nonce
    /// (so the same proof is refused next time). Audited.
    ///
    /// # Errors
    /// A database error (including a replayed nonce, refused by the primary key).
    pub fn record_deactivation(
        &self,
        activation: &Activation,
        proof: &DeactivationProof,
        now: i64,
    ) -> Result<(), LedgerError> {
        self.tx
            .execute(
                "UPDATE activations SET deactivated_at = ?2, deactivated_by = 'proof'
                 WHERE id = ?1 AND deactivated_at IS NULL",
                params![activation.id, now],
            )
            .map_err(db("freeing a seat"))?;
        self.tx
            .execute(
                "INSERT INTO deactivation_proofs (nonce, activation, token_id, created, accepted_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    proof.nonce.as_slice(),
                    activation.id,
                    proof.token_id,
                    proof.created,
                    now
                ],
            )
            .map_err(db("recording a deactivation proof"))?;
        audit_in(
            &self.tx,
            "activation.deactivate",
            &seat_subject(&activation.product, activation.key.as_deref()),
            &json!({
                "activation": activation.id,
                "license_id": activation.license_id,
                "token_id": hex(&proof.token_id),
                "proof_nonce": hex(&proof.nonce),
            }),
        )?;
        Ok(())
    }

    /// Every activation of a key, live or given back, oldest first (offline renewal,
    /// `SPEC.md` §15.8, renews the live ones).
    ///
    /// # Errors
    /// A database error, or [`LedgerError::Corrupt`].
    pub fn key_activations(
        &self,
        product: &str,
        key: &str,
    ) -> Result<Vec<Activation>, LedgerError> {
        let mut st = self
            .tx
            .prepare_cached(&format!(
                "SELECT {ACTIVATION_COLUMNS} FROM activations a
                 WHERE a.product = ?1 AND a.key = ?2 ORDER BY a.id"
            ))
            .map_err(db("reading a key's activations"))?;
        let rows = st
            .query_map([product, key], raw_activation)
            .map_err(db("reading a key's activations"))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row.map_err(db("reading a key's activations"))?.check()?);
        }
        Ok(out)
    }

    /// Records a renewal of a live seat (`SPEC.md` §15.8): the seat's last response becomes
    /// `response` (so a later re-issue on this machine continues from it), the response is
    /// listed among the seat's (a deactivation proof may name it), the license is recorded,
    /// and the audit log gets `license.renew` with the seat's license before and after.
    ///
    /// # Errors
    /// A database error.
    pub fn record_renewal(
        &self,
        activation: &Activation,
        before: &LicenseClaims,
        claims: &LicenseClaims,
        response: &[u8],
        now: i64,
    ) -> Result<(), LedgerError> {
        self.tx
            .execute(
                "UPDATE activations SET token_id = ?2, response = ?3
                 WHERE id = ?1 AND deactivated_at IS NULL",
                params![activation.id, claims.token_id, response],
            )
            .map_err(db("recording a renewal"))?;
        self.tx
            .execute(
                "INSERT INTO responses (token_id, activation, request_nonce, issued_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    claims.token_id,
                    activation.id,
                    activation.request_nonce.as_slice(),
                    now
                ],
            )
            .map_err(db("recording a renewal"))?;
        super::licenses::record_license_in(
            &self.tx,
            claims,
            super::licenses::LicenseSource::Activation,
            Some(activation.id),
            None,
            super::licenses::signer_of(response),
        )?;
        let summary = |c: &LicenseClaims| {
            json!({
                "token_id": hex(&c.token_id),
                "issued_at": c.issued_at,
                "expires_at": c.expires_at,
            })
        };
        audit_in(
            &self.tx,
            "license.renew",
            &seat_subject(&activation.product, activation.key.as_deref()),
            &json!({
                "activation": activation.id,
                "license_id": activation.license_id,
                "before": summary(before),
                "after": summary(claims),
            }),
        )?;
        Ok(())
    }

    /// Commits everything done in this transaction, with its audit rows, and releases the
    /// write lock.
    ///
    /// # Errors
    /// A database error; nothing is then recorded.
    pub fn commit(self) -> Result<(), LedgerError> {
        self.tx.commit().map_err(db("committing seats"))
    }
}

/// Lowercase hex, for audit details.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A key as activation reads it, on `conn` (a transaction or the ledger's connection):
/// [`SeatTx::key`], and [`super::Keys::change`] for the vendor's changes to a key.
pub(super) fn seat_key_in(
    conn: &Connection,
    product: &str,
    key: &str,
) -> Result<Option<SeatKey>, LedgerError> {
    let row = conn
        .query_row(
            "SELECT k.status, k.batch, b.kind, b.params, b.created, k.term_start FROM keys k
             JOIN batches b ON b.id = k.batch WHERE k.product = ?1 AND k.key = ?2",
            [product, key],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                ))
            },
        )
        .optional()
        .map_err(db("reading a key"))?;
    let Some((status, batch, kind, params, created, term_start)) = row else {
        return Ok(None);
    };
    Ok(Some(SeatKey {
        status: KeyStatus::from_ledger(&status)?,
        batch,
        kind: BatchKind::from_ledger(&kind)?,
        batch_params: parse_json(&params, "batch parameters")?,
        terms: terms::key_terms_in(conn, product, key)?,
        created,
        term_start,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_round_trip_and_bad_lengths_are_refused() {
        let c = vec![[1u8; 8], [2u8; 8]];
        assert_eq!(split_components(&join_components(&c)), Some(c));
        assert_eq!(split_components(&[0u8; 7]), None);
        assert_eq!(split_components(&[]), None);
    }

    /// Migration 9 on a ledger that already has seats: each key's term starts at its first
    /// activation, each seat's history begins with the components it holds, and the same
    /// device key may then hold a second live seat of a key (another machine).
    #[test]
    fn migration_9_backfills_term_starts_and_histories() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v8.sqlite3");
        {
            let c = super::super::migrations::tests::older_ledger(
                rusqlite::Connection::open(&path).unwrap(),
                8,
            );
            c.execute_batch(
                "INSERT INTO products (id, created) VALUES ('p', 0);
                 INSERT INTO batches (id, product, kind, requested, created, status, params)
                     VALUES (1, 'p', 'random', 2, 5, 'complete', '{}');
                 INSERT INTO keys (product, key, batch, seq) VALUES ('p', 'K1', 1, 0), ('p', 'K2', 1, 1);",
            )
            .unwrap();
            let seat = "INSERT INTO activations (product, key, purpose, device_key, device_kid,
                license_id, token_id, components, threshold, request_nonce, activated_at,
                reissued_at, deactivated_at, deactivated_by, response)
                VALUES ('p', 'K1', 'activation', zeroblob(32), zeroblob(8), ?1, x'01',
                        ?2, 1, zeroblob(16), ?3, ?4, ?5, ?6, x'00')";
            c.execute(seat, params!["A", vec![1u8; 8], 100, 150, 200, "proof"])
                .unwrap();
            c.execute(
                seat,
                params![
                    "B",
                    vec![2u8; 8],
                    300,
                    None::<i64>,
                    None::<i64>,
                    None::<String>
                ],
            )
            .unwrap();
        }
        let ledger = Ledger::open(&path).unwrap();
        let keys = ledger.keys();
        assert_eq!(keys.term_start("p", "K1").unwrap(), Some(100));
        assert_eq!(keys.term_start("p", "K2").unwrap(), None);
        let seats = ledger.seats();
        let a = seats.component_history(1).unwrap();
        assert_eq!(
            (a.len(), a[0].at, a[0].components.clone()),
            (1, 150, vec![[1u8; 8]])
        );
        assert_eq!(a[0].matched, None);
        assert_eq!(seats.component_history(2).unwrap()[0].at, 300);
        // The unique index on live seats per device key is gone: another machine with the
        // same device key may hold a seat too.
        ledger
            .connection()
            .execute(
                "INSERT INTO activations (product, key, purpose, device_key, device_kid,
                 license_id, token_id, components, threshold, request_nonce, activated_at,
                 response)
                 VALUES ('p', 'K1', 'activation', zeroblob(32), zeroblob(8), 'C', x'02',
                         x'0303030303030303', 1, zeroblob(16), 400, x'00')",
                [],
            )
            .unwrap();
    }

    #[test]
    fn migration_enforces_one_live_seat_per_device() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("l.sqlite3")).unwrap();
        ledger.products().ensure("p", None).unwrap();
        let c = ledger.connection();
        let insert = "INSERT INTO activations (product, key, purpose, device_key, device_kid,
            license_id, token_id, components, threshold, request_nonce, activated_at, response)
            VALUES ('p', NULL, 'trial', zeroblob(32), zeroblob(8), ?1, x'01', zeroblob(8), 1,
                    zeroblob(16), 0, x'00')";
        c.execute(insert, ["A"]).unwrap();
        // A second live trial for the same device key is refused by the partial index…
        assert!(c.execute(insert, ["B"]).is_err());
        // …but not once the first is deactivated.
        c.execute(
            "UPDATE activations SET deactivated_at = 1, deactivated_by = 'proof'",
            [],
        )
        .unwrap();
        c.execute(insert, ["B"]).unwrap();
        // A trial must not name a key, a threshold must fit the components.
        assert!(
            c.execute(
                "INSERT INTO activations (product, key, purpose, device_key, device_kid,
                 license_id, token_id, components, threshold, request_nonce, activated_at, response)
                 VALUES ('p', NULL, 'trial', zeroblob(32), zeroblob(8), 'C', x'01', zeroblob(8),
                         2, zeroblob(16), 0, x'00')",
                [],
            )
            .is_err()
        );
    }
}
