//! Runs `tests/ctypes_test.py`: the C ABI driven from Python with ctypes, as a Python (or
//! C#, Go…) app would, on the fixtures of `tests/fixtures` — the device key (27), a revoked
//! license (23), a key window (22), the clock guard (24, 25, 26) and every new function's
//! misuse (90-92).
//!
//! Skips (with a message) only when there is no `python3` (`$PYTHON`, else `python3`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(unix)]

use std::path::Path;
use std::process::Command;

mod fixtures;

#[test]
fn the_python_ctypes_test_passes() {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string());
    if !Command::new(&python)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!("SKIPPED: no {python}; the Python ctypes test was not run");
        return;
    }
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = fixtures::lib_dir().join(format!("libairseal{}", std::env::consts::DLL_SUFFIX));
    let out = Command::new(&python)
        .arg(crate_dir.join("tests/ctypes_test.py"))
        .env("AIRSEAL_LIB", &lib)
        .env("AIRSEAL_HEADER", crate_dir.join("include/airseal.h"))
        .env("AIRSEAL_FIXTURES", fixtures::write("python"))
        .env("AIRSEAL_NOW", fixtures::NOW.to_string())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ctypes_test.py failed:\n{report}");
    // unittest reports on stderr; make sure the tests actually ran.
    assert!(report.contains("\nOK"), "{report}");
    assert!(!report.contains("Ran 0 tests"), "{report}");
}
