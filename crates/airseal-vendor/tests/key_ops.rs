//! The key lifecycle operations of `SPEC.md` §17.1 (suspend, reinstate, update terms,
//! customers) and finding 14 of issue 13 (an imported key is the generated key of the same
//! canonical form), through the library.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use airseal_vendor::import::{self, ImportOptions, Preset, RejectKind};
use airseal_vendor::keys::KeyKind;
use airseal_vendor::ledger::{BatchKind, KeyFilter, KeyStatus, Ledger};

fn ledger(dir: &Path) -> Ledger {
    let l = Ledger::open(&dir.join("ledger.sqlite3")).unwrap();
    l.products().ensure("photo-pro", None).unwrap();
    l
}

/// Records `keys` as one generated batch.
fn generated(l: &mut Ledger, keys: &[&str]) {
    let mut w = l
        .batches()
        .begin(
            "photo-pro",
            BatchKind::Generated(KeyKind::Random),
            keys.len() as u64,
            None,
            &serde_json::json!({}),
        )
        .unwrap();
    assert!(w.insert_keys(keys).unwrap().iter().all(|new| *new));
    let id = w.commit().unwrap();
    l.batches().mark_complete(id).unwrap();
}

fn import_csv(l: &mut Ledger, csv: &str, update: bool) -> import::ImportReport {
    let o = ImportOptions {
        preset: Preset::parse("generic").unwrap(),
        product: "photo-pro".into(),
        maps: Vec::new(),
        template: None,
        skgl_secret: None,
        update,
        dry_run: false,
        file: "export.csv".into(),
    };
    let r = import::import(l, csv.as_bytes(), &o).unwrap();
    assert!(r.balanced(), "{r:#?}");
    r
}

#[test]
fn an_export_of_generated_keys_names_the_same_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let mut l = ledger(tmp.path());
    generated(&mut l, &["NV3Y0FMAQFS40MVE25QS"]);
    let csv = "key,status\nNV3Y0-FMAQF-S40MV-E25QS,suspended\nnv3y0-fmaqf-s40mv-e25qs,suspended\n";
    let r = import_csv(&mut l, csv, false);
    assert_eq!(r.imported, 0, "{r:#?}");
    // The first spelling is the stored key with another status (a conflict); the second is
    // the first again (a duplicate in the file).
    assert_eq!((r.conflicts, r.duplicates), (1, 1), "{r:#?}");
    assert!(
        r.rejections
            .iter()
            .all(|x| matches!(x.kind, RejectKind::Conflict | RejectKind::Duplicate)),
        "{r:#?}"
    );
    assert_eq!(l.keys().count("photo-pro").unwrap(), 1);
    let info = l
        .keys()
        .info(Some("photo-pro"), "NV3Y0FMAQFS40MVE25QS")
        .unwrap()
        .unwrap();
    assert_eq!(info.status, KeyStatus::Active);

    // Allowed to update, the export's status lands on the one key.
    let r = import_csv(
        &mut l,
        "key,status\nNV3Y0-FMAQF-S40MV-E25QS,suspended\n",
        true,
    );
    assert_eq!(r.updated, 1, "{r:#?}");
    assert_eq!(l.keys().count("photo-pro").unwrap(), 1);
    let info = l
        .keys()
        .info(Some("photo-pro"), "NV3Y0FMAQFS40MVE25QS")
        .unwrap()
        .unwrap();
    assert_eq!(info.status, KeyStatus::Suspended);
    // Same again: already present.
    let r = import_csv(
        &mut l,
        "key,status\nNV3Y0-FMAQF-S40MV-E25QS,suspended\n",
        false,
    );
    assert_eq!(r.already_present, 1, "{r:#?}");

    // A key whose spelling is its own stays a key of its own, found as spelt.
    let r = import_csv(&mut l, "key,status\nABCD-1234-EFGH,active\n", false);
    assert_eq!(r.imported, 1, "{r:#?}");
    for (prefix, want) in [
        ("ABCD-1234-EFGH", "ABCD-1234-EFGH"),
        ("ABCD-12", "ABCD-1234-EFGH"),
        ("NV3Y0-FMAQF", "NV3Y0FMAQFS40MVE25QS"),
        ("nv3y0fmaqf", "NV3Y0FMAQFS40MVE25QS"),
    ] {
        let found = l
            .keys()
            .list(&KeyFilter {
                key_prefix: Some(prefix.into()),
                ..KeyFilter::default()
            })
            .unwrap();
        let keys: Vec<&str> = found.iter().map(|k| k.record.key.as_str()).collect();
        assert_eq!(keys, [want], "{prefix}");
    }
}

mod ops {
    use super::*;
    use airseal_vendor::issue::{LimitSpec, MetaSpec};
    use airseal_vendor::keys::ops::{self, KeyOpError, KeyUpdate, TermChange};
    use airseal_vendor::ledger::AuditFilter;
    use airseal_vendor::vendor_dir::Config;

    const CONFIG: &str = "vendor = \"acme\"\n[products.photo-pro]\nactivation_template = \"pro\"\n\
        [products.photo-pro.templates.pro]\nkind = \"subscription\"\ndays = 30\n\
        features = [\"F1\", \"export\"]\nmax_activations = 2\n\
        [products.photo-pro.templates.pro.metadata]\nplan = \"pro\"\n";

    fn config() -> Config {
        Config::parse(CONFIG, Path::new("airseal.toml")).unwrap()
    }

    fn setup() -> (tempfile::TempDir, Ledger) {
        let tmp = tempfile::tempdir().unwrap();
        let mut l = ledger(tmp.path());
        generated(&mut l, &["AAAAAAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBBBBBB"]);
        (tmp, l)
    }

    fn actions(l: &Ledger, prefix: &str) -> usize {
        l.audit()
            .search(&AuditFilter {
                action: Some(prefix.into()),
                ..AuditFilter::default()
            })
            .unwrap()
            .len()
    }

    #[test]
    fn active_suspended_active_and_revoked_is_final() {
        let (_tmp, l) = setup();
        // Found however it is typed.
        let done = ops::suspend(&l, None, "aaaaa-aaaaa-aaaaa-aaaaa", Some("dispute")).unwrap();
        assert_eq!(
            (done.from, done.to, done.changed),
            ("active", "suspended", true)
        );
        assert_eq!(done.key.key, "AAAAAAAAAAAAAAAAAAAA");
        let again = ops::suspend(&l, Some("photo-pro"), "AAAAAAAAAAAAAAAAAAAA", None).unwrap();
        assert!(!again.changed);
        assert_eq!(actions(&l, "key.suspend"), 1);
        let back = ops::reinstate(&l, None, "AAAAAAAAAAAAAAAAAAAA").unwrap();
        assert_eq!((back.from, back.to), ("suspended", "active"));
        assert!(
            !ops::reinstate(&l, None, "AAAAAAAAAAAAAAAAAAAA")
                .unwrap()
                .changed
        );
        assert_eq!(actions(&l, "key.reinstate"), 1);

        l.keys()
            .set_status("photo-pro", "BBBBBBBBBBBBBBBBBBBB", KeyStatus::Revoked)
            .unwrap();
        for e in [
            ops::reinstate(&l, None, "BBBBBBBBBBBBBBBBBBBB").unwrap_err(),
            ops::suspend(&l, None, "BBBBBBBBBBBBBBBBBBBB", None).unwrap_err(),
            ops::update(
                &l,
                &config(),
                None,
                "BBBBBBBBBBBBBBBBBBBB",
                &KeyUpdate {
                    notes: Some("x".into()),
                    ..KeyUpdate::default()
                },
                0,
            )
            .unwrap_err(),
        ] {
            assert!(matches!(e, KeyOpError::Revoked { .. }), "{e}");
        }
        let info = l
            .keys()
            .info(Some("photo-pro"), "BBBBBBBBBBBBBBBBBBBB")
            .unwrap()
            .unwrap();
        assert_eq!(info.status, KeyStatus::Revoked);
        assert!(matches!(
            ops::suspend(&l, None, "CCCC", None).unwrap_err(),
            KeyOpError::UnknownKey { .. }
        ));
    }

    #[test]
    fn an_update_writes_terms_that_activation_reads_over_the_template() {
        let (_tmp, l) = setup();
        let key = "AAAAAAAAAAAAAAAAAAAA";
        let report = ops::update(
            &l,
            &config(),
            None,
            key,
            &KeyUpdate {
                max_activations: Some(LimitSpec::Count(5)),
                add_features: vec!["F4=2030-01-01".into()],
                remove_features: vec!["export".into()],
                term: Some(TermChange::Extend(5)),
                notes: Some("vip".into()),
                set_metadata: vec![("seats".into(), "7".into())],
                remove_metadata: vec!["plan".into()],
                ..KeyUpdate::default()
            },
            0,
        )
        .unwrap();
        assert!(report.changed);
        assert!(!report.over_limit);
        let terms = l.keys().terms("photo-pro", key).unwrap().unwrap();
        assert_eq!(terms.notes.as_deref(), Some("vip"));
        let base = config().template_spec("photo-pro", "pro").unwrap();
        let spec = terms.over(base.clone());
        assert_eq!(spec.days, Some(35));
        assert_eq!(spec.max_activations, Some(LimitSpec::Count(5)));
        assert_eq!(spec.features, ["F1", "F4=2030-01-01"]);
        assert_eq!(
            spec.metadata.into_iter().collect::<Vec<_>>(),
            [("seats".to_string(), MetaSpec::Int(7))]
        );
        assert_eq!(actions(&l, "key.update"), 1);

        // Removing every feature leaves none, not the template's.
        ops::update(
            &l,
            &config(),
            None,
            key,
            &KeyUpdate {
                remove_features: vec!["F1".into(), "F4".into()],
                ..KeyUpdate::default()
            },
            0,
        )
        .unwrap();
        let terms = l.keys().terms("photo-pro", key).unwrap().unwrap();
        assert!(terms.over(base.clone()).features.is_empty());
        // The same update again changes nothing and audits nothing.
        let same = ops::update(
            &l,
            &config(),
            None,
            key,
            &KeyUpdate {
                notes: Some("vip".into()),
                ..KeyUpdate::default()
            },
            0,
        )
        .unwrap();
        assert!(!same.changed);
        assert_eq!(actions(&l, "key.update"), 2);

        // Refusals name the term and change nothing.
        for (change, field) in [
            (
                KeyUpdate {
                    max_activations: Some(LimitSpec::Count(0)),
                    ..KeyUpdate::default()
                },
                "max_activations",
            ),
            (
                KeyUpdate {
                    term: Some(TermChange::Expires("31/12/2027".into())),
                    ..KeyUpdate::default()
                },
                "expires",
            ),
            (
                KeyUpdate {
                    add_features: vec!["x=notadate".into()],
                    ..KeyUpdate::default()
                },
                "feature",
            ),
            (
                KeyUpdate {
                    add_features: vec!["F2".into()],
                    remove_features: vec!["F2".into()],
                    ..KeyUpdate::default()
                },
                "features",
            ),
        ] {
            match ops::update(&l, &config(), None, key, &change, 0) {
                Err(KeyOpError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{change:?}: {other:?}"),
            }
        }
        assert_eq!(actions(&l, "key.update"), 2);
        // A perpetual key has no end to extend.
        let perpetual = Config::parse(
            "vendor = \"acme\"\n[products.photo-pro]\nactivation_template = \"p\"\n\
             [products.photo-pro.templates.p]\nmax_activations = 1\n",
            Path::new("airseal.toml"),
        )
        .unwrap();
        let e = ops::update(
            &l,
            &perpetual,
            None,
            "BBBBBBBBBBBBBBBBBBBB",
            &KeyUpdate {
                term: Some(TermChange::Extend(3)),
                ..KeyUpdate::default()
            },
            0,
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                KeyOpError::Invalid {
                    field: "extend",
                    ..
                }
            ),
            "{e}"
        );
    }
}

#[test]
fn customers_are_unique_by_address_and_keys_link_to_them() {
    use airseal_vendor::keys::ops::{self, KeyOpError, KeyUpdate};
    use airseal_vendor::ledger::{CustomerError, NewCustomer};
    use airseal_vendor::vendor_dir::Config;

    let tmp = tempfile::tempdir().unwrap();
    let mut l = ledger(tmp.path());
    generated(&mut l, &["AAAAAAAAAAAAAAAAAAAA"]);
    let jane = l
        .customers()
        .add(&NewCustomer {
            email: " jane@example.com ".into(),
            name: Some("Jane".into()),
            org: Some("  ".into()),
            ..NewCustomer::default()
        })
        .unwrap();
    assert_eq!(jane.email, "jane@example.com");
    assert_eq!(jane.org, None);
    match l.customers().add(&NewCustomer {
        email: "Jane@Example.com".into(),
        ..NewCustomer::default()
    }) {
        Err(CustomerError::Duplicate { id, .. }) => assert_eq!(id, jane.id),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        l.customers().add(&NewCustomer {
            email: "jane".into(),
            ..NewCustomer::default()
        }),
        Err(CustomerError::BadEmail { .. })
    ));
    assert_eq!(
        l.customers().by_email("JANE@example.com").unwrap(),
        Some(jane.clone())
    );
    assert_eq!(l.customers().list().unwrap(), std::slice::from_ref(&jane));

    let config = Config::parse("vendor = \"acme\"\n", Path::new("airseal.toml")).unwrap();
    let link = |id| KeyUpdate {
        customer: Some(id),
        ..KeyUpdate::default()
    };
    assert!(matches!(
        ops::update(
            &l,
            &config,
            None,
            "AAAAAAAAAAAAAAAAAAAA",
            &link(jane.id + 1),
            0
        ),
        Err(KeyOpError::UnknownCustomer { .. })
    ));
    ops::update(&l, &config, None, "AAAAAAAAAAAAAAAAAAAA", &link(jane.id), 0).unwrap();
    let listed = l
        .keys()
        .list(&KeyFilter {
            customer: Some(jane.id),
            ..KeyFilter::default()
        })
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].customer, Some(jane.id));
}
