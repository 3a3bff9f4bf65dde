//! `airseal import`: bring keys over from another licensing platform's CSV export.
//!
//! A shell over `airseal_vendor::import`: reads the file and the mapping flags, runs the
//! import (one transaction), prints a summary that accounts for every row and writes the full
//! report as JSON.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use airseal_vendor::import::{
    self, ImportOptions, ImportProgress, ImportReport, Preset, RejectKind, Target,
};
use clap::Args;

use crate::args::VendorArgs;
use crate::error::CliError;

/// How many rejected rows the terminal summary lists (the report has them all).
const SHOWN: usize = 20;

/// Arguments of `airseal import`.
#[derive(Debug, Args)]
#[command(
    after_help = "PRESETS: cryptlex-v2, cryptlex (v3), keygen, lemonsqueezy, cryptolens, \
    generic. TARGETS for --map: key, email, name, first_name, last_name, org, status, expires, \
    created, max_activations, used_activations, max_deactivations, used_deactivations, features, \
    f1..f8, period_days, interval, custom_fields, metadata_json, suspended, revoked, meta:NAME, \
    ignore.\n\n\
    Every data row ends up in exactly one bucket: read = imported + already present + rejected. \
    When any row is rejected the command exits 4 (the other rows are imported and the report \
    is written all the same), so scripts notice. \
    The import is one transaction: interrupted, the ledger holds none of it. An import of \
    100,000 rows or more, when no other command has the ledger open, writes without SQLite's \
    WAL (faster); other commands started meanwhile wait for it, up to 10 s. Keys are kept \
    exactly as exported. Then issue the licenses:\n  \
    airseal issue --batch --from-import BATCH_ID --out-dir licenses/\n\n\
    Example:\n  airseal import --from cryptlex-v2 export.csv --product photo-pro \\\n    \
    --report import-report.json"
)]
pub struct ImportArgs {
    /// The export format.
    #[arg(long = "from", value_name = "PRESET", value_parser = Preset::parse)]
    pub preset: Preset,
    /// The CSV export.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Product id (a [products.<id>] table of airseal.toml) the keys belong to.
    #[arg(long, value_name = "ID")]
    pub product: String,
    /// Read column SOURCE (its header) as TARGET, overriding the preset. Repeatable.
    #[arg(long = "map", value_name = "SOURCE=TARGET")]
    pub maps: Vec<String>,
    /// A file of SOURCE=TARGET lines (blank lines and `#` comments allowed), read before
    /// the --map flags.
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// A template of the product (airseal.toml) the imported terms are laid over when
    /// licenses are issued.
    #[arg(long, value_name = "NAME")]
    pub template: Option<String>,
    /// Read, check and report; write nothing to the ledger.
    #[arg(long)]
    pub dry_run: bool,
    /// Replace the terms of keys already in the ledger with different ones (otherwise
    /// they are reported as conflicts and left alone).
    #[arg(long)]
    pub update: bool,
    /// Write the full report (every rejected row with line, column and reason) as JSON.
    #[arg(long, value_name = "REPORT.json")]
    pub report: Option<PathBuf>,
    /// Replace an existing report file.
    #[arg(long)]
    pub force: bool,
    /// Print the report as JSON on standard output instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// No progress display.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub vendor: VendorArgs,
}

fn parse_map(s: &str, origin: &str) -> Result<(String, Target), CliError> {
    // Split at the last `=`: targets never contain one, headers might.
    let (source, target) = s
        .rsplit_once('=')
        .ok_or_else(|| CliError::msg(format!("{origin} {s:?}: expected SOURCE=TARGET")))?;
    let target =
        Target::parse(target.trim()).map_err(|e| CliError::msg(format!("{origin} {s:?}: {e}")))?;
    Ok((source.trim().to_string(), target))
}

/// Runs `airseal import`.
pub fn run(args: &ImportArgs) -> Result<ExitCode, CliError> {
    if let Some(r) = &args.report {
        if r.exists() && !args.force {
            return Err(CliError::io(
                r,
                std::io::Error::from(std::io::ErrorKind::AlreadyExists),
            ));
        }
    }
    let mut maps = Vec::new();
    if let Some(path) = &args.mapping {
        let text = std::fs::read_to_string(path).map_err(|e| CliError::io(path, e))?;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            maps.push(parse_map(line, &format!("{}:{}:", path.display(), i + 1))?);
        }
    }
    for m in &args.maps {
        maps.push(parse_map(m, "--map")?);
    }
    let vendor = args.vendor.open()?;
    let product_cfg = vendor.config().products.get(&args.product).ok_or_else(|| {
        CliError::msg(format!(
            "unknown product {:?}: add a [products.{}] table to {}",
            args.product,
            args.product,
            vendor.config_path().display()
        ))
    })?;
    let template = match &args.template {
        Some(name) => Some((
            name.clone(),
            vendor.config().template_spec(&args.product, name)?,
        )),
        None => None,
    };
    let data = std::fs::read(&args.file).map_err(|e| CliError::io(&args.file, e))?;
    let opts = ImportOptions {
        preset: args.preset,
        product: args.product.clone(),
        maps,
        template,
        skgl_secret: product_cfg.skgl_secret.clone(),
        update: args.update,
        dry_run: args.dry_run,
        file: args.file.display().to_string(),
    };
    let mut ledger = vendor.open_ledger()?;
    let started = std::time::Instant::now();
    let mut bar = PhaseBar::new(args.quiet);
    let report = import::import_with_progress(&mut ledger, &data, &opts, &mut |p| bar.show(p))
        .map_err(|e| CliError::from(e).at(&args.file))?;
    drop(bar);
    let elapsed = started.elapsed();
    if let Some(path) = &args.report {
        let json = serde_json::to_vec_pretty(&report)
            .map_err(|e| CliError::msg(format!("cannot write the report as JSON: {e}")))?;
        crate::io::write_output(path, &json, args.force)?;
    }
    if args.json {
        let json = serde_json::to_string_pretty(&report)
            .map_err(|e| CliError::msg(format!("cannot write the report as JSON: {e}")))?;
        crate::term::out_json_text(&json);
    } else {
        print_summary(&args.file, &report, args.report.as_deref(), elapsed);
    }
    if report.rejected > 0 {
        // The report above says which rows and why; the code tells scripts.
        return Ok(ExitCode::from(crate::error::IMPORT_REJECTED));
    }
    Ok(ExitCode::SUCCESS)
}

/// One bar per phase of the import: bytes while the export is parsed, then rows while they
/// are written to the ledger.
struct PhaseBar {
    quiet: bool,
    /// The bar of the phase under way and whether it is the writing one.
    current: Option<(bool, crate::progress::Progress)>,
}

impl PhaseBar {
    fn new(quiet: bool) -> Self {
        Self {
            quiet,
            current: None,
        }
    }

    fn show(&mut self, p: ImportProgress) {
        let (writing, done, total) = match p {
            ImportProgress::Parsing { bytes, total } => (false, bytes, total),
            ImportProgress::Writing { rows, total } => (true, rows, total),
        };
        if self.current.as_ref().is_none_or(|(w, _)| *w != writing) {
            // Clears the previous phase's bar before the next one is drawn.
            self.current = None;
            let bar = if writing {
                crate::progress::Progress::bar(total, "rows written", self.quiet)
            } else {
                crate::progress::Progress::bytes(total, "parsing", self.quiet)
            };
            self.current = Some((writing, bar));
        }
        if let Some((_, bar)) = &self.current {
            bar.set(done);
        }
    }
}

fn print_summary(
    file: &Path,
    r: &ImportReport,
    report_path: Option<&Path>,
    elapsed: std::time::Duration,
) {
    let what = match r.batch {
        Some(b) => format!("batch {b}"),
        None => "dry run: nothing written".to_string(),
    };
    outln!(
        "{} export {} → product {} ({what}, {:.2} s)",
        r.preset,
        file.display(),
        r.product,
        elapsed.as_secs_f64()
    );
    outln!("  rows read        {:>9}", r.read);
    outln!(
        "  imported         {:>9}{}",
        r.imported,
        if r.updated > 0 {
            format!("  (of which {} updated)", r.updated)
        } else {
            String::new()
        }
    );
    outln!("  already present  {:>9}", r.already_present);
    outln!(
        "  rejected         {:>9}  ({} invalid, {} duplicate, {} conflict)",
        r.rejected,
        r.invalid,
        r.duplicates,
        r.conflicts
    );
    if r.blank_lines > 0 {
        outln!("  (blank lines skipped: {})", r.blank_lines);
    }
    if let Some(n) = r.skgl_decoded {
        outln!("  (SKGL keys decoded with the product's secret: {n})");
    }
    for rej in r.rejections.iter().take(SHOWN) {
        let column = rej
            .column
            .as_ref()
            .map(|c| format!(" column {c:?}:"))
            .unwrap_or_default();
        let kind = match rej.kind {
            RejectKind::Invalid => "",
            RejectKind::Duplicate => " duplicate:",
            RejectKind::Conflict => " conflict:",
        };
        outln!(
            "  {}:{}:{kind}{column} {}",
            file.display(),
            rej.line,
            // The reason quotes the file's cells: untrusted text.
            crate::term::field(&rej.reason)
        );
    }
    if r.rejections.len() > SHOWN {
        outln!(
            "  … and {} more{}",
            r.rejections.len() - SHOWN,
            match report_path {
                Some(p) => format!(" (all in {})", p.display()),
                None => " (pass --report FILE to see them all)".to_string(),
            }
        );
    }
    if let Some(b) = r.batch {
        if r.imported > 0 {
            outln!("Next: airseal issue --batch --from-import {b} --out-dir licenses-{b}");
        }
    }
}
