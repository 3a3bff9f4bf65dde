//! Offline revocation (`SPEC.md` §13): the vendor records revocations in the ledger and
//! exports them as a signed, numbered list that apps load from a file.

use airseal_core::ObjectType;
use airseal_core::revocation::RevocationList;

use crate::issue::Issuer;
use crate::ledger::{Ledger, LedgerError, Revocation};

/// Builds the next revocation list from everything the ledger records, signs it and records
/// its sequence number. Returns the list and the signed bytes.
///
/// # Errors
/// [`LedgerError`] when the ledger cannot be read or written.
pub fn export(
    ledger: &mut Ledger,
    issuer: &Issuer,
    now: i64,
) -> Result<(RevocationList, Vec<u8>), LedgerError> {
    let (entries, seq) = ledger.revocations().list()?;
    let mut list = RevocationList {
        seq,
        issued_at: now,
        ..RevocationList::default()
    };
    for entry in &entries {
        match entry {
            Revocation::License(id) => list.licenses.push(id.clone()),
            Revocation::Key(k) => list.product_keys.push(k.clone()),
            Revocation::MinIssuedAt { product, before } => {
                list.min_issued_at.push((product.clone(), *before))
            }
        }
    }
    list.normalize();
    let bytes = issuer.sign(ObjectType::RevocationList, &list.encode());
    ledger
        .revocations()
        .record_list(seq, entries.len() as u64)?;
    Ok((list, bytes))
}
