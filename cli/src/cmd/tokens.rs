//! `airseal tokens`: the bearer tokens `airseal serve` accepts. `create` prints a token's
//! text once (the ledger keeps only its hash); `list` never shows a text or a hash.

use std::process::ExitCode;

use airseal_vendor::time::format_time;
use airseal_vendor::tokens::{self, NewToken, TokenRecord, TokenScope};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};

use crate::args::{NowArgs, VendorArgs};
use crate::error::CliError;

/// `airseal tokens …`
#[derive(Debug, Args)]
pub struct TokensArgs {
    #[command(subcommand)]
    pub command: TokensCommand,
    #[command(flatten)]
    pub vendor: VendorArgs,
}

/// What a token may do.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Scope {
    /// The admin API (keys, licenses, renewals, revocations, listings).
    Admin,
    /// The portal's operations only.
    Portal,
}

/// The `tokens` subcommands.
#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Make a token and print it, once: only its hash is kept.
    Create {
        /// What it may do.
        #[arg(long, value_enum)]
        scope: Scope,
        /// Its name (letters, digits, '.', '_', '-'), which the audit log records with
        /// every change made with it. Never reused.
        #[arg(long, value_name = "N")]
        name: String,
        /// When it stops working (YYYY-MM-DD: the end of that day, UTC; or RFC 3339).
        #[arg(long, value_name = "DATE")]
        expires: Option<String>,
        #[arg(long, help = crate::args::JSON_HELP)]
        json: bool,
        #[command(flatten)]
        now: NowArgs,
    },
    /// Every token (names, scopes, dates; never a token's text).
    List {
        #[arg(long, help = crate::args::JSON_HELP)]
        json: bool,
    },
    /// Revoke a token: the service refuses it from now on.
    Revoke {
        /// The token's name.
        name: String,
        #[arg(long, help = crate::args::JSON_HELP)]
        json: bool,
        #[command(flatten)]
        now: NowArgs,
    },
}

const COLUMNS: &[&str] = &["name", "scope", "id", "created", "expires", "revoked"];

fn row(t: &TokenRecord) -> Vec<Value> {
    vec![
        json!(t.name),
        json!(t.scope.as_str()),
        json!(t.id),
        json!(format_time(t.created)),
        json!(t.expires.map(format_time)),
        json!(t.revoked.map(format_time)),
    ]
}

fn record_json(t: &TokenRecord) -> Value {
    COLUMNS
        .iter()
        .zip(row(t))
        .map(|(k, v)| ((*k).to_string(), v))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Runs `airseal tokens …`.
pub fn run(args: &TokensArgs) -> Result<ExitCode, CliError> {
    let vendor = args.vendor.open()?;
    let ledger = vendor
        .open_ledger()
        .map_err(|e| CliError::from(e).at(&vendor.ledger_path()))?;
    match &args.command {
        TokensCommand::Create {
            scope,
            name,
            expires,
            json,
            now,
        } => {
            let scope = match scope {
                Scope::Admin => TokenScope::Admin,
                Scope::Portal => TokenScope::Portal,
            };
            let made = tokens::create(
                &ledger,
                &NewToken {
                    name: name.clone(),
                    scope,
                    expires: expires.clone(),
                },
                now.instant()?,
            )?;
            if *json {
                let mut j = record_json(&made.record);
                j["token"] = json!(made.secret.expose());
                crate::term::out_json(&j);
            } else {
                outln!("{}", made.secret.expose());
                errln!(
                    "token {} ({}) made; it is shown only this once: keep it now",
                    made.record.name,
                    made.record.scope
                );
            }
        }
        TokensCommand::List { json } => {
            let rows = tokens::list(&ledger)?;
            crate::render::print_list(COLUMNS, rows.iter().map(row), *json)
                .map_err(crate::io::write_failed)?;
        }
        TokensCommand::Revoke { name, json, now } => {
            let t = tokens::revoke(&ledger, name, now.instant()?)?;
            if *json {
                crate::term::out_json(&record_json(&t));
            } else {
                outln!("revoked the token {}", t.name);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
