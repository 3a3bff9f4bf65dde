//! The library operations behind the service's admin API: keys made for an order
//! ([`keys::order::create_keys`]), one key's details ([`keys::details::details`]) and a
//! license issued for a key from a named template ([`issue::for_key::issue_for_key`]).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use airseal_vendor::issue::for_key::{LicenseOrder, LicenseOrderError, issue_for_key};
use airseal_vendor::issue::recorded::RecordedError;
use airseal_vendor::issue::{Issuer, LimitSpec};
use airseal_vendor::keys::details::details;
use airseal_vendor::keys::ops::{self, KeyUpdate};
use airseal_vendor::keys::order::{KeyOrder, MAX_ORDER, OrderError, create_keys};
use airseal_vendor::keys::source::SourceError;
use airseal_vendor::ledger::{KeyTerms, LicenseFilter};
use airseal_vendor::vendor_dir::VendorDir;
use ed25519_dalek::SigningKey;

fn vendor(dir: &std::path::Path) -> VendorDir {
    VendorDir::init(dir, "acme", false).unwrap();
    let mut cfg = std::fs::read_to_string(dir.join("airseal.toml")).unwrap();
    cfg.push_str(
        "\n[products.photo-pro]\nactivation_template = \"pro\"\n\
         [products.photo-pro.templates.pro]\nkind = \"subscription\"\ndays = 365\n",
    );
    std::fs::write(dir.join("airseal.toml"), cfg).unwrap();
    VendorDir::open(dir).unwrap()
}

fn issuer() -> Issuer {
    Issuer::new(SigningKey::from_bytes(&[7; 32]))
}

fn order(count: u64) -> KeyOrder {
    KeyOrder {
        product: "photo-pro".into(),
        count,
        ..KeyOrder::default()
    }
}

#[test]
fn an_order_makes_recorded_keys_with_their_terms_and_leaves_no_file() {
    let tmp = tempfile::tempdir().unwrap();
    let v = vendor(tmp.path());
    let mut l = v.open_ledger().unwrap();
    let before: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    let made = create_keys(
        &mut l,
        &v,
        &issuer(),
        &KeyOrder {
            terms: KeyUpdate {
                max_activations: Some(LimitSpec::Count(3)),
                notes: Some("order 7".into()),
                ..KeyUpdate::default()
            },
            ..order(4)
        },
        tmp.path(),
        1_800_000_000,
    )
    .unwrap();
    assert_eq!(made.keys.len(), 4);
    assert_eq!(made.terms.len(), 4);
    let after: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert_eq!(before.len(), after.len(), "a scratch file was left");
    for key in &made.keys {
        let found = ops::find_key(&l, Some("photo-pro"), key).unwrap();
        let terms: KeyTerms = l.keys().terms("photo-pro", &found.key).unwrap().unwrap();
        assert_eq!(
            terms.spec.max_activations,
            Some(LimitSpec::Count(3)),
            "{key}"
        );
        let d = details(&l, None, key).unwrap();
        assert_eq!(d.overview.record.key, found.key);
        assert_eq!(d.overview.notes.as_deref(), Some("order 7"));
        assert!(d.seats.is_empty() && d.licenses.is_empty());
    }
}

#[test]
fn orders_are_refused_before_anything_is_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let v = vendor(tmp.path());
    let mut l = v.open_ledger().unwrap();
    let i = issuer();
    let mut refuse = |o: KeyOrder| create_keys(&mut l, &v, &i, &o, tmp.path(), 0).unwrap_err();
    assert!(matches!(
        refuse(order(0)),
        OrderError::Count { count: 0, .. }
    ));
    assert!(matches!(
        refuse(order(MAX_ORDER + 1)),
        OrderError::Count { .. }
    ));
    assert!(matches!(
        refuse(KeyOrder {
            customer: Some(9),
            ..order(1)
        }),
        OrderError::UnknownCustomer { id: 9 }
    ));
    assert!(matches!(
        refuse(KeyOrder {
            product: "nope".into(),
            ..order(1)
        }),
        OrderError::Source(SourceError::UnknownProduct { .. })
    ));
    assert_eq!(l.batches().list(None).unwrap().len(), 0);
}

#[test]
fn a_license_for_a_key_is_recorded_and_only_for_an_active_key() {
    let tmp = tempfile::tempdir().unwrap();
    let v = vendor(tmp.path());
    let mut l = v.open_ledger().unwrap();
    let i = issuer();
    let made = create_keys(&mut l, &v, &i, &order(2), tmp.path(), 0).unwrap();
    let for_key = |key: &str, template: Option<&str>| LicenseOrder {
        product: "photo-pro".into(),
        key: key.into(),
        template: template.map(Into::into),
        licensee_email: Some("jane@example.com".into()),
        ..LicenseOrder::default()
    };
    let (claims, bytes) =
        issue_for_key(&v, &mut l, &i, &for_key(&made.keys[0], None), 1_800_000_000).unwrap();
    assert!(!bytes.is_empty());
    assert_eq!(claims.product, "photo-pro");
    let recorded = l.licenses().list(&LicenseFilter::default()).unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].license_id, claims.license_id);
    // A template name is never a file.
    let e = issue_for_key(
        &v,
        &mut l,
        &i,
        &for_key(&made.keys[0], Some("/etc/passwd")),
        0,
    )
    .unwrap_err();
    assert!(matches!(e, LicenseOrderError::Config(_)), "{e:?}");
    ops::suspend(&l, None, &made.keys[1], None).unwrap();
    let e = issue_for_key(&v, &mut l, &i, &for_key(&made.keys[1], None), 0).unwrap_err();
    assert!(
        matches!(
            e,
            LicenseOrderError::Recorded(RecordedError::KeyNotActive { .. })
        ),
        "{e:?}"
    );
    assert_eq!(
        l.licenses().list(&LicenseFilter::default()).unwrap().len(),
        1
    );
}
