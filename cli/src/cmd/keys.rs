//! `airseal keys`: generate product keys in batches, inspect a key, recover a batch.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use airseal_vendor::batch::{self, BatchRequest, OutputFormat};
use airseal_vendor::issue::LimitSpec;
use airseal_vendor::keys::KeyKind;
use airseal_vendor::keys::classify::{self, Found, KeyVerdict};
use airseal_vendor::keys::ops;
use airseal_vendor::keys::source::{self, SourceOptions};
use airseal_vendor::ledger::{KeyStatus, Ledger};
use airseal_vendor::skgl;
use airseal_vendor::vendor_dir::VendorDir;
use clap::{Args, Subcommand};
use serde_json::json;

use crate::args::{PassphraseArgs, VendorArgs};
use crate::error::{self, CliError};

/// `airseal keys …`
#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
    #[command(flatten)]
    pub vendor: VendorArgs,
}

/// The `keys` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a batch of unique product keys, recorded in the ledger.
    Generate(GenerateArgs),
    /// Say what a key is: malformed, a typo, unknown, valid, suspended or revoked (with its
    /// details). Exits 0 valid, 1 unknown or suspended, 10 malformed, 20 typo, 23 revoked.
    Inspect(InspectKeyArgs),
    /// Finish batches interrupted after they were recorded (rewrite their output files),
    /// and remove the temporary files of runs killed before they were recorded.
    Recover {
        /// Print a JSON summary.
        #[arg(long)]
        json: bool,
    },
    /// Suspend a key: activation refuses it until it is reinstated (licenses already
    /// delivered keep working until they end or are revoked).
    Suspend(SuspendArgs),
    /// Make a suspended key active again (a revoked key stays revoked).
    Reinstate(KeyArgs),
    /// Change a key's terms: seats, features, end, notes, metadata, customer. Activation
    /// uses the new terms from the next request on.
    Update(UpdateArgs),
}

/// The key a command acts on.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// The key, as typed (any case and separators; an imported key as exported).
    pub key: String,
    /// The product (default: whichever product has the key).
    #[arg(long, value_name = "ID")]
    pub product: Option<String>,
    #[arg(long, help = crate::args::JSON_HELP)]
    pub json: bool,
}

/// Arguments of `airseal keys suspend`.
#[derive(Debug, Args)]
pub struct SuspendArgs {
    #[command(flatten)]
    pub key: KeyArgs,
    /// Why (kept in the audit log).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

/// Arguments of `airseal keys update`.
#[derive(Debug, Args)]
#[command(
    after_help = "Lowering --max-activations below the seats in use is allowed: the     machines holding a seat keep it, and no new seat is given until enough are released     (the output says so). --extend adds to the key's term: to the days of a relative term,     or to its fixed end date."
)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub key: KeyArgs,
    /// Seat limit: a number, or unlimited.
    #[arg(long, value_name = "N|unlimited", value_parser = LimitSpec::parse)]
    pub max_activations: Option<LimitSpec>,
    /// Deactivation limit: a number, or unlimited.
    #[arg(long, value_name = "N|unlimited", value_parser = LimitSpec::parse)]
    pub max_deactivations: Option<LimitSpec>,
    /// Add a feature (F1..F8 or a name), optionally with an end date: F3 or export=2027-12-31.
    #[arg(long = "add-feature", value_name = "F[=DATE]")]
    pub add_feature: Vec<String>,
    /// Remove a feature, by name.
    #[arg(long = "remove-feature", value_name = "F")]
    pub remove_feature: Vec<String>,
    /// End the key's licenses at this date (YYYY-MM-DD, end of that day UTC, or RFC 3339).
    #[arg(long, value_name = "DATE", conflicts_with = "extend")]
    pub expires: Option<String>,
    /// Add this many days to the key's term.
    #[arg(long, value_name = "DAYS", allow_negative_numbers = true, value_parser = parse_extend)]
    pub extend: Option<u32>,
    /// Notes on the key (never in a license; "" clears them).
    #[arg(long, value_name = "TEXT")]
    pub notes: Option<String>,
    /// Link the key to this customer (its number, `airseal customers list`).
    #[arg(long, value_name = "ID")]
    pub customer: Option<i64>,
    /// Set a metadata entry of the key's licenses (a whole number is stored as one).
    #[arg(long = "meta", value_name = "K=V", value_parser = parse_meta)]
    pub meta: Vec<(String, String)>,
    /// Remove a metadata entry.
    #[arg(long = "remove-meta", value_name = "K")]
    pub remove_meta: Vec<String>,
}

fn parse_meta(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .ok_or_else(|| format!("{s:?}: expected NAME=VALUE"))
}

/// A number of days to extend by: a whole number of days. A negative number (read as a
/// value, not as a flag) is refused with what to do instead.
fn parse_extend(s: &str) -> Result<u32, String> {
    if s.trim().starts_with('-') {
        return Err(format!(
            "{s}: a negative extension is not allowed (a term is only extended); to end it \
             earlier give --expires DATE"
        ));
    }
    s.trim()
        .parse()
        .map_err(|_| format!("{s:?}: expected a whole number of days"))
}

/// Arguments of `airseal keys generate`.
#[derive(Debug, Args)]
#[command(
    after_help = "Every key is recorded in the ledger under one batch id and is unique \
    against every key the ledger holds for the product. If the process is killed, the ledger \
    and the output file still agree: keys are published only after the batch is committed, and \
    the next run (or `airseal keys recover`) finishes a committed batch whose file was not yet \
    in place. With --out -, keys go to standard output only after the batch is committed."
)]
pub struct GenerateArgs {
    /// Product id (a [products.<id>] table of airseal.toml).
    #[arg(long, value_name = "ID")]
    pub product: String,
    /// How many keys.
    #[arg(long, value_name = "N")]
    pub count: u64,
    /// random (an identifier), data (carries features and validity, MAC-protected) or
    /// signed (self-verifying with the public key).
    #[arg(long, default_value = "random", value_parser = KeyKind::parse)]
    pub kind: KeyKind,
    /// Key pattern, e.g. ACME-XXXXX-XXXXX-XXXXX (default: the product's key_pattern, else
    /// XXXXX-XXXXX-XXXXX-XXXXX).
    #[arg(long, value_name = "PATTERN")]
    pub pattern: Option<String>,
    /// Feature bits for data and signed keys: F1,F3 (random keys carry none: refused).
    #[arg(long, value_name = "F1,F2,…", value_delimiter = ',')]
    pub features: Vec<String>,
    /// Validity in days for data and signed keys (default: no expiry; 0 and random keys
    /// are refused).
    #[arg(long, value_name = "N")]
    pub days: Option<u16>,
    /// csv, jsonl or txt (default: from the extension .csv, .jsonl or .txt; csv for a name
    /// without one or standard output; any other extension must say --format).
    #[arg(long, value_parser = OutputFormat::parse)]
    pub format: Option<OutputFormat>,
    /// Output file, or - for standard output.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Replace an existing output file.
    #[arg(long)]
    pub force: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// (Not with --out -: standard output then carries the keys.)
    #[arg(long, help = crate::args::JSON_HELP)]
    pub json: bool,
    /// Accept a pattern whose random keys carry fewer than 80 bits (the default pattern has 95).
    #[arg(long)]
    pub allow_weak: bool,
    /// The license template (under [products.<id>.templates]) that `airseal activate` uses
    /// for these keys (default: the product's activation_template).
    #[arg(long, value_name = "NAME")]
    pub template: Option<String>,
    /// The customer these keys are for (its number, `airseal customers list`).
    #[arg(long, value_name = "ID")]
    pub customer: Option<i64>,
    /// Seed the generator (reproducible keys, FOR TESTS ONLY; needs --insecure-seed).
    #[arg(long, value_name = "N", requires = "insecure_seed")]
    pub seed: Option<u64>,
    /// Acknowledge that --seed makes keys predictable.
    #[arg(long)]
    pub insecure_seed: bool,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
    #[command(flatten)]
    pub signer: crate::args::SignerArgs,
}

/// Arguments of `airseal keys inspect`.
#[derive(Debug, Args)]
pub struct InspectKeyArgs {
    /// The key, as typed.
    pub key: String,
    /// The product to read it for (default: the only product, or found in the ledger).
    #[arg(long, value_name = "ID")]
    pub product: Option<String>,
    /// airseal (default) or skgl (a legacy Cryptolens SKGL key; no vendor folder needed).
    #[arg(long, default_value = "airseal")]
    pub format: String,
    /// The SKGL secret phrase (default: the product's skgl_secret).
    #[arg(long, value_name = "PHRASE")]
    pub secret: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `airseal keys …`.
pub fn run(args: &KeysArgs) -> Result<ExitCode, CliError> {
    match &args.command {
        KeysCommand::Generate(g) => generate(&args.vendor, g),
        KeysCommand::Inspect(i) => inspect(&args.vendor, i),
        KeysCommand::Recover { json } => {
            let vendor = args.vendor.open()?;
            let mut ledger = open_ledger(&vendor)?;
            let done = batch::recover_pending(&mut ledger)?;
            let left = batch::remove_leftovers(&mut ledger)?;
            if *json {
                crate::term::out_json(&serde_json::json!({
                    "recovered_batches": done,
                    "leftovers_removed": left.files.len(),
                    "leftover_bytes": left.bytes,
                }));
                return Ok(ExitCode::SUCCESS);
            }
            outln!(
                "{} {} recovered",
                done.len(),
                if done.len() == 1 { "batch" } else { "batches" }
            );
            outln!(
                "{} leftover temporary {} removed ({} bytes)",
                left.files.len(),
                if left.files.len() == 1 {
                    "file"
                } else {
                    "files"
                },
                left.bytes
            );
            Ok(ExitCode::SUCCESS)
        }
        KeysCommand::Suspend(a) => {
            let vendor = args.vendor.open()?;
            let ledger = open_ledger(&vendor)?;
            let done = ops::suspend(
                &ledger,
                a.key.product.as_deref(),
                &a.key.key,
                a.reason.as_deref(),
            )?;
            status_done(&done, a.key.json);
            Ok(ExitCode::SUCCESS)
        }
        KeysCommand::Reinstate(a) => {
            let vendor = args.vendor.open()?;
            let ledger = open_ledger(&vendor)?;
            let done = ops::reinstate(&ledger, a.product.as_deref(), &a.key)?;
            status_done(&done, a.json);
            Ok(ExitCode::SUCCESS)
        }
        KeysCommand::Update(a) => update(&args.vendor, a),
    }
}

fn status_done(done: &ops::StatusChange, as_json: bool) {
    if as_json {
        crate::term::out_json(&json!(done));
    } else if done.changed {
        outln!(
            "{} ({}): {} → {}",
            crate::term::field(&done.key.key),
            crate::term::field(&done.key.product),
            done.from,
            done.to
        );
    } else {
        outln!(
            "{} ({}) is already {}: nothing changed",
            crate::term::field(&done.key.key),
            crate::term::field(&done.key.product),
            done.to
        );
    }
}

fn update(vendor_args: &VendorArgs, a: &UpdateArgs) -> Result<ExitCode, CliError> {
    let vendor = vendor_args.open()?;
    let ledger = open_ledger(&vendor)?;
    let change = ops::KeyUpdate {
        max_activations: a.max_activations,
        max_deactivations: a.max_deactivations,
        add_features: a.add_feature.clone(),
        remove_features: a.remove_feature.clone(),
        term: match (&a.expires, a.extend) {
            (Some(date), _) => Some(ops::TermChange::Expires(date.clone())),
            (None, Some(days)) => Some(ops::TermChange::Extend(days)),
            (None, None) => None,
        },
        notes: a.notes.clone(),
        customer: a.customer,
        set_metadata: a.meta.clone(),
        remove_metadata: a.remove_meta.clone(),
    };
    let report = ops::update(
        &ledger,
        vendor.config(),
        a.key.product.as_deref(),
        &a.key.key,
        &change,
        chrono::Utc::now().timestamp(),
    )?;
    if a.key.json {
        crate::term::out_json(&json!(report));
        return Ok(ExitCode::SUCCESS);
    }
    let who = format!(
        "{} ({})",
        crate::term::field(&report.key.key),
        crate::term::field(&report.key.product)
    );
    if !report.changed {
        outln!("{who}: nothing changed");
        return Ok(ExitCode::SUCCESS);
    }
    outln!("{who} updated; activation uses the new terms from the next request on");
    let (before, after) = (&report.before["license"], &report.after["license"]);
    let mut names: Vec<&String> = before
        .as_object()
        .into_iter()
        .chain(after.as_object())
        .flat_map(|m| m.keys())
        .collect();
    names.sort();
    names.dedup();
    for name in names
        .into_iter()
        .chain([&"notes".to_string(), &"customer".to_string()])
    {
        let (b, n) = match name.as_str() {
            "notes" | "customer" => (&report.before[name], &report.after[name]),
            _ => (&before[name], &after[name]),
        };
        if b != n {
            outln!(
                "  {name:<18} {} → {}",
                crate::term::field(&b.to_string()),
                crate::term::field(&n.to_string())
            );
        }
    }
    if report.over_limit {
        errln!(
            "note: {} seats are in use, more than the new limit: those machines keep their \
             seats, and no new seat is given until enough are released",
            report.seats_in_use
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints a key verdict as JSON, or as aligned `field value` lines for people.
fn print_verdict(verdict: &serde_json::Value, as_json: bool) {
    if as_json {
        crate::term::out_json(verdict);
        return;
    }
    for (k, v) in verdict.as_object().into_iter().flatten() {
        outln!(
            "{k:<13} {}",
            crate::term::field(&v.as_str().map_or_else(|| v.to_string(), str::to_string))
        );
    }
}

fn open_ledger(vendor: &VendorDir) -> Result<Ledger, CliError> {
    vendor
        .open_ledger()
        .map_err(|e| CliError::from(e).at(&vendor.ledger_path()))
}

fn feature_bits(names: &[String]) -> Result<u8, CliError> {
    let mut bits = 0u8;
    for n in names {
        let b = airseal_core::claims::bit_name(n.trim())
            .ok_or_else(|| CliError::msg(format!("--features {n:?}: expected F1..F8")))?;
        bits |= 1 << (b - 1);
    }
    Ok(bits)
}

fn generate(vendor_args: &VendorArgs, a: &GenerateArgs) -> Result<ExitCode, CliError> {
    let vendor = vendor_args.open()?;
    // Every check before the passphrase is asked for.
    let plan = source::plan(
        vendor.config(),
        SourceOptions {
            product: a.product.clone(),
            kind: a.kind,
            pattern: a.pattern.clone(),
            features: feature_bits(&a.features)?,
            days: a.days,
            allow_weak: a.allow_weak,
            template: a.template.clone(),
            seed: a.seed,
        },
    )?;
    let issuer = if plan.needs_issuer() {
        Some(super::unlock_signer(
            Some(&vendor),
            None,
            &a.signer,
            &a.passphrase,
        )?)
    } else {
        None
    };
    let source = plan.into_source(issuer.as_ref(), chrono::Utc::now().timestamp())?;
    let to_stdout = a.out.as_os_str() == "-";
    if a.json && to_stdout {
        return Err(CliError::Message(
            "--json prints the result on standard output: write the keys with --out FILE".into(),
            2,
        ));
    }
    let format = match a.format {
        Some(f) => f,
        None => OutputFormat::for_path(&a.out).ok_or_else(|| {
            CliError::msg(format!(
                "{}: keys are written as .csv, .jsonl (one JSON object per line) or .txt; \
                 name the file so, or pass --format csv|jsonl|txt",
                a.out.display()
            ))
        })?,
    };
    // Standard output cannot be published atomically: write a file, then copy it out.
    let stdout_tmp = if to_stdout {
        Some(
            tempfile::Builder::new()
                .prefix("airseal-keys-")
                .tempdir()
                .map_err(|e| CliError::io(Path::new("(temp)"), e))?,
        )
    } else {
        None
    };
    let out_path = stdout_tmp
        .as_ref()
        .map_or_else(|| a.out.clone(), |d| d.path().join("keys"));
    let mut ledger = open_ledger(&vendor)?;
    let bar = crate::progress::Progress::bar(a.count, "keys", a.quiet);
    let started = std::time::Instant::now();
    let report = batch::generate(
        &mut ledger,
        BatchRequest {
            product: &a.product,
            count: a.count,
            source,
            format,
            output: &out_path,
            force: a.force,
            template: a.template.as_deref(),
            customer: a.customer,
        },
        &mut |done| bar.set(done),
    )?;
    bar.finish();
    if to_stdout {
        let mut f = std::fs::File::open(&out_path).map_err(|e| CliError::io(&out_path, e))?;
        // A reader that stops early (`| head`) is not an error: the batch is complete and
        // recorded; `term` files the closed pipe and `main` keeps exit 0.
        let _ = std::io::copy(&mut f, &mut crate::term::Out);
    }
    if a.json {
        crate::term::out_json(&serde_json::json!({
            "batch": report.batch,
            "keys": report.keys,
            "kind": a.kind.as_str(),
            "product": a.product,
            "out": a.out.display().to_string(),
            "collisions": report.collisions,
            "seconds": started.elapsed().as_secs_f64(),
        }));
    }
    if !a.quiet {
        errln!(
            "batch {}: {} for {} in {:.2}s → {}{}",
            report.batch,
            crate::term::count(
                report.keys,
                &format!("{} key", a.kind.as_str()),
                &format!("{} keys", a.kind.as_str())
            ),
            a.product,
            started.elapsed().as_secs_f64(),
            a.out.display(),
            if report.collisions > 0 {
                format!(
                    " ({} regenerated)",
                    crate::term::count(report.collisions, "collision", "collisions")
                )
            } else {
                String::new()
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn inspect(vendor_args: &VendorArgs, a: &InspectKeyArgs) -> Result<ExitCode, CliError> {
    if a.format == "skgl" {
        return inspect_skgl(vendor_args, a);
    }
    if a.format != "airseal" {
        return Err(CliError::msg(format!(
            "--format {:?}: expected airseal or skgl",
            a.format
        )));
    }
    let vendor = vendor_args.open()?;
    let ledger = open_ledger(&vendor)?;
    let now = chrono::Utc::now().timestamp();
    let verdict = classify::classify(&vendor, &ledger, a.product.as_deref(), &a.key, now)?;
    print_verdict(&verdict_json(&a.key, &verdict), a.json);
    Ok(ExitCode::from(verdict_code(&verdict)))
}

/// The exit code of `keys inspect` for a revoked key: a revoked license's (EXIT CODES 23).
const KEY_REVOKED: u8 = 23;

/// The exit code of a verdict (EXIT CODES): 0 valid, 1 unknown or suspended, 10 malformed,
/// 20 typo, 23 revoked (as a revoked license), and a signed key's verification code.
fn verdict_code(v: &KeyVerdict) -> u8 {
    match v {
        KeyVerdict::Valid(k) => match k.status() {
            KeyStatus::Active => 0,
            KeyStatus::Revoked => KEY_REVOKED,
            _ => error::GENERAL,
        },
        KeyVerdict::Malformed { .. } => error::MALFORMED,
        KeyVerdict::Typo { .. } | KeyVerdict::SignedTypo => error::TYPO,
        KeyVerdict::InvalidSigned { error } => error.code(),
        _ => error::GENERAL,
    }
}

/// A verdict as the JSON object `keys inspect` prints (and, field by field, its text form).
fn verdict_json(typed: &str, v: &KeyVerdict) -> serde_json::Value {
    let time = airseal_vendor::time::format_time;
    match v {
        KeyVerdict::Malformed { reason, pattern } => {
            let mut j = json!({"key": typed, "status": "malformed", "reason": reason});
            if let Some(p) = pattern {
                j["pattern"] = json!(p);
            }
            j
        }
        KeyVerdict::Typo { product } => json!({"key": typed, "status": "typo",
            "reason": "check symbol does not match: a symbol was mistyped", "product": product}),
        KeyVerdict::SignedTypo => json!({"key": typed, "status": "typo",
            "reason": airseal_verify::Error::Typo.to_string(), "class": "typo"}),
        KeyVerdict::Unknown {
            product,
            key,
            canonical,
        } => json!({"key": key, "canonical": canonical, "status": "unknown", "product": product,
            "reason": "well-formed, but not in the ledger for this product"}),
        KeyVerdict::InvalidSigned { error } => json!({"key": typed, "status": "invalid",
            "reason": error.to_string(), "class": error.class(), "code": error.code()}),
        KeyVerdict::Valid(k) => {
            let status = match k.status() {
                KeyStatus::Active => "valid",
                other => other.as_str(),
            };
            let mut j = json!({"key": k.key, "status": status, "product": k.product});
            if let Some(r) = &k.record {
                j["kind"] = json!(r.kind);
                j["batch"] = json!(r.batch);
                j["ledger_status"] = json!(r.status.as_str());
            }
            match &k.found {
                Found::Imported { typed_differently } => {
                    if let Some(r) = &k.record {
                        j["created"] = json!(time(r.created));
                    }
                    j["typed_differently"] = json!(typed_differently);
                }
                Found::Pattern { canonical, data } => {
                    j["canonical"] = json!(canonical);
                    if let Some(r) = &k.record {
                        j["created"] = json!(time(r.created));
                    }
                    if let Some(d) = data {
                        j["features"] = json!(
                            (1..=8u8)
                                .filter(|n| d.features & (1 << (n - 1)) != 0)
                                .map(|n| format!("F{n}"))
                                .collect::<Vec<_>>()
                        );
                        j["days"] = json!(d.days);
                        j["key_created"] = json!(time(d.created_at()));
                    }
                }
                Found::Signed {
                    features,
                    created,
                    expires,
                    serial,
                    signed_by,
                } => {
                    j["kind"] = json!("signed");
                    j["features"] = json!(features);
                    j["key_created"] = json!(time(*created));
                    j["expires"] = json!(expires.map(time));
                    j["serial"] = json!(serial);
                    j["signed_by"] = json!(signed_by.to_string());
                    if k.record.is_none() {
                        j["batch"] = serde_json::Value::Null;
                        j["ledger_status"] = serde_json::Value::Null;
                    }
                }
                _ => {}
            }
            j
        }
        _ => json!({"key": typed, "status": "unknown"}),
    }
}

fn inspect_skgl(vendor_args: &VendorArgs, a: &InspectKeyArgs) -> Result<ExitCode, CliError> {
    let secret = match &a.secret {
        Some(s) => s.clone(),
        None => match (&a.product, vendor_args.open()) {
            (Some(p), Ok(v)) => v
                .config()
                .products
                .get(p)
                .and_then(|c| c.skgl_secret.clone())
                .unwrap_or_default(),
            _ => String::new(),
        },
    };
    let out = match skgl::decode(&a.key, &secret) {
        Ok(k) => json!({
            "valid": true,
            "created": k.created_string(),
            "days": k.days,
            "expires": k.expires_string(),
            "features": k.enabled_features().map(|n| format!("F{n}")).collect::<Vec<_>>(),
            "id": k.id,
        }),
        Err(e) => json!({"valid": false, "error": e.to_string()}),
    };
    let valid = out["valid"] == true;
    print_verdict(&out, a.json);
    Ok(if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
