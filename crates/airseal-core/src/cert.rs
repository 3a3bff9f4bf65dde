//! Issuing-key certificates (`SPEC.md` §18): a root key, kept offline, certifies an issuing
//! key for a window of time and a scope, so a server can sign licenses without holding a key
//! apps trust directly. If the server's key leaks, the vendor revokes its key id and
//! certifies another; apps keep the root they ship.
//!
//! A certificate is a COSE_Sign1 (§3) signed by a root key with `typ` `airseal-cert`. An
//! object signed by an issuing key carries its certificate in its protected header
//! ([`crate::cose::encode_protected_with_cert`]), so an app needs nothing but the root public
//! key. There is one level only: a certificate never carries a certificate.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::cbor::{
    DecodeError, DecodeErrorKind, KeyOrder, Reader, Writer, ascending, text_key_order,
};
use crate::claims::UnixTime;
use crate::cose::ObjectType;
use crate::kid::KeyId;

const K_SERIAL: u64 = 1;
const K_KEY: u64 = 2;
const K_NOT_BEFORE: u64 = 3;
const K_NOT_AFTER: u64 = 4;
const K_PRODUCTS: u64 = 5;
const K_MAY_SIGN: u64 = 6;
const K_LIST_SEQ: u64 = 7;

/// What an issuing key may sign: a bit set over object types.
///
/// Requests and deactivation proofs are signed by device keys and certificates by roots, so
/// they have no bit: an issuing key can never sign them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct MaySign(pub u8);

impl MaySign {
    /// Licenses (`airseal-license`).
    pub const LICENSES: MaySign = MaySign(1);
    /// Activation responses and license updates (`airseal-activation`).
    pub const ACTIVATIONS: MaySign = MaySign(2);
    /// Revocation lists (`airseal-revocations`), within the certificate's sequence range.
    pub const REVOCATIONS: MaySign = MaySign(4);
    /// Signed product keys (§12.4); they cannot carry a certificate, so the app adds it to
    /// its trust store.
    pub const SIGNED_KEYS: MaySign = MaySign(8);
    /// Every bit a certificate may set.
    pub const ALL: MaySign = MaySign(15);

    const NAMES: [(MaySign, &'static str); 4] = [
        (MaySign::LICENSES, "licenses"),
        (MaySign::ACTIVATIONS, "activations"),
        (MaySign::REVOCATIONS, "revocations"),
        (MaySign::SIGNED_KEYS, "signed-keys"),
    ];

    /// Does the set contain every bit of `other`?
    pub fn contains(self, other: MaySign) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union of two sets.
    #[must_use]
    pub fn with(self, other: MaySign) -> MaySign {
        MaySign(self.0 | other.0)
    }

    /// The bit an object type needs, if an issuing key can sign it at all.
    pub fn for_type(typ: ObjectType) -> Option<MaySign> {
        match typ {
            ObjectType::License => Some(MaySign::LICENSES),
            ObjectType::ActivationResponse => Some(MaySign::ACTIVATIONS),
            ObjectType::RevocationList => Some(MaySign::REVOCATIONS),
            ObjectType::SignedKey => Some(MaySign::SIGNED_KEYS),
            _ => None,
        }
    }

    /// May a key with this set sign objects of type `typ`?
    pub fn allows(self, typ: ObjectType) -> bool {
        MaySign::for_type(typ).is_some_and(|bit| self.contains(bit))
    }

    /// The words for the set bits, in bit order ("licenses", "activations", "revocations",
    /// "signed-keys").
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .into_iter()
            .filter(move |(bit, _)| self.contains(*bit))
            .map(|(_, name)| name)
    }

    /// The bit one of those words names.
    pub fn from_name(name: &str) -> Option<MaySign> {
        Self::NAMES
            .into_iter()
            .find(|(_, n)| *n == name)
            .map(|(bit, _)| bit)
    }
}

/// A decoded issuing-key certificate payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    /// The vendor's number for this certificate (≥ 1), for audit and display. Revocation
    /// names the key id, not the serial: every certificate of a revoked key is revoked.
    pub serial: u64,
    /// The issuing key's Ed25519 public key.
    pub key: [u8; 32],
    /// Objects issued (`iat`) before this instant are refused.
    pub not_before: UnixTime,
    /// Objects issued at or after this instant are refused.
    pub not_after: UnixTime,
    /// The products the key may sign for, in deterministic order; empty = every product.
    pub products: Vec<String>,
    /// What the key may sign.
    pub may_sign: MaySign,
    /// For keys that may sign revocation lists: the `seq` range `[lo, hi)` their lists must
    /// use, so one stolen key cannot push the sequence to the end of its range (§18.4).
    pub list_seq: Option<(u64, u64)>,
}

impl Certificate {
    /// The issuing key's id: what objects it signs are known by.
    pub fn key_id(&self) -> KeyId {
        KeyId::of_public_key(&self.key)
    }

    /// Does the window contain this issue time (`not_before ≤ iat < not_after`)?
    pub fn covers(&self, issued_at: UnixTime) -> bool {
        self.not_before <= issued_at && issued_at < self.not_after
    }

    /// May the key sign for this product?
    pub fn allows_product(&self, product: &str) -> bool {
        self.products.is_empty()
            || self
                .products
                .binary_search_by(|p| text_key_order(p, product))
                .is_ok()
    }

    /// Sorts and de-duplicates the products, as the encoding requires.
    pub fn normalize(&mut self) {
        self.products.sort_by(|a, b| text_key_order(a, b));
        self.products.dedup();
    }

    /// Deterministic CBOR encoding (call [`Certificate::normalize`] first).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        let n = 5 + usize::from(!self.products.is_empty()) + usize::from(self.list_seq.is_some());
        w.map(n);
        w.uint(K_SERIAL).uint(self.serial);
        w.uint(K_KEY).bytes(&self.key);
        w.uint(K_NOT_BEFORE).int(self.not_before);
        w.uint(K_NOT_AFTER).int(self.not_after);
        if !self.products.is_empty() {
            w.uint(K_PRODUCTS).array(self.products.len());
            for p in &self.products {
                w.text(p);
            }
        }
        w.uint(K_MAY_SIGN).uint(u64::from(self.may_sign.0));
        if let Some((lo, hi)) = self.list_seq {
            w.uint(K_LIST_SEQ).array(2).uint(lo).uint(hi);
        }
        w.into_bytes()
    }

    /// Decodes a certificate payload with the strict rules of `SPEC.md` §2 and §18.1.
    ///
    /// # Errors
    /// A [`DecodeError`] naming the field, offset and rule.
    pub fn decode(payload: &[u8], base: usize) -> Result<Self, DecodeError> {
        let mut r = Reader::with_base(payload, base);
        r.set_context("certificate");
        let start = r.position();
        let n = r.map()?;
        let mut order = KeyOrder::new();
        let (mut serial, mut key, mut not_before, mut not_after) = (None, None, None, None);
        let (mut products, mut may_sign, mut list_seq) = (Vec::new(), None, None);
        for _ in 0..n {
            r.set_context("certificate");
            let key_at = r.position();
            let label = r.int()?;
            order.check(&r, key_at)?;
            match u64::try_from(label) {
                Ok(K_SERIAL) => {
                    r.set_context("certificate.serial");
                    let at = r.position();
                    let s = r.uint()?;
                    if s == 0 {
                        return Err(r.error_at(at, DecodeErrorKind::InvalidValue("serial 0")));
                    }
                    serial = Some(s);
                }
                Ok(K_KEY) => {
                    r.set_context("certificate.key");
                    key = Some(r.bytes_exact::<32>()?);
                }
                Ok(K_NOT_BEFORE) => {
                    r.set_context("certificate.not_before");
                    not_before = Some(r.int()?);
                }
                Ok(K_NOT_AFTER) => {
                    r.set_context("certificate.not_after");
                    not_after = Some((r.position(), r.int()?));
                }
                Ok(K_PRODUCTS) => {
                    r.set_context("certificate.products");
                    products = decode_products(&mut r)?;
                }
                Ok(K_MAY_SIGN) => {
                    r.set_context("certificate.may_sign");
                    let at = r.position();
                    let bits = r.uint()?;
                    let bits = u8::try_from(bits)
                        .ok()
                        .filter(|b| *b != 0 && b & !MaySign::ALL.0 == 0)
                        .ok_or_else(|| {
                            r.error_at(
                                at,
                                DecodeErrorKind::InvalidValue(
                                    "may_sign must be a non-zero set of the bits 1, 2, 4, 8",
                                ),
                            )
                        })?;
                    may_sign = Some((at, MaySign(bits)));
                }
                Ok(K_LIST_SEQ) => {
                    r.set_context("certificate.list_seq");
                    let at = r.position();
                    if r.array()? != 2 {
                        return Err(r.error_at(
                            at,
                            DecodeErrorKind::InvalidValue("list_seq must be [lo, hi]"),
                        ));
                    }
                    let (lo, hi) = (r.uint()?, r.uint()?);
                    if lo >= hi {
                        return Err(r.error_at(
                            at,
                            DecodeErrorKind::InvalidValue("list_seq needs lo < hi"),
                        ));
                    }
                    list_seq = Some((lo, hi));
                }
                _ => return Err(r.error_at(key_at, DecodeErrorKind::UnknownCriticalKey(label))),
            }
        }
        r.set_context("certificate");
        r.finish()?;
        let missing = |ctx| {
            r.error_at(start, DecodeErrorKind::MissingField)
                .with_context(ctx)
        };
        let serial = serial.ok_or_else(|| missing("certificate.serial"))?;
        let key = key.ok_or_else(|| missing("certificate.key"))?;
        let not_before = not_before.ok_or_else(|| missing("certificate.not_before"))?;
        let (after_at, not_after) = not_after.ok_or_else(|| missing("certificate.not_after"))?;
        let (sign_at, may_sign) = may_sign.ok_or_else(|| missing("certificate.may_sign"))?;
        if not_after <= not_before {
            return Err(r
                .error_at(
                    after_at,
                    DecodeErrorKind::InvalidValue("not_after must be later than not_before"),
                )
                .with_context("certificate.not_after"));
        }
        if may_sign.contains(MaySign::REVOCATIONS) != list_seq.is_some() {
            let why = if list_seq.is_some() {
                "list_seq is only for keys that may sign revocation lists"
            } else {
                "a key that may sign revocation lists needs list_seq"
            };
            return Err(r
                .error_at(sign_at, DecodeErrorKind::InvalidValue(why))
                .with_context("certificate.list_seq"));
        }
        Ok(Certificate {
            serial,
            key,
            not_before,
            not_after,
            products,
            may_sign,
            list_seq,
        })
    }
}

fn decode_products(r: &mut Reader<'_>) -> Result<Vec<String>, DecodeError> {
    let at = r.position();
    let count = r.array()?;
    if count == 0 {
        return Err(r.error_at(
            at,
            DecodeErrorKind::InvalidValue("empty list (omit it for every product)"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        let item_at = r.position();
        let item = r.text()?;
        if item.is_empty() {
            return Err(r.error_at(item_at, DecodeErrorKind::InvalidValue("empty product id")));
        }
        if let Some(prev) = out.last() {
            ascending(r, item_at, text_key_order(prev, item))?;
        }
        out.push(item.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn sample() -> Certificate {
        let mut c = Certificate {
            serial: 3,
            key: [9; 32],
            not_before: 1_767_225_600,
            not_after: 1_775_001_600,
            products: vec!["photo-pro".into(), "cad".into(), "cad".into()],
            may_sign: MaySign::LICENSES.with(MaySign::REVOCATIONS),
            list_seq: Some((1 << 40, 2 << 40)),
        };
        c.normalize();
        c
    }

    #[test]
    fn round_trip_and_queries() {
        let c = sample();
        assert_eq!(c.products, vec!["cad".to_string(), "photo-pro".to_string()]);
        let bytes = c.encode();
        assert_eq!(Certificate::decode(&bytes, 0).unwrap(), c);
        assert!(c.allows_product("cad") && !c.allows_product("cam"));
        assert!(c.covers(1_767_225_600) && !c.covers(1_775_001_600));
        assert!(c.may_sign.allows(ObjectType::License));
        assert!(!c.may_sign.allows(ObjectType::ActivationResponse));
        assert!(!MaySign::ALL.allows(ObjectType::ActivationRequest));
        assert_eq!(
            c.may_sign.names().collect::<Vec<_>>(),
            vec!["licenses", "revocations"]
        );
        assert_eq!(
            MaySign::from_name("signed-keys"),
            Some(MaySign::SIGNED_KEYS)
        );
    }

    fn decode_err(c: &Certificate) -> DecodeError {
        Certificate::decode(&c.encode(), 0).unwrap_err()
    }

    #[test]
    fn each_rule_refuses() {
        let mut c = sample();
        c.serial = 0;
        assert_eq!(decode_err(&c).context, "certificate.serial");
        let mut c = sample();
        c.not_after = c.not_before;
        assert_eq!(decode_err(&c).context, "certificate.not_after");
        let mut c = sample();
        c.list_seq = None;
        assert_eq!(decode_err(&c).context, "certificate.list_seq");
        let mut c = sample();
        c.may_sign = MaySign::LICENSES;
        assert_eq!(decode_err(&c).context, "certificate.list_seq");
        let mut c = sample();
        c.list_seq = Some((5, 5));
        assert_eq!(decode_err(&c).context, "certificate.list_seq");
        let mut c = sample();
        c.may_sign = MaySign(16);
        c.list_seq = None;
        assert_eq!(decode_err(&c).context, "certificate.may_sign");
        let mut c = sample();
        c.products = vec!["b".into(), "a".into()];
        assert_eq!(decode_err(&c).kind, DecodeErrorKind::UnsortedKeys);
    }

    proptest::proptest! {
        #[test]
        fn decode_never_panics_and_round_trips(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..160)) {
            if let Ok(c) = Certificate::decode(&bytes, 0) {
                proptest::prop_assert_eq!(c.encode(), bytes);
            }
        }
    }
}
