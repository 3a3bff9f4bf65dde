//! Offline revocation (`SPEC.md` §13, §17.4): the vendor records revocations in the ledger
//! ([`crate::ledger::Revocations::revoke`], checked against what the ledger knows, and
//! [`crate::ledger::Revocations::undo`], the explicit way back) and exports them as a signed,
//! numbered list that apps load from a file.
//!
//! Issuing keys (`SPEC.md` §18): a list may be signed by an issuing key whose certificate
//! allows lists, numbered inside its certificate's range; the list that first names a revoked
//! issuing key must be signed by the root, and every list naming one is numbered at or above
//! the end of that key's range, so it is newer than any list the key could have signed.

use std::fmt;

use airseal_core::revocation::RevocationList;
use airseal_core::{KeyId, ObjectType};

use crate::issue::{Issuer, ScopeError};
use crate::ledger::{Ledger, LedgerError};
use crate::vendor_dir::VendorDir;

pub use crate::ledger::{
    ExportedList, ListContents, RevokeError, RevokeOutcome, RevokeReport, RevokeTarget,
    RevokedKeyChange, UndoTarget,
};

/// Why a revocation list was not exported. Nothing is recorded.
#[non_exhaustive]
#[derive(Debug)]
pub enum ExportError {
    /// The ledger failed.
    Ledger(LedgerError),
    /// The list is the first to name these revoked issuing keys: only the root may sign
    /// it (an issuing key's list could be numbered below what the revoked key could sign).
    RootRequired {
        /// The issuing key asked to sign.
        signer: KeyId,
        /// The revoked issuing keys no list has named yet.
        newly_revoked: Vec<KeyId>,
    },
    /// The issuing key asked to sign is itself revoked.
    SignerRevoked {
        /// Its id.
        kid: KeyId,
    },
    /// No number inside the issuing key's certificate range is left for the list.
    SeqOutOfRange {
        /// The number the list needs.
        seq: u64,
        /// The range's start.
        lo: u64,
        /// The range's end (exclusive).
        hi: u64,
    },
    /// The issuing key's certificate does not allow revocation lists (now).
    Scope(ScopeError),
}

impl From<LedgerError> for ExportError {
    fn from(e: LedgerError) -> Self {
        Self::Ledger(e)
    }
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ledger(e) => e.fmt(f),
            Self::RootRequired {
                signer,
                newly_revoked,
            } => {
                let kids: Vec<String> = newly_revoked.iter().map(KeyId::to_string).collect();
                write!(
                    f,
                    "this list is the first to revoke issuing key(s) {}: it must be signed by \
                     the root key, not by issuing key {signer} (a list an issuing key signs \
                     could be numbered below one the revoked key can sign)",
                    kids.join(", ")
                )
            }
            Self::SignerRevoked { kid } => {
                write!(f, "issuing key {kid} is revoked: it cannot sign a list")
            }
            Self::SeqOutOfRange { seq, lo, hi } if seq >= hi => write!(
                f,
                "the list needs number {seq}, past the end of the issuing key's range \
                 {lo}..{hi}: a list that revoked an issuing key was numbered above every \
                 range handed out before it, so this key can no longer sign a list apps \
                 accept; certify a new list-signing issuing key"
            ),
            Self::SeqOutOfRange { seq, lo, hi } => write!(
                f,
                "the list needs number {seq}, outside the issuing key's range {lo}..{hi}"
            ),
            Self::Scope(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ExportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Ledger(e) => Some(e),
            Self::Scope(e) => Some(e),
            _ => None,
        }
    }
}

/// Builds the next revocation list from everything the ledger records
/// ([`crate::ledger::Revocations::contents`]), signs it and records its sequence number and
/// signer. Returns the list and the signed bytes.
///
/// # Errors
/// [`ExportError`]: the ledger failed, or an issuing key may not sign this list.
pub fn export(
    ledger: &mut Ledger,
    issuer: &Issuer,
    now: i64,
) -> Result<(RevocationList, Vec<u8>), ExportError> {
    ledger
        .revocations()
        .export_next(|contents| sign_next(contents, issuer, now, 0))
}

/// [`export`] for a vendor folder's ledger: the list is numbered above every list ever
/// exported from `vendor` — the ledger's own record, and the folder's `revocations.seq`,
/// which survives a restored older backup or a lost ledger — and that number is written to
/// `revocations.seq` (durably) before the list is returned. Apps refuse a list numbered
/// at or below one they have seen (`SPEC.md` §13), so a number is never used twice.
///
/// # Errors
/// As [`export`], and [`VendorDir::record_revocation_seq`]'s.
pub fn export_from(
    vendor: &VendorDir,
    ledger: &mut Ledger,
    issuer: &Issuer,
    now: i64,
) -> Result<(RevocationList, Vec<u8>), ExportError> {
    let floor = vendor.exported_revocation_seq()?;
    let (list, bytes) = ledger.revocations().export_next(|contents| {
        let (recorded, (list, bytes)) = sign_next(contents, issuer, now, floor)?;
        vendor.record_revocation_seq(list.seq)?;
        Ok::<_, ExportError>((recorded, (list, bytes)))
    })?;
    // Published last: a list is never served before its number is recorded.
    let text = airseal_core::armor::armor(ObjectType::RevocationList.armor_label(), &bytes);
    airseal_verify::app::fs::write(
        &vendor.latest_revocation_list_path(),
        text.as_bytes(),
        airseal_verify::app::fs::Access::Default,
        airseal_verify::app::fs::Mode::Replace,
    )
    .map_err(LedgerError::from)?;
    Ok((list, bytes))
}

/// The latest revocation list exported from `vendor` ([`export_from`]), as signed (raw
/// COSE bytes), or `None` when none was exported since the folder kept a copy.
///
/// # Errors
/// [`LedgerError::Io`] when the copy exists but cannot be read; [`LedgerError::Corrupt`]
/// when it is not an armored revocation list.
pub fn latest_list(vendor: &VendorDir) -> Result<Option<Vec<u8>>, LedgerError> {
    let path = vendor.latest_revocation_list_path();
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(LedgerError::Io { path, source }),
    };
    airseal_core::armor::dearmor(&text)
        .map(|raw| Some(raw.into_owned()))
        .map_err(|e| LedgerError::Corrupt {
            what: format!("{}: {e}", path.display()),
        })
}

/// The number of the next list: above the ledger's last and above `floor`, at or above the
/// end of every revoked issuing key's range, and for an issuing key inside its own range.
/// Refuses an issuing key that may not sign this list.
fn next_seq(
    contents: &ListContents,
    issuer: &Issuer,
    now: i64,
    floor: u64,
) -> Result<u64, ExportError> {
    let seq = contents
        .seq
        .max(floor.saturating_add(1))
        .max(contents.issuing_floor);
    let Some(chain) = issuer.chain() else {
        return Ok(seq);
    };
    issuer
        .check_scope(ObjectType::RevocationList, None, now)
        .map_err(ExportError::Scope)?;
    if contents.issuing_keys.contains(&issuer.key_id()) {
        return Err(ExportError::SignerRevoked {
            kid: issuer.key_id(),
        });
    }
    if !contents.newly_revoked_issuing.is_empty() {
        return Err(ExportError::RootRequired {
            signer: issuer.key_id(),
            newly_revoked: contents.newly_revoked_issuing.clone(),
        });
    }
    // A certificate that allows lists always has a range (`SPEC.md` §18); (0, 0) refuses.
    let (lo, hi) = chain.certificate.list_seq.unwrap_or((0, 0));
    let seq = seq.max(lo);
    if seq >= hi {
        return Err(ExportError::SeqOutOfRange { seq, lo, hi });
    }
    Ok(seq)
}

/// The next list after `contents` (read under the ledger's write lock), numbered by
/// [`next_seq`], signed; with what the ledger records of it.
fn sign_next(
    contents: &ListContents,
    issuer: &Issuer,
    now: i64,
    floor: u64,
) -> Result<(ExportedList, (RevocationList, Vec<u8>)), ExportError> {
    let seq = next_seq(contents, issuer, now, floor)?;
    let mut list = RevocationList {
        seq,
        issued_at: now,
        licenses: contents.licenses.iter().cloned().collect(),
        product_keys: contents.product_keys.iter().cloned().collect(),
        min_issued_at: contents.min_issued_at.clone(),
        issuing_keys: contents.issuing_keys.iter().cloned().collect(),
    };
    list.normalize();
    let bytes = issuer.sign(ObjectType::RevocationList, &list.encode());
    let entries = list.licenses.len()
        + list.product_keys.len()
        + list.min_issued_at.len()
        + list.issuing_keys.len();
    let recorded = ExportedList {
        seq,
        entries: u64::try_from(entries).unwrap_or(u64::MAX),
        signed_by: Some(issuer.key_id()),
    };
    Ok((recorded, (list, bytes)))
}
