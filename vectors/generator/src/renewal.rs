//! License update (renewal) vectors (`vectors/renewal.json` and the files under
//! `vectors/renewal/`): SPEC.md §15.8, checked by
//! `airseal_verify::app::device::check_update` and by the Python interop script.
//!
//! One license is installed on one machine (`renewal/installed.cose`: the activation
//! response of `licenses/activation-response.cose`, bound to device key `D` and components
//! 01…, 02…, 03…); each case is an update offered to that machine, with the outcome: the
//! update's claims when it installs, or the error class.

use airseal_core::LicenseClaims;
use airseal_core::armor::armor;
use airseal_core::cose::ObjectType;
use airseal_core::json::claims_to_json;
use airseal_vendor::issue::Issuer;
use serde_json::{Value, json};

use super::{
    Case, DAY, IAT, NOW, PRODUCT, TestKey, device_public_key, hex, installed_response, keys,
};

fn push(cases: &mut Vec<Case>, file: &str, description: &str, bytes: Vec<u8>, expected: Value) {
    cases.push(Case {
        file: file.to_string(),
        bytes,
        entry: json!({
            "file": format!("renewal/{file}"),
            "description": description,
            "now": NOW,
            "expected": expected,
        }),
    });
}

fn error(cases: &mut Vec<Case>, file: &str, description: &str, bytes: Vec<u8>, class: &str) {
    push(
        cases,
        file,
        description,
        bytes,
        json!({"result": "error", "error": class}),
    );
}

/// The installed license (raw COSE): the first file of `vectors/renewal/`.
pub fn renewal_installed() -> Vec<u8> {
    let [a, _, _] = keys();
    Issuer::new(a.key.clone())
        .issue_activation_response(installed_response())
        .unwrap_or_default()
}

/// Makes every renewal case, in `renewal.json` order.
pub fn renewal_cases() -> Vec<Case> {
    let [a, _, u] = keys();
    let a = Issuer::new(a.key.clone());
    let u = Issuer::new(u.key.clone());
    let installed = installed_response();
    // What `airseal renew` makes: the same license, binding and nonce, issued later, with
    // the key's current terms (here a year more and feature F2 added).
    let mut renewed = installed.clone();
    renewed.issued_at = NOW - DAY;
    renewed.expires_at = Some(IAT + 2 * 365 * DAY);
    renewed.token_id = vec![0x2e, 0x4e, 0x3a, 0x01, 0, 0, 0, 1];
    renewed.not_before = Some(IAT);
    renewed.features.bits |= 0b10;
    renewed.normalize();
    let sign = |issuer: &Issuer, c: &LicenseClaims| {
        issuer
            .issue_activation_response(c.clone())
            .unwrap_or_default()
    };
    let good = sign(&a, &renewed);
    let mut cases = Vec::new();
    let installs = |c: &LicenseClaims| json!({"result": "installed", "claims": claims_to_json(c)});
    push(
        &mut cases,
        "renewal.cose",
        "the installed license renewed: same id, binding and request nonce, issued later, a year more",
        good.clone(),
        installs(&renewed),
    );
    push(
        &mut cases,
        "renewal-armored.txt",
        "the same update, armored as AIRSEAL ACTIVATION RESPONSE (what airseal renew writes)",
        armor(ObjectType::ActivationResponse.armor_label(), &good).into_bytes(),
        installs(&renewed),
    );
    error(
        &mut cases,
        "renewal-same-as-installed.cose",
        "the installed license offered again: not newer",
        renewal_installed(),
        "stale_update",
    );
    let mut older = renewed.clone();
    older.issued_at = IAT - DAY;
    older.not_before = Some(IAT - DAY);
    error(
        &mut cases,
        "renewal-older.cose",
        "an update issued before the installed license (a year more, but older): rollback",
        sign(&a, &older),
        "stale_update",
    );
    let mut other_device = renewed.clone();
    if let Some(m) = other_device.machine.as_mut() {
        m.device_key = Some(TestKey::new("device-2", 0xd2).kid().0);
    }
    error(
        &mut cases,
        "renewal-other-device.cose",
        "an update bound to another device key (the same components): another machine's",
        sign(&a, &other_device),
        "wrong_device",
    );
    let mut other_machine = renewed.clone();
    if let Some(m) = other_machine.machine.as_mut() {
        m.components = vec![[7u8; 8], [8u8; 8], [9u8; 8]];
    }
    error(
        &mut cases,
        "renewal-other-machine.cose",
        "an update bound to components the installed license does not have",
        sign(&a, &other_machine),
        "wrong_machine",
    );
    let mut other_license = renewed.clone();
    other_license.license_id = "7ZZZZZZZZZZZZ".into();
    error(
        &mut cases,
        "renewal-other-license.cose",
        "an update of another license id, on this machine's binding",
        sign(&a, &other_license),
        "wrong_request",
    );
    let mut other_nonce = renewed.clone();
    other_nonce.request_nonce = Some([0x4f; 16]);
    error(
        &mut cases,
        "renewal-other-nonce.cose",
        "an update echoing another request nonce (another activation of the license)",
        sign(&a, &other_nonce),
        "wrong_request",
    );
    let mut plain = renewed.clone();
    plain.request_nonce = None;
    error(
        &mut cases,
        "renewal-plain-license.cose",
        "a plain license (typ airseal-license) with the same id: not an update for a machine",
        a.issue(plain).unwrap_or_default(),
        "wrong_request",
    );
    let mut other_product = renewed.clone();
    other_product.product = "video-pro".into();
    error(
        &mut cases,
        "renewal-other-product.cose",
        "an update for another product than the installed license's",
        sign(&a, &other_product),
        "wrong_product",
    );
    error(
        &mut cases,
        "renewal-untrusted-key.cose",
        "an update signed by a key the app does not trust (key U)",
        sign(&u, &renewed),
        "unknown_key_id",
    );
    let mut tampered = good.clone();
    if let Some(last) = tampered.last_mut() {
        *last ^= 1;
    }
    error(
        &mut cases,
        "renewal-tampered.cose",
        "the update with one signature bit flipped",
        tampered,
        "bad_signature",
    );
    let mut ended = renewed.clone();
    ended.expires_at = Some(NOW - DAY);
    ended.issued_at = NOW - 2 * DAY;
    error(
        &mut cases,
        "renewal-already-expired.cose",
        "a newer update whose term ended before now",
        sign(&a, &ended),
        "expired",
    );
    cases
}

/// The whole `renewal.json`.
pub fn renewal_manifest(cases: &[Case]) -> Value {
    let [a, _, _] = keys();
    json!({
        "format": "airseal-renewal-vectors",
        "version": 1,
        "installed": "renewal/installed.cose",
        "product": PRODUCT,
        "trusted_public_keys": [hex(&a.public())],
        "device_public_key": hex(&device_public_key()),
        "cases": cases.iter().map(|c| c.entry.clone()).collect::<Vec<_>>(),
    })
}
