//! Offline revocation (`SPEC.md` §13, §17.4): the vendor records revocations in the ledger
//! ([`crate::ledger::Revocations::revoke`], checked against what the ledger knows, and
//! [`crate::ledger::Revocations::undo`], the explicit way back) and exports them as a signed,
//! numbered list that apps load from a file.

use airseal_core::ObjectType;
use airseal_core::revocation::RevocationList;

use crate::issue::Issuer;
use crate::ledger::{Ledger, LedgerError};
use crate::vendor_dir::VendorDir;

pub use crate::ledger::{
    ListContents, RevokeError, RevokeOutcome, RevokeReport, RevokeTarget, RevokedKeyChange,
    UndoTarget,
};

/// Builds the next revocation list from everything the ledger records
/// ([`crate::ledger::Revocations::contents`]), signs it and records its sequence number.
/// Returns the list and the signed bytes.
///
/// # Errors
/// [`LedgerError`] when the ledger cannot be read or written.
pub fn export(
    ledger: &mut Ledger,
    issuer: &Issuer,
    now: i64,
) -> Result<(RevocationList, Vec<u8>), LedgerError> {
    let (list, bytes) = sign_next(ledger, issuer, now, 0)?;
    record(ledger, &list)?;
    Ok((list, bytes))
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
) -> Result<(RevocationList, Vec<u8>), LedgerError> {
    let floor = vendor.exported_revocation_seq()?;
    let (list, bytes) = sign_next(ledger, issuer, now, floor)?;
    vendor.record_revocation_seq(list.seq)?;
    record(ledger, &list)?;
    Ok((list, bytes))
}

/// The next list, numbered above the ledger's last and above `floor`, signed.
fn sign_next(
    ledger: &mut Ledger,
    issuer: &Issuer,
    now: i64,
    floor: u64,
) -> Result<(RevocationList, Vec<u8>), LedgerError> {
    let contents = ledger.revocations().contents()?;
    let mut list = RevocationList {
        seq: contents.seq.max(floor.saturating_add(1)),
        issued_at: now,
        licenses: contents.licenses.into_iter().collect(),
        product_keys: contents.product_keys.into_iter().collect(),
        min_issued_at: contents.min_issued_at,
        issuing_keys: Vec::new(),
    };
    list.normalize();
    let bytes = issuer.sign(ObjectType::RevocationList, &list.encode());
    Ok((list, bytes))
}

/// Records `list` as exported in the ledger (audited).
fn record(ledger: &Ledger, list: &RevocationList) -> Result<(), LedgerError> {
    let entries = list.licenses.len() + list.product_keys.len() + list.min_issued_at.len();
    ledger
        .revocations()
        .record_list(list.seq, u64::try_from(entries).unwrap_or(u64::MAX))
}
