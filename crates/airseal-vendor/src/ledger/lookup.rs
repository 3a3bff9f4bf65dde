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
//!    product's keys with their own terms (every imported key has them). The loose form is
//!    stored in `keys.loose` under a partial index (migration 7), so this is one index
//!    probe, never a scan. Two such keys with the same loose form make the entry ambiguous:
//!    refused ([`LedgerError::AmbiguousEntry`]), never guessed.

use airseal_core::productkey::canonical_form;
use rusqlite::{Connection, OptionalExtension as _};

use super::{Ledger, LedgerError, db, require_product};

/// The characters a loose match ignores (`SPEC.md` §15.6).
const LOOSE_SEPARATORS: [char; 4] = ['-', ' ', '_', '.'];

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
            st.query_map(rusqlite::params![product, loose, MAX_NAMED as i64], |r| {
                r.get(0)
            })?
            .collect()
        })
        .map_err(db("looking up a key by its loose form"))?;
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

impl Ledger {
    /// The stored key an entry means: exact, then canonical form, then a loose match among
    /// imported keys (see the module docs). `None` when nothing matches.
    ///
    /// # Errors
    /// [`LedgerError::UnknownProduct`], [`LedgerError::AmbiguousEntry`] when the entry
    /// loosely matches several imported keys, or a database error.
    pub fn find_key(&self, product: &str, entered: &str) -> Result<Option<FoundKey>, LedgerError> {
        find_key_in(&self.conn, product, entered)
    }
}

#[cfg(test)]
mod tests {
    use super::loose_form;

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
}
