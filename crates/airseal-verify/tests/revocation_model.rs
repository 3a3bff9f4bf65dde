#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! A model-based test of revocation lists under a stolen issuing key (SPEC.md §18.4).
//!
//! A vendor with a root key and two issuing keys that may sign lists (K1 with the sequence
//! range [100, 200), K2 certified when the leak is found, with [300, 400): the vendor
//! numbers the root's list revoking K1 at or above the end of every range handed out so
//! far, which is K1's alone then, and a list key certified before it could sign no more
//! lists) publishes lists; a thief who stole
//! K1 signs lists of their own (any sequence number, omitting whatever they like) and
//! licenses with backdated issue times; a user replays old lists. Random interleavings are
//! delivered to an app that verifies each list and keeps the newest through the clock guard.
//! After every step: an honest list the vendor signs with the root is always accepted; once
//! the app accepted a list revoking K1, its current list revokes K1 for good, and the
//! thief's licenses are refused.

use airseal_core::cert::{Certificate, MaySign};
use airseal_core::cose::{self, ObjectType};
use airseal_core::revocation::RevocationList;
use airseal_core::{KeyId, LicenseClaims};
use airseal_verify::{ClockGuard, Error, Expected, GuardSecret, TrustStore};
use ed25519_dalek::{Signer, SigningKey};
use proptest::prelude::*;

const T: i64 = 1_767_225_600;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn kid(k: &SigningKey) -> KeyId {
    KeyId::of_public_key(k.verifying_key().as_bytes())
}

fn certificate(root: &SigningKey, issuing: &SigningKey, serial: u64, range: (u64, u64)) -> Vec<u8> {
    let mut c = Certificate {
        serial,
        key: issuing.verifying_key().to_bytes(),
        not_before: T - 86_400,
        not_after: T + 365 * 86_400,
        products: vec![],
        may_sign: MaySign::LICENSES.with(MaySign::REVOCATIONS),
        list_seq: Some(range),
    };
    c.normalize();
    let protected = cose::encode_protected(&kid(root), ObjectType::Certificate);
    let payload = c.encode();
    let sig = root.sign(&cose::sig_structure(&protected, &payload));
    cose::encode_sign1(&protected, &payload, &sig.to_bytes())
}

fn sign(key: &SigningKey, cert: Option<&[u8]>, typ: ObjectType, payload: &[u8]) -> Vec<u8> {
    let protected = match cert {
        Some(c) => cose::encode_protected_with_cert(typ, c),
        None => cose::encode_protected(&kid(key), typ),
    };
    let sig = key.sign(&cose::sig_structure(&protected, payload));
    cose::encode_sign1(&protected, payload, &sig.to_bytes())
}

fn list(seq: u64, revoked: &[KeyId], licenses: &[&str]) -> Vec<u8> {
    let mut l = RevocationList {
        seq,
        issued_at: T,
        issuing_keys: revoked.to_vec(),
        licenses: licenses.iter().map(|s| s.to_string()).collect(),
        ..RevocationList::default()
    };
    l.normalize();
    l.encode()
}

#[derive(Clone, Debug)]
enum Op {
    /// The vendor publishes its next list with the root.
    RootList,
    /// The vendor publishes its next list with an issuing key (K1 until the leak is known,
    /// then K2), when the key's range still has room.
    ServiceList,
    /// The vendor learns of the leak: K1 is revoked in the next list, signed by the root.
    LeakFound,
    /// The vendor revokes a license (next lists name it).
    RevokeLicense,
    /// The thief signs a list with K1: this sequence number (clamped or not), omitting K1
    /// and every license.
    ThiefList(u64),
    /// A user replays the n-th list delivered so far.
    Replay(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::RootList),
        3 => Just(Op::ServiceList),
        1 => Just(Op::LeakFound),
        2 => Just(Op::RevokeLicense),
        2 => prop_oneof![Just(u64::MAX), Just(199u64), Just(200u64), 0u64..1000].prop_map(Op::ThiefList),
        2 => (0usize..64).prop_map(Op::Replay),
    ]
}

struct World {
    root: SigningKey,
    k1: SigningKey,
    k2: SigningKey,
    c1: Vec<u8>,
    c2: Vec<u8>,
    trust: TrustStore,
    guard: ClockGuard,
    /// The vendor's state: last sequence number used, revoked licenses, K1 revoked.
    vendor_seq: u64,
    revoked_licenses: Vec<String>,
    k1_revoked: bool,
    /// The app's state: the list it acts on.
    current: Option<RevocationList>,
    delivered: Vec<Vec<u8>>,
    app_knows_k1_revoked: bool,
    thief_accepted: bool,
    _dir: tempfile::TempDir,
}

impl World {
    fn new() -> Self {
        let (root, k1, k2) = (key(1), key(2), key(3));
        let c1 = certificate(&root, &k1, 1, (100, 200));
        let c2 = certificate(&root, &k2, 2, (300, 400));
        let mut trust = TrustStore::new();
        trust.add_key(root.verifying_key().as_bytes()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let guard = ClockGuard::open(
            &dir.path().join("guard"),
            b"model",
            &GuardSecret::from_bytes([5; 32]),
        )
        .unwrap();
        World {
            root,
            k1,
            k2,
            c1,
            c2,
            trust,
            guard,
            vendor_seq: 0,
            revoked_licenses: vec![],
            k1_revoked: false,
            current: None,
            delivered: vec![],
            app_knows_k1_revoked: false,
            thief_accepted: false,
            _dir: dir,
        }
    }

    fn vendor_list(&self, seq: u64) -> Vec<u8> {
        let revoked: Vec<KeyId> = if self.k1_revoked {
            vec![kid(&self.k1)]
        } else {
            vec![]
        };
        let licenses: Vec<&str> = self.revoked_licenses.iter().map(String::as_str).collect();
        list(seq, &revoked, &licenses)
    }

    /// The app receives a list: verify, then the guard's sequence rule.
    fn deliver(&mut self, bytes: Vec<u8>) -> Result<(), Error> {
        self.delivered.push(bytes.clone());
        let l = self.trust.verify_revocations(&bytes)?;
        self.guard.accept_revocations(&l)?;
        if l.revokes_issuer(kid(&self.k1)) {
            self.app_knows_k1_revoked = true;
        }
        self.current = Some(l);
        Ok(())
    }

    fn step(&mut self, op: &Op) {
        match op {
            Op::RootList | Op::LeakFound => {
                if matches!(op, Op::LeakFound) {
                    self.k1_revoked = true;
                }
                // The root's list is numbered above every range handed out so far.
                let floor = if self.k1_revoked { 200 } else { 0 };
                let seq = (self.vendor_seq + 1).max(floor);
                self.vendor_seq = seq;
                let bytes = sign(
                    &self.root,
                    None,
                    ObjectType::RevocationList,
                    &self.vendor_list(seq),
                );
                // Before the leak is found, a thief's list numbered up to 199 makes the
                // vendor's lower-numbered lists stale (the app says so, which is itself the
                // sign of a leak); the root's list revoking K1 is numbered past the range.
                let blocked = self.current.as_ref().is_some_and(|l| l.seq >= seq);
                let r = self.deliver(bytes);
                if blocked && matches!(op, Op::RootList) {
                    assert!(
                        self.thief_accepted,
                        "an honest root list #{seq} was stale without a thief"
                    );
                } else {
                    assert!(r.is_ok(), "an honest root list #{seq} was refused: {r:?}");
                }
            }
            Op::ServiceList => {
                let (k, c, (lo, hi)) = if self.k1_revoked {
                    (&self.k2, &self.c2, (300, 400))
                } else {
                    (&self.k1, &self.c1, (100, 200))
                };
                let seq = (self.vendor_seq + 1).max(lo);
                if seq >= hi {
                    return;
                }
                self.vendor_seq = seq;
                let bytes = sign(
                    k,
                    Some(c),
                    ObjectType::RevocationList,
                    &self.vendor_list(seq),
                );
                let by_k2 = self.k1_revoked;
                let app_had_root_revocation = self.app_knows_k1_revoked;
                let r = self.deliver(bytes);
                // K2 is beyond the thief's reach once the app knows K1 is revoked.
                if by_k2 && app_had_root_revocation {
                    assert!(r.is_ok(), "an honest K2 list #{seq} was refused: {r:?}");
                }
            }
            Op::RevokeLicense => {
                let id = format!("LIC{}", self.revoked_licenses.len());
                self.revoked_licenses.push(id);
            }
            Op::ThiefList(seq) => {
                let bytes = sign(
                    &self.k1,
                    Some(&self.c1),
                    ObjectType::RevocationList,
                    &list(*seq, &[], &[]),
                );
                let before = self.app_knows_k1_revoked;
                let r = self.deliver(bytes);
                if r.is_ok() {
                    self.thief_accepted = true;
                    assert!(
                        !before,
                        "a thief's list #{seq} was accepted after K1's revocation"
                    );
                    assert!(
                        (100..200).contains(seq),
                        "a thief's list outside its range: #{seq}"
                    );
                }
            }
            Op::Replay(n) => {
                if let Some(bytes) = self.delivered.get(n % self.delivered.len().max(1)).cloned() {
                    let before = self.current.as_ref().map(|l| l.seq);
                    let _ = self.deliver(bytes);
                    // A replay never lowers what the app acts on.
                    let after = self.current.as_ref().map(|l| l.seq);
                    assert!(
                        after >= before,
                        "a replay lowered the list from {before:?} to {after:?}"
                    );
                }
            }
        }
        self.check();
    }

    fn check(&self) {
        let k1 = kid(&self.k1);
        let current_revokes_k1 = self.current.as_ref().is_some_and(|l| l.revokes_issuer(k1));
        if self.app_knows_k1_revoked {
            assert!(current_revokes_k1, "K1 was un-revoked on the app");
        }
        // The thief's backdated license.
        let mut claims =
            LicenseClaims::new("acme", "THIEF00000000", "photo-pro", T - 3600, vec![7; 8]);
        claims.normalize();
        let lic = sign(
            &self.k1,
            Some(&self.c1),
            ObjectType::License,
            &claims.encode(),
        );
        let mut expected = Expected::product("photo-pro");
        if let Some(l) = &self.current {
            expected = expected.revocations(l);
        }
        let r = self.trust.verify(&lic, T, &expected);
        if current_revokes_k1 {
            assert_eq!(
                r.unwrap_err(),
                Error::IssuingKeyRevoked {
                    kid: k1,
                    list_seq: self.current.as_ref().unwrap().seq
                }
            );
        } else {
            assert!(r.is_ok(), "{r:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("AIRSEAL_MODEL_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64),
        ..ProptestConfig::default()
    })]
    #[test]
    fn a_stolen_issuing_key_cannot_switch_revocation_off(ops in proptest::collection::vec(op(), 1..40)) {
        let mut w = World::new();
        for op in &ops {
            w.step(op);
        }
    }
}
