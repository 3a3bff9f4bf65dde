//! The clock guard: rollback detection with the license's offset, persistence, tamper
//! evidence, binding, and refusing older revocation lists.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use airseal_core::{LicenseClaims, revocation::RevocationList};
use airseal_vendor::issue::Issuer;
use airseal_verify::{ClockGuard, Error, Expected, License, TrustStore};
use ed25519_dalek::SigningKey;

const NOW: i64 = 1_767_225_600;
const DAY: i64 = 86_400;

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
    let mut g = ClockGuard::open(&path, b"machine-1/LIC1").unwrap();
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
    let mut g = ClockGuard::open(&path, b"machine-1/LIC1").unwrap();
    assert_eq!(g.high_water_mark(), Some(NOW + 10));
    assert_eq!(g.observe(NOW - DAY, &lic).unwrap_err().code(), 24);
    // No temporary files are left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn the_license_clock_offset_is_tolerated() {
    let dir = tempfile::tempdir().unwrap();
    let lic = license(NOW - DAY, Some(300));
    let mut g = ClockGuard::open(&dir.path().join("s"), b"b").unwrap();
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
    let mut g = ClockGuard::open(&dir.path().join("s"), b"b").unwrap();
    // A clock behind the issue time still raises the mark to the issue time.
    g.observe(NOW - 5, &lic).unwrap();
    assert_eq!(g.high_water_mark(), Some(NOW));
}

#[test]
fn edited_or_foreign_state_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let mut g = ClockGuard::open(&path, b"machine-1").unwrap();
    g.observe(NOW, &license(NOW - DAY, None)).unwrap();
    assert!(matches!(
        ClockGuard::open(&path, b"machine-2"),
        Err(Error::GuardState { .. })
    ));
    let mut bytes = std::fs::read(&path).unwrap();
    for i in 0..bytes.len() {
        bytes[i] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert!(
            matches!(
                ClockGuard::open(&path, b"machine-1"),
                Err(Error::GuardState { .. })
            ),
            "byte {i}"
        );
        bytes[i] ^= 1;
    }
    std::fs::write(&path, &bytes[..10]).unwrap();
    assert!(matches!(
        ClockGuard::open(&path, b"machine-1"),
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
    let mut g = ClockGuard::open(&path, b"b").unwrap();
    g.accept_revocations(&list(2)).unwrap();
    g.accept_revocations(&list(2)).unwrap();
    assert_eq!(
        g.accept_revocations(&list(1)),
        Err(Error::StaleRevocationList { seq: 1, newest: 2 })
    );
    let mut g = ClockGuard::open(&path, b"b").unwrap();
    assert_eq!(g.revocations_seq(), 2);
    g.accept_revocations(&list(3)).unwrap();
}
