//! Machine fingerprints: the hash construction is stable and salted per product and kind,
//! `with` replaces, and a license bound 2-of-3 survives one changed component but not two.

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use airseal_core::{LicenseClaims, MachineBinding};
use airseal_vendor::issue::Issuer;
use airseal_verify::app::fingerprint::{ComponentKind, Fingerprint};
use airseal_verify::{Error, Expected, TrustStore};
use ed25519_dalek::SigningKey;

const NOW: i64 = 1_767_225_600;

fn sample() -> Fingerprint {
    Fingerprint::new()
        .with(ComponentKind::MachineId, "3d1219c7c4c5404aaa1f6d2a48adfda4")
        .with(
            ComponentKind::ProductUuid,
            "4C4C4544-0042-3510-8052-B4C04F4E4B32",
        )
        .with(ComponentKind::MacAddress, "a4:5e:60:00:00:01")
        .with(ComponentKind::Hostname, "build-01")
}

#[test]
fn hash_matches_the_documented_construction() {
    // SHA-256("airseal-fingerprint-v1\0photo-pro\0machine-id\03d12…")[..8], computed
    // independently (Python hashlib); the module docs quote the same vector.
    let fp = Fingerprint::new().with(
        ComponentKind::MachineId,
        "3D1219C7C4C5404AAA1F6D2A48ADFDA4\n",
    );
    assert_eq!(
        hex::encode(fp.hashes("photo-pro").first().unwrap()),
        "158ef8d1ac84962e"
    );
}

#[test]
fn hashes_are_deterministic_and_salted_per_product_and_kind() {
    let a = sample().hashes("photo-pro");
    assert_eq!(a, sample().hashes("photo-pro"));
    assert_eq!(a.len(), 4);
    // Two vendors (products) see unrelated hashes for the same machine.
    let b = sample().hashes("video-pro");
    assert!(a.iter().all(|h| !b.contains(h)));
    // The same value as two kinds hashes differently.
    let same = Fingerprint::new()
        .with(ComponentKind::Hostname, "x1")
        .with(ComponentKind::RootDisk, "x1")
        .with(ComponentKind::Custom("instance".into()), "x1")
        .hashes("photo-pro");
    assert_ne!(same.first(), same.get(1));
    assert_ne!(same.get(1), same.get(2));
    assert_eq!(
        ComponentKind::Custom("instance".into()).name(),
        "custom:instance"
    );
}

#[test]
fn with_replaces_and_without_removes() {
    let fp = sample().with(ComponentKind::Hostname, "renamed");
    assert_eq!(fp.components().len(), 4);
    let host = fp.components().get(3).unwrap();
    assert_eq!(host.kind(), &ComponentKind::Hostname);
    assert_eq!(host.value(), "renamed");
    // Order is kept, so the other hashes are unchanged.
    let (old, new) = (sample().hashes("p"), fp.hashes("p"));
    assert_eq!(old.get(..3), new.get(..3));
    assert_ne!(old.get(3), new.get(3));

    let fp = fp.without(&ComponentKind::MacAddress);
    assert_eq!(fp.components().len(), 3);
    assert!(
        fp.components()
            .iter()
            .all(|c| c.kind() != &ComponentKind::MacAddress)
    );
    // A blank app-supplied id identifies nothing: it removes the kind.
    let fp = fp.with(ComponentKind::Hostname, "  \n");
    assert_eq!(fp.components().len(), 2);
}

#[test]
fn a_2_of_3_binding_survives_one_changed_component_but_not_two() {
    let issuer = Issuer::new(SigningKey::from_bytes(&[0x42; 32]));
    let mut trust = TrustStore::new();
    trust.add_key(&issuer.public_key()).unwrap();

    let bound = sample();
    let mut claims = LicenseClaims::new("acme", "0C8G2X9RTV4MA", "photo-pro", NOW - 10, vec![1; 8]);
    claims.machine = Some(MachineBinding {
        threshold: 2,
        components: bound.hashes("photo-pro").into_iter().take(3).collect(),
        device_key: None,
    });
    let license = issuer.issue(claims).unwrap();
    let verify = |fp: &Fingerprint| {
        let machine = fp.machine("photo-pro");
        trust
            .verify(
                &license,
                NOW,
                &Expected::product("photo-pro").machine(&machine),
            )
            .map(|_| ())
    };

    assert_eq!(verify(&bound), Ok(()));
    // A new network card: one component changed, two of three still match.
    let one = bound
        .clone()
        .with(ComponentKind::MacAddress, "a4:5e:60:99:99:99");
    assert_eq!(verify(&one), Ok(()));
    // Reinstalled OS on a new mainboard: only one matches.
    let two = one.with(ComponentKind::MachineId, "0123456789abcdef0123456789abcdef");
    assert!(matches!(
        verify(&two),
        Err(Error::WrongMachine {
            matched: 1,
            required: 2
        })
    ));
    // The same machine seen by another product's salt matches nothing.
    let other = bound.machine("video-pro");
    assert!(matches!(
        trust.verify(
            &license,
            NOW,
            &Expected::product("photo-pro").machine(&other)
        ),
        Err(Error::WrongMachine {
            matched: 0,
            required: 2
        })
    ));
}

#[test]
fn collect_on_this_machine_never_panics() {
    let fp = Fingerprint::collect();
    // Whatever was found hashes without panicking.
    assert_eq!(fp.hashes("photo-pro").len(), fp.components().len());
    if cfg!(target_os = "linux") {
        // Every Linux system with systemd or dbus has a machine id and a hostname; this
        // skips only where those files are absent (minimal containers).
        let has = |k: ComponentKind| fp.components().iter().any(|c| c.kind() == &k);
        if std::path::Path::new("/etc/machine-id").exists() {
            assert!(has(ComponentKind::MachineId), "{fp:?}");
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        if !matches!(host.trim(), "" | "localhost" | "(none)") {
            assert!(has(ComponentKind::Hostname), "{fp:?}");
        }
    }
}
