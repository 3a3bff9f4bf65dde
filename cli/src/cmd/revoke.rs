//! `airseal revoke` and `airseal revocations export`: offline revocation.

use std::path::PathBuf;
use std::process::ExitCode;

use airseal_core::ObjectType;
use airseal_core::armor::armor;
use airseal_vendor::ledger::Revocation;
use airseal_vendor::time::{EndOfDay, parse_time};
use clap::{Args, Subcommand};

use crate::args::PassphraseArgs;
use crate::args::VendorArgs;
use crate::error::CliError;

/// Arguments of `airseal revoke`.
#[derive(Debug, Args)]
#[command(
    after_help = "Revocations take effect on an app when it loads a revocation list that \
    includes them: run `airseal revocations export --out FILE` and ship the file (USB stick, \
    update, e-mail). Apps refuse a list older than the newest they have seen."
)]
pub struct RevokeArgs {
    /// Revoke one license by its id (the license's `sub`).
    #[arg(long, value_name = "ID", group = "what")]
    pub license: Option<String>,
    /// Revoke a product key (every license carrying it).
    #[arg(long, value_name = "KEY", group = "what")]
    pub key: Option<String>,
    /// Refuse every license of --product issued before DATE (e.g. after a key leak).
    #[arg(long, value_name = "DATE", group = "what", requires = "product")]
    pub issued_before: Option<String>,
    /// The product, for --issued-before.
    #[arg(long, value_name = "ID")]
    pub product: Option<String>,
    /// Why (kept in the ledger's audit log).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    #[arg(long, help = crate::args::JSON_HELP)]
    pub json: bool,
    #[command(flatten)]
    pub vendor: VendorArgs,
}

/// `airseal revocations …`
#[derive(Debug, Args)]
pub struct RevocationsArgs {
    #[command(subcommand)]
    pub command: RevocationsCommand,
    #[command(flatten)]
    pub vendor: VendorArgs,
}

/// The `revocations` subcommands.
#[derive(Debug, Subcommand)]
pub enum RevocationsCommand {
    /// Sign the next revocation list (every revocation so far, a higher sequence number).
    Export {
        /// Where to write it (armored text); - for standard output.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
        #[arg(long, help = crate::args::JSON_HELP)]
        json: bool,
        #[command(flatten)]
        passphrase: PassphraseArgs,
    },
}

/// Runs `airseal revoke`.
pub fn revoke(args: &RevokeArgs) -> Result<ExitCode, CliError> {
    let what = match (&args.license, &args.key, &args.issued_before) {
        (Some(id), _, _) => Revocation::License(id.clone()),
        (_, Some(k), _) => Revocation::Key(airseal_vendor::keys::stored_form(k)),
        (_, _, Some(d)) => Revocation::MinIssuedAt {
            product: args.product.clone().unwrap_or_default(),
            before: parse_time("--issued-before", d, EndOfDay::No)?,
        },
        _ => {
            return Err(CliError::Message(
                "say what to revoke: --license ID, --key KEY, or --product P --issued-before DATE"
                    .into(),
                2,
            ));
        }
    };
    let vendor = args.vendor.open()?;
    let ledger = vendor.open_ledger()?;
    let new = ledger.revocations().add(&what, args.reason.as_deref())?;
    if args.json {
        let what = match &what {
            Revocation::License(id) => serde_json::json!({"license": id}),
            Revocation::Key(k) => serde_json::json!({"key": k}),
            Revocation::MinIssuedAt { product, before } => serde_json::json!({
                "product": product,
                "issued_before": airseal_vendor::time::format_time(*before),
            }),
        };
        crate::term::out_json(&serde_json::json!({"revoked": what, "new": new}));
        return Ok(ExitCode::SUCCESS);
    }
    let said = match &what {
        Revocation::License(id) => format!("license {}", crate::term::field(id)),
        Revocation::Key(k) => format!("product key {}", crate::term::field(k)),
        Revocation::MinIssuedAt { product, before } => format!(
            "licenses of product {} issued before {}",
            crate::term::field(product),
            airseal_vendor::time::format_time(*before)
        ),
    };
    outln!(
        "{} {said}; export a new list with `airseal revocations export`",
        if new { "revoked" } else { "already revoked:" }
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs `airseal revocations …`.
pub fn revocations(args: &RevocationsArgs) -> Result<ExitCode, CliError> {
    let RevocationsCommand::Export {
        out,
        force,
        json,
        passphrase,
    } = &args.command;
    let to_stdout = out.as_os_str() == "-";
    if to_stdout && *json {
        return Err(CliError::Message(
            "--json prints the result on standard output: write the list with --out FILE".into(),
            2,
        ));
    }
    if !to_stdout && out.exists() && !force {
        return Err(CliError::msg(format!(
            "{} already exists; pass --force to replace it",
            out.display()
        )));
    }
    let vendor = args.vendor.open()?;
    let issuer = super::unlock_key(&vendor.signing_key_path(), passphrase)?;
    let mut ledger = vendor.open_ledger()?;
    let (list, bytes) =
        airseal_vendor::revoke::export(&mut ledger, &issuer, chrono::Utc::now().timestamp())?;
    let text = armor(ObjectType::RevocationList.armor_label(), &bytes);
    if to_stdout {
        crate::term::out_bytes(text.as_bytes());
    } else {
        crate::io::write_output(out, text.as_bytes(), *force)?;
    }
    if *json {
        crate::term::out_json(&serde_json::json!({
            "seq": list.seq,
            "licenses": list.licenses.len(),
            "keys": list.product_keys.len(),
            "min_issued_at": list.min_issued_at.len(),
            "bytes": bytes.len(),
            "out": out.display().to_string(),
        }));
    }
    errln!(
        "revocation list #{}: {}, {}, {} → {}",
        list.seq,
        crate::term::count(list.licenses.len() as u64, "license", "licenses"),
        crate::term::count(
            list.product_keys.len() as u64,
            "product key",
            "product keys"
        ),
        crate::term::count(
            list.min_issued_at.len() as u64,
            "minimum issue time",
            "minimum issue times"
        ),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
