//! Activation requests and deactivation proofs: signed by the device key they carry, small
//! enough for a QR code, and never mistaken for each other or for a license.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use airseal_core::activation::{ActivationRequest, DeactivationProof, Purpose};
use airseal_core::armor::armor;
use airseal_core::cose::ObjectType;
use airseal_vendor::issue::Issuer;
use airseal_verify::Error;
use airseal_verify::activation::{verify_deactivation, verify_request};
use ed25519_dalek::SigningKey;

fn device() -> Issuer {
    // A device key signs exactly like a vendor key: the envelope's kid is its key id.
    Issuer::new(SigningKey::from_bytes(&[0x44; 32]))
}

fn request(device: &Issuer) -> ActivationRequest {
    let mut r = ActivationRequest {
        product: "photo-pro".into(),
        product_key: Some("7K3QDM2XRP9FTWB4HCNV".into()),
        components: vec![[1; 8], [2; 8], [3; 8], [4; 8], [5; 8]],
        device_key: device.public_key(),
        nonce: [7; 16],
        created: 1_767_225_600,
        app_version: Some("4.2.1".into()),
        purpose: Purpose::Activation,
        meters: vec![("projects".into(), 12)],
    };
    r.normalize();
    r
}

#[test]
fn requests_verify_and_fit_a_qr_code() {
    let d = device();
    let req = request(&d);
    let bytes = d.sign(ObjectType::ActivationRequest, &req.encode());
    assert!(
        bytes.len() <= 400,
        "request with 5 components is {} bytes",
        bytes.len()
    );
    println!("request with 5 components: {} bytes raw", bytes.len());
    assert_eq!(verify_request(&bytes).unwrap(), req);
    let text = armor(ObjectType::ActivationRequest.armor_label(), &bytes);
    assert!(text.starts_with("-----BEGIN AIRSEAL ACTIVATION REQUEST-----"));
    assert_eq!(verify_request(text.as_bytes()).unwrap(), req);
}

#[test]
fn the_signature_must_come_from_the_device_key_inside() {
    let d = device();
    // Signed by another key than the one in the payload: the kid does not match.
    let other = Issuer::new(SigningKey::from_bytes(&[0x45; 32]));
    let forged = other.sign(ObjectType::ActivationRequest, &request(&d).encode());
    assert!(
        matches!(verify_request(&forged), Err(Error::Malformed(e)) if e.context == "protected header kid")
    );
    // Any change to a signed byte breaks the signature.
    let mut bytes = d.sign(ObjectType::ActivationRequest, &request(&d).encode());
    let at = bytes.windows(5).position(|w| w == b"photo").unwrap();
    bytes[at] = b'P';
    assert_eq!(verify_request(&bytes), Err(Error::BadSignature));
}

#[test]
fn types_never_cross() {
    let d = device();
    let req = d.sign(ObjectType::ActivationRequest, &request(&d).encode());
    let proof = DeactivationProof {
        product: "photo-pro".into(),
        license_id: "0C8G2X9RTV4MA".into(),
        token_id: vec![1; 8],
        device_key: d.public_key(),
        nonce: [3; 16],
        created: 1_767_225_600,
    };
    let proof_bytes = d.sign(ObjectType::DeactivationProof, &proof.encode());
    assert_eq!(verify_deactivation(&proof_bytes).unwrap(), proof);
    assert!(matches!(
        verify_deactivation(&req),
        Err(Error::WrongType { .. })
    ));
    assert!(matches!(
        verify_request(&proof_bytes),
        Err(Error::WrongType { .. })
    ));
    let mut trust = airseal_verify::TrustStore::new();
    trust.add_key(&d.public_key()).unwrap();
    assert!(matches!(
        trust.verify(&req, 0, &airseal_verify::Expected::product("photo-pro")),
        Err(Error::WrongType { .. })
    ));
}

#[test]
fn hostile_input_never_panics() {
    let d = device();
    let good = d.sign(ObjectType::ActivationRequest, &request(&d).encode());
    for i in 0..good.len() {
        for bit in 0..8 {
            let mut m = good.clone();
            m[i] ^= 1 << bit;
            assert!(verify_request(&m).is_err(), "flip at {i}/{bit} accepted");
        }
        let _ = verify_request(&good[..i]);
    }
}
