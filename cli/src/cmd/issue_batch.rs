//! `airseal issue --batch --from-import BATCH_ID --out-dir DIR`: one signed license file per
//! key an import wrote, signed and written on every core, with a progress bar.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;

use airseal_core::LicenseClaims;
use airseal_core::ObjectType;
use airseal_core::armor::armor;
use airseal_vendor::import::licenses::{self, Skipped};
use airseal_vendor::issue::LicenseSpec;
use airseal_vendor::ledger::signed_claims;
use clap::Args;

use super::issue::IssueArgs;
use crate::exit::CliError;

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

/// A file name for a key: letters, digits, `-`, `_` and `.` kept, anything else `_`.
fn file_stem(key: &str) -> String {
    let mut s: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.starts_with('.') {
        s.insert(0, '_');
    }
    s
}

/// A CSV cell, quoted when it needs to be.
fn cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Runs batch mode.
pub fn run(args: &IssueArgs, batch: i64) -> Result<ExitCode, CliError> {
    let b = &args.batch;
    let out_dir = b
        .out_dir
        .clone()
        .ok_or_else(|| CliError::msg("--from-import needs --out-dir"))?;
    let vendor = super::keys::VendorArgs {
        vendor: args.vendor.clone(),
    }
    .open()?;
    let ledger = vendor
        .open_ledger()
        .map_err(|e| CliError::msg(e.to_string()))?;
    let info = ledger
        .imports()
        .get(batch)
        .map_err(|e| CliError::msg(e.to_string()))?
        .ok_or_else(|| CliError::msg(format!("batch {batch} is not an import")))?;
    let mut defaults = args.spec()?;
    if let Some(t) = &args.template {
        let base = if t.exists() {
            let text = crate::io::read_input(t)?;
            let text = String::from_utf8(text)
                .map_err(|_| CliError::msg(format!("{}: not UTF-8 text", t.display())))?;
            LicenseSpec::from_toml(&text)
                .map_err(|e| CliError::msg(format!("{}: {e}", t.display())))?
        } else {
            vendor
                .config()
                .template_spec(&info.product, &t.to_string_lossy())
                .map_err(|e| CliError::msg(e.to_string()))?
        };
        defaults = defaults.or(base);
    }
    if defaults.issuer.is_none() {
        defaults.issuer = Some(vendor.config().vendor.clone());
    }
    let now = chrono::Utc::now().timestamp();
    let plan = licenses::plan(
        &ledger,
        batch,
        &defaults,
        |name| {
            vendor
                .config()
                .template_spec(&info.product, name)
                .map_err(|e| e.to_string())
        },
        now,
    )
    .map_err(|e| CliError::msg(e.to_string()))?;
    // File names, decided (and checked against existing files) before any signing.
    let mut used = HashSet::new();
    let names: Vec<String> = plan
        .jobs
        .iter()
        .map(|j| {
            let stem = file_stem(&j.key);
            let mut name = format!("{stem}.lic");
            let mut n = 2;
            while !used.insert(name.to_ascii_lowercase()) {
                name = format!("{stem}~{n}.lic");
                n += 1;
            }
            name
        })
        .collect();
    let index_path = out_dir.join("index.csv");
    if !args.force {
        for name in names.iter().map(String::as_str).chain(["index.csv"]) {
            let p = out_dir.join(name);
            if p.exists() {
                return Err(CliError::msg(format!(
                    "{} already exists; pass --force to replace the files in {}",
                    p.display(),
                    out_dir.display()
                )));
            }
        }
    }
    let key_path = args
        .key
        .clone()
        .unwrap_or_else(|| vendor.signing_key_path());
    let issuer = super::unlock_key(&key_path, &args.passphrase)?;
    std::fs::create_dir_all(&out_dir).map_err(|e| CliError::io(&out_dir, e))?;

    let total = plan.jobs.len() as u64;
    let bar = crate::progress::Progress::bar(total, "licenses", b.quiet);
    // Each license's claims, read back from the signed bytes (what the file holds), for the
    // index and the ledger.
    let signed: Vec<Mutex<Option<Result<LicenseClaims, String>>>> =
        plan.jobs.iter().map(|_| Mutex::new(None)).collect();
    let specs: Vec<LicenseSpec> = plan.jobs.iter().map(|j| j.spec.clone()).collect();
    let raw = args.raw;
    let started = std::time::Instant::now();
    let sink = |i: usize, result: licenses::Issued| -> Result<(), CliError> {
        let outcome = match result.map_err(|e| e.to_string()).and_then(|(_, bytes)| {
            signed_claims(&bytes)
                .map(|claims| (claims, bytes))
                .map_err(|e| e.to_string())
        }) {
            Ok((claims, bytes)) => {
                let name = names.get(i).map_or("", String::as_str);
                let contents = if raw {
                    bytes
                } else {
                    armor(ObjectType::License.armor_label(), &bytes).into_bytes()
                };
                write_license(&out_dir, name, &contents)?;
                Ok(claims)
            }
            Err(e) => Err(e),
        };
        if let Some(slot) = signed.get(i) {
            if let Ok(mut s) = slot.lock() {
                *s = Some(outcome);
            }
        }
        bar.inc(1);
        Ok(())
    };
    licenses::issue_parallel(&issuer, &specs, now, b.threads, &sink)?;
    let elapsed = started.elapsed();
    bar.finish();
    // index.csv: every key of the import, with its file and license id or why it has none.
    let mut index = String::from("key,file,license_id,licensee_email,result\n");
    let mut issued = 0u64;
    let mut recorded: Vec<LicenseClaims> = Vec::with_capacity(plan.jobs.len());
    let mut skipped: Vec<Skipped> = plan.skipped.clone();
    for ((job, name), slot) in plan.jobs.iter().zip(&names).zip(&signed) {
        let outcome = slot.lock().ok().and_then(|mut s| s.take());
        let email = job.spec.licensee_email.as_deref().unwrap_or("");
        match outcome {
            Some(Ok(claims)) => {
                issued += 1;
                index.push_str(&format!(
                    "{},{},{},{},issued\n",
                    cell(&job.key),
                    cell(name),
                    claims.license_id,
                    cell(email)
                ));
                recorded.push(claims);
            }
            Some(Err(reason)) => skipped.push(Skipped {
                key: job.key.clone(),
                reason,
            }),
            None => skipped.push(Skipped {
                key: job.key.clone(),
                reason: "not issued".into(),
            }),
        }
    }
    for s in &skipped {
        index.push_str(&format!(
            "{},,,,{}\n",
            cell(&s.key),
            cell(&format!("skipped: {}", s.reason))
        ));
    }
    crate::io::write_output(&index_path, index.as_bytes(), true)?;
    // Every license of the run and the run's audit row, in one transaction. The files are
    // already in place, so a failure here must say so: they are valid licenses the ledger
    // does not know.
    ledger
        .licenses()
        .record_batch(
            batch,
            &recorded,
            &serde_json::json!({
                "product": plan.product,
                "issued": issued,
                "skipped": skipped.len(),
                "out_dir": out_dir.display().to_string(),
                "key_id": issuer.key_id().to_string(),
            }),
        )
        .map_err(|e| {
            CliError::msg(format!(
                "{issued} license files were written to {} (see {}), but the ledger could \
                 not record them: {e}. Until it does, `airseal ledger licenses` does not \
                 list them; once the ledger is writable again, run this command again with \
                 --force to issue and record a fresh set over them",
                out_dir.display(),
                index_path.display()
            ))
        })?;
    let secs = elapsed.as_secs_f64();
    if args.json {
        crate::term::out_json(&serde_json::json!({
            "import_batch": batch,
            "product": plan.product,
            "issued": issued,
            "skipped": skipped.len(),
            "out_dir": out_dir.display().to_string(),
            "index": index_path.display().to_string(),
            "key_id": issuer.key_id().to_string(),
            "seconds": secs,
        }));
    }
    errln!(
        "issued {issued} licenses for import batch {batch} in {secs:.2} s ({:.0}/s, key {}) → {}",
        if secs > 0.0 {
            issued as f64 / secs
        } else {
            0.0
        },
        issuer.key_id(),
        out_dir.display()
    );
    if !skipped.is_empty() {
        errln!(
            "{} keys got no license (suspended, revoked, expired or invalid): see {}",
            skipped.len(),
            index_path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes one license through a temporary file and a rename, so a file in the folder is
/// always a whole license. Not synced one by one: the files can be issued again.
fn write_license(dir: &Path, name: &str, contents: &[u8]) -> Result<(), CliError> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, contents).map_err(|e| CliError::io(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| CliError::io(&path, e))
}
