//! A reader that goes away (`airseal … | head -1`) ends a command quietly: exit 0 (the
//! command's own code), no "Broken pipe", no panic — and a side effect already made (an
//! install) stays made.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use common::{MACHINE_A, PASSPHRASE, airseal, init_vendor, ok};

/// Runs `airseal ARGS` with standard output a pipe whose reader reads `lines` lines (0:
/// none) and then goes away; returns the exit code and standard error.
fn cut_short(dir: &Path, args: &[&str], lines: usize) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_airseal"))
        .current_dir(dir)
        .args(args)
        .env("AIRSEAL_PASSPHRASE", PASSPHRASE)
        .env_remove("AIRSEAL_VENDOR")
        .env_remove("AIRSEAL_DATA_DIR")
        .env_remove("XDG_DATA_HOME")
        .env_remove("RUST_BACKTRACE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut reader = BufReader::new(stdout);
    for _ in 0..lines {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "expected {lines} lines of output");
    }
    drop(reader);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[track_caller]
fn assert_quiet(what: &str, (code, stderr): (Option<i32>, String)) {
    assert_eq!(code, Some(0), "{what}: stderr: {stderr}");
    for bad in [
        "Broken pipe",
        "panicked",
        "internal error",
        "RUST_BACKTRACE",
    ] {
        assert!(!stderr.contains(bad), "{what}: {bad:?} in stderr: {stderr}");
    }
}

/// A vendor folder with product photo-pro and `n` keys (in k.csv); returns the first key.
fn vendor(d: &Path, n: usize) -> String {
    init_vendor(
        d,
        "\n[products.photo-pro]\nactivation_template = \"pro\"\n\
         [products.photo-pro.templates.pro]\nkind = \"subscription\"\ndays = 365\n\
         max_activations = 2\n",
    );
    let count = n.to_string();
    ok(&airseal(
        d,
        &[
            "keys",
            "generate",
            "--product",
            "photo-pro",
            "--count",
            &count,
            "--out",
            "k.csv",
        ],
    ));
    let keys = std::fs::read_to_string(d.join("k.csv")).unwrap();
    keys.lines()
        .nth(1)
        .and_then(|l| l.split(',').next())
        .unwrap()
        .to_string()
}

fn issue_jane(d: &Path) {
    ok(&airseal(
        d,
        &[
            "issue",
            "--product",
            "photo-pro",
            "--licensee-name",
            "Jane",
            "--days",
            "30",
            "--meta",
            "order=A-1",
            "--out",
            "jane.lic",
        ],
    ));
}

#[test]
fn inspect_and_verify_cut_short_exit_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    vendor(d, 1);
    issue_jane(d);
    for lines in [0, 1] {
        assert_quiet("inspect", cut_short(d, &["inspect", "jane.lic"], lines));
        assert_quiet(
            "inspect --json",
            cut_short(d, &["inspect", "jane.lic", "--json"], lines),
        );
        let verify = [
            "verify",
            "jane.lic",
            "--public-key",
            "keys/signing.pub",
            "--product",
            "photo-pro",
        ];
        assert_quiet("verify", cut_short(d, &verify, lines));
    }
}

#[test]
fn install_cut_short_still_installs_and_exits_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let key = vendor(d, 1);
    let mut request = vec![
        "request",
        "--product",
        "photo-pro",
        "--key",
        &key,
        "--out",
        "a.req",
    ];
    request.extend(MACHINE_A);
    ok(&airseal(d, &request));
    ok(&airseal(d, &["activate", "a.req", "--out", "a.resp"]));
    let install = [
        "install",
        "a.resp",
        "--public-key",
        "keys/signing.pub",
        "--data-dir",
        "machine-a",
    ];
    assert_quiet("install", cut_short(d, &install, 0));
    // The install happened in full: the machine's license verifies.
    let mut verify = vec![
        "verify",
        "--machine",
        "--public-key",
        "keys/signing.pub",
        "--product",
        "photo-pro",
    ];
    verify.extend(MACHINE_A);
    ok(&airseal(d, &verify));
}

#[test]
fn ledger_listings_cut_short_exit_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // Far more than a pipe buffer holds (64 KiB on Linux), so the writer really is cut off.
    vendor(d, 5000);
    for format in ["csv", "table", "json"] {
        assert_quiet(
            format,
            cut_short(d, &["ledger", "keys", "--format", format], 3),
        );
    }
    assert_quiet(
        "keys generate to stdout",
        cut_short(
            d,
            &[
                "keys",
                "generate",
                "--product",
                "photo-pro",
                "--count",
                "5000",
                "--out",
                "-",
            ],
            1,
        ),
    );
}

#[test]
fn a_failing_stdout_is_an_io_error_not_a_panic() {
    // /dev/full accepts the open and fails every write with ENOSPC.
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    vendor(d, 1);
    issue_jane(d);
    let out = Command::new(env!("CARGO_BIN_EXE_airseal"))
        .current_dir(d)
        .args(["inspect", "jane.lic"])
        .stdout(full)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "stderr: {stderr}");
    assert!(stderr.contains("standard output"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_panic_prints_one_line_and_exits_70() {
    if !cfg!(debug_assertions) {
        return; // the switch exists in debug builds only
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_airseal"))
        .current_dir(tmp.path())
        .args(["--version"])
        .env("AIRSEAL_DEBUG_PANIC", "1")
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(70), "{stderr}");
    assert!(
        stderr.starts_with("airseal: internal error (a bug at "),
        "{stderr}"
    );
    assert!(stderr.contains("please report it"), "{stderr}");
    assert!(
        !stderr.contains("stack backtrace") && !stderr.contains("panicked at"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn completions_cut_short_exit_zero() {
    // clap_complete panics when its writer fails; the script goes through the one stdout
    // writer instead, so `| head -1` is as quiet as for every other command.
    let tmp = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        assert_quiet(shell, cut_short(tmp.path(), &["completions", shell], 1));
    }
}
