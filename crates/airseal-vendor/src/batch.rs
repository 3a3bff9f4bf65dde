//! Batch generation of product keys (`SPEC.md` §12.5): unique against the ledger, streamed
//! to a file, and consistent with the ledger even if the process is killed.
//!
//! The order of operations is what makes a kill harmless:
//!
//! 1. open a ledger transaction and a batch row; write keys to a [`DurableFile`] (a
//!    temporary file beside the output) while inserting each into the ledger (a key
//!    already present is replaced by a fresh one, so the batch has exactly the requested
//!    count);
//! 2. flush and fsync the temporary file;
//! 3. commit the transaction — the batch is now recorded as `pending` with its output path;
//! 4. commit the [`DurableFile`]: rename it onto the output path (atomic), fsync the folder;
//! 5. mark the batch `complete`.
//!
//! Killed before 3: the transaction never commits, the ledger holds nothing of the batch, and
//! no output file appears (only a stale temporary file, removed by the next run). Killed
//! between 3 and 5: the ledger holds the batch; [`recover_pending`] (run at the start of every
//! batch) re-writes the output from the ledger and marks it complete. Either way the output
//! file and the ledger agree, and re-running never duplicates a key.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use airseal_core::productkey::Pattern;
use airseal_verify::app::fs::{self as durable, Access, DurableFile, Mode, WriteError};

use rand::Rng;
use rand::rngs::StdRng;

use crate::issue::Issuer;
use crate::keys::{KeyGenerator, KeyKind};
use crate::ledger::{Ledger, LedgerError};
use crate::signedkey;

/// Output file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// `key,product,kind,batch` with a header line.
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// One key per line.
    Txt,
}

impl OutputFormat {
    /// Parses `csv`, `jsonl` or `txt`.
    ///
    /// # Errors
    /// A message listing the formats.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "csv" => Ok(OutputFormat::Csv),
            "jsonl" => Ok(OutputFormat::Jsonl),
            "txt" => Ok(OutputFormat::Txt),
            other => Err(format!("{other:?}: expected csv, jsonl or txt")),
        }
    }

    /// The format a file name asks for: `.csv`, `.jsonl` and `.txt` by their extension; a
    /// name without one (and standard output, `-`) CSV. `None` for any other extension — a
    /// `keys.json` holding CSV is a trap for whoever opens it, so the caller must say which.
    pub fn for_path(path: &Path) -> Option<Self> {
        match path.extension().map(|e| e.to_str()) {
            None => Some(OutputFormat::Csv),
            Some(Some("csv")) => Some(OutputFormat::Csv),
            Some(Some("jsonl")) => Some(OutputFormat::Jsonl),
            Some(Some("txt")) => Some(OutputFormat::Txt),
            Some(_) => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Csv => "csv",
            OutputFormat::Jsonl => "jsonl",
            OutputFormat::Txt => "txt",
        }
    }

    /// The format a recorded batch was written in (its `format` parameter), to rewrite its
    /// output the same way: an unknown or missing word is an error, never a guess.
    fn recorded(batch: &crate::ledger::BatchInfo) -> Result<Self, LedgerError> {
        let word = batch.params["format"].as_str().unwrap_or_default();
        OutputFormat::parse(word).map_err(|_| LedgerError::UnknownValue {
            table: "batches",
            column: "params.format",
            value: word.to_string(),
        })
    }
}

/// Why a batch failed. Nothing is recorded in the ledger and no output file is written.
#[non_exhaustive]
#[derive(Debug)]
pub enum BatchError {
    /// The ledger refused (the message says why).
    Ledger(LedgerError),
    /// The output (or its temporary file) could not be written.
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The output file exists and `force` was not given.
    AlreadyExists {
        /// The existing file.
        path: PathBuf,
    },
    /// The product is not in the ledger (define it in `airseal.toml`).
    UnknownProduct {
        /// The product id.
        product: String,
    },
    /// The generator kept producing keys the ledger already holds: the key space of this
    /// pattern is nearly exhausted for the product.
    KeySpaceExhausted {
        /// Keys written before giving up (none are recorded).
        generated: u64,
    },
    /// The customer the keys are for is not in the ledger.
    UnknownCustomer {
        /// The id given.
        id: i64,
    },
}

impl std::fmt::Display for BatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BatchError::Ledger(e) => write!(f, "ledger: {e}"),
            BatchError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            BatchError::AlreadyExists { path } => write!(f, "{} already exists", path.display()),
            BatchError::UnknownProduct { product: p } => {
                write!(
                    f,
                    "unknown product {p:?}: add a [products.{p}] table to airseal.toml"
                )
            }
            BatchError::UnknownCustomer { id } => write!(f, "there is no customer {id}"),
            BatchError::KeySpaceExhausted { generated } => write!(
                f,
                "after {generated} keys, new keys keep colliding with ones already issued: use a longer pattern"
            ),
        }
    }
}

impl std::error::Error for BatchError {}

impl From<LedgerError> for BatchError {
    fn from(e: LedgerError) -> Self {
        BatchError::Ledger(e)
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> BatchError + '_ {
    move |source| BatchError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl From<WriteError> for BatchError {
    fn from(e: WriteError) -> Self {
        BatchError::Io {
            path: e.path().to_path_buf(),
            source: e.into(),
        }
    }
}

/// Where a batch's keys come from.
#[derive(Debug)]
pub enum KeySource<'a> {
    /// Random or data keys from a generator.
    Generator(KeyGenerator),
    /// Signed keys: random serials, signed on every core.
    Signed {
        /// Signs the keys.
        issuer: &'a Issuer,
        /// Feature bits.
        features: u8,
        /// Validity in days (0 = none).
        days: u16,
        /// Creation instant.
        created: i64,
        /// Draws the serials.
        rng: StdRng,
    },
}

impl KeySource<'_> {
    fn kind(&self) -> KeyKind {
        match self {
            KeySource::Generator(g) => g.kind(),
            KeySource::Signed { .. } => KeyKind::Signed,
        }
    }

    /// The pattern of display forms (signed keys have their own fixed layout).
    fn pattern(&self) -> Option<&Pattern> {
        match self {
            KeySource::Generator(g) => Some(g.pattern()),
            KeySource::Signed { .. } => None,
        }
    }

    /// Appends `n` candidate keys (canonical form) to `out`.
    fn fill(&mut self, product: &str, n: usize, out: &mut Vec<String>) {
        match self {
            KeySource::Generator(g) => {
                let mut buf = Vec::with_capacity(g.pattern().symbols());
                for _ in 0..n {
                    buf.clear();
                    g.next_into(&mut buf);
                    out.push(String::from_utf8_lossy(&buf).into_owned());
                }
            }
            KeySource::Signed {
                issuer,
                features,
                days,
                created,
                rng,
            } => {
                let serials: Vec<u32> = (0..n).map(|_| rng.next_u32()).collect();
                let keys = signedkey::sign_keys_parallel(
                    issuer, product, *features, *days, *created, &serials,
                );
                out.extend(keys.into_iter().map(|k| k.replace('-', "")));
            }
        }
    }
}

/// Display form of a canonical key.
fn display(pattern: Option<&Pattern>, canonical: &str) -> String {
    match pattern {
        Some(p) => p.display(canonical),
        None => canonical
            .as_bytes()
            .chunks(airseal_core::signedkey::GROUP)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("-"),
    }
}

/// What to generate.
#[derive(Debug)]
pub struct BatchRequest<'a> {
    /// Product id (must be in the ledger).
    pub product: &'a str,
    /// How many keys.
    pub count: u64,
    /// Where the keys come from.
    pub source: KeySource<'a>,
    /// Output format.
    pub format: OutputFormat,
    /// Output file (never `-`: the CLI copies the published file to stdout).
    pub output: &'a Path,
    /// Replace an existing output file.
    pub force: bool,
    /// The license template activations of these keys use (recorded in the batch's
    /// parameters; see [`crate::activate`]); `None` = the product's default.
    pub template: Option<&'a str>,
    /// The customer every key of the batch belongs to (recorded in the batch's parameters;
    /// `keys update` can link a key to another).
    pub customer: Option<i64>,
}

/// What a batch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchReport {
    /// The batch id in the ledger.
    pub batch: i64,
    /// Keys written and recorded.
    pub keys: u64,
    /// Candidates discarded because the ledger (or the batch) already held them.
    pub collisions: u64,
}

/// A batch recorded in the ledger whose output is written to a temporary file but not yet
/// published (steps 1–3 done). [`publish`] finishes it; if the process dies first,
/// [`recover_pending`] does.
#[derive(Debug)]
#[must_use = "the batch's output is not in place until it is published"]
pub struct Unpublished {
    report: BatchReport,
    /// The output, written and fsynced but not yet in place.
    file: DurableFile,
    /// Its absolute path, as named in the ledger's `batch_outputs`.
    output: PathBuf,
}

/// Writes one key line.
fn write_line(
    w: &mut impl Write,
    format: OutputFormat,
    display: &str,
    product: &str,
    kind: KeyKind,
    batch: i64,
) -> io::Result<()> {
    match format {
        OutputFormat::Txt => writeln!(w, "{display}"),
        // Through the one CSV writer (quoting and the formula guard), which writes keys,
        // product ids and kinds (no commas, quotes or formula leads) unchanged.
        OutputFormat::Csv => {
            crate::csv::write_record(w, [display, product, kind.as_str(), &batch.to_string()])
        }
        OutputFormat::Jsonl => writeln!(
            w,
            "{{\"key\":\"{display}\",\"product\":{},\"kind\":\"{}\",\"batch\":{batch}}}",
            serde_json::Value::from(product),
            kind.as_str()
        ),
    }
}

fn write_header(w: &mut impl Write, format: OutputFormat) -> io::Result<()> {
    if format == OutputFormat::Csv {
        crate::csv::write_record(w, ["key", "product", "kind", "batch"])?;
    }
    Ok(())
}

/// Generates a batch and publishes it (steps 1–5). `progress` is called with the number
/// of keys done so far, every few thousand keys. Runs [`recover_pending`] first.
///
/// # Errors
/// [`BatchError`]; on error nothing of this batch is recorded or published.
pub fn generate(
    ledger: &mut Ledger,
    req: BatchRequest<'_>,
    progress: &mut dyn FnMut(u64),
) -> Result<BatchReport, BatchError> {
    let unpublished = generate_unpublished(ledger, req, progress)?;
    publish(ledger, unpublished)
}

/// Steps 1–3: records the batch and writes its keys to a temporary file, without putting the
/// file in place.
///
/// # Errors
/// [`BatchError`]; on error nothing of this batch is recorded.
pub fn generate_unpublished(
    ledger: &mut Ledger,
    req: BatchRequest<'_>,
    progress: &mut dyn FnMut(u64),
) -> Result<Unpublished, BatchError> {
    recover_pending(ledger)?;
    // Named in the ledger before the first byte is written, so that `remove_leftovers` can
    // find the temporary file of a run killed from here on.
    let output = std::path::absolute(req.output).map_err(io_err(req.output))?;
    ledger.record_batch_output(&output)?;
    let result = write_batch(ledger, req, progress);
    if result.is_err() {
        // The temporary file is gone with the `DurableFile` already; a failure to forget
        // only leaves a name that `remove_leftovers` finds nothing for.
        let _ = ledger.forget_batch_output(&output);
    }
    result.map(|mut u| {
        u.output = output;
        u
    })
}

fn write_batch(
    ledger: &mut Ledger,
    mut req: BatchRequest<'_>,
    progress: &mut dyn FnMut(u64),
) -> Result<Unpublished, BatchError> {
    ledger
        .products()
        .get(req.product)?
        .ok_or_else(|| BatchError::UnknownProduct {
            product: req.product.to_string(),
        })?;
    if req.output.exists() && !req.force {
        return Err(BatchError::AlreadyExists {
            path: req.output.to_path_buf(),
        });
    }
    // Temporary files of batches that never committed (a kill before step 3).
    durable::remove_stale_temporaries(req.output);
    let kind = req.source.kind();
    let pattern = req.source.pattern().cloned();
    let mut params = serde_json::json!({
        "pattern": pattern.as_ref().map(Pattern::as_str),
        "format": req.format.as_str(),
    });
    if let Some(t) = req.template {
        params["template"] = serde_json::Value::from(t);
    }
    if let Some(id) = req.customer {
        if ledger.customers().get(id)?.is_none() {
            return Err(BatchError::UnknownCustomer { id });
        }
        params["customer"] = serde_json::Value::from(id);
    }
    if let KeySource::Generator(g) = &req.source {
        if let Some(facts) = g.data_facts() {
            params["data_key"] = serde_json::to_value(facts).unwrap_or_default();
        }
    }
    let mut writer = ledger.batches().begin(
        req.product,
        kind.into(),
        req.count,
        Some(req.output),
        &params,
    )?;
    let batch = writer.batch_id();
    let output = req.output;
    // Dropped on any error before publication, it removes its temporary file. Owner-only
    // from its first byte, the temporary too: every key works as a password for activation.
    let mut out = DurableFile::create(output, Access::OwnerOnly, Mode::Replace)?;
    write_header(&mut out, req.format).map_err(io_err(output))?;

    // Candidates are inserted a chunk at a time: the ledger sorts each chunk so its B-tree is
    // walked in order, which is what makes a million inserts fast.
    let chunk = if kind == KeyKind::Signed {
        4096
    } else {
        65_536
    };
    let mut candidates = Vec::with_capacity(chunk);
    let (mut done, mut collisions) = (0u64, 0u64);
    while done < req.count {
        candidates.clear();
        let want = usize::try_from(req.count - done)
            .unwrap_or(chunk)
            .min(chunk);
        req.source.fill(req.product, want, &mut candidates);
        let fresh = writer.insert_keys(&candidates)?;
        for (canonical, is_new) in candidates.iter().zip(fresh) {
            if !is_new {
                collisions += 1;
                // A handful of collisions is chance; a run of them means the space is full.
                if collisions > 1000 + done / 10 {
                    return Err(BatchError::KeySpaceExhausted { generated: done });
                }
                continue;
            }
            write_line(
                &mut out,
                req.format,
                &display(pattern.as_ref(), canonical),
                req.product,
                kind,
                batch,
            )
            .map_err(io_err(output))?;
            done += 1;
        }
        progress(done);
    }
    // Step 2: on disk before the ledger says the batch exists.
    out.sync()?;
    writer.commit()?;
    Ok(Unpublished {
        report: BatchReport {
            batch,
            keys: done,
            collisions,
        },
        file: out,
        output: PathBuf::new(),
    })
}

/// Steps 4–5: moves the batch's file into place and marks the batch complete.
///
/// # Errors
/// [`BatchError`]; the batch stays pending and [`recover_pending`] will finish it.
pub fn publish(ledger: &mut Ledger, u: Unpublished) -> Result<BatchReport, BatchError> {
    u.file.commit()?;
    ledger.batches().mark_complete(u.report.batch)?;
    ledger.forget_batch_output(&u.output)?;
    Ok(u.report)
}

/// The temporary files that runs of [`generate`] killed before publishing left beside
/// their outputs (tens of megabytes for a large batch), removed by [`remove_leftovers`].
pub type Leftovers = crate::ledger::ClearedOutputs;

/// Removes the temporary files of runs killed before they published their output (the
/// ledger names every output a run started, `batch_outputs`), and says how many and how
/// large. Runs under the ledger's write lock, which a run holds while it generates, so a
/// live run's file is not taken from it.
///
/// # Errors
/// [`BatchError::Ledger`] (busy while a run is generating).
pub fn remove_leftovers(ledger: &mut Ledger) -> Result<Leftovers, BatchError> {
    Ok(ledger.clear_batch_outputs(|outputs| {
        let mut cleared = Leftovers::default();
        for output in outputs {
            for temp in durable::temporaries_of(output) {
                let size = std::fs::symlink_metadata(&temp).map_or(0, |m| m.len());
                if std::fs::remove_file(&temp).is_ok() {
                    cleared.bytes += size;
                    cleared.files.push(temp);
                }
            }
        }
        cleared
    })?)
}

/// Finishes batches that were committed but whose output was not confirmed (a kill between
/// commit and publication): re-writes each output from the ledger, then marks it complete.
/// Returns the ids of the batches recovered.
///
/// # Errors
/// [`BatchError`] when the ledger or the output cannot be written.
pub fn recover_pending(ledger: &mut Ledger) -> Result<Vec<i64>, BatchError> {
    let mut recovered = Vec::new();
    for pending in ledger.batches().pending()? {
        let Some(output) = pending.output.clone() else {
            // A batch with no output file has nothing to publish.
            ledger.batches().mark_complete(pending.id)?;
            continue;
        };
        let format = OutputFormat::recorded(&pending)?;
        let pattern = pending.params["pattern"]
            .as_str()
            .map(|s| {
                Pattern::parse(s).map_err(|_| LedgerError::UnknownValue {
                    table: "batches",
                    column: "params.pattern",
                    value: s.to_string(),
                })
            })
            .transpose()?;
        let kind = pending.kind.key_kind().ok_or(LedgerError::UnknownValue {
            table: "batches",
            column: "kind",
            value: pending.kind.to_string(),
        })?;
        let mut out = DurableFile::create(&output, Access::OwnerOnly, Mode::Replace)?;
        write_header(&mut out, format).map_err(io_err(&output))?;
        for key in ledger.batches().keys(pending.id)? {
            write_line(
                &mut out,
                format,
                &display(pattern.as_ref(), &key),
                &pending.product,
                kind,
                pending.id,
            )
            .map_err(io_err(&output))?;
        }
        out.commit()?;
        ledger.batches().mark_complete(pending.id)?;
        recovered.push(pending.id);
    }
    Ok(recovered)
}
