//! `airseal revoke` and `airseal revocations export`: offline revocation.

use std::path::PathBuf;
use std::process::ExitCode;

use airseal_core::armor::armor;
use airseal_core::{KeyId, ObjectType};
use airseal_vendor::revoke::{RevokeOutcome, RevokeReport, RevokeTarget, UndoTarget};
use airseal_vendor::time::{EndOfDay, parse_time};
use clap::{Args, Subcommand};

use crate::args::VendorArgs;
use crate::args::{PassphraseArgs, SignerArgs};
use crate::error::CliError;

/// Arguments of `airseal revoke`.
#[derive(Debug, Args)]
#[command(
    after_help = "Revocations take effect on an app when it loads a revocation list that \
    includes them: run `airseal revocations export --out FILE` and ship the file (USB stick, \
    update, e-mail). Apps refuse a list older than the newest they have seen.\n\n\
    Only what the ledger knows is revoked: a license it recorded (--external for one issued \
    elsewhere), a key it holds, a product it has. A product's cutoff only rises. --undo takes \
    a revocation back, audited; the next exported list no longer has it."
)]
pub struct RevokeArgs {
    /// Revoke one license by its id (the license's `sub`).
    #[arg(long, value_name = "ID", group = "what")]
    pub license: Option<String>,
    /// With --license: the ledger did not record it (issued by another system); revoke it
    /// anyway.
    #[arg(long, requires = "license", conflicts_with = "undo")]
    pub external: bool,
    /// Revoke a product key however it is spelled (every license carrying it, in any form,
    /// and every license the ledger recorded for it).
    #[arg(long, value_name = "KEY", group = "what")]
    pub key: Option<String>,
    /// Refuse every license of --product issued before DATE (licenses sold under old
    /// terms, say). Not in the future; never lower than the product's cutoff (see --undo).
    /// NOT for a leaked key: whoever holds a key chooses the issue time of what it signs,
    /// so revoke that issuing key (--issuing-key) instead.
    #[arg(long, value_name = "DATE", group = "what", requires = "product")]
    pub issued_before: Option<String>,
    /// Revoke an issuing key by its key id (`airseal issuing-key list`): apps holding the
    /// next list refuse everything it signed, whatever its issue time. That list must be
    /// exported with the root key.
    #[arg(long, value_name = "KID", group = "what")]
    pub issuing_key: Option<String>,
    /// The product, for --issued-before; with --key, only that product's key; with --undo
    /// alone, remove the product's cutoff.
    #[arg(long, value_name = "ID")]
    pub product: Option<String>,
    /// Take a revocation back: --license ID, --key KEY, --issuing-key KID, --product P
    /// (remove its cutoff) or --product P --issued-before DATE (lower its cutoff). Audited.
    #[arg(long)]
    pub undo: bool,
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
        #[command(flatten)]
        signer: SignerArgs,
    },
}

/// Runs `airseal revoke`.
pub fn revoke(args: &RevokeArgs) -> Result<ExitCode, CliError> {
    let cutoff = |d: &str| parse_time("--issued-before", d, EndOfDay::No);
    let usage = || {
        CliError::Message(
            "say what to revoke: --license ID, --key KEY, --issuing-key KID, or --product P \
             --issued-before DATE"
                .into(),
            2,
        )
    };
    let issuing_kid = args
        .issuing_key
        .as_deref()
        .map(|k| {
            KeyId::from_hex(k.trim()).ok_or_else(|| {
                CliError::Message(
                    format!("--issuing-key {k:?}: expected a key id (16 hex digits)"),
                    crate::error::USAGE,
                )
            })
        })
        .transpose()?;
    let vendor = args.vendor.open()?;
    let ledger = vendor.open_ledger()?;
    let now = chrono::Utc::now().timestamp();
    let reason = args.reason.as_deref();
    let report = if let Some(kid) = issuing_kid {
        if args.undo {
            airseal_vendor::issuing::unrevoke(&vendor, &ledger, kid, reason, now)?
        } else {
            airseal_vendor::issuing::revoke(&vendor, &ledger, kid, reason, now)?
        }
    } else if args.undo {
        let target = match (&args.license, &args.key, &args.product) {
            (Some(id), _, _) => UndoTarget::License { id: id.clone() },
            (_, Some(key), product) => UndoTarget::Key {
                key: key.clone(),
                product: product.clone(),
            },
            (_, _, Some(product)) => UndoTarget::Cutoff {
                product: product.clone(),
                to: args.issued_before.as_deref().map(cutoff).transpose()?,
            },
            _ => return Err(usage()),
        };
        ledger.revocations().undo(&target, reason, now)?
    } else {
        let target = match (&args.license, &args.key, &args.issued_before) {
            (Some(id), _, _) => RevokeTarget::License {
                id: id.clone(),
                external: args.external,
            },
            (_, Some(key), _) => RevokeTarget::Key {
                key: key.clone(),
                product: args.product.clone(),
            },
            (_, _, Some(d)) => RevokeTarget::IssuedBefore {
                product: args.product.clone().unwrap_or_default(),
                before: cutoff(d)?,
            },
            _ => return Err(usage()),
        };
        ledger.revocations().revoke(&target, reason, now)?
    };
    render(&report, args.undo, args.json);
    Ok(ExitCode::SUCCESS)
}

/// One line (or JSON document) per change: what is (or no longer is) revoked, in words.
fn render(report: &RevokeReport, undo: bool, json: bool) {
    let time = airseal_vendor::time::format_time;
    let field = crate::term::field;
    if json {
        let what = match &report.outcome {
            RevokeOutcome::License { id, recorded } => {
                serde_json::json!({"license": id, "recorded": recorded})
            }
            RevokeOutcome::Keys(keys) => serde_json::json!({
                "keys": keys.iter().map(|k| serde_json::json!({
                    "product": k.product,
                    "key": k.key,
                    "from": k.from.as_str(),
                    "to": k.to.as_str(),
                    "licenses": k.licenses,
                })).collect::<Vec<_>>(),
            }),
            RevokeOutcome::Cutoff { product, from, to } => serde_json::json!({
                "product": product,
                "issued_before": to.map(time),
                "previous": from.map(time),
            }),
            RevokeOutcome::IssuingKey { kid, serial } => serde_json::json!({
                "issuing_key": kid.to_string(),
                "serial": serial,
            }),
        };
        let verb = if undo { "undone" } else { "revoked" };
        crate::term::out_json(&serde_json::json!({verb: what, "new": report.changed}));
        return;
    }
    let already = if report.changed { "" } else { "already " };
    match &report.outcome {
        RevokeOutcome::License { id, recorded } => outln!(
            "{}license {}{}",
            if undo {
                "no longer revoked: ".to_string()
            } else {
                format!("{already}revoked ")
            },
            field(id),
            if *recorded {
                ""
            } else {
                " (not recorded in this ledger: issued elsewhere)"
            }
        ),
        RevokeOutcome::Keys(keys) => {
            for k in keys {
                let listed = crate::term::count(k.licenses.len() as u64, "license", "licenses");
                if undo {
                    outln!(
                        "product key {} of {} is {} again; the next list no longer names it or \
                         its {listed}",
                        field(&k.key),
                        field(&k.product),
                        k.to
                    );
                } else if k.from == k.to {
                    outln!(
                        "already revoked product key {} of {}; the next list names its {listed}",
                        field(&k.key),
                        field(&k.product)
                    );
                } else {
                    outln!(
                        "revoked product key {} of {} (was {}); the next list names its {listed}",
                        field(&k.key),
                        field(&k.product),
                        k.from
                    );
                }
            }
        }
        RevokeOutcome::Cutoff { product, from, to } => match (undo, to) {
            (false, Some(to)) => outln!(
                "{already}revoked licenses of product {} issued before {}",
                field(product),
                time(*to)
            ),
            (_, Some(to)) => outln!(
                "lowered the cutoff of product {} from {} to {}",
                field(product),
                from.map(time).unwrap_or_default(),
                time(*to)
            ),
            (_, None) => outln!(
                "removed the cutoff of product {} ({})",
                field(product),
                from.map(time).unwrap_or_default()
            ),
        },
        RevokeOutcome::IssuingKey { kid, serial } => {
            if undo {
                outln!("issuing key {kid} (certificate {serial}) is no longer revoked");
            } else {
                outln!(
                    "{already}revoked issuing key {kid} (certificate {serial}): apps holding \
                     the next list refuse everything it signed"
                );
                outln!(
                    "export that list with the ROOT key: `airseal revocations export --root \
                     --out FILE`"
                );
                return;
            }
        }
    }
    outln!("export a new list with `airseal revocations export`");
}

/// Runs `airseal revocations …`.
pub fn revocations(args: &RevocationsArgs) -> Result<ExitCode, CliError> {
    let RevocationsCommand::Export {
        out,
        force,
        json,
        passphrase,
        signer,
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
    let issuer = super::unlock_signer(Some(&vendor), None, signer, passphrase)?;
    let mut ledger = vendor.open_ledger()?;
    let (list, bytes) = airseal_vendor::revoke::export_from(
        &vendor,
        &mut ledger,
        &issuer,
        chrono::Utc::now().timestamp(),
    )?;
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
            "issuing_keys": list.issuing_keys.iter().map(KeyId::to_string).collect::<Vec<_>>(),
            "signed_by": issuer.key_id().to_string(),
            "bytes": bytes.len(),
            "out": out.display().to_string(),
        }));
    }
    errln!(
        "revocation list #{}, signed by {} key {}: {}, {}, {}, {} → {}",
        list.seq,
        if issuer.chain().is_some() {
            "issuing"
        } else {
            "root"
        },
        issuer.key_id(),
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
        crate::term::count(
            list.issuing_keys.len() as u64,
            "issuing key",
            "issuing keys"
        ),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
