//! `keys::classify::classify`: the verdict `airseal keys inspect` prints, as a typed value.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use airseal_core::productkey::{DEFAULT_PATTERN, Pattern};
use airseal_vendor::batch::{self, BatchRequest, KeySource, OutputFormat};
use airseal_vendor::keys::classify::{Found, KeyVerdict, classify};
use airseal_vendor::keys::{KeyGenerator, seeded_rng};
use airseal_vendor::vendor_dir::VendorDir;

#[test]
fn valid_typo_unknown_and_malformed_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    VendorDir::init(dir.path(), "acme", false).unwrap();
    let mut cfg = std::fs::read_to_string(dir.path().join("airseal.toml")).unwrap();
    cfg.push_str("\n[products.photo-pro]\n");
    std::fs::write(dir.path().join("airseal.toml"), cfg).unwrap();
    let vendor = VendorDir::open(dir.path()).unwrap();
    let mut ledger = vendor.open_ledger().unwrap();
    let pattern = Pattern::parse(DEFAULT_PATTERN).unwrap();
    let out = dir.path().join("k.txt");
    batch::generate(
        &mut ledger,
        BatchRequest {
            product: "photo-pro",
            count: 2,
            source: KeySource::Generator(
                KeyGenerator::random(pattern.clone(), 80, seeded_rng(5)).unwrap(),
            ),
            format: OutputFormat::Txt,
            output: &out,
            force: false,
            template: None,
            customer: None,
        },
        &mut |_| {},
    )
    .unwrap();
    let key = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    let now = 1_800_000_000;
    let verdict = |typed: &str| classify(&vendor, &ledger, None, typed, now).unwrap();

    // Issued: valid, with its batch, typed in lower case all the same.
    match verdict(&key.to_lowercase()) {
        KeyVerdict::Valid(k) => {
            assert_eq!(
                (k.product.as_str(), k.key.as_str()),
                ("photo-pro", key.as_str())
            );
            assert_eq!(k.record.as_ref().map(|r| r.batch), Some(1));
            assert!(matches!(k.found, Found::Pattern { data: None, .. }));
        }
        other => panic!("{other:?}"),
    }
    // One symbol changed: a typo, for the product whose pattern read it.
    let mut typo = key.clone().into_bytes();
    typo[2] = if typo[2] == b'A' { b'B' } else { b'A' };
    let typo = String::from_utf8(typo).unwrap();
    assert!(
        matches!(verdict(&typo), KeyVerdict::Typo { ref product } if product == "photo-pro"),
        "{:?}",
        verdict(&typo)
    );
    // Well-formed with a valid check symbol, never issued: unknown.
    let mut fresh = Vec::new();
    pattern.fill((0..19).map(|i| (i * 7 % 32) as u8), &mut fresh);
    let fresh = String::from_utf8(fresh).unwrap();
    assert!(
        matches!(verdict(&fresh), KeyVerdict::Unknown { ref canonical, .. } if *canonical == fresh),
        "{:?}",
        verdict(&fresh)
    );
    // Not a key at all, with or without a character no key has: read against the
    // product's pattern, never mistaken for a damaged 136-symbol signed key.
    for typed in ["HELLO", "ab!!", "KH5F4-MZHDY-K0HFG-SCB!"] {
        assert!(
            matches!(
                verdict(typed),
                KeyVerdict::Malformed {
                    pattern: Some(_),
                    ..
                }
            ),
            "{typed}: {:?}",
            verdict(typed)
        );
    }
    // A signed key's length with a stray character is read as a signed key: that path
    // needs the vendor's public key, which this folder lacks.
    let signed_length = "A".repeat(airseal_core::signedkey::SYMBOLS - 1) + "!";
    assert!(matches!(
        classify(&vendor, &ledger, None, &signed_length, now),
        Err(airseal_vendor::keys::classify::ClassifyError::PublicKeyIo { .. })
    ));
}
