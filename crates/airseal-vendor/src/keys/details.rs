//! One key with everything the ledger holds about it: its overview (status, terms summary,
//! seat counts), its seats and its licenses (`GET /v1/keys/{key}`; in the CLI, `airseal
//! ledger keys|activations|licenses` narrowed to one key).

use crate::ledger::{
    Activation, ActivationFilter, KeyFilter, KeyOverview, Ledger, LicenseFilter, LicenseRecord,
};

use super::ops::{KeyOpError, KeyRef, find_key};

/// A key, its seats and its licenses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyDetails {
    /// The key as the ledger lists it.
    pub overview: KeyOverview,
    /// Its seats (activations), live and released, oldest first.
    pub seats: Vec<Activation>,
    /// Every license signed for it (issued, batch, activation).
    pub licenses: Vec<LicenseRecord>,
}

/// The key `entered` means (found however it was typed, in `product` or any product), with
/// its seats and licenses.
///
/// # Errors
/// [`KeyOpError::UnknownKey`], [`KeyOpError::AmbiguousKey`], or a ledger error.
pub fn details(
    ledger: &Ledger,
    product: Option<&str>,
    entered: &str,
) -> Result<KeyDetails, KeyOpError> {
    let KeyRef { product, key } = find_key(ledger, product, entered)?;
    let overview = ledger
        .keys()
        .list(&KeyFilter {
            product: Some(product.clone()),
            key_prefix: Some(key.clone()),
            ..KeyFilter::default()
        })?
        .into_iter()
        .find(|k| k.record.key == key)
        .ok_or_else(|| KeyOpError::UnknownKey {
            entered: entered.to_string(),
        })?;
    let seats = ledger.seats().list(&ActivationFilter {
        product: Some(product.clone()),
        key: Some(key.clone()),
        ..ActivationFilter::default()
    })?;
    let licenses = ledger.licenses().list(&LicenseFilter {
        product: Some(product),
        key: Some(key),
        ..LicenseFilter::default()
    })?;
    Ok(KeyDetails {
        overview,
        seats,
        licenses,
    })
}
