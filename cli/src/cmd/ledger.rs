//! `airseal ledger`: list and search the vendor ledger — keys, licenses (every document
//! signed, by `issue`, `issue --batch` or an activation), activations (seats) and the audit
//! log — as a table, CSV or JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use airseal_vendor::ledger::{
    ActivationFilter, AuditFilter, KeyFilter, KeyStatus, LedgerLocation, LicenseFilter,
    LicenseSource,
};
use airseal_vendor::listing::{
    ACTIVATION_COLUMNS, AUDIT_COLUMNS, BATCH_COLUMNS, HISTORY_COLUMNS, KEY_COLUMNS,
    LICENSE_COLUMNS, activation_row, audit_row, batch_row, history_row, key_row, license_row,
};
use airseal_vendor::time::{EndOfDay, parse_time};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::args::VendorArgs;
use crate::error::CliError;
use crate::render::{Format, Renderer, Sink};

/// `airseal ledger …`
#[derive(Debug, Args)]
#[command(
    after_help = "Searches combine: every option given narrows the list. Text \
    searches (--email, --search) ignore case.\n\n\
    Examples:\n  airseal ledger activations --email jane@ --live\n  \
    airseal ledger licenses --license 7Q2M4K8ZP1X0R --format json\n  \
    airseal ledger keys --product photo-pro --format csv --out keys.csv\n  \
    airseal ledger audit --action activation. --since 2026-01-01 --format json"
)]
pub struct LedgerArgs {
    #[command(subcommand)]
    pub command: LedgerCommand,
    #[command(flatten)]
    pub vendor: VendorArgs,
}

/// Output options shared by every listing.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// table (for people), csv, json (one array) or jsonl (one object a line); default:
    /// from the --out file's extension, else table.
    #[arg(long, value_enum, global = true)]
    pub format: Option<Format>,
    /// Same as --format json.
    #[arg(long, global = true, conflicts_with = "format")]
    pub json: bool,
    /// Write to FILE instead of standard output (the format follows --format, else the
    /// extension: .csv, .json, .jsonl, .txt; a mismatch is refused).
    #[arg(long, value_name = "FILE", global = true)]
    pub out: Option<PathBuf>,
    /// Replace an existing --out file.
    #[arg(long, global = true)]
    pub force: bool,
    /// At most N rows.
    #[arg(long, value_name = "N", global = true)]
    pub limit: Option<u32>,
    /// No progress display while writing --out.
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

/// The `ledger` subcommands.
#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Product keys with their status, terms and seats.
    Keys {
        /// Only this product.
        #[arg(long, value_name = "ID")]
        product: Option<String>,
        /// Only keys starting with this, as typed (an imported key's own spelling) or in
        /// canonical form (separators and case ignored, for airseal's own keys).
        #[arg(long, value_name = "KEY")]
        key: Option<String>,
        /// Only keys whose (imported) licensee e-mail contains this.
        #[arg(long, value_name = "TEXT")]
        email: Option<String>,
        /// Only keys with this status: active, suspended or revoked.
        #[arg(long, value_parser = KeyStatus::parse)]
        status: Option<KeyStatus>,
        /// Only keys linked to this customer (its number, `airseal customers list`).
        #[arg(long, value_name = "ID")]
        customer: Option<i64>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Every license signed: by `issue`, by `issue --batch`, and activation responses (one
    /// row per signed document; a re-issue on a seat is a row of its own).
    Licenses {
        /// Only this product.
        #[arg(long, value_name = "ID")]
        product: Option<String>,
        /// Only this product key (case and separators `-`, space, `_`, `.` ignored).
        #[arg(long, value_name = "KEY")]
        key: Option<String>,
        /// Only this license id.
        #[arg(long, value_name = "ID")]
        license: Option<String>,
        /// Only licenses whose licensee e-mail contains this.
        #[arg(long, value_name = "TEXT")]
        email: Option<String>,
        /// Only licenses signed by: issue, batch or activation.
        #[arg(long, value_name = "SOURCE", value_parser = LicenseSource::parse)]
        source: Option<LicenseSource>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Activations and trials: the seats machines hold, with their last response.
    Activations {
        /// Only this product.
        #[arg(long, value_name = "ID")]
        product: Option<String>,
        /// Only this product key.
        #[arg(long, value_name = "KEY")]
        key: Option<String>,
        /// Only this license id.
        #[arg(long, value_name = "ID")]
        license: Option<String>,
        /// Only devices whose key id (or public key) starts with this hex.
        #[arg(long, value_name = "HEX")]
        device: Option<String>,
        /// Only licenses whose licensee e-mail contains this.
        #[arg(long, value_name = "TEXT")]
        email: Option<String>,
        /// Only seats still held.
        #[arg(long)]
        live: bool,
        /// Only trials.
        #[arg(long, conflicts_with = "no_trials")]
        trials: bool,
        /// Only key activations.
        #[arg(long)]
        no_trials: bool,
        /// List the components of every request answered on these seats instead, one row
        /// per request (the one that took the seat, then each re-issue), with how many of
        /// the seat's own components it had.
        #[arg(long)]
        history: bool,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Writes a consistent copy of the ledger to FILE (SQLite's online backup: other
    /// commands may run meanwhile). Keep it somewhere else than the vendor folder.
    Backup {
        /// The backup file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Replace an existing FILE.
        #[arg(long)]
        force: bool,
        /// Print a JSON summary.
        #[arg(long)]
        json: bool,
    },
    /// Puts a backup made by `ledger backup` in place of the ledger. The backup must be of
    /// this vendor folder's ledger (its identity, in ledger.id); the current ledger is kept
    /// aside as ledger.sqlite3.replaced-DATE, never deleted. Run it while no other airseal
    /// command uses the ledger.
    Restore {
        /// The backup file.
        file: PathBuf,
        /// Print a JSON summary.
        #[arg(long)]
        json: bool,
    },
    /// Copies the whole ledger to another place: from the vendor folder's ledger (or --from)
    /// to a PostgreSQL database or a SQLite file, ids and identity included, then checks row
    /// counts per table and a sample of rows. Use the copy with --database URL (or
    /// AIRSEAL_DATABASE). Run it while no other airseal command writes to the ledger.
    Migrate {
        /// Where to copy to: postgres://USER:PASSWORD@HOST/DB, or a SQLite file path.
        #[arg(long, value_name = "URL")]
        to: String,
        /// Where to copy from (default: this vendor folder's ledger, or --database's).
        #[arg(long, value_name = "URL")]
        from: Option<String>,
        /// Replace a target that already holds a ledger (a file is kept aside, renamed).
        #[arg(long)]
        force: bool,
        /// Print a JSON summary.
        #[arg(long)]
        json: bool,
    },
    /// Batches of keys: each `keys generate` run and each import, with its counts and status.
    Batches {
        /// Only this product.
        #[arg(long, value_name = "ID")]
        product: Option<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// The audit log, newest first.
    Audit {
        /// Only actions starting with this (e.g. `activation.`, `key.status`).
        #[arg(long, value_name = "PREFIX")]
        action: Option<String>,
        /// Only rows whose subject or details contain this (a key, license id, device id).
        #[arg(long, value_name = "TEXT")]
        search: Option<String>,
        /// Only rows at or after this date (YYYY-MM-DD or RFC 3339).
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        /// Only rows made through `airseal serve` by this actor (`token:NAME`,
        /// `portal:ADDRESS`); an empty value for local commands only.
        #[arg(long, value_name = "ACTOR")]
        actor: Option<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
}

/// A listing being written row by row through the renderer, to standard output or to a
/// file made visible only once complete (the header goes out before the first row is read).
/// Why a walk over the ledger ended before its last row.
#[derive(Debug)]
enum Stop {
    /// Standard output's reader went away: a success, as `git log | head` is.
    ReaderGone,
    /// The ledger or the output failed.
    Failed(CliError),
}

impl From<airseal_vendor::ledger::LedgerError> for Stop {
    fn from(e: airseal_vendor::ledger::LedgerError) -> Self {
        Stop::Failed(e.into())
    }
}

/// The end of a walk: a reader that went away is not an error.
fn walked(result: Result<u64, Stop>) -> Result<(), CliError> {
    match result {
        Ok(_) | Err(Stop::ReaderGone) => Ok(()),
        Err(Stop::Failed(e)) => Err(e),
    }
}

struct Emitter<'a> {
    output: &'a OutputArgs,
    shown: PathBuf,
    renderer: Renderer<Sink>,
    progress: crate::progress::Progress,
    /// Standard output's reader went away: nothing more to write, nothing to report.
    closed: bool,
}

impl<'a> Emitter<'a> {
    fn start(
        output: &'a OutputArgs,
        format: Format,
        columns: &'static [&'static str],
    ) -> Result<Self, CliError> {
        let sink = match &output.out {
            Some(path) => Sink::file(path, output.force).map_err(crate::io::write_failed)?,
            None => Sink::stdout(),
        };
        let shown = output
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("standard output"));
        let terminal = sink.is_terminal();
        let mut e = Emitter {
            output,
            renderer: Renderer::new(sink, format, columns, terminal)
                .map_err(|e| CliError::io(&shown, e))?,
            shown,
            // Only for a file: on standard output the rows themselves show the progress.
            progress: crate::progress::Progress::counter(
                "rows",
                output.quiet || output.out.is_none(),
            ),
            closed: false,
        };
        e.closed = crate::term::stdout_closed();
        Ok(e)
    }

    /// Writes one row; [`Stop::ReaderGone`] once the reader has gone away (`| head`), which
    /// ends the ledger's walk there.
    fn row(&mut self, row: &[Value]) -> Result<(), Stop> {
        if self.closed {
            return Err(Stop::ReaderGone);
        }
        self.progress.inc(1);
        match self.renderer.row(row) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Err(Stop::ReaderGone)
            }
            other => other.map_err(|e| Stop::Failed(CliError::io(&self.shown, e))),
        }
    }

    /// Ends the listing and makes the file final; a listing cut short by its reader is a
    /// success (`main` keeps exit 0).
    fn finish(self) -> Result<(), CliError> {
        self.progress.finish();
        if self.closed {
            return Ok(());
        }
        let (sink, rows) = match self.renderer.finish() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            other => other.map_err(|e| CliError::io(&self.shown, e))?,
        };
        sink.commit().map_err(crate::io::write_failed)?;
        if let Some(path) = &self.output.out {
            errln!(
                "{rows} {} → {}",
                if rows == 1 { "row" } else { "rows" },
                path.display()
            );
        }
        Ok(())
    }
}

/// Runs `airseal ledger backup`.
fn backup(args: &LedgerArgs, out: &std::path::Path, force: bool, as_json: bool) -> CliResult {
    let vendor = args.vendor.open()?;
    let ledger = vendor
        .open_ledger()
        .map_err(|e| CliError::from(e).at(&vendor.ledger_path()))?;
    let report = ledger.backup_to(out, force)?;
    if as_json {
        crate::term::out_json(&json!({
            "result": "backup",
            "file": report.path.display().to_string(),
            "identity": report.identity,
            "bytes": report.bytes,
            "schema_version": report.schema_version,
            "audited": report.audited,
        }));
    }
    errln!(
        "backed up ledger {} ({} bytes) → {}{}",
        report.identity,
        report.bytes,
        report.path.display(),
        if report.audited {
            ""
        } else {
            " (not in the audit log: another process was writing to the ledger)"
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs `airseal ledger migrate`.
fn migrate(
    args: &LedgerArgs,
    to: &str,
    from: Option<&str>,
    force: bool,
    as_json: bool,
) -> CliResult {
    let from = match from {
        Some(from) => LedgerLocation::parse(from),
        None => args.vendor.open()?.ledger_location(),
    };
    let report = airseal_vendor::ledger::copy::copy(&from, &LedgerLocation::parse(to), force)?;
    if as_json {
        crate::term::out_json(&json!({
            "result": "migrated",
            "from": report.from,
            "to": report.to,
            "identity": report.identity,
            "tables": report.tables,
            "sampled": report.sampled,
            "replaced": report.replaced.as_ref().map(|p| p.display().to_string()),
        }));
    }
    let rows: u64 = report.tables.iter().map(|t| t.rows).sum();
    errln!(
        "copied ledger {} ({} rows in {} tables, counts and {} sampled rows checked) from {} to {}",
        report.identity,
        rows,
        report.tables.len(),
        report.sampled,
        crate::term::field(&report.from),
        crate::term::field(&report.to),
    );
    if let Some(aside) = &report.replaced {
        errln!("the ledger that was there is kept as {}", aside.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `airseal ledger restore`.
fn restore(args: &LedgerArgs, file: &std::path::Path, as_json: bool) -> CliResult {
    let vendor = args.vendor.open()?;
    let report = vendor.restore_ledger(file)?;
    let aside = report.kept_aside.as_ref().map(|p| p.display().to_string());
    if as_json {
        crate::term::out_json(&json!({
            "result": "restored",
            "from": report.from.display().to_string(),
            "ledger": report.ledger.display().to_string(),
            "identity": report.identity,
            "kept_aside": aside,
            "replaced_identity": report.replaced_identity,
            "backup_schema_version": report.backup_schema_version,
            "not_in_backup": report.not_in_backup,
        }));
    }
    errln!(
        "restored ledger {} from {} into {}{}",
        report.identity,
        report.from.display(),
        report.ledger.display(),
        aside
            .map(|a| format!("; the ledger it replaced is kept as {a}"))
            .unwrap_or_default()
    );
    if let Some(n) = report.not_in_backup.filter(|n| *n > 0) {
        errln!(
            "{n} audit {} of the replaced ledger came after this backup: what they record is \
             not in the restored ledger (it stays in the one kept aside)",
            if n == 1 { "entry" } else { "entries" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

type CliResult = Result<ExitCode, CliError>;

/// Runs `airseal ledger …`.
pub fn run(args: &LedgerArgs) -> Result<ExitCode, CliError> {
    let output = match &args.command {
        LedgerCommand::Backup { out, force, json } => return backup(args, out, *force, *json),
        LedgerCommand::Restore { file, json } => return restore(args, file, *json),
        LedgerCommand::Migrate {
            to,
            from,
            force,
            json,
        } => return migrate(args, to, from.as_deref(), *force, *json),
        LedgerCommand::Keys { output, .. }
        | LedgerCommand::Licenses { output, .. }
        | LedgerCommand::Activations { output, .. }
        | LedgerCommand::Batches { output, .. }
        | LedgerCommand::Audit { output, .. } => output,
    };
    let format = Format::resolve(
        output.json.then_some(Format::Json).or(output.format),
        output.out.as_deref(),
    )
    .map_err(CliError::msg)?;
    if let Some(path) = &output.out {
        if path.exists() && !output.force {
            return Err(CliError::msg(format!(
                "{} already exists; pass --force to replace it",
                path.display()
            )));
        }
    }
    let vendor = args.vendor.open()?;
    let ledger = vendor
        .open_ledger()
        .map_err(|e| CliError::from(e).at(&vendor.ledger_path()))?;
    match &args.command {
        LedgerCommand::Keys {
            product,
            key,
            email,
            status,
            customer,
            output,
        } => {
            // Streamed: millions of keys list in constant memory, the first row at once.
            let mut e = Emitter::start(output, format, KEY_COLUMNS)?;
            walked(ledger.keys().for_each(
                &KeyFilter {
                    product: product.clone(),
                    key_prefix: key.clone(),
                    email: email.clone(),
                    status: *status,
                    customer: *customer,
                    limit: output.limit,
                },
                |k| e.row(&key_row(k)),
            ))?;
            e.finish()?;
        }
        LedgerCommand::Licenses {
            product,
            key,
            license,
            email,
            source,
            output,
        } => {
            let mut e = Emitter::start(output, format, LICENSE_COLUMNS)?;
            walked(ledger.licenses().for_each(
                &LicenseFilter {
                    product: product.clone(),
                    key: key.clone(),
                    license_id: license.clone(),
                    email: email.clone(),
                    source: *source,
                    limit: output.limit,
                },
                |l| e.row(&license_row(l)),
            ))?;
            e.finish()?;
        }
        LedgerCommand::Activations {
            product,
            key,
            license,
            device,
            email,
            live,
            trials,
            no_trials,
            history,
            output,
        } => {
            let filter = ActivationFilter {
                product: product.clone(),
                key: key.as_deref().map(airseal_vendor::keys::stored_form),
                license_id: license.clone(),
                device: device.clone(),
                email: email.clone(),
                live_only: *live,
                trials: match (trials, no_trials) {
                    (true, _) => Some(true),
                    (_, true) => Some(false),
                    _ => None,
                },
                limit: output.limit,
            };
            if *history {
                let mut e = Emitter::start(output, format, HISTORY_COLUMNS)?;
                walked(ledger.seats().for_each(&filter, |a| {
                    let requests = ledger
                        .seats()
                        .component_history(a.id)
                        .map_err(|err| Stop::Failed(err.into()))?;
                    requests.iter().try_for_each(|h| e.row(&history_row(&a, h)))
                }))?;
                e.finish()?;
                return Ok(ExitCode::SUCCESS);
            }
            let mut e = Emitter::start(output, format, ACTIVATION_COLUMNS)?;
            walked(
                ledger
                    .seats()
                    .for_each(&filter, |a| e.row(&activation_row(a))),
            )?;
            e.finish()?;
        }
        LedgerCommand::Batches { product, output } => {
            let mut e = Emitter::start(output, format, BATCH_COLUMNS)?;
            let batches = ledger.batches().list(product.as_deref())?;
            let limit = output.limit.map_or(usize::MAX, |n| n as usize);
            walked(
                batches
                    .into_iter()
                    .take(limit)
                    .try_for_each(|b| e.row(&batch_row(b)))
                    .map(|()| 0),
            )?;
            e.finish()?;
        }
        LedgerCommand::Audit {
            action,
            search,
            since,
            actor,
            output,
        } => {
            // The filter first: a bad --since must fail before the header is written.
            let filter = AuditFilter {
                action: action.clone(),
                text: search.clone(),
                since: since
                    .as_deref()
                    .map(|s| parse_time("--since", s, EndOfDay::No))
                    .transpose()?,
                actor: actor.clone(),
                limit: output.limit,
            };
            let mut e = Emitter::start(output, format, AUDIT_COLUMNS)?;
            walked(ledger.audit().for_each(&filter, |a| e.row(&audit_row(a))))?;
            e.finish()?;
        }
        LedgerCommand::Backup { .. }
        | LedgerCommand::Restore { .. }
        | LedgerCommand::Migrate { .. } => {}
    };
    Ok(ExitCode::SUCCESS)
}
