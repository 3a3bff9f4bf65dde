//! The app side of offline activation, with simulated machines (fingerprints built from
//! made-up components, never the real machine's) and a vendor played by `Issuer`:
//! request → response → install → verify → deactivate, and every way a response, a machine
//! or the data folder can be wrong.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use airseal_core::activation::{ActivationRequest, MAX_PRODUCT_KEY_LEN, Purpose};
use airseal_core::armor::armor;
use airseal_core::cose::ObjectType;
use airseal_core::{KeyId, LicenseClaims, MachineBinding};
use airseal_vendor::issue::Issuer;
use airseal_verify::activation::{verify_deactivation, verify_request};
use airseal_verify::app::device::{
    DEVICE_KEY_FILE, Device, DeviceError, LICENSE_FILE, NEXT_KEY_FILE, PENDING_REQUEST_FILE,
    RELEASE_PROOF_FILE, STATE_FILE, check_update,
};
use airseal_verify::app::fingerprint::{ComponentKind, Fingerprint};
use airseal_verify::{ClockGuard, Error, Expected, GuardSecret, TrustStore};
use ed25519_dalek::SigningKey;

const NOW: i64 = 1_767_225_600;
const PRODUCT: &str = "photo-pro";
const KEY: &str = "7K3QD-M2XRP-9FTWB-4HCNV";

fn vendor() -> (Issuer, TrustStore) {
    let issuer = Issuer::new(SigningKey::from_bytes(&[0x11; 32]));
    let mut trust = TrustStore::new();
    trust.add_key(&issuer.public_key()).unwrap();
    (issuer, trust)
}

/// A simulated machine: three components, as an app in a VM might supply them.
fn machine(name: &str) -> Fingerprint {
    Fingerprint::new()
        .with(ComponentKind::MachineId, &format!("{name}-machine-id"))
        .with(ComponentKind::MacAddress, &format!("{name}-mac"))
        .with(ComponentKind::Hostname, &format!("{name}-host"))
}

fn request(device: &Device, fp: &Fingerprint) -> Vec<u8> {
    device
        .create_request(
            PRODUCT,
            Some(KEY),
            fp,
            Some("4.2.1"),
            &[("projects", 12)],
            NOW,
        )
        .unwrap()
}

/// What the vendor does with a request: a response bound 2-of-N to its components, its
/// device key, echoing its nonce.
fn respond(vendor: &Issuer, request: &[u8], license_id: &str) -> Vec<u8> {
    let req = verify_request(request).unwrap();
    respond_to(vendor, &req, license_id)
}

fn respond_to(vendor: &Issuer, req: &ActivationRequest, license_id: &str) -> Vec<u8> {
    let mut claims = LicenseClaims::new("acme", license_id, &req.product, NOW - 60, vec![0xc7; 8]);
    claims.product_key = req.product_key.clone();
    claims.request_nonce = Some(req.nonce);
    claims.machine = Some(MachineBinding {
        threshold: 2,
        components: req.components.clone(),
        device_key: Some(KeyId::of_public_key(&req.device_key).0),
    });
    vendor.issue_activation_response(claims).unwrap()
}

/// Every file of a folder and its contents, to prove an operation changed nothing.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let contents = fs::read(e.path()).unwrap_or_default();
            (e.file_name().into_string().unwrap(), contents)
        })
        .collect()
}

fn verify_on(device: &Device, trust: &TrustStore, fp: &Fingerprint) -> Result<(), DeviceError> {
    device
        .verify_installed(trust, NOW, fp, Expected::product(PRODUCT))
        .map(|_| ())
}

fn verify_error(r: Result<(), DeviceError>) -> Error {
    match r {
        Err(DeviceError::Verify(e)) => e,
        other => panic!("expected a verification error, got {other:?}"),
    }
}

#[test]
fn request_install_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let device = Device::open(tmp.path().join("data"));
    assert_eq!(device.public_key().unwrap(), None);
    let fp = machine("a");
    let (vendor, trust) = vendor();

    let bytes = request(&device, &fp);
    assert!(bytes.len() <= 400, "request is {} bytes", bytes.len());
    let req = verify_request(&bytes).unwrap();
    assert_eq!(req.product, PRODUCT);
    // The key as entered: the vendor finds the stored key (SPEC.md §15.6).
    assert_eq!(req.product_key.as_deref(), Some(KEY));
    assert_eq!(req.purpose, Purpose::Activation);
    assert_eq!(req.components, fp.hashes(PRODUCT));
    assert_eq!(req.app_version.as_deref(), Some("4.2.1"));
    assert_eq!(req.meters, vec![("projects".to_string(), 12)]);
    assert_eq!(req.created, NOW);
    assert_eq!(Some(req.device_key), device.public_key().unwrap());
    let pending = device.pending_request().unwrap().unwrap();
    assert_eq!((pending.bytes, pending.request), (bytes.clone(), req));

    // The response arrives as text (an e-mail, a USB stick): armored works as well as raw.
    let response = respond(&vendor, &bytes, "LIC-A");
    let text = armor(ObjectType::ActivationResponse.armor_label(), &response);
    let license = device.install(text.as_bytes(), &trust, NOW).unwrap();
    assert_eq!(license.id(), "LIC-A");
    assert_eq!(device.pending_request().unwrap(), None);
    // Stored raw, exactly the signed bytes.
    assert_eq!(device.installed_license().unwrap(), Some(response));
    verify_on(&device, &trust, &fp).unwrap();
    // The caller's other expectations still apply.
    let r = device.verify_installed(&trust, NOW, &fp, Expected::product("video-pro"));
    assert!(matches!(
        r,
        Err(DeviceError::Verify(
            Error::WrongMachine { .. } | Error::WrongProduct { .. }
        ))
    ));
}

#[test]
fn threshold_tolerates_one_changed_component_not_another_machine() {
    let tmp = tempfile::tempdir().unwrap();
    let device = Device::open(tmp.path());
    let (vendor, trust) = vendor();
    let fp = machine("a");
    let bytes = request(&device, &fp);
    device
        .install(&respond(&vendor, &bytes, "LIC-A"), &trust, NOW)
        .unwrap();

    // A new network card: 2 of 3 still match.
    let new_nic = fp.clone().with(ComponentKind::MacAddress, "replaced-nic");
    verify_on(&device, &trust, &new_nic).unwrap();
    // An app-supplied extra component does not hurt either.
    let extra = fp
        .clone()
        .with(ComponentKind::Custom("pod".into()), "pod-7");
    verify_on(&device, &trust, &extra).unwrap();
    // Two changed: 1 of 2 required.
    let two = new_nic.with(ComponentKind::Hostname, "renamed");
    assert_eq!(
        verify_error(verify_on(&device, &trust, &two)),
        Error::WrongMachine {
            matched: 1,
            required: 2
        }
    );
    // Another machine altogether (the license and key copied over).
    assert_eq!(
        verify_error(verify_on(&device, &trust, &machine("b"))),
        Error::WrongMachine {
            matched: 0,
            required: 2
        }
    );
}

#[test]
fn a_replayed_response_is_refused_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let device = Device::open(tmp.path());
    let (vendor, trust) = vendor();
    let fp = machine("a");
    let first = respond(&vendor, &request(&device, &fp), "LIC-1");
    device.install(&first, &trust, NOW).unwrap();

    // Installing it again: nothing is pending any more, and as an update of the installed
    // license it is not newer (SPEC.md §15.8).
    let before = snapshot(tmp.path());
    let e = device.install(&first, &trust, NOW).unwrap_err();
    assert!(
        matches!(&e, DeviceError::Verify(Error::StaleUpdate { .. })),
        "{e}"
    );
    assert_eq!(snapshot(tmp.path()), before);

    // A new request (say, after a reinstall of the app): the old response does not answer it.
    let second_request = request(&device, &fp);
    let before = snapshot(tmp.path());
    let e = device.install(&first, &trust, NOW).unwrap_err();
    assert!(
        matches!(&e, DeviceError::Verify(Error::StaleUpdate { .. })),
        "{e}"
    );
    assert_eq!(snapshot(tmp.path()), before);
    // The right one still installs.
    let second = respond(&vendor, &second_request, "LIC-1");
    device.install(&second, &trust, NOW).unwrap();
    assert_eq!(device.installed_license().unwrap(), Some(second));
}

#[test]
fn a_response_to_another_request_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let device = Device::open(tmp.path());
    let (vendor, trust) = vendor();
    let fp = machine("a");
    let old = request(&device, &fp);
    let current = request(&device, &fp);
    assert_ne!(
        verify_request(&old).unwrap().nonce,
        verify_request(&current).unwrap().nonce
    );
    let e = device
        .install(&respond(&vendor, &old, "LIC-1"), &trust, NOW)
        .unwrap_err();
    assert!(matches!(e, DeviceError::Verify(Error::WrongRequest { .. })));
    assert!(device.installed_license().unwrap().is_none());
    device
        .install(&respond(&vendor, &current, "LIC-1"), &trust, NOW)
        .unwrap();
}

#[test]
fn a_response_bound_to_another_device_is_refused() {
    // Two data folders (two installs, or a copied VM with a fresh folder) on one machine.
    let tmp = tempfile::tempdir().unwrap();
    let ours = Device::open(tmp.path().join("ours"));
    let theirs = Device::open(tmp.path().join("theirs"));
    let (vendor, trust) = vendor();
    let fp = machine("a");
    let our_request = request(&ours, &fp);
    let their_response = respond(&vendor, &request(&theirs, &fp), "LIC-T");
    assert_ne!(ours.public_key().unwrap(), theirs.public_key().unwrap());

    let before = snapshot(ours.dir());
    let e = ours.install(&their_response, &trust, NOW).unwrap_err();
    assert!(matches!(e, DeviceError::Verify(Error::WrongDevice)), "{e}");
    assert_eq!(snapshot(ours.dir()), before);

    // A response with our nonce but their device key (a vendor bug, or a forgery by someone
    // holding a vendor key) is refused too.
    let mut forged = verify_request(&our_request).unwrap();
    forged.device_key = theirs.public_key().unwrap().unwrap();
    let e = ours
        .install(&respond_to(&vendor, &forged, "LIC-F"), &trust, NOW)
        .unwrap_err();
    assert!(matches!(e, DeviceError::Verify(Error::WrongDevice)), "{e}");

    // Their license copied into our folder fails at startup.
    theirs.install(&their_response, &trust, NOW).unwrap();
    fs::copy(
        theirs.dir().join(LICENSE_FILE),
        ours.dir().join(LICENSE_FILE),
    )
    .unwrap();
    assert_eq!(
        verify_error(verify_on(&ours, &trust, &fp)),
        Error::WrongDevice
    );
    // And a license whose device key is gone cannot be this device's.
    fs::remove_file(theirs.dir().join(DEVICE_KEY_FILE)).unwrap();
    assert_eq!(
        verify_error(verify_on(&theirs, &trust, &fp)),
        Error::WrongDevice
    );
}

#[test]
fn responses_must_be_trusted_and_answer_the_request_machine() {
    let tmp = tempfile::tempdir().unwrap();
    let device = Device::open(tmp.path());
    let (vendor, trust) = vendor();
    let bytes = request(&device, &machine("a"));
    let response = respond(&vendor, &bytes, "LIC-1");

    // Signed by a key the app does not trust.
    let stranger = Issuer::new(SigningKey::from_bytes(&[0x22; 32]));
    let e = device
        .install(&respond(&stranger, &bytes, "LIC-1"), &trust, NOW)
        .unwrap_err();
    assert!(matches!(e, DeviceError::Verify(Error::UnknownKeyId { .. })));
    // Tampered.
    let mut tampered = response.clone();
    // The last payload byte (the signature's 64 bytes and their 2-byte head follow it).
    let at = tampered.len() - 67;
    tampered[at] ^= 1;
    assert!(device.install(&tampered, &trust, NOW).is_err());
    // A plain license, even for the right product, is not a response: the wrong kind of
    // file (exit 12 in the CLI), whatever is pending.
    let plain = vendor
        .issue(LicenseClaims::new(
            "acme",
            "LIC-P",
            PRODUCT,
            NOW,
            vec![1; 8],
        ))
        .unwrap();
    let e = device.install(&plain, &trust, NOW).unwrap_err();
    assert!(
        matches!(&e, DeviceError::Verify(Error::WrongType { .. })),
        "{e}"
    );
    // Bound to other components than the request's.
    let mut req = verify_request(&bytes).unwrap();
    req.components = machine("b").hashes(PRODUCT);
    let e = device
        .install(&respond_to(&vendor, &req, "LIC-1"), &trust, NOW)
        .unwrap_err();
    assert!(matches!(e, DeviceError::Verify(Error::WrongMachine { .. })));
    // Garbage.
    let e = device.install(b"not a response", &trust, NOW).unwrap_err();
    assert!(matches!(e, DeviceError::Verify(Error::Malformed(_))));
    // After all that, the genuine one installs.
    device.install(&response, &trust, NOW).unwrap();
}

#[test]
fn deactivation_proof_verifies_and_the_license_is_gone() {
    let tmp = tempfile::tempdir().unwrap();
    let device = Device::open(tmp.path());
    let (vendor, trust) = vendor();
    let fp = machine("a");
    assert!(matches!(
        device.deactivate(NOW),
        Err(DeviceError::NotActivated)
    ));
    device
        .install(
            &respond(&vendor, &request(&device, &fp), "LIC-A"),
            &trust,
            NOW,
        )
        .unwrap();
    let bound_key = device.public_key().unwrap().unwrap();

    let proof_bytes = device.deactivate(NOW + 5).unwrap();
    let proof = verify_deactivation(&proof_bytes).unwrap();
    assert_eq!(proof.product, PRODUCT);
    assert_eq!(proof.license_id, "LIC-A");
    assert_eq!(proof.token_id, vec![0xc7; 8]);
    // Signed by the key the license was bound to; the folder has a fresh key since.
    assert_eq!(proof.device_key, bound_key);
    let new_key = device.public_key().unwrap().unwrap();
    assert_ne!(new_key, bound_key);
    assert_eq!(proof.created, NOW + 5);
    assert_eq!(device.installed_license().unwrap(), None);
    assert!(!tmp.path().join(LICENSE_FILE).exists());
    assert!(matches!(
        verify_on(&device, &trust, &fp),
        Err(DeviceError::NotActivated)
    ));
    // Lost on the way to the vendor? The same proof again.
    assert_eq!(device.release_proof().unwrap(), Some(proof_bytes.clone()));
    assert_eq!(device.deactivate(NOW + 9).unwrap(), proof_bytes);
    device.forget_release_proof().unwrap();
    assert!(matches!(
        device.deactivate(NOW),
        Err(DeviceError::NotActivated)
    ));
    // The next activation is made with the new key (a new seat at the vendor); the key
    // stays until the next release.
    let next = verify_request(&request(&device, &fp)).unwrap();
    assert_eq!(next.device_key, new_key);
    assert_eq!(device.public_key().unwrap(), Some(new_key));
}

#[test]
fn trial_requests_carry_no_key() {
    let tmp = tempfile::tempdir().unwrap();
    let device = Device::open(tmp.path());
    let bytes = device
        .create_request(PRODUCT, None, &machine("a"), None, &[], NOW)
        .unwrap();
    let req = verify_request(&bytes).unwrap();
    assert_eq!(req.purpose, Purpose::Trial);
    assert_eq!(req.product_key, None);
    assert_eq!(req.app_version, None);
    assert!(req.meters.is_empty());
}

#[test]
fn the_product_key_is_sent_as_entered_only_trimmed() {
    let tmp = tempfile::tempdir().unwrap();
    let device = Device::open(tmp.path().join("data"));
    let fp = machine("a");
    let longest = "a".repeat(MAX_PRODUCT_KEY_LEN);
    for (typed, sent) in [
        // Imported keys keep their case, separators and letters airseal would read as
        // digits; airseal keys are no longer canonicalised on the machine either.
        (
            " 38b1460a-5104-4067-a91d-77b872934d51\n",
            "38b1460a-5104-4067-a91d-77b872934d51",
        ),
        ("MUYVD-LSEBY-CXHRQ-XFAGY", "MUYVD-LSEBY-CXHRQ-XFAGY"),
        ("\t7k3qd m2xrp 9ftwb 4hcnv ", "7k3qd m2xrp 9ftwb 4hcnv"),
        (longest.as_str(), longest.as_str()),
    ] {
        let bytes = device
            .create_request(PRODUCT, Some(typed), &fp, None, &[], NOW)
            .unwrap();
        let req = verify_request(&bytes).unwrap();
        assert_eq!(req.product_key.as_deref(), Some(sent), "{typed:?}");
    }
}

#[test]
fn requests_the_format_cannot_carry_are_refused_up_front() {
    let tmp = tempfile::tempdir().unwrap();
    let device = Device::open(tmp.path().join("data"));
    let invalid = |r: Result<Vec<u8>, DeviceError>| {
        assert!(
            matches!(r, Err(DeviceError::InvalidRequest { .. })),
            "{r:?}"
        );
    };
    let fp = machine("a");
    invalid(device.create_request(PRODUCT, Some(KEY), &Fingerprint::new(), None, &[], NOW));
    invalid(device.create_request("", Some(KEY), &fp, None, &[], NOW));
    invalid(device.create_request(PRODUCT, Some(" \t "), &fp, None, &[], NOW));
    let long = "A".repeat(MAX_PRODUCT_KEY_LEN + 1);
    invalid(device.create_request(PRODUCT, Some(&long), &fp, None, &[], NOW));
    invalid(device.create_request(PRODUCT, Some(KEY), &fp, None, &[("a", 1), ("a", 2)], NOW));
    let names: Vec<String> = (0..17).map(|i| format!("m{i}")).collect();
    let many: Vec<(&str, i64)> = names.iter().map(|n| (n.as_str(), 1)).collect();
    invalid(device.create_request(PRODUCT, Some(KEY), &fp, None, &many, NOW));
    let mut big = Fingerprint::new();
    for i in 0..17 {
        big = big.with(ComponentKind::Custom(format!("c{i}")), "x");
    }
    invalid(device.create_request(PRODUCT, Some(KEY), &big, None, &[], NOW));
    // Nothing was created for a refused request.
    assert!(!device.dir().exists());
}

#[test]
fn the_device_key_is_private_kept_and_never_printed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let device = Device::open(&dir);
    let fp = machine("a");
    let a = verify_request(&request(&device, &fp)).unwrap();
    let b = verify_request(&request(&device, &fp)).unwrap();
    assert_eq!(a.device_key, b.device_key);
    let key_file = fs::read(dir.join(DEVICE_KEY_FILE)).unwrap();
    assert_eq!(key_file.len(), 81);
    assert!(key_file.starts_with(b"airseal-device-v1"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.join(DEVICE_KEY_FILE)), 0o600);
        assert_eq!(mode(&dir), 0o700);
    }
    let seed_hex: String = key_file[17..49]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let shown = format!("{device:?} {:?}", device.pending_request().unwrap());
    assert!(!shown.contains(&seed_hex));
    // Only our files, no temporaries left behind.
    let names: Vec<String> = snapshot(&dir).into_keys().collect();
    assert_eq!(names, vec![DEVICE_KEY_FILE, PENDING_REQUEST_FILE]);
}

#[test]
fn racing_first_requests_agree_on_one_device_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let keys: Vec<[u8; 32]> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    let bytes = request(&Device::open(&dir), &machine("a"));
                    verify_request(&bytes).unwrap().device_key
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(keys.windows(2).all(|w| w[0] == w[1]));
    let device = Device::open(&dir);
    assert_eq!(device.public_key().unwrap(), keys.first().copied());
    assert!(device.pending_request().unwrap().is_some());
}

#[test]
fn damaged_files_give_errors_not_panics() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let device = Device::open(dir);
    let (vendor, trust) = vendor();
    let fp = machine("a");
    let req = request(&device, &fp);
    let response = respond(&vendor, &req, "LIC-A");
    let key_file = fs::read(dir.join(DEVICE_KEY_FILE)).unwrap();

    // The device key: every truncation, a flipped seed bit, an oversized file, garbage.
    let mut variants: Vec<Vec<u8>> = (0..key_file.len())
        .map(|n| key_file[..n].to_vec())
        .collect();
    let mut flipped = key_file.clone();
    flipped[20] ^= 1;
    variants.push(flipped);
    variants.push([key_file.clone(), vec![0]].concat());
    variants.push(vec![0xff; 5000]);
    for v in &variants {
        fs::write(dir.join(DEVICE_KEY_FILE), v).unwrap();
        assert!(
            matches!(device.public_key(), Err(DeviceError::Corrupt { .. })),
            "{} bytes",
            v.len()
        );
        assert!(matches!(
            device.create_request(PRODUCT, Some(KEY), &fp, None, &[], NOW),
            Err(DeviceError::Corrupt { .. })
        ));
    }
    fs::write(dir.join(DEVICE_KEY_FILE), &key_file).unwrap();

    // The pending request: truncations, bit flips and a request of another device.
    for n in 0..req.len() {
        fs::write(dir.join(PENDING_REQUEST_FILE), &req[..n]).unwrap();
        assert!(matches!(
            device.install(&response, &trust, NOW),
            Err(DeviceError::Corrupt { .. })
        ));
    }
    for i in (0..req.len()).step_by(7) {
        let mut m = req.clone();
        m[i] ^= 0x10;
        fs::write(dir.join(PENDING_REQUEST_FILE), &m).unwrap();
        assert!(device.install(&response, &trust, NOW).is_err());
    }
    let other = Device::open(dir.join("other"));
    fs::write(dir.join(PENDING_REQUEST_FILE), request(&other, &fp)).unwrap();
    let e = device.install(&response, &trust, NOW).unwrap_err();
    assert!(
        matches!(&e, DeviceError::Corrupt { reason, .. } if reason.contains("another device key")),
        "{e}"
    );
    assert!(device.installed_license().unwrap().is_none());
    fs::write(dir.join(PENDING_REQUEST_FILE), &req).unwrap();
    device.install(&response, &trust, NOW).unwrap();

    // The installed license: truncations and garbage fail to verify and to deactivate.
    for n in [0, 1, 10, response.len() / 2, response.len() - 1] {
        fs::write(dir.join(LICENSE_FILE), &response[..n]).unwrap();
        assert!(matches!(
            verify_on(&device, &trust, &fp),
            Err(DeviceError::Verify(Error::Malformed(_)))
        ));
        assert!(matches!(
            device.deactivate(NOW),
            Err(DeviceError::Corrupt { .. })
        ));
        // The damaged license was not deleted, and no proof was made.
        assert!(dir.join(LICENSE_FILE).exists());
        assert!(!dir.join(RELEASE_PROOF_FILE).exists());
    }
    fs::write(dir.join(LICENSE_FILE), vec![0u8; 2 << 20]).unwrap();
    assert!(matches!(
        verify_on(&device, &trust, &fp),
        Err(DeviceError::Corrupt { .. })
    ));
    // A folder where a file should be is an I/O error naming it.
    fs::remove_file(dir.join(LICENSE_FILE)).unwrap();
    fs::create_dir(dir.join(LICENSE_FILE)).unwrap();
    let e = verify_on(&device, &trust, &fp).unwrap_err();
    assert!(
        matches!(&e, DeviceError::Io { file, .. } if file.ends_with(LICENSE_FILE)),
        "{e}"
    );
}

#[test]
fn a_failed_install_write_keeps_the_pending_request() {
    let tmp = tempfile::tempdir().unwrap();
    let device = Device::open(tmp.path());
    let (vendor, trust) = vendor();
    let response = respond(&vendor, &request(&device, &machine("a")), "LIC-A");
    // The license cannot be written (a non-empty folder is in the way): the pending request
    // is kept, so the same response installs once the problem is fixed.
    fs::create_dir(tmp.path().join(LICENSE_FILE)).unwrap();
    fs::write(tmp.path().join(LICENSE_FILE).join("x"), b"x").unwrap();
    let e = device.install(&response, &trust, NOW).unwrap_err();
    assert!(matches!(e, DeviceError::Io { .. }), "{e}");
    assert!(device.pending_request().unwrap().is_some());
    assert!(
        snapshot(tmp.path()).keys().all(|n| !n.contains(".tmp")),
        "temporary file left behind"
    );
    fs::remove_dir_all(tmp.path().join(LICENSE_FILE)).unwrap();
    device.install(&response, &trust, NOW).unwrap();
}

/// What the vendor's `renew` makes (SPEC.md §15.8): the installed license's claims, issued
/// later with a later end, echoing the same nonce and bound to the same machine.
fn renewal(vendor: &Issuer, installed: &[u8], issued_at: i64, expires_at: i64) -> Vec<u8> {
    let mut claims = LicenseClaims::read_unverified(installed).unwrap();
    claims.issued_at = issued_at;
    claims.expires_at = Some(expires_at);
    claims.token_id = issued_at.to_be_bytes().to_vec();
    vendor.issue_activation_response(claims).unwrap()
}

#[test]
fn a_renewal_installs_without_a_request_and_only_forward() {
    let tmp = tempfile::tempdir().unwrap();
    let device = Device::open(tmp.path());
    let (vendor, trust) = vendor();
    let fp = machine("a");
    let first = respond(&vendor, &request(&device, &fp), "LIC-R");
    device.install(&first, &trust, NOW).unwrap();
    assert_eq!(device.pending_request().unwrap(), None);

    let year = 365 * 86_400;
    let renewed = renewal(&vendor, &first, NOW + 10, NOW + year);
    let license = device.install(&renewed, &trust, NOW + 20).unwrap();
    assert_eq!(license.claims().expires_at, Some(NOW + year));
    assert_eq!(device.installed_license().unwrap(), Some(renewed.clone()));
    device
        .verify_installed(&trust, NOW + 20, &fp, Expected::product(PRODUCT))
        .unwrap();

    // An older update (issued before the one installed) is refused, and changes nothing.
    let older = renewal(&vendor, &first, NOW + 5, NOW + 2 * year);
    let before = snapshot(tmp.path());
    let e = device.install(&older, &trust, NOW + 20).unwrap_err();
    assert!(
        matches!(
            e,
            DeviceError::Verify(Error::StaleUpdate {
                issued_at,
                installed_at
            }) if issued_at == NOW + 5 && installed_at == NOW + 10
        ),
        "{e}"
    );
    assert_eq!(snapshot(tmp.path()), before);

    // Restoring the older license file by hand does not roll the renewal back either: the
    // folder remembers the newest issue time it installed.
    fs::write(tmp.path().join(LICENSE_FILE), &first).unwrap();
    let e = device
        .verify_installed(&trust, NOW + 20, &fp, Expected::product(PRODUCT))
        .unwrap_err();
    assert!(
        matches!(e, DeviceError::Verify(Error::StaleUpdate { installed_at, .. }) if installed_at == NOW + 10),
        "{e}"
    );
    // …nor does an older update installed over the restored file.
    let e = device.install(&older, &trust, NOW + 20).unwrap_err();
    assert!(
        matches!(e, DeviceError::Verify(Error::StaleUpdate { .. })),
        "{e}"
    );
}

#[test]
fn an_update_for_another_machine_or_license_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let ours = Device::open(tmp.path().join("ours"));
    let theirs = Device::open(tmp.path().join("theirs"));
    let (vendor, trust) = vendor();
    let ours_first = respond(&vendor, &request(&ours, &machine("a")), "LIC-O");
    ours.install(&ours_first, &trust, NOW).unwrap();
    let theirs_first = respond(&vendor, &request(&theirs, &machine("b")), "LIC-T");
    theirs.install(&theirs_first, &trust, NOW).unwrap();

    // Their renewal is bound to their machine and device key: refused here.
    let their_renewal = renewal(&vendor, &theirs_first, NOW + 10, NOW + 86_400);
    let before = snapshot(&tmp.path().join("ours"));
    let e = ours.install(&their_renewal, &trust, NOW + 20).unwrap_err();
    assert!(
        matches!(
            e,
            DeviceError::Verify(Error::WrongMachine { .. } | Error::WrongDevice)
        ),
        "{e}"
    );
    assert_eq!(snapshot(&tmp.path().join("ours")), before);

    // The same machine's update of another license (or of another activation) is refused.
    let mut claims = LicenseClaims::read_unverified(&ours_first).unwrap();
    claims.license_id = "LIC-OTHER".into();
    claims.issued_at = NOW + 10;
    let other_license = vendor.issue_activation_response(claims.clone()).unwrap();
    let e = ours.install(&other_license, &trust, NOW + 20).unwrap_err();
    assert!(
        matches!(&e, DeviceError::Verify(Error::WrongRequest { reason }) if reason.contains("another license")),
        "{e}"
    );
    claims.license_id = "LIC-O".into();
    claims.request_nonce = Some([9; 16]);
    let other_nonce = vendor.issue_activation_response(claims).unwrap();
    let e = ours.install(&other_nonce, &trust, NOW + 20).unwrap_err();
    assert!(
        matches!(&e, DeviceError::Verify(Error::WrongRequest { reason }) if reason.contains("nonce")),
        "{e}"
    );
    assert_eq!(snapshot(&tmp.path().join("ours")), before);

    // The pure check agrees with the folder's: the right device key and machine accept it.
    let ok = renewal(&vendor, &ours_first, NOW + 10, NOW + 86_400);
    let key = ours.public_key().unwrap().unwrap();
    check_update(&trust, &ok, &ours_first, &key, NOW + 20).unwrap();
    assert_eq!(
        check_update(&trust, &ok, &ours_first, &[0x42; 32], NOW + 20).unwrap_err(),
        Error::WrongDevice
    );
    // A damaged installed license is reported as the folder's file, not as the update's.
    fs::write(tmp.path().join("ours").join(LICENSE_FILE), b"garbage").unwrap();
    let e = ours.install(&ok, &trust, NOW + 20).unwrap_err();
    assert!(
        matches!(&e, DeviceError::Corrupt { file, .. } if file.ends_with(LICENSE_FILE)),
        "{e}"
    );
}

#[test]
fn a_released_license_does_not_come_back() {
    let tmp = tempfile::tempdir().unwrap();
    let device = Device::open(tmp.path());
    let (vendor, trust) = vendor();
    let fp = machine("a");
    let response = respond(&vendor, &request(&device, &fp), "LIC-X");
    device.install(&response, &trust, NOW).unwrap();
    // A renewal the customer kept aside, never installed.
    let kept_renewal = renewal(&vendor, &response, NOW + 10, NOW + 86_400);
    let copy = device.installed_license().unwrap().unwrap();
    device.deactivate(NOW + 1).unwrap();
    assert!(tmp.path().join(STATE_FILE).exists());

    // The finding: copy the license back → refused as released.
    fs::write(tmp.path().join(LICENSE_FILE), &copy).unwrap();
    let e = verify_error(verify_on(&device, &trust, &fp));
    assert_eq!(
        e,
        Error::Released {
            license_id: "LIC-X".into()
        }
    );
    // Without the release proof too (forgotten once the vendor has it).
    device.forget_release_proof().unwrap();
    assert!(matches!(
        verify_error(verify_on(&device, &trust, &fp)),
        Error::Released { .. }
    ));
    // A renewal of it does not bring it back.
    let e = device.install(&kept_renewal, &trust, NOW + 20).unwrap_err();
    assert!(
        matches!(e, DeviceError::Verify(Error::Released { .. })),
        "{e}"
    );

    // The state is authenticated: an edited or foreign state file is reported, not trusted.
    let state = fs::read(tmp.path().join(STATE_FILE)).unwrap();
    let mut edited = state.clone();
    let last = edited.len() - 1;
    edited[last] ^= 1;
    fs::write(tmp.path().join(STATE_FILE), &edited).unwrap();
    let e = verify_on(&device, &trust, &fp).unwrap_err();
    assert!(
        matches!(&e, DeviceError::Corrupt { file, .. } if file.ends_with(STATE_FILE)),
        "{e}"
    );
    // Another folder's state, copied over that folder's own: refused as foreign.
    let other = Device::open(tmp.path().join("other"));
    let theirs = respond(&vendor, &request(&other, &machine("b")), "LIC-B");
    other.install(&theirs, &trust, NOW).unwrap();
    verify_on(&other, &trust, &machine("b")).unwrap();
    fs::write(tmp.path().join("other").join(STATE_FILE), &state).unwrap();
    assert!(matches!(
        verify_on(&other, &trust, &machine("b")),
        Err(DeviceError::Corrupt { .. })
    ));
}

#[test]
fn a_folder_without_state_still_refuses_what_its_release_proof_gave_back() {
    // A folder made by an airseal that kept no state (or whose state file was deleted):
    // the release proof it still holds is evidence enough.
    let tmp = tempfile::tempdir().unwrap();
    let device = Device::open(tmp.path());
    let (vendor, trust) = vendor();
    let fp = machine("a");
    let response = respond(&vendor, &request(&device, &fp), "LIC-Y");
    device.install(&response, &trust, NOW).unwrap();
    device.deactivate(NOW + 1).unwrap();
    fs::remove_file(tmp.path().join(STATE_FILE)).unwrap();
    fs::write(tmp.path().join(LICENSE_FILE), &response).unwrap();
    assert!(matches!(
        verify_error(verify_on(&device, &trust, &fp)),
        Error::Released { .. }
    ));
    // A folder with no state and no release behaves as before: the license verifies, and
    // the next install starts the state.
    let fresh = Device::open(tmp.path().join("old"));
    let response = respond(&vendor, &request(&fresh, &fp), "LIC-Z");
    fresh.install(&response, &trust, NOW).unwrap();
    fs::remove_file(tmp.path().join("old").join(STATE_FILE)).unwrap();
    verify_on(&fresh, &trust, &fp).unwrap();
}

#[test]
fn a_release_replaces_the_device_key_so_the_license_cannot_be_put_back() {
    // HOSTILE.md defect 2: copy the license back, delete `device.state` and `release.proof`.
    let tmp = tempfile::tempdir().unwrap();
    let device = Device::open(tmp.path());
    let (vendor, trust) = vendor();
    let fp = machine("a");
    let response = respond(&vendor, &request(&device, &fp), "LIC-R");
    device.install(&response, &trust, NOW).unwrap();
    let old_key = device.public_key().unwrap().unwrap();
    // A request made after the install (pending when the release comes): signed by the old
    // key, its answer would be bound to a key the folder is about to lose.
    request(&device, &fp);
    let whole = snapshot(tmp.path());
    let proof = device.deactivate(NOW + 1).unwrap();
    assert_eq!(verify_deactivation(&proof).unwrap().device_key, old_key);
    assert_ne!(device.public_key().unwrap(), Some(old_key));
    assert_eq!(device.pending_request().unwrap(), None);
    assert!(!tmp.path().join(NEXT_KEY_FILE).exists());

    // Put back with the folder's memory intact: refused, and the reason is the release.
    fs::write(tmp.path().join(LICENSE_FILE), &response).unwrap();
    assert_eq!(
        verify_error(verify_on(&device, &trust, &fp)),
        Error::Released {
            license_id: "LIC-R".into()
        }
    );
    // Releasing it again is refused and changes nothing: the kept proof is not replaced by
    // one signed with the new key, which the vendor would refuse.
    let before = snapshot(tmp.path());
    let e = device.deactivate(NOW + 2).unwrap_err();
    assert!(
        matches!(e, DeviceError::Verify(Error::Released { .. })),
        "{e}"
    );
    assert_eq!(snapshot(tmp.path()), before);

    // The defect: delete what the folder remembers. Still refused: the license is bound to
    // a device key this folder no longer has.
    fs::remove_file(tmp.path().join(STATE_FILE)).unwrap();
    fs::remove_file(tmp.path().join(RELEASE_PROOF_FILE)).unwrap();
    assert_eq!(
        verify_error(verify_on(&device, &trust, &fp)),
        Error::WrongDevice
    );
    // What it takes is the whole folder as it was, the old device key included (the limit
    // SPEC §17.3 states): then nothing offline can tell it from the original.
    for (name, contents) in &whole {
        fs::write(tmp.path().join(name), contents).unwrap();
    }
    verify_on(&device, &trust, &fp).unwrap();
}

#[test]
fn re_sending_the_proof_works_after_the_key_is_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let device = Device::open(tmp.path());
    let (vendor, trust) = vendor();
    let fp = machine("a");
    device
        .install(
            &respond(&vendor, &request(&device, &fp), "LIC-S"),
            &trust,
            NOW,
        )
        .unwrap();
    let proof = device.deactivate(NOW + 1).unwrap();
    let key_after = device.public_key().unwrap();
    // Sent again (lost on the way): the same proof, signed by the old key, and the key is
    // not replaced a second time.
    assert_eq!(device.deactivate(NOW + 2).unwrap(), proof);
    assert_eq!(device.public_key().unwrap(), key_after);
    verify_deactivation(&device.deactivate(NOW + 3).unwrap()).unwrap();
    // A new activation after the release: a new request with the new key, installed.
    let again = respond(&vendor, &request(&device, &fp), "LIC-S2");
    device.install(&again, &trust, NOW + 4).unwrap();
    verify_on(&device, &trust, &fp).unwrap();
}

#[test]
fn an_interrupted_or_older_release_is_finished_at_the_next_call() {
    // A folder whose release proof was signed by the key it still has: an airseal that did
    // not replace keys released it, or a crash came between the proof and the replacement.
    // Built here from a folder before its release, plus the proof.
    let (vendor, trust) = vendor();
    let fp = machine("a");
    let tmp = tempfile::tempdir().unwrap();
    let device = Device::open(tmp.path());
    let first = request(&device, &fp);
    let response = respond(&vendor, &first, "LIC-C");
    device.install(&response, &trust, NOW).unwrap();
    let before = snapshot(tmp.path());
    let old_key = device.public_key().unwrap().unwrap();
    let proof = device.deactivate(NOW + 1).unwrap();
    let interrupted = |dir: &Path| {
        fs::remove_dir_all(dir).unwrap();
        fs::create_dir_all(dir).unwrap();
        for (name, contents) in &before {
            if name != LICENSE_FILE {
                fs::write(dir.join(name), contents).unwrap();
            }
        }
        fs::write(dir.join(RELEASE_PROOF_FILE), &proof).unwrap();
    };

    // It still works and still sends its proof; doing so finishes the release.
    interrupted(tmp.path());
    assert_eq!(device.public_key().unwrap(), Some(old_key));
    assert_eq!(device.deactivate(NOW + 2).unwrap(), proof);
    assert_ne!(device.public_key().unwrap(), Some(old_key));
    fs::write(tmp.path().join(LICENSE_FILE), &response).unwrap();
    fs::remove_file(tmp.path().join(STATE_FILE)).unwrap();
    fs::remove_file(tmp.path().join(RELEASE_PROOF_FILE)).unwrap();
    assert_eq!(
        verify_error(verify_on(&device, &trust, &fp)),
        Error::WrongDevice
    );

    // An app start finishes it too, as does the next request.
    interrupted(tmp.path());
    assert!(matches!(
        verify_on(&device, &trust, &fp),
        Err(DeviceError::NotActivated)
    ));
    assert_ne!(device.public_key().unwrap(), Some(old_key));
    interrupted(tmp.path());
    let next = verify_request(&request(&device, &fp)).unwrap();
    assert_ne!(next.device_key, old_key);

    // But not while a request made with the key is pending (its answer is bound to it): the
    // folder keeps working as it did.
    interrupted(tmp.path());
    fs::write(tmp.path().join(PENDING_REQUEST_FILE), &first).unwrap();
    assert!(matches!(
        verify_on(&device, &trust, &fp),
        Err(DeviceError::NotActivated)
    ));
    assert_eq!(device.deactivate(NOW + 2).unwrap(), proof);
    assert_eq!(device.public_key().unwrap(), Some(old_key));
    device
        .install(&respond(&vendor, &first, "LIC-D"), &trust, NOW + 3)
        .unwrap();
    verify_on(&device, &trust, &fp).unwrap();
}

#[test]
fn a_crash_while_the_key_is_replaced_leaves_a_working_folder() {
    let (vendor, trust) = vendor();
    let fp = machine("a");
    let tmp = tempfile::tempdir().unwrap();
    let device = Device::open(tmp.path());
    let response = respond(&vendor, &request(&device, &fp), "LIC-K");
    device.install(&response, &trust, NOW).unwrap();
    let old_key_file = fs::read(tmp.path().join(DEVICE_KEY_FILE)).unwrap();
    let old_state = fs::read(tmp.path().join(STATE_FILE)).unwrap();
    let proof = device.deactivate(NOW + 1).unwrap();
    let new_key_file = fs::read(tmp.path().join(DEVICE_KEY_FILE)).unwrap();
    let new_key = device.public_key().unwrap();
    let new_state = fs::read(tmp.path().join(STATE_FILE)).unwrap();

    // The crash points after the new key is staged: the state still under the old key, or
    // already under the new one; `device.key` still the old one, or already the new one.
    for (key, state) in [
        (&old_key_file, &old_state),
        (&old_key_file, &new_state),
        (&new_key_file, &new_state),
    ] {
        fs::write(tmp.path().join(DEVICE_KEY_FILE), key).unwrap();
        fs::write(tmp.path().join(STATE_FILE), state).unwrap();
        fs::write(tmp.path().join(NEXT_KEY_FILE), &new_key_file).unwrap();
        // The next call finishes the replacement, and the proof can still be sent.
        assert_eq!(device.deactivate(NOW + 2).unwrap(), proof);
        assert_eq!(device.public_key().unwrap(), new_key);
        assert!(!tmp.path().join(NEXT_KEY_FILE).exists());
        fs::write(tmp.path().join(LICENSE_FILE), &response).unwrap();
        assert!(matches!(
            verify_error(verify_on(&device, &trust, &fp)),
            Error::Released { .. } | Error::WrongDevice
        ));
        fs::remove_file(tmp.path().join(LICENSE_FILE)).unwrap();
    }
    // A staged key that is not a key file is reported by name, never used.
    fs::write(tmp.path().join(NEXT_KEY_FILE), b"junk").unwrap();
    let e = device.public_key().unwrap_err();
    assert!(
        matches!(&e, DeviceError::Corrupt { file, .. } if file.ends_with(NEXT_KEY_FILE)),
        "{e}"
    );
}

#[test]
fn the_clock_guard_secret_comes_from_the_device_key_and_binds_the_state_to_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (
        Device::open(tmp.path().join("a")),
        Device::open(tmp.path().join("b")),
    );
    // No device key yet, no secret.
    assert!(a.guard_secret().unwrap().is_none());
    request(&a, &machine("a"));
    request(&b, &machine("a"));
    let state = tmp.path().join("guard.state");
    let binding = b"same-machine/LIC1"; // everything public is the same on both
    let mut guard = ClockGuard::open(&state, binding, &a.guard_secret().unwrap().unwrap()).unwrap();
    let (vendor, trust) = vendor();
    let lic = vendor
        .issue(LicenseClaims::new("acme", "LIC1", PRODUCT, NOW, vec![1; 8]))
        .unwrap();
    let lic = trust
        .verify(&lic, NOW, &Expected::product(PRODUCT))
        .unwrap();
    guard.observe(NOW, &lic).unwrap();
    // The same device reads its state back (the secret is stable)…
    let again = ClockGuard::open(&state, binding, &a.guard_secret().unwrap().unwrap()).unwrap();
    assert_eq!(again.high_water_mark(), Some(NOW));
    // …another device's key does not authenticate it.
    assert!(matches!(
        ClockGuard::open(&state, binding, &b.guard_secret().unwrap().unwrap()),
        Err(Error::GuardState { .. })
    ));
    // Nor does a key made from the public key alone, or the seed used as the secret as is.
    let key_file = fs::read(tmp.path().join("a").join(DEVICE_KEY_FILE)).unwrap();
    for guess in [&key_file[17..49], &key_file[49..81]] {
        let guess = GuardSecret::from_bytes(guess.try_into().unwrap());
        assert!(ClockGuard::open(&state, binding, &guess).is_err());
    }
}
