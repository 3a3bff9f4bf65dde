//! Verifying signed keys: product keys that carry their own signature, for vendors who ship
//! no license file (`SPEC.md` §12.4 gives the format and the order of checks).

use airseal_core::cose::ObjectType;
use alloc::format;
use alloc::string::ToString;

use airseal_core::claims::bit_name;
use airseal_core::revocation::RevocationList;
use airseal_core::signedkey::{self, SignedKeyError};
use airseal_core::{DecodeError, DecodeErrorKind, KeyId, UnixTime};
use ed25519_dalek::Signature;

use crate::error::Error;
use crate::trust::TrustStore;

/// The signed fields of a key, re-exported so apps need not depend on `airseal-core`.
pub use airseal_core::signedkey::SignedKeyPayload;

/// How far in the future a key's creation day may lie before the key is refused as not yet
/// valid: the creation day is a UTC date, and a vendor east of UTC (or a machine whose clock
/// is a little behind) can see a key dated "tomorrow".
const CREATION_TOLERANCE: i64 = 86_400;

/// A signed key whose signature, product and validity have been checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedKey {
    payload: SignedKeyPayload,
}

impl VerifiedKey {
    /// Everything the key says, as signed.
    pub fn payload(&self) -> &SignedKeyPayload {
        &self.payload
    }

    /// The feature bits: bit i grants `F(i+1)`.
    pub fn features(&self) -> u8 {
        self.payload.features
    }

    /// Does the key grant this feature (`"F1"`..`"F8"`)? Signed keys have no named features,
    /// so any other name is `false`.
    pub fn feature_enabled(&self, name: &str) -> bool {
        bit_name(name).is_some_and(|bit| self.payload.features & (1 << (bit - 1)) != 0)
    }

    /// The start of the day (UTC) the key was made.
    pub fn created_at(&self) -> UnixTime {
        self.payload.created_at()
    }

    /// When the key stops working, if it does.
    pub fn expires_at(&self) -> Option<UnixTime> {
        self.payload.expires_at()
    }

    /// The key's serial: names it in the vendor's records (and in a future revocation list).
    pub fn serial(&self) -> u32 {
        self.payload.serial
    }

    /// The id of the key that signed it.
    pub fn key_id(&self) -> KeyId {
        self.payload.kid
    }
}

impl TrustStore {
    /// Verifies a signed key as the user typed it, for `product`, at time `now` (seconds
    /// since 1970).
    ///
    /// The checks run in this order and stop at the first failure, so a typo is never
    /// reported as a forgery and a forgery never as a typo: read the symbols (typo-tolerant),
    /// the check symbol, the format; find the key by id; strict Ed25519 over
    /// `"airseal-signed-key-v1\0" || payload`; then the product tag, the creation day and
    /// the expiry.
    ///
    /// # Errors
    /// [`Error::Typo`] when the check symbol fails; [`Error::Malformed`] (context
    /// `"signed key"`) when the string is not a signed key at all; then
    /// [`Error::UnknownKeyId`], [`Error::BadSignature`], [`Error::WrongProduct`] (its
    /// `found` is the key's product tag in hex: the key holds a tag, not the product id),
    /// [`Error::NotYetValid`] (created more than a day after `now`) and [`Error::Expired`].
    pub fn verify_signed_key(
        &self,
        typed: &str,
        product: &str,
        now: UnixTime,
    ) -> Result<VerifiedKey, Error> {
        self.check_signed_key(typed, product, now, None)
    }

    /// [`TrustStore::verify_signed_key`], and then the revocation list: a key made by an
    /// issuing key the list revokes is refused, whatever its creation day says
    /// (`SPEC.md` §18.4), and so is a key the list names.
    ///
    /// # Errors
    /// As for [`TrustStore::verify_signed_key`], then [`Error::IssuingKeyRevoked`] (checked
    /// with the chain, before the product tag) and [`Error::Revoked`] (last).
    pub fn verify_signed_key_with_revocations(
        &self,
        typed: &str,
        product: &str,
        now: UnixTime,
        revocations: &RevocationList,
    ) -> Result<VerifiedKey, Error> {
        self.check_signed_key(typed, product, now, Some(revocations))
    }

    fn check_signed_key(
        &self,
        typed: &str,
        product: &str,
        now: UnixTime,
        revocations: Option<&RevocationList>,
    ) -> Result<VerifiedKey, Error> {
        let (bytes, payload, signature) = signedkey::decode(typed).map_err(decode_error)?;
        let (key, root, issuer) = self
            .signed_key_signer(payload.kid)
            .ok_or(Error::UnknownKeyId { kid: payload.kid })?;
        key.verify_strict(
            &signedkey::signing_message(&bytes),
            &Signature::from_bytes(&signature),
        )
        .map_err(|_| Error::BadSignature)?;
        // Key rotation and certificates apply to keys as to licenses: the creation day
        // stands for the issue time (SPEC.md §6.1, §12.4, §18.3).
        crate::trust::check_chain(
            root,
            issuer,
            ObjectType::SignedKey,
            Some(product),
            payload.created_at(),
            revocations,
        )?;
        if payload.product_tag != signedkey::product_tag(product) {
            let [a, b] = payload.product_tag;
            return Err(Error::WrongProduct {
                expected: product.to_string(),
                found: format!("product tag {a:02x}{b:02x}"),
            });
        }
        let valid_from = payload.created_at() - CREATION_TOLERANCE;
        if now < valid_from {
            return Err(Error::NotYetValid { valid_from, now });
        }
        if let Some(expired_at) = payload.expires_at() {
            if now >= expired_at {
                return Err(Error::Expired { expired_at, now });
            }
        }
        if let Some(list) = revocations {
            if list.revokes_product_key(&signedkey::encode(&bytes, &signature)) {
                return Err(Error::Revoked {
                    reason: "its product key is listed",
                    list_seq: list.seq,
                });
            }
        }
        Ok(VerifiedKey { payload })
    }
}

/// Maps a decoding failure to the verifier's error: a failed check symbol is a typo, the rest
/// say the string is not a (version 1) signed key.
fn decode_error(e: SignedKeyError) -> Error {
    let (offset, what) = match e {
        SignedKeyError::Typo => return Error::Typo,
        SignedKeyError::InvalidCharacter { position, .. } => {
            (position, "a character that is not a key symbol")
        }
        SignedKeyError::WrongLength { found, expected } => (
            found.min(expected),
            if found < expected {
                "too few symbols for a signed key (136)"
            } else {
                "too many symbols for a signed key (136)"
            },
        ),
        SignedKeyError::UnknownFormat { .. } => (0, "not a version 1 signed key (first byte)"),
        SignedKeyError::NonCanonical => (
            signedkey::DATA_SYMBOLS - 1,
            "non-zero padding bits in the last data symbol",
        ),
        // SignedKeyError is non_exhaustive; a new kind is still a string we cannot read.
        _ => (0, "not a signed key"),
    };
    Error::Malformed(DecodeError::new(
        offset,
        "signed key",
        DecodeErrorKind::InvalidValue(what),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use airseal_core::signedkey::{PAYLOAD_LEN, encode};

    #[test]
    fn decode_errors_map_to_classes() {
        assert_eq!(decode_error(SignedKeyError::Typo), Error::Typo);
        let e = decode_error(SignedKeyError::WrongLength {
            found: 140,
            expected: 136,
        });
        let Error::Malformed(d) = e else {
            panic!("{e:?}")
        };
        assert_eq!((d.offset, d.context), (136, "signed key"));
        let payload = [0u8; PAYLOAD_LEN];
        let e = TrustStore::new()
            .verify_signed_key(&encode(&payload, &[0; 64]), "p", 0)
            .unwrap_err();
        assert_eq!(e.class(), "malformed");
    }

    #[test]
    fn feature_names() {
        let key = VerifiedKey {
            payload: SignedKeyPayload {
                kid: KeyId([0; 8]),
                product_tag: [0; 2],
                features: 0b1000_0101,
                days: 0,
                created_day: 0,
                serial: 0,
            },
        };
        let on: [bool; 8] = core::array::from_fn(|i| key.feature_enabled(&format!("F{}", i + 1)));
        assert_eq!(on, [true, false, true, false, false, false, false, true]);
        assert!(!key.feature_enabled("F9") && !key.feature_enabled("F0"));
        assert!(!key.feature_enabled("export"));
        assert!(key.feature_enabled("f3"));
    }
}
