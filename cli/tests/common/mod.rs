//! What the CLI tests share: running the `airseal` binary in a folder, cut off from the
//! environment of whoever runs the tests (their vendor folder, data folder, passphrase).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

/// The passphrase of every signing key these tests create.
pub const PASSPHRASE: &str = "pw";

/// `airseal ARGS` in `dir`, with [`PASSPHRASE`] and no inherited airseal variables.
pub fn airseal(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_airseal"))
        .current_dir(dir)
        .args(args)
        .env("AIRSEAL_PASSPHRASE", PASSPHRASE)
        .env_remove("AIRSEAL_VENDOR")
        .env_remove("AIRSEAL_DATA_DIR")
        .env_remove("XDG_DATA_HOME")
        .output()
        .unwrap()
}

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

/// Its standard error, as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
