//! What the CLI tests share: running the `airseal` binary in a folder, cut off from the
//! environment of whoever runs the tests (their vendor folder, data folder, passphrase).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

pub mod http;
pub mod service;

/// The passphrase of every signing key these tests create.
pub const PASSPHRASE: &str = "test passphrase";
/// The passphrase of every issuing key the tests create (its own, never the root's).
pub const ISSUING_PASSPHRASE: &str = "issuing test passphrase";

/// `airseal ARGS` in `dir`, with [`PASSPHRASE`] and no inherited airseal variables.
pub fn airseal(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_airseal"))
        .current_dir(dir)
        .args(args)
        .env("AIRSEAL_PASSPHRASE", PASSPHRASE)
        .env("AIRSEAL_ISSUING_PASSPHRASE", ISSUING_PASSPHRASE)
        .env_remove("AIRSEAL_VENDOR")
        .env_remove("AIRSEAL_DATABASE")
        .env_remove("AIRSEAL_DATA_DIR")
        .env_remove("XDG_DATA_HOME")
        .output()
        .unwrap()
}

/// `airseal init` in `dir` (vendor id `acme`, its signing key under [`PASSPHRASE`]), then
/// `products` (TOML tables) appended to its `airseal.toml`.
pub fn init_vendor(dir: &Path, products: &str) {
    ok(&airseal(dir, &["init", "--vendor-id", "acme"]));
    let config = dir.join("airseal.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(products);
    std::fs::write(&config, text).unwrap();
}

/// A simulated machine's data folder and components, so a test never depends on the host.
pub const MACHINE_A: [&str; 7] = [
    "--data-dir",
    "machine-a",
    "--no-system-components",
    "--component",
    "machine-id=a1",
    "--component",
    "root-disk=disk-a",
];

/// Asserts the command succeeded; its standard output.
#[track_caller]
pub fn ok(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Asserts the command exited with `code`; its standard output.
#[track_caller]
pub fn exits(o: &Output, code: i32) -> String {
    assert_eq!(
        o.status.code(),
        Some(code),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Asserts the command exited with `code`; its standard error.
#[track_caller]
pub fn fails(o: &Output, code: i32) -> String {
    exits(o, code);
    stderr(o)
}

/// Asserts the command succeeded; its standard output read as JSON.
#[track_caller]
pub fn ok_json(o: &Output) -> serde_json::Value {
    serde_json::from_str(&ok(o)).unwrap()
}

/// Its standard error, as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every `.rs` file below `dir`, for the tests that read the CLI's own sources.
pub fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The folder whose `node_modules` holds `playwright-core` (`AIRSEAL_TEST_BROWSER`, DESIGN15
/// §6; Chromium is `/usr/bin/chromium`). Without it the test says so on standard error (a
/// direct write libtest does not capture, so the skip is visible) and the caller returns.
pub fn browser_or_skip(test: &str) -> Option<PathBuf> {
    match std::env::var_os("AIRSEAL_TEST_BROWSER").filter(|v| !v.is_empty()) {
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED (no AIRSEAL_TEST_BROWSER): {test}"
            );
            None
        }
    }
}

/// The `schemathesis` executable (`AIRSEAL_TEST_SCHEMATHESIS`, DESIGN15 §6). Without it the
/// test says so on standard error (a direct write libtest does not capture) and the caller
/// returns.
pub fn schemathesis_or_skip(test: &str) -> Option<PathBuf> {
    match std::env::var_os("AIRSEAL_TEST_SCHEMATHESIS").filter(|v| !v.is_empty()) {
        Some(exe) => Some(PathBuf::from(exe)),
        None => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED (no AIRSEAL_TEST_SCHEMATHESIS): {test}"
            );
            None
        }
    }
}

/// The PostgreSQL URL of `AIRSEAL_TEST_POSTGRES`; without it, says the test was skipped, on
/// stderr directly (libtest does not capture it, so the skip is visible), and gives `None`.
pub fn postgres_or_skip(test: &str) -> Option<String> {
    match std::env::var("AIRSEAL_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED (no AIRSEAL_TEST_POSTGRES): {test}"
            );
            None
        }
    }
}

/// A database of its own for one test, on the server of `AIRSEAL_TEST_POSTGRES`, dropped
/// when this is dropped.
pub struct TempDb {
    admin_url: String,
    name: String,
    /// The new database's URL.
    pub url: String,
}

static DB_SEQ: AtomicU32 = AtomicU32::new(0);

impl TempDb {
    /// A new, empty database named after `test`.
    pub fn new(base: &str, test: &str) -> Self {
        let clean: String = test
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .take(30)
            .collect();
        let name = format!(
            "c_{}_{}_{}",
            clean.to_ascii_lowercase(),
            std::process::id(),
            DB_SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = postgres::Client::connect(base, postgres::NoTls).unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let (head, query) = match base.split_once('?') {
            Some((h, q)) => (h, format!("?{q}")),
            None => (base, String::new()),
        };
        let scheme_end = head.find("://").map_or(0, |i| i + 3);
        let server = match head[scheme_end..].find('/') {
            Some(i) => &head[..scheme_end + i],
            None => head,
        };
        Self {
            admin_url: base.to_string(),
            url: format!("{server}/{name}{query}"),
            name,
        }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.admin_url, postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}
