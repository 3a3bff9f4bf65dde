//! `airseal ledger`: list and search the vendor ledger — keys, licenses (every document
//! signed, by `issue`, `issue --batch` or an activation), activations (seats) and the audit
//! log — as a table, CSV or JSON.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use airseal_vendor::issue::{EndOfDay, format_time, parse_time};
use airseal_vendor::ledger::{
    Activation, ActivationFilter, AuditEntry, AuditFilter, KeyFilter, KeyOverview, KeyStatus,
    Ledger, LedgerError, LicenseFilter, LicenseRecord, LicenseSource,
};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};

use super::keys::VendorArgs;
use crate::exit::CliError;

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
    /// table (for people), csv or json.
    #[arg(long, value_enum, default_value = "table", global = true)]
    pub format: Format,
    /// Write to FILE instead of standard output.
    #[arg(long, value_name = "FILE", global = true)]
    pub out: Option<PathBuf>,
    /// Replace an existing --out file.
    #[arg(long, global = true)]
    pub force: bool,
    /// At most N rows.
    #[arg(long, value_name = "N", global = true)]
    pub limit: Option<u32>,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns.
    Table,
    /// RFC 4180 CSV with a header line.
    Csv,
    /// One JSON array.
    Json,
}

/// The `ledger` subcommands.
#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Product keys with their status, terms and seats.
    Keys {
        /// Only this product.
        #[arg(long, value_name = "ID")]
        product: Option<String>,
        /// Only keys starting with this (separators and case ignored).
        #[arg(long, value_name = "KEY")]
        key: Option<String>,
        /// Only keys whose (imported) licensee e-mail contains this.
        #[arg(long, value_name = "TEXT")]
        email: Option<String>,
        /// Only keys with this status: active, suspended or revoked.
        #[arg(long, value_parser = KeyStatus::parse)]
        status: Option<KeyStatus>,
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
        #[command(flatten)]
        output: OutputArgs,
    },
}

/// Why a listing stopped early: the ledger failed, an argument was bad, or the output could
/// not be written (a closed pipe among them).
#[derive(Debug)]
enum ListError {
    Ledger(LedgerError),
    Cli(CliError),
    Write(std::io::Error),
}

impl From<LedgerError> for ListError {
    fn from(e: LedgerError) -> Self {
        Self::Ledger(e)
    }
}

/// One row: JSON values (strings, numbers, null, arrays), in the listing's column order.
type Row = Vec<Value>;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn time(t: Option<i64>) -> Value {
    t.map_or(Value::Null, |t| Value::String(format_time(t)))
}

fn canonical(key: &str) -> String {
    key.chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_uppercase()
}

const KEY_COLUMNS: &[&str] = &[
    "product",
    "key",
    "status",
    "kind",
    "batch",
    "created",
    "email",
    "template",
    "seats_in_use",
    "live_seats",
    "prior_activations",
    "deactivations",
    "prior_deactivations",
];

fn key_row(k: KeyOverview) -> Row {
    vec![
        json!(k.record.product),
        json!(k.record.key),
        json!(k.record.status.as_str()),
        json!(k.record.kind),
        json!(k.record.batch),
        time(Some(k.record.created)),
        json!(k.email),
        json!(k.template),
        json!(k.seats_in_use()),
        json!(k.live_seats),
        json!(k.prior_activations),
        json!(k.deactivations),
        json!(k.prior_deactivations),
    ]
}

const LICENSE_COLUMNS: &[&str] = &[
    "license_id",
    "source",
    "product",
    "key",
    "kind",
    "email",
    "name",
    "issued_at",
    "expires_at",
    "activation",
    "batch",
    "token_id",
];

fn license_row(l: LicenseRecord) -> Row {
    vec![
        json!(l.license_id),
        json!(l.source.as_str()),
        json!(l.product),
        json!(l.product_key),
        json!(l.kind.as_str()),
        json!(l.email),
        json!(l.name),
        time(Some(l.issued_at)),
        time(l.expires_at),
        json!(l.activation),
        json!(l.batch),
        json!(hex(&l.token_id)),
    ]
}

const ACTIVATION_COLUMNS: &[&str] = &[
    "id",
    "product",
    "key",
    "purpose",
    "license_id",
    "device_key_id",
    "email",
    "activated_at",
    "deactivated_at",
    "deactivated_by",
    "reissues",
    "app_version",
    "threshold",
    "components",
    "token_id",
    "device_key",
    "meters",
];

fn activation_row(a: Activation) -> Row {
    let meters: serde_json::Map<String, Value> = a
        .meters
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    vec![
        json!(a.id),
        json!(a.product),
        json!(a.key),
        json!(match a.purpose {
            airseal_core::activation::Purpose::Trial => "trial",
            airseal_core::activation::Purpose::Activation => "activation",
        }),
        json!(a.license_id),
        json!(a.device_key_id().to_string()),
        json!(a.email),
        time(Some(a.activated_at)),
        time(a.deactivated_at),
        json!(a.deactivated_by),
        json!(a.reissues),
        json!(a.app_version),
        json!(a.threshold),
        json!(a.components.iter().map(|c| hex(c)).collect::<Vec<_>>()),
        json!(hex(&a.token_id)),
        json!(hex(&a.device_key)),
        Value::Object(meters),
    ]
}

const AUDIT_COLUMNS: &[&str] = &["id", "at", "action", "subject", "detail"];

fn audit_row(e: AuditEntry) -> Row {
    vec![
        json!(e.id),
        time(Some(e.at)),
        json!(e.action),
        json!(e.subject),
        e.detail,
    ]
}

/// The listing's column names.
fn columns(command: &LedgerCommand) -> &'static [&'static str] {
    match command {
        LedgerCommand::Keys { .. } => KEY_COLUMNS,
        LedgerCommand::Licenses { .. } => LICENSE_COLUMNS,
        LedgerCommand::Activations { .. } => ACTIVATION_COLUMNS,
        LedgerCommand::Audit { .. } => AUDIT_COLUMNS,
    }
}

/// Runs the listing's search and hands each row to `f` as the ledger streams it; returns
/// how many rows there were. Nothing is collected.
fn stream(
    ledger: &Ledger,
    command: &LedgerCommand,
    f: &mut dyn FnMut(Row) -> Result<(), ListError>,
) -> Result<u64, ListError> {
    match command {
        LedgerCommand::Keys {
            product,
            key,
            email,
            status,
            output,
        } => ledger.keys().for_each(
            &KeyFilter {
                product: product.clone(),
                key_prefix: key.as_deref().map(canonical),
                email: email.clone(),
                status: *status,
                limit: output.limit,
            },
            |k| f(key_row(k)),
        ),
        LedgerCommand::Licenses {
            product,
            key,
            license,
            email,
            source,
            output,
        } => ledger.licenses().for_each(
            &LicenseFilter {
                product: product.clone(),
                key: key.clone(),
                license_id: license.clone(),
                email: email.clone(),
                source: *source,
                limit: output.limit,
            },
            |l| f(license_row(l)),
        ),
        LedgerCommand::Activations {
            product,
            key,
            license,
            device,
            email,
            live,
            trials,
            no_trials,
            output,
        } => ledger.seats().for_each(
            &ActivationFilter {
                product: product.clone(),
                key: key.as_deref().map(canonical),
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
            },
            |a| f(activation_row(a)),
        ),
        LedgerCommand::Audit {
            action,
            search,
            since,
            output,
        } => ledger.audit().for_each(
            &AuditFilter {
                action: action.clone(),
                text: search.clone(),
                since: since
                    .as_deref()
                    .map(|s| parse_time("--since", s, EndOfDay::No))
                    .transpose()
                    .map_err(|e| ListError::Cli(e.into()))?,
                limit: output.limit,
            },
            |e| f(audit_row(e)),
        ),
    }
}

/// A cell as text: strings as they are, null as empty, arrays joined with spaces, anything
/// else as compact JSON.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(" "),
        Value::Object(m) if m.is_empty() => String::new(),
        other => other.to_string(),
    }
}

/// RFC 4180: quote a field holding a comma, quote, CR or LF, doubling inner quotes. A
/// field starting with `=`, `+`, `-` or `@` is prefixed with `'` so a spreadsheet does not
/// run it as a formula (e-mails and app versions come from outside).
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The long hex columns and JSON blobs stay out of the table; CSV and JSON carry everything.
const WIDE: &[&str] = &["components", "token_id", "device_key", "meters"];

/// Writes the listing to `out` as its rows stream from the ledger; returns the row count.
///
/// CSV and JSON write each row as it arrives. A table's columns are as wide as their widest
/// cell, so it reads the rows twice, inside one read snapshot of the ledger: once to measure,
/// once to print. Memory stays the same whatever the ledger holds.
fn write_listing(
    ledger: &Ledger,
    command: &LedgerCommand,
    format: Format,
    out: &mut dyn Write,
) -> Result<u64, ListError> {
    let columns = columns(command);
    let w = |out: &mut dyn Write, s: &str| out.write_all(s.as_bytes()).map_err(ListError::Write);
    match format {
        Format::Csv => {
            w(out, &columns.join(","))?;
            w(out, "\n")?;
            stream(ledger, command, &mut |row| {
                let fields: Vec<String> = row.iter().map(|v| csv_field(&cell(v))).collect();
                let mut line = fields.join(",");
                line.push('\n');
                w(out, &line)
            })
        }
        Format::Json => {
            // The bytes `serde_json::to_string_pretty` gives for the whole array: `[]` when
            // empty, else each object indented by two spaces, separated by `,\n`. JSON strings
            // hold no raw line breaks, so indenting line by line is exact.
            let mut first = true;
            let n = stream(ledger, command, &mut |row| {
                let object = Value::Object(
                    columns
                        .iter()
                        .zip(row)
                        .map(|(c, v)| ((*c).to_string(), v))
                        .collect(),
                );
                let text = serde_json::to_string_pretty(&object).unwrap_or_default();
                let mut chunk = String::from(if first { "[\n" } else { ",\n" });
                first = false;
                for (i, line) in text.lines().enumerate() {
                    if i > 0 {
                        chunk.push('\n');
                    }
                    chunk.push_str("  ");
                    chunk.push_str(line);
                }
                w(out, &chunk)
            })?;
            w(out, if n == 0 { "[]\n" } else { "\n]\n" })?;
            Ok(n)
        }
        Format::Table => ledger.snapshot(|ledger| {
            let shown: Vec<usize> = (0..columns.len())
                .filter(|i| columns.get(*i).is_some_and(|c| !WIDE.contains(c)))
                .collect();
            let text_of = |row: &Row, i: usize| -> String {
                row.get(i).map(cell).unwrap_or_default().replace('\n', " ")
            };
            let mut widths: Vec<usize> = shown
                .iter()
                .map(|i| columns.get(*i).map_or(0, |c| c.len()))
                .collect();
            stream(ledger, command, &mut |row| {
                for (width, i) in widths.iter_mut().zip(&shown) {
                    *width = (*width).max(text_of(&row, *i).chars().count());
                }
                Ok(())
            })?;
            let line = |items: Vec<String>| {
                let mut l = items
                    .iter()
                    .zip(&widths)
                    .map(|(s, w)| format!("{s:<w$}"))
                    .collect::<Vec<_>>()
                    .join("  ");
                l.truncate(l.trim_end().len());
                l.push('\n');
                l
            };
            w(
                out,
                &line(
                    shown
                        .iter()
                        .filter_map(|i| columns.get(*i).map(|c| (*c).to_string()))
                        .collect(),
                ),
            )?;
            let n = stream(ledger, command, &mut |row| {
                w(
                    out,
                    &line(shown.iter().map(|i| text_of(&row, *i)).collect()),
                )
            })?;
            w(out, &format!("({n} rows)\n"))?;
            Ok(n)
        }),
    }
}

/// Runs `airseal ledger …`.
pub fn run(args: &LedgerArgs) -> Result<ExitCode, CliError> {
    let output = match &args.command {
        LedgerCommand::Keys { output, .. }
        | LedgerCommand::Licenses { output, .. }
        | LedgerCommand::Activations { output, .. }
        | LedgerCommand::Audit { output, .. } => output,
    };
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
        .map_err(|e| CliError::msg(format!("{}: {e}", vendor.ledger_path().display())))?;
    let failed = |e: ListError| match e {
        ListError::Ledger(e) => CliError::msg(e.to_string()),
        ListError::Cli(e) => e,
        ListError::Write(e) => CliError::msg(format!("cannot write the listing: {e}")),
    };
    match &output.out {
        Some(path) => {
            // The file is written whole by the one durable writer, which takes bytes: this
            // buffer is the only part of a listing held in memory.
            let mut text = Vec::new();
            let n =
                write_listing(&ledger, &args.command, output.format, &mut text).map_err(failed)?;
            crate::io::write_output(path, &text, output.force)?;
            eprintln!("{n} rows → {}", path.display());
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
            let written = write_listing(&ledger, &args.command, output.format, &mut out)
                .and_then(|_| out.flush().map_err(ListError::Write));
            match written {
                // A reader that stopped early (`| head`) is not an error: the listing ends
                // quietly, as `git log | head` does.
                Err(ListError::Write(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                r => {
                    r.map_err(failed)?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_command(limit: Option<u32>) -> LedgerCommand {
        LedgerCommand::Keys {
            product: None,
            key: None,
            email: None,
            status: None,
            output: OutputArgs {
                format: Format::Json,
                out: None,
                force: false,
                limit,
            },
        }
    }

    fn listing(ledger: &Ledger, command: &LedgerCommand, format: Format) -> String {
        let mut out = Vec::new();
        write_listing(ledger, command, format, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// The streamed JSON is byte for byte what pretty-printing the whole array gave.
    #[test]
    fn streamed_output_is_what_the_collected_listing_printed() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("l.sqlite3")).unwrap();
        ledger.products().ensure("p", None).unwrap();
        let command = keys_command(None);
        assert_eq!(listing(&ledger, &command, Format::Json), "[]\n");
        assert_eq!(
            listing(&ledger, &command, Format::Table),
            "product  key  status  kind  batch  created  email  template  seats_in_use  \
             live_seats  prior_activations  deactivations  prior_deactivations\n(0 rows)\n"
        );
        let mut w = ledger
            .batches()
            .begin(
                "p",
                airseal_vendor::keys::KeyKind::Random.into(),
                3,
                None,
                &json!({}),
            )
            .unwrap();
        w.insert_keys(&["BBB", "AAA", "CCCC"]).unwrap();
        w.commit().unwrap();
        let rows: Vec<Value> = ledger
            .keys()
            .list(&KeyFilter::default())
            .unwrap()
            .into_iter()
            .map(|k| {
                Value::Object(
                    KEY_COLUMNS
                        .iter()
                        .zip(key_row(k))
                        .map(|(c, v)| ((*c).to_string(), v))
                        .collect(),
                )
            })
            .collect();
        let mut want = serde_json::to_string_pretty(&rows).unwrap();
        want.push('\n');
        assert_eq!(listing(&ledger, &command, Format::Json), want);
        let csv = listing(&ledger, &command, Format::Csv);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0], KEY_COLUMNS.join(","));
        assert!(lines[1].starts_with("p,BBB,active,random,1,"), "{csv}");
        let table = listing(&ledger, &command, Format::Table);
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[0].starts_with("product  key   status  kind    batch"),
            "{table}"
        );
        assert!(
            lines[3].starts_with("p        CCCC  active  random  1"),
            "{table}"
        );
        assert_eq!(lines[4], "(3 rows)");
        // A limit stops the stream.
        assert_eq!(
            listing(&ledger, &keys_command(Some(1)), Format::Csv)
                .lines()
                .count(),
            2
        );
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
        assert_eq!(csv_field("line\nbreak"), "\"line\nbreak\"");
    }
}
