//! `airseal issue --batch --from-import BATCH_ID --out-dir DIR`: one signed license file per
//! key an import wrote, signed and written on every core, with a progress bar.

use std::path::PathBuf;
use std::process::ExitCode;

use airseal_vendor::import::export::{self, ExportOptions};
use clap::Args;

use super::issue::IssueArgs;
use crate::error::CliError;

/// The batch-mode flags of `airseal issue`.
#[derive(Debug, Clone, Default, Args)]
pub struct BatchArgs {
    /// Issue one license per key of an import (with --from-import and --out-dir). The other
    /// flags and --template then give defaults under each key's imported terms.
    #[arg(long, requires = "from_import")]
    pub batch: bool,
    /// The import's batch id, as `airseal import` printed it.
    #[arg(long, value_name = "BATCH_ID", requires_all = ["batch", "out_dir"],
          conflicts_with_all = ["out", "product", "product_key"])]
    pub from_import: Option<i64>,
    /// The folder for the license files (`KEY.lic`, and `index.csv` listing every key with
    /// its file and license id, or why it got none).
    #[arg(long, value_name = "DIR", requires = "from_import")]
    pub out_dir: Option<PathBuf>,
    /// Signing threads (default: one per core).
    #[arg(long, value_name = "N", default_value_t = 0, requires = "from_import")]
    pub threads: usize,
    /// No progress bar.
    #[arg(long, requires = "from_import")]
    pub quiet: bool,
}

/// Runs batch mode: parse, [`export::prepare`] (every check, before the passphrase is asked
/// for), [`export::issue`], render.
pub fn run(args: &IssueArgs, batch: i64) -> Result<ExitCode, CliError> {
    let b = &args.batch;
    let out_dir = b
        .out_dir
        .clone()
        .ok_or_else(|| CliError::msg("--from-import needs --out-dir"))?;
    let vendor = crate::args::VendorArgs {
        vendor: args.vendor.clone(),
        database: None,
    }
    .open()?;
    let mut ledger = vendor.open_ledger()?;
    let options = ExportOptions {
        out_dir,
        defaults: args.spec()?,
        template: args.template.clone(),
        raw: args.raw,
        force: args.force,
        threads: b.threads,
        now: chrono::Utc::now().timestamp(),
    };
    let prepared = export::prepare(&ledger, vendor.config(), batch, options)?;
    let issuer = super::unlock_signer(
        Some(&vendor),
        args.key.as_deref(),
        &args.signer,
        &args.passphrase,
    )?;

    let bar = crate::progress::Progress::bar(prepared.licenses() as u64, "licenses", b.quiet);
    let started = std::time::Instant::now();
    let report = export::issue(&mut ledger, &issuer, prepared, &|| bar.inc(1))?;
    let elapsed = started.elapsed();
    bar.finish();
    let secs = elapsed.as_secs_f64();
    if args.json {
        crate::term::out_json(&serde_json::json!({
            "import_batch": batch,
            "product": report.product,
            "issued": report.issued,
            "skipped": report.skipped.len(),
            "out_dir": report.out_dir.display().to_string(),
            "index": report.index.display().to_string(),
            "key_id": report.key_id.to_string(),
            "seconds": secs,
        }));
    }
    errln!(
        "issued {} for import batch {batch} in {secs:.2} s ({:.0}/s, key {}) → {}",
        crate::term::count(report.issued, "license", "licenses"),
        if secs > 0.0 {
            report.issued as f64 / secs
        } else {
            0.0
        },
        report.key_id,
        report.out_dir.display()
    );
    if !report.skipped.is_empty() {
        errln!(
            "{} keys got no license (suspended, revoked, expired or invalid): see {}",
            report.skipped.len(),
            report.index.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
