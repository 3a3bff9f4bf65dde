//! Compiles `examples/verify.c` with the system C compiler against the committed header and
//! the crate's shared library, runs it on vectors, and checks its output and exit code.
//!
//! Skips (with a message) only when there is no C compiler (`$CC`, else `cc`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

mod fixtures;

/// The `now` of the vectors: 2026-01-01T00:00:00Z.
const NOW: &str = "1767225600";

use fixtures::repo;

fn c_compiler() -> Option<String> {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let works = Command::new(&cc)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    works.then_some(cc)
}

/// The compiled example, built once per test run; `None` when there is no C compiler.
fn example() -> Option<&'static Path> {
    static EXE: OnceLock<Option<PathBuf>> = OnceLock::new();
    EXE.get_or_init(|| {
        let Some(cc) = c_compiler() else {
            eprintln!("SKIPPED: no C compiler (set CC or install cc); the C example was not run");
            return None;
        };
        let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let lib = fixtures::lib_dir();
        let exe = Path::new(env!("CARGO_TARGET_TMPDIR")).join("airseal-verify-c-example");
        let out = Command::new(&cc)
            .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-o"])
            .arg(&exe)
            .arg("-I")
            .arg(crate_dir.join("include"))
            .arg(crate_dir.join("examples/verify.c"))
            .arg("-L")
            .arg(&lib)
            .arg("-lairseal")
            .arg(format!("-Wl,-rpath,{}", lib.display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{cc} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(exe)
    })
    .as_deref()
}

/// Runs the example on a fixture license (`tests/fixtures`) with the fixtures' root key,
/// at `now`, with `options` (fixture file names in them are resolved by the caller).
fn run_fixture(license: &str, now: i64, options: &[String]) -> Option<Output> {
    let exe = example()?;
    let dir = fixture_dir();
    Some(
        Command::new(exe)
            .arg(dir.join(license))
            .arg(dir.join("root.pub"))
            .arg(now.to_string())
            .args(options)
            .output()
            .unwrap(),
    )
}

fn fixture_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| fixtures::write("c-example"))
}

/// A fixture file's path, as an argument.
fn fixture(name: &str) -> String {
    fixture_dir().join(name).display().to_string()
}

/// `--machine` for each of the bound license's components, and `--device-key` for `key`.
fn on_machine(device_key: &str) -> Vec<String> {
    let mut args: Vec<String> = fixtures::COMPONENTS
        .iter()
        .flat_map(|c| ["--machine".to_string(), c.to_string()])
        .collect();
    args.extend(["--device-key".to_string(), fixture(device_key)]);
    args
}

/// Asserts the example exited with `code` and said which step refused what.
fn assert_refused(out: &Output, code: i32, step: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert_eq!(stdout(out), "");
    assert!(
        stderr.starts_with(&format!("{step} refused ({code}): ")),
        "{stderr}"
    );
}

/// Runs the example on a vector (relative to `vectors/`) with key A's public key file.
fn run(license: &str, now: &str) -> Option<Output> {
    let exe = example()?;
    let vectors = repo().join("vectors");
    Some(
        Command::new(exe)
            .arg(vectors.join(license))
            .arg(vectors.join("doc-example.pub"))
            .arg(now)
            .output()
            .unwrap(),
    )
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn valid_armored_license() {
    let Some(out) = run("licenses/valid-perpetual-armored.lic", NOW) else {
        return;
    };
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout(&out),
        "license id: 0C8G2X9RTV4MA\nkind: perpetual\nexpires: never\nF1: disabled\n"
    );
}

#[test]
fn license_with_f1() {
    let Some(out) = run("doc-example.lic", NOW) else {
        return;
    };
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).ends_with("expires: never\nF1: enabled\n"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn license_in_grace() {
    let Some(out) = run("licenses/valid-in-grace.cose", NOW) else {
        return;
    };
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("expires: 1767139200 (in grace period)\n"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn refusals_exit_with_the_verifier_code() {
    for (file, now, code, message) in [
        ("licenses/bad-signature.cose", NOW, 14, "bad signature"),
        (
            "licenses/wrong-type-revocation-list.cose",
            NOW,
            12,
            "wrong type",
        ),
        (
            "licenses/expired-after-grace.cose",
            "1767744000",
            17,
            "expired",
        ),
        ("licenses/truncated-half.cose", NOW, 10, "malformed"),
        (
            "licenses/valid-signed-by-key-b.cose",
            NOW,
            13,
            "unknown key id",
        ),
    ] {
        let Some(out) = run(file, now) else {
            return;
        };
        assert_eq!(out.status.code(), Some(code), "{file}");
        assert_eq!(stdout(&out), "", "{file}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with(&format!("license refused ({code}): {message}")),
            "{file}: {stderr}"
        );
    }
}

#[test]
fn unreadable_file_and_bad_arguments() {
    let Some(out) = run("licenses/no-such-file.lic", NOW) else {
        return;
    };
    assert_eq!(out.status.code(), Some(3));
    let Some(out) = run("doc-example.lic", "yesterday") else {
        return;
    };
    assert_eq!(out.status.code(), Some(2));
}

/// The README's static-linking command works: the same example against `libairseal.a`
/// and the system libraries `rustc --print native-static-libs` names on Linux.
#[cfg(target_os = "linux")]
#[test]
fn static_library_links() {
    let Some(cc) = c_compiler() else {
        eprintln!("SKIPPED: no C compiler");
        return;
    };
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let exe = Path::new(env!("CARGO_TARGET_TMPDIR")).join("airseal-verify-c-example-static");
    let out = Command::new(&cc)
        .args(["-std=c99", "-o"])
        .arg(&exe)
        .arg("-I")
        .arg(crate_dir.join("include"))
        .arg(crate_dir.join("examples/verify.c"))
        .arg(fixtures::lib_dir().join("libairseal.a"))
        .args([
            "-lgcc_s",
            "-lutil",
            "-lrt",
            "-lpthread",
            "-lm",
            "-ldl",
            "-lc",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let vectors = repo().join("vectors");
    let out = Command::new(&exe)
        .arg(vectors.join("doc-example.lic"))
        .arg(vectors.join("doc-example.pub"))
        .arg(NOW)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).ends_with("F1: enabled\n"), "{}", stdout(&out));
}

/// The header also compiles as C++ (`extern "C"`, the enum's underlying type), if a C++
/// compiler is installed.
#[test]
fn header_compiles_as_cpp() {
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".to_string());
    if !Command::new(&cxx)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!("SKIPPED: no C++ compiler");
        return;
    }
    let header = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/airseal.h");
    let out = Command::new(&cxx)
        .args([
            "-x",
            "c++",
            "-std=c++11",
            "-Wall",
            "-Werror",
            "-fsyntax-only",
        ])
        .arg(header)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_copied_license_with_another_device_key_is_refused() {
    use fixtures::NOW;
    let Some(out) = run_fixture("bound.lic", NOW, &on_machine("device-a.key")) else {
        return;
    };
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).starts_with("license id: BOUND1\n"));
    // The same machine's components, another device key: activated elsewhere, copied here.
    let out = run_fixture("bound.lic", NOW, &on_machine("device-b.key")).unwrap();
    assert_refused(&out, 27, "license");
    // The components alone do not stand in for the device key (18 without them).
    let device_only = ["--device-key".to_string(), fixture("device-a.key")];
    assert_refused(
        &run_fixture("bound.lic", NOW, &device_only).unwrap(),
        18,
        "license",
    );
}

#[test]
fn a_revocation_list_revokes_and_must_be_trusted() {
    use fixtures::NOW;
    let list = |name: &str| vec!["--revocations".to_string(), fixture(name)];
    let Some(out) = run_fixture("revoked.lic", NOW, &[]) else {
        return;
    };
    assert_eq!(out.status.code(), Some(0));
    assert_refused(
        &run_fixture("revoked.lic", NOW, &list("revocations-5.lst")).unwrap(),
        23,
        "license",
    );
    // A list that does not name it lets it through, and says which list it was.
    let out = run_fixture("revoked.lic", NOW, &list("revocations-3.lst")).unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).ends_with("revocation list: seq 3\n"),
        "{}",
        stdout(&out)
    );
    // A list signed by a key the app does not trust is refused, not used.
    let out = run_fixture("revoked.lic", NOW, &list("revocations-untrusted.lst")).unwrap();
    assert_refused(&out, 13, "revocation list");
    // A license given as a list is the wrong type.
    let out = run_fixture("revoked.lic", NOW, &list("revoked.lic")).unwrap();
    assert_refused(&out, 12, "revocation list");
}

#[test]
fn a_license_outside_its_key_window_is_refused() {
    use fixtures::{DAY, NOW};
    // Issued a day before NOW.
    let window = |nb: i64, na: i64| {
        vec![
            "--not-before".to_string(),
            nb.to_string(),
            "--not-after".to_string(),
            na.to_string(),
        ]
    };
    let Some(out) = run_fixture("revoked.lic", NOW, &window(NOW - 2 * DAY, NOW)) else {
        return;
    };
    assert_eq!(out.status.code(), Some(0));
    for (nb, na) in [
        (NOW - 3 * DAY, NOW - 2 * DAY),
        (NOW - DAY + 1, NOW),
        (NOW - 2 * DAY, NOW - DAY),
    ] {
        let out = run_fixture("revoked.lic", NOW, &window(nb, na)).unwrap();
        assert_refused(&out, 22, "license");
    }
    // One open end.
    let only_after = ["--not-after".to_string(), (NOW - DAY).to_string()];
    assert_refused(
        &run_fixture("revoked.lic", NOW, &only_after).unwrap(),
        22,
        "license",
    );
}

#[test]
fn the_clock_guard_catches_a_rolled_back_clock_and_an_older_list() {
    use fixtures::{DAY, NOW};
    let state = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c-example-guard.state");
    let _ = std::fs::remove_file(&state);
    let guard = |secret: &str, list: &str| {
        vec![
            "--guard".to_string(),
            state.display().to_string(),
            fixture(secret),
            "--revocations".to_string(),
            fixture(list),
        ]
    };
    let Some(out) = run_fixture(
        "revoked.lic",
        NOW + DAY,
        &guard("guard.secret", "revocations-3.lst"),
    ) else {
        return;
    };
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout(&out).ends_with(&format!("clock guard: mark {}, list seq 3\n", NOW + DAY)),
        "{}",
        stdout(&out)
    );
    // The clock turned back a day: refused, though the license itself is valid then.
    let out = run_fixture(
        "revoked.lic",
        NOW,
        &guard("guard.secret", "revocations-3.lst"),
    )
    .unwrap();
    assert_refused(&out, 24, "license");
    // The newer list is accepted and revokes; then the older one is stale.
    let out = run_fixture(
        "revoked.lic",
        NOW + DAY,
        &guard("guard.secret", "revocations-5.lst"),
    )
    .unwrap();
    assert_refused(&out, 23, "license");
    let out = run_fixture(
        "revoked.lic",
        NOW + DAY,
        &guard("guard.secret", "revocations-3.lst"),
    )
    .unwrap();
    assert_refused(&out, 25, "revocation list");
    // The state does not open under another secret.
    let out = run_fixture(
        "revoked.lic",
        NOW + DAY,
        &guard("device-a.key", "revocations-5.lst"),
    )
    .unwrap();
    assert_refused(&out, 26, "clock guard");
}

#[test]
fn a_license_signed_by_a_certified_issuing_key_needs_only_the_root() {
    use fixtures::NOW;
    let Some(out) = run_fixture("chained.lic", NOW, &[]) else {
        return;
    };
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).starts_with("license id: CHAINED1\n"));
    let root_kid = airseal_core::KeyId::of_public_key(&fixtures::public(7));
    assert!(
        stdout(&out).ends_with(&format!(
            "issuing key certificate: serial 7, root {}\n",
            hex::encode(root_kid.0)
        )),
        "{}",
        stdout(&out)
    );
    let revoked = [
        "--revocations".to_string(),
        fixture("revocations-issuing.lst"),
    ];
    assert_refused(
        &run_fixture("chained.lic", NOW, &revoked).unwrap(),
        34,
        "license",
    );
    assert_refused(
        &run_fixture("chained-before-cert.lic", NOW, &[]).unwrap(),
        31,
        "license",
    );
    assert_refused(
        &run_fixture("chained-other-product.lic", NOW, &[]).unwrap(),
        32,
        "license",
    );
    let cert = |name: &str| vec!["--certificate".to_string(), fixture(name)];
    let out = run_fixture("chained.lic", NOW, &cert("issuing.cert")).unwrap();
    assert_eq!(out.status.code(), Some(0));
    let out = run_fixture("chained.lic", NOW, &cert("issuing-tampered.cert")).unwrap();
    assert_refused(&out, 36, "certificate");
}

#[test]
fn the_data_folder_gives_the_device_key_and_the_guard_secret() {
    use fixtures::{DAY, NOW};
    let state = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c-example-device-guard.state");
    let _ = std::fs::remove_file(&state);
    let args = |dir: &str| {
        let mut a: Vec<String> = fixtures::COMPONENTS
            .iter()
            .flat_map(|c| ["--machine".to_string(), c.to_string()])
            .collect();
        a.extend([
            "--device-dir".to_string(),
            fixture(dir),
            "--guard-device".to_string(),
            state.display().to_string(),
        ]);
        a
    };
    let Some(out) = run_fixture("bound-to-folder.lic", NOW + DAY, &args("device")) else {
        return;
    };
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).starts_with("license id: BOUND2\n"));
    // The clock set back a day on the same machine.
    let out = run_fixture("bound-to-folder.lic", NOW, &args("device")).unwrap();
    assert_refused(&out, 24, "license");
    // Device A's license copied onto this machine (same components).
    let out = run_fixture("bound.lic", NOW + DAY, &args("device")).unwrap();
    assert_refused(&out, 27, "license");
    let out = run_fixture("bound-to-folder.lic", NOW + DAY, &args("device-empty")).unwrap();
    assert_refused(&out, 93, "data folder");
    let out = run_fixture("bound-to-folder.lic", NOW + DAY, &args("device-damaged")).unwrap();
    assert_refused(&out, 94, "data folder");
}
