//! Issuing one license the way the ledger requires (`SPEC.md` §12.5, §17.3): inside a
//! vendor folder the description is checked against what the ledger knows first (the product
//! exists; the product key is one the ledger holds, active, and not a typo), and the license
//! is recorded only once it has been delivered (its file written), so the ledger never lists
//! a license nobody received, and a license is never handed out unrecorded.

use std::fmt;

use airseal_core::{LicenseClaims, UnixTime};

use super::{IssueError, Issuer, LicenseSpec};
use crate::keys::classify::{self, ClassifyError, Found, KeyVerdict};
use crate::ledger::{KeyStatus, Ledger, LedgerError};
use crate::vendor_dir::VendorDir;

/// Why a license could not be issued and recorded.
#[non_exhaustive]
#[derive(Debug)]
pub enum RecordedError {
    /// The description cannot be signed.
    Issue(IssueError),
    /// The product is not one of the vendor folder's.
    UnknownProduct {
        /// The product.
        product: String,
    },
    /// The product key's check symbol fails: a symbol mistyped or two swapped.
    KeyTypo {
        /// The product.
        product: String,
        /// The key as given.
        key: String,
    },
    /// The ledger holds no such key for the product.
    UnknownKey {
        /// The product.
        product: String,
        /// The key as given.
        key: String,
    },
    /// The key is suspended or revoked: no license is signed for it.
    KeyNotActive {
        /// The product.
        product: String,
        /// The key as stored.
        key: String,
        /// Its status.
        status: KeyStatus,
    },
    /// The key could not be looked up.
    Classify(ClassifyError),
    /// The license was signed but the ledger could not record it. It was delivered (its
    /// file written) just before: the caller removes what it delivered.
    NotRecorded {
        /// The license id signed.
        license_id: String,
        /// The ledger's error.
        source: LedgerError,
    },
}

impl fmt::Display for RecordedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Issue(e) => e.fmt(f),
            Self::UnknownProduct { product } => {
                write!(f, "product {product:?} is not in airseal.toml")
            }
            Self::KeyTypo { product, key } => write!(
                f,
                "product key {key:?} has a typo: its check symbol does not match (product \
                 {product:?})"
            ),
            Self::UnknownKey { product, key } => write!(
                f,
                "product key {key:?} is not in the ledger for product {product:?}"
            ),
            Self::KeyNotActive {
                product,
                key,
                status,
            } => write!(
                f,
                "product key {key} of product {product:?} is {status}: no license is signed for it"
            ),
            Self::Classify(e) => e.fmt(f),
            Self::NotRecorded { license_id, source } => write!(
                f,
                "license {license_id} was signed but could not be recorded in the ledger, so it \
                 was not handed out: {source}"
            ),
        }
    }
}

impl std::error::Error for RecordedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Issue(e) => Some(e),
            Self::Classify(e) => Some(e),
            Self::NotRecorded { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Checks a license description against the vendor folder and its ledger before anything
/// is signed: the product is one of `airseal.toml`'s, and a product key is one the ledger
/// holds for it (found however it was typed, `SPEC.md` §15.6), active, and not a typo. The
/// key is then written into the description as the ledger stores it, the spelling every
/// other license and activation of the key carries.
///
/// # Errors
/// [`RecordedError::UnknownProduct`], [`RecordedError::KeyTypo`],
/// [`RecordedError::UnknownKey`], [`RecordedError::KeyNotActive`], or
/// [`RecordedError::Classify`] when the ledger fails.
pub fn check(
    vendor: &VendorDir,
    ledger: &Ledger,
    spec: &mut LicenseSpec,
    now: UnixTime,
) -> Result<(), RecordedError> {
    let Some(product) = spec.product.clone() else {
        return Ok(());
    };
    if !vendor.config().products.contains_key(&product) {
        return Err(RecordedError::UnknownProduct { product });
    }
    let Some(typed) = spec.product_key.clone() else {
        return Ok(());
    };
    let verdict = classify::classify(vendor, ledger, Some(&product), &typed, now)
        .map_err(RecordedError::Classify)?;
    let valid = match verdict {
        KeyVerdict::Valid(v) => v,
        KeyVerdict::Typo { .. } | KeyVerdict::SignedTypo => {
            return Err(RecordedError::KeyTypo {
                product,
                key: typed,
            });
        }
        _ => {
            return Err(RecordedError::UnknownKey {
                product,
                key: typed,
            });
        }
    };
    let stored = match &valid.found {
        Found::Pattern { canonical, .. } => canonical.clone(),
        _ => valid.key.clone(),
    };
    if let Some(record) = &valid.record {
        if record.status != KeyStatus::Active {
            return Err(RecordedError::KeyNotActive {
                product,
                key: stored,
                status: record.status,
            });
        }
    }
    spec.product_key = Some(stored);
    Ok(())
}

/// Signs a license for `spec` at `now`, hands it to `deliver` (which writes the file), and
/// only then, when a `ledger` is given, records it (with `extra`, a JSON object for the
/// audit row: the output file, say). A license whose delivery failed is not recorded.
/// Without a ledger (a loose signing key, no vendor folder) there is nothing to record in.
///
/// # Errors
/// What `deliver` returns; [`RecordedError::Issue`] for a description that cannot be
/// signed; [`RecordedError::NotRecorded`] when the ledger refused after delivery (the
/// caller removes what it delivered).
pub fn issue_recorded<E: From<RecordedError>>(
    issuer: &Issuer,
    spec: &LicenseSpec,
    now: UnixTime,
    ledger: Option<&mut Ledger>,
    extra: &serde_json::Value,
    deliver: impl FnOnce(&LicenseClaims, &[u8]) -> Result<(), E>,
) -> Result<(LicenseClaims, Vec<u8>), E> {
    let (claims, bytes) = issuer.issue_spec(spec, now).map_err(RecordedError::Issue)?;
    deliver(&claims, &bytes)?;
    if let Some(ledger) = ledger {
        let mut extra = extra.clone();
        if let Some(map) = extra.as_object_mut() {
            map.insert(
                "key_id".into(),
                serde_json::Value::String(issuer.key_id().to_string()),
            );
        }
        ledger
            .licenses()
            .record(&claims, Some(issuer.key_id()), &extra)
            .map_err(|source| RecordedError::NotRecorded {
                license_id: claims.license_id.clone(),
                source,
            })?;
    }
    Ok((claims, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::LicenseFilter;
    use ed25519_dalek::SigningKey;

    fn spec(product: &str) -> LicenseSpec {
        LicenseSpec {
            product: Some(product.into()),
            issuer: Some("acme".into()),
            ..LicenseSpec::default()
        }
    }

    #[test]
    fn recorded_in_the_ledger_when_there_is_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(&dir.path().join("ledger.sqlite3")).unwrap();
        ledger.products().ensure("photo-pro", None).unwrap();
        let issuer = Issuer::new(SigningKey::from_bytes(&[1; 32]));
        let extra = serde_json::json!({"out": "jane.lic"});
        let delivered = |_: &LicenseClaims, _: &[u8]| Ok::<(), RecordedError>(());
        let (claims, _) = issue_recorded(
            &issuer,
            &spec("photo-pro"),
            1_800_000_000,
            Some(&mut ledger),
            &extra,
            delivered,
        )
        .unwrap();
        let listed = ledger.licenses().list(&LicenseFilter::default()).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].license_id, claims.license_id);
        // Without a ledger there is nothing to record in.
        let (other, _) = issue_recorded(
            &issuer,
            &spec("photo-pro"),
            1_800_000_000,
            None,
            &extra,
            delivered,
        )
        .unwrap();
        assert_ne!(other.license_id, claims.license_id);
        let listed = ledger.licenses().list(&LicenseFilter::default()).unwrap();
        assert_eq!(listed.len(), 1);
    }

    #[test]
    fn a_license_that_was_not_delivered_is_not_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(&dir.path().join("ledger.sqlite3")).unwrap();
        ledger.products().ensure("photo-pro", None).unwrap();
        let issuer = Issuer::new(SigningKey::from_bytes(&[1; 32]));
        let failed = issue_recorded(
            &issuer,
            &spec("photo-pro"),
            1_800_000_000,
            Some(&mut ledger),
            &serde_json::json!({}),
            |claims: &LicenseClaims, _: &[u8]| {
                Err(RecordedError::UnknownProduct {
                    product: claims.product.clone(),
                })
            },
        );
        assert!(matches!(failed, Err(RecordedError::UnknownProduct { .. })));
        let listed = ledger.licenses().list(&LicenseFilter::default()).unwrap();
        assert!(listed.is_empty(), "{listed:?}");
    }
}
