//! The trust store and the verification call (`SPEC.md` §6 gives the order of checks).

use alloc::borrow::Cow;
use alloc::string::ToString;
use alloc::vec::Vec;

use airseal_core::claims::COMPONENT_HASH_LEN;
use airseal_core::cose::{self, ObjectType};
use airseal_core::revocation::RevocationList;
use airseal_core::{Expiry, KeyId, LicenseClaims, UnixTime, armor, pubkey};
use ed25519_dalek::{Signature, VerifyingKey};

use crate::error::Error;
use crate::fast::PrecomputedKey;
use crate::license::{License, Status};
use alloc::boxed::Box;

/// One trusted public key, decoded once when it is added.
#[derive(Clone, Debug)]
struct TrustedKey {
    id: KeyId,
    key: VerifyingKey,
    validity: KeyValidity,
    /// Precomputed tables, when the app asked for them ([`TrustStore::precompute`]).
    fast: Option<Box<PrecomputedKey>>,
}

impl TrustedKey {
    /// Strict Ed25519 verification, through the precomputed tables when present: both paths
    /// accept exactly the same signatures (tests/fast_path.rs, the `fast_differential` fuzz
    /// target).
    fn verify_strict(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        match &self.fast {
            Some(fast) => fast.verify_strict(message, signature),
            None => self
                .key
                .verify_strict(message, &Signature::from_bytes(signature))
                .is_ok(),
        }
    }
}

/// When a trusted key may have signed: licenses whose issue time (`iat`) falls outside the
/// window are refused with [`Error::KeyOutOfValidity`]. This is what makes key rotation
/// safe: retire an old key by giving it a `not_after`, and licenses it signs afterwards (if
/// it leaks) are refused while the ones it signed before keep working.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyValidity {
    /// Licenses issued before this instant are refused.
    pub not_before: Option<UnixTime>,
    /// Licenses issued at or after this instant are refused.
    pub not_after: Option<UnixTime>,
}

impl KeyValidity {
    pub(crate) fn covers(&self, issued_at: UnixTime) -> bool {
        self.not_before.is_none_or(|t| issued_at >= t)
            && self.not_after.is_none_or(|t| issued_at < t)
    }
}

/// The public keys an app trusts, each known by its key id.
///
/// Keys are decompressed and checked when added, not on every verification.
#[derive(Clone, Debug, Default)]
pub struct TrustStore {
    keys: Vec<TrustedKey>,
}

/// The fingerprint of the machine the app is running on: salted component hashes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Machine {
    components: Vec<[u8; COMPONENT_HASH_LEN]>,
    device_key: Option<[u8; 8]>,
}

impl Machine {
    /// A machine from its component hashes (computed by the activation helpers).
    pub fn from_component_hashes(components: Vec<[u8; COMPONENT_HASH_LEN]>) -> Self {
        Self {
            components,
            device_key: None,
        }
    }

    /// Also check that a license bound to a device key is bound to this one (the public
    /// half of the machine's device key): a license copied from another machine then fails
    /// with [`Error::WrongDevice`] even where the fingerprint was faked or the machine cloned.
    pub fn with_device_key(mut self, public_key: &[u8; 32]) -> Self {
        self.device_key = Some(KeyId::of_public_key(public_key).0);
        self
    }

    /// The component hashes.
    pub fn components(&self) -> &[[u8; COMPONENT_HASH_LEN]] {
        &self.components
    }
}

/// What the app expects of a license.
#[derive(Clone, Copy, Debug)]
pub struct Expected<'a> {
    product: &'a str,
    machine: Option<&'a Machine>,
    release_date: Option<UnixTime>,
    revocations: Option<&'a RevocationList>,
}

impl<'a> Expected<'a> {
    /// Expect a license for this product id.
    pub fn product(product: &'a str) -> Self {
        Self {
            product,
            machine: None,
            release_date: None,
            revocations: None,
        }
    }

    /// Also refuse licenses revoked by this list (obtained from
    /// [`TrustStore::verify_revocations`]).
    pub fn revocations(mut self, list: &'a RevocationList) -> Self {
        self.revocations = Some(list);
        self
    }

    /// Also check release gating: the app's own release date must be before the license's
    /// maintenance end, if it has one (the perpetual-fallback model).
    pub fn release_date(mut self, released: UnixTime) -> Self {
        self.release_date = Some(released);
        self
    }

    /// Also check a node-locked license against this machine.
    pub fn machine(mut self, machine: &'a Machine) -> Self {
        self.machine = Some(machine);
        self
    }

    /// The product id expected (the app-side activation helpers salt the fingerprint with it).
    #[cfg(feature = "std")]
    pub(crate) fn product_id(&self) -> &'a str {
        self.product
    }
}

impl TrustStore {
    /// An empty trust store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts a raw 32-byte Ed25519 public key; returns its key id.
    ///
    /// # Errors
    /// [`Error::InvalidPublicKey`] if the bytes are not a point on the curve, or are a
    /// small-order ("weak") key.
    pub fn add_key(&mut self, public_key: &[u8; 32]) -> Result<KeyId, Error> {
        self.add_key_with_validity(public_key, KeyValidity::default())
    }

    /// Trusts a key for licenses issued inside `validity` only (key rotation; SPEC.md §6.1).
    /// Adding a key that is already trusted replaces its window.
    ///
    /// # Errors
    /// [`Error::InvalidPublicKey`], as for [`TrustStore::add_key`].
    pub fn add_key_with_validity(
        &mut self,
        public_key: &[u8; 32],
        validity: KeyValidity,
    ) -> Result<KeyId, Error> {
        let key = VerifyingKey::from_bytes(public_key).map_err(|_| Error::InvalidPublicKey)?;
        if key.is_weak() {
            return Err(Error::InvalidPublicKey);
        }
        let id = KeyId::of_public_key(public_key);
        match self.keys.iter_mut().find(|k| k.id == id) {
            Some(existing) => existing.validity = validity,
            None => self.keys.push(TrustedKey {
                id,
                key,
                validity,
                fast: None,
            }),
        }
        Ok(id)
    }

    /// Trusts the key in a public key file (`airseal-pk-v1:…`); returns its key id.
    ///
    /// # Errors
    /// [`Error::Malformed`] when the file cannot be read as a public key file,
    /// [`Error::InvalidPublicKey`] when the key itself is unusable.
    pub fn add_public_key_file(&mut self, text: &[u8]) -> Result<KeyId, Error> {
        self.add_public_key_file_with_validity(text, KeyValidity::default())
    }

    /// Trusts the key in a public key file for licenses issued inside `validity` only, as
    /// [`TrustStore::add_key_with_validity`] does for a raw key.
    ///
    /// # Errors
    /// As for [`TrustStore::add_public_key_file`].
    pub fn add_public_key_file_with_validity(
        &mut self,
        text: &[u8],
        validity: KeyValidity,
    ) -> Result<KeyId, Error> {
        let key = pubkey::parse_public_key(text).map_err(|e| {
            Error::Malformed(airseal_core::DecodeError::new(
                0,
                "public key file",
                airseal_core::DecodeErrorKind::InvalidValue(public_key_problem(&e)),
            ))
        })?;
        self.add_key_with_validity(&key, validity)
    }

    /// The trusted key with this id and its validity window, if any (used by signed-key
    /// verification).
    pub(crate) fn key(&self, kid: KeyId) -> Option<(&VerifyingKey, KeyValidity)> {
        self.keys
            .iter()
            .find(|k| k.id == kid)
            .map(|k| (&k.key, k.validity))
    }

    /// Builds precomputed tables for every trusted key, so later verifications cost about
    /// two thirds of a plain `verify_strict` (BENCHMARKS.md) with exactly the same
    /// acceptance rules. Costs about 0.4 ms and 220 KiB per key, so it pays off for apps
    /// that verify repeatedly (servers, license managers), not for one check at startup.
    pub fn precompute(&mut self) {
        for k in &mut self.keys {
            if k.fast.is_none() {
                k.fast = Some(Box::new(PrecomputedKey::new(&k.key)));
            }
        }
    }

    /// The ids of the trusted keys.
    pub fn key_ids(&self) -> impl Iterator<Item = KeyId> + '_ {
        self.keys.iter().map(|k| k.id)
    }

    /// Verifies a license file (raw or armored bytes) at time `now` (seconds since 1970).
    ///
    /// The checks run in the order of `SPEC.md` §6: decode the envelope, check its type,
    /// find the key, verify the signature over the exact bytes, decode the claims, then the
    /// product, the validity window and the machine binding.
    ///
    /// # Errors
    /// The first check that fails, as an [`Error`] variant naming it.
    pub fn verify(
        &self,
        input: &[u8],
        now: UnixTime,
        expected: &Expected<'_>,
    ) -> Result<License, Error> {
        let (claims, key_id, validity) = self.verify_signed(input)?;
        if !validity.covers(claims.issued_at) {
            return Err(Error::KeyOutOfValidity {
                kid: key_id,
                issued_at: claims.issued_at,
            });
        }
        check_claims(claims, key_id, now, expected)
    }

    /// Verifies a revocation list (raw or armored) signed by a trusted key.
    ///
    /// The caller should also refuse a list whose `seq` is lower than the newest it has
    /// seen (see `SPEC.md` §13); this call only proves the list is authentic.
    ///
    /// # Errors
    /// As for [`TrustStore::verify`] up to the signature, then [`Error::Malformed`] for a
    /// malformed list.
    pub fn verify_revocations(&self, input: &[u8]) -> Result<RevocationList, Error> {
        let bytes: Cow<'_, [u8]> = armor::dearmor(input)?;
        let (sign1, _, _) = self.check_envelope(&bytes, &[ObjectType::RevocationList])?;
        Ok(RevocationList::decode(sign1.payload, sign1.payload_offset)?)
    }

    /// Checks armor, envelope, type, key and signature; returns the decoded claims.
    ///
    /// A license is either a plain license (`airseal-license`) or an activation response
    /// (`airseal-activation`, SPEC.md §15.3): the same claims, but only a response carries a
    /// request nonce, and it must be bound to a device key.
    pub(crate) fn verify_signed(
        &self,
        input: &[u8],
    ) -> Result<(LicenseClaims, KeyId, KeyValidity), Error> {
        let bytes: Cow<'_, [u8]> = armor::dearmor(input)?;
        let (sign1, trusted, typ) = self.check_envelope(
            &bytes,
            &[ObjectType::License, ObjectType::ActivationResponse],
        )?;
        let claims = LicenseClaims::of_sign1(&sign1)?;
        let is_response = typ == ObjectType::ActivationResponse;
        let device_bound = claims
            .machine
            .as_ref()
            .is_some_and(|m| m.device_key.is_some());
        if claims.request_nonce.is_some() != is_response || (is_response && !device_bound) {
            let why = if is_response {
                "an activation response needs a request nonce and a device key"
            } else {
                "only an activation response carries a request nonce"
            };
            return Err(Error::Malformed(airseal_core::DecodeError::new(
                sign1.payload_offset,
                "claims",
                airseal_core::DecodeErrorKind::InvalidValue(why),
            )));
        }
        Ok((claims, trusted.id, trusted.validity))
    }

    /// Envelope, type, key lookup and strict signature check over the exact bytes: the
    /// steps every signed object shares (SPEC.md §6, steps 2-6).
    fn check_envelope<'b>(
        &self,
        bytes: &'b [u8],
        accepted: &[ObjectType],
    ) -> Result<(cose::Sign1<'b>, &TrustedKey, ObjectType), Error> {
        let (sign1, typ) = crate::error::parse_typed_any(bytes, accepted)?;
        let kid = sign1.header.kid;
        let trusted = self
            .keys
            .iter()
            .find(|k| k.id == kid)
            .ok_or(Error::UnknownKeyId { kid })?;
        let message = cose::sig_structure(sign1.protected, sign1.payload);
        if !trusted.verify_strict(&message, &sign1.signature) {
            return Err(Error::BadSignature);
        }
        Ok((sign1, trusted, typ))
    }
}

/// Fuzzing-only entry points (compiled with `--cfg fuzzing`, as cargo-fuzz does).
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    use super::*;

    /// Runs everything after the signature check on an unsigned payload, so the fuzzer
    /// explores the claims decoder and the policy checks without having to forge Ed25519.
    pub fn verify_unsigned_claims(payload: &[u8], now: UnixTime) {
        if let Ok(claims) = LicenseClaims::decode(payload, 0) {
            let product = claims.product.clone();
            let machine = Machine::from_component_hashes(alloc::vec![[1; 8], [2; 8]]);
            let _ = check_claims(
                claims,
                KeyId([0; 8]),
                now,
                &Expected::product(&product).machine(&machine),
            );
        }
    }
}

fn public_key_problem(e: &pubkey::PublicKeyError) -> &'static str {
    match e {
        pubkey::PublicKeyError::NoKeyLine => "no airseal-pk-v1 line",
        pubkey::PublicKeyError::SeveralKeys { .. } => "more than one key line",
        pubkey::PublicKeyError::KeyIdMismatch { .. } => "key id does not match the key",
        _ => "bad key line",
    }
}

fn check_claims(
    claims: LicenseClaims,
    key_id: KeyId,
    now: UnixTime,
    expected: &Expected<'_>,
) -> Result<License, Error> {
    if claims.product != expected.product {
        return Err(Error::WrongProduct {
            expected: expected.product.to_string(),
            found: claims.product,
        });
    }
    let skew = i64::try_from(claims.clock_offset.unwrap_or(0)).unwrap_or(i64::MAX);
    let valid_from = claims.valid_from().saturating_sub(skew);
    if now < valid_from {
        return Err(Error::NotYetValid { valid_from, now });
    }
    // Expiry plus grace: the rule the vendor applies too (`airseal_core::expiry`).
    let status = match claims.expiry(now) {
        Expiry::Current => Status::Valid,
        Expiry::InGrace { until } => Status::InGrace { until },
        Expiry::Expired { until } => {
            return Err(Error::Expired {
                expired_at: until,
                now,
            });
        }
    };
    if let Some(binding) = &claims.machine {
        // Distinct components only (`airseal_core::claims::matched_components`).
        let matched = expected
            .machine
            .map_or(0, |m| binding.matched(&m.components));
        if matched < binding.threshold {
            return Err(Error::WrongMachine {
                matched,
                required: binding.threshold,
            });
        }
        let device = expected.machine.and_then(|m| m.device_key);
        if let (Some(bound), Some(ours)) = (binding.device_key, device) {
            if bound != ours {
                return Err(Error::WrongDevice);
            }
        }
    }
    if let Some(list) = expected.revocations {
        let product_key = claims.product_key.as_deref();
        if let Some(reason) = list.revokes(
            &claims.license_id,
            product_key,
            &claims.product,
            claims.issued_at,
        ) {
            return Err(Error::Revoked {
                reason,
                list_seq: list.seq,
            });
        }
    }
    if let (Some(released), Some(until)) = (expected.release_date, claims.maintenance_until) {
        if released >= until {
            return Err(Error::MaintenanceEnded {
                maintenance_until: until,
                release_date: released,
            });
        }
    }
    Ok(License {
        claims,
        key_id,
        status,
    })
}
