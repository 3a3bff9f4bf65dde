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
    assert!(
        r.rejections.iter().all(|x| x.kind == RejectKind::Conflict),
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
