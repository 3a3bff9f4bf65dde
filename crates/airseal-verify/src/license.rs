//! A verified license: the claims plus what verification concluded.

use alloc::string::String;
use alloc::vec::Vec;

use airseal_core::{KeyId, LicenseClaims, LicenseKind, UnixTime};

/// How the license stands at the time it was verified.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Valid.
    Valid,
    /// Past its expiry but inside the grace period: the app should keep working and urge
    /// renewal.
    InGrace {
        /// When the grace period ends.
        until: UnixTime,
    },
}

/// A license whose signature, type, product, dates and machine binding have been checked.
#[derive(Clone, Debug)]
pub struct License {
    pub(crate) claims: LicenseClaims,
    pub(crate) key_id: KeyId,
    pub(crate) issuer: Option<crate::Issuer>,
    pub(crate) status: Status,
}

impl License {
    /// Everything the license says.
    pub fn claims(&self) -> &LicenseClaims {
        &self.claims
    }

    /// Consumes the license, returning its claims.
    pub fn into_claims(self) -> LicenseClaims {
        self.claims
    }

    /// The id of the key that signed it: a root, or the issuing key of [`License::issuer`].
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The certified issuing key that signed it, or `None` for a license signed by a root
    /// directly (`SPEC.md` §18).
    pub fn issuer(&self) -> Option<&crate::Issuer> {
        self.issuer.as_ref()
    }

    /// Valid, or in grace.
    pub fn status(&self) -> Status {
        self.status
    }

    /// The license id (`sub`).
    pub fn id(&self) -> &str {
        &self.claims.license_id
    }

    /// Perpetual, subscription or trial.
    pub fn kind(&self) -> LicenseKind {
        self.claims.kind
    }

    /// When the license expires, if it does.
    pub fn expires_at(&self) -> Option<UnixTime> {
        self.claims.expires_at
    }

    /// Is this feature (`F1`..`F8` or a named feature) enabled at `now`?
    pub fn feature_enabled(&self, name: &str, now: UnixTime) -> bool {
        self.claims.features.enabled(name, now)
    }

    /// The features enabled at `now`.
    pub fn active_features(&self, now: UnixTime) -> Vec<String> {
        self.claims.features.active(now)
    }
}
