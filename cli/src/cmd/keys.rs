//! `airseal keys`: generate product keys in batches, inspect a key, recover a batch.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use airseal_core::productkey::{DEFAULT_PATTERN, Pattern};
use airseal_vendor::batch::{self, BatchRequest, KeySource, OutputFormat};
use airseal_vendor::keys::{self, DataKeySpec, KeyGenerator, KeyKind, KeyReading};
use airseal_vendor::ledger::{KeyMatch, Ledger};
use airseal_vendor::skgl;
use airseal_vendor::vendor_dir::{VENDOR_ENV, VendorDir};
use clap::{Args, Subcommand};
use serde_json::json;

use crate::PassphraseArgs;
use crate::error::CliError;

/// Where the vendor folder is.
#[derive(Debug, Clone, Args)]
pub struct VendorArgs {
    /// The vendor folder (default: $AIRSEAL_VENDOR, else the nearest folder holding
    /// airseal.toml at or above the current one).
    #[arg(long, value_name = "DIR", global = true)]
    pub vendor: Option<PathBuf>,
}

impl VendorArgs {
    /// Finds and opens the vendor folder.
    pub fn open(&self) -> Result<VendorDir, CliError> {
        let cwd = std::env::current_dir().map_err(|e| CliError::io(Path::new("."), e))?;
        VendorDir::discover(self.vendor.as_deref(), std::env::var_os(VENDOR_ENV), &cwd)
            .map_err(CliError::from)
    }
}

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
    /// Say what a key is: malformed, a typo, unknown, or valid (with its details).
    Inspect(InspectKeyArgs),
    /// Finish batches interrupted after they were recorded (rewrite their output files).
    Recover,
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
    /// Feature bits for data and signed keys: F1,F3.
    #[arg(long, value_name = "F1,F2,…", value_delimiter = ',')]
    pub features: Vec<String>,
    /// Validity in days for data and signed keys (0 = no expiry).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub days: u16,
    /// csv, jsonl or txt (default: from the file extension, else csv).
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
    /// Seed the generator (reproducible keys, FOR TESTS ONLY; needs --insecure-seed).
    #[arg(long, value_name = "N", requires = "insecure_seed")]
    pub seed: Option<u64>,
    /// Acknowledge that --seed makes keys predictable.
    #[arg(long)]
    pub insecure_seed: bool,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
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
        KeysCommand::Recover => {
            let vendor = args.vendor.open()?;
            let mut ledger = open_ledger(&vendor)?;
            let done = batch::recover_pending(&mut ledger)?;
            outln!("{} batch(es) recovered", done.len());
            Ok(ExitCode::SUCCESS)
        }
    }
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
    if a.seed.is_some() && a.kind == KeyKind::Signed {
        return Err(CliError::msg(
            "--seed is refused for signed keys: their serials must be unpredictable",
        ));
    }
    let vendor = vendor_args.open()?;
    let product_cfg = vendor.config().products.get(&a.product).ok_or_else(|| {
        CliError::msg(format!(
            "unknown product {:?}: add a [products.{}] table to {}",
            a.product,
            a.product,
            vendor.config_path().display()
        ))
    })?;
    if let Some(t) = &a.template {
        if !product_cfg.templates.contains_key(t) {
            return Err(CliError::msg(format!(
                "--template {t:?}: no [products.{}.templates.{t}] in {}",
                a.product,
                vendor.config_path().display()
            )));
        }
    }
    let pattern_text = a
        .pattern
        .clone()
        .or_else(|| product_cfg.key_pattern.clone())
        .unwrap_or_else(|| DEFAULT_PATTERN.into());
    let pattern = Pattern::parse(&pattern_text).map_err(|e| {
        CliError::from(keys::GeneratorError::Pattern(e)).about(format!("pattern {pattern_text:?}"))
    })?;
    let rng = match a.seed {
        Some(seed) => keys::seeded_rng(seed),
        None => keys::os_rng(),
    };
    let features = feature_bits(&a.features)?;
    let now = chrono::Utc::now().timestamp();
    let issuer = match a.kind {
        KeyKind::Random => None,
        KeyKind::Data | KeyKind::Signed => Some(super::unlock_key(
            &vendor.signing_key_path(),
            &a.passphrase,
        )?),
    };
    let source = match (a.kind, &issuer) {
        (KeyKind::Random, _) => {
            let min = if a.allow_weak {
                0
            } else {
                keys::DEFAULT_RANDOM_BITS
            };
            KeySource::Generator(KeyGenerator::random(pattern, min, rng)?)
        }
        (KeyKind::Data, Some(issuer)) => {
            let spec = DataKeySpec {
                product: a.product.clone(),
                features,
                days: a.days,
                created: now,
                mac_key: issuer.data_key_mac_key(),
            };
            KeySource::Generator(KeyGenerator::data(pattern, spec, rng)?)
        }
        (_, Some(issuer)) => KeySource::Signed {
            issuer,
            features,
            days: a.days,
            created: now,
            rng,
        },
        (_, None) => return Err(CliError::msg("internal: no signing key")),
    };
    let to_stdout = a.out.as_os_str() == "-";
    if a.json && to_stdout {
        return Err(CliError::Message(
            "--json prints the result on standard output: write the keys with --out FILE".into(),
            2,
        ));
    }
    let format = a
        .format
        .unwrap_or_else(|| match a.out.extension().and_then(|e| e.to_str()) {
            Some("jsonl") => OutputFormat::Jsonl,
            Some("txt") => OutputFormat::Txt,
            _ => OutputFormat::Csv,
        });
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
            "batch {}: {} {} keys for {} in {:.2}s → {}{}",
            report.batch,
            report.keys,
            a.kind.as_str(),
            a.product,
            started.elapsed().as_secs_f64(),
            a.out.display(),
            if report.collisions > 0 {
                format!(" ({} collisions regenerated)", report.collisions)
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
    let products: Vec<String> = match &a.product {
        Some(p) => vec![p.clone()],
        None => vendor.config().products.keys().cloned().collect(),
    };
    let ledger = open_ledger(&vendor)?;
    if !matches!(
        airseal_core::signedkey::decode(&a.key),
        Err(airseal_core::signedkey::SignedKeyError::WrongLength { .. })
    ) {
        return inspect_signed(&vendor, &ledger, &products, a);
    }
    // A key imported from another platform keeps its own spelling and may follow no
    // pattern: find it as activation does (exactly, or ignoring case and separators).
    for product in &products {
        let found = ledger.keys().find(product, &a.key)?;
        let Some(found) = found.filter(|f| f.matched != KeyMatch::Canonical) else {
            continue;
        };
        let Some(r) = ledger.keys().info(Some(product), &found.key)? else {
            continue;
        };
        if r.kind != "import" {
            continue;
        }
        let verdict = json!({"key": found.key, "status": "valid", "product": product,
            "kind": r.kind, "batch": r.batch, "created": airseal_vendor::issue::format_time(r.created),
            "ledger_status": r.status.as_str(),
            "typed_differently": found.matched == KeyMatch::Loose});
        print_verdict(&verdict, a.json);
        return Ok(ExitCode::SUCCESS);
    }
    // Read the key with each candidate product's pattern; the first that reads it wins.
    let mut verdict =
        json!({"key": a.key, "status": "malformed", "reason": "no product's pattern matches"});
    let mut code = 10u8;
    for product in &products {
        let pattern_text = vendor
            .config()
            .products
            .get(product)
            .and_then(|p| p.key_pattern.clone())
            .unwrap_or_else(|| DEFAULT_PATTERN.into());
        let Ok(pattern) = Pattern::parse(&pattern_text) else {
            continue;
        };
        match keys::read_key(&pattern, &a.key) {
            KeyReading::Malformed(e) => {
                if code == 10 {
                    verdict = json!({"key": a.key, "status": "malformed", "reason": e.to_string(), "pattern": pattern_text});
                }
            }
            KeyReading::Typo => {
                verdict = json!({"key": a.key, "status": "typo", "reason": "check symbol does not match: a symbol was mistyped", "product": product});
                code = 20;
            }
            KeyReading::Canonical(c) => {
                let record = ledger.keys().info(Some(product), &c)?;
                verdict = match record {
                    None => {
                        code = 1;
                        json!({"key": pattern.display(&c), "canonical": c, "status": "unknown", "product": product,
                               "reason": "well-formed, but not in the ledger for this product"})
                    }
                    Some(r) => {
                        code = 0;
                        let mut v = json!({"key": pattern.display(&c), "canonical": c, "status": "valid", "product": product,
                            "kind": r.kind, "batch": r.batch, "created": airseal_vendor::issue::format_time(r.created),
                            "ledger_status": r.status.as_str()});
                        if r.kind == "data" {
                            let issuer = None::<&[u8; 32]>;
                            let info = keys::decode_data_key(&pattern, &c, product, issuer);
                            v["features"] = json!(
                                (1..=8u8)
                                    .filter(|n| info.fields.features & (1 << (n - 1)) != 0)
                                    .map(|n| format!("F{n}"))
                                    .collect::<Vec<_>>()
                            );
                            v["days"] = json!(info.fields.days);
                            v["key_created"] =
                                json!(airseal_vendor::issue::format_time(info.fields.created_at()));
                        }
                        v
                    }
                };
                break;
            }
        }
    }
    print_verdict(&verdict, a.json);
    Ok(ExitCode::from(code))
}

/// A 136-symbol key: verify it as a signed key with the vendor's own public key.
fn inspect_signed(
    vendor: &VendorDir,
    ledger: &Ledger,
    products: &[String],
    a: &InspectKeyArgs,
) -> Result<ExitCode, CliError> {
    let mut trust = airseal_verify::TrustStore::new();
    let public = crate::io::read_input(&vendor.public_key_path())?;
    trust.add_public_key_file(&public)?;
    let now = chrono::Utc::now().timestamp();
    let canonical: String = a
        .key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_uppercase();
    let mut verdict = json!({"key": a.key, "status": "invalid"});
    let mut code = 1u8;
    for product in products {
        match trust.verify_signed_key(&a.key, product, now) {
            Ok(k) => {
                let record = ledger.keys().info(Some(product), &canonical)?;
                verdict = json!({
                    "key": a.key, "status": "valid", "kind": "signed", "product": product,
                    "features": (1..=8u8).filter(|n| k.feature_enabled(&format!("F{n}"))).map(|n| format!("F{n}")).collect::<Vec<_>>(),
                    "key_created": airseal_vendor::issue::format_time(k.created_at()),
                    "expires": k.expires_at().map(airseal_vendor::issue::format_time),
                    "serial": k.serial(), "signed_by": k.key_id().to_string(),
                    "batch": record.as_ref().map(|r| r.batch),
                    "ledger_status": record.as_ref().map(|r| r.status.as_str()),
                });
                code = 0;
                break;
            }
            Err(e @ airseal_verify::Error::WrongProduct { .. }) => {
                verdict = json!({"key": a.key, "status": "invalid", "reason": e.to_string(), "code": e.code()});
            }
            Err(e) => {
                let status = if e.class() == "typo" {
                    "typo"
                } else {
                    "invalid"
                };
                verdict = json!({"key": a.key, "status": status, "reason": e.to_string(), "class": e.class()});
                code = e.code();
                break;
            }
        }
    }
    print_verdict(&verdict, a.json);
    Ok(ExitCode::from(code))
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
