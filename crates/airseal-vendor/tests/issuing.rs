//! Issuing keys in the vendor library (`SPEC.md` §18.6–18.9): certify and record, the
//! folder round trip, scope refusals, list-number ranges and who may sign a list.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use airseal_core::cert::MaySign;
use airseal_core::{LicenseClaims, ObjectType};
use airseal_vendor::issue::{IssueError, Issuer, ScopeError};
use airseal_vendor::issuing::{self, CertifyOptions, IssuingError};
use airseal_vendor::keyfile::{self, KdfParams, KeyFileError};
use airseal_vendor::ledger::{LIST_SEQ_RANGE, RevokeTarget};
use airseal_vendor::revoke::{self, ExportError};
use airseal_vendor::vendor_dir::VendorDir;
use airseal_verify::{Error, Expected, TrustStore};
use ed25519_dalek::SigningKey;

const PASS: &[u8] = b"issuing key passphrase";

fn vendor(dir: &std::path::Path) -> VendorDir {
    VendorDir::init(dir, "acme", false).unwrap();
    let config = dir.join("airseal.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[products.photo]\n[products.other]\n");
    std::fs::write(&config, text).unwrap();
    // The folder's root is `root()`: only it certifies.
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    std::fs::write(
        dir.join("keys").join("signing.pub"),
        airseal_core::pubkey::encode_public_key(&root().public_key()),
    )
    .unwrap();
    VendorDir::open(dir).unwrap()
}

fn root() -> Issuer {
    Issuer::new(SigningKey::from_bytes(&[1; 32]))
}

fn opts(can: MaySign, products: &[&str]) -> CertifyOptions {
    CertifyOptions {
        days: 90,
        products: products.iter().map(|p| (*p).to_string()).collect(),
        may_sign: can,
    }
}

const NOW: i64 = 1_790_000_000;

fn claims(product: &str, iat: i64) -> LicenseClaims {
    LicenseClaims::new("acme", "L1", product, iat, vec![1; 8])
}

#[test]
fn a_certified_key_round_trips_through_its_folder_and_verifies_under_the_root_only() {
    let tmp = tempfile::tempdir().unwrap();
    let v = vendor(tmp.path());
    let ledger = v.open_ledger().unwrap();
    let root = root();
    let c = issuing::certify(
        &root,
        &v,
        &ledger,
        &opts(MaySign::LICENSES, &["photo"]),
        NOW,
    )
    .unwrap();
    assert_eq!(c.record.serial, 1);
    assert_eq!(c.record.root_kid, root.key_id());
    assert_eq!(c.record.list_seq, None);
    assert_eq!(
        ledger.certificates().list().unwrap(),
        vec![c.record.clone()]
    );
    let dir = tmp.path().join("k");
    issuing::write_folder(&dir, &c, PASS, KdfParams::FOR_TESTS, false).unwrap();
    // Never replaced without force.
    assert!(matches!(
        issuing::write_folder(&dir, &c, PASS, KdfParams::FOR_TESTS, false),
        Err(IssuingError::Exists { .. })
    ));
    let issuer = issuing::unlock(&dir, PASS).unwrap();
    assert_eq!(issuer.key_id(), c.record.kid);
    // The data-key MAC key is the ROOT's, whichever key signs.
    assert_eq!(issuer.data_key_mac_key(), root.data_key_mac_key());
    let bytes = issuer.issue(claims("photo", NOW + 10)).unwrap();
    let mut trust = TrustStore::new();
    trust.add_key(&root.public_key()).unwrap();
    let license = trust
        .verify(&bytes, NOW + 20, &Expected::product("photo"))
        .unwrap();
    assert_eq!(license.key_id(), c.record.kid);
    // The ledger's certificate is what the folder holds.
    let file = issuing::read_certificate(&dir).unwrap();
    assert_eq!(file.bytes, c.record.certificate);
    assert_eq!(file.root, root.key_id());
}

#[test]
fn an_issuing_key_refuses_what_its_certificate_does_not_allow() {
    let tmp = tempfile::tempdir().unwrap();
    let v = vendor(tmp.path());
    let ledger = v.open_ledger().unwrap();
    let c = issuing::certify(
        &root(),
        &v,
        &ledger,
        &opts(MaySign::LICENSES, &["photo"]),
        NOW,
    )
    .unwrap();
    let issuer = Issuer::certified(c.key, &c.certificate, [0; 32]).unwrap();
    let serial = c.record.serial;
    assert_eq!(
        issuer.issue(claims("other", NOW + 1)),
        Err(IssueError::Scope(ScopeError::ProductNotAllowed {
            serial,
            product: "other".into()
        }))
    );
    let after = c.record.not_after;
    assert!(matches!(
        issuer.issue(claims("photo", after)),
        Err(IssueError::Scope(ScopeError::OutOfWindow { .. }))
    ));
    assert!(matches!(
        issuer.issue(claims("photo", NOW - 1)),
        Err(IssueError::Scope(ScopeError::OutOfWindow { .. }))
    ));
    assert!(matches!(
        issuer.check_scope(ObjectType::ActivationResponse, Some("photo"), NOW + 1),
        Err(ScopeError::TypeNotAllowed { .. })
    ));
    // A certified key cannot certify.
    assert!(matches!(
        issuing::certify(&issuer, &v, &ledger, &opts(MaySign::LICENSES, &[]), NOW),
        Err(IssuingError::NotARoot { .. })
    ));
    // A certificate of another key is refused.
    let other = SigningKey::from_bytes(&[9; 32]);
    assert!(matches!(
        Issuer::certified(other, &c.certificate, [0; 32]),
        Err(airseal_vendor::issue::CertifiedError::KeyMismatch { .. })
    ));
    // Unknown products and empty scopes are refused before anything is recorded.
    assert!(matches!(
        issuing::certify(
            &root(),
            &v,
            &ledger,
            &opts(MaySign::LICENSES, &["nope"]),
            NOW
        ),
        Err(IssuingError::UnknownProduct { .. })
    ));
    assert!(matches!(
        issuing::certify(&root(), &v, &ledger, &opts(MaySign(0), &[]), NOW),
        Err(IssuingError::NothingToSign)
    ));
    assert_eq!(ledger.certificates().list().unwrap().len(), 1);
}

#[test]
fn the_sealed_mac_key_opens_only_with_its_issuing_key() {
    let k = SigningKey::from_bytes(&[4; 32]);
    let text = keyfile::wrap_data_mac_key(&k, &[7; 32]).unwrap();
    assert_eq!(
        keyfile::unwrap_data_mac_key(&k, text.as_bytes()).unwrap(),
        [7; 32]
    );
    let other = SigningKey::from_bytes(&[5; 32]);
    assert!(matches!(
        keyfile::unwrap_data_mac_key(&other, text.as_bytes()),
        Err(KeyFileError::DataMacKey { .. })
    ));
    // One flipped bit of the sealed key is refused.
    let mut raw = airseal_core::armor::dearmor(text.as_bytes())
        .unwrap()
        .into_owned();
    let last = raw.len() - 20;
    raw[last] ^= 1;
    let tampered = airseal_core::armor::armor(keyfile::DATA_MAC_ARMOR_LABEL, &raw);
    assert!(matches!(
        keyfile::unwrap_data_mac_key(&k, tampered.as_bytes()),
        Err(KeyFileError::DataMacKey { .. })
    ));
}

#[test]
fn list_ranges_never_overlap_and_a_revoked_keys_first_list_is_the_roots() {
    let tmp = tempfile::tempdir().unwrap();
    let v = vendor(tmp.path());
    let mut ledger = v.open_ledger().unwrap();
    let root = root();
    let lists = MaySign(MaySign::LICENSES.0 | MaySign::REVOCATIONS.0);
    let c1 = issuing::certify(&root, &v, &ledger, &opts(lists, &[]), NOW).unwrap();
    let (lo1, hi1) = c1.record.list_seq.unwrap();
    assert_eq!(lo1, 1);
    assert_eq!(hi1, lo1 + LIST_SEQ_RANGE);
    let k1 = Issuer::certified(c1.key, &c1.certificate, [0; 32]).unwrap();
    // K1 signs lists inside its range.
    let (list, _) = revoke::export_from(&v, &mut ledger, &k1, NOW + 5).unwrap();
    assert!(list.seq >= lo1 && list.seq < hi1);
    let c2 = issuing::certify(&root, &v, &ledger, &opts(lists, &[]), NOW).unwrap();
    let (lo2, _) = c2.record.list_seq.unwrap();
    assert!(lo2 >= hi1, "{lo2} {hi1}");
    let k2 = Issuer::certified(c2.key, &c2.certificate, [0; 32]).unwrap();

    ledger
        .revocations()
        .revoke(
            &RevokeTarget::IssuingKey { kid: k1.key_id() },
            None,
            NOW + 6,
        )
        .unwrap();
    let refused = revoke::export_from(&v, &mut ledger, &k1, NOW + 7).unwrap_err();
    assert!(matches!(refused, ExportError::SignerRevoked { kid } if kid == k1.key_id()));
    let refused = revoke::export_from(&v, &mut ledger, &k2, NOW + 7).unwrap_err();
    assert!(
        matches!(&refused, ExportError::RootRequired { newly_revoked, .. } if newly_revoked == &vec![k1.key_id()]),
        "{refused}"
    );
    let (first, bytes) = revoke::export_from(&v, &mut ledger, &root, NOW + 8).unwrap();
    assert!(first.seq >= hi1, "{} {hi1}", first.seq);
    // At or above the end of EVERY range so far, K2's included: no list key certified
    // before it can sign a list that leaves K1 out and outranks it.
    let hi2 = c2.record.list_seq.unwrap().1;
    assert!(first.seq >= hi2, "{} {hi2}", first.seq);
    assert_eq!(first.issuing_keys, vec![k1.key_id()]);
    // Apps accept it (root-signed), and refuse what K1 signs afterwards.
    let mut trust = TrustStore::new();
    trust.add_key(&root.public_key()).unwrap();
    let accepted = trust.verify_revocations(&bytes).unwrap();
    let stolen = k1.issue(claims("photo", NOW + 1)).unwrap();
    assert!(matches!(
        trust.verify(
            &stolen,
            NOW + 9,
            &Expected::product("photo").revocations(&accepted)
        ),
        Err(Error::IssuingKeyRevoked { .. })
    ));
    // K2, certified before that list, can no longer sign one: past its range.
    let refused = revoke::export_from(&v, &mut ledger, &k2, NOW + 9).unwrap_err();
    assert!(
        matches!(refused, ExportError::SeqOutOfRange { seq, hi, .. } if seq >= hi && hi == hi2),
        "{refused}"
    );
    // A new certificate's range starts above every list and every range so far, and its
    // key signs the later lists.
    let c3 = issuing::certify(&root, &v, &ledger, &opts(lists, &[]), NOW).unwrap();
    let (lo3, _) = c3.record.list_seq.unwrap();
    assert!(lo3 >= hi2 && lo3 > first.seq);
    assert_eq!(c3.record.serial, 3);
    let k3 = Issuer::certified(c3.key, &c3.certificate, [0; 32]).unwrap();
    let (later, _) = revoke::export_from(&v, &mut ledger, &k3, NOW + 9).unwrap();
    assert!(later.seq > first.seq && later.seq >= lo3);
}

#[test]
fn only_the_folders_root_certifies() {
    let tmp = tempfile::tempdir().unwrap();
    let v = vendor(tmp.path());
    let ledger = v.open_ledger().unwrap();
    let other = Issuer::new(SigningKey::from_bytes(&[2; 32]));
    match issuing::certify(&other, &v, &ledger, &opts(MaySign::LICENSES, &[]), NOW) {
        Err(IssuingError::NotTheRoot { given, root: r, .. }) => {
            assert_eq!(given, other.key_id());
            assert_eq!(r, root().key_id());
        }
        other => panic!("{other:?}"),
    }
    assert!(ledger.certificates().list().unwrap().is_empty());
}

#[test]
fn a_ledger_that_lost_certificates_and_revocations_gets_them_back_from_the_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let v = vendor(tmp.path());
    let ledger = v.open_ledger().unwrap();
    let root = root();
    let lists = MaySign(MaySign::LICENSES.0 | MaySign::REVOCATIONS.0);
    let c1 = issuing::certify(&root, &v, &ledger, &opts(lists, &[]), NOW).unwrap();
    issuing::revoke(&v, &ledger, c1.record.kid, Some("leak"), NOW).unwrap();
    // A ledger that never saw either (as a restored older backup).
    let fresh = airseal_vendor::ledger::Ledger::open(&tmp.path().join("other.sqlite3")).unwrap();
    assert!(fresh.certificates().list().unwrap().is_empty());
    issuing::reconcile(&v, &fresh).unwrap();
    let back = fresh.certificates().get(&c1.record.kid).unwrap().unwrap();
    assert_eq!(back.serial, c1.record.serial);
    assert_eq!(back.list_seq, c1.record.list_seq);
    assert_eq!(back.certificate, c1.certificate);
    assert!(back.revoked_at.is_some());
    // Merging again changes nothing.
    issuing::reconcile(&v, &fresh).unwrap();
    assert_eq!(fresh.certificates().list().unwrap().len(), 1);
    // The folder's high-water mark keeps serials and ranges from being handed out twice,
    // even by a ledger that has none.
    let high = issuing::read_high_water(&v).unwrap();
    assert_eq!(high.serial, c1.record.serial);
    assert_eq!(high.list_hi, c1.record.list_seq.unwrap().1);
    let plan = airseal_vendor::ledger::Ledger::open(&tmp.path().join("third.sqlite3"))
        .unwrap()
        .certificates()
        .plan(true, high.list_hi - 1, high.serial)
        .unwrap();
    assert!(plan.serial > c1.record.serial);
    assert!(plan.list_seq.unwrap().0 >= c1.record.list_seq.unwrap().1);
    // Taking the revocation back removes it from the folder's record too.
    issuing::unrevoke(&v, &fresh, c1.record.kid, None, NOW).unwrap();
    assert!(issuing::revoked_keys(&v).unwrap().is_empty());
}
