//! `airseal issuing-key create|list|show`: issuing keys certified by the root (`SPEC.md` §18).

use std::path::PathBuf;
use std::process::ExitCode;

use airseal_core::KeyId;
use airseal_core::cert::{Certificate, MaySign};
use airseal_vendor::issuing::{self, CertifyOptions};
use airseal_vendor::keyfile::KdfParams;
use airseal_vendor::time::format_time;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::args::{PassphraseArgs, VendorArgs};
use crate::error::CliError;

/// `airseal issuing-key …`
#[derive(Debug, Args)]
pub struct IssuingKeyArgs {
    #[command(subcommand)]
    pub command: IssuingKeyCommand,
    #[command(flatten)]
    pub vendor: VendorArgs,
}

/// The `issuing-key` subcommands.
#[derive(Debug, Subcommand)]
pub enum IssuingKeyCommand {
    /// Make an issuing key and have the root key certify it: DIR/issuing.key (encrypted),
    /// DIR/issuing.pub, DIR/issuing.cert, DIR/data-mac.key; recorded in the ledger.
    #[command(
        after_help = "The root key stays on this machine; copy DIR to the server that \
        signs (it needs no other key). Commands sign with it given --issuing-key DIR, or by \
        default when airseal.toml says issuing_key = \"DIR\". Revoke it with `airseal revoke \
        --issuing-key KID` and a root-signed `airseal revocations export --root`.\n\n\
        The issuing key gets its own passphrase: --issuing-passphrase-file FILE, else \
        AIRSEAL_ISSUING_PASSPHRASE, else a prompt (never AIRSEAL_PASSPHRASE, the root's); \
        one equal to the root's is refused unless --same-passphrase.\n\n\
        Example:\n  airseal issuing-key create --out issuing/2027-q1 --days 90 \\\n    \
        --products photo-pro --can licenses,activations"
    )]
    Create(Box<CreateArgs>),
    /// List the certified issuing keys: serial, key id, window, scope, status.
    List {
        #[arg(long, help = crate::args::JSON_HELP)]
        json: bool,
    },
    /// Put an issuing key's certificate back into the ledger (after a ledger restore, or
    /// one made on another machine), once the vendor folder's root is checked to have
    /// signed it; then it is listed and can be revoked.
    Import {
        /// The issuing key's folder or its certificate file.
        #[arg(value_name = "DIR|CERT")]
        path: PathBuf,
        #[arg(long, help = crate::args::JSON_HELP)]
        json: bool,
    },
    /// Show an issuing key's certificate (a folder made by `create`, or the .cert file);
    /// verified only with --public-key.
    Show {
        /// The issuing key's folder or its certificate file.
        #[arg(value_name = "DIR|CERT")]
        path: PathBuf,
        /// Check the certificate's signature against this root public key (signing.pub),
        /// as an app does; exits with the verification code when it fails.
        #[arg(long, value_name = "FILE")]
        public_key: Option<PathBuf>,
        #[arg(long, help = crate::args::JSON_HELP)]
        json: bool,
    },
}

/// Arguments of `airseal issuing-key create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The root signing key that certifies it (default: the vendor folder's
    /// keys/signing.key; another key than keys/signing.pub names is refused); its
    /// passphrase comes from the usual sources.
    #[arg(long, value_name = "FILE")]
    pub root_key: Option<PathBuf>,
    /// The folder to write the issuing key into (created owner-only).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Days the certificate is valid from now.
    #[arg(long, value_name = "N")]
    pub days: u32,
    /// The products it may sign for, comma-separated (default: every product).
    #[arg(long, value_name = "P1,P2", value_delimiter = ',')]
    pub products: Vec<String>,
    /// What it may sign, comma-separated: licenses, activations (responses and renewal
    /// updates), revocations (revocation lists), signed-keys.
    #[arg(
        long,
        value_name = "WHAT,…",
        value_delimiter = ',',
        default_value = "licenses,activations"
    )]
    pub can: Vec<String>,
    /// The new issuing key's passphrase, from the first line of FILE (default: the
    /// AIRSEAL_ISSUING_PASSPHRASE environment variable, else a prompt; never the root's
    /// AIRSEAL_PASSPHRASE). It must differ from the root key's passphrase.
    #[arg(long, value_name = "FILE")]
    pub issuing_passphrase_file: Option<PathBuf>,
    /// Accept an issuing key passphrase equal to the root key's (a thief of the server
    /// then learns the root's passphrase too).
    #[arg(long)]
    pub same_passphrase: bool,
    /// Accept a short or repetitive passphrase for the issuing key.
    #[arg(long)]
    pub weak_passphrase: bool,
    /// Replace the files of an existing issuing key folder.
    #[arg(long)]
    pub force: bool,
    #[arg(long, help = crate::args::JSON_HELP)]
    pub json: bool,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

/// Runs `airseal issuing-key …`.
pub fn run(args: &IssuingKeyArgs) -> Result<ExitCode, CliError> {
    match &args.command {
        IssuingKeyCommand::Create(a) => create(a, &args.vendor),
        IssuingKeyCommand::List { json } => list(&args.vendor, *json),
        IssuingKeyCommand::Import { path, json } => import(path, &args.vendor, *json),
        IssuingKeyCommand::Show {
            path,
            public_key,
            json,
        } => show(path, public_key.as_deref(), *json),
    }
}

/// `--can` words to the certificate's bitmask.
fn may_sign(words: &[String]) -> Result<MaySign, CliError> {
    let mut bits = 0u8;
    for w in words {
        let one = MaySign::from_name(w.trim()).ok_or_else(|| {
            CliError::Message(
                format!("--can {w:?}: expected licenses, activations, revocations or signed-keys"),
                crate::error::USAGE,
            )
        })?;
        bits |= one.0;
    }
    Ok(MaySign(bits))
}

fn create(a: &CreateArgs, vendor: &VendorArgs) -> Result<ExitCode, CliError> {
    let vendor = vendor.open()?;
    let opts = CertifyOptions {
        days: a.days,
        products: a.products.clone(),
        may_sign: may_sign(&a.can)?,
    };
    // Refused before any passphrase is asked for or anything is signed.
    let root_path = a
        .root_key
        .clone()
        .unwrap_or_else(|| vendor.signing_key_path());
    issuing::check_out_folder(&vendor, &root_path, &a.out)?;
    issuing::check_folder_free(&a.out, a.force)?;
    let root = super::unlock_choice(
        Some(&vendor),
        &issuing::SignerChoice::Root(root_path.clone()),
        &a.passphrase,
    )?;
    let new_pass = crate::passphrase::obtain_issuing_passphrase(
        &crate::passphrase::PassphraseOptions {
            file: a.issuing_passphrase_file.clone(),
        },
        crate::passphrase::Purpose::Create,
    )?;
    if !a.weak_passphrase {
        airseal_vendor::keyfile::check_passphrase_strength(&new_pass)?;
    }
    if !a.same_passphrase {
        // Decrypting the root key with the new passphrase tells whether they are equal
        // without keeping the root's passphrase around.
        let text = airseal_vendor::keyfile::read_signing_key_file(&root_path)?;
        if airseal_vendor::keyfile::decrypt_signing_key(&text, new_pass.as_bytes()).is_ok() {
            return Err(CliError::Message(
                "the issuing key's passphrase is the root key's: a thief of the server would \
                 learn the root's passphrase; give it its own (--issuing-passphrase-file or \
                 AIRSEAL_ISSUING_PASSPHRASE), or pass --same-passphrase"
                    .into(),
                crate::error::GENERAL,
            ));
        }
    }
    let ledger = vendor
        .open_ledger()
        .map_err(|e| CliError::from(e).at(&vendor.ledger_path()))?;
    let now = chrono::Utc::now().timestamp();
    let certified = issuing::certify(&root, &vendor, &ledger, &opts, now)?;
    issuing::write_folder(
        &a.out,
        &certified,
        new_pass.as_bytes(),
        KdfParams::DEFAULT,
        a.force,
    )?;
    let rec = &certified.record;
    if a.json {
        let mut v = record_json(rec, now);
        if let Some(map) = v.as_object_mut() {
            map.insert("out".into(), json!(a.out.display().to_string()));
        }
        crate::term::out_json(&v);
    } else {
        outln!(
            "issuing key {} (certificate serial {})",
            rec.kid,
            rec.serial
        );
        outln!(
            "valid       {} until {}",
            format_time(rec.not_before),
            format_time(rec.not_after)
        );
        outln!("products    {}", products_text(&rec.products));
        outln!(
            "may sign    {}",
            MaySign(rec.may_sign).names().collect::<Vec<_>>().join(", ")
        );
        if let Some((lo, hi)) = rec.list_seq {
            outln!("list range  {lo} ≤ seq < {hi}");
        }
        outln!(
            "folder      {} (deploy it to the server that signs; the root key stays here)",
            a.out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn products_text(products: &[String]) -> String {
    if products.is_empty() {
        "every product".to_string()
    } else {
        crate::term::field(&products.join(", ")).into_owned()
    }
}

/// The ledger's row as JSON (`list --json`, `create --json`).
fn record_json(rec: &airseal_vendor::ledger::CertificateRecord, now: i64) -> Value {
    json!({
        "serial": rec.serial,
        "kid": rec.kid.to_string(),
        "root_kid": rec.root_kid.to_string(),
        "not_before": rec.not_before,
        "not_after": rec.not_after,
        "products": rec.products,
        "may_sign": MaySign(rec.may_sign).names().collect::<Vec<_>>(),
        "list_seq": rec.list_seq.map(|(lo, hi)| [lo, hi]),
        "status": rec.status(now).as_str(),
        "revoked_at": rec.revoked_at,
    })
}

/// A certificate's fields as JSON, for `show` and `inspect`.
pub fn certificate_json(cert: &Certificate, root: &KeyId) -> Value {
    json!({
        "serial": cert.serial,
        "issuing_kid": cert.key_id().to_string(),
        "root_kid": root.to_string(),
        "not_before": cert.not_before,
        "not_after": cert.not_after,
        "products": cert.products,
        "may_sign": cert.may_sign.names().collect::<Vec<_>>(),
        "list_seq": cert.list_seq.map(|(lo, hi)| [lo, hi]),
    })
}

/// A certificate's fields as lines for people, for `show` and `inspect`.
pub fn print_certificate(cert: &Certificate, root: &KeyId) {
    outln!("certificate serial {}", cert.serial);
    outln!("  root key      {root}");
    outln!("  issuing key   {}", cert.key_id());
    outln!(
        "  window        {} until {}",
        format_time(cert.not_before),
        format_time(cert.not_after)
    );
    outln!("  products      {}", products_text(&cert.products));
    outln!(
        "  may sign      {}",
        cert.may_sign.names().collect::<Vec<_>>().join(", ")
    );
    if let Some((lo, hi)) = cert.list_seq {
        outln!("  list range    {lo} ≤ seq < {hi}");
    }
}

fn list(vendor: &VendorArgs, json: bool) -> Result<ExitCode, CliError> {
    const COLUMNS: &[&str] = &[
        "serial",
        "kid",
        "not_before",
        "not_after",
        "products",
        "may_sign",
        "status",
    ];
    let vendor = vendor.open()?;
    let ledger = vendor
        .open_ledger()
        .map_err(|e| CliError::from(e).at(&vendor.ledger_path()))?;
    let now = chrono::Utc::now().timestamp();
    let records = ledger.certificates().list()?;
    if json {
        let rows: Vec<Value> = records.iter().map(|r| record_json(r, now)).collect();
        crate::term::out_json(&Value::Array(rows));
        return Ok(ExitCode::SUCCESS);
    }
    let rows = records.iter().map(|r| {
        vec![
            json!(r.serial),
            json!(r.kid.to_string()),
            json!(format_time(r.not_before)),
            json!(format_time(r.not_after)),
            json!(products_text(&r.products)),
            json!(MaySign(r.may_sign).names().collect::<Vec<_>>().join(",")),
            json!(r.status(now).as_str()),
        ]
    });
    crate::render::print_list(COLUMNS, rows, false).map_err(crate::io::write_failed)?;
    Ok(ExitCode::SUCCESS)
}

fn import(path: &std::path::Path, vendor: &VendorArgs, json: bool) -> Result<ExitCode, CliError> {
    let vendor = vendor.open()?;
    let ledger = vendor
        .open_ledger()
        .map_err(|e| CliError::from(e).at(&vendor.ledger_path()))?;
    let now = chrono::Utc::now().timestamp();
    let (rec, added) = issuing::import(&vendor, &ledger, path, now)?;
    if json {
        let mut v = record_json(&rec, now);
        if let Some(map) = v.as_object_mut() {
            map.insert("imported".into(), json!(added));
        }
        crate::term::out_json(&v);
    } else if added {
        outln!(
            "imported issuing key {} (certificate serial {}, {})",
            rec.kid,
            rec.serial,
            rec.status(now).as_str()
        );
    } else {
        outln!(
            "the ledger already has issuing key {} (certificate serial {})",
            rec.kid,
            rec.serial
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn show(
    path: &std::path::Path,
    public_key: Option<&std::path::Path>,
    json: bool,
) -> Result<ExitCode, CliError> {
    let file = issuing::read_certificate(path)?;
    let verified = match public_key {
        Some(p) => {
            let mut trust = super::machine::load_trust(&[p.to_path_buf()])?;
            trust
                .add_certificate(&file.bytes)
                .map_err(|e| CliError::from(e).at(path))?;
            true
        }
        None => false,
    };
    if json {
        let mut v = certificate_json(&file.certificate, &file.root);
        v["verified"] = json!(verified);
        crate::term::out_json(&v);
    } else {
        print_certificate(&file.certificate, &file.root);
        if verified {
            errln!("verified: signed by root key {}", file.root);
        } else {
            errln!("note: the certificate's signature was NOT checked (pass --public-key)");
        }
    }
    Ok(ExitCode::SUCCESS)
}
