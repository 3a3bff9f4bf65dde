//! Per-key license terms: what a license issued for one product key says, when that differs
//! from the product's template (`SPEC.md` §16.1).
//!
//! Keys made by `keys generate` have none: their licenses come from a template. A key
//! imported from another platform carries its own licensee, expiry, activation limit and
//! metadata, and the seats it already used there; those are kept as a [`KeyTerms`] record,
//! laid over the template when a license is issued or an activation answered.
//!
//! # Where the terms live
//!
//! Since migration 7 the record is a column of the key's own row (`keys.terms`), encoded as
//! one small deterministic CBOR map with integer keys ([`encode_terms`]). Migration 3 had
//! kept it in a table of its own, `key_terms`, as JSON: every imported key then cost a
//! second primary-key B-tree holding product and key again, a foreign-key probe back into
//! `keys`, and a `json_valid` parse, and its spec spelt out every field name. Measured on a
//! million-row import (`examples/import_rate.rs`, BENCHMARKS.md): the terms cost about four
//! times as much as recording the keys did, and the ledger was twice the size. Migration 7
//! moves every existing row across and drops the table.
//!
//! A customer who types an imported key in another case or with other separators finds it
//! by its loose form: through `keys.loose`, under a partial index, or through the key's
//! shape recorded once per product in `key_shapes` (`lookup.rs`). Keys without terms (all of
//! `keys generate`'s) have neither and cost nothing.

use super::db::{Connection, OptionalExtension as _, params};
use airseal_core::cbor::{DecodeError, DecodeErrorKind, Reader, Writer, text_key_order};

use super::LedgerError;
use super::error::db;
use crate::issue::{LicenseSpec, LimitSpec, MetaSpec, MinComponents, UnlimitedWord};
use crate::terms::TermStarts;

/// The data step of migration 7 (`migrations/0007_terms_in_keys.sql` runs it after adding the
/// columns, before dropping `key_terms`): every `key_terms` row becomes its key's `terms`
/// record and `loose` form. A spec that no longer parses stops the migration (nothing
/// changes) rather than being dropped.
///
/// # Errors
/// A database error, or [`LedgerError::Corrupt`] naming the key whose spec is unreadable.
pub(super) fn move_key_terms(tx: &Connection) -> Result<(), LedgerError> {
    let mut read = tx
        .prepare(
            "SELECT product, key, template, spec, prior_activations, prior_deactivations,
                    source
             FROM key_terms ORDER BY product, key",
        )
        .map_err(db("reading key terms to migrate"))?;
    let mut rows = read.query([]).map_err(db("reading key terms to migrate"))?;
    while let Some(r) = rows.next().map_err(db("reading key terms to migrate"))? {
        let get = || -> rusqlite::Result<_> {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, Option<String>>(6)?,
            ))
        };
        let (product, key, template, spec, prior_a, prior_d, source) =
            get().map_err(db("reading key terms to migrate"))?;
        let spec: LicenseSpec = serde_json::from_str(&spec).map_err(|e| LedgerError::Corrupt {
            what: format!("key terms of {product}/{key}: {e}"),
        })?;
        let terms = KeyTerms {
            template,
            spec,
            prior_activations: super::to_u64(prior_a, "prior activations")?,
            prior_deactivations: super::to_u64(prior_d, "prior deactivations")?,
            source,
            ..KeyTerms::default()
        };
        // The old table had no shapes: every migrated key keeps an index entry.
        put_key_terms_in(tx, &product, &key, &TermsRecord::new(&terms))?;
    }
    Ok(())
}

/// The terms of one key.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyTerms {
    /// The template the spec is laid over; `None` = the product's default.
    pub template: Option<String>,
    /// What this key's licenses say, over the template (`product_key` is filled in by the
    /// ledger).
    pub spec: LicenseSpec,
    /// Seats the key already used before it came to airseal.
    pub prior_activations: u64,
    /// Deactivations the key already used before it came to airseal.
    pub prior_deactivations: u64,
    /// Where the terms came from within their import (for example `cryptlex-v2 line 12`; the
    /// file is recorded once, with the import of the key's batch).
    pub source: Option<String>,
    /// The vendor's notes on the key (never in a license).
    pub notes: Option<String>,
    /// The customer the key belongs to (an id of the ledger's customers), if linked.
    pub customer: Option<i64>,
    /// Features of the template this key does not get (by name, `F1` or `export`): how a
    /// feature the template gives is taken away from one key (`SPEC.md` §17.1).
    pub removed_features: Vec<String>,
    /// Metadata names of the template this key's licenses leave out.
    pub removed_metadata: Vec<String>,
}

impl KeyTerms {
    /// The license description of this key: its own spec laid over `base` (its template,
    /// [`LicenseSpec::or`]), then the template's features and metadata it was relieved of
    /// removed. The one place a key's terms meet its template.
    pub fn over(&self, base: LicenseSpec) -> LicenseSpec {
        let mut spec = self.spec.clone().or(base);
        if !self.removed_features.is_empty() {
            spec.features
                .retain(|f| !self.removed_features.iter().any(|r| r == feature_name(f)));
        }
        for name in &self.removed_metadata {
            spec.metadata.remove(name);
        }
        spec
    }
}

/// The name of a feature entry (`F1`, `export`), without its `=DATE`.
pub fn feature_name(entry: &str) -> &str {
    entry.split_once('=').map_or(entry, |(name, _)| name).trim()
}

/// A key's terms as the ledger stores them: the encoded record (`SPEC.md` §16.1).
///
/// An import holds every row in memory until its one transaction; as [`KeyTerms`] a row is
/// a tree of small allocations (measured: about 3 KB a row, 3 GB for a million-row export,
/// and the allocator's time with it), as a record about 300 bytes. Rows are therefore
/// encoded as they are parsed, on every core, and decoded only when needed (a key already
/// in the ledger, compared field by field).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TermsRecord(Vec<u8>);

impl TermsRecord {
    /// Encodes `terms`.
    pub fn new(terms: &KeyTerms) -> Self {
        Self(encode_terms(terms))
    }

    /// The terms again.
    ///
    /// # Errors
    /// [`LedgerError::Corrupt`] if the bytes were damaged (they never are when made by
    /// [`TermsRecord::new`]).
    pub fn terms(&self) -> Result<KeyTerms, LedgerError> {
        terms_from_record("an import row", &self.0)
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// The field numbers of a terms record (`SPEC.md` §16.1). Append only: a number, once
/// written to ledgers, keeps its meaning.
mod field {
    pub const TEMPLATE: u64 = 1;
    pub const PRIOR_ACTIVATIONS: u64 = 2;
    pub const PRIOR_DEACTIVATIONS: u64 = 3;
    pub const SOURCE: u64 = 4;
    // 40–43: what a vendor sets on one key by hand (`airseal keys update`); numbered apart
    // from the license fields so both lists can grow.
    pub const NOTES: u64 = 40;
    pub const CUSTOMER: u64 = 41;
    pub const REMOVED_FEATURES: u64 = 42;
    pub const REMOVED_METADATA: u64 = 43;
    pub const PRODUCT: u64 = 10;
    pub const ISSUER: u64 = 11;
    pub const KIND: u64 = 12;
    pub const LICENSEE_NAME: u64 = 13;
    pub const LICENSEE_EMAIL: u64 = 14;
    pub const LICENSEE_ORG: u64 = 15;
    pub const PRODUCT_KEY: u64 = 16;
    pub const DAYS: u64 = 17;
    pub const EXPIRES: u64 = 18;
    pub const NOT_BEFORE: u64 = 19;
    pub const FEATURES: u64 = 20;
    pub const MAX_ACTIVATIONS: u64 = 21;
    pub const MAX_DEACTIVATIONS: u64 = 22;
    pub const MAINTENANCE_UNTIL: u64 = 23;
    pub const GRACE_DAYS: u64 = 24;
    pub const CLOCK_OFFSET_MINUTES: u64 = 25;
    pub const METADATA: u64 = 26;
    pub const MACHINE_THRESHOLD: u64 = 27;
    pub const MIN_COMPONENTS: u64 = 28;
    pub const TERM_STARTS: u64 = 29;
}

/// The text a [`LimitSpec::Word`] is stored as.
const UNLIMITED: &str = "unlimited";

/// One field of a record being written.
enum Value<'a> {
    Text(&'a str),
    Uint(u64),
    Int(i64),
    Limit(LimitSpec),
    Features(&'a [String]),
    Metadata(&'a std::collections::BTreeMap<String, MetaSpec>),
}

/// Encodes terms as their record (`SPEC.md` §16.1): a deterministic CBOR map from field
/// number to value holding only the fields that are set, so equal terms always give equal
/// bytes.
///
/// Both structs are taken apart field by field with no `..`, so adding a field to either
/// fails to compile until it has a number here: a field can never be dropped silently.
pub(crate) fn encode_terms(terms: &KeyTerms) -> Vec<u8> {
    let KeyTerms {
        template,
        spec,
        prior_activations,
        prior_deactivations,
        source,
        notes,
        customer,
        removed_features,
        removed_metadata,
    } = terms;
    let LicenseSpec {
        product,
        issuer,
        kind,
        licensee_name,
        licensee_email,
        licensee_org,
        product_key,
        days,
        expires,
        not_before,
        features,
        max_activations,
        max_deactivations,
        maintenance_until,
        grace_days,
        clock_offset_minutes,
        metadata,
        machine_threshold,
        min_components,
        term_starts,
    } = spec;
    fn text(f: u64, v: &Option<String>) -> Option<(u64, Value<'_>)> {
        v.as_deref().map(|s| (f, Value::Text(s)))
    }
    let uint = |f: u64, v: Option<u64>| v.map(|n| (f, Value::Uint(n)));
    let nonzero = |f: u64, v: u64| (v != 0).then_some((f, Value::Uint(v)));
    let entries = [
        text(field::TEMPLATE, template),
        nonzero(field::PRIOR_ACTIVATIONS, *prior_activations),
        nonzero(field::PRIOR_DEACTIVATIONS, *prior_deactivations),
        text(field::SOURCE, source),
        text(field::PRODUCT, product),
        text(field::ISSUER, issuer),
        text(field::KIND, kind),
        text(field::LICENSEE_NAME, licensee_name),
        text(field::LICENSEE_EMAIL, licensee_email),
        text(field::LICENSEE_ORG, licensee_org),
        text(field::PRODUCT_KEY, product_key),
        uint(field::DAYS, days.map(u64::from)),
        text(field::EXPIRES, expires),
        text(field::NOT_BEFORE, not_before),
        (!features.is_empty()).then_some((field::FEATURES, Value::Features(features))),
        max_activations.map(|l| (field::MAX_ACTIVATIONS, Value::Limit(l))),
        max_deactivations.map(|l| (field::MAX_DEACTIVATIONS, Value::Limit(l))),
        text(field::MAINTENANCE_UNTIL, maintenance_until),
        uint(field::GRACE_DAYS, grace_days.map(u64::from)),
        uint(
            field::CLOCK_OFFSET_MINUTES,
            clock_offset_minutes.map(u64::from),
        ),
        (!metadata.is_empty()).then_some((field::METADATA, Value::Metadata(metadata))),
        uint(field::MACHINE_THRESHOLD, machine_threshold.map(u64::from)),
        uint(field::MIN_COMPONENTS, min_components.map(u64::from)),
        term_starts.map(|t| (field::TERM_STARTS, Value::Text(t.as_str()))),
        text(field::NOTES, notes),
        customer.map(|c| (field::CUSTOMER, Value::Int(c))),
        (!removed_features.is_empty())
            .then_some((field::REMOVED_FEATURES, Value::Features(removed_features))),
        (!removed_metadata.is_empty())
            .then_some((field::REMOVED_METADATA, Value::Features(removed_metadata))),
    ];
    // Room for every item's head (at most 9 bytes) and text: one allocation per record.
    let size = entries.iter().flatten().fold(1, |n, (_, v)| {
        n + 2
            + match v {
                Value::Text(s) => 9 + s.len(),
                Value::Uint(_) | Value::Int(_) | Value::Limit(_) => 9 + UNLIMITED.len(),
                Value::Features(list) => 9 + list.iter().map(|f| 9 + f.len()).sum::<usize>(),
                Value::Metadata(map) => {
                    9 + map
                        .iter()
                        .map(|(k, v)| 18 + k.len() + meta_len(v))
                        .sum::<usize>()
                }
            }
    });
    let mut w = Writer::with_capacity(size);
    w.map(entries.iter().flatten().count());
    // `entries` is in ascending field order, which is the deterministic order for small
    // unsigned keys.
    for (f, v) in entries.into_iter().flatten() {
        w.uint(f);
        match v {
            Value::Text(s) => w.text(s),
            Value::Uint(n) => w.uint(n),
            Value::Int(i) => w.int(i),
            Value::Limit(LimitSpec::Count(n)) => w.uint(n),
            Value::Limit(LimitSpec::Word(UnlimitedWord::Unlimited)) => w.text(UNLIMITED),
            Value::Features(list) => {
                w.array(list.len());
                for f in list {
                    w.text(f);
                }
                &mut w
            }
            Value::Metadata(map) => {
                let mut sorted: Vec<(&String, &MetaSpec)> = map.iter().collect();
                sorted.sort_by(|a, b| text_key_order(a.0, b.0));
                w.map(sorted.len());
                for (name, value) in sorted {
                    w.text(name);
                    match value {
                        MetaSpec::Int(i) => w.int(*i),
                        MetaSpec::Text(s) => w.text(s),
                    };
                }
                &mut w
            }
        };
    }
    w.into_bytes()
}

/// The length of a metadata value's text (an integer fits in its 9-byte head).
fn meta_len(v: &MetaSpec) -> usize {
    match v {
        MetaSpec::Int(_) => 0,
        MetaSpec::Text(s) => s.len(),
    }
}

/// Decodes a terms record, as strictly as every other airseal object: deterministic
/// encoding, fields in order, no unknown field, no trailing bytes.
///
/// # Errors
/// The [`DecodeError`] naming the rule broken and its offset.
pub(crate) fn decode_terms(bytes: &[u8]) -> Result<KeyTerms, DecodeError> {
    let mut r = Reader::new(bytes);
    r.set_context("key terms");
    let mut t = KeyTerms::default();
    let s = &mut t.spec;
    let n = r.map()?;
    let mut previous = None;
    for _ in 0..n {
        let at = r.position();
        let f = r.uint()?;
        if let Some(p) = previous {
            if f == p {
                return Err(r.error_at(at, DecodeErrorKind::DuplicateKey));
            }
            if f < p {
                return Err(r.error_at(at, DecodeErrorKind::UnsortedKeys));
            }
        }
        previous = Some(f);
        let text = |r: &mut Reader<'_>| r.text().map(|s| Some(s.to_string()));
        let small = |r: &mut Reader<'_>| {
            let at = r.position();
            r.uint().and_then(|n| {
                u32::try_from(n).map_err(|_| r.error_at(at, DecodeErrorKind::IntegerOutOfRange))
            })
        };
        match f {
            field::TEMPLATE => t.template = text(&mut r)?,
            field::PRIOR_ACTIVATIONS => t.prior_activations = nonzero(&mut r)?,
            field::PRIOR_DEACTIVATIONS => t.prior_deactivations = nonzero(&mut r)?,
            field::SOURCE => t.source = text(&mut r)?,
            field::PRODUCT => s.product = text(&mut r)?,
            field::ISSUER => s.issuer = text(&mut r)?,
            field::KIND => s.kind = text(&mut r)?,
            field::LICENSEE_NAME => s.licensee_name = text(&mut r)?,
            field::LICENSEE_EMAIL => s.licensee_email = text(&mut r)?,
            field::LICENSEE_ORG => s.licensee_org = text(&mut r)?,
            field::PRODUCT_KEY => s.product_key = text(&mut r)?,
            field::DAYS => s.days = Some(small(&mut r)?),
            field::EXPIRES => s.expires = text(&mut r)?,
            field::NOT_BEFORE => s.not_before = text(&mut r)?,
            field::FEATURES => s.features = texts(&mut r)?,
            field::MAX_ACTIVATIONS => s.max_activations = Some(limit(&mut r)?),
            field::MAX_DEACTIVATIONS => s.max_deactivations = Some(limit(&mut r)?),
            field::MAINTENANCE_UNTIL => s.maintenance_until = text(&mut r)?,
            field::GRACE_DAYS => s.grace_days = Some(small(&mut r)?),
            field::CLOCK_OFFSET_MINUTES => s.clock_offset_minutes = Some(small(&mut r)?),
            field::METADATA => {
                let at = r.position();
                let len = r.map()?;
                if len == 0 {
                    return Err(r.error_at(at, DecodeErrorKind::InvalidValue(OMITTED)));
                }
                let mut order = airseal_core::cbor::KeyOrder::new();
                for _ in 0..len {
                    let at = r.position();
                    let name = r.text()?;
                    order.check(&r, at)?;
                    let value = match r.peek_major()? {
                        airseal_core::cbor::Major::Text => MetaSpec::Text(r.text()?.to_string()),
                        _ => MetaSpec::Int(r.int()?),
                    };
                    s.metadata.insert(name.to_string(), value);
                }
            }
            field::MACHINE_THRESHOLD => {
                let at = r.position();
                let n = r.uint()?;
                s.machine_threshold = Some(
                    u8::try_from(n)
                        .map_err(|_| r.error_at(at, DecodeErrorKind::IntegerOutOfRange))?,
                );
            }
            field::MIN_COMPONENTS => {
                let at = r.position();
                let n = r.uint()?;
                s.min_components = Some(
                    MinComponents::try_from(n)
                        .map_err(|_| r.error_at(at, DecodeErrorKind::IntegerOutOfRange))?,
                );
            }
            field::TERM_STARTS => {
                let at = r.position();
                s.term_starts = Some(TermStarts::parse(r.text()?).ok_or_else(|| {
                    r.error_at(
                        at,
                        DecodeErrorKind::InvalidValue("creation or first-activation"),
                    )
                })?);
            }
            field::NOTES => t.notes = text(&mut r)?,
            field::CUSTOMER => t.customer = Some(r.int()?),
            field::REMOVED_FEATURES => t.removed_features = texts(&mut r)?,
            field::REMOVED_METADATA => t.removed_metadata = texts(&mut r)?,
            _ => {
                return Err(r.error_at(
                    at,
                    DecodeErrorKind::UnknownCriticalKey(i64::try_from(f).unwrap_or(i64::MAX)),
                ));
            }
        }
    }
    r.finish()?;
    Ok(t)
}

/// Why a zero count or an empty list is refused: the encoder leaves such a field out, and a
/// record has exactly one encoding.
const OMITTED: &str = "written only when not zero or empty";

/// A list of text the encoder writes only when it is not empty.
fn texts(r: &mut Reader<'_>) -> Result<Vec<String>, DecodeError> {
    let at = r.position();
    let len = r.array()?;
    if len == 0 {
        return Err(r.error_at(at, DecodeErrorKind::InvalidValue(OMITTED)));
    }
    (0..len).map(|_| r.text().map(str::to_string)).collect()
}

/// A count the encoder writes only when it is not zero.
fn nonzero(r: &mut Reader<'_>) -> Result<u64, DecodeError> {
    let at = r.position();
    match r.uint()? {
        0 => Err(r.error_at(at, DecodeErrorKind::InvalidValue(OMITTED))),
        n => Ok(n),
    }
}

/// A limit: a count, or the text `unlimited`.
fn limit(r: &mut Reader<'_>) -> Result<LimitSpec, DecodeError> {
    let at = r.position();
    if r.peek_major()? == airseal_core::cbor::Major::Text {
        return match r.text()? {
            UNLIMITED => Ok(LimitSpec::Word(UnlimitedWord::Unlimited)),
            _ => Err(r.error_at(
                at,
                DecodeErrorKind::InvalidValue("a limit's only word is unlimited"),
            )),
        };
    }
    r.uint().map(LimitSpec::Count)
}

/// Reads a stored record back, naming the key when it does not decode.
pub(crate) fn terms_from_record(key: &str, bytes: &[u8]) -> Result<KeyTerms, LedgerError> {
    decode_terms(bytes).map_err(|e| LedgerError::Corrupt {
        what: format!("key terms of {key}: {e}"),
    })
}

/// Writes (or replaces) the terms of an existing key inside the caller's transaction.
///
/// # Errors
/// [`LedgerError::UnknownKey`] when the product has no such key, or a database error.
pub(crate) fn put_key_terms_in(
    conn: &Connection,
    product: &str,
    key: &str,
    terms: &TermsRecord,
) -> Result<(), LedgerError> {
    let changed = conn
        .prepare_cached("UPDATE keys SET terms = ?3, loose = ?4 WHERE product = ?1 AND key = ?2")
        .and_then(|mut st| {
            st.execute(params![
                product,
                key,
                terms.as_bytes(),
                super::lookup::loose_form(key)
            ])
        })
        .map_err(db("storing key terms"))?;
    if changed == 0 {
        return Err(LedgerError::UnknownKey {
            product: product.to_string(),
            key: key.to_string(),
        });
    }
    Ok(())
}

/// Reads the terms of a key, if it has any.
///
/// # Errors
/// A database error, or [`LedgerError::Corrupt`] for a record that does not decode.
pub(crate) fn key_terms_in(
    conn: &Connection,
    product: &str,
    key: &str,
) -> Result<Option<KeyTerms>, LedgerError> {
    let record: Option<Vec<u8>> = conn
        .prepare_cached("SELECT terms FROM keys WHERE product = ?1 AND key = ?2")
        .and_then(|mut st| st.query_row([product, key], |r| r.get(0)).optional())
        .map_err(db("reading key terms"))?
        .flatten();
    record.map(|b| terms_from_record(key, &b)).transpose()
}

impl super::Keys<'_> {
    /// When the key's term started (`keys.term_start`, `SPEC.md` §17.1), if it has: the
    /// start [`crate::terms::term_end`] counts `days` from. `None` for a key never activated
    /// (its term starts at its first activation, or, with `term_starts = "creation"`, is
    /// counted from its batch's creation when it is).
    ///
    /// # Errors
    /// [`LedgerError::UnknownKey`] when the product has no such key, or a database error.
    pub fn term_start(&self, product: &str, key: &str) -> Result<Option<i64>, LedgerError> {
        self.conn
            .prepare_cached("SELECT term_start FROM keys WHERE product = ?1 AND key = ?2")
            .and_then(|mut st| st.query_row([product, key], |r| r.get(0)).optional())
            .map_err(db("reading a term's start"))?
            .ok_or_else(|| LedgerError::UnknownKey {
                product: product.to_string(),
                key: key.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn full() -> KeyTerms {
        KeyTerms {
            template: Some("pro".into()),
            prior_activations: 3,
            prior_deactivations: 1,
            source: Some("cryptlex-v2 line 7".into()),
            notes: Some("paid by wire".into()),
            customer: Some(42),
            removed_features: vec!["F3".into()],
            removed_metadata: vec!["tier".into(), "plan".into()],
            spec: LicenseSpec {
                product: Some("photo-pro".into()),
                issuer: Some("Acme".into()),
                kind: Some("subscription".into()),
                licensee_name: Some("Ada".into()),
                licensee_email: Some("ada@example.com".into()),
                licensee_org: Some("Acme Ltd".into()),
                product_key: Some("AB-CD".into()),
                days: Some(365),
                expires: None,
                not_before: Some("2026-01-01".into()),
                features: vec!["F1".into(), "export=2027-01-01".into()],
                max_activations: Some(LimitSpec::Count(5)),
                max_deactivations: Some(LimitSpec::Word(UnlimitedWord::Unlimited)),
                maintenance_until: Some("2027-06-30".into()),
                grace_days: Some(7),
                clock_offset_minutes: Some(10),
                metadata: BTreeMap::from([
                    ("seats".to_string(), MetaSpec::Int(-2)),
                    (
                        "activation_os".to_string(),
                        MetaSpec::Text("Windows 11".into()),
                    ),
                    ("zz".to_string(), MetaSpec::Text(String::new())),
                ]),
                machine_threshold: Some(2),
                min_components: Some(MinComponents::try_from(3).unwrap()),
                term_starts: Some(TermStarts::Creation),
            },
        }
    }

    #[test]
    fn every_field_round_trips_and_encoding_is_deterministic() {
        for t in [full(), KeyTerms::default()] {
            let bytes = encode_terms(&t);
            let back = decode_terms(&bytes).unwrap();
            assert_eq!(back, t);
            assert_eq!(encode_terms(&back), bytes);
        }
        assert_eq!(encode_terms(&KeyTerms::default()), [0xa0]);
    }

    #[test]
    fn the_spec_example_is_what_the_encoder_writes() {
        // SPEC.md §16.1: e-mail a@b.c, 3 seats, metadata plan = "pro".
        let t = KeyTerms {
            spec: LicenseSpec {
                licensee_email: Some("a@b.c".into()),
                max_activations: Some(LimitSpec::Count(3)),
                metadata: BTreeMap::from([("plan".to_string(), MetaSpec::Text("pro".into()))]),
                ..LicenseSpec::default()
            },
            ..KeyTerms::default()
        };
        let mut want = vec![0xa3, 0x0e, 0x65];
        want.extend_from_slice(b"a@b.c");
        want.extend_from_slice(&[0x15, 0x03, 0x18, 0x1a, 0xa1, 0x64]);
        want.extend_from_slice(b"plan");
        want.push(0x63);
        want.extend_from_slice(b"pro");
        assert_eq!(encode_terms(&t), want);
    }

    #[test]
    fn the_record_is_the_independent_cbor_oracle_s_reading_too() {
        // ciborium reads the bytes as plain CBOR: integer keys in order, the limit word as
        // text, metadata names in deterministic (length-first) order.
        let bytes = encode_terms(&full());
        let v: ciborium::Value = ciborium::from_reader(bytes.as_slice()).unwrap();
        let map = v.as_map().unwrap();
        let keys: Vec<u64> = map
            .iter()
            .map(|(k, _)| u64::try_from(k.as_integer().unwrap()).unwrap())
            .collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(keys, sorted);
        assert_eq!(keys.len(), 27);
        let meta = &map
            .iter()
            .find(|(k, _)| *k == ciborium::Value::from(26))
            .unwrap()
            .1;
        let names: Vec<&str> = meta
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| k.as_text().unwrap())
            .collect();
        assert_eq!(names, ["zz", "seats", "activation_os"]);
        let unlimited = &map
            .iter()
            .find(|(k, _)| *k == ciborium::Value::from(22))
            .unwrap()
            .1;
        assert_eq!(unlimited.as_text(), Some("unlimited"));
    }

    #[test]
    fn damaged_records_are_refused_with_the_rule_they_break() {
        let rule = |b: &[u8]| decode_terms(b).unwrap_err().kind.rule();
        // {2: 1, 1: "a"}: out of order.
        assert_eq!(rule(&[0xa2, 0x02, 0x01, 0x01, 0x61, b'a']), "unsorted_keys");
        // {1: "a", 1: "b"}
        assert_eq!(
            rule(&[0xa2, 0x01, 0x61, b'a', 0x01, 0x61, b'b']),
            "duplicate_key"
        );
        // {99: 0}: a field this version does not know.
        assert_eq!(rule(&[0xa1, 0x18, 99, 0x00]), "unknown_critical_key");
        // {21: "lots"}: a limit word other than unlimited.
        assert_eq!(
            rule(&[0xa1, 0x15, 0x64, b'l', b'o', b't', b's']),
            "invalid_value"
        );
        // {17: 2^32}: days out of range.
        assert_eq!(
            rule(&[0xa1, 0x11, 0x1b, 0, 0, 0, 1, 0, 0, 0, 0]),
            "integer_out_of_range"
        );
        // {26: {"b": 1, "a": 2}}: metadata names out of order.
        assert_eq!(
            rule(&[0xa1, 0x18, 26, 0xa2, 0x61, b'b', 0x01, 0x61, b'a', 0x02]),
            "unsorted_keys"
        );
        // Fields the encoder leaves out when zero or empty: {2: 0}, {20: []}, {26: {}}.
        for omitted in [
            &[0xa1, 0x02, 0x00][..],
            &[0xa1, 0x14, 0x80],
            &[0xa1, 0x18, 26, 0xa0],
        ] {
            assert_eq!(rule(omitted), "invalid_value", "{omitted:02x?}");
        }
        assert_eq!(rule(&[0xa0, 0x00]), "trailing_bytes");
        assert_eq!(rule(&[0xa1, 0x01]), "unexpected_end");
        // An array where the record's map belongs; JSON text (`{` is a text head whose
        // length runs past the end).
        assert_eq!(rule(&[0x80]), "unexpected_type");
        assert_eq!(rule(b"{}"), "unexpected_end");
    }
}
