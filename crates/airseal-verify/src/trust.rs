//! The trust store and the verification call (`SPEC.md` §6 gives the order of checks).

use alloc::borrow::Cow;
use alloc::string::ToString;
use alloc::vec::Vec;

use airseal_core::cert::Certificate;
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
pub(crate) struct TrustedKey {
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
        verify_with(&self.key, self.fast.as_deref(), message, signature)
    }
}

/// An issuing key's certificate the app added ahead of time ([`TrustStore::add_certificate`]),
/// verified once: objects carrying byte-identical certificates skip the root's signature check.
#[derive(Clone, Debug)]
struct TrustedCert {
    bytes: Vec<u8>,
    issuer: Issuer,
    key: VerifyingKey,
    fast: Option<Box<PrecomputedKey>>,
}

impl TrustedCert {
    fn verify_strict(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        verify_with(&self.key, self.fast.as_deref(), message, signature)
    }
}

/// Strict Ed25519 verification, through precomputed tables when present: both paths accept
/// exactly the same signatures (tests/fast_path.rs, the `fast_differential` fuzz target).
fn verify_with(
    key: &VerifyingKey,
    fast: Option<&PrecomputedKey>,
    message: &[u8],
    signature: &[u8; 64],
) -> bool {
    match fast {
        Some(fast) => fast.verify_strict(message, signature),
        None => key
            .verify_strict(message, &Signature::from_bytes(signature))
            .is_ok(),
    }
}

/// The issuing key that signed an object, as its root-signed certificate describes it
/// (`SPEC.md` §18).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issuer {
    root: KeyId,
    certificate: Certificate,
}

impl Issuer {
    /// The root key that signed the certificate.
    pub fn root(&self) -> KeyId {
        self.root
    }

    /// The issuing key's id.
    pub fn key_id(&self) -> KeyId {
        self.certificate.key_id()
    }

    /// The certificate: serial, window, products, what the key may sign.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }
}

/// When a trusted key may have signed: licenses whose issue time (`iat`) falls outside the
/// window are refused with [`Error::KeyOutOfValidity`]. This retires an *honest* key: licenses
/// it signed before keep working, and it stops signing after. It does not contain a leak:
/// `iat` is written by whoever signs, so a thief backdates it into the window. A key that
/// may leak is an issuing key certified by an offline root, which a revocation list switches
/// off whatever its licenses claim (`SPEC.md` §18.4).
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
    /// Root keys: trusted directly.
    keys: Vec<TrustedKey>,
    /// Certificates added ahead of time, already verified against a root.
    certs: Vec<TrustedCert>,
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
    /// [`Error::InvalidPublicKey`] if the bytes are not the canonical encoding of a curve
    /// point, or are a small-order ("weak") key ([`usable_public_key`]).
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
        let key = usable_public_key(public_key)?;
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

    /// The key with this id that may sign signed product keys: a root, or the key of an
    /// added certificate (with that certificate, for the chain checks).
    pub(crate) fn signed_key_signer(
        &self,
        kid: KeyId,
    ) -> Option<(&VerifyingKey, &TrustedKey, Option<&Issuer>)> {
        if let Some(root) = self.keys.iter().find(|k| k.id == kid) {
            return Some((&root.key, root, None));
        }
        self.certs
            .iter()
            .filter(|c| c.issuer.key_id() == kid)
            .find_map(|c| {
                let root = self.keys.iter().find(|k| k.id == c.issuer.root)?;
                Some((&c.key, root, Some(&c.issuer)))
            })
    }

    /// Verifies an issuing-key certificate (raw or armored) against the trusted roots and
    /// keeps it: objects carrying the same certificate then skip the root's signature check,
    /// and signed product keys (`SPEC.md` §12.4), which cannot carry a certificate, verify
    /// under its key. Adding the same certificate twice keeps one.
    ///
    /// # Errors
    /// [`Error::Malformed`], [`Error::WrongType`], [`Error::UnknownKeyId`] (no trusted root
    /// signed it) or [`Error::BadCertificateSignature`].
    pub fn add_certificate(&mut self, input: &[u8]) -> Result<Issuer, Error> {
        let bytes: Cow<'_, [u8]> = armor::dearmor(input)?;
        let (_, issuer, key) = self.check_certificate(&bytes)?;
        if !self.certs.iter().any(|c| c.bytes[..] == bytes[..]) {
            self.certs.push(TrustedCert {
                bytes: bytes.into_owned(),
                issuer: issuer.clone(),
                key,
                fast: None,
            });
        }
        Ok(issuer)
    }

    /// Parses and verifies a certificate against the roots: its own envelope and type, the
    /// root it names, the root's signature, and a usable issuing key.
    fn check_certificate(
        &self,
        bytes: &[u8],
    ) -> Result<(&TrustedKey, Issuer, VerifyingKey), Error> {
        let sign1 = crate::error::parse_typed(bytes, ObjectType::Certificate)?;
        let certificate = Certificate::decode(sign1.payload, sign1.payload_offset)?;
        let kid = sign1.header.kid;
        let root = self
            .keys
            .iter()
            .find(|k| k.id == kid)
            .ok_or(Error::UnknownKeyId { kid })?;
        let message = cose::sig_structure(sign1.protected, sign1.payload);
        if !root.verify_strict(&message, &sign1.signature) {
            return Err(Error::BadCertificateSignature { root: kid });
        }
        let key = usable_public_key(&certificate.key).map_err(|_| {
            Error::Malformed(airseal_core::DecodeError::new(
                sign1.payload_offset,
                "certificate.key",
                airseal_core::DecodeErrorKind::InvalidValue(
                    "not a usable Ed25519 public key (not a canonical curve point, or of small order)",
                ),
            ))
        })?;
        Ok((
            root,
            Issuer {
                root: kid,
                certificate,
            },
            key,
        ))
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
        for c in &mut self.certs {
            if c.fast.is_none() {
                c.fast = Some(Box::new(PrecomputedKey::new(&c.key)));
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
        let (claims, signer) = self.verify_signed(input)?;
        signer.check(
            Some(&claims.product),
            claims.issued_at,
            expected.revocations,
        )?;
        check_claims(claims, signer.key_id(), signer.issuer, now, expected)
    }

    /// Verifies a revocation list (raw or armored): signed by a root whose validity window
    /// covers the list's `issued_at`, or by an issuing key whose certificate allows lists,
    /// covers `issued_at`, grants the list's `seq` and is not revoked by the list itself
    /// (`SPEC.md` §13, §18.4).
    ///
    /// The caller should also refuse a list whose `seq` is lower than the newest it has
    /// seen ([`crate::ClockGuard::accept_revocations`]); this call only proves the list is
    /// authentic and within its signer's rights.
    ///
    /// # Errors
    /// As for [`TrustStore::verify`] up to the signature, then [`Error::Malformed`] for a
    /// malformed list, and the chain errors ([`Error::KeyOutOfValidity`],
    /// [`Error::CertificateTypeNotAllowed`], [`Error::CertificateOutOfValidity`],
    /// [`Error::IssuingKeyRevoked`], [`Error::RevocationSeqOutOfRange`]).
    pub fn verify_revocations(&self, input: &[u8]) -> Result<RevocationList, Error> {
        let bytes: Cow<'_, [u8]> = armor::dearmor(input)?;
        let (sign1, signer) = self.check_envelope(&bytes, &[ObjectType::RevocationList])?;
        let list = RevocationList::decode(sign1.payload, sign1.payload_offset)?;
        signer.check(None, list.issued_at, Some(&list))?;
        if let Some(issuer) = &signer.issuer {
            let (lo, hi) = issuer.certificate.list_seq.unwrap_or((0, 0));
            if !(lo..hi).contains(&list.seq) {
                return Err(Error::RevocationSeqOutOfRange {
                    seq: list.seq,
                    lo,
                    hi,
                });
            }
        }
        Ok(list)
    }

    /// Checks armor, envelope, type, key and signature; returns the decoded claims.
    ///
    /// A license is either a plain license (`airseal-license`) or an activation response
    /// (`airseal-activation`, SPEC.md §15.3): the same claims, but only a response carries a
    /// request nonce, and it must be bound to a device key.
    fn verify_signed(&self, input: &[u8]) -> Result<(LicenseClaims, Signer<'_>), Error> {
        let bytes: Cow<'_, [u8]> = armor::dearmor(input)?;
        let (sign1, signer) = self.check_envelope(
            &bytes,
            &[ObjectType::License, ObjectType::ActivationResponse],
        )?;
        let claims = LicenseClaims::of_sign1(&sign1)?;
        let is_response = signer.typ == ObjectType::ActivationResponse;
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
        Ok((claims, signer))
    }

    /// Envelope, type, key lookup (through the carried certificate, if any) and strict
    /// signature check over the exact bytes: the steps every signed object shares (SPEC.md
    /// §6 steps 2-6, with §18.3's certificate steps).
    fn check_envelope<'b>(
        &self,
        bytes: &'b [u8],
        accepted: &[ObjectType],
    ) -> Result<(cose::Sign1<'b>, Signer<'_>), Error> {
        let (sign1, typ) = crate::error::parse_typed_any(bytes, accepted)?;
        let message = cose::sig_structure(sign1.protected, sign1.payload);
        let Some(cert) = sign1.header.cert else {
            let kid = sign1.header.kid;
            let root = self
                .keys
                .iter()
                .find(|k| k.id == kid)
                .ok_or(Error::UnknownKeyId { kid })?;
            if !root.verify_strict(&message, &sign1.signature) {
                return Err(Error::BadSignature);
            }
            let signer = Signer {
                root,
                issuer: None,
                typ,
            };
            return Ok((sign1, signer));
        };
        // A certificate added ahead of time was verified then: compare bytes, not signatures.
        let known = self.certs.iter().find(|c| c.bytes[..] == *cert);
        let (root, issuer, verified) = match known {
            Some(c) => {
                let root = self
                    .keys
                    .iter()
                    .find(|k| k.id == c.issuer.root)
                    .ok_or(Error::UnknownKeyId { kid: c.issuer.root })?;
                (
                    root,
                    c.issuer.clone(),
                    c.verify_strict(&message, &sign1.signature),
                )
            }
            None => {
                let (root, issuer, key) = self.check_certificate(cert)?;
                let ok = verify_with(&key, None, &message, &sign1.signature);
                (root, issuer, ok)
            }
        };
        if !verified {
            return Err(Error::BadSignature);
        }
        let signer = Signer {
            root,
            issuer: Some(issuer),
            typ,
        };
        Ok((sign1, signer))
    }
}

/// Who signed an object that verified: a root directly, or an issuing key the root
/// certified.
struct Signer<'s> {
    root: &'s TrustedKey,
    issuer: Option<Issuer>,
    typ: ObjectType,
}

impl Signer<'_> {
    /// The id of the key whose signature was checked.
    fn key_id(&self) -> KeyId {
        self.issuer.as_ref().map_or(self.root.id, Issuer::key_id)
    }

    /// The chain's rules for an object of this signer's type issued at `issued_at` for
    /// `product` (SPEC.md §18.3, in this order): the certificate allows the type and the
    /// product and covers the issue time; the root's own window covers it; the revocation
    /// list does not name the issuing key.
    fn check(
        &self,
        product: Option<&str>,
        issued_at: UnixTime,
        revocations: Option<&RevocationList>,
    ) -> Result<(), Error> {
        check_chain(
            self.root,
            self.issuer.as_ref(),
            self.typ,
            product,
            issued_at,
            revocations,
        )
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
                None,
                now,
                &Expected::product(&product).machine(&machine),
            );
        }
    }
}

/// The one rule for a public key airseal accepts (a trusted key, a device key; SPEC.md
/// §3.1): the canonical encoding of an Ed25519 curve point (`y < p`, and the point
/// re-encodes to the same 32 bytes) that is not of small order. ed25519-dalek alone accepts
/// the non-canonical encodings `y + p` of the points with `y < 19`; a key id is a hash of
/// the bytes, so two encodings of one key would be two keys.
///
/// # Errors
/// [`Error::InvalidPublicKey`] for anything else.
pub(crate) fn usable_public_key(public_key: &[u8; 32]) -> Result<VerifyingKey, Error> {
    let key = VerifyingKey::from_bytes(public_key).map_err(|_| Error::InvalidPublicKey)?;
    if key.is_weak() || key.to_edwards().compress().to_bytes() != *public_key {
        return Err(Error::InvalidPublicKey);
    }
    Ok(key)
}

fn public_key_problem(e: &pubkey::PublicKeyError) -> &'static str {
    match e {
        pubkey::PublicKeyError::NoKeyLine => "no airseal-pk-v1 line",
        pubkey::PublicKeyError::SeveralKeys { .. } => "more than one key line",
        pubkey::PublicKeyError::KeyIdMismatch { .. } => "key id does not match the key",
        _ => "bad key line",
    }
}

/// See [`Signer::check`]; also used for signed product keys.
pub(crate) fn check_chain(
    root: &TrustedKey,
    issuer: Option<&Issuer>,
    typ: ObjectType,
    product: Option<&str>,
    issued_at: UnixTime,
    revocations: Option<&RevocationList>,
) -> Result<(), Error> {
    if let Some(issuer) = issuer {
        let c = &issuer.certificate;
        if !c.may_sign.allows(typ) {
            return Err(Error::CertificateTypeNotAllowed {
                serial: c.serial,
                object: typ.name(),
            });
        }
        if let Some(product) = product.filter(|p| !c.allows_product(p)) {
            return Err(Error::CertificateProductNotAllowed {
                serial: c.serial,
                product: product.to_string(),
            });
        }
        if !c.covers(issued_at) {
            return Err(Error::CertificateOutOfValidity {
                serial: c.serial,
                not_before: c.not_before,
                not_after: c.not_after,
                issued_at,
            });
        }
    }
    if !root.validity.covers(issued_at) {
        return Err(Error::KeyOutOfValidity {
            kid: root.id,
            issued_at,
        });
    }
    if let (Some(issuer), Some(list)) = (issuer, revocations) {
        if list.revokes_issuer(issuer.key_id()) {
            return Err(Error::IssuingKeyRevoked {
                kid: issuer.key_id(),
                list_seq: list.seq,
            });
        }
    }
    Ok(())
}

fn check_claims(
    claims: LicenseClaims,
    key_id: KeyId,
    issuer: Option<Issuer>,
    now: UnixTime,
    expected: &Expected<'_>,
) -> Result<License, Error> {
    if claims.product != expected.product {
        return Err(Error::WrongProduct {
            expected: expected.product.to_string(),
            found: claims.product,
        });
    }
    // The start minus the clock offset, without overflow (`airseal_core::expiry`).
    let valid_from = claims.usable_from();
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
        issuer,
        status,
    })
}
