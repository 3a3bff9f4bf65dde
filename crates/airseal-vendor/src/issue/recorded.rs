//! Issuing one license the way the ledger requires (`SPEC.md` §12.5): with a ledger, every
//! license signed is recorded before anyone can receive it. A license nobody received is
//! harmless in the ledger; one handed out unrecorded is what the ledger exists to prevent.

use std::fmt;

use airseal_core::{LicenseClaims, UnixTime};

use super::{IssueError, Issuer, LicenseSpec};
use crate::ledger::{Ledger, LedgerError};

/// Why a license could not be issued and recorded.
#[non_exhaustive]
#[derive(Debug)]
pub enum RecordedError {
    /// The description cannot be signed.
    Issue(IssueError),
    /// The license was signed but the ledger could not record it: it must not be handed
    /// out (the caller writes nothing).
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
            Self::NotRecorded { license_id, source } => write!(
                f,
                "license {license_id} was signed but could not be recorded in the ledger, so it \
                 was not written: {source}"
            ),
        }
    }
}

impl std::error::Error for RecordedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Issue(e) => Some(e),
            Self::NotRecorded { source, .. } => Some(source),
        }
    }
}

/// Signs a license for `spec` at `now` and, when a `ledger` is given, records it (with
/// `extra`, a JSON object for the audit row: the output file, say) before returning it.
/// Without a ledger (a loose signing key, no vendor folder) there is nothing to record in.
///
/// # Errors
/// [`RecordedError::Issue`] for a description that cannot be signed;
/// [`RecordedError::NotRecorded`] when the ledger refused: the bytes are then withheld.
pub fn issue_recorded(
    issuer: &Issuer,
    spec: &LicenseSpec,
    now: UnixTime,
    ledger: Option<&mut Ledger>,
    extra: &serde_json::Value,
) -> Result<(LicenseClaims, Vec<u8>), RecordedError> {
    let (claims, bytes) = issuer.issue_spec(spec, now).map_err(RecordedError::Issue)?;
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
            .record(&claims, &extra)
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
        let (claims, _) = issue_recorded(
            &issuer,
            &spec("photo-pro"),
            1_800_000_000,
            Some(&mut ledger),
            &extra,
        )
        .unwrap();
        let listed = ledger.licenses().list(&LicenseFilter::default()).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].license_id, claims.license_id);
        // Without a ledger there is nothing to record in.
        let (other, _) =
            issue_recorded(&issuer, &spec("photo-pro"), 1_800_000_000, None, &extra).unwrap();
        assert_ne!(other.license_id, claims.license_id);
        let listed = ledger.licenses().list(&LicenseFilter::default()).unwrap();
        assert_eq!(listed.len(), 1);
    }
}
