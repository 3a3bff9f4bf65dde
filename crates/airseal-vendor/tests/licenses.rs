//! The ledger's `licenses` table (migration 6): every signed license recorded with its
//! source — `issue`, `batch`, `activation` (first issue and re-issue) — searchable, with
//! refused activations and failed batches recording nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use airseal_core::LicenseKind;
use airseal_core::activation::{ActivationRequest, Purpose};
use airseal_core::cose::ObjectType;
use airseal_vendor::activate::{self, ActivationError, Response};
use airseal_vendor::issue::{Issuer, LicenseSpec};
use airseal_vendor::ledger::{
    AuditFilter, Ledger, LedgerError, LicenseFilter, LicenseRecord, LicenseSource, signed_claims,
};
use airseal_vendor::vendor_dir::Config;
use ed25519_dalek::SigningKey;
use serde_json::json;

const NOW: i64 = 1_780_000_000;
const DAY: i64 = 86_400;

const CONFIG: &str = r#"
vendor = "acme"

[products.photo-pro]
activation_template = "pro"
trial_template = "trial"

[products.photo-pro.templates.pro]
kind = "subscription"
days = 365
max_activations = 1

[products.photo-pro.templates.trial]
days = 14
"#;

struct Vendor {
    _dir: tempfile::TempDir,
    ledger: Ledger,
    issuer: Issuer,
    config: Config,
}

fn vendor() -> Vendor {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(&dir.path().join("ledger.sqlite3")).unwrap();
    ledger.products().ensure("photo-pro", None).unwrap();
    Vendor {
        _dir: dir,
        ledger,
        issuer: Issuer::new(SigningKey::from_bytes(&[1; 32])),
        config: Config::parse(CONFIG, Path::new("airseal.toml")).unwrap(),
    }
}

impl Vendor {
    fn batch(&mut self, keys: &[&str]) -> i64 {
        let mut w = self
            .ledger
            .batches()
            .begin(
                "photo-pro",
                airseal_vendor::keys::KeyKind::Random.into(),
                keys.len() as u64,
                None,
                &json!({}),
            )
            .unwrap();
        for k in keys {
            assert!(w.insert_key(k).unwrap());
        }
        w.commit().unwrap()
    }

    fn answer(&mut self, request: &[u8]) -> Result<Response, ActivationError> {
        activate::answer_request(&mut self.ledger, &self.issuer, &self.config, request, NOW)
    }

    fn list(&self, filter: LicenseFilter) -> Vec<LicenseRecord> {
        self.ledger.licenses().list(&filter).unwrap()
    }

    fn count(&self) -> usize {
        self.list(LicenseFilter::default()).len()
    }
}

/// An activation request from the device with key seed `seed`, on components `[1..=3]`.
fn request(seed: u8, key: Option<&str>, nonce: u8) -> Vec<u8> {
    let device = Issuer::new(SigningKey::from_bytes(&[seed; 32]));
    let mut r = ActivationRequest {
        product: "photo-pro".into(),
        product_key: key.map(str::to_string),
        components: vec![[1; 8], [2; 8], [3; 8]],
        device_key: device.public_key(),
        nonce: [nonce; 16],
        created: NOW,
        app_version: None,
        purpose: if key.is_some() {
            Purpose::Activation
        } else {
            Purpose::Trial
        },
        meters: Vec::new(),
    };
    r.normalize();
    device.sign(ObjectType::ActivationRequest, &r.encode())
}

fn spec(email: &str, key: Option<&str>) -> LicenseSpec {
    LicenseSpec {
        product: Some("photo-pro".into()),
        kind: Some("subscription".into()),
        licensee_email: Some(email.into()),
        licensee_name: Some("Jane Doe".into()),
        product_key: key.map(str::to_string),
        days: Some(30),
        ..LicenseSpec::default()
    }
}

#[test]
fn a_single_issue_is_recorded_with_its_fields_and_audited_together() {
    let v = vendor();
    let (claims, bytes) = v
        .issuer
        .issue_spec(&spec("Jane@Example.com", Some("AB-CD")), NOW)
        .unwrap();
    let signer = v.issuer.key_id();
    v.ledger
        .licenses()
        .record(&claims, Some(signer), &json!({ "key_id": "k1" }))
        .unwrap();
    let rows = v.list(LicenseFilter::default());
    assert_eq!(
        rows,
        vec![LicenseRecord {
            token_id: claims.token_id.clone(),
            license_id: claims.license_id.clone(),
            product: "photo-pro".into(),
            product_key: Some("AB-CD".into()),
            kind: LicenseKind::Subscription,
            email: Some("Jane@Example.com".into()),
            name: Some("Jane Doe".into()),
            issued_at: NOW,
            expires_at: Some(NOW + 30 * DAY),
            source: LicenseSource::Issue,
            activation: None,
            batch: None,
            signed_by: Some(signer),
        }]
    );
    // The signed bytes say the same as the claims recorded.
    assert_eq!(signed_claims(&bytes).unwrap().token_id, claims.token_id);
    assert!(matches!(
        signed_claims(b"not a license"),
        Err(LedgerError::BadLicense { .. })
    ));
    let audit = v
        .ledger
        .audit()
        .search(&AuditFilter {
            action: Some("license.issue".into()),
            ..AuditFilter::default()
        })
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].subject, claims.license_id);
    assert_eq!(audit[0].detail["key_id"], "k1");
    assert_eq!(audit[0].detail["product_key"], "AB-CD");
    // Recording the same document twice is refused, and the refusal audits nothing.
    assert!(
        v.ledger
            .licenses()
            .record(&claims, None, &json!({}))
            .is_err()
    );
    assert_eq!(v.count(), 1);
    assert_eq!(
        v.ledger
            .audit()
            .search(&AuditFilter {
                action: Some("license.issue".into()),
                ..AuditFilter::default()
            })
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn activation_responses_and_reissues_are_recorded_and_refusals_record_nothing() {
    let mut v = vendor();
    v.batch(&["KEY1"]);
    let first = v.answer(&request(10, Some("KEY1"), 1)).unwrap();
    let again = v.answer(&request(10, Some("key-1"), 2)).unwrap();
    assert!(again.reissued);
    let trial = v.answer(&request(11, None, 3)).unwrap();

    let rows = v.list(LicenseFilter {
        source: Some(LicenseSource::Activation),
        ..LicenseFilter::default()
    });
    assert_eq!(rows.len(), 3, "{rows:#?}");
    // The first response and the re-issue: one license id, two documents, one seat.
    assert_eq!(rows[0].token_id, first.claims.token_id);
    assert_eq!(rows[1].token_id, again.claims.token_id);
    assert_ne!(rows[0].token_id, rows[1].token_id);
    assert_eq!(rows[0].license_id, rows[1].license_id);
    assert_eq!(rows[0].activation, Some(first.activation.id));
    assert_eq!(rows[1].activation, Some(first.activation.id));
    assert_eq!(rows[0].product_key.as_deref(), Some("KEY1"));
    assert_eq!(rows[0].kind, LicenseKind::Subscription);
    assert_eq!(rows[0].expires_at, Some(NOW + 365 * DAY));
    assert_eq!(rows[0].batch, None);
    // The trial: no key, its own seat.
    assert_eq!(rows[2].license_id, trial.claims.license_id);
    assert_eq!(rows[2].product_key, None);
    assert_eq!(rows[2].kind, LicenseKind::Trial);
    assert_eq!(rows[2].activation, Some(trial.activation.id));

    // Refused: no seat left, unknown key, a second trial on the same machine.
    for (seed, key, nonce) in [(12, Some("KEY1"), 4), (12, Some("NOPE"), 5), (13, None, 6)] {
        assert!(v.answer(&request(seed, key, nonce)).is_err());
    }
    assert_eq!(v.count(), 3);
}

#[test]
fn batch_licenses_are_recorded_in_one_transaction_in_their_order() {
    let mut v = vendor();
    let batch = v.batch(&["K1", "K2", "K3"]);
    let claims: Vec<_> = ["K1", "K2", "K3"]
        .iter()
        .map(|k| {
            v.issuer
                .issue_spec(&spec(&format!("{k}@example.com"), Some(k)), NOW)
                .unwrap()
                .0
        })
        .collect();
    let n = v
        .ledger
        .licenses()
        .record_batch(batch, &claims, None, &json!({ "issued": 3 }))
        .unwrap();
    assert_eq!(n, 3);
    let rows = v.list(LicenseFilter {
        source: Some(LicenseSource::Batch),
        ..LicenseFilter::default()
    });
    let keys: Vec<_> = rows.iter().map(|r| r.product_key.as_deref()).collect();
    assert_eq!(keys, [Some("K1"), Some("K2"), Some("K3")]);
    assert!(
        rows.iter()
            .all(|r| r.batch == Some(batch) && r.activation.is_none())
    );
    let audit = v
        .ledger
        .audit()
        .search(&AuditFilter {
            action: Some("license.issue_batch".into()),
            ..AuditFilter::default()
        })
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].subject, batch.to_string());
    assert_eq!(audit[0].detail["recorded"], 3);
    assert_eq!(audit[0].detail["issued"], 3);

    // A batch that does not exist, or a document recorded twice: nothing at all.
    assert!(matches!(
        v.ledger
            .licenses()
            .record_batch(99, &claims, None, &json!({})),
        Err(LedgerError::UnknownBatch { id: 99 })
    ));
    let fresh = v
        .issuer
        .issue_spec(&spec("x@example.com", None), NOW)
        .unwrap()
        .0;
    assert!(
        v.ledger
            .licenses()
            .record_batch(batch, &[fresh, claims[0].clone()], None, &json!({}))
            .is_err()
    );
    assert_eq!(v.count(), 3);
}

#[test]
fn filters_narrow_by_product_key_license_email_and_source() {
    let mut v = vendor();
    let batch = v.batch(&["AAAA-BBBB"]);
    let imported = v
        .issuer
        .issue_spec(&spec("jane@example.com", Some("aaaa-bbbb")), NOW)
        .unwrap()
        .0;
    v.ledger
        .licenses()
        .record_batch(batch, std::slice::from_ref(&imported), None, &json!({}))
        .unwrap();
    let generated = v
        .issuer
        .issue_spec(&spec("JOHN@example.org", Some("CCCCDDDD")), NOW)
        .unwrap()
        .0;
    v.ledger
        .licenses()
        .record(&generated, None, &json!({}))
        .unwrap();
    let mut other = v
        .issuer
        .issue_spec(&spec("jane@example.com", None), NOW)
        .unwrap()
        .0;
    other.product = "video-pro".into();
    v.ledger
        .licenses()
        .record(&other, None, &json!({}))
        .unwrap();

    let ids =
        |f: LicenseFilter| -> Vec<String> { v.list(f).into_iter().map(|r| r.license_id).collect() };
    assert_eq!(
        ids(LicenseFilter {
            product: Some("video-pro".into()),
            ..LicenseFilter::default()
        }),
        vec![other.license_id.clone()]
    );
    // A key as the license spells it, or typed another way: case and separators are
    // ignored on both sides.
    for typed in [
        "aaaa-bbbb",
        "AAAABBBB",
        "aaaa bbbb",
        "AaAa_bB.bb",
        "CCCC-DDDD",
        "cccc-dddd",
    ] {
        assert_eq!(
            ids(LicenseFilter {
                product: Some("photo-pro".into()),
                key: Some(typed.into()),
                ..LicenseFilter::default()
            })
            .len(),
            1,
            "{typed}"
        );
    }
    assert_eq!(
        ids(LicenseFilter {
            key: Some("cc-cc-dd-dd".into()),
            ..LicenseFilter::default()
        }),
        vec![generated.license_id.clone()]
    );
    assert!(
        ids(LicenseFilter {
            key: Some("CCCCDDD".into()),
            ..LicenseFilter::default()
        })
        .is_empty()
    );
    assert_eq!(
        ids(LicenseFilter {
            license_id: Some(imported.license_id.clone()),
            ..LicenseFilter::default()
        }),
        vec![imported.license_id.clone()]
    );
    assert_eq!(
        ids(LicenseFilter {
            email: Some("JANE@".into()),
            ..LicenseFilter::default()
        }),
        vec![imported.license_id.clone(), other.license_id.clone()]
    );
    // `%` and `_` are not wildcards.
    assert!(
        ids(LicenseFilter {
            email: Some("%".into()),
            ..LicenseFilter::default()
        })
        .is_empty()
    );
    assert_eq!(
        ids(LicenseFilter {
            email: Some("jane".into()),
            source: Some(LicenseSource::Issue),
            ..LicenseFilter::default()
        }),
        vec![other.license_id.clone()]
    );
    assert_eq!(
        ids(LicenseFilter {
            limit: Some(2),
            ..LicenseFilter::default()
        }),
        vec![imported.license_id.clone(), generated.license_id.clone()]
    );
    assert!(
        ids(LicenseFilter {
            source: Some(LicenseSource::Activation),
            ..LicenseFilter::default()
        })
        .is_empty()
    );
}

#[test]
fn a_large_batch_is_recorded_whole() {
    let mut v = vendor();
    let batch = v.batch(&["K"]);
    let base = v
        .issuer
        .issue_spec(&spec("a@example.com", Some("K")), NOW)
        .unwrap()
        .0;
    let claims: Vec<_> = (0..20_000u32)
        .map(|i| {
            let mut c = base.clone();
            c.token_id = i.to_be_bytes().to_vec();
            c.license_id = format!("L{i:05}");
            c.licensee.email = Some(format!("user{i}@example.com"));
            c
        })
        .collect();
    assert_eq!(
        v.ledger
            .licenses()
            .record_batch(batch, &claims, None, &json!({}))
            .unwrap(),
        20_000
    );
    let rows = v.list(LicenseFilter::default());
    assert_eq!(rows.len(), 20_000);
    assert_eq!(rows[12_345].license_id, "L12345");
    assert_eq!(rows[12_345].email.as_deref(), Some("user12345@example.com"));
    assert_eq!(
        v.list(LicenseFilter {
            license_id: Some("L19999".into()),
            ..LicenseFilter::default()
        })
        .len(),
        1
    );
}
