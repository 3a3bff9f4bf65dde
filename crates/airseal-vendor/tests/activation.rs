//! Offline activation, vendor side: seat limits, idempotent reactivation, deactivation
//! proofs, trials, refused requests that change nothing, and vendors racing for the last
//! seat. Machines are simulated as component sets; device keys sign exactly as apps do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::sync::{Arc, Barrier};

use airseal_core::activation::{ActivationRequest, DeactivationProof, Purpose};
use airseal_core::armor::armor;
use airseal_core::cose::ObjectType;
use airseal_core::{LicenseKind, Limit};
use airseal_vendor::activate::{self, ActivationError, Response};
use airseal_vendor::import::{self, ImportOptions, Preset};
use airseal_vendor::issue::{Issuer, LicenseSpec, LimitSpec};
use airseal_vendor::ledger::{
    ActivationFilter, AuditFilter, KeyFilter, KeyMatch, KeyStatus, KeyTerms, Ledger, LedgerError,
    LedgerLocation, Revocation,
};
use airseal_vendor::vendor_dir::Config;
use airseal_verify::{Expected, Machine, TrustStore};
use ed25519_dalek::SigningKey;
use serde_json::json;

/// A test of a refusal.
type Check = fn(&ActivationError) -> bool;

const NOW: i64 = 1_780_000_000; // 2026-05-28
const DAY: i64 = 86_400;

const CONFIG: &str = r#"
vendor = "acme"

[products.photo-pro]
activation_template = "pro"
trial_template = "trial"

[products.photo-pro.templates.pro]
kind = "subscription"
days = 365
features = ["F1"]
max_activations = 2
max_deactivations = 2

[products.photo-pro.templates.site]
max_activations = "unlimited"
machine_threshold = 4

[products.photo-pro.templates.trial]
days = 14

[products.bare]
"#;

struct Vendor {
    _dir: tempfile::TempDir,
    location: LedgerLocation,
    ledger: Ledger,
    issuer: Issuer,
    config: Config,
    /// The PostgreSQL database of a run with `AIRSEAL_TEST_LEDGER=postgres` (dropped last).
    _db: Option<common::TempDb>,
}

/// The ledger of one test: a SQLite file, or with `AIRSEAL_TEST_LEDGER=postgres` (as
/// `.ci/run` runs this suite a second time) a PostgreSQL database of its own.
fn test_ledger(dir: &Path) -> (LedgerLocation, Option<common::TempDb>) {
    let file = LedgerLocation::File(dir.join("ledger.sqlite3"));
    if std::env::var("AIRSEAL_TEST_LEDGER").as_deref() != Ok("postgres") {
        return (file, None);
    }
    match common::postgres_or_skip("the activation suite on PostgreSQL") {
        Some(base) => {
            let db = common::TempDb::new(&base, "activation");
            (LedgerLocation::Postgres(db.url.clone()), Some(db))
        }
        None => (file, None),
    }
}

fn vendor() -> Vendor {
    let dir = tempfile::tempdir().unwrap();
    let (location, db) = test_ledger(dir.path());
    let ledger = Ledger::open_at(&location).unwrap();
    ledger.products().ensure("photo-pro", None).unwrap();
    ledger.products().ensure("bare", None).unwrap();
    let config = Config::parse(CONFIG, Path::new("airseal.toml")).unwrap();
    Vendor {
        _dir: dir,
        location,
        _db: db,
        ledger,
        issuer: Issuer::new(SigningKey::from_bytes(&[1; 32])),
        config,
    }
}

impl Vendor {
    /// Records `keys` for `product` in one batch with these parameters.
    fn keys(&mut self, product: &str, keys: &[&str], params: serde_json::Value) {
        let mut w = self
            .ledger
            .batches()
            .begin(
                product,
                airseal_vendor::keys::KeyKind::Random.into(),
                keys.len() as u64,
                None,
                &params,
            )
            .unwrap();
        for k in keys {
            assert!(w.insert_key(k).unwrap());
        }
        w.commit().unwrap();
    }

    fn answer(&mut self, request: &[u8]) -> Result<Response, ActivationError> {
        activate::answer_request(&mut self.ledger, &self.issuer, &self.config, request, NOW)
    }

    fn answer_at(&mut self, request: &[u8], now: i64) -> Result<Response, ActivationError> {
        activate::answer_request(&mut self.ledger, &self.issuer, &self.config, request, now)
    }

    fn deactivate(&mut self, proof: &[u8]) -> Result<activate::Deactivated, ActivationError> {
        activate::deactivate(&mut self.ledger, proof, NOW + DAY)
    }

    fn trust(&self) -> TrustStore {
        let mut t = TrustStore::new();
        t.add_key(&self.issuer.public_key()).unwrap();
        t
    }
}

/// A simulated machine: a device key and a set of component hashes.
struct Device {
    key: Issuer,
    components: Vec<[u8; 8]>,
}

fn device(seed: u8, components: &[u8]) -> Device {
    Device {
        key: Issuer::new(SigningKey::from_bytes(&[seed; 32])),
        components: components.iter().map(|c| [*c; 8]).collect(),
    }
}

impl Device {
    fn request(&self, product: &str, key: Option<&str>, nonce: u8) -> Vec<u8> {
        let mut r = ActivationRequest {
            product: product.into(),
            product_key: key.map(str::to_string),
            components: self.components.clone(),
            device_key: self.key.public_key(),
            nonce: [nonce; 16],
            created: NOW,
            app_version: Some("4.2.1".into()),
            purpose: if key.is_some() {
                Purpose::Activation
            } else {
                Purpose::Trial
            },
            meters: vec![("projects".into(), 12)],
        };
        r.normalize();
        self.key.sign(ObjectType::ActivationRequest, &r.encode())
    }

    fn proof(&self, response: &Response, nonce: u8) -> Vec<u8> {
        let p = DeactivationProof {
            product: response.claims.product.clone(),
            license_id: response.claims.license_id.clone(),
            token_id: response.claims.token_id.clone(),
            device_key: self.key.public_key(),
            nonce: [nonce; 16],
            created: NOW + DAY,
        };
        armor(
            ObjectType::DeactivationProof.armor_label(),
            &self.key.sign(ObjectType::DeactivationProof, &p.encode()),
        )
        .into_bytes()
    }

    fn machine(&self) -> Machine {
        Machine::from_component_hashes(self.components.clone())
            .with_device_key(&self.key.public_key())
    }
}

/// Every row of every table a request could touch, as text: equal snapshots mean the
/// ledger did not change.
fn snapshot(ledger: &Ledger) -> Vec<String> {
    let c = ledger.connection();
    let mut out = Vec::new();
    for table in [
        "activations",
        "responses",
        "trial_components",
        "deactivation_proofs",
        "keys",
        "licenses",
        "audit",
    ] {
        let mut st = c.prepare(&format!("SELECT * FROM {table}")).unwrap();
        let n = st.column_names().unwrap().len();
        let rows = st
            .query_map([], |r| {
                let mut cells = Vec::new();
                for i in 0..n {
                    cells.push(format!("{:?}", r.get::<_, rusqlite::types::Value>(i)?));
                }
                Ok(format!("{table}: {}", cells.join(" | ")))
            })
            .unwrap();
        out.extend(rows.map(Result::unwrap));
    }
    out
}

/// Asserts `f` is refused as `check` expects and leaves the ledger exactly as it was.
fn refused(
    v: &mut Vendor,
    f: impl FnOnce(&mut Vendor) -> Result<Response, ActivationError>,
    check: impl FnOnce(&ActivationError) -> bool,
) -> ActivationError {
    let before = snapshot(&v.ledger);
    let e = f(v).expect_err("the request should be refused");
    assert!(check(&e), "unexpected refusal: {e:?} ({e})");
    assert_eq!(snapshot(&v.ledger), before, "a refusal changed the ledger");
    e
}

#[test]
fn response_is_a_license_bound_to_the_request_and_verifies_on_that_machine() {
    let mut v = vendor();
    v.keys("photo-pro", &["KEY1"], json!({}));
    let a = device(10, &[1, 2, 3, 4, 5]);
    let r = v.answer(&a.request("photo-pro", Some("KEY1"), 1)).unwrap();
    assert!(!r.reissued);
    assert_eq!(r.claims.request_nonce, Some([1; 16]));
    assert_eq!(r.claims.product_key.as_deref(), Some("KEY1"));
    assert_eq!(r.claims.issuer, "acme");
    assert_eq!(r.claims.kind, LicenseKind::Subscription);
    assert_eq!(r.claims.expires_at, Some(NOW + 365 * DAY));
    assert_eq!(r.claims.max_activations, Some(Limit::AtMost(2)));
    let m = r.claims.machine.as_ref().unwrap();
    assert_eq!(m.threshold, 3, "majority of 5");
    assert_eq!(m.components, a.components);
    assert_eq!(r.seats.unwrap().to_string(), "1 of 2");
    assert!(
        r.armored()
            .starts_with("-----BEGIN AIRSEAL ACTIVATION RESPONSE-----")
    );

    // The app's verifier accepts it on this machine, also with one component replaced…
    let trust = v.trust();
    let lic = trust
        .verify(
            &r.bytes,
            NOW + 1,
            &Expected::product("photo-pro").machine(&a.machine()),
        )
        .unwrap();
    assert_eq!(lic.claims().license_id, r.claims.license_id);
    let changed = device(10, &[1, 2, 3, 4, 9]);
    trust
        .verify(
            &r.bytes,
            NOW + 1,
            &Expected::product("photo-pro").machine(&changed.machine()),
        )
        .unwrap();
    // …but not on another machine.
    let other = device(10, &[1, 2, 7, 8, 9]);
    assert!(
        trust
            .verify(
                &r.bytes,
                NOW + 1,
                &Expected::product("photo-pro").machine(&other.machine())
            )
            .is_err()
    );

    // Recorded: one live seat, one response, one audit row.
    let seats = v
        .ledger
        .seats()
        .list(&ActivationFilter {
            key: Some("KEY1".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(seats.len(), 1);
    assert_eq!(seats[0].license_id, r.claims.license_id);
    assert_eq!(seats[0].device_key, a.key.public_key());
    assert_eq!(seats[0].meters, vec![("projects".to_string(), 12)]);
    assert_eq!(v.ledger.seats().responses(seats[0].id).unwrap().len(), 1);
    let audit = v
        .ledger
        .audit()
        .search(&AuditFilter {
            action: Some("activation.".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].subject, "photo-pro/KEY1");
}

#[test]
fn seats_run_out_and_the_same_device_is_answered_on_its_seat() {
    let mut v = vendor();
    v.keys("photo-pro", &["KEY1"], json!({}));
    let (a, b, c) = (
        device(10, &[1, 2, 3]),
        device(11, &[4, 5, 6]),
        device(12, &[7, 8, 9]),
    );
    let first = v.answer(&a.request("photo-pro", Some("KEY1"), 1)).unwrap();
    v.answer(&b.request("photo-pro", Some("KEY1"), 2)).unwrap();
    let e = refused(
        &mut v,
        |v| v.answer(&c.request("photo-pro", Some("KEY1"), 3)),
        |e| {
            matches!(
                e,
                ActivationError::NoSeatsLeft {
                    used: 2,
                    limit: 2,
                    ..
                }
            )
        },
    );
    assert!(e.to_string().contains("2 of 2 in use"), "{e}");

    // A reinstall on A (new nonce, a component replaced, a day later): same license, new
    // document, no new seat, expiry not extended.
    let a2 = Device {
        key: Issuer::new(SigningKey::from_bytes(&[10; 32])),
        components: vec![[1; 8], [2; 8], [0x33; 8]],
    };
    let again = v
        .answer_at(&a2.request("photo-pro", Some("KEY1"), 4), NOW + DAY)
        .unwrap();
    assert!(again.reissued);
    assert_eq!(again.claims.license_id, first.claims.license_id);
    assert_ne!(again.claims.token_id, first.claims.token_id);
    assert_eq!(again.claims.expires_at, first.claims.expires_at);
    assert_eq!(again.claims.issued_at, NOW + DAY);
    assert_eq!(again.claims.request_nonce, Some([4; 16]));
    assert_eq!(
        again.claims.machine.as_ref().unwrap().components,
        a2.components
    );
    assert_eq!(again.seats.unwrap().to_string(), "2 of 2");
    assert_eq!(again.activation.reissues, 1);
    assert_eq!(
        v.ledger
            .seats()
            .responses(again.activation.id)
            .unwrap()
            .len(),
        2
    );
    v.trust()
        .verify(
            &again.bytes,
            NOW + DAY,
            &Expected::product("photo-pro").machine(&a2.machine()),
        )
        .unwrap();
    // Still exactly two live seats.
    let live = v
        .ledger
        .seats()
        .list(&ActivationFilter {
            live_only: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(live.len(), 2);
}

#[test]
fn a_seat_committed_before_a_crash_is_reissued_by_the_same_request() {
    // The caller writes the response file after the commit; a crash in between loses the
    // file but not the seat. Running the very same request again re-issues on that seat.
    let mut v = vendor();
    v.keys("photo-pro", &["KEY1"], json!({}));
    let a = device(10, &[1, 2, 3]);
    let request = a.request("photo-pro", Some("KEY1"), 1);
    let lost = v.answer(&request).unwrap();
    drop(lost); // "crash": the response never reached a file
    // A fresh connection, as after a restart.
    v.ledger = Ledger::open_at(&v.location).unwrap();
    let again = v.answer(&request).unwrap();
    assert!(again.reissued);
    assert_eq!(again.seats.unwrap().used, 1);
}

#[test]
fn deactivation_frees_the_seat_once_and_respects_the_limit() {
    let mut v = vendor();
    v.keys("photo-pro", &["KEY1"], json!({}));
    let (a, b, c, d) = (
        device(10, &[1, 2, 3]),
        device(11, &[4, 5, 6]),
        device(12, &[7, 8, 9]),
        device(13, &[10, 11, 12]),
    );
    let ra = v.answer(&a.request("photo-pro", Some("KEY1"), 1)).unwrap();
    let rb = v.answer(&b.request("photo-pro", Some("KEY1"), 2)).unwrap();

    let proof = a.proof(&ra, 50);
    let done = v.deactivate(&proof).unwrap();
    assert_eq!(done.activation.deactivated_at, Some(NOW + DAY));
    assert_eq!(done.deactivations.unwrap().to_string(), "1 of 2");
    assert_eq!(done.seats.unwrap().to_string(), "1 of 2");

    // The freed seat goes to another machine.
    let rc = v.answer(&c.request("photo-pro", Some("KEY1"), 3)).unwrap();
    assert!(!rc.reissued);

    // The same proof again: replayed, nothing changes.
    let before = snapshot(&v.ledger);
    let e = v.deactivate(&proof).unwrap_err();
    assert!(matches!(e, ActivationError::ProofReplayed { .. }), "{e}");
    // A new proof for the seat already given back.
    let e = v.deactivate(&a.proof(&ra, 51)).unwrap_err();
    assert!(
        matches!(e, ActivationError::AlreadyDeactivated { .. }),
        "{e}"
    );
    // Signed by another device, or naming a token this license never had.
    let e = v.deactivate(&c.proof(&rb, 52)).unwrap_err();
    assert!(
        matches!(e, ActivationError::UnknownActivation { .. }),
        "{e}"
    );
    let mut forged = rb.clone();
    forged.claims.token_id = vec![9; 8];
    let e = v.deactivate(&b.proof(&forged, 53)).unwrap_err();
    assert!(
        matches!(e, ActivationError::UnknownActivation { .. }),
        "{e}"
    );
    assert_eq!(snapshot(&v.ledger), before);

    // Second deactivation: allowed (limit 2). Third: refused, the seat stays taken.
    v.deactivate(&b.proof(&rb, 54)).unwrap();
    let rd = v.answer(&d.request("photo-pro", Some("KEY1"), 4)).unwrap();
    let before = snapshot(&v.ledger);
    let e = v.deactivate(&c.proof(&rc, 55)).unwrap_err();
    assert!(
        matches!(
            e,
            ActivationError::DeactivationLimit {
                used: 2,
                limit: 2,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(snapshot(&v.ledger), before);
    // An older response's token (before a re-issue) still names the seat.
    let rd2 = v.answer(&d.request("photo-pro", Some("KEY1"), 5)).unwrap();
    assert!(rd2.reissued);
    let e = v.deactivate(&d.proof(&rd, 56)).unwrap_err();
    assert!(
        matches!(e, ActivationError::DeactivationLimit { .. }),
        "{e}"
    );
}

#[test]
fn a_proof_for_an_older_response_of_the_seat_is_accepted() {
    let mut v = vendor();
    v.keys("photo-pro", &["KEY1"], json!({}));
    let a = device(10, &[1, 2, 3]);
    let first = v.answer(&a.request("photo-pro", Some("KEY1"), 1)).unwrap();
    v.answer(&a.request("photo-pro", Some("KEY1"), 2)).unwrap();
    v.deactivate(&a.proof(&first, 60)).unwrap();
}

#[test]
fn one_trial_per_machine_even_with_a_component_changed_or_given_back() {
    let mut v = vendor();
    let m1 = device(20, &[1, 2, 3, 4, 5]);
    let t = v.answer(&m1.request("photo-pro", None, 1)).unwrap();
    assert_eq!(t.claims.kind, LicenseKind::Trial);
    assert_eq!(t.claims.expires_at, Some(NOW + 14 * DAY));
    assert_eq!(t.claims.product_key, None);
    assert!(t.seats.is_none());

    // The same device asking again: the same trial, never a longer one.
    let again = v
        .answer_at(&m1.request("photo-pro", None, 2), NOW + 3 * DAY)
        .unwrap();
    assert!(again.reissued);
    assert_eq!(again.claims.license_id, t.claims.license_id);
    assert_eq!(again.claims.expires_at, t.claims.expires_at);

    // A new device key on the same machine (app data wiped), and with one component
    // replaced: refused, naming the earlier trial.
    for (seed, comps) in [(21, [1, 2, 3, 4, 5]), (22, [1, 2, 3, 4, 99])] {
        let m = device(seed, &comps);
        let e = refused(
            &mut v,
            |v| v.answer(&m.request("photo-pro", None, 3)),
            |e| matches!(e, ActivationError::TrialUsed { license_id, .. } if *license_id == t.claims.license_id),
        );
        assert!(
            e.to_string().contains("already used on this machine"),
            "{e}"
        );
    }
    // Another machine sharing two of five components (below the threshold of 3) gets one.
    let m2 = device(23, &[1, 2, 30, 40, 50]);
    v.answer(&m2.request("photo-pro", None, 4)).unwrap();

    // Giving a trial back does not earn another.
    v.deactivate(&m1.proof(&t, 70)).unwrap();
    let m1b = device(24, &[1, 2, 3, 4, 5]);
    refused(
        &mut v,
        |v| v.answer(&m1b.request("photo-pro", None, 5)),
        |e| matches!(e, ActivationError::TrialUsed { .. }),
    );
    // Nor does the same device key come back for a second one.
    refused(
        &mut v,
        |v| v.answer(&m1.request("photo-pro", None, 6)),
        |e| matches!(e, ActivationError::TrialUsed { .. }),
    );
    // A product without a trial template.
    refused(
        &mut v,
        |v| v.answer(&m2.request("bare", None, 7)),
        |e| matches!(e, ActivationError::TrialsNotOffered { .. }),
    );
}

#[test]
fn blocked_revoked_expired_and_unknown_keys_are_refused_without_a_trace() {
    let mut v = vendor();
    v.keys(
        "photo-pro",
        &["SUSP", "REVD", "LIST", "OLD", "G00D"],
        json!({}),
    );
    v.ledger
        .keys()
        .set_status("photo-pro", "SUSP", KeyStatus::Suspended)
        .unwrap();
    v.ledger
        .keys()
        .set_status("photo-pro", "REVD", KeyStatus::Revoked)
        .unwrap();
    v.ledger
        .revocations()
        .add(&Revocation::Key("LIST".into()), Some("leaked"))
        .unwrap();
    v.ledger
        .keys()
        .set_terms(
            "photo-pro",
            "OLD",
            &KeyTerms {
                spec: LicenseSpec {
                    expires: Some("2020-01-01".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .unwrap();
    let a = device(30, &[1, 2, 3]);
    let cases: [(&str, &str, Check); 6] = [
        ("photo-pro", "SUSP", |e| {
            matches!(e, ActivationError::KeyBlocked { .. })
        }),
        ("photo-pro", "REVD", |e| {
            matches!(e, ActivationError::KeyRevoked { .. })
        }),
        ("photo-pro", "LIST", |e| {
            matches!(e, ActivationError::KeyRevoked { .. })
        }),
        (
            "photo-pro",
            "OLD",
            |e| matches!(e, ActivationError::KeyExpired { at, .. } if *at == 1_577_923_200),
        ),
        ("photo-pro", "NOPE", |e| {
            matches!(e, ActivationError::UnknownKey { .. })
        }),
        ("other-product", "G00D", |e| {
            matches!(e, ActivationError::UnknownProduct { .. })
        }),
    ];
    for (i, (product, key, check)) in cases.into_iter().enumerate() {
        let request = a.request(product, Some(key), i as u8);
        refused(&mut v, |v| v.answer(&request), check);
    }
    // Separators, case and the typo mapping (O for 0) are forgiven: the canonical form.
    v.answer(&a.request("photo-pro", Some("go-od"), 9)).unwrap();

    // A license revoked after activation is not re-issued.
    let live = v.ledger.seats().list(&ActivationFilter::default()).unwrap();
    v.ledger
        .revocations()
        .add(&Revocation::License(live[0].license_id.clone()), None)
        .unwrap();
    refused(
        &mut v,
        |v| v.answer(&a.request("photo-pro", Some("G00D"), 10)),
        |e| matches!(e, ActivationError::LicenseRevoked { .. }),
    );
}

#[test]
fn templates_come_from_terms_then_batch_then_product_and_set_the_threshold() {
    let mut v = vendor();
    v.keys("photo-pro", &["SITE1"], json!({ "template": "site" }));
    v.keys("bare", &["BARE1"], json!({}));
    let five = device(40, &[1, 2, 3, 4, 5]);
    let r = v
        .answer(&five.request("photo-pro", Some("SITE1"), 1))
        .unwrap();
    assert_eq!(r.claims.max_activations, Some(Limit::Unlimited));
    assert_eq!(r.claims.machine.as_ref().unwrap().threshold, 4);
    assert_eq!(r.seats.unwrap().to_string(), "1 (unlimited)");
    // The site template needs 4 matching components: a 3-component request is refused.
    let three = device(41, &[1, 2, 3]);
    refused(
        &mut v,
        |v| v.answer(&three.request("photo-pro", Some("SITE1"), 2)),
        |e| {
            matches!(
                e,
                ActivationError::TooFewComponents {
                    given: 3,
                    required: 4
                }
            )
        },
    );
    // No template anywhere.
    refused(
        &mut v,
        |v| v.answer(&three.request("bare", Some("BARE1"), 3)),
        |e| matches!(e, ActivationError::NoTemplate { .. }),
    );
    // Terms alone are enough; absent max_activations means one seat.
    v.ledger
        .keys()
        .set_terms(
            "bare",
            "BARE1",
            &KeyTerms {
                spec: LicenseSpec {
                    licensee_email: Some("jane@example.com".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .unwrap();
    let r = v.answer(&three.request("bare", Some("BARE1"), 4)).unwrap();
    assert_eq!(r.claims.licensee.email.as_deref(), Some("jane@example.com"));
    assert_eq!(r.claims.max_activations, Some(Limit::AtMost(1)));
    assert_eq!(r.claims.machine.as_ref().unwrap().threshold, 2);
    refused(
        &mut v,
        |v| v.answer(&five.request("bare", Some("BARE1"), 5)),
        |e| {
            matches!(
                e,
                ActivationError::NoSeatsLeft {
                    used: 1,
                    limit: 1,
                    ..
                }
            )
        },
    );
    // Searchable by e-mail.
    let found = v
        .ledger
        .seats()
        .list(&ActivationFilter {
            email: Some("JANE@".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(found.len(), 1);
    let keys = v
        .ledger
        .keys()
        .list(&KeyFilter {
            email: Some("example.com".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].live_seats, 1);
}

#[test]
fn imported_keys_count_the_seats_they_used_before() {
    let mut v = vendor();
    v.keys("photo-pro", &["IMP1"], json!({ "source": "cryptlex" }));
    v.ledger
        .keys()
        .set_terms(
            "photo-pro",
            "IMP1",
            &KeyTerms {
                template: Some("pro".into()),
                spec: LicenseSpec {
                    max_activations: Some(LimitSpec::Count(3)),
                    max_deactivations: Some(LimitSpec::Count(5)),
                    licensee_email: Some("old@example.com".into()),
                    ..Default::default()
                },
                prior_activations: 2,
                prior_deactivations: 5,
                source: Some("cryptlex import, line 7".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let a = device(50, &[1, 2, 3]);
    let r = v.answer(&a.request("photo-pro", Some("IMP1"), 1)).unwrap();
    assert_eq!(r.seats.unwrap().to_string(), "3 of 3");
    assert_eq!(r.claims.max_activations, Some(Limit::AtMost(3)));
    assert_eq!(
        r.claims.kind,
        LicenseKind::Subscription,
        "from the template"
    );
    let b = device(51, &[4, 5, 6]);
    refused(
        &mut v,
        |v| v.answer(&b.request("photo-pro", Some("IMP1"), 2)),
        |e| {
            matches!(
                e,
                ActivationError::NoSeatsLeft {
                    used: 3,
                    limit: 3,
                    ..
                }
            )
        },
    );
    // Five deactivations were used on the old platform: none left.
    let e = v.deactivate(&a.proof(&r, 80)).unwrap_err();
    assert!(
        matches!(
            e,
            ActivationError::DeactivationLimit {
                used: 5,
                limit: 5,
                ..
            }
        ),
        "{e}"
    );
    let keys = v
        .ledger
        .keys()
        .list(&KeyFilter {
            key_prefix: Some("IMP".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(keys[0].seats_in_use(), 3);
}

#[test]
fn hostile_request_files_are_refused_and_change_nothing() {
    let mut v = vendor();
    v.keys("photo-pro", &["KEY1"], json!({}));
    let a = device(60, &[1, 2, 3]);
    let good = a.request("photo-pro", Some("KEY1"), 1);
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    let other = device(61, &[1, 2, 3]);
    let mut req = ActivationRequest {
        product: "photo-pro".into(),
        product_key: Some("KEY1".into()),
        components: a.components.clone(),
        device_key: a.key.public_key(),
        nonce: [2; 16],
        created: NOW,
        app_version: None,
        purpose: Purpose::Activation,
        meters: vec![],
    };
    req.normalize();
    // Signed by a key other than the device key inside.
    let wrong_signer = other.key.sign(ObjectType::ActivationRequest, &req.encode());
    // A license presented as a request.
    let license = v
        .issuer
        .issue_spec(
            &LicenseSpec {
                product: Some("photo-pro".into()),
                ..Default::default()
            },
            NOW,
        )
        .unwrap()
        .1;
    // A deactivation proof presented as a request.
    let proof = a.key.sign(
        ObjectType::DeactivationProof,
        &DeactivationProof {
            product: "photo-pro".into(),
            license_id: "X".into(),
            token_id: vec![1],
            device_key: a.key.public_key(),
            nonce: [1; 16],
            created: NOW,
        }
        .encode(),
    );
    let inputs: Vec<Vec<u8>> = vec![
        vec![],
        b"hello".to_vec(),
        vec![0xd2; 70_000],
        good[..good.len() / 2].to_vec(),
        [good.clone(), vec![0]].concat(),
        flipped,
        wrong_signer,
        license,
        proof,
        b"-----BEGIN AIRSEAL ACTIVATION REQUEST-----\n!!!!\n-----END AIRSEAL ACTIVATION REQUEST-----\n"
            .to_vec(),
    ];
    for input in &inputs {
        refused(
            &mut v,
            |v| v.answer(input),
            |e| matches!(e, ActivationError::BadRequest(_)),
        );
    }
    // Hostile proofs too (the proof above is a well-formed one: swap in a request).
    let mut proofs = inputs.clone();
    proofs[8] = good.clone();
    for input in &proofs {
        let before = snapshot(&v.ledger);
        let e = v.deactivate(input).unwrap_err();
        assert!(matches!(e, ActivationError::BadProof(_)), "{e}");
        assert_eq!(snapshot(&v.ledger), before);
    }
    // The armored form of the good request works.
    let text = armor(ObjectType::ActivationRequest.armor_label(), &good);
    v.answer(text.as_bytes()).unwrap();
}

#[test]
fn racing_vendors_never_sell_more_than_the_limit() {
    // Eight connections (as eight processes would have) race for two seats of one key.
    let mut v = vendor();
    v.keys("photo-pro", &["RACE"], json!({}));
    let location = v.location.clone();
    let config = Arc::new(v.config.clone());
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8u8)
        .map(|i| {
            let (location, config, barrier) = (location.clone(), config.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut ledger = Ledger::open_at(&location).unwrap();
                let issuer = Issuer::new(SigningKey::from_bytes(&[1; 32]));
                let request =
                    device(100 + i, &[i, i + 50, i + 100]).request("photo-pro", Some("RACE"), i);
                barrier.wait();
                activate::answer_request(&mut ledger, &issuer, &config, &request, NOW)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let granted = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(granted, 2, "{results:?}");
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(
            matches!(
                r,
                ActivationError::NoSeatsLeft {
                    used: 2,
                    limit: 2,
                    ..
                }
            ),
            "{r}"
        );
    }
    let live = v
        .ledger
        .seats()
        .list(&ActivationFilter {
            key: Some("RACE".into()),
            live_only: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(live.len(), 2);
}

#[test]
fn vendor_release_frees_a_lost_machine() {
    let mut v = vendor();
    v.keys("photo-pro", &["KEY1"], json!({}));
    let a = device(10, &[1, 2, 3]);
    let r = v.answer(&a.request("photo-pro", Some("KEY1"), 1)).unwrap();
    let released = v
        .ledger
        .seats()
        .release(r.activation.id, "laptop stolen", NOW)
        .unwrap();
    assert_eq!(released.license_id, r.claims.license_id);
    let after = v.ledger.seats().get(r.activation.id).unwrap().unwrap();
    assert_eq!(
        after.deactivated_by,
        Some(airseal_vendor::ledger::DeactivatedBy::Vendor)
    );
    assert!(
        v.ledger
            .seats()
            .release(r.activation.id, "again", NOW)
            .is_err()
    );
    // An id the ledger never had is named as such, and changes nothing.
    let before = snapshot(&v.ledger);
    let e = v.ledger.seats().release(999, "lost", NOW).unwrap_err();
    assert!(
        matches!(e, LedgerError::UnknownActivation { id: 999 }),
        "{e:?}"
    );
    assert_eq!(snapshot(&v.ledger), before);
    // The device's own proof is now refused: already given back.
    let e = v.deactivate(&a.proof(&r, 90)).unwrap_err();
    assert!(
        matches!(e, ActivationError::AlreadyDeactivated { .. }),
        "{e}"
    );
}

#[test]
fn a_data_key_past_its_own_validity_is_expired() {
    use airseal_core::productkey::{DEFAULT_PATTERN, Pattern};
    use airseal_vendor::batch::{self, BatchRequest, KeySource, OutputFormat};
    use airseal_vendor::keys::{DataKeySpec, KeyGenerator, seeded_rng};
    let mut v = vendor();
    let out = v._dir.path().join("data.txt");
    for (days, file) in [(10u16, "old.txt"), (4000, "new.txt")] {
        let spec = DataKeySpec {
            product: "photo-pro".into(),
            features: 1,
            days,
            created: NOW - 30 * DAY,
            mac_key: v.issuer.data_key_mac_key(),
        };
        let pattern = Pattern::parse(DEFAULT_PATTERN).unwrap();
        let path = out.with_file_name(file);
        batch::generate(
            &mut v.ledger,
            BatchRequest {
                product: "photo-pro",
                count: 1,
                source: KeySource::Generator(
                    KeyGenerator::data(pattern, spec, seeded_rng(u64::from(days))).unwrap(),
                ),
                format: OutputFormat::Txt,
                output: &path,
                force: false,
                template: None,
                customer: None,
            },
            &mut |_| {},
        )
        .unwrap();
    }
    let key_in = |file: &str| {
        std::fs::read_to_string(out.with_file_name(file))
            .unwrap()
            .trim()
            .replace('-', "")
    };
    let a = device(70, &[1, 2, 3]);
    refused(
        &mut v,
        |v| v.answer(&a.request("photo-pro", Some(&key_in("old.txt")), 1)),
        |e| matches!(e, ActivationError::KeyExpired { .. }),
    );
    v.answer(&a.request("photo-pro", Some(&key_in("new.txt")), 2))
        .unwrap();
}

/// Finding 17: after the signing key (and with it the data keys' MAC key) is rotated, a
/// data key's license takes the key's own term and F1..F8 from what its batch recorded, not
/// the template's year and features; without that record, a MAC that does not verify is
/// refused instead of skipped.
#[test]
fn a_data_key_keeps_its_term_and_features_after_a_rotation() {
    use airseal_core::productkey::{DEFAULT_PATTERN, KEY_EPOCH, Pattern};
    use airseal_vendor::activate::DataKeyProblem;
    use airseal_vendor::batch::{self, BatchRequest, KeySource, OutputFormat};
    use airseal_vendor::keys::{DataKeySpec, KeyGenerator, seeded_rng};
    let mut v = vendor();
    let created = NOW - 10 * DAY;
    let spec = DataKeySpec {
        product: "photo-pro".into(),
        features: 0b110, // F2 and F3; the template grants F1
        days: 40,
        created,
        mac_key: v.issuer.data_key_mac_key(),
    };
    let path = v._dir.path().join("data.txt");
    batch::generate(
        &mut v.ledger,
        BatchRequest {
            product: "photo-pro",
            count: 1,
            source: KeySource::Generator(
                KeyGenerator::data(
                    Pattern::parse(DEFAULT_PATTERN).unwrap(),
                    spec,
                    seeded_rng(9),
                )
                .unwrap(),
            ),
            format: OutputFormat::Txt,
            output: &path,
            force: false,
            template: None,
            customer: None,
        },
        &mut |_| {},
    )
    .unwrap();
    let key = std::fs::read_to_string(&path)
        .unwrap()
        .trim()
        .replace('-', "");
    v.issuer = Issuer::new(SigningKey::from_bytes(&[2; 32]));

    let a = device(71, &[1, 2, 3]);
    let r = v.answer(&a.request("photo-pro", Some(&key), 1)).unwrap();
    let day_start = KEY_EPOCH + (created - KEY_EPOCH).div_euclid(DAY) * DAY;
    assert_eq!(r.claims.expires_at, Some(day_start + 40 * DAY));
    assert_eq!(r.claims.features.bits, 0b110);

    // A batch from before the record: the rotated key's MAC does not verify it.
    v.ledger
        .connection()
        .execute(
            "UPDATE batches SET params = json_remove(params, '$.data_key')",
            [],
        )
        .unwrap();
    let b = device(72, &[4, 5, 6]);
    refused(
        &mut v,
        |v| v.answer(&b.request("photo-pro", Some(&key), 2)),
        |e| {
            matches!(
                e,
                ActivationError::DataKey {
                    problem: DataKeyProblem::BadMac,
                    ..
                }
            )
        },
    );
}

#[test]
fn product_defaults_must_name_existing_templates() {
    let text = "vendor = \"acme\"\n[products.p]\nactivation_template = \"nosuch\"\n";
    let e = Config::parse(text, Path::new("airseal.toml")).unwrap_err();
    assert!(
        e.to_string()
            .contains("products.p.activation_template: no template \"nosuch\""),
        "{e}"
    );
}

#[test]
fn a_machine_clock_behind_the_vendors_can_install_the_response_at_once() {
    let mut v = vendor();
    v.keys("photo-pro", &["KEYCLOCK"], json!({}));
    let a = device(80, &[1, 2, 3]);
    // The request was made at NOW on the machine; the vendor answers three days later.
    let response = v
        .answer_at(&a.request("photo-pro", Some("KEYCLOCK"), 1), NOW + 3 * DAY)
        .unwrap();
    assert_eq!(response.claims.issued_at, NOW + 3 * DAY);
    assert_eq!(response.claims.not_before, Some(NOW));
    let machine = a.machine();
    let expected = Expected::product("photo-pro").machine(&machine);
    // The machine's clock is still a day behind the vendor's issue time: valid already.
    v.trust()
        .verify(&response.bytes, NOW + 2 * DAY, &expected)
        .unwrap();
    // Before the request was made it is not valid.
    assert!(matches!(
        v.trust().verify(&response.bytes, NOW - 1, &expected),
        Err(airseal_verify::Error::NotYetValid { .. })
    ));
    // Expiry still counts from the issue time: nothing is extended.
    assert_eq!(response.claims.expires_at, Some(NOW + 3 * DAY + 365 * DAY));
}

/// Finding 4: a seat belongs to a machine, not to a device key alone. A copied device key
/// asking from other components is a new machine: it needs a free seat (and is refused when
/// there is none); the seat's own components are never overwritten, and every request's
/// are kept in its history.
#[test]
fn a_copied_device_key_on_another_machine_needs_a_seat_of_its_own() {
    let mut v = vendor();
    v.keys("photo-pro", &["KEYCLONE"], json!({}));
    let original = device(81, &[1, 2, 3]);
    let first = v
        .answer(&original.request("photo-pro", Some("KEYCLONE"), 1))
        .unwrap();
    // The same machine with one component replaced: still the seat (2 of 3 match).
    let drifted = Device {
        key: Issuer::new(SigningKey::from_bytes(&[81; 32])),
        components: vec![[1; 8], [2; 8], [4; 8]],
    };
    let again = v
        .answer(&drifted.request("photo-pro", Some("KEYCLONE"), 2))
        .unwrap();
    assert!(again.reissued);
    assert_eq!(again.activation.id, first.activation.id);
    // A copy of the device key on a machine none of whose components match.
    let copy = Device {
        key: Issuer::new(SigningKey::from_bytes(&[81; 32])),
        components: vec![[7; 8], [8; 8], [9; 8]],
    };
    let second = v
        .answer(&copy.request("photo-pro", Some("KEYCLONE"), 3))
        .unwrap();
    assert!(!second.reissued, "a copied device key rode on the seat");
    assert_ne!(second.activation.id, first.activation.id);
    assert_eq!(second.seats.unwrap().to_string(), "2 of 2");
    // The first seat still holds its own machine; its history has both of its requests.
    let seat = v.ledger.seats().get(first.activation.id).unwrap().unwrap();
    assert_eq!(seat.components, original.components);
    let history = v
        .ledger
        .seats()
        .component_history(first.activation.id)
        .unwrap();
    let seen: Vec<_> = history
        .iter()
        .map(|h| (h.components.clone(), h.matched))
        .collect();
    assert_eq!(
        seen,
        [
            (original.components.clone(), None),
            (drifted.components.clone(), Some(2))
        ]
    );
    // A third machine with the same copied key: no seat is free.
    let third = Device {
        key: Issuer::new(SigningKey::from_bytes(&[81; 32])),
        components: vec![[0x11; 8], [0x12; 8], [0x13; 8]],
    };
    refused(
        &mut v,
        |v| v.answer(&third.request("photo-pro", Some("KEYCLONE"), 4)),
        |e| {
            matches!(e, ActivationError::OtherMachine { matched: 0, threshold: 2, used: 2, limit: 2, license_id, .. }
                if *license_id == first.claims.license_id)
        },
    );
    // Each copy's license verifies only on its own machine.
    let trust = v.trust();
    let on = |m: &Device, bytes: &[u8]| {
        trust
            .verify(
                bytes,
                NOW,
                &Expected::product("photo-pro").machine(&m.machine()),
            )
            .is_ok()
    };
    assert!(on(&copy, &second.bytes) && !on(&original, &second.bytes));
    assert!(on(&original, &first.bytes) && !on(&copy, &first.bytes));
}

/// A vendor whose product `photo-pro` activates keys with `template` (TOML body) and gives
/// trials with `trial` (TOML body).
fn vendor_with(template: &str, trial: &str) -> Vendor {
    let mut v = vendor();
    v.config = Config::parse(
        &format!(
            "vendor = \"acme\"\n[products.photo-pro]\nactivation_template = \"t\"\n\
             trial_template = \"trial\"\n[products.photo-pro.templates.t]\n{template}\n\
             [products.photo-pro.templates.trial]\n{trial}\n"
        ),
        Path::new("airseal.toml"),
    )
    .unwrap();
    v
}

/// Finding 2: a subscription's term is anchored at its first activation. Moving between
/// machines (released by proof or by the vendor) never restarts it; a new seat after its
/// end is refused, naming the end; the start is recorded once, audited.
#[test]
fn a_subscription_term_is_anchored_at_first_activation_and_ends() {
    let mut v = vendor_with(
        "kind = \"subscription\"\ndays = 30\nmax_activations = 1\nmax_deactivations = \"unlimited\"",
        "days = 7",
    );
    v.keys("photo-pro", &["SUB1"], json!({}));
    let end = NOW + 30 * DAY;
    let first = v
        .answer_at(
            &device(1, &[1, 2, 3]).request("photo-pro", Some("SUB1"), 1),
            NOW,
        )
        .unwrap();
    assert_eq!(first.claims.expires_at, Some(end));
    assert_eq!(
        v.ledger.keys().term_start("photo-pro", "SUB1").unwrap(),
        Some(NOW)
    );
    let audit = v.ledger.audit().recent(10).unwrap();
    let started: Vec<_> = audit
        .iter()
        .filter(|a| a.action == "key.term_start")
        .collect();
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].detail["before"]["term_start"], json!(null));
    assert_eq!(started[0].detail["after"]["term_start"], json!(NOW));
    let mut held = first;
    for (n, at) in [(2u8, NOW + 29 * DAY), (3, NOW + 29 * DAY + 1)] {
        v.ledger
            .seats()
            .release(held.activation.id, "moved", at - 1)
            .unwrap();
        let machine = device(n, &[n * 10, n * 10 + 1, n * 10 + 2]);
        held = v
            .answer_at(&machine.request("photo-pro", Some("SUB1"), n), at)
            .unwrap();
        assert!(!held.reissued);
        assert_eq!(held.claims.expires_at, Some(end), "at {at}");
    }
    assert_eq!(
        v.ledger.keys().term_start("photo-pro", "SUB1").unwrap(),
        Some(NOW)
    );
    v.ledger
        .seats()
        .release(held.activation.id, "moved", NOW + 119 * DAY)
        .unwrap();
    let late = device(9, &[90, 91, 92]);
    let e = refused(
        &mut v,
        |v| v.answer_at(&late.request("photo-pro", Some("SUB1"), 9), NOW + 120 * DAY),
        |e| {
            matches!(e, ActivationError::TermEnded { started, ended, .. }
                if *started == NOW && *ended == end)
        },
    );
    assert!(e.to_string().contains("2026-06-27"), "{e}");
}

/// `term_starts = "creation"`: the term counts from the key's batch, even before the first
/// activation; the template's word is checked when the configuration is read.
#[test]
fn a_term_can_start_at_the_keys_creation() {
    let mut v = vendor_with(
        "kind = \"subscription\"\ndays = 30\nterm_starts = \"creation\"",
        "days = 7",
    );
    v.keys("photo-pro", &["SUB2", "SUB3"], json!({}));
    let created: i64 = v
        .ledger
        .connection()
        .query_row("SELECT created FROM batches", [], |r| r.get(0))
        .unwrap();
    let r = v
        .answer_at(
            &device(1, &[1, 2, 3]).request("photo-pro", Some("SUB2"), 1),
            created + 10 * DAY,
        )
        .unwrap();
    assert_eq!(r.claims.expires_at, Some(created + 30 * DAY));
    assert_eq!(
        v.ledger.keys().term_start("photo-pro", "SUB2").unwrap(),
        Some(created)
    );
    refused(
        &mut v,
        |v| {
            v.answer_at(
                &device(2, &[4, 5, 6]).request("photo-pro", Some("SUB3"), 2),
                created + 31 * DAY,
            )
        },
        |e| matches!(e, ActivationError::TermEnded { started, .. } if *started == created),
    );
    for bad in [
        "term_starts = \"whenever\"",
        "min_components = 0",
        "min_components = 17",
    ] {
        let text = format!("vendor = \"acme\"\n[products.p.templates.t]\n{bad}\n");
        let e = Config::parse(&text, Path::new("airseal.toml")).unwrap_err();
        assert!(
            e.to_string().contains("products.p.templates.t"),
            "{bad}: {e}"
        );
    }
}

/// Finding 15: a template's `min_components` refuses thin requests (keys and trials), a
/// request repeating a component is malformed, and nothing is recorded either way.
#[test]
fn requests_with_too_few_or_repeated_components_are_refused() {
    let mut v = vendor_with("min_components = 3", "days = 7\nmin_components = 2");
    v.keys("photo-pro", &["KEYMIN"], json!({}));
    let thin = device(1, &[1, 2]);
    refused(
        &mut v,
        |v| v.answer(&thin.request("photo-pro", Some("KEYMIN"), 1)),
        |e| matches!(e, ActivationError::BelowMinComponents { given: 2, min: 3 }),
    );
    let single = device(2, &[1]);
    let e = refused(
        &mut v,
        |v| v.answer(&single.request("photo-pro", None, 2)),
        |e| matches!(e, ActivationError::BelowMinComponents { given: 1, min: 2 }),
    );
    assert!(e.to_string().contains("min_components"), "{e}");
    let repeated = Device {
        key: Issuer::new(SigningKey::from_bytes(&[3; 32])),
        components: vec![[1; 8], [1; 8]],
    };
    refused(
        &mut v,
        |v| v.answer(&repeated.request("photo-pro", None, 3)),
        |e| {
            matches!(
                e,
                ActivationError::BadRequest(airseal_verify::Error::Malformed(_))
            )
        },
    );
    // A trial that overlaps an earlier one by its threshold is refused with a new device key.
    v.answer(&device(4, &[1, 2, 3]).request("photo-pro", None, 4))
        .unwrap();
    refused(
        &mut v,
        |v| v.answer(&device(5, &[1, 2, 9]).request("photo-pro", None, 5)),
        |e| matches!(e, ActivationError::TrialUsed { .. }),
    );
    v.answer(&thin.request("photo-pro", None, 6)).unwrap_err();
    v.answer(&device(6, &[1, 8, 9]).request("photo-pro", None, 7))
        .unwrap();
}

/// Imports `tests/fixtures/import/cryptlex-v2-typed.csv` for the product `bare` (no
/// template: the licenses are the imported terms alone): imported keys are stored verbatim,
/// with their own terms.
fn import_typed(v: &mut Vendor) {
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import/cryptlex-v2-typed.csv");
    let opts = ImportOptions {
        preset: Preset::CryptlexV2,
        product: "bare".into(),
        maps: Vec::new(),
        template: None,
        skgl_secret: None,
        update: false,
        dry_run: false,
        file: "cryptlex-v2-typed.csv".into(),
    };
    let report = import::import(&mut v.ledger, &std::fs::read(file).unwrap(), &opts).unwrap();
    // The twin `ABCD1234-EF56` has the match form of `ABCD-1234-EF56`: one key, the later row
    // a duplicate (`SPEC.md` §16).
    assert_eq!((report.imported, report.duplicates), (4, 1), "{report:#?}");
    // A ledger written before that rule holds both; the lookup must still never pick one.
    v.ledger
        .connection()
        .execute(
            "INSERT INTO keys (product, key, batch, seq, status, terms, loose)
             SELECT product, 'ABCD1234-EF56', batch, seq + 100, status, terms, 'abcd1234ef56'
             FROM keys WHERE product = 'bare' AND key = 'ABCD-1234-EF56'",
            [],
        )
        .unwrap();
}

#[test]
fn an_imported_key_activates_however_its_separators_and_case_are_typed() {
    const STORED: &str = "8F3A1C-6B2D9E-04C7F1-A95B3D";
    let mut v = vendor();
    import_typed(&mut v);
    let (a, b, c) = (
        device(90, &[1, 2, 3]),
        device(91, &[4, 5, 6]),
        device(92, &[7, 8, 9]),
    );
    // (i) exactly as issued: a seat; Total Activations 3, 1 used on Cryptlex.
    let exact = v.answer(&a.request("bare", Some(STORED), 1)).unwrap();
    assert!(!exact.reissued);
    assert_eq!(exact.claims.product_key.as_deref(), Some(STORED));
    assert_eq!(exact.claims.max_activations, Some(Limit::AtMost(3)));
    assert_eq!(exact.seats.unwrap().to_string(), "2 of 3");
    assert_eq!(exact.activation.key.as_deref(), Some(STORED));
    // (ii) lower case, no dashes, from another machine: the same key, its last seat.
    let lower = v
        .answer(&b.request("bare", Some("8f3a1c6b2d9e04c7f1a95b3d"), 2))
        .unwrap();
    assert!(!lower.reissued);
    assert_eq!(lower.claims.product_key.as_deref(), Some(STORED));
    assert_eq!(lower.seats.unwrap().to_string(), "3 of 3");
    // (iii) spaces for dashes, from the first machine: its own seat again, none used.
    let spaced = v
        .answer(&a.request("bare", Some("8F3A1C 6B2D9E 04C7F1 A95B3D"), 3))
        .unwrap();
    assert!(spaced.reissued);
    assert_eq!(spaced.claims.license_id, exact.claims.license_id);
    assert_eq!(spaced.claims.product_key.as_deref(), Some(STORED));
    // 3 − 1 seats were left after the import, and both are taken now, however it is typed.
    refused(
        &mut v,
        |v| v.answer(&c.request("bare", Some("8f3a1c.6b2d9e_04c7f1-a95b3d"), 4)),
        |e| {
            matches!(e, ActivationError::NoSeatsLeft { key, used: 3, limit: 3 }
                if key == STORED)
        },
    );
    // The license verifies on the machine it was issued to, naming the stored key.
    let license = v
        .trust()
        .verify(
            &lower.bytes,
            NOW + 1,
            &Expected::product("bare").machine(&b.machine()),
        )
        .unwrap();
    assert_eq!(license.claims().product_key.as_deref(), Some(STORED));

    // A lower-case UUID typed in upper case, and a key with O and L that airseal's own
    // reading would turn into digits: found loosely, license carries the stored string.
    for (typed, stored, seed) in [
        (
            "38B1460A-5104-4067-A91D-77B872934D51",
            "38b1460a-5104-4067-a91d-77b872934d51",
            93,
        ),
        ("promo gold 0042", "PROMO-GOLD-0042", 94),
    ] {
        let r = v
            .answer(&device(seed, &[seed]).request("bare", Some(typed), 5))
            .unwrap();
        assert_eq!(r.claims.product_key.as_deref(), Some(stored), "{typed}");
    }
}

#[test]
fn the_lookup_is_exact_then_canonical_then_loose_and_never_guesses() {
    let mut v = vendor();
    import_typed(&mut v);
    v.keys("photo-pro", &["7K3QD0M2XRP9FTWB4HCN"], json!({}));
    let find = |v: &Vendor, product: &str, typed: &str| {
        v.ledger
            .keys()
            .find(product, typed)
            .unwrap()
            .map(|f| (f.key, f.matched))
    };
    assert_eq!(
        find(&v, "bare", "ABCD-1234-EF56"),
        Some(("ABCD-1234-EF56".into(), KeyMatch::Exact))
    );
    assert_eq!(
        find(&v, "photo-pro", "7k3qd-om2xr-p9ftw-b4hcn"),
        Some(("7K3QD0M2XRP9FTWB4HCN".into(), KeyMatch::Canonical))
    );
    assert_eq!(
        find(&v, "bare", "38B1460A510440 67A91D77B872934D51"),
        Some((
            "38b1460a-5104-4067-a91d-77b872934d51".into(),
            KeyMatch::Loose
        ))
    );
    // Every writer of key terms (the importer's bulk insert, terms set by hand) leaves the
    // key findable by its loose form: an index entry holding exactly that form, or a shape
    // recorded for the product that rebuilds the key.
    v.ledger
        .keys()
        .set_terms("photo-pro", "7K3QD0M2XRP9FTWB4HCN", &KeyTerms::default())
        .unwrap();
    let rows: Vec<(String, String, Option<String>)> = v
        .ledger
        .connection()
        .prepare("SELECT product, key, loose FROM keys WHERE terms IS NOT NULL")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 6);
    let mut shaped = 0;
    for (product, key, loose) in rows {
        let want: String = key
            .chars()
            .filter(|c| !matches!(c, '-' | ' ' | '_' | '.'))
            .collect::<String>()
            .to_ascii_lowercase();
        match loose {
            Some(loose) => assert_eq!(loose, want, "{key}"),
            None => shaped += 1,
        }
        match v.ledger.keys().find(&product, &want) {
            Ok(Some(found)) => assert_eq!(found.key, key),
            // The twins ABCD-1234-EF56 and ABCD1234-EF56 share a loose form.
            Err(LedgerError::AmbiguousEntry { keys, .. }) => {
                assert!(keys.contains(&key), "{keys:?}");
            }
            other => panic!("{key} not found by {want}: {other:?}"),
        }
    }
    // Imports record shapes: the bulk insert gave its keys no index entry (the older
    // ledger's twin has one).
    assert_eq!(shaped, 4);
    v.ledger
        .connection()
        .execute(
            "UPDATE keys SET terms = NULL, loose = NULL WHERE key = '7K3QD0M2XRP9FTWB4HCN'",
            [],
        )
        .unwrap();
    // Loose matching is for imported keys only: a generated key typed with `_` is unknown.
    assert_eq!(find(&v, "photo-pro", "7K3QD_0M2XR_P9FTW_B4HCN"), None);
    assert_eq!(find(&v, "bare", "8F3A1C-6B2D9E-04C7F1-A95B3"), None);
    assert!(matches!(
        v.ledger.keys().find("nope", "ABCD-1234-EF56"),
        Err(LedgerError::UnknownProduct { .. })
    ));

    // An airseal key typed with O for 0 and in lower case activates, by its canonical form.
    let r = v
        .answer(&device(95, &[1, 2]).request("photo-pro", Some("7k3qd-om2xr-p9ftw-b4hcn"), 1))
        .unwrap();
    assert_eq!(
        r.claims.product_key.as_deref(),
        Some("7K3QD0M2XRP9FTWB4HCN")
    );

    // Two imported keys the same once separators and case are ignored: typed exactly, each
    // is its own key; typed any other way, refused naming both — never one picked.
    let twin = v
        .answer(&device(96, &[3, 4]).request("bare", Some("ABCD1234-EF56"), 2))
        .unwrap();
    assert_eq!(twin.claims.product_key.as_deref(), Some("ABCD1234-EF56"));
    let d = device(97, &[5, 6]);
    let e = refused(
        &mut v,
        |v| v.answer(&d.request("bare", Some("abcd 1234 ef56"), 3)),
        |e| {
            matches!(e, ActivationError::AmbiguousKey { keys, entered, .. }
                if keys == &["ABCD-1234-EF56", "ABCD1234-EF56"] && entered == "abcd 1234 ef56")
        },
    );
    let message = e.to_string();
    assert!(
        message.contains("ABCD-1234-EF56") && message.contains("ABCD1234-EF56"),
        "{message}"
    );
    // Unknown stays unknown, reported as entered.
    refused(
        &mut v,
        |v| v.answer(&d.request("bare", Some("no-such-key"), 4)),
        |e| matches!(e, ActivationError::UnknownKey { key, .. } if key == "no-such-key"),
    );
}

#[test]
fn an_imported_expiry_beats_the_templates_days() {
    let mut v = vendor();
    v.keys("photo-pro", &["IMPEXP"], json!({}));
    v.ledger
        .keys()
        .set_terms(
            "photo-pro",
            "IMPEXP",
            &KeyTerms {
                template: Some("pro".into()), // days = 365
                spec: LicenseSpec {
                    expires: Some("2027-12-31".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .unwrap();
    let a = device(82, &[1, 2, 3]);
    let r = v
        .answer(&a.request("photo-pro", Some("IMPEXP"), 1))
        .unwrap();
    // 2027-12-31, end of day UTC: the key's own expiry, not NOW + 365 days.
    assert_eq!(r.claims.expires_at, Some(1_830_297_600));
}

/// Vendor and verifier apply one expiry rule (expiry plus grace, `airseal_core::expiry`):
/// at every instant around the end of a license's grace period, the vendor re-issues a
/// seat's license exactly when the app would still accept the license the seat holds.
#[test]
fn the_vendor_renews_exactly_while_the_app_accepts_the_license() {
    let mut v = vendor();
    v.config = Config::parse(
        "vendor = \"acme\"\n[products.photo-pro]\nactivation_template = \"graced\"\n\
         [products.photo-pro.templates.graced]\nkind = \"subscription\"\ndays = 10\n\
         grace_days = 3\nmax_activations = 1\n",
        Path::new("airseal.toml"),
    )
    .unwrap();
    v.keys("photo-pro", &["KEY1"], json!({}));
    let a = device(10, &[1, 2, 3]);
    let first = v.answer(&a.request("photo-pro", Some("KEY1"), 1)).unwrap();
    let exp = first.claims.expires_at.unwrap();
    let until = first.claims.valid_until().unwrap();
    assert_eq!(until, exp + 3 * DAY);
    let trust = v.trust();
    let expected = Expected::product("photo-pro");
    let machine = a.machine();
    let expected = expected.machine(&machine);
    let mut states = std::collections::BTreeSet::new();
    for (n, now) in [
        exp - 1,
        exp,
        exp + DAY,
        until - 1,
        until,
        until + 1,
        until + 30 * DAY,
    ]
    .into_iter()
    .enumerate()
    {
        let app = trust.verify(&first.bytes, now, &expected);
        let nonce = 2 + u8::try_from(n).unwrap();
        let vendor = v.answer_at(&a.request("photo-pro", Some("KEY1"), nonce), now);
        assert_eq!(
            app.is_ok(),
            vendor.is_ok(),
            "at {now} (exp {exp}, until {until}): app {:?}, vendor {:?}",
            app.as_ref().map(|l| l.status()),
            vendor.as_ref().map(|r| r.reissued)
        );
        match (&app, &vendor) {
            (Ok(l), Ok(r)) => {
                states.insert(
                    format!("{:?}", l.status())
                        .split(' ')
                        .next()
                        .map(str::to_string),
                );
                assert!(r.reissued);
                assert_eq!(r.claims.expires_at, Some(exp));
            }
            (Err(airseal_verify::Error::Expired { expired_at, .. }), Err(e)) => {
                states.insert(Some("Expired".into()));
                assert_eq!(*expired_at, until);
                assert!(
                    matches!(e, ActivationError::LicenseExpired { at, .. } if *at == exp),
                    "{e:?}"
                );
            }
            other => panic!("at {now}: {other:?}"),
        }
    }
    // Every state was reached: before expiry, in grace, and past it.
    assert_eq!(states.len(), 3, "{states:?}");
}
