//! The JSON form of license claims, shared by `airseal verify --json`, `airseal inspect
//! --json` and `vectors/manifest.json` (`SPEC.md` §7 lists the fields). Here, behind the
//! `json` feature, so anything that verifies (the CLI's `verify`, an app, a service) can
//! print claims without the vendor crate.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use serde_json::{Map, Value, json};

use crate::cert::Certificate;
use crate::claims::{LicenseClaims, Limit, MetaValue};
use crate::revocation::RevocationList;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn limit(l: Limit) -> Value {
    match l {
        Limit::AtMost(n) => json!(n),
        Limit::Unlimited => json!("unlimited"),
    }
}

/// The claims as a JSON object. Optional claims that are absent are left out; times are
/// integers (seconds since 1970); byte strings are lowercase hex.
pub fn claims_to_json(c: &LicenseClaims) -> Value {
    let mut m = Map::new();
    m.insert("iss".into(), json!(c.issuer));
    m.insert("sub".into(), json!(c.license_id));
    m.insert("aud".into(), json!(c.product));
    m.insert("iat".into(), json!(c.issued_at));
    if let Some(v) = c.not_before {
        m.insert("nbf".into(), json!(v));
    }
    if let Some(v) = c.expires_at {
        m.insert("exp".into(), json!(v));
    }
    m.insert("cti".into(), json!(hex(&c.token_id)));
    m.insert("kind".into(), json!(c.kind.as_str()));
    let mut licensee = Map::new();
    for (k, v) in [
        ("name", &c.licensee.name),
        ("email", &c.licensee.email),
        ("organization", &c.licensee.organization),
    ] {
        if let Some(v) = v {
            licensee.insert(k.into(), json!(v));
        }
    }
    if !licensee.is_empty() {
        m.insert("licensee".into(), Value::Object(licensee));
    }
    if let Some(pk) = &c.product_key {
        m.insert("product_key".into(), json!(pk));
    }
    let bits: Vec<Value> = (0..8u8)
        .filter(|i| c.features.bits & (1 << i) != 0)
        .map(|i| {
            let expires = c.features.bit_expiry.get(usize::from(i)).copied().flatten();
            json!({"bit": format!("F{}", i + 1), "expires": expires})
        })
        .collect();
    if !bits.is_empty() {
        m.insert("feature_bits".into(), Value::Array(bits));
    }
    if !c.features.named.is_empty() {
        let named: Vec<Value> = c
            .features
            .named
            .iter()
            .map(|f| json!({"name": f.name, "expires": f.expires_at}))
            .collect();
        m.insert("features".into(), Value::Array(named));
    }
    if let Some(l) = c.max_activations {
        m.insert("max_activations".into(), limit(l));
    }
    if let Some(l) = c.max_deactivations {
        m.insert("max_deactivations".into(), limit(l));
    }
    if let Some(mb) = &c.machine {
        let mut o = Map::new();
        o.insert("threshold".into(), json!(mb.threshold));
        o.insert(
            "components".into(),
            json!(mb.components.iter().map(|h| hex(h)).collect::<Vec<_>>()),
        );
        if let Some(dk) = &mb.device_key {
            o.insert("device_key".into(), json!(hex(dk)));
        }
        m.insert("machine".into(), Value::Object(o));
    }
    if let Some(v) = c.maintenance_until {
        m.insert("maintenance_until".into(), json!(v));
    }
    if let Some(v) = c.grace_period {
        m.insert("grace_period".into(), json!(v));
    }
    if let Some(v) = c.clock_offset {
        m.insert("clock_offset".into(), json!(v));
    }
    if !c.metadata.is_empty() {
        let meta: Map<String, Value> = c
            .metadata
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    MetaValue::Text(s) => json!(s),
                    MetaValue::Int(i) => json!(i),
                };
                (k.clone(), v)
            })
            .collect();
        m.insert("metadata".into(), Value::Object(meta));
    }
    if let Some(nonce) = &c.request_nonce {
        m.insert("request_nonce".into(), json!(hex(nonce)));
    }
    for (name, ext) in [
        ("extensions", &c.extensions),
        ("airseal_extensions", &c.airseal_extensions),
    ] {
        if !ext.is_empty() {
            let list: Vec<Value> = ext
                .iter()
                .map(|(k, v)| json!({"key": k, "cbor": hex(v)}))
                .collect();
            m.insert(name.into(), Value::Array(list));
        }
    }
    Value::Object(m)
}

/// An issuing-key certificate's payload as JSON, the form of `vectors/README.md` (chain
/// vectors): `serial`, `key` and `kid` (hex), `not_before`, `not_after`, `products` (left out
/// for every product), `may_sign` (words, in bit order), `list_seq` (`[lo, hi]`, left out
/// when absent).
pub fn certificate_to_json(c: &Certificate) -> Value {
    let mut m = Map::new();
    m.insert("serial".into(), json!(c.serial));
    m.insert("key".into(), json!(hex(&c.key)));
    m.insert("kid".into(), json!(hex(&c.key_id().0)));
    m.insert("not_before".into(), json!(c.not_before));
    m.insert("not_after".into(), json!(c.not_after));
    if !c.products.is_empty() {
        m.insert("products".into(), json!(c.products));
    }
    m.insert(
        "may_sign".into(),
        json!(c.may_sign.names().collect::<Vec<_>>()),
    );
    if let Some((lo, hi)) = c.list_seq {
        m.insert("list_seq".into(), json!([lo, hi]));
    }
    Value::Object(m)
}

/// A revocation list's payload as JSON, the form of `vectors/README.md` (chain vectors):
/// `seq`, `issued_at`, and, when present, `licenses`, `product_keys`, `min_issued_at`
/// (`[{"product": p, "before": t}]`) and `issuing_keys` (hex key ids), in payload order.
pub fn revocation_list_to_json(l: &RevocationList) -> Value {
    let mut m = Map::new();
    m.insert("seq".into(), json!(l.seq));
    m.insert("issued_at".into(), json!(l.issued_at));
    if !l.licenses.is_empty() {
        m.insert("licenses".into(), json!(l.licenses));
    }
    if !l.product_keys.is_empty() {
        m.insert("product_keys".into(), json!(l.product_keys));
    }
    if !l.min_issued_at.is_empty() {
        let cutoffs: Vec<Value> = l
            .min_issued_at
            .iter()
            .map(|(p, t)| json!({"product": p, "before": t}))
            .collect();
        m.insert("min_issued_at".into(), Value::Array(cutoffs));
    }
    if !l.issuing_keys.is_empty() {
        let kids: Vec<String> = l.issuing_keys.iter().map(|k| hex(&k.0)).collect();
        m.insert("issuing_keys".into(), json!(kids));
    }
    Value::Object(m)
}
