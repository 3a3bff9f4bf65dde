//! Issuing the licenses of an import into a folder: one `KEY.lic` per key, an `index.csv`
//! listing every key with its file and license id (or why it got none), and the ledger
//! record of every license with the run's audit row (`SPEC.md` §15).
//!
//! Two calls, so a caller can ask for the passphrase only once nothing stands in the way:
//! [`prepare`] reads the import, builds each key's license description ([`super::licenses`])
//! and decides every file name, refusing to replace existing files unless told to; [`issue`]
//! signs on every core, writes the files and records them.

use std::collections::HashSet;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use airseal_core::armor::armor;
use airseal_core::cose::ObjectType;
use airseal_core::{KeyId, LicenseClaims, UnixTime};

use super::licenses::{self, Plan, PlanError, Skipped};
use crate::csv::cell;
use crate::issue::{Issuer, LicenseSpec};
use crate::ledger::{BatchId, Ledger, LedgerError, signed_claims};
use crate::template::{self, TemplateError};
use crate::vendor_dir::Config;
use airseal_verify::app::fs as durable;

/// The index file written next to the licenses.
pub const INDEX_FILE: &str = "index.csv";

/// What to issue and where.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The folder for the license files and [`INDEX_FILE`] (created if missing).
    pub out_dir: PathBuf,
    /// Terms under each key's imported ones (the caller's flags).
    pub defaults: LicenseSpec,
    /// A template (file or name, see [`template::resolve`]) under the defaults.
    pub template: Option<PathBuf>,
    /// Write raw COSE bytes instead of armored text.
    pub raw: bool,
    /// Replace existing files of the same names.
    pub force: bool,
    /// Signing threads (0: one per core).
    pub threads: usize,
    /// The issue time of every license.
    pub now: UnixTime,
}

/// An export ready to sign: every check passed, every name decided.
#[derive(Debug)]
pub struct Prepared {
    batch: BatchId,
    plan: Plan,
    names: Vec<String>,
    options: ExportOptions,
}

impl Prepared {
    /// How many licenses [`issue`] will sign (keys left out are in the index only).
    pub fn licenses(&self) -> usize {
        self.plan.jobs.len()
    }
}

/// What [`issue`] did.
#[derive(Debug, Clone)]
pub struct ExportReport {
    /// The product.
    pub product: String,
    /// The import batch.
    pub batch: BatchId,
    /// Licenses written (and recorded).
    pub issued: u64,
    /// Keys that got no license, and why (also in the index).
    pub skipped: Vec<Skipped>,
    /// The folder.
    pub out_dir: PathBuf,
    /// The index file.
    pub index: PathBuf,
    /// The signing key's id.
    pub key_id: KeyId,
}

/// Why an export could not be prepared or finished.
#[non_exhaustive]
#[derive(Debug)]
pub enum ExportError {
    /// The batch is not an import.
    NotAnImport {
        /// The batch id.
        batch: BatchId,
    },
    /// The template could not be resolved.
    Template(TemplateError),
    /// The licenses could not be planned (the ledger, or a template recorded at import).
    Plan(PlanError),
    /// A file the export would write exists, and replacing was not asked for. Nothing was
    /// written.
    AlreadyExists {
        /// The existing file.
        path: PathBuf,
        /// The folder of the export.
        out_dir: PathBuf,
    },
    /// A file or the folder could not be written.
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The license files are written, but the ledger could not record them: valid
    /// licenses the ledger does not know about until the export is run again.
    NotRecorded {
        /// Licenses written.
        issued: u64,
        /// Their folder.
        out_dir: PathBuf,
        /// The index listing them.
        index: PathBuf,
        /// The ledger's error (boxed: the variant would otherwise make every result large).
        source: Box<LedgerError>,
    },
    /// The ledger failed.
    Ledger(LedgerError),
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAnImport { batch } => write!(f, "batch {batch} is not an import"),
            Self::Template(e) => e.fmt(f),
            Self::Plan(e) => e.fmt(f),
            Self::AlreadyExists { path, .. } => write!(f, "{} already exists", path.display()),
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::NotRecorded {
                issued,
                out_dir,
                index,
                source,
            } => write!(
                f,
                "{issued} license files were written to {} (see {}), but the ledger could not \
                 record them: {source}",
                out_dir.display(),
                index.display()
            ),
            Self::Ledger(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ExportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Template(e) => Some(e),
            Self::Plan(e) => Some(e),
            Self::Io { source, .. } => Some(source),
            Self::NotRecorded { source, .. } => Some(source.as_ref()),
            Self::Ledger(source) => Some(source),
            _ => None,
        }
    }
}

impl From<durable::WriteError> for ExportError {
    fn from(e: durable::WriteError) -> Self {
        ExportError::Io {
            path: e.path().to_path_buf(),
            source: e.into(),
        }
    }
}

impl From<LedgerError> for ExportError {
    fn from(e: LedgerError) -> Self {
        Self::Ledger(e)
    }
}

/// Plans the licenses of import `batch` and decides their file names; checks that nothing
/// would be replaced unless `options.force`. Writes nothing.
///
/// # Errors
/// [`ExportError::NotAnImport`], [`ExportError::Template`], [`ExportError::Plan`],
/// [`ExportError::AlreadyExists`], [`ExportError::Ledger`].
pub fn prepare(
    ledger: &Ledger,
    config: &Config,
    batch: BatchId,
    options: ExportOptions,
) -> Result<Prepared, ExportError> {
    let info = ledger
        .imports()
        .get(batch)?
        .ok_or(ExportError::NotAnImport { batch })?;
    let mut defaults = options.defaults.clone();
    if let Some(t) = &options.template {
        let base = template::resolve(t, Some(&info.product), Some(config))
            .map_err(ExportError::Template)?;
        defaults = defaults.or(base);
    }
    if defaults.issuer.is_none() {
        defaults.issuer = Some(config.vendor.clone());
    }
    let plan = licenses::plan(
        ledger,
        batch,
        &defaults,
        |name| {
            config
                .template_spec(&info.product, name)
                .map_err(|e| e.to_string())
        },
        options.now,
    )
    .map_err(ExportError::Plan)?;
    let names = file_names(plan.jobs.iter().map(|j| j.key.as_str()));
    if !options.force {
        for name in names.iter().map(String::as_str).chain([INDEX_FILE]) {
            let path = options.out_dir.join(name);
            if path.exists() {
                return Err(ExportError::AlreadyExists {
                    path,
                    out_dir: options.out_dir.clone(),
                });
            }
        }
    }
    Ok(Prepared {
        batch,
        plan,
        names,
        options,
    })
}

/// Signs every planned license on `options.threads` threads, writes the files and the
/// index, and records the licenses and the run in the ledger (one transaction).
/// `progress` is called once per license made, from the thread that made it.
///
/// # Errors
/// [`ExportError::Io`] for the folder or a file; [`ExportError::NotRecorded`] when the files
/// are written but the ledger refused.
pub fn issue(
    ledger: &mut Ledger,
    issuer: &Issuer,
    prepared: Prepared,
    progress: &(dyn Fn() + Sync),
) -> Result<ExportReport, ExportError> {
    let Prepared {
        batch,
        plan,
        names,
        options,
    } = prepared;
    let out_dir = options.out_dir;
    std::fs::create_dir_all(&out_dir).map_err(|source| ExportError::Io {
        path: out_dir.clone(),
        source,
    })?;
    // Each license's claims, read back from the signed bytes (what the file holds), for the
    // index and the ledger.
    let signed: Vec<Mutex<Option<Result<LicenseClaims, String>>>> =
        plan.jobs.iter().map(|_| Mutex::new(None)).collect();
    let specs: Vec<LicenseSpec> = plan.jobs.iter().map(|j| j.spec.clone()).collect();
    let raw = options.raw;
    let sink = |i: usize, result: licenses::Issued| -> Result<(), ExportError> {
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
        progress();
        Ok(())
    };
    licenses::issue_parallel(issuer, &specs, options.now, options.threads, &sink)?;
    // index.csv: every key of the import, with its file and license id or why it has none.
    let mut index = String::from("key,file,license_id,licensee_email,result\n");
    let mut issued = 0u64;
    let mut recorded: Vec<LicenseClaims> = Vec::with_capacity(plan.jobs.len());
    let mut written: Vec<PathBuf> = Vec::with_capacity(plan.jobs.len());
    let mut skipped: Vec<Skipped> = plan.skipped.clone();
    for ((job, name), slot) in plan.jobs.iter().zip(&names).zip(&signed) {
        let outcome = slot.lock().ok().and_then(|mut s| s.take());
        let email = job.spec.licensee_email.as_deref().unwrap_or("");
        match outcome {
            Some(Ok(claims)) => {
                issued += 1;
                written.push(out_dir.join(name));
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
    let index_path = out_dir.join(INDEX_FILE);
    // The license files reach the disk before the index that lists them.
    durable::sync_files(written.iter().map(PathBuf::as_path))?;
    // The index lists every license's key and licensee: owner-only, like the ledger.
    durable::write(
        &index_path,
        index.as_bytes(),
        durable::Access::OwnerOnly,
        durable::Mode::Replace,
    )?;
    // Every license of the run and the run's audit row, in one transaction. The files are
    // already in place, so a failure here must say so: they are valid licenses the ledger
    // does not know.
    ledger
        .licenses()
        .record_batch(
            batch,
            &recorded,
            Some(issuer.key_id()),
            &serde_json::json!({
                "product": plan.product,
                "issued": issued,
                "skipped": skipped.len(),
                "out_dir": out_dir.display().to_string(),
                "key_id": issuer.key_id().to_string(),
            }),
        )
        .map_err(|source| ExportError::NotRecorded {
            issued,
            out_dir: out_dir.clone(),
            index: index_path.clone(),
            source: Box::new(source),
        })?;
    Ok(ExportReport {
        product: plan.product,
        batch,
        issued,
        skipped,
        out_dir,
        index: index_path,
        key_id: issuer.key_id(),
    })
}

/// One file name per key, in order: the key's [`file_stem`] with `.lic`, and `~2`, `~3`…
/// for keys whose names collide (compared case-insensitively, as some filesystems do).
pub fn file_names<'a>(keys: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut used = HashSet::new();
    keys.map(|key| {
        let stem = file_stem(key);
        let mut name = format!("{stem}.lic");
        let mut n = 2;
        while !used.insert(name.to_ascii_lowercase()) {
            name = format!("{stem}~{n}.lic");
            n += 1;
        }
        name
    })
    .collect()
}

/// A file name for a key: letters, digits, `-`, `_` and `.` kept, anything else `_`; never
/// a hidden file.
pub fn file_stem(key: &str) -> String {
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

/// Writes one license through the durable writer, so a file in the folder is always a whole
/// license. Not synced one by one (an fsync per file would make the disk the bottleneck):
/// all are synced at once before `index.csv` lists them.
fn write_license(dir: &Path, name: &str, contents: &[u8]) -> Result<(), ExportError> {
    durable::write_unsynced(
        &dir.join(name),
        contents,
        durable::Access::Default,
        durable::Mode::Replace,
    )
    .map_err(ExportError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_safe_and_distinct() {
        let names = file_names(
            ["ABC-123", "abc-123", "a/b", ".hidden", "ABC-123"]
                .iter()
                .copied(),
        );
        assert_eq!(
            names,
            [
                "ABC-123.lic",
                "abc-123~2.lic",
                "a_b.lic",
                "_.hidden.lic",
                "ABC-123~3.lic"
            ]
        );
    }
}
