//! The C ABI called from Rust: every vector gives the same answer through the ABI as through
//! `airseal-verify`, every NULL and over-long argument is refused with its code, and the
//! string-buffer convention holds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unsafe_code)]
// Every unsafe block calls the ABI with pointers and lengths built right here; a SAFETY comment
// per call would repeat "valid pointers and lengths from this test" a hundred times.
#![allow(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block
)]

use std::ffi::{CStr, CString, c_char};
use std::path::Path;
use std::ptr;

use airseal::*;
use airseal_verify::{Expected, Machine, TrustStore};
use serde_json::Value;

const NOW: i64 = 1_767_225_600;
const KEY_A: &str = "bc7cbcb5636375fa1d82434d466724d92377f53b980695dd49d26d0ce12205a5";

fn vectors() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../vectors"))
}

fn json(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(vectors().join(name)).unwrap()).unwrap()
}

fn key(hex_key: &str) -> [u8; 32] {
    hex::decode(hex_key).unwrap().try_into().unwrap()
}

/// An FFI trust store freed on drop.
struct Store(*mut AirsealTrustStore);

impl Store {
    fn new(keys: &[[u8; 32]]) -> Self {
        let store = Store(airseal_trust_store_new());
        assert!(!store.0.is_null());
        for k in keys {
            assert_eq!(
                unsafe { airseal_trust_store_add_key(store.0, k.as_ptr()) },
                0
            );
        }
        store
    }

    /// `airseal_verify`, returning the status and the license (freed on drop).
    fn verify(&self, license: &[u8], now: i64, product: &CStr, machine: &[[u8; 8]]) -> (i32, Lic) {
        let mut out: *mut AirsealLicense = ptr::dangling_mut();
        let code = unsafe {
            airseal_verify(
                self.0,
                license.as_ptr(),
                license.len(),
                now,
                product.as_ptr(),
                if machine.is_empty() {
                    ptr::null()
                } else {
                    machine.as_ptr().cast()
                },
                machine.len(),
                &mut out,
            )
        };
        assert_eq!(code == 0, !out.is_null(), "*out is set exactly on success");
        (code, Lic(out))
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        unsafe { airseal_trust_store_free(self.0) };
    }
}

struct Lic(*mut AirsealLicense);

impl Lic {
    fn string(
        &self,
        f: unsafe extern "C" fn(*const AirsealLicense, *mut c_char, usize) -> usize,
    ) -> String {
        let needed = unsafe { f(self.0, ptr::null_mut(), 0) };
        let mut buf = vec![0x55u8; needed];
        assert_eq!(
            unsafe { f(self.0, buf.as_mut_ptr().cast(), buf.len()) },
            needed
        );
        CStr::from_bytes_with_nul(&buf)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string()
    }
}

impl Drop for Lic {
    fn drop(&mut self) {
        unsafe { airseal_license_free(self.0) };
    }
}

fn message(code: i32) -> &'static str {
    unsafe { CStr::from_ptr(airseal_error_message(code)) }
        .to_str()
        .unwrap()
}

#[test]
fn every_license_vector_agrees_with_the_rust_verifier() {
    let manifest = json("manifest.json");
    let mut checked = 0;
    for case in manifest["cases"].as_array().unwrap() {
        let (Some(file), Some(now), Some(product)) = (
            case["file"].as_str(),
            case["now"].as_i64(),
            case["product"].as_str(),
        ) else {
            continue;
        };
        let keys: Vec<[u8; 32]> = case["trusted_public_keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| key(k.as_str().unwrap()))
            .collect();
        let machine: Vec<[u8; 8]> = case["machine"]
            .as_array()
            .map(|m| m.iter().map(|c| key8(c.as_str().unwrap())).collect())
            .unwrap_or_default();
        let bytes = std::fs::read(vectors().join(file)).unwrap();

        let mut trust = TrustStore::new();
        let refused: Vec<_> = keys.iter().filter_map(|k| trust.add_key(k).err()).collect();
        if let Some(e) = refused.first() {
            // A key the Rust trust store refuses (SPEC.md §3.1) is refused through the C ABI
            // with the same code.
            let store = Store(airseal_trust_store_new());
            let codes: Vec<i32> = keys
                .iter()
                .map(|k| unsafe { airseal_trust_store_add_key(store.0, k.as_ptr()) })
                .collect();
            assert!(codes.contains(&i32::from(e.code())), "{file}: {codes:?}");
            checked += 1;
            continue;
        }
        let m = Machine::from_component_hashes(machine.clone());
        let mut expected = Expected::product(product);
        if case["machine"].is_array() {
            expected = expected.machine(&m);
        }
        let rust = trust.verify(&bytes, now, &expected);

        let store = Store::new(&keys);
        let (code, lic) = store.verify(&bytes, now, &CString::new(product).unwrap(), &machine);
        match rust {
            Err(e) => {
                assert_eq!(code, i32::from(e.code()), "{file}: {e}");
                assert!(
                    message(code).starts_with(&e.class().replace('_', " ")),
                    "{file}"
                );
            }
            Ok(license) => {
                assert_eq!(code, 0, "{file}: {}", message(code));
                assert_eq!(lic.string(airseal_license_id), license.id(), "{file}");
                assert_eq!(lic.string(airseal_license_product), product, "{file}");
                let mut exp = i64::MIN;
                let has_exp = unsafe { airseal_license_expires_at(lic.0, &mut exp) };
                assert_eq!(has_exp.then_some(exp), license.expires_at(), "{file}");
                assert_eq!(
                    unsafe { airseal_license_in_grace(lic.0) },
                    matches!(license.status(), airseal_verify::Status::InGrace { .. }),
                    "{file}"
                );
                let kind = unsafe { airseal_license_kind(lic.0) } as i32;
                let want = match license.kind() {
                    airseal_verify::LicenseKind::Perpetual => 0,
                    airseal_verify::LicenseKind::Subscription => 1,
                    airseal_verify::LicenseKind::Trial => 2,
                };
                assert_eq!(kind, want, "{file}: kind");
                let bits = unsafe { airseal_license_feature_bits(lic.0, now) };
                for i in 0..8 {
                    let name = format!("F{}", i + 1);
                    let c_name = CString::new(name.clone()).unwrap();
                    let on = license.feature_enabled(&name, now);
                    assert_eq!(bits & (1 << i) != 0, on, "{file} {name}");
                    assert_eq!(
                        unsafe { airseal_license_feature_enabled(lic.0, c_name.as_ptr(), now) },
                        on
                    );
                }
                for name in license.active_features(now) {
                    let c_name = CString::new(name).unwrap();
                    assert!(unsafe {
                        airseal_license_feature_enabled(lic.0, c_name.as_ptr(), now)
                    });
                }
            }
        }
        checked += 1;
    }
    assert!(checked >= 80, "only {checked} cases");
}

fn key8(hex_component: &str) -> [u8; 8] {
    hex::decode(hex_component).unwrap().try_into().unwrap()
}

#[test]
fn signed_key_vectors_and_their_failures() {
    let keys = json("keys.json");
    for case in keys["signed_keys"].as_array().unwrap() {
        let store = Store::new(&[key(case["public_key"].as_str().unwrap())]);
        let now = case["now"].as_i64().unwrap();
        let typed = case["key"].as_str().unwrap();
        let check = |typed: &str, product: &str| {
            let mut features = 0xAA;
            let k = CString::new(typed).unwrap();
            let p = CString::new(product).unwrap();
            let code = unsafe {
                airseal_verify_signed_key(store.0, k.as_ptr(), p.as_ptr(), now, &mut features)
            };
            (code, features)
        };
        let features = u8::try_from(case["features"].as_u64().unwrap()).unwrap();
        assert_eq!(
            check(typed, case["product"].as_str().unwrap()),
            (0, features)
        );
        assert_eq!(check(typed, "video-pro"), (15, 0));
        // One symbol changed: the check symbol catches it as a typo, not a forgery.
        let mut mistyped: Vec<char> = typed.chars().collect();
        mistyped[2] = if mistyped[2] == 'X' { 'Y' } else { 'X' };
        let mistyped: String = mistyped.into_iter().collect();
        assert_eq!(check(&mistyped, "photo-pro"), (20, 0));
        assert_eq!(check("not a key", "photo-pro"), (10, 0));
        // features_out may be NULL.
        let k = CString::new(typed).unwrap();
        let code = unsafe {
            airseal_verify_signed_key(
                store.0,
                k.as_ptr(),
                c"photo-pro".as_ptr(),
                now,
                ptr::null_mut(),
            )
        };
        assert_eq!(code, 0);
    }
}

#[test]
fn null_pointers_are_refused() {
    let store = Store::new(&[key(KEY_A)]);
    let lic = std::fs::read(vectors().join("doc-example.lic")).unwrap();
    let mut out: *mut AirsealLicense = ptr::null_mut();
    let k = key(KEY_A);
    unsafe {
        assert_eq!(airseal_trust_store_add_key(ptr::null_mut(), k.as_ptr()), 90);
        assert_eq!(airseal_trust_store_add_key(store.0, ptr::null()), 90);
        assert_eq!(
            airseal_trust_store_add_key_file(store.0, ptr::null(), 0),
            90
        );
        assert_eq!(
            airseal_trust_store_add_key_file(ptr::null_mut(), b"x".as_ptr(), 1),
            90
        );
        let p = c"photo-pro".as_ptr();
        let (l, n) = (lic.as_ptr(), lic.len());
        assert_eq!(
            airseal_verify(ptr::null(), l, n, NOW, p, ptr::null(), 0, &mut out),
            90
        );
        assert_eq!(
            airseal_verify(store.0, ptr::null(), n, NOW, p, ptr::null(), 0, &mut out),
            90
        );
        assert_eq!(
            airseal_verify(store.0, l, n, NOW, ptr::null(), ptr::null(), 0, &mut out),
            90
        );
        assert_eq!(
            airseal_verify(store.0, l, n, NOW, p, ptr::null(), 2, &mut out),
            90
        );
        assert_eq!(
            airseal_verify(store.0, l, n, NOW, p, ptr::null(), 0, ptr::null_mut()),
            90
        );
        assert!(out.is_null());
        assert_eq!(
            airseal_verify_signed_key(ptr::null(), p, p, NOW, ptr::null_mut()),
            90
        );
        assert_eq!(
            airseal_verify_signed_key(store.0, ptr::null(), p, NOW, ptr::null_mut()),
            90
        );
        assert_eq!(
            airseal_verify_signed_key(store.0, p, ptr::null(), NOW, ptr::null_mut()),
            90
        );
        assert_eq!(
            airseal_verify_signed_key_full(ptr::null(), p, p, NOW, ptr::null(), ptr::null_mut()),
            90
        );
        assert_eq!(
            airseal_verify_signed_key_full(
                store.0,
                ptr::null(),
                p,
                NOW,
                ptr::null(),
                ptr::null_mut()
            ),
            90
        );
        let null = ptr::null();
        assert_eq!(airseal_license_id(null, ptr::null_mut(), 0), 0);
        assert_eq!(airseal_license_product(null, ptr::null_mut(), 0), 0);
        let mut exp = 0;
        assert!(!airseal_license_expires_at(null, &mut exp));
        assert!(!airseal_license_in_grace(null));
        assert_eq!(airseal_license_kind(null), AirsealLicenseKind::None);
        assert!(!airseal_license_feature_enabled(null, c"F1".as_ptr(), NOW));
        assert_eq!(airseal_license_feature_bits(null, NOW), 0);
        airseal_license_free(ptr::null_mut());
        airseal_trust_store_free(ptr::null_mut());
    }
    // A valid license with a NULL name or out pointer.
    let (code, lic) = store.verify(&lic, NOW, c"photo-pro", &[]);
    assert_eq!(code, 0);
    unsafe {
        assert!(!airseal_license_feature_enabled(lic.0, ptr::null(), NOW));
        assert!(airseal_license_feature_enabled(lic.0, c"F1".as_ptr(), NOW));
        assert!(!airseal_license_expires_at(lic.0, ptr::null_mut()));
    }
}

#[test]
fn lengths_are_capped_before_anything_is_read() {
    let store = Store::new(&[key(KEY_A)]);
    let mut out = ptr::null_mut();
    let byte = [0u8; 1];
    let p = c"photo-pro".as_ptr();
    unsafe {
        // A length that would be undefined behaviour to read is refused unread.
        let huge = usize::MAX;
        assert_eq!(
            airseal_verify(
                store.0,
                byte.as_ptr(),
                huge,
                NOW,
                p,
                ptr::null(),
                0,
                &mut out
            ),
            92
        );
        assert_eq!(
            airseal_verify(
                store.0,
                byte.as_ptr(),
                AIRSEAL_MAX_LICENSE_LEN + 1,
                NOW,
                p,
                ptr::null(),
                0,
                &mut out
            ),
            92
        );
        assert_eq!(
            airseal_trust_store_add_key_file(store.0, byte.as_ptr(), huge),
            92
        );
        let lic = std::fs::read(vectors().join("doc-example.lic")).unwrap();
        let (l, n) = (lic.as_ptr(), lic.len());
        assert_eq!(
            airseal_verify(store.0, l, n, NOW, p, byte.as_ptr(), huge, &mut out),
            92
        );
        assert_eq!(
            airseal_verify(
                store.0,
                l,
                n,
                NOW,
                p,
                byte.as_ptr(),
                AIRSEAL_MAX_MACHINE_COMPONENTS + 1,
                &mut out
            ),
            92
        );
        // A string with no NUL within the limit: read up to the limit, no further.
        let long = vec![b'a'; AIRSEAL_MAX_TEXT_LEN + 1];
        assert_eq!(
            airseal_verify(
                store.0,
                l,
                n,
                NOW,
                long.as_ptr().cast(),
                ptr::null(),
                0,
                &mut out
            ),
            92
        );
        let mut at_limit = vec![b'a'; AIRSEAL_MAX_TEXT_LEN];
        at_limit.push(0);
        assert_eq!(
            airseal_verify(
                store.0,
                l,
                n,
                NOW,
                at_limit.as_ptr().cast(),
                ptr::null(),
                0,
                &mut out
            ),
            15
        );
        // Not UTF-8.
        let bad = b"photo-pro\xff\0";
        assert_eq!(
            airseal_verify(
                store.0,
                l,
                n,
                NOW,
                bad.as_ptr().cast(),
                ptr::null(),
                0,
                &mut out
            ),
            91
        );
        assert!(out.is_null());
    }
}

#[test]
fn string_buffer_convention() {
    let store = Store::new(&[key(KEY_A)]);
    let lic = std::fs::read(vectors().join("licenses/valid-perpetual-armored.lic")).unwrap();
    let (code, lic) = store.verify(&lic, NOW, c"photo-pro", &[]);
    assert_eq!(code, 0);
    let id = "0C8G2X9RTV4MA";
    unsafe {
        // Size query.
        assert_eq!(airseal_license_id(lic.0, ptr::null_mut(), 0), id.len() + 1);
        assert_eq!(
            airseal_license_id(lic.0, ptr::null_mut(), 100),
            id.len() + 1
        );
        // Too small by one: only an empty string, the rest untouched.
        let mut buf = [0x55u8; 32];
        assert_eq!(
            airseal_license_id(lic.0, buf.as_mut_ptr().cast(), id.len()),
            id.len() + 1
        );
        assert_eq!(buf[0], 0);
        assert!(buf[1..].iter().all(|b| *b == 0x55));
        // Exactly enough, and more than enough: the id, a NUL, nothing written past it.
        for cap in [id.len() + 1, buf.len() - 1] {
            let mut buf = [0x55u8; 32];
            assert_eq!(
                airseal_license_id(lic.0, buf.as_mut_ptr().cast(), cap),
                id.len() + 1
            );
            assert_eq!(&buf[..=id.len()], format!("{id}\0").as_bytes());
            assert!(buf[id.len() + 1..].iter().all(|b| *b == 0x55));
        }
        assert_eq!(lic.string(airseal_license_product), "photo-pro");
    }
}

#[test]
fn key_files_and_raw_keys() {
    let store = Store::new(&[]);
    let text = std::fs::read(vectors().join("doc-example.pub")).unwrap();
    unsafe {
        assert_eq!(
            airseal_trust_store_add_key_file(store.0, text.as_ptr(), text.len()),
            0
        );
        assert_eq!(
            airseal_trust_store_add_key_file(store.0, b"hello".as_ptr(), 5),
            10
        );
        // The identity point: a small-order key.
        let mut weak = [0u8; 32];
        weak[0] = 1;
        assert_eq!(airseal_trust_store_add_key(store.0, weak.as_ptr()), 19);
    }
    let lic = std::fs::read(vectors().join("doc-example.lic")).unwrap();
    assert_eq!(store.verify(&lic, NOW, c"photo-pro", &[]).0, 0);
    // An empty store knows no key.
    assert_eq!(Store::new(&[]).verify(&lic, NOW, c"photo-pro", &[]).0, 13);
}

/// One trust store, verified with from several threads at once (it is `Sync`).
#[test]
fn a_store_is_shared_across_threads() {
    let store = Store::new(&[key(KEY_A)]);
    let lic = std::fs::read(vectors().join("doc-example.lic")).unwrap();
    let addr = store.0 as usize;
    std::thread::scope(|s| {
        for _ in 0..4 {
            let lic = &lic;
            s.spawn(move || {
                for _ in 0..20 {
                    let mut out = ptr::null_mut();
                    let store = addr as *const AirsealTrustStore;
                    let code = unsafe {
                        airseal_verify(
                            store,
                            lic.as_ptr(),
                            lic.len(),
                            NOW,
                            c"photo-pro".as_ptr(),
                            ptr::null(),
                            0,
                            &mut out,
                        )
                    };
                    assert_eq!(code, 0);
                    unsafe { airseal_license_free(out) };
                }
            });
        }
    });
}

/// The functions for key windows, certificates, full verification, revocation lists and the
/// clock guard refuse every NULL and over-long argument with its code, and set no handle.
#[test]
fn the_newer_functions_refuse_null_and_over_long_arguments() {
    let store = Store::new(&[key(KEY_A)]);
    let k = key(KEY_A);
    let byte = [0u8; 32];
    let p = c"photo-pro".as_ptr();
    let lic = std::fs::read(vectors().join("doc-example.lic")).unwrap();
    let (l, n) = (lic.as_ptr(), lic.len());
    let mut out: *mut AirsealLicense = ptr::dangling_mut();
    let mut list: *mut AirsealRevocationList = ptr::dangling_mut();
    let mut guard: *mut AirsealClockGuard = ptr::dangling_mut();
    let dir = std::env::temp_dir().join(format!("airseal-abi-guard-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = CString::new(dir.join("state").display().to_string()).unwrap();
    unsafe {
        let (nb, na) = (AIRSEAL_NO_NOT_BEFORE, AIRSEAL_NO_NOT_AFTER);
        assert_eq!(
            airseal_trust_store_add_key_with_validity(ptr::null_mut(), k.as_ptr(), nb, na),
            90
        );
        assert_eq!(
            airseal_trust_store_add_key_with_validity(store.0, ptr::null(), nb, na),
            90
        );
        assert_eq!(
            airseal_trust_store_add_key_file_with_validity(
                ptr::null_mut(),
                byte.as_ptr(),
                1,
                nb,
                na
            ),
            90
        );
        assert_eq!(
            airseal_trust_store_add_key_file_with_validity(store.0, ptr::null(), 0, nb, na),
            90
        );
        assert_eq!(
            airseal_trust_store_add_key_file_with_validity(
                store.0,
                byte.as_ptr(),
                AIRSEAL_MAX_TEXT_LEN + 1,
                nb,
                na
            ),
            92
        );
        assert_eq!(
            airseal_trust_store_add_certificate(ptr::null_mut(), byte.as_ptr(), 1),
            90
        );
        assert_eq!(
            airseal_trust_store_add_certificate(store.0, ptr::null(), 0),
            90
        );
        assert_eq!(
            airseal_trust_store_add_certificate(
                store.0,
                byte.as_ptr(),
                AIRSEAL_MAX_LICENSE_LEN + 1
            ),
            92
        );
        assert_eq!(
            airseal_trust_store_add_certificate(store.0, byte.as_ptr(), 32),
            10
        );

        let none = ptr::null::<AirsealRevocationList>();
        assert_eq!(
            airseal_verify_full(
                ptr::null(),
                l,
                n,
                NOW,
                p,
                ptr::null(),
                0,
                ptr::null(),
                none,
                &mut out
            ),
            90
        );
        assert!(out.is_null());
        assert_eq!(
            airseal_verify_full(
                store.0,
                l,
                n,
                NOW,
                p,
                ptr::null(),
                3,
                k.as_ptr(),
                none,
                &mut out
            ),
            90
        );
        assert_eq!(
            airseal_verify_full(
                store.0,
                l,
                n,
                NOW,
                p,
                ptr::null(),
                0,
                k.as_ptr(),
                none,
                ptr::null_mut()
            ),
            90
        );
        // A license that is not node-locked: the device key and list change nothing.
        assert_eq!(
            airseal_verify_full(
                store.0,
                l,
                n,
                NOW,
                p,
                ptr::null(),
                0,
                k.as_ptr(),
                none,
                &mut out
            ),
            0
        );
        assert!(!out.is_null());
        let verified = Lic(out);
        let mut kid = [0u8; AIRSEAL_KEY_ID_LEN];
        assert!(!airseal_license_key_id(ptr::null(), kid.as_mut_ptr()));
        assert!(!airseal_license_key_id(verified.0, ptr::null_mut()));
        assert!(airseal_license_key_id(verified.0, kid.as_mut_ptr()));
        assert_eq!(kid, airseal_verify::KeyId::of_public_key(&k).0);
        // Signed by the root itself: no issuer, nothing written.
        let mut serial = 5u64;
        assert!(!airseal_license_issuer(
            verified.0,
            kid.as_mut_ptr(),
            &mut serial
        ));
        assert_eq!(serial, 5);
        assert!(!airseal_license_issuer(
            ptr::null(),
            ptr::null_mut(),
            ptr::null_mut()
        ));

        assert_eq!(airseal_revocations_verify(ptr::null(), l, n, &mut list), 90);
        assert!(list.is_null());
        assert_eq!(
            airseal_revocations_verify(store.0, ptr::null(), 0, &mut list),
            90
        );
        assert_eq!(
            airseal_revocations_verify(store.0, l, n, ptr::null_mut()),
            90
        );
        assert_eq!(
            airseal_revocations_verify(store.0, l, AIRSEAL_MAX_REVOCATION_LIST_LEN + 1, &mut list),
            92
        );
        // A license is not a list.
        assert_eq!(airseal_revocations_verify(store.0, l, n, &mut list), 12);
        assert!(list.is_null());
        assert_eq!(airseal_revocations_seq(ptr::null()), 0);
        airseal_revocations_free(ptr::null_mut());

        let b = b"binding";
        assert_eq!(
            airseal_clock_guard_open(ptr::null(), b.as_ptr(), b.len(), byte.as_ptr(), &mut guard),
            90
        );
        assert!(guard.is_null());
        assert_eq!(
            airseal_clock_guard_open(path.as_ptr(), ptr::null(), 0, byte.as_ptr(), &mut guard),
            90
        );
        assert_eq!(
            airseal_clock_guard_open(path.as_ptr(), b.as_ptr(), b.len(), ptr::null(), &mut guard),
            90
        );
        assert_eq!(
            airseal_clock_guard_open(
                path.as_ptr(),
                b.as_ptr(),
                b.len(),
                byte.as_ptr(),
                ptr::null_mut()
            ),
            90
        );
        assert_eq!(
            airseal_clock_guard_open(
                path.as_ptr(),
                b.as_ptr(),
                AIRSEAL_MAX_TEXT_LEN + 1,
                byte.as_ptr(),
                &mut guard
            ),
            92
        );
        assert_eq!(
            airseal_clock_guard_open(
                path.as_ptr(),
                b.as_ptr(),
                b.len(),
                byte.as_ptr(),
                &mut guard
            ),
            0
        );
        assert!(!guard.is_null());
        assert_eq!(
            airseal_clock_guard_observe(ptr::null_mut(), NOW, verified.0),
            90
        );
        assert_eq!(airseal_clock_guard_observe(guard, NOW, ptr::null()), 90);
        assert_eq!(
            airseal_clock_guard_accept_revocations(guard, ptr::null()),
            90
        );
        assert_eq!(airseal_clock_guard_observe(guard, NOW, verified.0), 0);
        let mut mark = 0;
        assert!(airseal_clock_guard_high_water_mark(guard, &mut mark));
        assert_eq!(mark, NOW);
        assert_eq!(airseal_clock_guard_observe(guard, NOW - 1, verified.0), 24);
        assert!(!airseal_clock_guard_high_water_mark(ptr::null(), &mut mark));
        assert!(!airseal_clock_guard_high_water_mark(guard, ptr::null_mut()));
        assert_eq!(airseal_clock_guard_revocations_seq(ptr::null()), 0);
        airseal_clock_guard_free(guard);
        airseal_clock_guard_free(ptr::null_mut());
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Every file of the renewal vectors (activation responses bound to a device key) gives the
/// same answer through `airseal_verify_full` with the vectors' device key and components as
/// through `airseal-verify`; the one bound to another device is 27 both ways.
#[test]
fn device_bound_vectors_agree_with_the_rust_verifier() {
    let renewal = json("renewal.json");
    let device = key(renewal["device_public_key"].as_str().unwrap());
    let roots: Vec<[u8; 32]> = renewal["trusted_public_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| key(k.as_str().unwrap()))
        .collect();
    let components = [[1u8; 8], [2; 8], [3; 8]];
    let store = Store::new(&roots);
    let mut trust = TrustStore::new();
    for k in &roots {
        trust.add_key(k).unwrap();
    }
    let machine = Machine::from_component_hashes(components.to_vec()).with_device_key(&device);
    let product = renewal["product"].as_str().unwrap();
    let c_product = CString::new(product).unwrap();
    let mut files: Vec<String> = vec![renewal["installed"].as_str().unwrap().to_string()];
    files.extend(
        renewal["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["file"].as_str().unwrap().to_string()),
    );
    let mut wrong_device = 0;
    for file in files {
        let bytes = std::fs::read(vectors().join(&file)).unwrap();
        let want = trust
            .verify(&bytes, NOW, &Expected::product(product).machine(&machine))
            .map_or_else(|e| i32::from(e.code()), |_| 0);
        let mut out: *mut AirsealLicense = ptr::dangling_mut();
        let got = unsafe {
            airseal_verify_full(
                store.0,
                bytes.as_ptr(),
                bytes.len(),
                NOW,
                c_product.as_ptr(),
                components.as_ptr().cast(),
                components.len(),
                device.as_ptr(),
                ptr::null(),
                &mut out,
            )
        };
        assert_eq!(got == 0, !out.is_null(), "{file}");
        drop(Lic(out));
        assert_eq!(got, want, "{file}");
        wrong_device += usize::from(got == 27);
    }
    assert_eq!(
        wrong_device, 1,
        "renewal-other-device.cose, and only it, is 27"
    );
}
