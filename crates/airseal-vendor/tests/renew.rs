//! Offline renewal (`SPEC.md` §15.8): the vendor renews every live seat of a key without a
//! request, and each machine's app installs its own update — and nothing else. The app
//! side is the real `airseal_verify::app::device::Device`, on simulated machines.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use airseal_vendor::activate;
use airseal_vendor::issue::Issuer;
use airseal_vendor::ledger::{AuditFilter, KeyStatus, Ledger, Revocation};
use airseal_vendor::renew::{self, RenewError, RenewOptions, SkipReason};
use airseal_vendor::vendor_dir::Config;
use airseal_verify::app::device::{Device, DeviceError};
use airseal_verify::app::fingerprint::{ComponentKind, Fingerprint};
use airseal_verify::{Error, Expected, TrustStore};
use ed25519_dalek::SigningKey;

const NOW: i64 = 1_780_000_000; // 2026-05-28
const DAY: i64 = 86_400;
const KEY: &str = "RENEW-KEY-1";

const CONFIG: &str = r#"
vendor = "acme"

[products.photo-pro]
activation_template = "pro"

[products.photo-pro.templates.pro]
kind = "subscription"
days = 30
features = ["F1"]
max_activations = 3

[products.other]
activation_template = "pro"

[products.other.templates.pro]
days = 30
"#;

struct Vendor {
    dir: tempfile::TempDir,
    ledger: Ledger,
    issuer: Issuer,
    config: Config,
}

fn vendor() -> Vendor {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(&dir.path().join("ledger.sqlite3")).unwrap();
    for p in ["photo-pro", "other"] {
        ledger.products().ensure(p, None).unwrap();
    }
    let config = Config::parse(CONFIG, Path::new("airseal.toml")).unwrap();
    let mut v = Vendor {
        dir,
        ledger,
        issuer: Issuer::new(SigningKey::from_bytes(&[3; 32])),
        config,
    };
    v.key("photo-pro", KEY);
    v
}

impl Vendor {
    fn key(&mut self, product: &str, key: &str) {
        let mut w = self
            .ledger
            .batches()
            .begin(
                product,
                airseal_vendor::keys::KeyKind::Random.into(),
                1,
                None,
                &serde_json::json!({}),
            )
            .unwrap();
        assert!(w.insert_key(key).unwrap());
        w.commit().unwrap();
    }

    fn trust(&self) -> TrustStore {
        let mut t = TrustStore::new();
        t.add_key(&self.issuer.public_key()).unwrap();
        t
    }

    fn out(&self) -> std::path::PathBuf {
        self.dir.path().join("renewals")
    }

    fn renew(&mut self, key: &str, force: bool, now: i64) -> Result<renew::Renewal, RenewError> {
        let out = self.out();
        let options = RenewOptions {
            key,
            product: None,
            out_dir: &out,
            force,
        };
        renew::renew(&mut self.ledger, &self.issuer, &self.config, &options, now)
    }

    /// A machine named `name` activated with [`KEY`] at `now`: its data folder and
    /// fingerprint.
    fn machine(&mut self, name: &str, now: i64) -> (Device, Fingerprint) {
        let device = Device::open(self.dir.path().join(name));
        let fp = Fingerprint::new()
            .with(ComponentKind::Custom("id".into()), name)
            .with(ComponentKind::Hostname, &format!("{name}-host"));
        let request = device
            .create_request("photo-pro", Some(KEY), &fp, None, &[], now)
            .unwrap();
        let response =
            activate::answer_request(&mut self.ledger, &self.issuer, &self.config, &request, now)
                .unwrap();
        device.install(&response.bytes, &self.trust(), now).unwrap();
        (device, fp)
    }
}

fn verify(device: &Device, trust: &TrustStore, fp: &Fingerprint, now: i64) -> Result<(), Error> {
    match device.verify_installed(trust, now, fp, Expected::product("photo-pro")) {
        Ok(_) => Ok(()),
        Err(DeviceError::Verify(e)) => Err(e),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn each_machine_installs_its_own_update_without_a_request() {
    let mut v = vendor();
    let trust = v.trust();
    let (a, fp_a) = v.machine("a", NOW);
    let (b, fp_b) = v.machine("b", NOW + DAY);
    let a_before = a.installed_license().unwrap().unwrap();

    let done = v.renew(KEY, false, NOW + 10 * DAY).unwrap();
    assert_eq!(
        (done.product.as_str(), done.key.as_str()),
        ("photo-pro", KEY)
    );
    // The term is anchored at the key's first activation, not restarted by renewing.
    assert_eq!(done.term_end, Some(NOW + 30 * DAY));
    assert_eq!(done.renewed.len(), 2);
    assert!(done.skipped.is_empty());
    let [ua, ub] = [&done.renewed[0], &done.renewed[1]];
    for u in [ua, ub] {
        assert!(u.file.exists(), "{}", u.file.display());
        assert_eq!(u.claims.license_id, u.before.license_id);
        assert_eq!(u.claims.request_nonce, u.before.request_nonce);
        assert_eq!(u.claims.machine, u.before.machine);
        assert!(u.claims.issued_at > u.before.issued_at);
    }
    let file_a = std::fs::read(&ua.file).unwrap();
    let file_b = std::fs::read(&ub.file).unwrap();

    // No request pending on either machine: each installs its own update…
    assert!(a.pending_request().unwrap().is_none());
    let installed = a.install(&file_a, &trust, NOW + 11 * DAY).unwrap();
    assert_eq!(installed.claims().issued_at, NOW + 10 * DAY);
    verify(&a, &trust, &fp_a, NOW + 11 * DAY).unwrap();
    // …and not the other machine's (a different device key and fingerprint).
    let e = b.install(&file_a, &trust, NOW + 11 * DAY).unwrap_err();
    assert!(
        matches!(
            e,
            DeviceError::Verify(Error::WrongMachine { .. } | Error::WrongDevice)
        ),
        "{e}"
    );
    b.install(&file_b, &trust, NOW + 11 * DAY).unwrap();
    verify(&b, &trust, &fp_b, NOW + 11 * DAY).unwrap();
    // The old license cannot be installed back over its renewal.
    let e = a.install(&a_before, &trust, NOW + 11 * DAY).unwrap_err();
    assert!(
        matches!(e, DeviceError::Verify(Error::StaleUpdate { .. })),
        "{e}"
    );

    // Recorded: the seat's last response is the update; each is a license; audited.
    let seat = v.ledger.seats().get(ua.activation).unwrap().unwrap();
    assert_eq!(seat.response, ua.bytes);
    let renewals = v
        .ledger
        .audit()
        .search(&AuditFilter {
            action: Some("license.renew".into()),
            ..AuditFilter::default()
        })
        .unwrap();
    assert_eq!(renewals.len(), 2);
    // A deactivation proof naming the update's token id frees the seat.
    let proof = a.deactivate(NOW + 12 * DAY).unwrap();
    activate::deactivate(&mut v.ledger, &proof, NOW + 12 * DAY).unwrap();

    // Existing files are not replaced without force, and a refusal records nothing.
    let audit_before = v.ledger.audit().search(&AuditFilter::default()).unwrap();
    let e = v.renew(KEY, false, NOW + 13 * DAY).unwrap_err();
    assert!(matches!(e, RenewError::AlreadyExists { .. }), "{e}");
    assert_eq!(
        v.ledger.audit().search(&AuditFilter::default()).unwrap(),
        audit_before
    );
    // With force: only the live seat (b) is renewed.
    let again = v.renew(KEY, true, NOW + 13 * DAY).unwrap();
    assert_eq!(again.renewed.len(), 1);
    assert_eq!(again.renewed[0].license_id, ub.license_id);
}

#[test]
fn renewal_is_refused_for_suspended_revoked_or_ended_keys() {
    let mut v = vendor();
    v.machine("a", NOW);
    // The term (30 days from the first activation) has ended.
    let e = v.renew(KEY, false, NOW + 31 * DAY).unwrap_err();
    assert!(
        matches!(e, RenewError::TermEnded { at, .. } if at == NOW + 30 * DAY),
        "{e}"
    );
    v.ledger
        .keys()
        .set_status("photo-pro", KEY, KeyStatus::Suspended)
        .unwrap();
    let e = v.renew(KEY, false, NOW + DAY).unwrap_err();
    assert!(matches!(e, RenewError::KeySuspended { .. }), "{e}");
    v.ledger
        .keys()
        .set_status("photo-pro", KEY, KeyStatus::Active)
        .unwrap();
    v.ledger
        .revocations()
        .add(&Revocation::Key(KEY.into()), None)
        .unwrap();
    let e = v.renew(KEY, false, NOW + DAY).unwrap_err();
    assert!(matches!(e, RenewError::KeyRevoked { .. }), "{e}");
    assert!(!v.out().exists(), "nothing written");
    // Unknown keys, keys without a machine, and a key two products share.
    let e = v.renew("NO-SUCH-KEY", false, NOW).unwrap_err();
    assert!(matches!(e, RenewError::UnknownKey { .. }), "{e}");
    v.key("photo-pro", "IDLE-KEY");
    let e = v.renew("IDLE-KEY", false, NOW).unwrap_err();
    assert!(matches!(e, RenewError::NoLiveSeats { .. }), "{e}");
    v.key("other", "IDLE-KEY");
    let e = v.renew("IDLE-KEY", false, NOW).unwrap_err();
    assert!(matches!(e, RenewError::AmbiguousProduct { .. }), "{e}");
}

#[test]
fn a_revoked_license_is_skipped_and_the_rest_renewed() {
    let mut v = vendor();
    let (a, _) = v.machine("a", NOW);
    v.machine("b", NOW);
    let a_id =
        airseal_core::LicenseClaims::read_unverified(&a.installed_license().unwrap().unwrap())
            .unwrap()
            .license_id;
    v.ledger
        .revocations()
        .add(&Revocation::License(a_id.clone()), None)
        .unwrap();
    let done = v.renew(KEY, false, NOW + DAY).unwrap();
    assert_eq!(done.renewed.len(), 1);
    assert_eq!(done.skipped.len(), 1);
    assert_eq!(done.skipped[0].license_id, a_id);
    assert_eq!(done.skipped[0].reason, SkipReason::LicenseRevoked);
}
