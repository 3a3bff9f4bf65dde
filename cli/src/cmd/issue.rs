//! `airseal issue`: sign a license file.

use std::path::PathBuf;
use std::process::ExitCode;

use airseal_core::ObjectType;
use airseal_core::armor::armor;
use airseal_vendor::issue::recorded::{self, RecordedError, issue_recorded};
use airseal_vendor::issue::{LicenseSpec, LimitSpec, MetaSpec};
use airseal_vendor::template;
use airseal_vendor::vendor_dir::{VendorDir, VendorDirError};
use clap::Args;

use crate::args::{PassphraseArgs, SignerArgs};
use crate::error::CliError;

/// Arguments of `airseal issue`.
#[derive(Debug, Args)]
#[command(
    after_help = "DATES are YYYY-MM-DD (meaning the end of that day, UTC) or RFC 3339 \
    instants (2027-01-31T12:00:00Z). Flags override the --template file's values.\n\n\
    Example:\n  airseal issue --key keys/signing.key --product photo-pro \\\n    \
    --licensee-email jane@example.com --days 365 --features F1,F3 \\\n    \
    --feature export-raw=2026-12-31 --meta order=A-1001 --max-activations 3 --out jane.lic"
)]
pub struct IssueArgs {
    /// The encrypted root signing key (default: the vendor folder's keys/signing.key, or
    /// its default issuing key; see --issuing-key). In a vendor folder it must be the key
    /// keys/signing.pub names.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Default values: a TOML file (same names as the flags, with `_` for `-`), or the name
    /// of a template of the product in the vendor folder's airseal.toml.
    #[arg(long, value_name = "FILE|NAME")]
    pub template: Option<PathBuf>,
    /// The vendor folder (default: $AIRSEAL_VENDOR, else the nearest folder holding
    /// airseal.toml); supplies the key, the issuer id and named templates.
    #[arg(long, value_name = "DIR")]
    pub vendor: Option<PathBuf>,
    /// Product id the license is for (the verifier must expect the same).
    #[arg(long, value_name = "ID")]
    pub product: Option<String>,
    /// Vendor id written as the license's issuer (default: the signing key id).
    #[arg(long, value_name = "NAME")]
    pub issuer: Option<String>,
    /// perpetual, subscription or trial (default: subscription with --days or --expires,
    /// else perpetual; perpetual with an expiry is refused).
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// Licensee's e-mail address.
    #[arg(long, value_name = "E")]
    pub licensee_email: Option<String>,
    /// Licensee's name.
    #[arg(long, value_name = "N")]
    pub licensee_name: Option<String>,
    /// Licensee's organisation.
    #[arg(long, value_name = "O")]
    pub licensee_org: Option<String>,
    /// The product key this license belongs to.
    #[arg(long, value_name = "KEY")]
    pub product_key: Option<String>,
    /// Expiry date or instant.
    #[arg(long, value_name = "DATE", conflicts_with = "days")]
    pub expires: Option<String>,
    /// Valid for N days from now.
    #[arg(long, value_name = "N")]
    pub days: Option<u32>,
    /// Not valid before this date or instant.
    #[arg(long, value_name = "DATE")]
    pub not_before: Option<String>,
    /// Feature bits to grant, comma-separated: F1,F3.
    #[arg(long, value_name = "F1,F2,…", value_delimiter = ',')]
    pub features: Vec<String>,
    /// A named feature (or F1..F8) with an optional end date; repeatable.
    #[arg(long = "feature", value_name = "NAME[=DATE]")]
    pub feature: Vec<String>,
    /// Metadata entry; a value of decimal digits is stored as an integer. Repeatable, ≤ 50.
    #[arg(long = "meta", value_name = "K=V")]
    pub meta: Vec<String>,
    /// Maximum activations: a number or `unlimited`.
    #[arg(long, value_name = "N|unlimited", value_parser = LimitSpec::parse)]
    pub max_activations: Option<LimitSpec>,
    /// Maximum deactivations (seat transfers): a number or `unlimited`.
    #[arg(long, value_name = "N|unlimited", value_parser = LimitSpec::parse)]
    pub max_deactivations: Option<LimitSpec>,
    /// Updates released until this date are covered (perpetual fallback).
    #[arg(long, value_name = "DATE")]
    pub maintenance_until: Option<String>,
    /// Days the license keeps working after expiry, flagged as "in grace".
    #[arg(long, value_name = "DAYS")]
    pub grace_days: Option<u32>,
    /// Clock skew tolerated by the verifier, in minutes.
    #[arg(long, value_name = "MINUTES")]
    pub clock_offset_minutes: Option<u32>,
    /// Where to write the license (`-` for standard output).
    #[arg(long, value_name = "FILE", required_unless_present = "from_import")]
    pub out: Option<PathBuf>,
    /// Write raw COSE bytes instead of armored text.
    #[arg(long)]
    pub raw: bool,
    /// Replace an existing output file.
    #[arg(long)]
    pub force: bool,
    /// Do not use the vendor folder's ledger: no checks of the product and key against it,
    /// nothing recorded (and, outside a vendor folder, no note saying so).
    #[arg(long)]
    pub no_ledger: bool,
    #[arg(long, help = crate::args::JSON_HELP)]
    pub json: bool,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
    #[command(flatten)]
    pub signer: SignerArgs,
    /// `--batch --from-import BATCH_ID --out-dir DIR`: licenses for every imported key.
    #[command(flatten)]
    pub batch: super::issue_batch::BatchArgs,
}

impl IssueArgs {
    /// The license description from the flags alone.
    pub fn spec(&self) -> Result<LicenseSpec, CliError> {
        let mut metadata = std::collections::BTreeMap::new();
        for m in &self.meta {
            let (k, v) = m
                .split_once('=')
                .ok_or_else(|| CliError::msg(format!("--meta {m:?}: expected KEY=VALUE")))?;
            let is_int = !v.is_empty()
                && v.trim_start_matches('-')
                    .bytes()
                    .all(|b| b.is_ascii_digit());
            let value = match v.parse::<i64>() {
                Ok(i) if is_int && (i.to_string() == v) => MetaSpec::Int(i),
                _ => MetaSpec::Text(v.to_string()),
            };
            if metadata.insert(k.to_string(), value).is_some() {
                return Err(CliError::msg(format!("--meta {k:?} given twice")));
            }
        }
        let mut features = self.features.clone();
        features.extend(self.feature.iter().cloned());
        Ok(LicenseSpec {
            product: self.product.clone(),
            issuer: self.issuer.clone(),
            kind: self.kind.clone(),
            licensee_name: self.licensee_name.clone(),
            licensee_email: self.licensee_email.clone(),
            licensee_org: self.licensee_org.clone(),
            product_key: self.product_key.clone(),
            days: self.days,
            expires: self.expires.clone(),
            not_before: self.not_before.clone(),
            features,
            max_activations: self.max_activations,
            max_deactivations: self.max_deactivations,
            maintenance_until: self.maintenance_until.clone(),
            grace_days: self.grace_days,
            clock_offset_minutes: self.clock_offset_minutes,
            metadata,
            machine_threshold: None,
            min_components: None,
            term_starts: None,
        })
    }
}

/// Runs `airseal issue`.
pub fn run(args: &IssueArgs) -> Result<ExitCode, CliError> {
    if let Some(batch) = args.batch.from_import {
        return super::issue_batch::run(args, batch);
    }
    let out_path = args
        .out
        .clone()
        .ok_or_else(|| CliError::msg("--out is required (or --batch --from-import)"))?;
    let mut spec = args.spec()?;
    // The vendor folder is optional for `issue`: used when found (or named), for the key,
    // the vendor id and named templates.
    let vendor_args = crate::args::VendorArgs {
        vendor: args.vendor.clone(),
        database: None,
    };
    let vendor = match vendor_args.open() {
        Ok(v) => Some(v),
        // No vendor folder here: fine for `issue`. One that is found but does not load (a bad
        // template) is refused, as by every other command.
        Err(CliError::VendorDir(VendorDirError::NotFound { .. })) if args.vendor.is_none() => None,
        Err(e) => return Err(e),
    };
    if let Some(t) = &args.template {
        let config = vendor.as_ref().map(VendorDir::config);
        let base = template::resolve(t, spec.product.as_deref(), config)?;
        spec = spec.or(base);
    }
    if let Some(v) = &vendor {
        if spec.issuer.is_none() {
            spec.issuer = Some(v.config().vendor.clone());
        }
    }
    let signer = super::signer_choice(vendor.as_ref(), args.key.as_deref(), &args.signer)?;
    if spec.product.is_none() {
        return Err(CliError::msg(
            "--product is required (or `product` in the --template file)",
        ));
    }
    if args.json && out_path.as_os_str() == "-" {
        return Err(CliError::Message(
            "--json prints the result on standard output: write the license with --out FILE".into(),
            2,
        ));
    }
    if out_path.as_os_str() != "-" && out_path.exists() && !args.force {
        // Checked before asking for the passphrase, so nobody types it for nothing.
        return Err(CliError::msg(format!(
            "{} already exists; pass --force to replace it",
            out_path.display()
        )));
    }
    // With a vendor folder the description is checked against its ledger before the
    // passphrase is asked for, and the license recorded once its file is written.
    let now = chrono::Utc::now().timestamp();
    let mut ledger = match (&vendor, args.no_ledger) {
        (Some(v), false) => {
            let ledger = v
                .open_ledger()
                .map_err(|e| CliError::from(e).at(&v.ledger_path()))?;
            recorded::check(v, &ledger, &mut spec, now)?;
            Some(ledger)
        }
        (None, false) => {
            errln!(
                "note: no vendor folder, so this license is recorded in no ledger (pass \
                 --no-ledger to say that is intended)"
            );
            None
        }
        (_, true) => None,
    };
    let issuer = super::unlock_choice(vendor.as_ref(), &signer, &args.passphrase)?;
    let deliver = |_: &airseal_core::LicenseClaims, bytes: &[u8]| -> Result<(), CliError> {
        let out = if args.raw {
            bytes.to_vec()
        } else {
            armor(ObjectType::License.armor_label(), bytes).into_bytes()
        };
        if out_path.as_os_str() == "-" {
            crate::term::out_bytes(&out);
            Ok(())
        } else {
            crate::io::write_output(&out_path, &out, args.force)
        }
    };
    let issued = issue_recorded(
        &issuer,
        &spec,
        now,
        ledger.as_mut(),
        &serde_json::json!({"out": out_path.display().to_string()}),
        deliver,
    );
    let (claims, bytes) = match issued {
        Err(CliError::Recorded(e @ RecordedError::NotRecorded { .. }))
            if out_path.as_os_str() != "-" =>
        {
            // Written, then refused by the ledger: not handed out unrecorded.
            let _ = std::fs::remove_file(&out_path);
            return Err(CliError::Recorded(e));
        }
        other => other?,
    };
    let license_id = &claims.license_id;
    if out_path.as_os_str() != "-" {
        if args.json {
            crate::term::out_json(&serde_json::json!({
                "license_id": license_id,
                "product": claims.product,
                "key_id": issuer.key_id().to_string(),
                "bytes": bytes.len(),
                "out": out_path.display().to_string(),
                "claims": airseal_core::json::claims_to_json(&claims),
            }));
        }
        errln!(
            "issued license {license_id} ({} bytes signed, key {}) → {}",
            bytes.len(),
            issuer.key_id(),
            out_path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
