//! The committed `vectors/` are exactly what the generator makes: regenerate with
//! `cargo run -p airseal-vectors` after a deliberate format change, never by hand.

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn committed_files_match_the_generator() {
    let cases = airseal_vectors::generate();
    for c in &cases {
        let on_disk = std::fs::read(dir().join("licenses").join(&c.file))
            .unwrap_or_else(|e| panic!("{}: {e} (run `cargo run -p airseal-vectors`)", c.file));
        assert!(
            on_disk == c.bytes,
            "{} differs from the generator's output",
            c.file
        );
    }
    let names: BTreeSet<String> = cases.iter().map(|c| c.file.clone()).collect();
    assert_eq!(names.len(), cases.len(), "two cases share a file name");
    for entry in std::fs::read_dir(dir().join("licenses")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            names.contains(&name),
            "{name} is in vectors/licenses but no case makes it"
        );
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest, airseal_vectors::manifest(&cases));
    let (public, license) = airseal_vectors::doc_example();
    assert_eq!(
        std::fs::read_to_string(dir().join("doc-example.pub")).unwrap(),
        public
    );
    assert_eq!(
        std::fs::read_to_string(dir().join("doc-example.lic")).unwrap(),
        license
    );
}

/// The same for `vectors/activation.json` and `vectors/activation/`: every file is the
/// generator's, and every file there is made by a case.
#[test]
fn committed_activation_files_match_the_generator() {
    let cases = airseal_vectors::activation_cases();
    for c in &cases {
        let on_disk = std::fs::read(dir().join("activation").join(&c.file))
            .unwrap_or_else(|e| panic!("{}: {e} (run `cargo run -p airseal-vectors`)", c.file));
        assert!(
            on_disk == c.bytes,
            "activation/{} differs from the generator's output",
            c.file
        );
    }
    let names: BTreeSet<String> = cases.iter().map(|c| c.file.clone()).collect();
    assert_eq!(names.len(), cases.len(), "two cases share a file name");
    for entry in std::fs::read_dir(dir().join("activation")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            names.contains(&name),
            "{name} is in vectors/activation but no case makes it"
        );
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("activation.json")).unwrap())
            .unwrap();
    assert_eq!(manifest, airseal_vectors::activation_manifest(&cases));
}

/// The same for `vectors/renewal.json` and `vectors/renewal/`.
#[test]
fn committed_renewal_files_match_the_generator() {
    let cases = airseal_vectors::renewal_cases();
    let installed = std::fs::read(dir().join("renewal/installed.cose")).unwrap();
    assert!(installed == airseal_vectors::renewal_installed());
    let mut names: BTreeSet<String> = cases.iter().map(|c| c.file.clone()).collect();
    assert_eq!(names.len(), cases.len(), "two cases share a file name");
    for c in &cases {
        let on_disk = std::fs::read(dir().join("renewal").join(&c.file))
            .unwrap_or_else(|e| panic!("{}: {e} (run `cargo run -p airseal-vectors`)", c.file));
        assert!(on_disk == c.bytes, "renewal/{} differs", c.file);
    }
    names.insert("installed.cose".into());
    for entry in std::fs::read_dir(dir().join("renewal")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            names.contains(&name),
            "{name} is in vectors/renewal but no case makes it"
        );
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("renewal.json")).unwrap())
            .unwrap();
    assert_eq!(manifest, airseal_vectors::renewal_manifest(&cases));
}

/// The same for `vectors/revocations.json`.
#[test]
fn committed_revocation_vectors_match_the_generator() {
    let on_disk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("revocations.json")).unwrap())
            .unwrap();
    assert_eq!(on_disk, airseal_vectors::revocation_vectors());
}

#[test]
fn generation_is_deterministic() {
    let a = airseal_vectors::generate();
    let b = airseal_vectors::generate();
    assert!(
        a.iter()
            .zip(&b)
            .all(|(x, y)| x.bytes == y.bytes && x.entry == y.entry)
    );
    let a = airseal_vectors::activation_cases();
    let b = airseal_vectors::activation_cases();
    assert_eq!(a.len(), b.len());
    assert!(
        a.iter()
            .zip(&b)
            .all(|(x, y)| x.bytes == y.bytes && x.entry == y.entry)
    );
}

/// The small-order-R vector is meaningful: the cofactorless equation holds, so a verifier
/// without `verify_strict`'s small-order check accepts it.
#[test]
fn small_order_r_vector_passes_plain_verify_only() {
    use ed25519_dalek::{Signature, SigningKey, Verifier};
    let bytes = std::fs::read(dir().join("licenses/signature-r-small-order.cose")).unwrap();
    let s = airseal_core::cose::parse_sign1(&bytes).unwrap();
    let message = airseal_core::cose::sig_structure(s.protected, s.payload);
    let key = SigningKey::from_bytes(&[0xA1; 32]).verifying_key();
    let sig = Signature::from_bytes(&s.signature);
    assert!(
        key.verify(&message, &sig).is_ok(),
        "plain verify should accept it"
    );
    assert!(
        key.verify_strict(&message, &sig).is_err(),
        "verify_strict must refuse it"
    );
}

/// The same for `vectors/chain.json` and `vectors/chain/`.
#[test]
fn committed_chain_files_match_the_generator() {
    let cases = airseal_vectors::chain_cases();
    let names: BTreeSet<String> = cases.iter().map(|c| c.file.clone()).collect();
    assert_eq!(names.len(), cases.len(), "two cases share a file name");
    for c in &cases {
        let on_disk = std::fs::read(dir().join("chain").join(&c.file))
            .unwrap_or_else(|e| panic!("{}: {e} (run `cargo run -p airseal-vectors`)", c.file));
        assert!(on_disk == c.bytes, "chain/{} differs", c.file);
    }
    for entry in std::fs::read_dir(dir().join("chain")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            names.contains(&name),
            "{name} is in vectors/chain but no case makes it"
        );
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("chain.json")).unwrap()).unwrap();
    assert_eq!(manifest, airseal_vectors::chain_manifest(&cases));
}
