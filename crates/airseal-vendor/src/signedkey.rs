//! Issuing signed keys: product keys that carry their own Ed25519 signature, for vendors who
//! want no license file at all (`SPEC.md` §12.4 gives the format).
//!
//! Each key is one Ed25519 signature over 42 bytes, so issuing costs what signing costs;
//! [`sign_keys_parallel`] spreads a batch over the machine's cores.

use airseal_core::UnixTime;
use airseal_core::signedkey::{self, SignedKeyPayload};

use crate::issue::Issuer;

/// The issue time a signed key made at `created` claims: the start of its UTC creation day
/// (a signed key carries only the day), which is what verifiers check a certificate's window
/// against (`SPEC.md` §18.6).
pub fn claimed_issue_time(created: UnixTime) -> UnixTime {
    signedkey::EPOCH_2020 + i64::from(SignedKeyPayload::day_of(created)) * 86_400
}

/// Makes one signed key (display form, 17 groups of 8 symbols) for `product`.
///
/// `features`: bit i grants `F(i+1)`. `days`: validity from the start of the creation day,
/// 0 = no expiry. `created`: the issue time; the key records its UTC day (days before 2020
/// count as 2020-01-01, the format's first day). `serial`: should be random (or unique in
/// the vendor's records): two keys with the same fields and serial are the same string.
pub fn sign_key(
    issuer: &Issuer,
    product: &str,
    features: u8,
    days: u16,
    created: UnixTime,
    serial: u32,
) -> String {
    Template::new(issuer, product, features, days, created).sign(serial)
}

/// Makes one signed key per serial, in the order of `serials`, using every core the machine
/// reports (the one parallel signing engine, [`crate::sign::par_map`]). The output is
/// exactly what [`sign_key`] gives for each serial.
pub fn sign_keys_parallel(
    issuer: &Issuer,
    product: &str,
    features: u8,
    days: u16,
    created: UnixTime,
    serials: &[u32],
) -> Vec<String> {
    let template = Template::new(issuer, product, features, days, created);
    crate::sign::par_map(serials, 0, &|serial| template.sign(*serial), &|_| {})
}

/// Everything but the serial, computed once per batch (the product tag is a SHA-512).
struct Template<'a> {
    issuer: &'a Issuer,
    payload: SignedKeyPayload,
}

impl<'a> Template<'a> {
    fn new(issuer: &'a Issuer, product: &str, features: u8, days: u16, created: UnixTime) -> Self {
        let payload = SignedKeyPayload {
            kid: issuer.key_id(),
            product_tag: signedkey::product_tag(product),
            features,
            days,
            created_day: SignedKeyPayload::day_of(created),
            serial: 0,
        };
        Self { issuer, payload }
    }

    fn sign(&self, serial: u32) -> String {
        let bytes = SignedKeyPayload {
            serial,
            ..self.payload
        }
        .to_bytes();
        let signature = self.issuer.sign_raw(&signedkey::signing_message(&bytes));
        signedkey::encode(&bytes, &signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    #[test]
    fn parallel_batch_equals_one_by_one() {
        let issuer = Issuer::new(SigningKey::from_bytes(&[5; 32]));
        let created = 1_767_225_600;
        for n in [0usize, 1, 2, 3, 17] {
            let serials: Vec<u32> = (0..n as u32)
                .map(|i| i.wrapping_mul(2_654_435_761))
                .collect();
            let batch = sign_keys_parallel(&issuer, "photo-pro", 0b11, 30, created, &serials);
            let one_by_one: Vec<String> = serials
                .iter()
                .map(|s| sign_key(&issuer, "photo-pro", 0b11, 30, created, *s))
                .collect();
            assert_eq!(batch, one_by_one);
        }
    }

    #[test]
    fn key_records_the_fields() {
        let issuer = Issuer::new(SigningKey::from_bytes(&[5; 32]));
        let key = sign_key(&issuer, "photo-pro", 0x81, 365, 1_767_225_600 + 3_600, 42);
        let (_, payload, _) = signedkey::decode(&key).unwrap();
        assert_eq!(payload.kid, issuer.key_id());
        assert_eq!(payload.product_tag, signedkey::product_tag("photo-pro"));
        assert_eq!(
            (payload.features, payload.days, payload.serial),
            (0x81, 365, 42)
        );
        assert_eq!(payload.created_at(), 1_767_225_600);
    }
}
