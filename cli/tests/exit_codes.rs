//! One test per row of the exit-code table (`airseal --help`, README "Exit codes"): each
//! triggers its code through the binary, the way a user or a script would meet it. Rows
//! that the CLI cannot reach say why, and name the library test that covers them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Output;

mod common;
use common::{airseal, init_vendor, ok, stderr};

/// Asserts `o` exited with `code`; its standard error, for further checks.
#[track_caller]
fn exits(o: &Output, code: i32) -> String {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout: {}\nstderr: {err}",
        String::from_utf8_lossy(&o.stdout)
    );
    err
}

/// A vendor folder (key, ledger, product `photo-pro` with an activation template), one
/// license `jane.lic` (30 days, maintenance until 2030-06-30) and three product keys.
struct Vendor {
    tmp: tempfile::TempDir,
    keys: Vec<String>,
    license_id: String,
}

impl Vendor {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        init_vendor(
            d,
            "\n[products.photo-pro]\nactivation_template = \"pro\"\n\
             [products.photo-pro.templates.pro]\nkind = \"subscription\"\ndays = 365\n\
             max_activations = 2\n",
        );
        ok(&airseal(
            d,
            &[
                "keys",
                "generate",
                "--product",
                "photo-pro",
                "--count",
                "3",
                "--out",
                "k.csv",
            ],
        ));
        let keys = std::fs::read_to_string(d.join("k.csv"))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().to_string())
            .collect();
        let o = airseal(
            d,
            &[
                "issue",
                "--product",
                "photo-pro",
                "--days",
                "30",
                "--maintenance-until",
                "2030-06-30",
                "--out",
                "jane.lic",
            ],
        );
        let err = exits(&o, 0);
        // "issued license ID (…"
        let license_id = err
            .split("issued license ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| panic!("no license id in {err}"))
            .to_string();
        Self {
            tmp,
            keys,
            license_id,
        }
    }

    fn dir(&self) -> &Path {
        self.tmp.path()
    }

    fn run(&self, args: &[&str]) -> Output {
        airseal(self.dir(), args)
    }

    /// `airseal verify FILE --public-key keys/signing.pub --product photo-pro EXTRA…`
    fn verify(&self, file: &str, extra: &[&str]) -> Output {
        let mut args = vec![
            "verify",
            file,
            "--public-key",
            "keys/signing.pub",
            "--product",
            "photo-pro",
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// An activation request for `key` from the machine whose data folder is `data` and
    /// whose one fingerprint component is `custom:id=ID`, written to `out`.
    fn request(&self, data: &str, id: &str, key: &str, out: &str) -> Output {
        let component = format!("custom:id={id}");
        self.run(&[
            "request",
            "--product",
            "photo-pro",
            "--key",
            key,
            "--data-dir",
            data,
            "--no-system-components",
            "--component",
            &component,
            "--out",
            out,
        ])
    }

    /// Machine `m1` (component `custom:id=one`) activated with the first key: its license
    /// installed in `m1/`, the response kept in `resp.txt`.
    fn activated(&self) {
        ok(&self.request("m1", "one", &self.keys[0], "req.txt"));
        ok(&self.run(&["activate", "req.txt", "--out", "resp.txt"]));
        ok(&self.run(&[
            "install",
            "resp.txt",
            "--public-key",
            "keys/signing.pub",
            "--data-dir",
            "m1",
        ]));
    }

    /// `verify --machine` for the license in `data`, with component `custom:id=ID`.
    fn verify_machine(&self, data: &str, id: &str) -> Output {
        let component = format!("custom:id={id}");
        self.run(&[
            "verify",
            "--machine",
            "--public-key",
            "keys/signing.pub",
            "--product",
            "photo-pro",
            "--data-dir",
            data,
            "--no-system-components",
            "--component",
            &component,
        ])
    }

    /// The key with its last symbol (the check symbol) changed: a typo.
    fn typo(&self) -> String {
        let key = &self.keys[0];
        let last = key.chars().last().unwrap();
        let other = if last == 'A' { 'B' } else { 'A' };
        format!("{}{other}", &key[..key.len() - 1])
    }
}

/// A public key file for a key given in hex (the vectors' manifest lists them so).
fn public_key_file(dir: &Path, name: &str, hex: &str) {
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let key: [u8; 32] = bytes.try_into().unwrap();
    std::fs::write(
        dir.join(name),
        airseal_core::pubkey::encode_public_key(&key),
    )
    .unwrap();
}

/// `verify` of one file from `vectors/licenses` with the keys its manifest case trusts.
fn verify_vector(file: &str) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("manifest.json")).unwrap()).unwrap();
    let case = manifest["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["file"] == format!("licenses/{file}"))
        .unwrap_or_else(|| panic!("no vector {file}"));
    let tmp = tempfile::tempdir().unwrap();
    let mut args = vec![
        "verify".to_string(),
        root.join("licenses").join(file).display().to_string(),
        "--product".into(),
        case["product"].as_str().unwrap().into(),
        "--now".into(),
        chrono::DateTime::from_timestamp(case["now"].as_i64().unwrap(), 0)
            .unwrap()
            .to_rfc3339(),
    ];
    for (i, hex) in case["trusted_public_keys"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let name = format!("k{i}.pub");
        public_key_file(tmp.path(), &name, hex.as_str().unwrap());
        args.extend(["--public-key".into(), name]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    airseal(tmp.path(), &args)
}

#[test]
fn code_0_success() {
    let v = Vendor::new();
    exits(&v.verify("jane.lic", &[]), 0);
}

#[test]
fn code_1_error_refused_to_overwrite_and_wrong_passphrase() {
    let v = Vendor::new();
    let err = exits(
        &v.run(&["issue", "--product", "photo-pro", "--out", "jane.lic"]),
        1,
    );
    assert!(err.contains("--force"), "{err}");
    std::fs::write(v.dir().join("wrong"), "not the passphrase\n").unwrap();
    let err = exits(
        &v.run(&[
            "issue",
            "--product",
            "photo-pro",
            "--out",
            "x.lic",
            "--passphrase-file",
            "wrong",
        ]),
        1,
    );
    assert!(err.contains("wrong passphrase"), "{err}");
}

#[test]
fn code_2_usage() {
    let v = Vendor::new();
    exits(&v.run(&["verify", "--no-such-option"]), 2);
    exits(&v.run(&["issue", "--days", "many"]), 2);
}

#[test]
fn code_3_unreadable_or_unwritable_file() {
    let v = Vendor::new();
    let err = exits(&v.verify("missing.lic", &[]), 3);
    assert!(err.contains("missing.lic"), "{err}");
    // An unreadable --passphrase-file: a file that could not be read.
    let err = exits(
        &v.run(&[
            "issue",
            "--product",
            "photo-pro",
            "--out",
            "x.lic",
            "--passphrase-file",
            "no-such-file",
        ]),
        3,
    );
    assert!(err.contains("no-such-file"), "{err}");
    // A write into a folder that does not exist.
    let err = exits(
        &v.run(&[
            "issue",
            "--product",
            "photo-pro",
            "--out",
            "no-such-folder/x.lic",
        ]),
        3,
    );
    assert!(err.contains("no-such-folder"), "{err}");
}

#[test]
fn code_4_import_with_rejected_rows() {
    let v = Vendor::new();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/airseal-vendor/tests/fixtures/import/cryptlex-v2.csv");
    let o = v.run(&[
        "import",
        "--from",
        "cryptlex-v2",
        fixture.to_str().unwrap(),
        "--product",
        "photo-pro",
        "--report",
        "report.json",
    ]);
    exits(&o, 4);
    // The rows that were fine are imported, and the report is written all the same.
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("imported                 7"), "{out}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(v.dir().join("report.json")).unwrap()).unwrap();
    assert_eq!(report["rejected"], 9);
    // A file whose every row is fine exits 0.
    std::fs::write(
        v.dir().join("fine.csv"),
        "License,Customer Email\nAAAA-BBBB-CCCC,a@example.com\n",
    )
    .unwrap();
    exits(
        &v.run(&[
            "import",
            "--from",
            "generic",
            "fine.csv",
            "--product",
            "photo-pro",
            "--map",
            "License=key",
            "--map",
            "Customer Email=email",
        ]),
        0,
    );
}

#[test]
fn code_10_malformed_and_oversized() {
    let v = Vendor::new();
    std::fs::write(v.dir().join("junk.lic"), "hello, not a license\n").unwrap();
    exits(&v.verify("junk.lic", &[]), 10);
    // Larger than any airseal object can be: refused before reading it all.
    std::fs::write(v.dir().join("huge.lic"), vec![b'A'; 1024 * 1024 + 1]).unwrap();
    let err = exits(&v.verify("huge.lic", &[]), 10);
    assert!(err.contains("larger than"), "{err}");
}

#[test]
fn code_11_unsupported_algorithm() {
    exits(&verify_vector("alg-es256.cose"), 11);
}

#[test]
fn code_12_wrong_type() {
    let v = Vendor::new();
    ok(&v.request("m1", "one", &v.keys[0], "req.txt"));
    // An activation request given to `verify`.
    exits(&v.verify("req.txt", &[]), 12);
}

#[test]
fn code_13_unknown_key_id() {
    let v = Vendor::new();
    ok(&v.run(&["keygen", "--out", "other"]));
    exits(
        &v.run(&[
            "verify",
            "jane.lic",
            "--public-key",
            "other/signing.pub",
            "--product",
            "photo-pro",
        ]),
        13,
    );
}

#[test]
fn code_14_bad_signature() {
    exits(&verify_vector("bad-signature.cose"), 14);
}

#[test]
fn code_15_wrong_product() {
    let v = Vendor::new();
    exits(
        &v.run(&[
            "verify",
            "jane.lic",
            "--public-key",
            "keys/signing.pub",
            "--product",
            "video-pro",
        ]),
        15,
    );
}

#[test]
fn code_16_not_yet_valid() {
    let v = Vendor::new();
    exits(&v.verify("jane.lic", &["--now", "2001-01-01"]), 16);
}

#[test]
fn code_17_expired() {
    let v = Vendor::new();
    exits(&v.verify("jane.lic", &["--now", "2099-01-01"]), 17);
}

#[test]
fn code_18_bound_to_another_machine() {
    let v = Vendor::new();
    v.activated();
    exits(&v.verify_machine("m1", "one"), 0);
    exits(&v.verify_machine("m1", "two"), 18);
}

#[test]
fn code_19_invalid_public_key() {
    let v = Vendor::new();
    std::fs::write(v.dir().join("bad.pub"), "not a public key\n").unwrap();
    let err = exits(
        &v.run(&[
            "verify",
            "jane.lic",
            "--public-key",
            "bad.pub",
            "--product",
            "photo-pro",
        ]),
        19,
    );
    assert!(err.contains("public key"), "{err}");
    // A license given where the public key goes is not a public key either.
    exits(
        &v.run(&[
            "verify",
            "jane.lic",
            "--public-key",
            "jane.lic",
            "--product",
            "photo-pro",
        ]),
        19,
    );
}

#[test]
fn code_19_a_public_key_that_is_no_canonical_point_of_large_order() {
    // SPEC.md §3.1: y = p + 3 (a non-canonical encoding of a point of large order, which
    // ed25519-dalek alone accepts), a point of order 8, and no point at all.
    for file in [
        "boundary-public-key-non-canonical.cose",
        "boundary-public-key-order-8.cose",
        "boundary-public-key-not-a-point.cose",
    ] {
        exits(&verify_vector(file), 19);
    }
}

#[test]
fn code_0_nbf_minus_the_clock_offset_never_wraps() {
    // nbf = 2^63 - 1 with a clock offset of 2^64 - 1 is valid from -2^63 (SPEC.md §6): at
    // 1969-12-31T23:59:59Z it verifies, where a clamped offset would say not yet valid.
    exits(&verify_vector("boundary-nbf-minus-offset-no-wrap.cose"), 0);
}

#[test]
fn code_20_typo_in_inspect_and_in_activate() {
    let v = Vendor::new();
    let typo = v.typo();
    exits(
        &v.run(&["keys", "inspect", &typo, "--product", "photo-pro"]),
        20,
    );
    // `activate` gives the same verdict for the same key, not "not in the ledger".
    ok(&v.request("m1", "one", &typo, "req.txt"));
    let err = exits(&v.run(&["activate", "req.txt", "--out", "resp.txt"]), 20);
    assert!(
        err.contains("typo") && !err.contains("not in the ledger"),
        "{err}"
    );
    assert!(!v.dir().join("resp.txt").exists());
}

#[test]
fn code_21_maintenance_ended() {
    let v = Vendor::new();
    exits(&v.verify("jane.lic", &["--release-date", "2030-06-01"]), 0);
    exits(&v.verify("jane.lic", &["--release-date", "2031-01-01"]), 21);
}

// Code 22 (signing key not trusted at the license's issue time) needs a key validity
// window, which a public key file cannot carry and no flag sets: trust windows are given
// through the library (`TrustStore::add_key_with_validity`). Covered by the vectors
// `key-introduced-after-issue.cose` and `key-retired-before-issue.cose`, run by
// crates/airseal-verify/tests (the manifest's `key_validity`).

#[test]
fn code_23_revoked() {
    let v = Vendor::new();
    ok(&v.run(&["revoke", "--license", &v.license_id]));
    ok(&v.run(&["revocations", "export", "--out", "revoked.txt"]));
    exits(&v.verify("jane.lic", &["--revocations", "revoked.txt"]), 23);
}

// Codes 24-26 (clock rolled back, stale revocation list, guard state) come from the app
// side's clock guard, which only the library runs (`airseal_verify::guard`): `airseal
// verify` keeps no state between runs, so it cannot see a clock go back. Covered by
// crates/airseal-verify's guard tests.

#[test]
fn code_27_bound_to_another_device_key() {
    let v = Vendor::new();
    v.activated();
    // Machine m2 has the same fingerprint but its own device key (made by its request);
    // m1's license copied there is not m2's.
    ok(&v.request("m2", "one", &v.keys[1], "req2.txt"));
    std::fs::copy(
        v.dir().join("m1").join("license.lic"),
        v.dir().join("m2").join("license.lic"),
    )
    .unwrap();
    exits(&v.verify_machine("m2", "one"), 27);
}

#[test]
fn code_28_response_answers_another_request() {
    let v = Vendor::new();
    ok(&v.request("m1", "one", &v.keys[0], "req.txt"));
    ok(&v.run(&["activate", "req.txt", "--out", "resp.txt"]));
    // m1 then makes a new request (a new nonce): the response answers the old one, which
    // is no longer pending (a replayed or mixed-up response).
    ok(&v.request("m1", "one", &v.keys[0], "req2.txt"));
    let o = v.run(&[
        "install",
        "resp.txt",
        "--public-key",
        "keys/signing.pub",
        "--data-dir",
        "m1",
    ]);
    exits(&o, 28);
    assert!(!v.dir().join("m1").join("license.lic").exists());
}

/// Finding 12: copy `license.lic` aside, `release`, `deactivate` at the vendor (the seat is
/// freed), copy the file back: the data folder remembers the release and refuses it.
#[test]
fn code_29_a_released_license_restored_by_hand() {
    let v = Vendor::new();
    v.activated();
    let m1 = v.dir().join("m1");
    let copy = std::fs::read(m1.join("license.lic")).unwrap();
    ok(&v.run(&["release", "--data-dir", "m1", "--out", "proof.txt"]));
    ok(&v.run(&["deactivate", "proof.txt"]));
    std::fs::write(m1.join("license.lic"), &copy).unwrap();
    let err = exits(&v.verify_machine("m1", "one"), 29);
    assert!(err.contains("released"), "{err}");
    // Installing the kept response again does not bring it back either.
    let o = v.run(&[
        "install",
        "resp.txt",
        "--public-key",
        "keys/signing.pub",
        "--data-dir",
        "m1",
    ]);
    assert_ne!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// HOSTILE.md defect 2: as finding 12, and then delete what the folder remembers
/// (`device.state`, `release.proof`). The release replaced the folder's device key, so the
/// license put back is bound to a key the folder no longer has (27); the proof, sent again,
/// is the one the vendor accepted; and the machine's next request is a new seat.
#[test]
fn code_27_a_released_license_restored_without_the_folders_memory() {
    let v = Vendor::new();
    v.activated();
    let m1 = v.dir().join("m1");
    let copy = std::fs::read(m1.join("license.lic")).unwrap();
    let old_key = std::fs::read(m1.join("device.key")).unwrap();
    ok(&v.run(&["release", "--data-dir", "m1", "--out", "proof.txt"]));
    ok(&v.run(&["deactivate", "proof.txt"]));
    // Compared, never printed: the file holds the key's seed.
    assert!(
        std::fs::read(m1.join("device.key")).unwrap() != old_key,
        "the release did not replace the device key"
    );
    // Sent again (lost on the way?): the same proof, which the vendor has already taken.
    ok(&v.run(&[
        "release",
        "--data-dir",
        "m1",
        "--out",
        "again.txt",
        "--force",
    ]));
    assert_eq!(
        std::fs::read(v.dir().join("again.txt")).unwrap(),
        std::fs::read(v.dir().join("proof.txt")).unwrap()
    );
    let replay = v.run(&["deactivate", "again.txt"]);
    assert_ne!(replay.status.code(), Some(0), "{}", stderr(&replay));
    std::fs::write(m1.join("license.lic"), &copy).unwrap();
    // With the folder's memory: released (29); releasing it again changes nothing.
    exits(&v.verify_machine("m1", "one"), 29);
    exits(
        &v.run(&["release", "--data-dir", "m1", "--out", "p3.txt"]),
        29,
    );
    // The defect: without it, the copy must still fail.
    std::fs::remove_file(m1.join("device.state")).unwrap();
    std::fs::remove_file(m1.join("release.proof")).unwrap();
    let err = exits(&v.verify_machine("m1", "one"), 27);
    assert!(err.contains("device key"), "{err}");
    // The seat was freed: the same machine activates again on a new seat.
    std::fs::remove_file(m1.join("license.lic")).unwrap();
    ok(&v.request("m1", "one", &v.keys[0], "req3.txt"));
    let o = ok(&v.run(&["activate", "req3.txt", "--out", "resp3.txt", "--json"]));
    let answer: serde_json::Value = serde_json::from_str(&o).unwrap();
    assert_eq!(answer["result"], "activated", "{answer}");
    ok(&v.run(&[
        "install",
        "resp3.txt",
        "--public-key",
        "keys/signing.pub",
        "--data-dir",
        "m1",
    ]));
    ok(&v.verify_machine("m1", "one"));
}

#[test]
fn code_30_an_update_not_newer_than_the_installed_license() {
    let v = Vendor::new();
    v.activated();
    // The response installed is handed to `install` again: with nothing pending it is read
    // as an update of the installed license, and it is not newer.
    let o = v.run(&[
        "install",
        "resp.txt",
        "--public-key",
        "keys/signing.pub",
        "--data-dir",
        "m1",
    ]);
    let err = exits(&o, 30);
    assert!(err.contains("not newer"), "{err}");
}
