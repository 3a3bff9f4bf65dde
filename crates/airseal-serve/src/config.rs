//! What `airseal serve` is told: where the vendor folder is, where to listen, which ledger,
//! and the service's limits. The CLI fills a [`ServeConfig`] from its flags; nothing here
//! reads the environment or parses flags.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

/// Largest request body the service reads (64 KiB): an activation request or a
/// deactivation proof is a few hundred bytes, armored or as `AIRSEAL:` text a little more.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// How long one request may take before the service answers 503 (a ledger held by a long
/// import, a stuck client): 30 seconds.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything the service needs to start. Built by the CLI from `airseal serve`'s flags.
/// Its `Debug` shows the database URL with its password replaced (`LedgerLocation`'s rule),
/// so a logged configuration never carries it.
#[derive(Clone)]
pub struct ServeConfig {
    /// The vendor folder (`airseal.toml`, keys, ledger).
    pub vendor_dir: PathBuf,
    /// Where to listen (`127.0.0.1:0` picks a free port; the bound address is reported).
    pub listen: SocketAddr,
    /// The ledger's database URL when not the vendor folder's SQLite file (`postgres://…`).
    pub database: Option<String>,
    /// The issuing key's folder the service signs with (`None`: the vendor folder's default).
    pub issuing_key: Option<PathBuf>,
    /// Whether the service may sign with the root key (refused by default: the root should
    /// never be online).
    pub allow_root_key: bool,
    /// TLS, when the service terminates it itself (no reverse proxy).
    pub tls: Option<TlsConfig>,
    /// How logs are written.
    pub log_format: LogFormat,
    /// Body size, timeout, rate limits and pool size.
    pub limits: Limits,
}

impl std::fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let database = self
            .database
            .as_deref()
            .map(airseal_vendor::ledger::LedgerLocation::parse);
        f.debug_struct("ServeConfig")
            .field("vendor_dir", &self.vendor_dir)
            .field("listen", &self.listen)
            .field("database", &database)
            .field("issuing_key", &self.issuing_key)
            .field("allow_root_key", &self.allow_root_key)
            .field("tls", &self.tls)
            .field("log_format", &self.log_format)
            .field("limits", &self.limits)
            .finish()
    }
}

impl ServeConfig {
    /// A configuration for `vendor_dir` listening on `listen`, with every default.
    pub fn new(vendor_dir: PathBuf, listen: SocketAddr) -> Self {
        Self {
            vendor_dir,
            listen,
            database: None,
            issuing_key: None,
            allow_root_key: false,
            tls: None,
            log_format: LogFormat::Text,
            limits: Limits::default(),
        }
    }
}

/// The certificate chain and private key files for TLS (PEM).
#[derive(Clone, Debug)]
pub struct TlsConfig {
    /// The certificate chain (PEM).
    pub cert: PathBuf,
    /// The private key (PEM).
    pub key: PathBuf,
}

/// How the service writes its logs (to standard error).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// A token bucket: `burst` requests at once, refilled at `per_minute` a minute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Requests a minute, sustained.
    pub per_minute: NonZeroU32,
    /// Requests allowed at once when the bucket is full.
    pub burst: NonZeroU32,
}

impl Rate {
    /// `per_minute` a minute with bursts of `burst`; `None` when either is zero.
    pub fn new(per_minute: u32, burst: u32) -> Option<Self> {
        Some(Self {
            per_minute: NonZeroU32::new(per_minute)?,
            burst: NonZeroU32::new(burst)?,
        })
    }
}

/// The service's limits. The defaults (documented in README, "Running the vendor service"):
/// 64 KiB bodies, 30 s per request, 60 portal requests a minute per client address (bursts
/// of 30), 20 a minute per product key (bursts of 10), a ledger pool of twice the cores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body, bytes (larger: 413).
    pub body_bytes: usize,
    /// Longest a request may take (longer: 503).
    pub request_timeout: Duration,
    /// Portal requests per client address (`None`: unlimited).
    pub per_client: Option<Rate>,
    /// Portal requests per product key (`None`: unlimited).
    pub per_key: Option<Rate>,
    /// Ledger connections kept open (and vendor operations run at once).
    pub pool_size: usize,
    /// The service runs behind the vendor's own reverse proxy: a client's address is the
    /// last `X-Forwarded-For` entry, not the proxy's. Never set it when clients reach the
    /// service directly (they could then choose their own address).
    pub behind_proxy: bool,
}

impl Default for Limits {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Self {
            body_bytes: DEFAULT_BODY_LIMIT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            per_client: Rate::new(60, 30),
            per_key: Rate::new(20, 10),
            pool_size: cores.saturating_mul(2),
            behind_proxy: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_database_password() {
        let mut config =
            ServeConfig::new(PathBuf::from("v"), SocketAddr::from(([127, 0, 0, 1], 0)));
        config.database = Some("postgres://airseal:hunter2-secret@db.example/ledger".into());
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2-secret"), "{shown}");
        assert!(shown.contains("db.example/ledger"), "{shown}");
    }
}
