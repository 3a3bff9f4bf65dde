//! Finding a stored product key from the string a customer entered (`SPEC.md` §15.6).
//!
//! Requests carry the key as entered, since only the vendor knows how each key is stored:
//! airseal's own keys in canonical form (§12.1), imported keys verbatim (§16), with their
//! platform's case and separators. One function decides which stored key an entry means,
//! for activation and for `airseal keys inspect` alike:
//!
//! 1. the entry exactly as given;
//! 2. its canonical form (§12.1, typo mapping included), for airseal's keys;
//! 3. its *loose* form — `-`, space, `_` and `.` removed, ASCII case folded — among the
//!    product's keys with their own terms (every imported key has them). Two such keys with
//!    the same loose form make the entry ambiguous: refused
//!    ([`LedgerError::AmbiguousEntry`]), never guessed.
//!
//! # Finding a key by its loose form without a scan (`SPEC.md` §16.2)
//!
//! A key with terms is found from its loose form one of two ways, and every such key is
//! findable one way or the other:
//!
//! * its loose form is stored in `keys.loose`, under a partial index (one index probe);
//! * or its *shape* is recorded in `key_shapes` ([`shape_of`]): where its separators stand
//!   and whether its letters are upper or lower case. A shape turns a loose form back into
//!   the one key it could be ([`rebuild`]), which is then probed exactly.
//!
//! Platforms issue a product's keys in one or two shapes, so an import records a handful of
//! shapes instead of an index entry per key: the index was the largest cost of importing a
//! key after the key itself (measured: 1.6 to 1.9 s a million keys, and 65 bytes each,
//! BENCHMARKS.md). Keys with no shape (mixed-case letters), keys beyond
//! [`MAX_SHAPES`] shapes, and keys given terms one at a time keep their index entry. A
//! lookup probes the index and each recorded shape with as many characters as the entry:
//! a few primary-key probes, never a scan.

use super::db::{Connection, OptionalExtension as _, params};
use airseal_core::productkey::{LOOSE_SEPARATORS, canonical_form};

use super::LedgerError;
use super::error::db;
use super::products::require_product;

/// How many colliding keys an [`LedgerError::AmbiguousEntry`] names at most.
const MAX_NAMED: usize = 5;

/// The loose form of a key: separators (`-`, space, `_`, `.`) removed, ASCII letters in
/// lower case, everything else kept (no Unicode case folding: keys are compared as the
/// platforms issued them). What `keys.loose` holds for every key with terms.
pub(crate) fn loose_form(key: &str) -> String {
    key.chars()
        .filter(|c| !LOOSE_SEPARATORS.contains(c))
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// How many shapes a product records at most; keys of further shapes keep an index entry,
/// so a lookup never probes more than this many shapes.
pub(crate) const MAX_SHAPES: usize = 64;

/// The character a shape has where the key has a character of its loose form.
const SLOT: char = 'x';

/// The shape of `key` (module docs): `U:` or `L:` for the case of its ASCII letters, then the
/// key with every character that is not a separator replaced by `x`; `None` when the key
/// mixes upper- and lower-case ASCII letters, or is all separators, so that no shape can
/// rebuild it. Written into `out` (cleared first) so a bulk import allocates nothing per
/// key. For every key it accepts, `rebuild(out, loose_form(key)) == key`.
pub(crate) fn shape_of(key: &str, out: &mut String) -> bool {
    out.clear();
    out.push_str("U:");
    let (mut upper, mut lower, mut slots) = (false, false, 0usize);
    for c in key.chars() {
        if LOOSE_SEPARATORS.contains(&c) {
            out.push(c);
            continue;
        }
        upper |= c.is_ascii_uppercase();
        lower |= c.is_ascii_lowercase();
        slots += 1;
        out.push(SLOT);
    }
    if lower {
        out.replace_range(..1, "L");
    }
    slots > 0 && !(upper && lower)
}

/// How many characters of a loose form a shape holds (what `key_shapes.slots` stores).
pub(crate) fn shape_slots(shape: &str) -> usize {
    shape.chars().filter(|c| *c == SLOT).count()
}

/// The key of shape `shape` whose loose form is `loose`, if the lengths agree.
pub(crate) fn rebuild(shape: &str, loose: &str) -> Option<String> {
    let (upper, pattern) = match shape.split_at_checked(2)? {
        ("U:", p) => (true, p),
        ("L:", p) => (false, p),
        _ => return None,
    };
    let mut chars = loose.chars();
    let mut key = String::with_capacity(shape.len());
    for p in pattern.chars() {
        if p == SLOT {
            let c = chars.next()?;
            key.push(if upper { c.to_ascii_uppercase() } else { c });
        } else {
            key.push(p);
        }
    }
    chars.next().is_none().then_some(key)
}

/// Which rule found the stored key.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyMatch {
    /// The entry is the stored key.
    Exact,
    /// The entry's canonical form (§12.1) is the stored key.
    Canonical,
    /// An imported key whose loose form (separators and case ignored) is the entry's.
    Loose,
}

/// A stored key found for an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundKey {
    /// The key exactly as the ledger stores it (what a license for it carries).
    pub key: String,
    /// The rule that found it.
    pub matched: KeyMatch,
}

fn key_exists(conn: &Connection, product: &str, key: &str) -> Result<bool, LedgerError> {
    conn.prepare_cached("SELECT 1 FROM keys WHERE product = ?1 AND key = ?2")
        .and_then(|mut st| st.query_row([product, key], |_| Ok(())).optional())
        .map(|found| found.is_some())
        .map_err(db("looking up a key"))
}

fn has_terms(conn: &Connection, product: &str, key: &str) -> Result<bool, LedgerError> {
    conn.prepare_cached("SELECT 1 FROM keys WHERE product = ?1 AND key = ?2 AND terms IS NOT NULL")
        .and_then(|mut st| st.exists([product, key]))
        .map_err(db("looking up a key"))
}

/// The lookup of the module docs, on `conn` (a transaction or the ledger's connection).
pub(super) fn find_key_in(
    conn: &Connection,
    product: &str,
    entered: &str,
) -> Result<Option<FoundKey>, LedgerError> {
    require_product(conn, product)?;
    let entered = entered.trim();
    if entered.is_empty() {
        return Ok(None);
    }
    let found = |key: String, matched| Ok(Some(FoundKey { key, matched }));
    if key_exists(conn, product, entered)? {
        return found(entered.to_string(), KeyMatch::Exact);
    }
    if let Some(canonical) = canonical_form(entered) {
        if canonical != entered && key_exists(conn, product, &canonical)? {
            return found(canonical, KeyMatch::Canonical);
        }
    }
    let loose = loose_form(entered);
    if loose.is_empty() {
        return Ok(None);
    }
    let mut keys: Vec<String> = conn
        .prepare_cached(
            "SELECT key FROM keys INDEXED BY keys_loose
             WHERE product = ?1 AND loose = ?2 ORDER BY key LIMIT ?3",
        )
        .and_then(|mut st| {
            st.query_map(params![product, loose, MAX_NAMED as i64], |r| r.get(0))?
                .collect()
        })
        .map_err(db("looking up a key by its loose form"))?;
    let shapes: Vec<String> = conn
        .prepare_cached("SELECT shape FROM key_shapes WHERE product = ?1 AND slots = ?2")
        .and_then(|mut st| {
            let slots = i64::try_from(loose.chars().count()).unwrap_or(i64::MAX);
            st.query_map(params![product, slots], |r| r.get(0))?
                .collect()
        })
        .map_err(db("looking up a key by its shape"))?;
    for candidate in shapes.iter().filter_map(|s| rebuild(s, &loose)) {
        if !keys.contains(&candidate) && has_terms(conn, product, &candidate)? {
            keys.push(candidate);
        }
    }
    keys.sort_unstable();
    keys.truncate(MAX_NAMED);
    match keys.len() {
        0 => Ok(None),
        1 => found(keys.swap_remove(0), KeyMatch::Loose),
        _ => Err(LedgerError::AmbiguousEntry {
            product: product.to_string(),
            entered: entered.to_string(),
            keys,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::{loose_form, rebuild, shape_of, shape_slots};

    #[test]
    fn loose_form_drops_separators_and_folds_ascii_case_only() {
        assert_eq!(loose_form("AB-cd_EF.g h"), "abcdefgh");
        assert_eq!(
            loose_form("38B1460A-5104-4067-A91D-77B872934D51"),
            "38b1460a51044067a91d77b872934d51"
        );
        // Other characters are kept as they are; non-ASCII letters are not folded.
        assert_eq!(loose_form("key/with+plus=Ä\tX"), "key/with+plus=Ä\tx");
        assert_eq!(loose_form("- _."), "");
    }

    #[test]
    fn a_shape_rebuilds_exactly_the_keys_it_accepts() {
        let mut shape = String::new();
        for key in [
            "8F3A1C-6B2D9E-04C7F1-A95B3D",
            "38b1460a-5104-4067-a91d-77b872934d51",
            "1234 5678.90_12",
            "Äb-cd",
            "ÄB-CD/7",
            "x-y",
            "-x-",
        ] {
            assert!(shape_of(key, &mut shape), "{key}");
            let loose = loose_form(key);
            assert_eq!(shape_slots(&shape), loose.chars().count(), "{key}");
            assert_eq!(rebuild(&shape, &loose).as_deref(), Some(key), "{shape}");
        }
        assert!(shape_of("AB-C1", &mut shape));
        assert_eq!(shape, "U:xx-xx");
        assert!(shape_of("ab.c1", &mut shape));
        assert_eq!(shape, "L:xx.xx");
        // Mixed case cannot be rebuilt, nor can nothing at all.
        for key in ["AB-cd", "Ab-cd", "x-X", "aB", "- _.", ""] {
            assert!(!shape_of(key, &mut shape), "{key}");
        }
        // A loose form of another length fits no key of the shape.
        assert_eq!(rebuild("U:xx-xx", "abc"), None);
        assert_eq!(rebuild("U:xx-xx", "abcde"), None);
        assert_eq!(rebuild("Q:xx", "ab"), None);
        assert_eq!(rebuild("U:xx-xx", "ab1d").as_deref(), Some("AB-1D"));
        assert_eq!(rebuild("L:xx-xx", "ab1d").as_deref(), Some("ab-1d"));
    }
}
