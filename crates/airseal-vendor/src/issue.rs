//! Issuing: turning a license description into signed license bytes (`SPEC.md` §4).
//!
//! [`Issuer`] holds an unlocked signing key and signs any airseal object type;
//! [`LicenseSpec`] is the human-level description (days, dates, "unlimited") that the CLI
//! flags and TOML templates fill in and that [`LicenseSpec::to_claims`] turns into claims.

use std::collections::BTreeMap;
use std::fmt;

use crate::time::{EndOfDay, end_after_days, parse_time};
use airseal_core::cert::Certificate;
use airseal_core::claims::bit_name;
use airseal_core::cose::{self, ObjectType};
use airseal_core::{
    KeyId, LicenseClaims, LicenseKind, Licensee, Limit, MetaValue, NamedFeature, UnixTime,
};
use ed25519_dalek::{Signer, SigningKey};
use rand::Rng;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

pub mod for_key;
pub mod recorded;

/// Length of a license id in random bytes (rendered as 13 Crockford base32 symbols).
const LICENSE_ID_BYTES: usize = 8;
/// Length of a `cti` token id.
const TOKEN_ID_BYTES: usize = 8;

/// Signs airseal objects with one vendor key: the root key itself, or an issuing key with
/// the certificate the root gave it (`SPEC.md` §18), which every object it signs carries.
pub struct Issuer {
    key: SigningKey,
    kid: KeyId,
    chain: Option<Chain>,
    /// The MAC key of the vendor's data keys: always the one derived from the ROOT key's
    /// seed, so data keys do not depend on which key signs (`SPEC.md` §18.8).
    data_mac: Zeroizing<[u8; 32]>,
}

/// The certificate an issuing key signs under.
#[derive(Clone, Debug)]
pub struct Chain {
    /// The signed certificate (raw COSE), carried in every object's protected header.
    pub bytes: Vec<u8>,
    /// Its decoded payload.
    pub certificate: Certificate,
    /// The id of the root key that signed it.
    pub root: KeyId,
}

/// Why an issuing key refuses to sign something: its certificate does not allow it.
/// Verifiers would refuse the object (`SPEC.md` §18), so it is never made.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeError {
    /// The certificate does not allow this kind of object.
    TypeNotAllowed {
        /// The certificate's serial.
        serial: u64,
        /// The object's kind, in words.
        what: &'static str,
    },
    /// The certificate does not list this product.
    ProductNotAllowed {
        /// The certificate's serial.
        serial: u64,
        /// The product.
        product: String,
    },
    /// The instant the object says it was issued is outside the certificate's window.
    OutOfWindow {
        /// The certificate's serial.
        serial: u64,
        /// Its window's start.
        not_before: UnixTime,
        /// Its window's end (exclusive).
        not_after: UnixTime,
        /// The issue time asked for.
        at: UnixTime,
    },
}

impl fmt::Display for ScopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let time = crate::time::format_time;
        match self {
            Self::TypeNotAllowed { serial, what } => write!(
                f,
                "the issuing key's certificate (serial {serial}) does not allow it to sign {what}"
            ),
            Self::ProductNotAllowed { serial, product } => write!(
                f,
                "the issuing key's certificate (serial {serial}) does not allow product {product:?}"
            ),
            Self::OutOfWindow {
                serial,
                not_before,
                not_after,
                at,
            } => write!(
                f,
                "the issuing key's certificate (serial {serial}) is valid from {} until {}, not at {}",
                time(*not_before),
                time(*not_after),
                time(*at)
            ),
        }
    }
}

impl std::error::Error for ScopeError {}

/// Why [`Issuer::certified`] refused a key and certificate.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertifiedError {
    /// The bytes are not an issuing-key certificate.
    NotACertificate(String),
    /// The certificate certifies another key.
    KeyMismatch {
        /// The key the certificate names.
        certified: KeyId,
        /// The key given.
        key: KeyId,
    },
}

impl fmt::Display for CertifiedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotACertificate(why) => write!(f, "not an issuing-key certificate: {why}"),
            Self::KeyMismatch { certified, key } => write!(
                f,
                "the certificate is for issuing key {certified}, and the key given is {key}"
            ),
        }
    }
}

impl std::error::Error for CertifiedError {}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the key itself.
        f.debug_struct("Issuer")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Issuer {
    /// An issuer signing with `key`, a root key (objects carry its key id).
    pub fn new(key: SigningKey) -> Self {
        let kid = KeyId::of_public_key(key.verifying_key().as_bytes());
        let data_mac = Zeroizing::new(crate::keys::data_key_mac_key(&key.to_bytes()));
        Self {
            key,
            kid,
            chain: None,
            data_mac,
        }
    }

    /// An issuer signing with issuing key `key` under `certificate` (raw COSE bytes of the
    /// certificate the root signed for it), which every object it signs carries. `data_mac`
    /// is the root's data-key MAC key (kept beside the issuing key, `SPEC.md` §18.8). The
    /// certificate's signature is not checked here: the root's public key may not be at
    /// hand; verifiers check it, and [`crate::issuing`] checks it when it reads a folder.
    ///
    /// # Errors
    /// [`CertifiedError`] when the bytes are not a certificate or certify another key.
    pub fn certified(
        key: SigningKey,
        certificate: &[u8],
        data_mac: [u8; 32],
    ) -> Result<Self, CertifiedError> {
        let (root, cert) = crate::issuing::parse_certificate(certificate)
            .map_err(CertifiedError::NotACertificate)?;
        let kid = KeyId::of_public_key(key.verifying_key().as_bytes());
        if cert.key != key.verifying_key().to_bytes() {
            return Err(CertifiedError::KeyMismatch {
                certified: cert.key_id(),
                key: kid,
            });
        }
        Ok(Self {
            key,
            kid,
            chain: Some(Chain {
                bytes: certificate.to_vec(),
                certificate: cert,
                root,
            }),
            data_mac: Zeroizing::new(data_mac),
        })
    }

    /// The certificate this issuer signs under; `None` for a root key.
    pub fn chain(&self) -> Option<&Chain> {
        self.chain.as_ref()
    }

    /// Refuses what this issuer's certificate does not allow: an object of kind `typ`, for
    /// `product` (when the object names one), issued at `at` (`SPEC.md` §18). A root key
    /// may sign anything.
    ///
    /// # Errors
    /// [`ScopeError`] naming the rule.
    pub fn check_scope(
        &self,
        typ: ObjectType,
        product: Option<&str>,
        at: UnixTime,
    ) -> Result<(), ScopeError> {
        let Some(chain) = &self.chain else {
            return Ok(());
        };
        let cert = &chain.certificate;
        if !cert.may_sign.allows(typ) {
            return Err(ScopeError::TypeNotAllowed {
                serial: cert.serial,
                what: typ.name(),
            });
        }
        if let Some(product) = product {
            if !cert.allows_product(product) {
                return Err(ScopeError::ProductNotAllowed {
                    serial: cert.serial,
                    product: product.to_string(),
                });
            }
        }
        if !cert.covers(at) {
            return Err(ScopeError::OutOfWindow {
                serial: cert.serial,
                not_before: cert.not_before,
                not_after: cert.not_after,
                at,
            });
        }
        Ok(())
    }

    /// The signing key's id (the issuing key's for a certified issuer).
    pub fn key_id(&self) -> KeyId {
        self.kid
    }

    /// The 32-byte public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// Signs `payload` as an object of type `typ`: a tagged COSE_Sign1 whose protected
    /// header is `{alg: EdDSA, kid, typ}`, or `{alg, typ, certificate}` for a certified
    /// issuer (`SPEC.md` §18). No scope check: the typed operations ([`Issuer::issue`],
    /// [`Issuer::issue_activation_response`], [`crate::revoke`]) call
    /// [`Issuer::check_scope`] first.
    pub fn sign(&self, typ: ObjectType, payload: &[u8]) -> Vec<u8> {
        let protected = match &self.chain {
            Some(chain) => cose::encode_protected_with_cert(typ, &chain.bytes),
            None => cose::encode_protected(&self.kid, typ),
        };
        let signature = self.key.sign(&cose::sig_structure(&protected, payload));
        cose::encode_sign1(&protected, payload, &signature.to_bytes())
    }

    /// Signs `message` as it is, with no envelope: for formats that carry a bare Ed25519
    /// signature (signed keys). The caller is responsible for domain separation: `message`
    /// must start with a prefix no other airseal format signs.
    pub fn sign_raw(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// The MAC key of this vendor's data keys, derived from the ROOT signing key so there is
    /// no second secret to keep: SHA-256("airseal-data-key-mac-v1" || root seed). A
    /// certified issuer holds the root's (`SPEC.md` §18.8).
    pub fn data_key_mac_key(&self) -> [u8; 32] {
        *self.data_mac
    }

    /// Signs a license: normalizes and validates the claims, encodes them deterministically
    /// and signs the result.
    ///
    /// # Errors
    /// [`IssueError::InvalidClaims`] when the claims break a rule every verifier enforces.
    pub fn issue(&self, mut claims: LicenseClaims) -> Result<Vec<u8>, IssueError> {
        claims.normalize();
        claims.validate().map_err(IssueError::InvalidClaims)?;
        if claims.request_nonce.is_some() {
            return Err(IssueError::InvalidClaims(
                "only an activation response carries a request nonce",
            ));
        }
        self.check_scope(ObjectType::License, Some(&claims.product), claims.issued_at)
            .map_err(IssueError::Scope)?;
        Ok(self.sign(ObjectType::License, &claims.encode()))
    }

    /// Signs an activation response (`SPEC.md` §15.3): a license of type
    /// `airseal-activation` that echoes the request's nonce and is bound to its device key.
    ///
    /// # Errors
    /// [`IssueError::InvalidClaims`] when the claims break a format rule, or lack the
    /// request nonce or the device key binding every verifier requires of a response.
    pub fn issue_activation_response(
        &self,
        mut claims: LicenseClaims,
    ) -> Result<Vec<u8>, IssueError> {
        claims.normalize();
        claims.validate().map_err(IssueError::InvalidClaims)?;
        let device_bound = claims
            .machine
            .as_ref()
            .is_some_and(|m| m.device_key.is_some());
        if claims.request_nonce.is_none() || !device_bound {
            return Err(IssueError::InvalidClaims(
                "an activation response needs a request nonce and a device key",
            ));
        }
        self.check_scope(
            ObjectType::ActivationResponse,
            Some(&claims.product),
            claims.issued_at,
        )
        .map_err(IssueError::Scope)?;
        Ok(self.sign(ObjectType::ActivationResponse, &claims.encode()))
    }

    /// Issues a license from a description at time `now`, with fresh random ids from the
    /// operating system's generator. Returns the claims signed and the license bytes.
    ///
    /// # Errors
    /// [`IssueError`] naming the field that is missing or wrong.
    pub fn issue_spec(
        &self,
        spec: &LicenseSpec,
        now: UnixTime,
    ) -> Result<(LicenseClaims, Vec<u8>), IssueError> {
        let claims = spec.to_claims(self, now, &mut rand::rng())?;
        let bytes = self.issue(claims.clone())?;
        Ok((claims, bytes))
    }
}

/// Why a license could not be issued.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueError {
    /// The claims break a format rule (the message names it).
    InvalidClaims(&'static str),
    /// A field of the license description is wrong.
    InvalidField {
        /// The field (flag or template key), e.g. `expires`.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The issuing key's certificate does not allow this license.
    Scope(ScopeError),
}

impl fmt::Display for IssueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IssueError::Scope(e) => e.fmt(f),
            IssueError::InvalidClaims(why) => write!(f, "invalid license: {why}"),
            IssueError::InvalidField { field, message } => write!(f, "{field}: {message}"),
        }
    }
}

impl std::error::Error for IssueError {}

pub(crate) fn field_error(field: &'static str, message: impl Into<String>) -> IssueError {
    IssueError::InvalidField {
        field,
        message: message.into(),
    }
}

/// A limit as people write it: a number or `"unlimited"`. Read by hand rather than as an
/// untagged enum, so a bad value says what is expected instead of serde's "did not match any
/// variant" (`SPEC.md` §17.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum LimitSpec {
    /// At most this many.
    Count(u64),
    /// The word `unlimited`.
    Word(UnlimitedWord),
}

/// The only word a [`LimitSpec`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnlimitedWord {
    /// No limit.
    Unlimited,
}

impl LimitSpec {
    /// Parses `"5"` or `"unlimited"`.
    ///
    /// # Errors
    /// A message when it is neither.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("unlimited") {
            return Ok(LimitSpec::Word(UnlimitedWord::Unlimited));
        }
        s.parse::<u64>()
            .map(LimitSpec::Count)
            .map_err(|_| format!("expected a whole number or `unlimited`, got {s:?}"))
    }
}

/// What a limit must be, said the same way wherever one is read.
const LIMIT_EXPECTED: &str = "a whole number of at least 1, or \"unlimited\"";

impl<'de> Deserialize<'de> for LimitSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = LimitSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(LIMIT_EXPECTED)
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<LimitSpec, E> {
                Ok(LimitSpec::Count(n))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<LimitSpec, E> {
                u64::try_from(n)
                    .map(LimitSpec::Count)
                    .map_err(|_| E::custom(format_args!("expected {LIMIT_EXPECTED}, got {n}")))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<LimitSpec, E> {
                if s == "unlimited" {
                    Ok(LimitSpec::Word(UnlimitedWord::Unlimited))
                } else {
                    Err(E::custom(format_args!(
                        "expected {LIMIT_EXPECTED}, got {s:?}"
                    )))
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// The one conversion from what people write to what a license carries (issuing and
/// activation both use it).
impl From<LimitSpec> for Limit {
    fn from(l: LimitSpec) -> Self {
        match l {
            LimitSpec::Count(n) => Limit::AtMost(n),
            LimitSpec::Word(UnlimitedWord::Unlimited) => Limit::Unlimited,
        }
    }
}

/// A metadata value as written in a template: text or integer (read by hand, like
/// [`LimitSpec`], so a bad value says what is expected).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum MetaSpec {
    /// Integer.
    Int(i64),
    /// Text.
    Text(String),
}

impl<'de> Deserialize<'de> for MetaSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = MetaSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("text or a whole number")
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<MetaSpec, E> {
                Ok(MetaSpec::Int(n))
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<MetaSpec, E> {
                i64::try_from(n)
                    .map(MetaSpec::Int)
                    .map_err(|_| E::custom(format_args!("{n} is too large for a metadata number")))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<MetaSpec, E> {
                Ok(MetaSpec::Text(s.to_string()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// A human-level description of a license: what `airseal issue` flags and a TOML
/// `--template` file fill in. Field names are the template's keys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenseSpec {
    /// Product id (`aud`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// Vendor name (`iss`); defaults to the signing key id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// `perpetual`, `subscription` or `trial`. Default: `subscription` when the license has
    /// an expiry (`days` or `expires`), else `perpetual`; `perpetual` with an expiry is
    /// refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Licensee's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub licensee_name: Option<String>,
    /// Licensee's e-mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub licensee_email: Option<String>,
    /// Licensee's organisation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub licensee_org: Option<String>,
    /// The product key the license belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_key: Option<String>,
    /// Valid for this many days from issue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
    /// Valid until this date (`YYYY-MM-DD`, end of that day UTC) or RFC 3339 instant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Not valid before this date or instant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    /// Features: `F1`..`F8` or names, each optionally `=DATE` for an end date.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
    /// Maximum activations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_activations: Option<LimitSpec>,
    /// Maximum deactivations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_deactivations: Option<LimitSpec>,
    /// Maintenance (updates) covered until this date or instant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maintenance_until: Option<String>,
    /// Days of grace after expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grace_days: Option<u32>,
    /// Tolerated clock skew, in minutes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_offset_minutes: Option<u32>,
    /// Metadata (at most 50 entries).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, MetaSpec>,
    /// For offline activation only: how many of the requesting machine's fingerprint
    /// components must match for the license to verify there (default: a majority). Not a
    /// claim of its own: it becomes the threshold of the machine binding (`SPEC.md` §4.2),
    /// so [`LicenseSpec::to_claims`] ignores it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine_threshold: Option<u8>,
    /// For offline activation only: the fewest fingerprint components a request must carry
    /// (1 to 16; default: no minimum beyond one). Not a claim (`SPEC.md` §17.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_components: Option<MinComponents>,
    /// For offline activation only: when the key's term (its `days`) starts — at the key's
    /// creation or at its first activation (the default). Not a claim (`SPEC.md` §17.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub term_starts: Option<crate::terms::TermStarts>,
}

/// A template's `min_components`: 1 to [`airseal_core::claims::MAX_COMPONENTS`], checked
/// when the template is read (a TOML error naming the line otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct MinComponents(u8);

impl MinComponents {
    /// The number.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u64> for MinComponents {
    type Error = String;

    fn try_from(n: u64) -> Result<Self, String> {
        match u8::try_from(n) {
            Ok(m) if m >= 1 && usize::from(m) <= airseal_core::claims::MAX_COMPONENTS => {
                Ok(Self(m))
            }
            _ => Err(format!(
                "min_components must be 1 to {}, got {n}",
                airseal_core::claims::MAX_COMPONENTS
            )),
        }
    }
}

impl From<MinComponents> for u64 {
    fn from(m: MinComponents) -> u64 {
        u64::from(m.0)
    }
}

impl LicenseSpec {
    /// Reads a TOML template.
    ///
    /// # Errors
    /// The TOML parser's message, which names the line and the key.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Fills every field this spec leaves empty from `base` (a template).
    pub fn or(mut self, base: LicenseSpec) -> Self {
        macro_rules! fill {
            ($($f:ident),*) => { $( if self.$f.is_none() { self.$f = base.$f; } )* };
        }
        // `days` and `expires` are two ways of saying one thing: whichever this spec gives
        // overrides both of the base's (an imported key's own expiry beats a template's
        // `days = 365`), rather than leaving both set, which `to_claims` refuses.
        if self.days.is_none() && self.expires.is_none() {
            self.days = base.days;
            self.expires = base.expires;
        }
        fill!(
            product,
            issuer,
            kind,
            licensee_name,
            licensee_email,
            licensee_org,
            product_key,
            not_before,
            max_activations,
            max_deactivations,
            maintenance_until,
            grace_days,
            clock_offset_minutes,
            machine_threshold,
            min_components,
            term_starts
        );
        if self.features.is_empty() {
            self.features = base.features;
        }
        for (k, v) in base.metadata {
            self.metadata.entry(k).or_insert(v);
        }
        self
    }

    /// The fixed date a license made from this description ends at: `expires`, read as the
    /// end of that day (UTC) when it is a bare date. `None` without one (no expiry, or
    /// `days`, which count from whenever the license is issued). The one reading of this
    /// rule: issuing refuses a license that would already be expired, activation refuses a
    /// key whose terms have ended, and `issue --batch` skips such keys.
    ///
    /// # Errors
    /// [`IssueError::InvalidField`] when `expires` is not a date.
    pub fn fixed_expiry(&self) -> Result<Option<UnixTime>, IssueError> {
        self.expires
            .as_deref()
            .map(|date| parse_time("expires", date, EndOfDay::Yes))
            .transpose()
    }

    /// Whether the description's fixed end ([`LicenseSpec::fixed_expiry`]) is at or before
    /// `now`: no license made from it would ever work.
    ///
    /// # Errors
    /// As [`LicenseSpec::fixed_expiry`].
    pub fn has_ended(&self, now: UnixTime) -> Result<bool, IssueError> {
        Ok(self.fixed_expiry()?.is_some_and(|at| at <= now))
    }

    /// Checks a description the way issuing will read it, without a day to issue on: what
    /// `airseal.toml` is checked with when it loads (`SPEC.md` §17.1), so a bad template is
    /// refused before a key is generated for it, not when a customer activates. Every field
    /// is read by [`LicenseSpec::to_claims`] itself (at the epoch, with a throwaway key), so
    /// the two can never disagree (`days = 0`, `not_before` after `expires`, … are its
    /// rules); on top of that, a limit of `0` activations (no machine could ever use the
    /// license) and a `machine_threshold` of 0 are refused. A fixed
    /// `expires` in the past is not an error here: the template was valid once.
    ///
    /// # Errors
    /// [`IssueError::InvalidField`] naming the template key.
    pub fn check(&self) -> Result<(), IssueError> {
        if self.max_activations == Some(LimitSpec::Count(0)) {
            return Err(field_error(
                "max_activations",
                "0 lets no machine activate: give at least 1, or \"unlimited\"",
            ));
        }
        if self.machine_threshold == Some(0) {
            return Err(field_error(
                "machine_threshold",
                "0 would bind the license to no machine: give at least 1",
            ));
        }
        // Contradictions no request could satisfy, refused here rather than at activation.
        if let Some(t) = self.machine_threshold {
            let most = airseal_core::claims::MAX_COMPONENTS;
            if usize::from(t) > most {
                return Err(field_error(
                    "machine_threshold",
                    format!("{t} is more than the {most} components a request may carry"),
                ));
            }
            if let Some(min) = self.min_components.filter(|m| m.get() < t) {
                return Err(field_error(
                    "machine_threshold",
                    format!(
                        "{t} is more than min_components ({}): a request with {} to {} \
                         components would pass min_components and still be refused; set \
                         min_components to at least {t} or lower machine_threshold",
                        min.get(),
                        min.get(),
                        t - 1
                    ),
                ));
            }
        }
        let mut spec = self.clone();
        spec.product.get_or_insert_with(|| "check".to_string());
        let issuer = Issuer::new(SigningKey::from_bytes(&[1; 32]));
        spec.to_claims(&issuer, 0, &mut rand::rng()).map(|_| ())
    }

    /// Turns the description into claims issued at `now`, with fresh random ids.
    ///
    /// # Errors
    /// [`IssueError::InvalidField`] naming the field that is missing or wrong.
    pub fn to_claims(
        &self,
        issuer: &Issuer,
        now: UnixTime,
        rng: &mut impl Rng,
    ) -> Result<LicenseClaims, IssueError> {
        let product = self
            .product
            .clone()
            .ok_or_else(|| field_error("product", "a product id is required"))?;
        crate::ids::check_product_id(&product)
            .map_err(|e| field_error("product", e.to_string()))?;
        // The key is an id the ledger and revocation lists match on. Licensee fields are
        // signed data any issuer may fill: readers escape them (`SPEC.md` §17.6).
        if let Some(key) = &self.product_key {
            crate::ids::check_text("product key", key)
                .map_err(|e| field_error("product-key", e.to_string()))?;
        }
        let issuer_name = self
            .issuer
            .clone()
            .unwrap_or_else(|| issuer.key_id().to_string());
        let mut claims = LicenseClaims::new(
            issuer_name,
            new_license_id(rng),
            product,
            now,
            random_bytes(rng, TOKEN_ID_BYTES),
        );

        claims.licensee = Licensee {
            name: self.licensee_name.clone(),
            email: self.licensee_email.clone(),
            organization: self.licensee_org.clone(),
        };
        if let Some(email) = &claims.licensee.email {
            if !email.contains('@') || email.chars().any(char::is_whitespace) {
                return Err(field_error(
                    "licensee-email",
                    format!("{email:?} is not an e-mail address"),
                ));
            }
        }
        claims.product_key = self.product_key.clone();
        claims.expires_at = match (self.days, &self.expires) {
            (Some(_), Some(_)) => {
                return Err(field_error(
                    "expires",
                    "give either days or expires, not both",
                ));
            }
            (Some(days), None) => Some(end_after_days("days", now, days)?),
            (None, Some(_)) => self.fixed_expiry()?,
            (None, None) => None,
        };
        // A license that ends is a term (subscription or trial), never "perpetual": without
        // a kind, one with an end is a subscription; a perpetual one with an end is refused
        // (its updates period is `maintenance_until`).
        claims.kind = match (self.kind.as_deref(), claims.expires_at) {
            (None, None) | (Some("perpetual"), None) => LicenseKind::Perpetual,
            (None, Some(_)) | (Some("subscription"), _) => LicenseKind::Subscription,
            (Some("trial"), _) => LicenseKind::Trial,
            (Some("perpetual"), Some(_)) => {
                return Err(field_error(
                    "kind",
                    "a perpetual license has no expiry: make it a subscription, or give its \
                     updates period as maintenance_until",
                ));
            }
            (Some(other), _) => {
                return Err(field_error(
                    "kind",
                    format!("{other:?}: expected perpetual, subscription or trial"),
                ));
            }
        };
        if let Some(exp) = claims.expires_at {
            if exp <= now {
                return Err(field_error(
                    "expires",
                    "the license would already be expired",
                ));
            }
        }
        claims.not_before = self
            .not_before
            .as_deref()
            .map(|d| parse_time("not-before", d, EndOfDay::No))
            .transpose()?;
        if let (Some(nbf), Some(exp)) = (claims.not_before, claims.expires_at) {
            if nbf >= exp {
                return Err(field_error(
                    "not-before",
                    format!(
                        "{} is not before the expiry {}: the license could never be valid",
                        crate::time::format_time(nbf),
                        crate::time::format_time(exp)
                    ),
                ));
            }
        }
        for f in &self.features {
            let (name, date) = match f.split_once('=') {
                Some((n, d)) => (
                    n.trim(),
                    Some(parse_time("feature", d.trim(), EndOfDay::Yes)?),
                ),
                None => (f.trim(), None),
            };
            if let Some(bit) = bit_name(name) {
                let i = usize::from(bit - 1);
                claims.features.bits |= 1 << i;
                if let Some(slot) = claims.features.bit_expiry.get_mut(i) {
                    *slot = date;
                }
            } else if name.is_empty() {
                return Err(field_error("feature", "empty feature name"));
            } else if claims.features.named.iter().any(|n| n.name == name) {
                return Err(field_error("feature", format!("{name:?} given twice")));
            } else {
                claims.features.named.push(NamedFeature {
                    name: name.to_string(),
                    expires_at: date,
                });
            }
        }
        claims.max_activations = self.max_activations.map(Limit::from);
        claims.max_deactivations = self.max_deactivations.map(Limit::from);
        claims.maintenance_until = self
            .maintenance_until
            .as_deref()
            .map(|d| parse_time("maintenance-until", d, EndOfDay::Yes))
            .transpose()?;
        claims.grace_period = self.grace_days.map(|d| u64::from(d) * 86_400);
        claims.clock_offset = self.clock_offset_minutes.map(|m| u64::from(m) * 60);
        claims.metadata = self
            .metadata
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    MetaSpec::Int(i) => MetaValue::Int(*i),
                    MetaSpec::Text(s) => MetaValue::Text(s.clone()),
                };
                (k.clone(), v)
            })
            .collect();
        claims.normalize();
        claims.validate().map_err(IssueError::InvalidClaims)?;
        Ok(claims)
    }
}

/// A new random license id: 8 random bytes as 13 Crockford base32 symbols.
pub fn new_license_id(rng: &mut impl Rng) -> String {
    crockford(&random_bytes(rng, LICENSE_ID_BYTES))
}

fn random_bytes(rng: &mut impl Rng, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rng.fill_bytes(&mut v);
    v
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Crockford base32 (no padding) of `bytes`, most significant bits first.
pub fn crockford(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(CROCKFORD[((acc >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(CROCKFORD[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::format_time;

    #[test]
    fn a_fixed_expiry_ends_with_its_day_and_days_have_none() {
        let day_after = 1_827_964_800; // 2027-12-05T00:00:00Z
        let spec = LicenseSpec {
            expires: Some("2027-12-04".into()),
            ..LicenseSpec::default()
        };
        assert_eq!(spec.fixed_expiry().unwrap(), Some(day_after));
        assert!(!spec.has_ended(day_after - 1).unwrap());
        assert!(spec.has_ended(day_after).unwrap());
        let days = LicenseSpec {
            days: Some(1),
            ..LicenseSpec::default()
        };
        assert_eq!(days.fixed_expiry().unwrap(), None);
        assert!(!days.has_ended(i64::MAX).unwrap());
        let bad = LicenseSpec {
            expires: Some("31/12/2027".into()),
            ..LicenseSpec::default()
        };
        assert!(bad.has_ended(0).is_err());
    }

    fn issuer() -> Issuer {
        Issuer::new(SigningKey::from_bytes(&[1u8; 32]))
    }

    #[test]
    fn spec_to_claims_fills_every_field() {
        let spec = LicenseSpec::from_toml(
            r#"
            product = "photo-pro"
            kind = "subscription"
            licensee_email = "jane@example.com"
            days = 30
            features = ["F1", "F3=2030-01-01", "export-raw"]
            max_activations = "unlimited"
            grace_days = 7
            [metadata]
            order = "A-1001"
            seats = 5
            "#,
        )
        .unwrap();
        let c = spec
            .to_claims(&issuer(), 1_700_000_000, &mut rand::rng())
            .unwrap();
        assert_eq!(c.product, "photo-pro");
        assert_eq!(c.kind, LicenseKind::Subscription);
        assert_eq!(c.expires_at, Some(1_700_000_000 + 30 * 86_400));
        assert_eq!(c.features.bits, 0b101);
        assert_eq!(c.features.bit_expiry[2], Some(1_893_456_000 + 86_400));
        assert_eq!(c.features.named[0].name, "export-raw");
        assert_eq!(c.max_activations, Some(Limit::Unlimited));
        assert_eq!(c.grace_period, Some(7 * 86_400));
        assert_eq!(
            c.metadata[0],
            ("order".to_string(), MetaValue::Text("A-1001".into()))
        );
        assert_eq!(c.metadata[1], ("seats".to_string(), MetaValue::Int(5)));
        assert_eq!(c.license_id.len(), 13);
    }

    #[test]
    fn bad_fields_are_named() {
        let mut spec = LicenseSpec {
            product: Some("p".into()),
            ..Default::default()
        };
        spec.expires = Some("31/01/2027".into());
        let e = spec.to_claims(&issuer(), 0, &mut rand::rng()).unwrap_err();
        assert!(
            matches!(
                e,
                IssueError::InvalidField {
                    field: "expires",
                    ..
                }
            ),
            "{e}"
        );
        let spec = LicenseSpec {
            product: Some("p".into()),
            kind: Some("forever".into()),
            ..Default::default()
        };
        assert!(spec.to_claims(&issuer(), 0, &mut rand::rng()).is_err());
        let too_many = LicenseSpec {
            product: Some("p".into()),
            metadata: (0..51)
                .map(|i| (format!("k{i}"), MetaSpec::Int(i)))
                .collect(),
            ..Default::default()
        };
        assert_eq!(
            too_many
                .to_claims(&issuer(), 0, &mut rand::rng())
                .unwrap_err(),
            IssueError::InvalidClaims("more than 50 metadata entries")
        );
        assert!(LicenseSpec::from_toml("produkt = 1").is_err());
    }

    #[test]
    fn template_fills_only_missing_fields() {
        let base = LicenseSpec {
            product: Some("a".into()),
            days: Some(5),
            ..Default::default()
        };
        let spec = LicenseSpec {
            product: Some("b".into()),
            ..Default::default()
        }
        .or(base);
        assert_eq!(spec.product.as_deref(), Some("b"));
        assert_eq!(spec.days, Some(5));
    }

    #[test]
    fn an_own_expiry_overrides_the_templates_days_and_vice_versa() {
        let days = LicenseSpec {
            days: Some(365),
            ..Default::default()
        };
        let expires = LicenseSpec {
            expires: Some("2030-01-31".into()),
            ..Default::default()
        };
        let spec = expires.clone().or(days.clone());
        assert_eq!(
            (spec.days, spec.expires.as_deref()),
            (None, Some("2030-01-31"))
        );
        let spec = days.clone().or(expires.clone());
        assert_eq!((spec.days, spec.expires.as_deref()), (Some(365), None));
        // Neither given: both come from the base (which `to_claims` checks as usual).
        let spec = LicenseSpec::default().or(expires);
        assert_eq!(spec.expires.as_deref(), Some("2030-01-31"));
        let issuer = Issuer::new(SigningKey::from_bytes(&[3; 32]));
        let mut product = LicenseSpec {
            product: Some("p".into()),
            expires: Some("2030-01-31".into()),
            ..Default::default()
        }
        .or(days);
        product.issuer = Some("acme".into());
        let claims = product.to_claims(&issuer, 0, &mut rand::rng()).unwrap();
        assert_eq!(
            claims.expires_at,
            Some(parse_time("x", "2030-01-31", EndOfDay::Yes).unwrap())
        );
    }

    #[test]
    fn crockford_matches_the_base32_crate() {
        for len in 0..20u8 {
            let bytes: Vec<u8> = (0..len)
                .map(|i| i.wrapping_mul(37).wrapping_add(11))
                .collect();
            assert_eq!(
                crockford(&bytes),
                base32::encode(base32::Alphabet::Crockford, &bytes)
            );
        }
    }

    #[test]
    fn dates() {
        assert_eq!(parse_time("x", "1970-01-01", EndOfDay::No).unwrap(), 0);
        assert_eq!(
            parse_time("x", "1970-01-01", EndOfDay::Yes).unwrap(),
            86_400
        );
        assert_eq!(
            parse_time("x", "1970-01-01T01:00:00+01:00", EndOfDay::Yes).unwrap(),
            0
        );
        assert_eq!(format_time(86_400), "1970-01-02T00:00:00Z");
    }
}
