//! Issuing-key certificates the root signed (`SPEC.md` §18, migration 12): their serials,
//! scopes and revocation-list ranges, and which are revoked.
//!
//! Serials come from here (1, 2, …, never reused). So do ranges: a certificate that may sign
//! revocation lists gets `[lo, lo + 2^40)` with `lo` above every list number already used
//! and above every range already handed out ([`Certificates::plan`]), so a list the root
//! signs after revoking a key can always be numbered above anything that key could sign.

use super::db::{Connection, OptionalExtension as _, Row, params};
use airseal_core::KeyId;
use serde_json::json;

use super::audit::audit_in;
use super::connection::write_tx;
use super::error::db;
use super::{Ledger, LedgerError, now};

/// The width of a certificate's revocation-list range: 2^40 numbers, more than a list a
/// second for 30,000 years, and room for 2^23 certificates below 2^63.
pub const LIST_SEQ_RANGE: u64 = 1 << 40;

/// One certificate as the ledger records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateRecord {
    /// Its serial (from 1).
    pub serial: u64,
    /// The issuing key's id.
    pub kid: KeyId,
    /// The id of the root key that signed it.
    pub root_kid: KeyId,
    /// Valid for licenses issued at or after this instant.
    pub not_before: i64,
    /// … and before this one.
    pub not_after: i64,
    /// The products it may sign for; empty: every product.
    pub products: Vec<String>,
    /// What it may sign (the certificate's bitmask, `SPEC.md` §18).
    pub may_sign: u8,
    /// The revocation list numbers it may use, `lo ≤ seq < hi`, when it may sign lists.
    pub list_seq: Option<(u64, u64)>,
    /// The signed certificate (raw COSE).
    pub certificate: Vec<u8>,
    /// When it was recorded.
    pub created: i64,
    /// When it was revoked, if it is.
    pub revoked_at: Option<i64>,
    /// Why, as the vendor said.
    pub reason: Option<String>,
    /// The first exported revocation list that named it revoked.
    pub listed_seq: Option<u64>,
}

/// What a certificate is, at an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertificateStatus {
    /// Usable now.
    Active,
    /// Its window has not begun.
    NotYetValid,
    /// Its window is over.
    Expired,
    /// Revoked by the vendor.
    Revoked,
}

impl CertificateStatus {
    /// The word shown in listings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::NotYetValid => "not-yet-valid",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }
}

impl CertificateRecord {
    /// Its status at `now`.
    pub fn status(&self, now: i64) -> CertificateStatus {
        if self.revoked_at.is_some() {
            CertificateStatus::Revoked
        } else if now < self.not_before {
            CertificateStatus::NotYetValid
        } else if now >= self.not_after {
            CertificateStatus::Expired
        } else {
            CertificateStatus::Active
        }
    }
}

/// What the next certificate gets from the ledger ([`Certificates::plan`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CertificatePlan {
    /// The next serial.
    pub serial: u64,
    /// The range of list numbers, when it may sign lists.
    pub list_seq: Option<(u64, u64)>,
}

/// The certificates of a ledger: `ledger.certificates()`.
#[derive(Clone, Copy, Debug)]
pub struct Certificates<'a> {
    conn: &'a Connection,
}

impl Ledger {
    /// Issuing-key certificates.
    pub fn certificates(&self) -> Certificates<'_> {
        Certificates {
            conn: self.connection(),
        }
    }
}

const COLUMNS: &str = "serial, kid, root_kid, not_before, not_after, products, may_sign, \
    seq_lo, seq_hi, certificate, created, revoked_at, reason, listed_seq";

fn kid_of(text: &str) -> Result<KeyId, LedgerError> {
    KeyId::from_hex(text).ok_or_else(|| LedgerError::Corrupt {
        what: format!("key id {text:?}"),
    })
}

fn u64_of(v: i64, what: &str) -> Result<u64, LedgerError> {
    super::to_u64(v, what)
}

type RawRow = (
    i64,
    String,
    String,
    i64,
    i64,
    Option<String>,
    i64,
    Option<i64>,
    Option<i64>,
    Vec<u8>,
    i64,
    Option<i64>,
    Option<String>,
    Option<i64>,
);

fn raw(r: &Row<'_>) -> rusqlite::Result<RawRow> {
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
        r.get(13)?,
    ))
}

fn typed(row: RawRow) -> Result<CertificateRecord, LedgerError> {
    let (serial, kid, root, nb, na, products, may_sign, lo, hi, cert, created, rev, reason, ls) =
        row;
    let products = match products {
        None => Vec::new(),
        Some(text) => serde_json::from_str(&text).map_err(|e| LedgerError::Corrupt {
            what: format!("certificate {serial}'s products: {e}"),
        })?,
    };
    let list_seq = match (lo, hi) {
        (Some(lo), Some(hi)) => Some((u64_of(lo, "list number")?, u64_of(hi, "list number")?)),
        _ => None,
    };
    Ok(CertificateRecord {
        serial: u64_of(serial, "serial")?,
        kid: kid_of(&kid)?,
        root_kid: kid_of(&root)?,
        not_before: nb,
        not_after: na,
        products,
        may_sign: u8::try_from(may_sign).map_err(|_| LedgerError::Corrupt {
            what: format!("certificate {serial}'s may_sign {may_sign}"),
        })?,
        list_seq,
        certificate: cert,
        created,
        revoked_at: rev,
        reason,
        listed_seq: ls.map(|s| u64_of(s, "list number")).transpose()?,
    })
}

fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The plan inside a transaction (or on the plain connection): see [`Certificates::plan`].
fn plan_in(
    conn: &Connection,
    lists: bool,
    floor: u64,
    serial_floor: u64,
) -> Result<CertificatePlan, LedgerError> {
    let (serial, highest_hi): (Option<i64>, Option<i64>) = conn
        .query_row(
            "SELECT MAX(serial), MAX(seq_hi) FROM certificates",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(db("reading certificates"))?;
    let serial = u64_of(serial.unwrap_or(0), "serial")?
        .max(serial_floor)
        .saturating_add(1);
    let list_seq = if lists {
        let last: Option<i64> = conn
            .query_row("SELECT MAX(seq) FROM revocation_lists", [], |r| r.get(0))
            .map_err(db("reading revocation lists"))?;
        let next = u64_of(last.unwrap_or(0), "list number")?
            .max(floor)
            .saturating_add(1);
        let lo = next.max(u64_of(highest_hi.unwrap_or(0), "list number")?);
        let hi = lo
            .checked_add(LIST_SEQ_RANGE)
            .filter(|hi| *hi <= i64::MAX as u64);
        let Some(hi) = hi else {
            return Err(LedgerError::Corrupt {
                what: format!("no revocation list numbers left above {lo}"),
            });
        };
        Some((lo, hi))
    } else {
        None
    };
    Ok(CertificatePlan { serial, list_seq })
}

impl Certificates<'_> {
    /// The serial and (when `lists`) the list-number range the next certificate gets:
    /// `lo` = the larger of the next list number (above the ledger's last and above
    /// `floor`, the vendor folder's record) and the highest `hi` ever handed out;
    /// `hi = lo + 2^40` ([`LIST_SEQ_RANGE`]). The serial is above the ledger's highest and
    /// above `serial_floor` (the vendor folder's record, so a restored ledger never hands
    /// out a serial twice).
    ///
    /// # Errors
    /// A database error, or [`LedgerError::Corrupt`] when no numbers are left.
    pub fn plan(
        &self,
        lists: bool,
        floor: u64,
        serial_floor: u64,
    ) -> Result<CertificatePlan, LedgerError> {
        plan_in(self.conn, lists, floor, serial_floor)
    }

    /// Puts back a certificate the ledger lost (a restored backup) or never had, as it was
    /// signed (audited `issuing_key.import`). The caller has checked the root signed it.
    ///
    /// # Errors
    /// A database error (another certificate with its key id included; a serial another
    /// certificate has is kept: serials are for people, the key id is the identity).
    pub fn import(&self, rec: &CertificateRecord) -> Result<(), LedgerError> {
        let tx = write_tx(self.conn)?;
        insert_in(&tx, rec)?;
        audit_in(
            &tx,
            "issuing_key.import",
            &rec.kid.to_string(),
            &json!({
                "serial": rec.serial,
                "root": rec.root_kid.to_string(),
                "before": null,
                "after": "active",
            }),
        )?;
        tx.commit().map_err(db("committing a certificate"))
    }

    /// Records a certificate signed for `plan` (audited `issuing_key.create`). Refused with
    /// [`LedgerError::Corrupt`] if another certificate took the plan's serial or range
    /// meanwhile (then nothing is written; plan and sign again).
    ///
    /// # Errors
    /// A database error, or the conflict above.
    pub fn record(
        &self,
        rec: &CertificateRecord,
        floor: u64,
        serial_floor: u64,
    ) -> Result<(), LedgerError> {
        let tx = write_tx(self.conn)?;
        let now_plan = plan_in(&tx, rec.list_seq.is_some(), floor, serial_floor)?;
        let range_ok = match (rec.list_seq, now_plan.list_seq) {
            (Some((lo, _)), Some((min_lo, _))) => lo >= min_lo,
            (None, None) => true,
            _ => false,
        };
        if now_plan.serial != rec.serial || !range_ok {
            return Err(LedgerError::Corrupt {
                what: format!(
                    "certificate {} was planned while another was recorded; create it again",
                    rec.serial
                ),
            });
        }
        insert_in(&tx, rec)?;
        audit_in(
            &tx,
            "issuing_key.create",
            &rec.kid.to_string(),
            &json!({
                "serial": rec.serial,
                "root": rec.root_kid.to_string(),
                "not_before": rec.not_before,
                "not_after": rec.not_after,
                "products": rec.products,
                "may_sign": rec.may_sign,
                "list_seq": rec.list_seq.map(|(lo, hi)| [lo, hi]),
                "before": null,
                "after": "active",
            }),
        )?;
        tx.commit().map_err(db("committing a certificate"))
    }

    /// Every certificate, by serial (then key id: two folders copied from one may have
    /// handed out the same serial).
    ///
    /// # Errors
    /// A database error, or [`LedgerError::Corrupt`].
    pub fn list(&self) -> Result<Vec<CertificateRecord>, LedgerError> {
        let rows: Vec<RawRow> = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM certificates ORDER BY serial, kid"
            ))
            .and_then(|mut st| st.query_map([], raw)?.collect())
            .map_err(db("reading certificates"))?;
        rows.into_iter().map(typed).collect()
    }

    /// The certificate of issuing key `kid`, if the ledger recorded one.
    ///
    /// # Errors
    /// A database error, or [`LedgerError::Corrupt`].
    pub fn get(&self, kid: &KeyId) -> Result<Option<CertificateRecord>, LedgerError> {
        get_in(self.conn, kid)
    }
}

/// Inserts `rec` (not revoked).
fn insert_in(conn: &Connection, rec: &CertificateRecord) -> Result<(), LedgerError> {
    let products = if rec.products.is_empty() {
        None
    } else {
        Some(json!(rec.products).to_string())
    };
    conn.execute(
        &format!("INSERT INTO certificates ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, NULL, NULL, NULL)"),
        params![
            i64_of(rec.serial),
            rec.kid.to_string(),
            rec.root_kid.to_string(),
            rec.not_before,
            rec.not_after,
            products,
            i64::from(rec.may_sign),
            rec.list_seq.map(|(lo, _)| i64_of(lo)),
            rec.list_seq.map(|(_, hi)| i64_of(hi)),
            rec.certificate,
            rec.created,
        ],
    )
    .map_err(db("recording a certificate"))?;
    Ok(())
}

pub(super) fn get_in(
    conn: &Connection,
    kid: &KeyId,
) -> Result<Option<CertificateRecord>, LedgerError> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM certificates WHERE kid = ?1"),
        [kid.to_string()],
        raw,
    )
    .optional()
    .map_err(db("reading a certificate"))?
    .map(typed)
    .transpose()
}

/// Marks issuing key `kid` revoked (`Some(reason)`-carrying) or not revoked, inside the
/// caller's transaction, audited as `revoke` / `revoke.undo` with before and after.
pub(super) fn set_revoked_in(
    conn: &Connection,
    kid: &KeyId,
    revoke: bool,
    reason: Option<&str>,
) -> Result<(), LedgerError> {
    if revoke {
        conn.execute(
            "UPDATE certificates SET revoked_at = ?2, reason = ?3 WHERE kid = ?1",
            params![kid.to_string(), now(), reason],
        )
    } else {
        conn.execute(
            "UPDATE certificates SET revoked_at = NULL, reason = NULL, listed_seq = NULL
             WHERE kid = ?1",
            params![kid.to_string()],
        )
    }
    .map_err(db("changing a certificate"))?;
    let (before, after) = if revoke {
        ("active", "revoked")
    } else {
        ("revoked", "active")
    };
    audit_in(
        conn,
        if revoke { "revoke" } else { "revoke.undo" },
        &format!("issuing_key:{kid}"),
        &json!({ "reason": reason, "before": before, "after": after }),
    )?;
    Ok(())
}

/// A revoked issuing key: its id, the end of its list range (if it has one), the first
/// exported list that named it (if one did).
pub(super) type RevokedIssuer = (KeyId, Option<u64>, Option<u64>);

/// The revoked issuing keys.
pub(super) fn revoked_in(conn: &Connection) -> Result<Vec<RevokedIssuer>, LedgerError> {
    let rows: Vec<(String, Option<i64>, Option<i64>)> = conn
        .prepare(
            "SELECT kid, seq_hi, listed_seq FROM certificates WHERE revoked_at IS NOT NULL
             ORDER BY kid",
        )
        .and_then(|mut st| {
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
        })
        .map_err(db("reading revoked issuing keys"))?;
    rows.into_iter()
        .map(|(kid, hi, listed)| {
            Ok((
                kid_of(&kid)?,
                hi.map(|h| u64_of(h, "list number")).transpose()?,
                listed.map(|s| u64_of(s, "list number")).transpose()?,
            ))
        })
        .collect()
}

/// The highest end of any certificate's list range (0 when none has one).
pub(super) fn highest_hi_in(conn: &Connection) -> Result<u64, LedgerError> {
    let hi: Option<i64> = conn
        .query_row("SELECT MAX(seq_hi) FROM certificates", [], |r| r.get(0))
        .map_err(db("reading certificates"))?;
    u64_of(hi.unwrap_or(0), "list number")
}

/// Notes that list `seq` names every revoked issuing key not yet named by a list.
pub(super) fn mark_listed_in(conn: &Connection, seq: u64) -> Result<(), LedgerError> {
    conn.execute(
        "UPDATE certificates SET listed_seq = ?1
         WHERE revoked_at IS NOT NULL AND listed_seq IS NULL",
        [i64_of(seq)],
    )
    .map_err(db("recording a listed certificate"))?;
    Ok(())
}
