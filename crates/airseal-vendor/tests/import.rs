//! Imports of each preset's fixture export (`tests/fixtures/import/`), with the messy cases:
//! every test checks that each row lands in exactly one bucket, which rows were rejected
//! and why, and that the imported keys are byte-for-byte the exported ones.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use airseal_vendor::import::{
    self, ImportError, ImportOptions, ImportReport, Preset, RejectKind, Target,
};
use airseal_vendor::issue::{Issuer, LicenseSpec, LimitSpec, MetaSpec, UnlimitedWord};
use airseal_vendor::ledger::{KeyStatus, Ledger};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(name)
}

fn ledger(dir: &Path) -> Ledger {
    let l = Ledger::open(&dir.join("ledger.sqlite3")).unwrap();
    l.products().ensure("photo-pro", None).unwrap();
    l
}

fn opts(preset: Preset, file: &str) -> ImportOptions {
    ImportOptions {
        preset,
        product: "photo-pro".into(),
        maps: Vec::new(),
        template: None,
        skgl_secret: None,
        update: false,
        dry_run: false,
        file: file.into(),
    }
}

fn run(l: &mut Ledger, o: &ImportOptions) -> ImportReport {
    let data = std::fs::read(fixture(&o.file)).unwrap();
    let r = import::import(l, &data, o).unwrap();
    assert!(r.balanced(), "buckets do not add up: {r:#?}");
    assert_eq!(r.read, r.imported + r.already_present + r.rejected);
    r
}

/// (line, column, kind) of every rejection.
fn rejected(r: &ImportReport) -> Vec<(u64, Option<&str>, RejectKind)> {
    r.rejections
        .iter()
        .map(|x| (x.line, x.column.as_deref(), x.kind))
        .collect()
}

fn keys_of(l: &Ledger, r: &ImportReport) -> Vec<String> {
    l.batches().keys(r.batch.unwrap()).unwrap()
}

fn spec_of(l: &Ledger, key: &str) -> LicenseSpec {
    l.keys().terms("photo-pro", key).unwrap().unwrap().spec
}

fn status_of(l: &Ledger, key: &str) -> KeyStatus {
    l.keys()
        .info(Some("photo-pro"), key)
        .unwrap()
        .unwrap()
        .status
}

fn text(s: &str) -> MetaSpec {
    MetaSpec::Text(s.into())
}

#[test]
fn cryptlex_v2_fixture_every_row_accounted_for() {
    let tmp = tempfile::tempdir().unwrap();
    let mut l = ledger(tmp.path());
    let r = run(&mut l, &opts(Preset::CryptlexV2, "cryptlex-v2.csv"));
    assert_eq!(
        (r.read, r.imported, r.already_present, r.rejected),
        (16, 7, 0, 9)
    );
    assert_eq!(
        (r.invalid, r.duplicates, r.conflicts, r.blank_lines),
        (8, 1, 0, 2)
    );
    assert_eq!(
        rejected(&r),
        vec![
            (7, Some("Product Key"), RejectKind::Duplicate),
            (8, None, RejectKind::Invalid), // ragged: 4 fields
            (9, Some("Expires On"), RejectKind::Invalid), // 31/12/2027
            (10, Some("Status"), RejectKind::Invalid), // Frozen
            (13, Some("Custom Fields"), RejectKind::Invalid), // 51 custom fields
            (15, Some("Total Activations"), RejectKind::Invalid), // 0
            (16, Some("Used Activations"), RejectKind::Invalid), // -1
            (17, Some("Email"), RejectKind::Invalid),
            (18, Some("Status"), RejectKind::Invalid), // expired without a date
        ]
    );
    let dup = &r.rejections[0];
    assert_eq!(dup.first_line, Some(2));
    assert!(dup.reason.contains("line 2"), "{}", dup.reason);
    assert!(r.rejections[4].reason.contains("53 metadata entries"));
    // Keys byte for byte, in file order (a multi-line quoted field on line 4 included).
    assert_eq!(
        keys_of(&l, &r),
        [
            "8F3A1C-6B2D9E-04C7F1-A95B3D",
            "1B7E44-90AC3F-D2E815-6C0B7A",
            "C0FFEE-000001-ABCDEF-123456",
            "292929-3A3A3A-4B4B4B-5C5C5C",
            "6D6D6D-7E7E7E-8F8F8F-909090",
            "E4E4E4-F5F5F5-060606-171717",
            "lower-case-key-kept-as-is",
        ]
    );
    let jane = l
        .keys()
        .terms("photo-pro", "8F3A1C-6B2D9E-04C7F1-A95B3D")
        .unwrap()
        .unwrap();
    assert_eq!(jane.prior_activations, 1);
    assert_eq!(jane.prior_deactivations, 0);
    assert_eq!(
        jane.spec.licensee_email.as_deref(),
        Some("jane@example.com")
    );
    assert_eq!(jane.spec.expires.as_deref(), Some("2027-12-31"));
    assert_eq!(jane.spec.max_activations, Some(LimitSpec::Count(3)));
    assert_eq!(jane.spec.max_deactivations, Some(LimitSpec::Count(2)));
    let m = &jane.spec.metadata;
    assert_eq!(m["seats"], MetaSpec::Int(5));
    assert_eq!(m["plan"], text("pro"));
    assert_eq!(m["created"], text("2024-01-15T09:30:00Z"));
    assert_eq!(m["activation_location"], text("Berlin, DE"));
    assert_eq!(
        m["activation_extra_data"],
        text("{\"hostname\":\"jane-laptop\"}")
    );
    assert_eq!(m["activation_os"], text("Windows 11"));
    assert_eq!(m["cryptlex_key_id"], text("5e1f0a"));
    // Custom Fields as a JSON list with quotes and commas; leading zeros stay text.
    let bob = spec_of(&l, "1B7E44-90AC3F-D2E815-6C0B7A");
    assert_eq!(bob.metadata["plan"], text("Pro, \"Gold\""));
    assert_eq!(bob.metadata["order"], text("000123"));
    assert_eq!(bob.expires, None);
    // A quoted newline is data; an offset instant is normalised to UTC.
    let carol = spec_of(&l, "C0FFEE-000001-ABCDEF-123456");
    assert_eq!(
        carol.metadata["activation_extra_data"],
        text("os: win\nram: 16GB")
    );
    assert_eq!(carol.expires.as_deref(), Some("2028-02-29T22:00:00Z"));
    assert_eq!(
        spec_of(&l, "lower-case-key-kept-as-is").expires.as_deref(),
        Some("2030-12-31T23:59:00Z")
    );
    assert_eq!(
        spec_of(&l, "lower-case-key-kept-as-is").max_activations,
        Some(LimitSpec::Word(UnlimitedWord::Unlimited))
    );
    assert_eq!(
        status_of(&l, "6D6D6D-7E7E7E-8F8F8F-909090"),
        KeyStatus::Suspended
    );
    assert_eq!(
        status_of(&l, "E4E4E4-F5F5F5-060606-171717"),
        KeyStatus::Revoked
    );
    assert_eq!(
        status_of(&l, "292929-3A3A3A-4B4B4B-5C5C5C"),
        KeyStatus::Active
    );
    assert_eq!(
        spec_of(&l, "292929-3A3A3A-4B4B4B-5C5C5C")
            .expires
            .as_deref(),
        Some("2023-06-30")
    );
    let info = l.imports().get(r.batch.unwrap()).unwrap().unwrap();
    assert_eq!(info.report["imported"], 7);
    assert_eq!(info.preset, "cryptlex-v2");
}

#[test]
fn reimport_is_idempotent_conflicts_are_kept_unless_update() {
    let tmp = tempfile::tempdir().unwrap();
    let mut l = ledger(tmp.path());
    let o = opts(Preset::CryptlexV2, "cryptlex-v2.csv");
    let first = run(&mut l, &o);
    let again = run(&mut l, &o);
    assert_eq!(
        (
            again.read,
            again.imported,
            again.already_present,
            again.rejected
        ),
        (16, 0, 7, 9)
    );
    assert!(keys_of(&l, &again).is_empty());
    assert_eq!(l.keys().count("photo-pro").unwrap(), 7);

    // The same export with Jane's e-mail and seat count changed.
    let original = std::fs::read_to_string(fixture("cryptlex-v2.csv")).unwrap();
    let changed = original.replacen(
        "\"jane@example.com\", \"Active\", \"12/31/2027\", \"3\", \"1\"",
        "\"jane@new.example\", \"Active\", \"12/31/2027\", \"3\", \"2\"",
        1,
    );
    assert_ne!(changed, original);
    let conflict = import::import(&mut l, changed.as_bytes(), &o).unwrap();
    assert!(conflict.balanced());
    assert_eq!(
        (
            conflict.imported,
            conflict.already_present,
            conflict.rejected,
            conflict.conflicts
        ),
        (0, 6, 10, 1)
    );
    let c = conflict
        .rejections
        .iter()
        .find(|x| x.kind == RejectKind::Conflict)
        .unwrap();
    assert_eq!(c.line, 2);
    assert_eq!(c.fields, vec!["used_activations", "licensee_email"]);
    assert_eq!(
        spec_of(&l, "8F3A1C-6B2D9E-04C7F1-A95B3D")
            .licensee_email
            .as_deref(),
        Some("jane@example.com"),
        "not overwritten without update"
    );

    let updated = import::import(
        &mut l,
        changed.as_bytes(),
        &ImportOptions {
            update: true,
            ..o.clone()
        },
    )
    .unwrap();
    assert!(updated.balanced());
    assert_eq!(
        (
            updated.imported,
            updated.updated,
            updated.already_present,
            updated.rejected
        ),
        (1, 1, 6, 9)
    );
    assert_eq!(updated.updates[0].key, "8F3A1C-6B2D9E-04C7F1-A95B3D");
    let jane = l
        .keys()
        .terms("photo-pro", "8F3A1C-6B2D9E-04C7F1-A95B3D")
        .unwrap()
        .unwrap();
    assert_eq!(
        jane.spec.licensee_email.as_deref(),
        Some("jane@new.example")
    );
    assert_eq!(jane.prior_activations, 2);
    // The update's batch lists the key it updated (it stays in its first batch).
    let written = l.imports().keys(updated.batch.unwrap()).unwrap();
    assert_eq!(written.len(), 1);
    assert_eq!(written[0].key, "8F3A1C-6B2D9E-04C7F1-A95B3D");
    assert_eq!(l.imports().keys(first.batch.unwrap()).unwrap().len(), 7);
}

#[test]
fn dry_run_reports_the_same_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut l = ledger(tmp.path());
    let dry = run(
        &mut l,
        &ImportOptions {
            dry_run: true,
            ..opts(Preset::CryptlexV2, "cryptlex-v2.csv")
        },
    );
    assert_eq!(dry.batch, None);
    assert_eq!((dry.read, dry.imported, dry.rejected), (16, 7, 9));
    assert_eq!(l.keys().count("photo-pro").unwrap(), 0);
    let key_terms: i64 = l
        .sqlite_connection()
        .unwrap()
        .query_row(
            "SELECT count(*) FROM keys WHERE terms IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let batches: i64 = l
        .sqlite_connection()
        .unwrap()
        .query_row("SELECT count(*) FROM batches", [], |r| r.get(0))
        .unwrap();
    assert_eq!((key_terms, batches), (0, 0));
    let real = run(&mut l, &opts(Preset::CryptlexV2, "cryptlex-v2.csv"));
    assert_eq!(
        (real.imported, real.rejections.clone()),
        (dry.imported, dry.rejections)
    );
}

#[test]
fn cryptlex_v3_intervals_names_and_extra_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let mut l = ledger(tmp.path());
    let r = run(&mut l, &opts(Preset::Cryptlex, "cryptlex.csv"));
    assert_eq!(
        (r.read, r.imported, r.rejected, r.blank_lines),
        (9, 5, 4, 1)
    );
    assert_eq!(
        rejected(&r),
        vec![
            (6, Some("subscriptionInterval"), RejectKind::Invalid), // "1 year"
            (8, Some("subscriptionInterval"), RejectKind::Invalid), // no createdAt
            (10, Some("status"), RejectKind::Invalid),              // paused
            (11, None, RejectKind::Invalid),                        // 13 fields
        ]
    );
    assert_eq!(
        keys_of(&l, &r),
        [
            "3F2A-9C41-77D0-E5B8",
            "3F2A-9C41-77D0-E5B9",
            "3F2A-9C41-77D0-E5BA",
            "3F2A-9C41-77D0-E5BB",
            "3F2A-9C41-77D0-E5BD",
        ]
    );
    let ann = spec_of(&l, "3F2A-9C41-77D0-E5B8");
    assert_eq!(ann.licensee_name.as_deref(), Some("Ann Lee"));
    assert_eq!(ann.kind.as_deref(), Some("subscription"));
    assert_eq!(ann.expires.as_deref(), Some("2027-01-15T10:00:00Z"));
    assert_eq!(ann.metadata["subscription_interval"], text("P1Y"));
    assert_eq!(ann.metadata["order_id"], text("ORD-1001"));
    assert_eq!(ann.metadata["cryptlex_id"], text("lic_01"));
    // P1M from 30 September lands on 30 October; P1DT1H adds a day and an hour.
    assert_eq!(
        spec_of(&l, "3F2A-9C41-77D0-E5B9").expires.as_deref(),
        Some("2026-10-30T00:00:00Z")
    );
    assert_eq!(
        spec_of(&l, "3F2A-9C41-77D0-E5BA").expires.as_deref(),
        Some("2030-01-02T01:00:00Z")
    );
    let dan = spec_of(&l, "3F2A-9C41-77D0-E5BB");
    assert_eq!(dan.licensee_name.as_deref(), Some("Dan O'Neil"));
    assert_eq!(dan.metadata["order_id"], text("ORD-1004, split"));
    assert_eq!(dan.expires.as_deref(), Some("2031-06-30T23:59:59Z"));
    assert_eq!(status_of(&l, "3F2A-9C41-77D0-E5BB"), KeyStatus::Suspended);
    // `null` cells are empty.
    let fay = spec_of(&l, "3F2A-9C41-77D0-E5BD");
    assert_eq!((fay.max_activations, fay.expires.clone()), (None, None));
    assert!(!fay.metadata.contains_key("order_id"));
}

#[test]
fn ambiguous_column_is_refused_with_the_map_that_resolves_it() {
    let tmp = tempfile::tempdir().unwrap();
    let mut l = ledger(tmp.path());
    let data = std::fs::read(fixture("cryptlex-ambiguous.csv")).unwrap();
    let o = opts(Preset::Cryptlex, "cryptlex-ambiguous.csv");
    let e = import::import(&mut l, &data, &o).unwrap_err();
    assert!(
        matches!(e, ImportError::AmbiguousColumn { index: 3, .. }),
        "{e}"
    );
    // The error carries what resolves it (the CLI turns this into `--map` advice).
    assert!(
        matches!(&e, ImportError::AmbiguousColumn { column, candidates, .. }
            if column == "totalActivations"
                && candidates.contains(&"max_activations")
                && candidates.contains(&"used_activations")),
        "{e:?}"
    );
    assert_eq!(l.keys().count("photo-pro").unwrap(), 0);
    let mapped = ImportOptions {
        maps: vec![(
            "totalActivations".into(),
            Target::parse("used_activations").unwrap(),
        )],
        ..o
    };
    let r = import::import(&mut l, &data, &mapped).unwrap();
    assert!(r.balanced());
    assert_eq!((r.read, r.imported), (2, 2));
    assert_eq!(
        l.keys()
            .terms("photo-pro", "3F2A-0000-0000-0001")
            .unwrap()
            .unwrap()
            .prior_activations,
        2
    );
    assert!(
        r.columns
            .iter()
            .any(|c| c.header == "totalActivations" && c.target == "used_activations" && c.mapped)
    );
}

#[test]
fn keygen_json_metadata_statuses_and_odd_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let mut l = ledger(tmp.path());
    let r = run(&mut l, &opts(Preset::Keygen, "keygen.csv"));
    assert_eq!(
        (r.read, r.imported, r.rejected, r.blank_lines),
        (8, 6, 2, 1)
    );
    assert_eq!(
        rejected(&r),
        vec![
            (7, Some("status"), RejectKind::Invalid),   // LIMBO
            (8, Some("metadata"), RejectKind::Invalid), // a JSON array
        ]
    );
    assert_eq!(
        keys_of(&l, &r),
        [
            "C1B6DE-39A6E3-DE1529-8559A0-4AF593-V3",
            "ACME,2025,FLOATING",
            "key/with/slashes+plus=",
            "KG-SUSP-0004",
            "KG-BAN-0005",
            "KG-NOTES-0008",
        ]
    );
    let jane = spec_of(&l, "C1B6DE-39A6E3-DE1529-8559A0-4AF593-V3");
    assert_eq!(jane.metadata["seats"], MetaSpec::Int(5));
    assert_eq!(jane.metadata["tier"], text("gold"));
    assert_eq!(jane.metadata["renewals"], text("[1,2]"));
    assert_eq!(jane.metadata["policy"], text("Pro Yearly"));
    assert_eq!(jane.metadata["license_name"], text("Jane Pro"));
    assert_eq!(jane.metadata["uses"], MetaSpec::Int(0));
    assert_eq!(jane.expires.as_deref(), Some("2027-03-01T12:00:00Z"));
    assert_eq!(jane.max_activations, Some(LimitSpec::Count(3)));
    assert_eq!(status_of(&l, "KG-SUSP-0004"), KeyStatus::Suspended);
    assert_eq!(status_of(&l, "KG-BAN-0005"), KeyStatus::Revoked);
    let notes = spec_of(&l, "KG-NOTES-0008");
    assert_eq!(
        notes.metadata["license_name"],
        text("Multi-line\nname, with comma")
    );
    assert_eq!(notes.metadata["note"], text("said \"hi\""));
}

#[test]
fn lemonsqueezy_uuids_limits_and_statuses() {
    let tmp = tempfile::tempdir().unwrap();
    let mut l = ledger(tmp.path());
    let r = run(&mut l, &opts(Preset::LemonSqueezy, "lemonsqueezy.csv"));
    assert_eq!((r.read, r.imported, r.rejected), (9, 5, 4));
    assert_eq!(
        rejected(&r),
        vec![
            (6, Some("status"), RejectKind::Invalid), // expired, no date
            (7, Some("activation_limit"), RejectKind::Invalid), // "three"
            (9, Some("key"), RejectKind::Invalid),    // no key
            (10, Some("key"), RejectKind::Invalid),   // spaces inside quotes
        ]
    );
    assert_eq!(
        keys_of(&l, &r),
        [
            "38b1460a-5104-4067-a91d-77b872934d51",
            "6f1e7a1c-2b3d-4e5f-8a9b-0c1d2e3f4a5b",
            "aa1e7a1c-2b3d-4e5f-8a9b-0c1d2e3f4a5c",
            "bb1e7a1c-2b3d-4e5f-8a9b-0c1d2e3f4a5d",
            "ee1e7a1c-2b3d-4e5f-8a9b-0c1d2e3f4a60",
        ]
    );
    let jane = l
        .keys()
        .terms("photo-pro", "38b1460a-5104-4067-a91d-77b872934d51")
        .unwrap()
        .unwrap();
    assert_eq!(jane.spec.licensee_name.as_deref(), Some("Doe, Jane"));
    assert_eq!(jane.spec.max_activations, Some(LimitSpec::Count(5)));
    assert_eq!(jane.prior_activations, 2);
    assert_eq!(jane.spec.metadata["order_id"], MetaSpec::Int(9001));
    assert_eq!(jane.spec.metadata["key_short"], text("XXXX-77b872934d51"));
    assert_eq!(jane.spec.metadata["variant"], text("Yearly"));
    assert_eq!(jane.spec.metadata["product"], text("Photo Pro"));
    // An empty activation_limit is Lemon Squeezy's "unlimited"; null expires = never.
    let bob = spec_of(&l, "6f1e7a1c-2b3d-4e5f-8a9b-0c1d2e3f4a5b");
    assert_eq!(
        bob.max_activations,
        Some(LimitSpec::Word(UnlimitedWord::Unlimited))
    );
    assert_eq!(bob.expires, None);
    assert_eq!(
        status_of(&l, "bb1e7a1c-2b3d-4e5f-8a9b-0c1d2e3f4a5d"),
        KeyStatus::Suspended
    );
    assert_eq!(
        spec_of(&l, "ee1e7a1c-2b3d-4e5f-8a9b-0c1d2e3f4a60")
            .licensee_name
            .as_deref(),
        Some("Gil \"The Key\" Ortiz")
    );
}

#[test]
fn cryptolens_skgl_keys_are_decoded_with_the_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let mut l = ledger(tmp.path());
    let r = run(
        &mut l,
        &ImportOptions {
            skgl_secret: Some("567".into()),
            ..opts(Preset::Cryptolens, "cryptolens.csv")
        },
    );
    assert_eq!((r.read, r.imported, r.rejected), (7, 4, 3));
    assert_eq!(r.skgl_decoded, Some(2));
    assert_eq!(
        rejected(&r),
        vec![
            (6, Some("Key"), RejectKind::Duplicate),
            (7, Some("F1"), RejectKind::Invalid), // the SKGL key does not grant F1
            (9, Some("F1"), RejectKind::Invalid), // "maybe" (line 4's notes span two lines)
        ]
    );
    assert_eq!(
        keys_of(&l, &r),
        [
            "MCGGP-DDZKW-XAFSH-PZTXK",
            "HCBIT-BSCZB-NNHJC-HMZEH",
            "QWERT-YUIOP-ASDFG-HJKLZ",
            "ZXCVB-NMASD-FGHJK-LQWER",
        ]
    );
    // All from the SKGL key: created 2026-01-05, 999 days, F2 and F5.
    let a = spec_of(&l, "MCGGP-DDZKW-XAFSH-PZTXK");
    assert_eq!(a.features, ["F2", "F5"]);
    assert_eq!(a.expires.as_deref(), Some("2028-09-30"));
    assert_eq!(a.metadata["created"], text("2026-01-05"));
    assert_eq!(a.licensee_name.as_deref(), Some("Acme GmbH"));
    assert_eq!(a.max_activations, Some(LimitSpec::Count(2)));
    // Period in days from the created date; 0 machines = unlimited.
    let b = spec_of(&l, "HCBIT-BSCZB-NNHJC-HMZEH");
    assert_eq!(b.features, ["F1", "F2", "F3"]);
    assert_eq!(b.expires.as_deref(), Some("2027-06-01"));
    assert_eq!(
        b.max_activations,
        Some(LimitSpec::Word(UnlimitedWord::Unlimited))
    );
    let c = spec_of(&l, "QWERT-YUIOP-ASDFG-HJKLZ");
    assert_eq!(c.features, ["F4"]);
    assert_eq!(c.metadata["notes"], text("Line one\nline two"));
    assert_eq!(
        status_of(&l, "ZXCVB-NMASD-FGHJK-LQWER"),
        KeyStatus::Suspended
    );
}

#[test]
fn generic_needs_maps_for_ambiguous_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let mut l = ledger(tmp.path());
    let data = std::fs::read(fixture("generic.csv")).unwrap();
    let mut o = opts(Preset::Generic, "generic.csv");
    let e = import::import(&mut l, &data, &o).unwrap_err();
    assert!(
        matches!(e, ImportError::AmbiguousColumn { index: 3, .. }),
        "{e}"
    );
    assert!(
        matches!(&e, ImportError::AmbiguousColumn { column, candidates, .. }
            if column == "Seats" && candidates.contains(&"max_activations")),
        "{e:?}"
    );
    // Matched case-insensitively, ignoring punctuation.
    o.maps = vec![("seats".into(), Target::MaxActivations)];
    let e = import::import(&mut l, &data, &o).unwrap_err();
    assert!(matches!(e, ImportError::NoKeyColumn { .. }), "{e}");
    assert!(e.to_string().contains("no key column"), "{e}");
    o.maps.extend([
        ("License".into(), Target::Key),
        ("Customer Email".into(), Target::Email),
        ("Valid Until".into(), Target::Expires),
    ]);
    let r = import::import(&mut l, &data, &o).unwrap();
    assert!(r.balanced());
    assert_eq!((r.read, r.imported, r.rejected), (2, 2, 0));
    assert_eq!(keys_of(&l, &r), ["GEN-0001", "GEN-0002"]);
    let ann = spec_of(&l, "GEN-0001");
    assert_eq!(ann.metadata["Plan"], text("pro"));
    assert_eq!(ann.max_activations, Some(LimitSpec::Count(3)));
    assert_eq!(ann.expires.as_deref(), Some("2030-01-01"));
}

#[test]
fn files_that_are_not_csv_are_refused_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let mut l = ledger(tmp.path());
    let err = |file: &str| {
        let data = std::fs::read(fixture(file)).unwrap();
        import::import(
            &mut ledger(tmp.path()),
            &data,
            &opts(Preset::CryptlexV2, file),
        )
        .unwrap_err()
    };
    assert!(matches!(err("not-csv.xlsx"), ImportError::Binary));
    assert!(matches!(
        err("latin1.csv"),
        ImportError::NotText { line: 2, .. }
    ));
    assert!(matches!(
        err("json-not-csv.json"),
        ImportError::NotCsv { what: "JSON" }
    ));
    let data = std::fs::read(fixture("unterminated.csv")).unwrap();
    let e = import::import(&mut l, &data, &opts(Preset::Generic, "unterminated.csv")).unwrap_err();
    assert!(
        matches!(e, ImportError::UnterminatedQuote { line: 2 }),
        "{e}"
    );
    assert!(matches!(
        import::import(&mut l, b"", &opts(Preset::Generic, "empty")).unwrap_err(),
        ImportError::Empty
    ));
    assert_eq!(l.keys().count("photo-pro").unwrap(), 0);
}

#[test]
fn template_metadata_counts_toward_the_limit_and_licenses_are_planned() {
    let tmp = tempfile::tempdir().unwrap();
    let mut l = ledger(tmp.path());
    // The license carries the template's metadata too: a template with 50 entries leaves
    // no room for the row's `Plan`, so both rows are rejected (not truncated).
    let full = LicenseSpec {
        metadata: (0..50)
            .map(|i| (format!("t{i}"), MetaSpec::Int(i)))
            .collect(),
        ..LicenseSpec::default()
    };
    let r = run(
        &mut l,
        &ImportOptions {
            template: Some(("full".into(), full)),
            ..opts(Preset::Generic, "generic.csv")
        }
        .with_generic_maps(),
    );
    assert_eq!((r.read, r.imported, r.rejected), (2, 0, 2));
    assert!(
        r.rejections[0]
            .reason
            .contains("51 metadata entries (50 from the template)"),
        "{}",
        r.rejections[0].reason
    );
    assert_eq!(r.rejections[0].column.as_deref(), Some("Plan"));
    let template = LicenseSpec {
        kind: Some("subscription".into()),
        grace_days: Some(7),
        metadata: (0..48)
            .map(|i| (format!("t{i}"), MetaSpec::Int(i)))
            .collect(),
        ..LicenseSpec::default()
    };
    let r = run(
        &mut l,
        &ImportOptions {
            template: Some(("pro".into(), template.clone())),
            ..opts(Preset::Generic, "generic.csv")
        }
        .with_generic_maps(),
    );
    assert_eq!((r.imported, r.rejected), (2, 0));
    let terms = l.keys().terms("photo-pro", "GEN-0001").unwrap().unwrap();
    assert_eq!(terms.template.as_deref(), Some("pro"));

    let issuer = Issuer::new(ed25519_dalek::SigningKey::from_bytes(&[7; 32]));
    let now = 1_900_000_000; // 2030-03-17: GEN-0001 (to 2030-01-01) has expired
    let plan = import::licenses::plan(
        &l,
        r.batch.unwrap(),
        &LicenseSpec::default(),
        |name| {
            assert_eq!(name, "pro");
            Ok(template.clone())
        },
        now,
    )
    .unwrap();
    assert_eq!(plan.jobs.len(), 1);
    assert_eq!(plan.skipped.len(), 1);
    assert!(plan.skipped[0].reason.contains("expired"));
    let job = &plan.jobs[0];
    assert_eq!(job.spec.product_key.as_deref(), Some("GEN-0002"));
    assert_eq!(job.spec.grace_days, Some(7), "template under the terms");
    let out = std::sync::Mutex::new(Vec::new());
    import::licenses::issue_parallel(
        &issuer,
        std::slice::from_ref(&job.spec),
        now,
        2,
        &|i, res| -> Result<(), ()> {
            out.lock().unwrap().push((i, res));
            Ok(())
        },
    )
    .unwrap();
    let out = out.into_inner().unwrap();
    let (_, bytes) = out[0].1.as_ref().unwrap();
    let mut trust = airseal_verify::TrustStore::new();
    trust.add_key(&issuer.public_key()).unwrap();
    let lic = trust
        .verify(bytes, now, &airseal_verify::Expected::product("photo-pro"))
        .unwrap();
    assert_eq!(lic.claims().product_key.as_deref(), Some("GEN-0002"));
    assert_eq!(lic.claims().metadata.len(), 49);
}

trait GenericMaps {
    fn with_generic_maps(self) -> Self;
}

impl GenericMaps for ImportOptions {
    fn with_generic_maps(mut self) -> Self {
        self.maps = vec![
            ("License".into(), Target::Key),
            ("Customer Email".into(), Target::Email),
            ("Valid Until".into(), Target::Expires),
            ("Seats".into(), Target::MaxActivations),
        ];
        self
    }
}

#[test]
fn keys_of_many_shapes_are_all_found_by_their_loose_form() {
    // 70 keys of 70 shapes (each a different length), over two imports: the product records
    // 64 shapes, and the keys of the others get an index entry instead. Every key, typed in
    // lower case without separators, is found either way.
    let dir = tempfile::tempdir().unwrap();
    let mut l = ledger(dir.path());
    let keys: Vec<String> = (1..=70).map(|n| format!("K{}-7", "Q".repeat(n))).collect();
    for part in keys.chunks(40) {
        let csv = format!(
            "key,email\n{}\n",
            part.join(",x@example.com\n") + ",x@example.com"
        );
        let r = import::import(&mut l, csv.as_bytes(), &opts(Preset::Generic, "many.csv")).unwrap();
        assert!(r.balanced());
        assert_eq!(r.imported as usize, part.len());
    }
    let count = |sql: &str| -> i64 {
        l.sqlite_connection()
            .unwrap()
            .query_row(sql, [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(count("SELECT count(*) FROM key_shapes"), 64);
    assert_eq!(
        count("SELECT count(*) FROM keys WHERE loose IS NOT NULL"),
        6
    );
    for key in &keys {
        let typed = key.replace('-', "").to_lowercase();
        let found = l.keys().find("photo-pro", &typed).unwrap().unwrap();
        assert_eq!(&found.key, key);
    }
    // A shape only ever finds keys with terms: KQ-8 has the shape of the imported KQ-7 but
    // was generated (no terms), so typed loosely it is unknown; typed as stored, found.
    let mut w = l
        .batches()
        .begin(
            "photo-pro",
            airseal_vendor::keys::KeyKind::Random.into(),
            1,
            None,
            &serde_json::json!({}),
        )
        .unwrap();
    w.insert_key("KQ-8").unwrap();
    w.commit().unwrap();
    assert_eq!(l.keys().find("photo-pro", "kq8").unwrap(), None);
    assert_eq!(
        l.keys().find("photo-pro", "KQ-8").unwrap().unwrap().key,
        "KQ-8"
    );
}

#[test]
fn the_e_mail_search_filters_before_it_limits() {
    // The e-mail is inside each key's terms record, so the search filters in Rust; the limit
    // must count matches, not rows looked at.
    let dir = tempfile::tempdir().unwrap();
    let mut l = ledger(dir.path());
    let csv = "key,email\nK-1,ann@x.example\nK-2,bob@y.example\nK-3,cy@X.example\n";
    let r = import::import(&mut l, csv.as_bytes(), &opts(Preset::Generic, "e.csv")).unwrap();
    assert_eq!(r.imported, 3);
    let search = |limit| {
        l.keys()
            .list(&airseal_vendor::ledger::KeyFilter {
                email: Some("@x.".into()),
                limit: Some(limit),
                ..Default::default()
            })
            .unwrap()
            .into_iter()
            .map(|k| (k.record.key, k.email.unwrap_or_default()))
            .collect::<Vec<_>>()
    };
    assert_eq!(search(1), [("K-1".into(), "ann@x.example".to_string())]);
    assert_eq!(
        search(2),
        [
            ("K-1".into(), "ann@x.example".to_string()),
            ("K-3".into(), "cy@X.example".to_string())
        ]
    );
}

#[test]
fn progress_goes_forward_to_the_totals_and_changes_nothing() {
    // 12,000 rows (under 1 MiB) are read on one thread; 40,000 on two, whose positions are
    // added up. Some rows are rejected (a bad e-mail, a repeated key), so the writing total
    // is the valid rows, not the rows read.
    for rows in [12_000u64, 40_000] {
        let mut csv = String::from("key,email,name\n");
        for i in 0..rows {
            let email = if i % 997 == 5 {
                "not an e-mail".to_string()
            } else {
                format!("user{i}@example.com")
            };
            let key = if i % 1009 == 7 { i - 1 } else { i };
            csv.push_str(&format!(
                "KEY-{key:08}-PROGRESS,{email},Customer number {i}\n"
            ));
        }
        let data = csv.into_bytes();
        let o = opts(Preset::Generic, "progress.csv");

        let plain_dir = tempfile::tempdir().unwrap();
        let mut plain_ledger = ledger(plain_dir.path());
        let plain = import::import(&mut plain_ledger, &data, &o).unwrap();

        let dir = tempfile::tempdir().unwrap();
        let mut l = ledger(dir.path());
        let mut seen = Vec::new();
        let with = import::import_with_progress(&mut l, &data, &o, &mut |p| seen.push(p)).unwrap();

        assert!(plain.rejected > 0 && plain.imported > 0, "{plain:#?}");
        assert_eq!(
            serde_json::to_value(&with).unwrap(),
            serde_json::to_value(&plain).unwrap()
        );
        assert_eq!(keys_of(&l, &with), keys_of(&plain_ledger, &plain));

        // Every parsing report comes before every writing report.
        let split = seen
            .iter()
            .position(|p| matches!(p, import::ImportProgress::Writing { .. }))
            .unwrap();
        let (parsing, writing) = seen.split_at(split);
        let parsing: Vec<(u64, u64)> = parsing
            .iter()
            .map(|p| match *p {
                import::ImportProgress::Parsing { bytes, total } => (bytes, total),
                other => panic!("{other:?} among the parsing reports"),
            })
            .collect();
        let writing: Vec<(u64, u64)> = writing
            .iter()
            .map(|p| match *p {
                import::ImportProgress::Writing { rows, total } => (rows, total),
                other => panic!("{other:?} after the writing began"),
            })
            .collect();
        for (phase, reports, total) in [
            ("parsing", &parsing, data.len() as u64),
            ("writing", &writing, with.imported),
        ] {
            assert!(
                reports.iter().all(|&(_, t)| t == total),
                "{phase}: {reports:?}"
            );
            assert!(
                reports.windows(2).all(|w| w[0].0 <= w[1].0),
                "{phase} went back: {reports:?}"
            );
            assert_eq!(reports.last().unwrap().0, total, "{phase}");
            // Reports along the way, not only at the end.
            assert!(
                reports.iter().filter(|&&(n, _)| n > 0 && n < total).count() >= 1,
                "{phase}: {reports:?}"
            );
        }
    }
}
