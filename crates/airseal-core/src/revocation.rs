//! Revocation lists (`SPEC.md` §13): a signed object, carried to air-gapped machines on a
//! USB stick, naming licenses and product keys that must no longer be accepted.
//!
//! It travels in the same COSE_Sign1 envelope as licenses, with `typ` `airseal-revocations`
//! so it can never pass for a license. Its sequence number only ever grows, so a verifier
//! that remembers the newest list it has seen can refuse an older one (a user "un-revoking"
//! a license by restoring yesterday's file).

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::cbor::{
    DecodeError, DecodeErrorKind, KeyOrder, Reader, Writer, ascending, text_key_order,
};
use crate::claims::UnixTime;
use crate::kid::KeyId;
use crate::productkey::match_form;

const K_SEQ: u64 = 1;
const K_ISSUED: u64 = 2;
const K_LICENSES: u64 = 3;
const K_KEYS: u64 = 4;
const K_MIN_ISSUE: u64 = 5;
const K_ISSUING_KEYS: u64 = 6;

/// A decoded revocation list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RevocationList {
    /// Sequence number: each list the vendor exports has a larger one.
    pub seq: u64,
    /// When the list was made.
    pub issued_at: UnixTime,
    /// Revoked license ids (`sub`), sorted in deterministic order.
    pub licenses: Vec<String>,
    /// Revoked product keys, each in its match form ([`match_form`]: for a key airseal
    /// made, its canonical form), sorted in deterministic order.
    pub product_keys: Vec<String>,
    /// Per product: licenses issued before this instant are no longer accepted.
    pub min_issued_at: Vec<(String, UnixTime)>,
    /// Revoked issuing keys (§18.4), by key id, in increasing byte order: every object such
    /// a key signed is refused, whatever its issue time says.
    pub issuing_keys: Vec<KeyId>,
}

impl RevocationList {
    /// Sorts and de-duplicates the lists, as the encoding requires.
    pub fn normalize(&mut self) {
        for list in [&mut self.licenses, &mut self.product_keys] {
            list.sort_by(|a, b| text_key_order(a, b));
            list.dedup();
        }
        self.min_issued_at
            .sort_by(|a, b| text_key_order(&a.0, &b.0));
        self.min_issued_at.dedup_by(|a, b| a.0 == b.0);
        self.issuing_keys.sort();
        self.issuing_keys.dedup();
    }

    /// Does the list revoke this product key, in any spelling (compared in its match form,
    /// [`match_form`])?
    pub fn revokes_product_key(&self, product_key: &str) -> bool {
        !self.product_keys.is_empty() && {
            let k = match_form(product_key);
            self.product_keys
                .binary_search_by(|p| text_key_order(p, &k))
                .is_ok()
        }
    }

    /// Does the list revoke the issuing key with this id?
    pub fn revokes_issuer(&self, kid: KeyId) -> bool {
        self.issuing_keys.binary_search(&kid).is_ok()
    }

    /// Is the license with this id, product key, product and issue time revoked? Returns
    /// the reason. The product key is compared in its match form
    /// ([`match_form`]), so every spelling of a listed key is revoked; the list's entries
    /// are written in that form (an entry that is not matches nothing).
    pub fn revokes(
        &self,
        license_id: &str,
        product_key: Option<&str>,
        product: &str,
        issued_at: UnixTime,
    ) -> Option<&'static str> {
        if self
            .licenses
            .binary_search_by(|l| text_key_order(l, license_id))
            .is_ok()
        {
            return Some("its id is listed");
        }
        if product_key.is_some_and(|k| self.revokes_product_key(k)) {
            return Some("its product key is listed");
        }
        if self
            .min_issued_at
            .iter()
            .any(|(p, t)| p == product && issued_at < *t)
        {
            return Some("issued before the product's minimum issue time");
        }
        None
    }

    /// Deterministic CBOR encoding (call [`RevocationList::normalize`] first).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        let n = 2
            + usize::from(!self.licenses.is_empty())
            + usize::from(!self.product_keys.is_empty())
            + usize::from(!self.min_issued_at.is_empty())
            + usize::from(!self.issuing_keys.is_empty());
        w.map(n);
        w.uint(K_SEQ).uint(self.seq);
        w.uint(K_ISSUED).int(self.issued_at);
        for (key, list) in [(K_LICENSES, &self.licenses), (K_KEYS, &self.product_keys)] {
            if !list.is_empty() {
                w.uint(key).array(list.len());
                for item in list {
                    w.text(item);
                }
            }
        }
        if !self.min_issued_at.is_empty() {
            w.uint(K_MIN_ISSUE).map(self.min_issued_at.len());
            for (p, t) in &self.min_issued_at {
                w.text(p).int(*t);
            }
        }
        if !self.issuing_keys.is_empty() {
            w.uint(K_ISSUING_KEYS).array(self.issuing_keys.len());
            for kid in &self.issuing_keys {
                w.bytes(&kid.0);
            }
        }
        w.into_bytes()
    }

    /// Decodes a revocation list payload with the strict rules of `SPEC.md` §2.
    ///
    /// # Errors
    /// A [`DecodeError`] naming the field, offset and rule.
    pub fn decode(payload: &[u8], base: usize) -> Result<Self, DecodeError> {
        let mut r = Reader::with_base(payload, base);
        r.set_context("revocations");
        let start = r.position();
        let n = r.map()?;
        let mut order = KeyOrder::new();
        let mut out = RevocationList::default();
        let (mut seq, mut issued) = (None, None);
        for _ in 0..n {
            r.set_context("revocations");
            let key_at = r.position();
            let key = r.int()?;
            order.check(&r, key_at)?;
            match u64::try_from(key) {
                Ok(K_SEQ) => {
                    r.set_context("revocations.seq");
                    seq = Some(r.uint()?);
                }
                Ok(K_ISSUED) => {
                    r.set_context("revocations.issued_at");
                    issued = Some(r.int()?);
                }
                Ok(k @ (K_LICENSES | K_KEYS)) => {
                    r.set_context(if k == K_LICENSES {
                        "revocations.licenses"
                    } else {
                        "revocations.product_keys"
                    });
                    let at = r.position();
                    let count = r.array()?;
                    if count == 0 {
                        return Err(r.error_at(
                            at,
                            DecodeErrorKind::InvalidValue("empty list (omit it instead)"),
                        ));
                    }
                    let mut list = Vec::with_capacity(count);
                    let mut prev: Option<&str> = None;
                    for _ in 0..count {
                        let item_at = r.position();
                        let item = r.text()?;
                        if let Some(p) = prev {
                            ascending(&r, item_at, text_key_order(p, item))?;
                        }
                        prev = Some(item);
                        list.push(item.to_string());
                    }
                    if k == K_LICENSES {
                        out.licenses = list;
                    } else {
                        out.product_keys = list;
                    }
                }
                Ok(K_MIN_ISSUE) => {
                    r.set_context("revocations.min_issued_at");
                    let at = r.position();
                    let count = r.map()?;
                    if count == 0 {
                        return Err(r.error_at(
                            at,
                            DecodeErrorKind::InvalidValue("empty map (omit it instead)"),
                        ));
                    }
                    let mut inner = KeyOrder::new();
                    for _ in 0..count {
                        let k_at = r.position();
                        let product = r.text()?;
                        inner.check(&r, k_at)?;
                        out.min_issued_at.push((product.to_string(), r.int()?));
                    }
                }
                Ok(K_ISSUING_KEYS) => {
                    r.set_context("revocations.issuing_keys");
                    let at = r.position();
                    let count = r.array()?;
                    if count == 0 {
                        return Err(r.error_at(
                            at,
                            DecodeErrorKind::InvalidValue("empty list (omit it instead)"),
                        ));
                    }
                    let mut keys: Vec<KeyId> = Vec::with_capacity(count.min(256));
                    for _ in 0..count {
                        let item_at = r.position();
                        let kid = KeyId(r.bytes_exact::<8>()?);
                        if let Some(prev) = keys.last() {
                            ascending(&r, item_at, prev.cmp(&kid))?;
                        }
                        keys.push(kid);
                    }
                    out.issuing_keys = keys;
                }
                _ => return Err(r.error_at(key_at, DecodeErrorKind::UnknownCriticalKey(key))),
            }
        }
        r.set_context("revocations");
        r.finish()?;
        let missing = |ctx| {
            r.error_at(start, DecodeErrorKind::MissingField)
                .with_context(ctx)
        };
        out.seq = seq.ok_or_else(|| missing("revocations.seq"))?;
        out.issued_at = issued.ok_or_else(|| missing("revocations.issued_at"))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn sample() -> RevocationList {
        let mut l = RevocationList {
            seq: 7,
            issued_at: 1_767_225_600,
            licenses: vec!["ZZZ".into(), "0C8G2X9RTV4MA".into(), "ZZZ".into()],
            product_keys: vec!["7K3QDM2XRP9FTWB4HCNV".into()],
            min_issued_at: vec![("photo-pro".into(), 1_700_000_000)],
            issuing_keys: vec![KeyId([9; 8]), KeyId([1; 8]), KeyId([9; 8])],
        };
        l.normalize();
        l
    }

    #[test]
    fn round_trip_and_queries() {
        let l = sample();
        assert_eq!(
            l.licenses,
            vec!["ZZZ".to_string(), "0C8G2X9RTV4MA".to_string()]
        );
        assert_eq!(l.issuing_keys, vec![KeyId([1; 8]), KeyId([9; 8])]);
        assert!(l.revokes_issuer(KeyId([9; 8])) && !l.revokes_issuer(KeyId([2; 8])));
        let bytes = l.encode();
        assert_eq!(RevocationList::decode(&bytes, 0).unwrap(), l);
        assert_eq!(
            l.revokes("0C8G2X9RTV4MA", None, "x", 0),
            Some("its id is listed")
        );
        assert_eq!(
            l.revokes("other", Some("7K3QDM2XRP9FTWB4HCNV"), "x", 0),
            Some("its product key is listed")
        );
        assert!(
            l.revokes("other", None, "photo-pro", 1_699_999_999)
                .is_some()
        );
        assert_eq!(l.revokes("other", None, "photo-pro", 1_700_000_000), None);
    }

    #[test]
    fn strict_decoding() {
        let mut w = Writer::new();
        w.map(3)
            .uint(1)
            .uint(1)
            .uint(2)
            .int(0)
            .uint(3)
            .array(2)
            .text("b")
            .text("a");
        let e = RevocationList::decode(&w.into_bytes(), 0).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::UnsortedKeys);
        let mut w = Writer::new();
        w.map(1).uint(1).uint(1);
        assert_eq!(
            RevocationList::decode(&w.into_bytes(), 0)
                .unwrap_err()
                .context,
            "revocations.issued_at"
        );
        let mut w = Writer::new();
        w.map(3).uint(1).uint(1).uint(2).int(0).uint(9).uint(0);
        assert_eq!(
            RevocationList::decode(&w.into_bytes(), 0).unwrap_err().kind,
            DecodeErrorKind::UnknownCriticalKey(9)
        );
    }

    proptest::proptest! {
        #[test]
        fn decode_never_panics_and_round_trips(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..128)) {
            if let Ok(l) = RevocationList::decode(&bytes, 0) {
                proptest::prop_assert_eq!(l.encode(), bytes);
            }
        }
    }
}
