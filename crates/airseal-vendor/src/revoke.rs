//! Offline revocation (`SPEC.md` §13, §17.4): the vendor records revocations in the ledger
//! ([`crate::ledger::Revocations::revoke`], checked against what the ledger knows, and
//! [`crate::ledger::Revocations::undo`], the explicit way back) and exports them as a signed,
//! numbered list that apps load from a file.

use airseal_core::ObjectType;
use airseal_core::revocation::RevocationList;

use crate::issue::Issuer;
use crate::ledger::{Ledger, LedgerError};

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
    let contents = ledger.revocations().contents()?;
    let mut list = RevocationList {
        seq: contents.seq,
        issued_at: now,
        licenses: contents.licenses.into_iter().collect(),
        product_keys: contents.product_keys.into_iter().collect(),
        min_issued_at: contents.min_issued_at,
    };
    list.normalize();
    let bytes = issuer.sign(ObjectType::RevocationList, &list.encode());
    let entries = list.licenses.len() + list.product_keys.len() + list.min_issued_at.len();
    ledger
        .revocations()
        .record_list(list.seq, u64::try_from(entries).unwrap_or(u64::MAX))?;
    Ok((list, bytes))
}
