//! What the vendor library's tests share: PostgreSQL databases for the tests that run the
//! ledger on PostgreSQL (DESIGN15 §6).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::sync::atomic::{AtomicU32, Ordering};

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

/// A database of its own for one test, created on the server of `AIRSEAL_TEST_POSTGRES`
/// and dropped when this is dropped.
pub struct TempDb {
    admin_url: String,
    name: String,
    /// The new database's URL.
    pub url: String,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

impl TempDb {
    /// A new, empty database named after `test`.
    pub fn new(base: &str, test: &str) -> Self {
        let clean: String = test
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .take(30)
            .collect();
        let name = format!(
            "t_{}_{}_{}",
            clean.to_ascii_lowercase(),
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = postgres::Client::connect(base, postgres::NoTls).unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        Self {
            admin_url: base.to_string(),
            url: with_database(base, &name),
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

/// `url` naming database `name` instead of its own.
pub fn with_database(url: &str, name: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = head.find("://").map_or(0, |i| i + 3);
    let base = match head[scheme_end..].find('/') {
        Some(i) => &head[..scheme_end + i],
        None => head,
    };
    format!("{base}/{name}{query}")
}
