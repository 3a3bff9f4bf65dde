//! A running `airseal serve` for a test (DESIGN15 §7): the real binary on 127.0.0.1 port 0,
//! ready once it printed `listening on http://…`; killed when the guard is dropped. Its logs
//! go to `serve.log` in the folder it runs in.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

use super::{ISSUING_PASSPHRASE, PASSPHRASE};

/// The service, until dropped.
pub struct Service {
    child: Child,
    /// Its base URL, `http://127.0.0.1:PORT` (no trailing slash).
    pub url: String,
    /// Kept open so the service's later writes to standard output never fail.
    _stdout: BufReader<ChildStdout>,
}

impl Service {
    /// `airseal serve --listen 127.0.0.1:0 ARGS` in `dir`, with the test passphrases and no
    /// inherited airseal variables; returns once it listens.
    pub fn start(dir: &Path, args: &[&str]) -> Self {
        let log = std::fs::File::create(dir.join("serve.log")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_airseal"))
            .current_dir(dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .env("AIRSEAL_PASSPHRASE", PASSPHRASE)
            .env("AIRSEAL_ISSUING_PASSPHRASE", ISSUING_PASSPHRASE)
            .env_remove("AIRSEAL_VENDOR")
            .env_remove("AIRSEAL_DATA_DIR")
            .env_remove("XDG_DATA_HOME")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let Some(url) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default();
            panic!("airseal serve did not start: {line:?}\n{log}");
        };
        Self {
            url: url.to_string(),
            child,
            _stdout: stdout,
        }
    }

    /// `url` followed by `path` (which starts with `/`).
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
