//! Offline activation messages (`SPEC.md` §15): the activation request an air-gapped
//! machine produces and the deactivation proof it signs when it gives a seat back.
//!
//! Both travel in the COSE_Sign1 envelope of §3, signed by the machine's **device key** (an
//! Ed25519 key the app creates at request time): the header's `kid` is the device key's id
//! and the device public key is inside the payload, so the signature proves possession of
//! the key the vendor will bind the license to. Their own `typ` values keep them from ever
//! passing for a license or for each other.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::cbor::{DecodeError, DecodeErrorKind, KeyOrder, Reader, Writer, text_key_order};
use crate::claims::{COMPONENT_HASH_LEN, MAX_COMPONENTS, UnixTime, components_distinct};

/// Length of the random nonce of requests and proofs.
pub const NONCE_LEN: usize = crate::claims::REQUEST_NONCE_LEN;
/// At most this many meter values in a request.
pub const MAX_METERS: usize = 16;
/// Longest product key a request carries, in bytes: room for any airseal pattern
/// ([`crate::productkey::MAX_SLOTS`] symbols with a separator between each) and for keys
/// imported from other platforms.
pub const MAX_PRODUCT_KEY_LEN: usize = 512;

/// What a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Activate a product key on this machine.
    Activation,
    /// Start the product's trial on this machine (no product key).
    Trial,
}

/// An activation request (`typ` `airseal-request`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivationRequest {
    /// Product id.
    pub product: String,
    /// The product key being activated, as the user entered it (trimmed, 1 to
    /// [`MAX_PRODUCT_KEY_LEN`] bytes); absent for a trial. The vendor finds the stored key
    /// (`SPEC.md` §15.6).
    pub product_key: Option<String>,
    /// Salted fingerprint component hashes of the machine.
    pub components: Vec<[u8; COMPONENT_HASH_LEN]>,
    /// The device public key the license will be bound to.
    pub device_key: [u8; 32],
    /// Random nonce the response must echo.
    pub nonce: [u8; NONCE_LEN],
    /// When the request was made (the machine's clock).
    pub created: UnixTime,
    /// The app's version, for the vendor's records.
    pub app_version: Option<String>,
    /// Activation or trial.
    pub purpose: Purpose,
    /// Usage meters the app reports (name → value), sorted.
    pub meters: Vec<(String, i64)>,
}

/// A deactivation proof (`typ` `airseal-deactivation`): the machine gives its seat back and
/// has deleted its license.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeactivationProof {
    /// Product id.
    pub product: String,
    /// The license id (`sub`) being given back.
    pub license_id: String,
    /// The license document's `cti`, naming exactly which issued license.
    pub token_id: Vec<u8>,
    /// The device public key the license was bound to.
    pub device_key: [u8; 32],
    /// Random nonce: the vendor refuses a proof it has seen before (replay).
    pub nonce: [u8; NONCE_LEN],
    /// When the proof was made.
    pub created: UnixTime,
}

fn invalid(r: &Reader<'_>, at: usize, why: &'static str) -> DecodeError {
    r.error_at(at, DecodeErrorKind::InvalidValue(why))
}

fn missing(r: &Reader<'_>, at: usize, context: &'static str) -> DecodeError {
    r.error_at(at, DecodeErrorKind::MissingField)
        .with_context(context)
}

impl ActivationRequest {
    /// Deterministic CBOR of the payload (meters must be sorted: see [`text_key_order`]).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        let n = 5
            + usize::from(self.product_key.is_some())
            + usize::from(self.app_version.is_some())
            + usize::from(self.purpose == Purpose::Trial)
            + usize::from(!self.meters.is_empty());
        w.map(n);
        w.uint(1).text(&self.product);
        if let Some(k) = &self.product_key {
            w.uint(2).text(k);
        }
        w.uint(3).array(self.components.len());
        for c in &self.components {
            w.bytes(c);
        }
        w.uint(4).bytes(&self.device_key);
        w.uint(5).bytes(&self.nonce);
        w.uint(6).int(self.created);
        if let Some(v) = &self.app_version {
            w.uint(7).text(v);
        }
        if self.purpose == Purpose::Trial {
            w.uint(8).uint(1);
        }
        if !self.meters.is_empty() {
            w.uint(9).map(self.meters.len());
            for (k, v) in &self.meters {
                w.text(k).int(*v);
            }
        }
        w.into_bytes()
    }

    /// Decodes a request payload with the strict rules of `SPEC.md` §2.
    ///
    /// # Errors
    /// A [`DecodeError`] naming the field, offset and rule.
    pub fn decode(payload: &[u8], base: usize) -> Result<Self, DecodeError> {
        let mut r = Reader::with_base(payload, base);
        r.set_context("request");
        let start = r.position();
        let n = r.map()?;
        let mut order = KeyOrder::new();
        let (mut product, mut product_key, mut components, mut device_key, mut nonce, mut created) =
            (None, None, None, None, None, None);
        let (mut app_version, mut purpose, mut meters) = (None, Purpose::Activation, Vec::new());
        for _ in 0..n {
            r.set_context("request");
            let key_at = r.position();
            let key = r.int()?;
            order.check(&r, key_at)?;
            let at = r.position();
            match key {
                1 => {
                    r.set_context("request.product");
                    product = Some(r.text()?.to_string());
                }
                2 => {
                    r.set_context("request.product_key");
                    let key = r.text()?;
                    if key.is_empty() || key.len() > MAX_PRODUCT_KEY_LEN || key.trim() != key {
                        return Err(invalid(
                            &r,
                            at,
                            "the product key must be 1 to 512 bytes, without surrounding blanks",
                        ));
                    }
                    product_key = Some(key.to_string());
                }
                3 => {
                    r.set_context("request.components");
                    let count = r.array()?;
                    if count == 0 || count > MAX_COMPONENTS {
                        return Err(invalid(&r, at, "1 to 16 components"));
                    }
                    let mut list = Vec::with_capacity(count);
                    for _ in 0..count {
                        list.push(r.bytes_exact::<COMPONENT_HASH_LEN>()?);
                    }
                    if !components_distinct(&list) {
                        return Err(invalid(&r, at, "component hashes must be distinct"));
                    }
                    components = Some(list);
                }
                4 => {
                    r.set_context("request.device_key");
                    device_key = Some(r.bytes_exact::<32>()?);
                }
                5 => {
                    r.set_context("request.nonce");
                    nonce = Some(r.bytes_exact::<NONCE_LEN>()?);
                }
                6 => {
                    r.set_context("request.created");
                    created = Some(r.int()?);
                }
                7 => {
                    r.set_context("request.app_version");
                    app_version = Some(r.text()?.to_string());
                }
                8 => {
                    r.set_context("request.purpose");
                    purpose = match r.uint()? {
                        1 => Purpose::Trial,
                        _ => return Err(invalid(&r, at, "purpose must be 1 (trial) or omitted")),
                    };
                }
                9 => {
                    r.set_context("request.meters");
                    let count = r.map()?;
                    if count == 0 || count > MAX_METERS {
                        return Err(invalid(&r, at, "1 to 16 meters"));
                    }
                    let mut inner = KeyOrder::new();
                    for _ in 0..count {
                        let k_at = r.position();
                        let name = r.text()?;
                        inner.check(&r, k_at)?;
                        meters.push((name.to_string(), r.int()?));
                    }
                }
                other => return Err(r.error_at(key_at, DecodeErrorKind::UnknownCriticalKey(other))),
            }
        }
        r.set_context("request");
        r.finish()?;
        let req = ActivationRequest {
            product: product.ok_or_else(|| missing(&r, start, "request.product"))?,
            product_key,
            components: components.ok_or_else(|| missing(&r, start, "request.components"))?,
            device_key: device_key.ok_or_else(|| missing(&r, start, "request.device_key"))?,
            nonce: nonce.ok_or_else(|| missing(&r, start, "request.nonce"))?,
            created: created.ok_or_else(|| missing(&r, start, "request.created"))?,
            app_version,
            purpose,
            meters,
        };
        if (req.purpose == Purpose::Activation) != req.product_key.is_some() {
            return Err(invalid(
                &r,
                start,
                "an activation names a product key; a trial does not",
            ));
        }
        Ok(req)
    }

    /// Sorts meters into deterministic order.
    pub fn normalize(&mut self) {
        self.meters.sort_by(|a, b| text_key_order(&a.0, &b.0));
    }
}

impl DeactivationProof {
    /// Deterministic CBOR of the payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.map(6);
        w.uint(1).text(&self.product);
        w.uint(2).text(&self.license_id);
        w.uint(3).bytes(&self.token_id);
        w.uint(4).bytes(&self.device_key);
        w.uint(5).bytes(&self.nonce);
        w.uint(6).int(self.created);
        w.into_bytes()
    }

    /// Decodes a proof payload with the strict rules of `SPEC.md` §2.
    ///
    /// # Errors
    /// A [`DecodeError`] naming the field, offset and rule.
    pub fn decode(payload: &[u8], base: usize) -> Result<Self, DecodeError> {
        let mut r = Reader::with_base(payload, base);
        r.set_context("deactivation");
        let start = r.position();
        let n = r.map()?;
        let mut order = KeyOrder::new();
        let (mut product, mut license_id, mut token_id, mut device_key, mut nonce, mut created) =
            (None, None, None, None, None, None);
        for _ in 0..n {
            r.set_context("deactivation");
            let key_at = r.position();
            let key = r.int()?;
            order.check(&r, key_at)?;
            let at = r.position();
            match key {
                1 => {
                    r.set_context("deactivation.product");
                    product = Some(r.text()?.to_string());
                }
                2 => {
                    r.set_context("deactivation.license_id");
                    license_id = Some(r.text()?.to_string());
                }
                3 => {
                    r.set_context("deactivation.token_id");
                    let b = r.bytes()?;
                    if b.is_empty() || b.len() > crate::claims::MAX_TOKEN_ID_LEN {
                        return Err(invalid(&r, at, "token id must be 1 to 32 bytes"));
                    }
                    token_id = Some(b.to_vec());
                }
                4 => {
                    r.set_context("deactivation.device_key");
                    device_key = Some(r.bytes_exact::<32>()?);
                }
                5 => {
                    r.set_context("deactivation.nonce");
                    nonce = Some(r.bytes_exact::<NONCE_LEN>()?);
                }
                6 => {
                    r.set_context("deactivation.created");
                    created = Some(r.int()?);
                }
                other => return Err(r.error_at(key_at, DecodeErrorKind::UnknownCriticalKey(other))),
            }
        }
        r.set_context("deactivation");
        r.finish()?;
        Ok(DeactivationProof {
            product: product.ok_or_else(|| missing(&r, start, "deactivation.product"))?,
            license_id: license_id.ok_or_else(|| missing(&r, start, "deactivation.license_id"))?,
            token_id: token_id.ok_or_else(|| missing(&r, start, "deactivation.token_id"))?,
            device_key: device_key.ok_or_else(|| missing(&r, start, "deactivation.device_key"))?,
            nonce: nonce.ok_or_else(|| missing(&r, start, "deactivation.nonce"))?,
            created: created.ok_or_else(|| missing(&r, start, "deactivation.created"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    pub(crate) fn request() -> ActivationRequest {
        let mut r = ActivationRequest {
            product: "photo-pro".into(),
            product_key: Some("7K3QDM2XRP9FTWB4HCNV".into()),
            components: vec![[1; 8], [2; 8], [3; 8], [4; 8], [5; 8]],
            device_key: [9; 32],
            nonce: [7; 16],
            created: 1_767_225_600,
            app_version: Some("4.2.1".into()),
            purpose: Purpose::Activation,
            meters: vec![("projects".into(), 12), ("exports".into(), 3)],
        };
        r.normalize();
        r
    }

    #[test]
    fn request_round_trip_and_rules() {
        let r = request();
        let bytes = r.encode();
        assert_eq!(ActivationRequest::decode(&bytes, 0).unwrap(), r);
        let mut trial = r.clone();
        trial.product_key = None;
        trial.purpose = Purpose::Trial;
        assert_eq!(
            ActivationRequest::decode(&trial.encode(), 0).unwrap(),
            trial
        );
        let mut bad = r.clone();
        bad.product_key = None; // an activation without a key
        assert!(ActivationRequest::decode(&bad.encode(), 0).is_err());
        // The key travels as entered (imported keys keep their dashes and case) within limits.
        let mut typed = r;
        typed.product_key = Some("38b1460a-5104-4067-a91d-77b872934d51".into());
        assert_eq!(
            ActivationRequest::decode(&typed.encode(), 0).unwrap(),
            typed
        );
        typed.product_key = Some("x".repeat(MAX_PRODUCT_KEY_LEN));
        assert!(ActivationRequest::decode(&typed.encode(), 0).is_ok());
        for bad_key in [
            String::new(),
            " ABCD".into(),
            "ABCD\t".into(),
            "x".repeat(MAX_PRODUCT_KEY_LEN + 1),
        ] {
            typed.product_key = Some(bad_key.clone());
            assert!(
                ActivationRequest::decode(&typed.encode(), 0).is_err(),
                "{bad_key:?}"
            );
        }
    }

    #[test]
    fn proof_round_trip() {
        let p = DeactivationProof {
            product: "photo-pro".into(),
            license_id: "0C8G2X9RTV4MA".into(),
            token_id: vec![1, 2, 3],
            device_key: [9; 32],
            nonce: [8; 16],
            created: 1,
        };
        assert_eq!(DeactivationProof::decode(&p.encode(), 0).unwrap(), p);
    }

    proptest::proptest! {
        #[test]
        fn decoders_never_panic_and_round_trip(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            if let Ok(r) = ActivationRequest::decode(&bytes, 0) {
                proptest::prop_assert_eq!(r.encode(), bytes.clone());
            }
            if let Ok(p) = DeactivationProof::decode(&bytes, 0) {
                proptest::prop_assert_eq!(p.encode(), bytes);
            }
        }
    }
}
