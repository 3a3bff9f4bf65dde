//! License claims: the CWT claims set (RFC 8392) inside a license's COSE_Sign1 payload.
//!
//! `SPEC.md` §4. Registered CWT claims carry who issued the license, to which product, and
//! when it is valid; airseal's own claims live in one private-use claim (key
//! [`AIRSEAL_CLAIMS_KEY`]) holding a map with small integer keys, which keeps a typical
//! license under 300 bytes. Non-negative keys are *critical*: a decoder that does not know
//! one must refuse the license rather than ignore a restriction it cannot enforce. Negative
//! keys are reserved for non-critical extensions and are skipped (after a well-formedness
//! check).

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::cbor::{DecodeError, DecodeErrorKind, KeyOrder, Major, Reader, Writer, text_key_order};
use crate::cose::{EnvelopeError, Sign1};

/// The private-use CWT claim key (RFC 8392 §9.1: below -65536) holding airseal's claims.
pub const AIRSEAL_CLAIMS_KEY: i64 = -65537;
/// At most this many metadata entries.
pub const MAX_METADATA: usize = 50;
/// At most this many named features.
pub const MAX_NAMED_FEATURES: usize = 64;
/// Longest metadata key or feature name, in bytes.
pub const MAX_NAME_LEN: usize = 64;
/// At most this many machine fingerprint components.
pub const MAX_COMPONENTS: usize = 16;
/// Length of one fingerprint component hash.
pub const COMPONENT_HASH_LEN: usize = 8;
/// Length of the request nonce an activation response echoes (the request's nonce).
pub const REQUEST_NONCE_LEN: usize = 16;
/// Longest `cti` (token id).
pub const MAX_TOKEN_ID_LEN: usize = 32;

// Registered CWT claim keys (RFC 8392 §4).
const ISS: i64 = 1;
const SUB: i64 = 2;
const AUD: i64 = 3;
const EXP: i64 = 4;
const NBF: i64 = 5;
const IAT: i64 = 6;
const CTI: i64 = 7;

// airseal claim keys, inside the map at AIRSEAL_CLAIMS_KEY (SPEC.md §4.2).
const K_KIND: u64 = 0;
const K_NAME: u64 = 1;
const K_EMAIL: u64 = 2;
const K_ORG: u64 = 3;
const K_PRODUCT_KEY: u64 = 4;
const K_FEATURE_BITS: u64 = 5;
const K_FEATURE_BIT_EXPIRY: u64 = 6;
const K_NAMED_FEATURES: u64 = 7;
const K_MAX_ACTIVATIONS: u64 = 8;
const K_MAX_DEACTIVATIONS: u64 = 9;
const K_MACHINE: u64 = 10;
const K_MAINTENANCE_UNTIL: u64 = 11;
const K_GRACE: u64 = 12;
const K_CLOCK_OFFSET: u64 = 13;
const K_METADATA: u64 = 14;
const K_REQUEST_NONCE: u64 = 15;

// Machine binding keys.
const M_THRESHOLD: u64 = 1;
const M_COMPONENTS: u64 = 2;
const M_DEVICE_KEY: u64 = 3;

/// Seconds since the Unix epoch, UTC (CWT NumericDate, integer only).
pub type UnixTime = i64;

/// What kind of license this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LicenseKind {
    /// Bought once; `exp` usually absent.
    Perpetual,
    /// Renewed periodically; `exp` marks the end of the paid period.
    Subscription,
    /// An evaluation; `exp` marks the end of the trial.
    Trial,
}

impl LicenseKind {
    fn code(self) -> u64 {
        match self {
            LicenseKind::Perpetual => 0,
            LicenseKind::Subscription => 1,
            LicenseKind::Trial => 2,
        }
    }

    fn from_code(code: u64) -> Option<Self> {
        match code {
            0 => Some(LicenseKind::Perpetual),
            1 => Some(LicenseKind::Subscription),
            2 => Some(LicenseKind::Trial),
            _ => None,
        }
    }

    /// Lower-case name: `perpetual`, `subscription`, `trial`.
    pub fn as_str(self) -> &'static str {
        match self {
            LicenseKind::Perpetual => "perpetual",
            LicenseKind::Subscription => "subscription",
            LicenseKind::Trial => "trial",
        }
    }
}

/// An upper bound that may be explicitly unlimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Limit {
    /// At most this many.
    AtMost(u64),
    /// No limit (encoded as CBOR `null`, never as a magic number).
    Unlimited,
}

/// Who the license was issued to. Every field is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Licensee {
    /// Person's name.
    pub name: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Organisation.
    pub organization: Option<String>,
}

/// A named feature with an optional end date.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedFeature {
    /// Feature name (1 to 64 bytes).
    pub name: String,
    /// When the feature stops being enabled; `None` = for the life of the license.
    pub expires_at: Option<UnixTime>,
}

/// Feature flags: the SKGL-style bits F1..F8 and named features, each with optional expiry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Features {
    /// Bit `i` (0-based) set means feature `F{i+1}` is granted.
    pub bits: u8,
    /// Optional end date per bit: index `i` is for `F{i+1}`; only set bits may have one.
    pub bit_expiry: [Option<UnixTime>; 8],
    /// Named features, sorted by the deterministic order of their names.
    pub named: Vec<NamedFeature>,
}

impl Features {
    /// Is `F{n}` (n in 1..=8) granted and not expired at `now`?
    pub fn bit_enabled(&self, n: u8, now: UnixTime) -> bool {
        let Some(i) = n.checked_sub(1).filter(|i| *i < 8) else {
            return false;
        };
        self.bits & (1 << i) != 0
            && self
                .bit_expiry
                .get(usize::from(i))
                .copied()
                .flatten()
                .is_none_or(|exp| now < exp)
    }

    /// Is the named feature granted and not expired at `now`? `F1`..`F8` name the bits.
    pub fn enabled(&self, name: &str, now: UnixTime) -> bool {
        if let Some(n) = bit_name(name) {
            return self.bit_enabled(n, now);
        }
        self.named
            .iter()
            .any(|f| f.name == name && f.expires_at.is_none_or(|exp| now < exp))
    }

    /// The names of every feature enabled at `now`: `F1`..`F8` first, then named ones.
    pub fn active(&self, now: UnixTime) -> Vec<String> {
        let mut out: Vec<String> = (1..=8u8)
            .filter(|n| self.bit_enabled(*n, now))
            .map(|n| alloc::format!("F{n}"))
            .collect();
        out.extend(
            self.named
                .iter()
                .filter(|f| f.expires_at.is_none_or(|exp| now < exp))
                .map(|f| f.name.clone()),
        );
        out
    }
}

/// `"F3"` → `Some(3)`; anything else → `None`.
pub fn bit_name(name: &str) -> Option<u8> {
    match name.as_bytes() {
        [b'F' | b'f', d @ b'1'..=b'8'] => Some(d - b'0'),
        _ => None,
    }
}

/// What binds a license to one machine (`SPEC.md` §4.3; filled in by activation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineBinding {
    /// How many of `components` must match the running machine (1..=components.len()).
    pub threshold: u8,
    /// Salted hashes of the machine's fingerprint components.
    pub components: Vec<[u8; COMPONENT_HASH_LEN]>,
    /// Key id of the device key that requested activation, if any.
    pub device_key: Option<[u8; 8]>,
}

impl MachineBinding {
    /// How many of this binding's component hashes the machine has: see [`matched_components`].
    pub fn matched(&self, machine: &[[u8; COMPONENT_HASH_LEN]]) -> u8 {
        matched_components(&self.components, machine)
    }
}

/// How many **distinct** hashes of `recorded` are among `offered`: the one matching rule of
/// node-locking (`SPEC.md` §4.2), used by the verifier for a license's machine binding and
/// by the vendor for a seat's machine and for earlier trials. A hash listed twice on either
/// side counts once, so repeating one component can never stand in for another.
pub fn matched_components(
    recorded: &[[u8; COMPONENT_HASH_LEN]],
    offered: &[[u8; COMPONENT_HASH_LEN]],
) -> u8 {
    let n = recorded
        .iter()
        .enumerate()
        .filter(|(i, c)| {
            offered.contains(c) && !recorded.get(..*i).is_some_and(|seen| seen.contains(c))
        })
        .count();
    u8::try_from(n).unwrap_or(u8::MAX)
}

/// Whether no component hash is listed twice: requests (§15.1) and machine bindings (§4.2)
/// must hold distinct hashes, so one component cannot be offered as several.
pub fn components_distinct(list: &[[u8; COMPONENT_HASH_LEN]]) -> bool {
    list.iter()
        .enumerate()
        .all(|(i, c)| !list.get(..i).is_some_and(|seen| seen.contains(c)))
}

/// A metadata value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetaValue {
    /// A text value.
    Text(String),
    /// An integer value.
    Int(i64),
}

/// Everything a license says. `SPEC.md` §4 defines each field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LicenseClaims {
    /// `iss`: the vendor.
    pub issuer: String,
    /// `sub`: the license id, stable across renewals.
    pub license_id: String,
    /// `aud`: the product id the license is for.
    pub product: String,
    /// `iat`: when it was issued.
    pub issued_at: UnixTime,
    /// `nbf`: not valid before; absent means from `iat`.
    pub not_before: Option<UnixTime>,
    /// `exp`: not valid from this instant on; absent means no end.
    pub expires_at: Option<UnixTime>,
    /// `cti`: unique id of this signed document (1 to 32 bytes).
    pub token_id: Vec<u8>,
    /// Perpetual, subscription or trial.
    pub kind: LicenseKind,
    /// Who it was issued to.
    pub licensee: Licensee,
    /// The product key this license belongs to, in canonical form.
    pub product_key: Option<String>,
    /// Feature bits and named features.
    pub features: Features,
    /// Maximum machine activations.
    pub max_activations: Option<Limit>,
    /// Maximum deactivations (seat transfers).
    pub max_deactivations: Option<Limit>,
    /// Machine binding of a node-locked license.
    pub machine: Option<MachineBinding>,
    /// Releases published after this instant are not covered (perpetual fallback).
    pub maintenance_until: Option<UnixTime>,
    /// Seconds after `exp` during which the license still works, flagged as "in grace".
    pub grace_period: Option<u64>,
    /// Seconds of clock skew (and clock rollback) tolerated.
    pub clock_offset: Option<u64>,
    /// Free-form metadata, sorted by the deterministic order of its keys.
    pub metadata: Vec<(String, MetaValue)>,
    /// The nonce of the activation request this license answers (`SPEC.md` §15.3): set in
    /// activation responses only, so the app can refuse a response made for another
    /// request.
    pub request_nonce: Option<[u8; REQUEST_NONCE_LEN]>,
    /// Non-critical extensions: top-level claims with negative keys (other than airseal's
    /// own), as (key, encoded CBOR value). Kept verbatim so re-encoding loses nothing.
    pub extensions: Vec<(i64, Vec<u8>)>,
    /// Non-critical extensions inside airseal's claims map (negative keys), verbatim.
    pub airseal_extensions: Vec<(i64, Vec<u8>)>,
}

impl LicenseClaims {
    /// A minimal perpetual license; fill in the rest field by field.
    pub fn new(
        issuer: impl Into<String>,
        license_id: impl Into<String>,
        product: impl Into<String>,
        issued_at: UnixTime,
        token_id: Vec<u8>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            license_id: license_id.into(),
            product: product.into(),
            issued_at,
            not_before: None,
            expires_at: None,
            token_id,
            kind: LicenseKind::Perpetual,
            licensee: Licensee::default(),
            product_key: None,
            features: Features::default(),
            max_activations: None,
            max_deactivations: None,
            machine: None,
            maintenance_until: None,
            grace_period: None,
            clock_offset: None,
            metadata: Vec::new(),
            request_nonce: None,
            extensions: Vec::new(),
            airseal_extensions: Vec::new(),
        }
    }

    /// The claims an envelope carries, decoded from its payload (with error offsets into
    /// the envelope). Checks neither the signature nor the object type: callers that verify
    /// do so on `sign1` first.
    ///
    /// # Errors
    /// As [`LicenseClaims::decode`].
    pub fn of_sign1(sign1: &Sign1<'_>) -> Result<Self, DecodeError> {
        Self::decode(sign1.payload, sign1.payload_offset)
    }

    /// Reads what a signed license or activation response (raw COSE_Sign1 bytes, not
    /// armored) claims, WITHOUT checking its signature, its key or its type: for showing a
    /// file (`airseal inspect`), finding the data folder it belongs to, or reading back
    /// bytes this process signed or stored itself. Never a basis for trusting a license;
    /// `airseal_verify::TrustStore` is.
    ///
    /// # Errors
    /// [`EnvelopeError`] when the envelope or its claims are malformed.
    pub fn read_unverified(document: &[u8]) -> Result<Self, EnvelopeError> {
        let sign1 = crate::cose::parse_sign1(document)?;
        Ok(Self::of_sign1(&sign1)?)
    }

    /// The start of validity: `nbf`, or `iat` when `nbf` is absent.
    pub fn valid_from(&self) -> UnixTime {
        self.not_before.unwrap_or(self.issued_at)
    }

    /// Puts named features and metadata into deterministic order, as the encoding requires.
    pub fn normalize(&mut self) {
        self.features
            .named
            .sort_by(|a, b| text_key_order(&a.name, &b.name));
        self.metadata.sort_by(|a, b| text_key_order(&a.0, &b.0));
    }

    /// Checks every rule the decoder enforces, so an issuer never signs a license that no
    /// verifier would accept. Call [`LicenseClaims::normalize`] first.
    ///
    /// # Errors
    /// The first broken rule, as a sentence naming the field.
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.token_id.is_empty() || self.token_id.len() > MAX_TOKEN_ID_LEN {
            return Err("cti (token id) must be 1 to 32 bytes");
        }
        if self.features.bits == 0 && self.features.bit_expiry.iter().any(Option::is_some)
            || (0..8).any(|i| {
                self.features.bits & (1 << i) == 0
                    && self.features.bit_expiry.get(i).copied().flatten().is_some()
            })
        {
            return Err("feature bit expiry given for a feature bit that is not granted");
        }
        if self.features.named.len() > MAX_NAMED_FEATURES {
            return Err("more than 64 named features");
        }
        if self
            .features
            .named
            .iter()
            .any(|f| f.name.is_empty() || f.name.len() > MAX_NAME_LEN)
        {
            return Err("feature names must be 1 to 64 bytes");
        }
        if self
            .features
            .named
            .iter()
            .any(|f| bit_name(&f.name).is_some())
        {
            return Err("F1..F8 are feature bits, not named features");
        }
        if !strictly_sorted(self.features.named.iter().map(|f| f.name.as_str())) {
            return Err("named features must be unique");
        }
        if self.metadata.len() > MAX_METADATA {
            return Err("more than 50 metadata entries");
        }
        if self
            .metadata
            .iter()
            .any(|(k, _)| k.is_empty() || k.len() > MAX_NAME_LEN)
        {
            return Err("metadata keys must be 1 to 64 bytes");
        }
        if !strictly_sorted(self.metadata.iter().map(|(k, _)| k.as_str())) {
            return Err("metadata keys must be unique");
        }
        if self.max_activations == Some(Limit::AtMost(0)) {
            return Err("max activations must be at least 1 (or unlimited)");
        }
        if let Some(m) = &self.machine {
            if m.components.is_empty() || m.components.len() > MAX_COMPONENTS {
                return Err("machine binding needs 1 to 16 components");
            }
            if m.threshold == 0 || usize::from(m.threshold) > m.components.len() {
                return Err("machine threshold must be between 1 and the number of components");
            }
            if !components_distinct(&m.components) {
                return Err("machine binding components must be distinct");
            }
        }
        Ok(())
    }

    /// Serializes the claims as deterministic CBOR. Call [`LicenseClaims::normalize`] and
    /// [`LicenseClaims::validate`] first; [`crate`] users normally go through an issuer.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        let top = 5
            + usize::from(self.expires_at.is_some())
            + usize::from(self.not_before.is_some())
            + 1 // airseal map
            + self.extensions.len();
        w.map(top);
        // Registered claims 1..=7 encode below every negative key, so they come first.
        w.int(ISS).text(&self.issuer);
        w.int(SUB).text(&self.license_id);
        w.int(AUD).text(&self.product);
        if let Some(exp) = self.expires_at {
            w.int(EXP).int(exp);
        }
        if let Some(nbf) = self.not_before {
            w.int(NBF).int(nbf);
        }
        w.int(IAT).int(self.issued_at);
        w.int(CTI).bytes(&self.token_id);
        // Negative keys (airseal's and extensions) in the bytewise order of their encodings.
        let mut private = Writer::new();
        self.encode_private(&mut private);
        let mut rest: Vec<(Vec<u8>, &[u8])> = self
            .extensions
            .iter()
            .map(|(k, v)| (encoded_key(*k), v.as_slice()))
            .collect();
        let private = private.into_bytes();
        rest.push((encoded_key(AIRSEAL_CLAIMS_KEY), &private));
        rest.sort_by(|a, b| a.0.cmp(&b.0));
        for (k, v) in rest {
            w.raw(&k).raw(v);
        }
        w.into_bytes()
    }

    fn encode_private(&self, w: &mut Writer) {
        let f = &self.features;
        let has_bit_expiry = f.bit_expiry.iter().any(Option::is_some);
        let l = &self.licensee;
        let n = 1
            + usize::from(l.name.is_some())
            + usize::from(l.email.is_some())
            + usize::from(l.organization.is_some())
            + usize::from(self.product_key.is_some())
            + usize::from(f.bits != 0)
            + usize::from(has_bit_expiry)
            + usize::from(!f.named.is_empty())
            + usize::from(self.max_activations.is_some())
            + usize::from(self.max_deactivations.is_some())
            + usize::from(self.machine.is_some())
            + usize::from(self.maintenance_until.is_some())
            + usize::from(self.grace_period.is_some())
            + usize::from(self.clock_offset.is_some())
            + usize::from(!self.metadata.is_empty())
            + usize::from(self.request_nonce.is_some())
            + self.airseal_extensions.len();
        w.map(n);
        w.uint(K_KIND).uint(self.kind.code());
        for (key, value) in [
            (K_NAME, &l.name),
            (K_EMAIL, &l.email),
            (K_ORG, &l.organization),
        ] {
            if let Some(v) = value {
                w.uint(key).text(v);
            }
        }
        if let Some(pk) = &self.product_key {
            w.uint(K_PRODUCT_KEY).text(pk);
        }
        if f.bits != 0 {
            w.uint(K_FEATURE_BITS).uint(u64::from(f.bits));
        }
        if has_bit_expiry {
            let entries: Vec<(u64, i64)> = (1u64..=8)
                .zip(f.bit_expiry.iter())
                .filter_map(|(n, e)| e.map(|e| (n, e)))
                .collect();
            w.uint(K_FEATURE_BIT_EXPIRY).map(entries.len());
            for (n, e) in entries {
                w.uint(n).int(e);
            }
        }
        if !f.named.is_empty() {
            w.uint(K_NAMED_FEATURES).map(f.named.len());
            for nf in &f.named {
                w.text(&nf.name);
                match nf.expires_at {
                    Some(e) => w.int(e),
                    None => w.null(),
                };
            }
        }
        for (key, limit) in [
            (K_MAX_ACTIVATIONS, self.max_activations),
            (K_MAX_DEACTIVATIONS, self.max_deactivations),
        ] {
            match limit {
                Some(Limit::AtMost(n)) => {
                    w.uint(key).uint(n);
                }
                Some(Limit::Unlimited) => {
                    w.uint(key).null();
                }
                None => {}
            }
        }
        if let Some(m) = &self.machine {
            w.uint(K_MACHINE)
                .map(2 + usize::from(m.device_key.is_some()));
            w.uint(M_THRESHOLD).uint(u64::from(m.threshold));
            w.uint(M_COMPONENTS).array(m.components.len());
            for c in &m.components {
                w.bytes(c);
            }
            if let Some(dk) = &m.device_key {
                w.uint(M_DEVICE_KEY).bytes(dk);
            }
        }
        if let Some(t) = self.maintenance_until {
            w.uint(K_MAINTENANCE_UNTIL).int(t);
        }
        if let Some(g) = self.grace_period {
            w.uint(K_GRACE).uint(g);
        }
        if let Some(c) = self.clock_offset {
            w.uint(K_CLOCK_OFFSET).uint(c);
        }
        if !self.metadata.is_empty() {
            w.uint(K_METADATA).map(self.metadata.len());
            for (k, v) in &self.metadata {
                w.text(k);
                match v {
                    MetaValue::Text(s) => w.text(s),
                    MetaValue::Int(i) => w.int(*i),
                };
            }
        }
        if let Some(nonce) = &self.request_nonce {
            w.uint(K_REQUEST_NONCE).bytes(nonce);
        }
        // Negative keys encode above every non-negative one, so extensions come last.
        let mut ext: Vec<(Vec<u8>, &[u8])> = self
            .airseal_extensions
            .iter()
            .map(|(k, v)| (encoded_key(*k), v.as_slice()))
            .collect();
        ext.sort_by(|a, b| a.0.cmp(&b.0));
        for (k, v) in ext {
            w.raw(&k).raw(v);
        }
    }

    /// Decodes a claims set with every strictness rule of `SPEC.md` §2 and §4.
    ///
    /// `base` is the payload's offset within the envelope, so error offsets point into the
    /// file the user has.
    ///
    /// # Errors
    /// A [`DecodeError`] naming the claim, the byte offset and the broken rule.
    pub fn decode(payload: &[u8], base: usize) -> Result<Self, DecodeError> {
        let mut r = Reader::with_base(payload, base);
        r.set_context("claims");
        let start = r.position();
        let n = r.map()?;
        let mut order = KeyOrder::new();
        let (mut iss, mut sub, mut aud, mut iat, mut cti) = (None, None, None, None, None);
        // airseal's own claims are decoded straight into the result; the registered claims
        // are filled in once all are known to be present.
        let mut claims =
            LicenseClaims::new(String::new(), String::new(), String::new(), 0, Vec::new());
        let mut seen_private = false;
        let (mut exp, mut nbf) = (None, None);
        for _ in 0..n {
            r.set_context("claims");
            let key_at = r.position();
            let key = r.int()?;
            order.check(&r, key_at)?;
            match key {
                ISS => {
                    r.set_context("claims.iss");
                    iss = Some(r.text()?.to_string());
                }
                SUB => {
                    r.set_context("claims.sub");
                    sub = Some(r.text()?.to_string());
                }
                AUD => {
                    r.set_context("claims.aud");
                    aud = Some(r.text()?.to_string());
                }
                EXP => {
                    r.set_context("claims.exp");
                    exp = Some(r.int()?);
                }
                NBF => {
                    r.set_context("claims.nbf");
                    nbf = Some(r.int()?);
                }
                IAT => {
                    r.set_context("claims.iat");
                    iat = Some(r.int()?);
                }
                CTI => {
                    r.set_context("claims.cti");
                    let at = r.position();
                    let b = r.bytes()?;
                    if b.is_empty() || b.len() > MAX_TOKEN_ID_LEN {
                        return Err(r.error_at(
                            at,
                            DecodeErrorKind::InvalidValue("cti must be 1 to 32 bytes"),
                        ));
                    }
                    cti = Some(b.to_vec());
                }
                AIRSEAL_CLAIMS_KEY => {
                    r.set_context("claims.airseal");
                    decode_private(&mut r, &mut claims)?;
                    seen_private = true;
                }
                k if k >= 0 => {
                    return Err(r.error_at(key_at, DecodeErrorKind::UnknownCriticalKey(k)));
                }
                _ => {
                    r.set_context("claims (extension)");
                    let at = r.position();
                    r.skip()?;
                    claims
                        .extensions
                        .push((key, r.slice(at, r.position()).to_vec()));
                }
            }
        }
        r.set_context("claims");
        r.finish()?;
        let missing = |ctx| {
            r.error_at(start, DecodeErrorKind::MissingField)
                .with_context(ctx)
        };
        if !seen_private {
            return Err(missing("claims.airseal"));
        }
        claims.issuer = iss.ok_or_else(|| missing("claims.iss"))?;
        claims.license_id = sub.ok_or_else(|| missing("claims.sub"))?;
        claims.product = aud.ok_or_else(|| missing("claims.aud"))?;
        claims.issued_at = iat.ok_or_else(|| missing("claims.iat"))?;
        claims.token_id = cti.ok_or_else(|| missing("claims.cti"))?;
        claims.not_before = nbf;
        claims.expires_at = exp;
        Ok(claims)
    }
}

fn encoded_key(k: i64) -> Vec<u8> {
    let mut w = Writer::new();
    w.int(k);
    w.into_bytes()
}

fn strictly_sorted<'a>(mut it: impl Iterator<Item = &'a str>) -> bool {
    let Some(mut prev) = it.next() else {
        return true;
    };
    for k in it {
        if text_key_order(prev, k) != core::cmp::Ordering::Less {
            return false;
        }
        prev = k;
    }
    true
}

fn invalid(r: &Reader<'_>, at: usize, why: &'static str) -> DecodeError {
    r.error_at(at, DecodeErrorKind::InvalidValue(why))
}

/// Decodes airseal's claims map into `p` (whose registered claims the caller fills in).
fn decode_private(r: &mut Reader<'_>, p: &mut LicenseClaims) -> Result<(), DecodeError> {
    let start = r.position();
    let n = r.map()?;
    let mut order = KeyOrder::new();
    let mut kind = None;
    for _ in 0..n {
        r.set_context("claims.airseal");
        let key_at = r.position();
        let key = r.int()?;
        order.check(r, key_at)?;
        let Ok(key) = u64::try_from(key) else {
            r.set_context("claims.airseal (extension)");
            let at = r.position();
            r.skip()?;
            p.airseal_extensions
                .push((key, r.slice(at, r.position()).to_vec()));
            continue;
        };
        let at = r.position();
        match key {
            K_KIND => {
                r.set_context("claims.airseal.kind");
                let code = r.uint()?;
                kind = Some(
                    LicenseKind::from_code(code)
                        .ok_or_else(|| invalid(r, at, "unknown license kind"))?,
                );
            }
            K_NAME => {
                r.set_context("claims.airseal.licensee_name");
                p.licensee.name = Some(r.text()?.to_string());
            }
            K_EMAIL => {
                r.set_context("claims.airseal.licensee_email");
                p.licensee.email = Some(r.text()?.to_string());
            }
            K_ORG => {
                r.set_context("claims.airseal.licensee_org");
                p.licensee.organization = Some(r.text()?.to_string());
            }
            K_PRODUCT_KEY => {
                r.set_context("claims.airseal.product_key");
                p.product_key = Some(r.text()?.to_string());
            }
            K_FEATURE_BITS => {
                r.set_context("claims.airseal.feature_bits");
                let bits = r.uint()?;
                p.features.bits = u8::try_from(bits).ok().filter(|b| *b != 0).ok_or_else(|| {
                    invalid(r, at, "feature bits must be 1..=255 (omit when none)")
                })?;
            }
            K_FEATURE_BIT_EXPIRY => {
                r.set_context("claims.airseal.feature_bit_expiry");
                let m = r.map()?;
                if m == 0 {
                    return Err(invalid(r, at, "empty map (omit it instead)"));
                }
                let mut inner = KeyOrder::new();
                for _ in 0..m {
                    let k_at = r.position();
                    let bit = r.uint()?;
                    inner.check(r, k_at)?;
                    let idx = bit
                        .checked_sub(1)
                        .filter(|i| *i < 8 && p.features.bits & (1 << i) != 0)
                        .ok_or_else(|| {
                            invalid(r, k_at, "expiry for a feature bit that is not granted")
                        })?;
                    let exp = r.int()?;
                    if let Some(slot) = p.features.bit_expiry.get_mut(idx as usize) {
                        *slot = Some(exp);
                    }
                }
            }
            K_NAMED_FEATURES => {
                r.set_context("claims.airseal.features");
                let m = r.map()?;
                if m == 0 || m > MAX_NAMED_FEATURES {
                    return Err(invalid(r, at, "named features must have 1 to 64 entries"));
                }
                let mut inner = KeyOrder::new();
                for _ in 0..m {
                    let k_at = r.position();
                    let name = r.text()?;
                    inner.check(r, k_at)?;
                    if name.is_empty() || name.len() > MAX_NAME_LEN || bit_name(name).is_some() {
                        return Err(invalid(
                            r,
                            k_at,
                            "feature name must be 1 to 64 bytes and not F1..F8",
                        ));
                    }
                    let expires_at = if r.null() { None } else { Some(r.int()?) };
                    p.features.named.push(NamedFeature {
                        name: name.to_string(),
                        expires_at,
                    });
                }
            }
            K_MAX_ACTIVATIONS => {
                r.set_context("claims.airseal.max_activations");
                let limit = decode_limit(r)?;
                if limit == Limit::AtMost(0) {
                    return Err(invalid(
                        r,
                        at,
                        "max activations must be at least 1 (or null)",
                    ));
                }
                p.max_activations = Some(limit);
            }
            K_MAX_DEACTIVATIONS => {
                r.set_context("claims.airseal.max_deactivations");
                p.max_deactivations = Some(decode_limit(r)?);
            }
            K_MACHINE => {
                r.set_context("claims.airseal.machine");
                p.machine = Some(decode_machine(r)?);
            }
            K_MAINTENANCE_UNTIL => {
                r.set_context("claims.airseal.maintenance_until");
                p.maintenance_until = Some(r.int()?);
            }
            K_GRACE => {
                r.set_context("claims.airseal.grace_period");
                p.grace_period = Some(r.uint()?);
            }
            K_CLOCK_OFFSET => {
                r.set_context("claims.airseal.clock_offset");
                p.clock_offset = Some(r.uint()?);
            }
            K_METADATA => {
                r.set_context("claims.airseal.metadata");
                let m = r.map()?;
                if m == 0 || m > MAX_METADATA {
                    return Err(invalid(r, at, "metadata must have 1 to 50 entries"));
                }
                let mut inner = KeyOrder::new();
                for _ in 0..m {
                    let k_at = r.position();
                    let k = r.text()?;
                    inner.check(r, k_at)?;
                    if k.is_empty() || k.len() > MAX_NAME_LEN {
                        return Err(invalid(r, k_at, "metadata key must be 1 to 64 bytes"));
                    }
                    let v_at = r.position();
                    let v = match r.peek_major()? {
                        Major::Text => MetaValue::Text(r.text()?.to_string()),
                        Major::Unsigned | Major::Negative => MetaValue::Int(r.int()?),
                        other => {
                            return Err(r.error_at(
                                v_at,
                                DecodeErrorKind::UnexpectedType {
                                    expected: "text or integer",
                                    found: other.name(),
                                },
                            ));
                        }
                    };
                    p.metadata.push((k.to_string(), v));
                }
            }
            K_REQUEST_NONCE => {
                r.set_context("claims.airseal.request_nonce");
                p.request_nonce = Some(r.bytes_exact::<REQUEST_NONCE_LEN>()?);
            }
            other => {
                return Err(r.error_at(key_at, DecodeErrorKind::UnknownCriticalKey(other as i64)));
            }
        }
    }
    p.kind = kind.ok_or_else(|| {
        r.error_at(start, DecodeErrorKind::MissingField)
            .with_context("claims.airseal.kind")
    })?;
    Ok(())
}

fn decode_limit(r: &mut Reader<'_>) -> Result<Limit, DecodeError> {
    if r.null() {
        Ok(Limit::Unlimited)
    } else {
        Ok(Limit::AtMost(r.uint()?))
    }
}

fn decode_machine(r: &mut Reader<'_>) -> Result<MachineBinding, DecodeError> {
    let start = r.position();
    let n = r.map()?;
    let mut order = KeyOrder::new();
    let (mut threshold, mut components, mut device_key) = (None, None, None);
    for _ in 0..n {
        let key_at = r.position();
        let key = r.uint()?;
        order.check(r, key_at)?;
        let at = r.position();
        match key {
            M_THRESHOLD => {
                threshold = Some(
                    u8::try_from(r.uint()?)
                        .map_err(|_| invalid(r, at, "threshold out of range"))?,
                );
            }
            M_COMPONENTS => {
                let count = r.array()?;
                if count == 0 || count > MAX_COMPONENTS {
                    return Err(invalid(r, at, "machine binding needs 1 to 16 components"));
                }
                let mut list = Vec::with_capacity(count);
                for _ in 0..count {
                    list.push(r.bytes_exact::<COMPONENT_HASH_LEN>()?);
                }
                if !components_distinct(&list) {
                    return Err(invalid(
                        r,
                        at,
                        "machine binding components must be distinct",
                    ));
                }
                components = Some(list);
            }
            M_DEVICE_KEY => device_key = Some(r.bytes_exact::<8>()?),
            other => {
                return Err(r.error_at(key_at, DecodeErrorKind::UnknownCriticalKey(other as i64)));
            }
        }
    }
    let missing = || r.error_at(start, DecodeErrorKind::MissingField);
    let threshold = threshold.ok_or_else(missing)?;
    let components = components.ok_or_else(missing)?;
    if threshold == 0 || usize::from(threshold) > components.len() {
        return Err(invalid(
            r,
            start,
            "threshold must be between 1 and the number of components",
        ));
    }
    Ok(MachineBinding {
        threshold,
        components,
        device_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn matching_counts_each_component_once() {
        let (h, i, j) = ([1u8; 8], [2u8; 8], [3u8; 8]);
        assert_eq!(matched_components(&[h, i, j], &[h, i, j]), 3);
        assert_eq!(matched_components(&[h, i, j], &[h, h, h]), 1);
        assert_eq!(matched_components(&[h, h], &[h]), 1);
        assert_eq!(matched_components(&[h, i], &[j]), 0);
        assert!(components_distinct(&[h, i, j]));
        assert!(!components_distinct(&[h, i, h]));
        assert!(components_distinct(&[]));
    }

    #[test]
    fn a_binding_with_a_repeated_component_is_refused_when_issued() {
        let mut c = LicenseClaims::new("acme", "L", "p", 0, vec![1]);
        c.machine = Some(MachineBinding {
            threshold: 2,
            components: vec![[1; 8], [1; 8]],
            device_key: None,
        });
        assert_eq!(
            c.validate(),
            Err("machine binding components must be distinct")
        );
    }
}
