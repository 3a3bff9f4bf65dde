//! The clock guard: rollback detection with the license's offset, persistence, tamper
//! evidence, binding, and refusing older revocation lists.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use airseal_core::{LicenseClaims, revocation::RevocationList};
use airseal_vendor::issue::Issuer;
use airseal_verify::{ClockGuard, Error, Expected, GuardSecret, License, TrustStore};
use ed25519_dalek::SigningKey;

const NOW: i64 = 1_767_225_600;
const DAY: i64 = 86_400;

/// The secret of this test's machine (an app gets it from `Device::guard_secret`).
fn secret() -> GuardSecret {
    GuardSecret::from_bytes([42; 32])
}

fn license(iat: i64, clock_offset: Option<u64>) -> License {
    let issuer = Issuer::new(SigningKey::from_bytes(&[5; 32]));
    let mut c = LicenseClaims::new("acme", "LIC1", "photo-pro", iat, vec![1; 8]);
    c.clock_offset = clock_offset;
    let bytes = issuer.issue(c).unwrap();
    let mut trust = TrustStore::new();
    trust.add_key(&issuer.public_key()).unwrap();
    trust
        .verify(&bytes, iat, &Expected::product("photo-pro"))
        .unwrap()
}

#[test]
fn a_clock_turned_back_is_caught_stating_both_times() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("guard.state");
    let lic = license(NOW - DAY, None);
    let mut g = ClockGuard::open(&path, b"machine-1/LIC1", &secret()).unwrap();
    assert_eq!(g.high_water_mark(), None);
    g.observe(NOW, &lic).unwrap();
    g.observe(NOW + 10, &lic).unwrap();
    assert_eq!(
        g.observe(NOW, &lic),
        Err(Error::ClockRolledBack {
            now: NOW,
            last_seen: NOW + 10
        })
    );
    // The mark survives a restart.
    let mut g = ClockGuard::open(&path, b"machine-1/LIC1", &secret()).unwrap();
    assert_eq!(g.high_water_mark(), Some(NOW + 10));
    assert_eq!(g.observe(NOW - DAY, &lic).unwrap_err().code(), 24);
    // No temporary files are left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn the_license_clock_offset_is_tolerated() {
    let dir = tempfile::tempdir().unwrap();
    let lic = license(NOW - DAY, Some(300));
    let mut g = ClockGuard::open(&dir.path().join("s"), b"b", &secret()).unwrap();
    g.observe(NOW, &lic).unwrap();
    g.observe(NOW - 300, &lic).unwrap();
    assert!(matches!(
        g.observe(NOW - 301, &lic),
        Err(Error::ClockRolledBack { .. })
    ));
}

#[test]
fn the_mark_never_falls_below_the_license_issue_time() {
    let dir = tempfile::tempdir().unwrap();
    let lic = license(NOW, None);
    let mut g = ClockGuard::open(&dir.path().join("s"), b"b", &secret()).unwrap();
    // A clock behind the issue time still raises the mark to the issue time.
    g.observe(NOW - 5, &lic).unwrap();
    assert_eq!(g.high_water_mark(), Some(NOW));
}

#[test]
fn edited_or_foreign_state_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let mut g = ClockGuard::open(&path, b"machine-1", &secret()).unwrap();
    g.observe(NOW, &license(NOW - DAY, None)).unwrap();
    assert!(matches!(
        ClockGuard::open(&path, b"machine-2", &secret()),
        Err(Error::GuardState { .. })
    ));
    let mut bytes = std::fs::read(&path).unwrap();
    for i in 0..bytes.len() {
        bytes[i] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert!(
            matches!(
                ClockGuard::open(&path, b"machine-1", &secret()),
                Err(Error::GuardState { .. })
            ),
            "byte {i}"
        );
        bytes[i] ^= 1;
    }
    std::fs::write(&path, &bytes[..10]).unwrap();
    assert!(matches!(
        ClockGuard::open(&path, b"machine-1", &secret()),
        Err(Error::GuardState { .. })
    ));
}

#[test]
fn older_revocation_lists_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let list = |seq| RevocationList {
        seq,
        issued_at: NOW,
        ..RevocationList::default()
    };
    let mut g = ClockGuard::open(&path, b"b", &secret()).unwrap();
    g.accept_revocations(&list(2)).unwrap();
    g.accept_revocations(&list(2)).unwrap();
    assert_eq!(
        g.accept_revocations(&list(1)),
        Err(Error::StaleRevocationList { seq: 1, newest: 2 })
    );
    let mut g = ClockGuard::open(&path, b"b", &secret()).unwrap();
    assert_eq!(g.revocations_seq(), 2);
    g.accept_revocations(&list(3)).unwrap();
}

/// A state file as someone without the secret would write it: everything they need is
/// public (the binding is in `license.lic`), so they can compute any key that depends on
/// it alone — the first layout's, or the second layout's with the secret left out.
fn forge(path: &std::path::Path, magic: &[u8; 16], key_label: &[u8], binding: &[u8]) {
    use hmac::{KeyInit, Mac};
    use sha2::{Digest, Sha256};
    let key: [u8; 32] = Sha256::new()
        .chain_update(key_label)
        .chain_update(binding)
        .finalize()
        .into();
    let mut body = magic.to_vec();
    body.extend_from_slice(&i64::MIN.to_be_bytes()); // no mark: the clock may go back
    body.extend_from_slice(&u64::MAX.to_be_bytes()); // every genuine list is "older"
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(&key).unwrap();
    mac.update(&body);
    body.extend_from_slice(&mac.finalize().into_bytes());
    std::fs::write(path, body).unwrap();
}

#[test]
fn a_state_file_forged_from_the_public_binding_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let binding = b"machine-1/LIC1";
    // The first layout's recipe (key from the binding alone), which earlier versions read.
    forge(
        &path,
        b"airseal-clock-v1",
        b"airseal-clock-guard-v1",
        binding,
    );
    let Err(Error::GuardState { reason }) = ClockGuard::open(&path, binding, &secret()) else {
        panic!("a state file forged in the first layout was accepted");
    };
    assert!(reason.contains("airseal-clock-v1"), "{reason}");
    // The second layout with the secret left out of the key.
    forge(
        &path,
        b"airseal-clock-v2",
        b"airseal-clock-guard-v2",
        binding,
    );
    assert!(matches!(
        ClockGuard::open(&path, binding, &secret()),
        Err(Error::GuardState { .. })
    ));
    // A genuine state under the same binding and secret is read back.
    std::fs::remove_file(&path).unwrap();
    let mut g = ClockGuard::open(&path, binding, &secret()).unwrap();
    g.observe(NOW, &license(NOW - DAY, None)).unwrap();
    let g = ClockGuard::open(&path, binding, &secret()).unwrap();
    assert_eq!(g.high_water_mark(), Some(NOW));
}

#[test]
fn state_made_under_another_secret_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let mut g = ClockGuard::open(&path, b"b", &GuardSecret::from_bytes([1; 32])).unwrap();
    g.observe(NOW, &license(NOW - DAY, None)).unwrap();
    assert!(matches!(
        ClockGuard::open(&path, b"b", &GuardSecret::from_bytes([2; 32])),
        Err(Error::GuardState { .. })
    ));
}

#[test]
fn the_secret_and_the_key_are_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let s = GuardSecret::from_bytes([0xAB; 32]);
    let g = ClockGuard::open(&dir.path().join("s"), b"b", &s).unwrap();
    // 0xAB is 171: a derived Debug would print "[171, 171, …]"; the guard's key would be
    // a field named `key`.
    for shown in [format!("{s:?}"), format!("{g:?}")] {
        assert!(!shown.contains("171") && !shown.contains("key"), "{shown}");
    }
}

#[test]
fn an_oversized_state_file_is_refused_not_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    std::fs::write(&path, vec![0u8; 4 << 20]).unwrap();
    assert!(matches!(
        ClockGuard::open(&path, b"b", &secret()),
        Err(Error::GuardState { .. })
    ));
}
