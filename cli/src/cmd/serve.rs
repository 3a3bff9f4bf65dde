//! `airseal serve`: the vendor service (HTTP API and activation portal) over
//! [`airseal_serve`]. Flags → [`ServeConfig`], unlock the signer, one call; the service's
//! first line on standard output is `listening on http://ADDR` (scripts and tests wait for
//! it), logs go to standard error.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use airseal_serve::ServeConfig;
use airseal_serve::config::Rate;
use clap::Args;

use crate::args::{PassphraseArgs, SignerArgs, VendorArgs};
use crate::error::CliError;

/// Arguments of `airseal serve`.
#[derive(Debug, Args)]
#[command(
    after_help = "Signs with an issuing key (--issuing-key DIR, else airseal.toml's \
    issuing_key), never with the root key unless --allow-root-key is given. The passphrase \
    comes from --passphrase-file, AIRSEAL_ISSUING_PASSPHRASE or AIRSEAL_PASSPHRASE (a prompt \
    only on a terminal). Prints `listening on http://ADDR` when ready.\n\n\
    Example:\n  airseal serve --listen 127.0.0.1:8080 --issuing-key issuing/2027-q1 \
    --passphrase-file /run/secrets/airseal"
)]
pub struct ServeArgs {
    /// The address to listen on (port 0: any free port, printed when ready).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Sign with the issuing key in DIR (default: airseal.toml's issuing_key).
    #[arg(long, value_name = "DIR")]
    pub issuing_key: Option<PathBuf>,
    /// Allow the service to sign with the root signing key (keep the root offline instead:
    /// `airseal issuing-key create` certifies a key for servers).
    #[arg(long)]
    pub allow_root_key: bool,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key); without it, plain HTTP
    /// (put a reverse proxy in front for TLS).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Log lines on standard error as text or as one JSON object per line (level filter:
    /// AIRSEAL_LOG, e.g. `info` or `warn,airseal_serve=debug`).
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = LogFormatArg::Text)]
    pub log_format: LogFormatArg,
    /// Portal requests a minute per client address (0: no limit).
    #[arg(long, value_name = "N", default_value_t = 60)]
    pub client_rate: u32,
    /// Portal requests a minute per product key (0: no limit).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub key_rate: u32,
    /// Ledger connections kept open, and vendor operations run at once (default: twice the
    /// number of cores).
    #[arg(long, value_name = "N")]
    pub pool_size: Option<usize>,
    /// The service runs behind your own reverse proxy: a client's address (for rate limits
    /// and the audit log) is the last X-Forwarded-For entry. Never with clients reaching
    /// the service directly.
    #[arg(long)]
    pub behind_proxy: bool,
    #[command(flatten)]
    pub vendor: VendorArgs,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

/// `--log-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormatArg {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// A bucket of `per_minute` with bursts of half a minute's worth (at least 1); 0: none.
fn rate(per_minute: u32) -> Option<Rate> {
    Rate::new(per_minute, (per_minute / 2).max(1))
}

/// Runs `airseal serve`.
pub fn run(args: &ServeArgs) -> Result<ExitCode, CliError> {
    let vendor = args.vendor.open()?;
    let signer = SignerArgs {
        issuing_key: args.issuing_key.clone(),
        root: false,
    };
    let choice = super::signer_choice(Some(&vendor), None, &signer)?;
    // Before the passphrase: a root key the service may not use costs nobody a prompt.
    airseal_serve::check_signer(&choice, args.allow_root_key)?;
    let issuer = super::unlock_choice(Some(&vendor), &choice, &args.passphrase)?;

    let mut config = ServeConfig::new(vendor.root().to_path_buf(), args.listen);
    // `--database URL` / $AIRSEAL_DATABASE (VendorArgs): several instances share one
    // PostgreSQL ledger.
    config.database = args.vendor.database_url();
    config.issuing_key = args.issuing_key.clone();
    config.allow_root_key = args.allow_root_key;
    config.limits.per_client = rate(args.client_rate);
    config.limits.per_key = rate(args.key_rate);
    config.limits.behind_proxy = args.behind_proxy;
    if let Some(n) = args.pool_size {
        config.limits.pool_size = n;
    }

    config.tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(airseal_serve::config::TlsConfig {
            cert: cert.clone(),
            key: key.clone(),
        }),
        _ => None,
    };
    config.log_format = match args.log_format {
        LogFormatArg::Text => airseal_serve::config::LogFormat::Text,
        LogFormatArg::Json => airseal_serve::config::LogFormat::Json,
    };
    let filter = std::env::var("AIRSEAL_LOG").ok();
    airseal_serve::ops::init_logging(config.log_format, filter.as_deref())
        .map_err(airseal_serve::ServeError::Logging)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(airseal_serve::ServeError::Runtime)?;
    runtime.block_on(async {
        let server = airseal_serve::Server::bind(config, issuer).await?;
        outln!("listening on {}", server.url());
        crate::term::flush();
        server.serve(airseal_serve::shutdown_signal()).await
    })?;
    Ok(ExitCode::SUCCESS)
}
