//! `vectors/revocations.json`: how a verifier matches a license's product key against a
//! revocation list (`SPEC.md` §13). One signed list names three revoked keys in their match
//! form; each case is a product key as a license may carry it, with the outcome stated here
//! by hand (the generator refuses to write a case the library disagrees with).

use airseal_core::ObjectType;
use airseal_core::productkey::match_form;
use airseal_core::revocation::RevocationList;
use airseal_vendor::issue::Issuer;
use serde_json::{Value, json};

use crate::{NOW, PRODUCT, hex, keys};

/// The keys the vendor revoked, as its ledger stores them, and the list entry (match form)
/// each becomes.
const REVOKED: [(&str, &str); 3] = [
    // A key airseal generated: stored canonical, which is its own match form.
    ("NQBQ6WG6N5JNNZKD29XK", "NQBQ6WG6N5JNNZKD29XK"),
    // Imported keys, stored in their platform's spelling.
    ("ABCD-1234-EFGH", "ABCD1234EFGH"),
    ("KG/KEY,1", "KG/KEY,1"),
];

/// (case name, the product key a license carries, its match form, revoked?)
const CASES: [(&str, &str, &str, bool); 10] = [
    (
        "canonical",
        "NQBQ6WG6N5JNNZKD29XK",
        "NQBQ6WG6N5JNNZKD29XK",
        true,
    ),
    (
        "typed-with-dashes",
        "NQBQ6-WG6N5-JNNZK-D29XK",
        "NQBQ6WG6N5JNNZKD29XK",
        true,
    ),
    (
        "lowercase",
        "nqbq6-wg6n5-jnnzk-d29xk",
        "NQBQ6WG6N5JNNZKD29XK",
        true,
    ),
    ("imported-spelling", "ABCD-1234-EFGH", "ABCD1234EFGH", true),
    (
        "imported-other-separators",
        "abcd 1234_efgh",
        "ABCD1234EFGH",
        true,
    ),
    ("imported-other-characters", "KG/KEY,1", "KG/KEY,1", true),
    ("imported-lowercase", "kg/key,1", "KG/KEY,1", true),
    (
        "different-key",
        "NQBQ6-WG6N5-JNNZK-D29XM",
        "NQBQ6WG6N5JNNZKD29XM",
        false,
    ),
    // No typo mapping: `I` is not `1` for keys the vendor did not make.
    ("look-alike-is-another-key", "KG/KEY,I", "KG/KEY,I", false),
    ("prefix-is-another-key", "KG/KEY", "KG/KEY", false),
];

/// The license id every case's license carries (never listed).
const LICENSE_ID: &str = "0C8G2X9RTV4MA";

/// The revocation matching vectors.
///
/// # Panics
/// When the library disagrees with a stated match form or outcome: the vectors are then
/// not written.
pub fn revocation_vectors() -> Value {
    let key = &keys()[0];
    let mut list = RevocationList {
        seq: 1,
        issued_at: NOW,
        ..RevocationList::default()
    };
    for (stored, entry) in REVOKED {
        assert_eq!(match_form(stored), entry, "the list entry of {stored}");
        list.product_keys.push(entry.to_string());
    }
    list.normalize();
    let signed = Issuer::new(key.key.clone()).sign(ObjectType::RevocationList, &list.encode());
    let cases: Vec<Value> = CASES
        .iter()
        .map(|(name, carried, form, revoked)| {
            assert_eq!(match_form(carried), *form, "{name}");
            assert_eq!(
                list.revokes(LICENSE_ID, Some(carried), PRODUCT, NOW)
                    .is_some(),
                *revoked,
                "{name}"
            );
            json!({
                "name": name,
                "license_product_key": carried,
                "match_form": form,
                "expected": if *revoked { "revoked" } else { "not_revoked" },
            })
        })
        .collect();
    json!({
        "format": "airseal-revocation-match-vectors",
        "version": 1,
        "description": "A license is revoked by key 4 of a revocation list when the match form of its product key (SPEC.md §13: drop '-', ' ', '_' and '.', ASCII letters in upper case, every other character kept) is one of the list's entries.",
        "public_key": hex(&key.public()),
        "list": hex(&signed),
        "revoked_stored_keys": REVOKED.iter().map(|(stored, _)| *stored).collect::<Vec<_>>(),
        "license_id": LICENSE_ID,
        "product": PRODUCT,
        "cases": cases,
    })
}
