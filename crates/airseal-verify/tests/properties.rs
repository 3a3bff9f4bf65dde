//! Properties over generated licenses: everything the issuer can produce verifies to the
//! same claims, and no single-byte change to a license is ever accepted (or panics).

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use airseal_core::{
    LicenseClaims, LicenseKind, Licensee, Limit, MachineBinding, MetaValue, NamedFeature,
};
use airseal_vendor::issue::Issuer;
use airseal_verify::{Error, Expected, Machine, TrustStore};
use ed25519_dalek::SigningKey;
use proptest::prelude::*;

const NOW: i64 = 1_767_225_600;

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 @._é-]{1,24}"
}

fn limit() -> impl Strategy<Value = Option<Limit>> {
    prop_oneof![
        Just(None),
        Just(Some(Limit::Unlimited)),
        (1u64..1_000_000).prop_map(|n| Some(Limit::AtMost(n)))
    ]
}

prop_compose! {
    fn claims()(
        issuer in text(), id in "[0-9A-Z]{13}", product in "[a-z-]{1,16}",
        iat in 0i64..NOW, validity in prop::option::of(1i64..100_000_000),
        token in prop::collection::vec(any::<u8>(), 1..=32),
        kind in 0u8..3, name in prop::option::of(text()), email in prop::option::of(text()),
        org in prop::option::of(text()), key in prop::option::of("[0-9A-Z]{20}"),
        bits in any::<u8>(), named in prop::collection::btree_map("[a-z]{2,12}", prop::option::of(any::<i64>()), 0..5),
        max_act in limit(), max_deact in limit(),
        machine in prop::option::of(prop::collection::vec(any::<[u8; 8]>(), 1..6)),
        maint in prop::option::of(any::<i64>()), grace in prop::option::of(0u64..10_000_000),
        skew in prop::option::of(0u64..100_000),
        meta in prop::collection::btree_map("[a-z_]{1,10}", prop_oneof![any::<i64>().prop_map(MetaValue::Int), text().prop_map(MetaValue::Text)], 0..8),
    ) -> LicenseClaims {
        let mut c = LicenseClaims::new(issuer, id, product, iat, token);
        c.expires_at = validity.map(|v| iat + v);
        c.kind = [LicenseKind::Perpetual, LicenseKind::Subscription, LicenseKind::Trial][usize::from(kind)];
        c.licensee = Licensee { name, email, organization: org };
        c.product_key = key;
        c.features.bits = bits;
        c.features.named = named.into_iter().map(|(name, expires_at)| NamedFeature { name, expires_at }).collect();
        c.max_activations = max_act;
        c.max_deactivations = max_deact;
        c.machine = machine.map(|components| MachineBinding { threshold: 1, components, device_key: None });
        c.maintenance_until = maint;
        c.grace_period = grace;
        c.clock_offset = skew;
        c.metadata = meta.into_iter().collect();
        c.normalize();
        c
    }
}

fn issuer() -> Issuer {
    Issuer::new(SigningKey::from_bytes(&[0x42; 32]))
}

fn trust() -> TrustStore {
    let mut t = TrustStore::new();
    t.add_key(&issuer().public_key()).unwrap();
    t
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_issued_license_verifies_to_its_claims(c in claims()) {
        let bytes = issuer().issue(c.clone()).unwrap();
        let machine = Machine::from_component_hashes(c.machine.as_ref().map(|m| m.components.clone()).unwrap_or_default());
        let now = c.issued_at; // valid from iat, and every exp is after iat
        let license = trust().verify(&bytes, now, &Expected::product(&c.product).machine(&machine)).unwrap();
        prop_assert_eq!(license.claims(), &c);
        // Armored, the same.
        let armored = airseal_core::armor::armor("AIRSEAL LICENSE", &bytes);
        let again = trust().verify(armored.as_bytes(), now, &Expected::product(&c.product).machine(&machine)).unwrap();
        prop_assert_eq!(again.claims(), &c);
    }

    #[test]
    fn any_single_byte_change_is_refused(c in claims(), pos in any::<prop::sample::Index>(), xor in 1u8..=255) {
        let mut bytes = issuer().issue(c.clone()).unwrap();
        let i = pos.index(bytes.len());
        bytes[i] ^= xor;
        let machine = Machine::from_component_hashes(c.machine.as_ref().map(|m| m.components.clone()).unwrap_or_default());
        let result = trust().verify(&bytes, c.issued_at, &Expected::product(&c.product).machine(&machine));
        prop_assert!(result.is_err(), "byte {} ^ {:#x} accepted", i, xor);
    }
}

/// Exhaustive over one typical license: every position, every one-bit flip. A change in a
/// signed byte is BadSignature (or a structural error found first), never acceptance.
#[test]
fn every_bit_flip_of_a_license_is_refused_with_a_named_error() {
    let mut c = LicenseClaims::new(
        "acme",
        "0C8G2X9RTV4MA",
        "photo-pro",
        NOW - 10,
        vec![1, 2, 3, 4, 5, 6, 7, 8],
    );
    c.features.bits = 5;
    c.metadata = vec![("order".into(), MetaValue::Text("A-1".into()))];
    let bytes = issuer().issue(c).unwrap();
    let t = trust();
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut m = bytes.clone();
            m[i] ^= 1 << bit;
            match t.verify(&m, NOW, &Expected::product("photo-pro")) {
                Ok(_) => panic!("flip of bit {bit} at byte {i} accepted"),
                Err(
                    Error::Malformed(_)
                    | Error::BadSignature
                    | Error::UnknownKeyId { .. }
                    | Error::WrongType { .. }
                    | Error::UnsupportedAlgorithm { .. },
                ) => {}
                Err(e) => panic!("flip at byte {i}: unexpected {e}"),
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// The verifier's verdict on expiry is `airseal_core::expiry`'s, the rule the vendor's
    /// renewals use too: valid before `exp`, in grace until `exp + grace` (overflow-safe),
    /// expired from then on, for any expiry, grace period (up to `u64::MAX`) and instant.
    #[test]
    fn expiry_verdict_is_the_shared_rule(
        exp_after in 1i64..1_000_000,
        grace in prop_oneof![Just(None), (0u64..2_000_000).prop_map(Some), Just(Some(u64::MAX))],
        now_after in prop_oneof![0i64..4_000_000, Just(i64::MAX - NOW)],
    ) {
        let mut c = LicenseClaims::new("acme", "0C8G2X9RTV4MA", "photo-pro", NOW, vec![1; 8]);
        c.expires_at = Some(NOW + exp_after);
        c.grace_period = grace;
        let bytes = issuer().issue(c.clone()).unwrap();
        let now = NOW + now_after;
        let verdict = trust().verify(&bytes, now, &Expected::product("photo-pro"));
        match (c.expiry(now), verdict) {
            (airseal_core::Expiry::Current, Ok(l)) => {
                prop_assert_eq!(l.status(), airseal_verify::Status::Valid);
            }
            (airseal_core::Expiry::InGrace { until }, Ok(l)) => {
                prop_assert_eq!(l.status(), airseal_verify::Status::InGrace { until });
                prop_assert_eq!(Some(until), c.valid_until());
            }
            (airseal_core::Expiry::Expired { until }, Err(Error::Expired { expired_at, .. })) => {
                prop_assert_eq!(expired_at, until);
                prop_assert!(now >= until);
            }
            (rule, verdict) => prop_assert!(false, "rule {:?}, verifier {:?}", rule, verdict.map(|l| l.status())),
        }
    }
}
