//! `airseal verify`: check a license offline, exactly as an app embedding
//! `airseal-verify` would.

use std::path::PathBuf;
use std::process::ExitCode;

use std::path::Path;

use airseal_core::cert::Certificate;
use airseal_core::cose::{ObjectType, parse_sign1};
use airseal_core::json::{certificate_to_json, claims_to_json, revocation_list_to_json};
use airseal_core::revocation::RevocationList;
use airseal_core::{KeyId, armor};
use airseal_vendor::time::{EndOfDay, format_time, parse_time};
use airseal_verify::{Error, Expected, Issuer, License, Status, TrustStore};
use clap::Args;
use serde_json::{Value, json};

use crate::args::NowArgs;
use crate::error::{CliError, EXIT_CODES_HELP, USAGE};
use crate::term::field;
use crate::time;

/// Arguments of `airseal verify`.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub struct VerifyArgs {
    /// The license file: armored text (also inside an e-mail) or raw bytes; `-` for stdin.
    /// An issuing-key certificate (`issuing.cert`) is verified as one, and so is a
    /// revocation list given without --product: signed by a --public-key root (or, for a
    /// list, by an issuing key within its certificate's rights).
    #[arg(required_unless_present = "machine", conflicts_with = "machine")]
    pub file: Option<PathBuf>,
    /// A trusted public key file (signing.pub, the root); repeat it to trust several keys
    /// (rotation). Licenses signed by an issuing key carry its certificate: the root is enough.
    #[arg(long = "public-key", value_name = "FILE", required = true)]
    pub public_key: Vec<PathBuf>,
    /// The product id the license must be for (required for licenses; for a certificate: it
    /// must allow this product).
    #[arg(long, value_name = "ID")]
    pub product: Option<String>,
    #[command(flatten)]
    pub now: NowArgs,
    /// The app's release date (YYYY-MM-DD or RFC 3339): refuse licenses whose maintenance
    /// ended before it (release gating).
    #[arg(long, value_name = "DATE")]
    pub release_date: Option<String>,
    /// A revocation list (from `airseal revocations export`) to check the license against:
    /// signed by a --public-key root, or by an issuing key whose certificate allows lists
    /// with this number. A list refused exits with its own code (31, 33-35…), naming it.
    #[arg(long, value_name = "FILE")]
    pub revocations: Option<PathBuf>,
    /// Print the verified claims, or the error, as JSON on standard output.
    #[arg(long)]
    pub json: bool,
    /// Verify the license installed on this machine (`airseal install`) instead of a file:
    /// also checks this machine's fingerprint against its binding and its device key.
    #[arg(long)]
    pub machine: bool,
    /// With --machine: the data folder (default: $AIRSEAL_DATA_DIR, else the product's
    /// folder under $XDG_DATA_HOME/airseal or ~/.local/share/airseal).
    #[arg(long, value_name = "DIR", requires = "machine")]
    pub data_dir: Option<PathBuf>,
    /// With --machine: how this machine is identified (as for `airseal request`).
    #[command(flatten)]
    pub fingerprint: super::machine::FingerprintArgs,
}

/// Runs `airseal verify`.
pub fn run(args: &VerifyArgs) -> Result<ExitCode, CliError> {
    let trust = super::machine::load_trust(&args.public_key)?;
    let now = args.now.instant()?;
    if let Some(file) = args.file.as_ref().filter(|_| !args.machine) {
        let input = crate::io::read_input(file)?;
        // A certificate or a revocation list is verified as what it is, not as a license.
        match signed_type(&input) {
            Some(t) if t == ObjectType::Certificate.typ() => {
                return Ok(certificate(args, trust, file, &input, now));
            }
            // With --product a license is asked for: a list is then the wrong type (12).
            Some(t) if t == ObjectType::RevocationList.typ() && args.product.is_none() => {
                return Ok(revocation_list(args, &trust, file, &input));
            }
            // Not a signed object at all: what is wrong with it does not depend on the
            // product (the envelope is the first check), so say it even without --product.
            None if args.product.is_none() => {
                if let Err(e) = trust.verify(&input, now, &Expected::product("")) {
                    return Ok(refuse(args.json, file, "file", &e, &input));
                }
            }
            _ => {}
        }
    }
    let product = args.product.as_deref().ok_or_else(|| {
        CliError::Message(
            "a license is verified for a product: pass --product ID".into(),
            USAGE,
        )
    })?;
    let (shown, input) = match &args.file {
        Some(file) if !args.machine => (file.clone(), crate::io::read_input(file)?),
        _ => super::machine::installed_license(args.data_dir.as_deref(), product)?,
    };
    let mut expected = Expected::product(product);
    if let Some(d) = &args.release_date {
        expected = expected.release_date(parse_time("--release-date", d, EndOfDay::No)?);
    }
    let list = match &args.revocations {
        Some(p) => {
            let text = crate::io::read_input(p)?;
            match trust.verify_revocations(&text) {
                Ok(list) => Some(list),
                Err(e) => return Ok(refuse(args.json, p, "revocation list", &e, &text)),
            }
        }
        None => None,
    };
    if let Some(l) = &list {
        expected = expected.revocations(l);
    }
    let verified = if args.machine {
        super::machine::verify_installed(
            args.data_dir.as_deref(),
            product,
            &args.fingerprint,
            &trust,
            now,
            expected,
        )?
    } else {
        trust.verify(&input, now, &expected)
    };
    match verified {
        Ok(license) => {
            if args.json {
                crate::term::out_json(&success_json(&license, now));
            } else {
                print_license(&license, now);
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(refuse(args.json, &shown, "license", &e, &input)),
    }
}

/// The `typ` of a signed airseal object, read without verifying anything; `None` when the
/// input is not one (the verifier then says what is wrong with it).
fn signed_type(input: &[u8]) -> Option<String> {
    let raw = armor::dearmor(input).ok()?;
    let sign1 = parse_sign1(&raw).ok()?;
    Some(sign1.header.typ.to_string())
}

/// Reports a refusal of `file` (a `what`: license, certificate, revocation list) on
/// standard error, or as JSON; its exit code is the error's.
fn refuse(json: bool, file: &Path, what: &str, e: &Error, input: &[u8]) -> ExitCode {
    let message = describe_object(e, input, what);
    if json {
        let mut j = json!({
            "valid": false,
            "error": e.class(),
            "code": e.code(),
            "message": message,
            "file": file.display().to_string(),
        });
        if let Error::Malformed(d) = e {
            j["context"] = json!(d.context);
            j["rule"] = json!(d.kind.rule());
            j["offset"] = json!(d.offset);
        }
        crate::term::out_json(&j);
    } else if what == "license" {
        errln!("{}: invalid: {message}", file.display());
    } else {
        errln!("{}: invalid {what}: {message}", file.display());
    }
    ExitCode::from(e.code())
}

/// `airseal verify issuing.cert`: the certificate is signed by a trusted root (and allows
/// `--product`, when given).
fn certificate(
    args: &VerifyArgs,
    mut trust: TrustStore,
    file: &Path,
    input: &[u8],
    now: i64,
) -> ExitCode {
    let checked = trust.add_certificate(input).and_then(|issuer| {
        let cert = issuer.certificate();
        match &args.product {
            Some(p) if !cert.allows_product(p) => Err(Error::CertificateProductNotAllowed {
                serial: cert.serial,
                product: p.clone(),
            }),
            _ => Ok(issuer),
        }
    });
    let issuer = match checked {
        Ok(i) => i,
        Err(e) => return refuse(args.json, file, "certificate", &e, input),
    };
    let cert = issuer.certificate();
    if args.json {
        crate::term::out_json(&json!({
            "valid": true,
            "typ": ObjectType::Certificate.typ(),
            "root": issuer.root().to_string(),
            "certificate": certificate_to_json(cert),
            "covers_now": cert.covers(now),
        }));
    } else {
        outln!(
            "VALID issuing-key certificate serial {}, signed by root key {}",
            cert.serial,
            issuer.root()
        );
        super::issuing_key::print_certificate(cert, &issuer.root());
        if !cert.covers(now) {
            outln!("  NOTE          its window does not include now: what it signs now is refused");
        }
    }
    ExitCode::SUCCESS
}

/// `airseal verify revocations.txt`: signed by a trusted root, or by an issuing key whose
/// certificate allows lists, covers it and grants its number.
fn revocation_list(args: &VerifyArgs, trust: &TrustStore, file: &Path, input: &[u8]) -> ExitCode {
    let list = match trust.verify_revocations(input) {
        Ok(l) => l,
        Err(e) => return refuse(args.json, file, "revocation list", &e, input),
    };
    // Verified: the certificate the header carries (if any) is the one just checked.
    let chain = carried_certificate(input);
    if args.json {
        let mut j = json!({
            "valid": true,
            "typ": ObjectType::RevocationList.typ(),
            "list": revocation_list_to_json(&list),
        });
        if let Some((root, cert)) = &chain {
            j["issuer"] = issuer_json(root, cert);
        }
        crate::term::out_json(&j);
    } else {
        outln!("VALID revocation list {}", list.seq);
        print_revocation_list(&list);
        match &chain {
            Some((root, cert)) => print_chain(root, cert),
            None => outln!("  signed by  root key {}", signer_kid(input)),
        }
    }
    ExitCode::SUCCESS
}

/// The certificate a signed object's header carries, read without verifying it.
pub fn carried_certificate(input: &[u8]) -> Option<(KeyId, Certificate)> {
    let raw = armor::dearmor(input).ok()?;
    let sign1 = parse_sign1(&raw).ok()?;
    airseal_vendor::issuing::parse_certificate(sign1.header.cert?).ok()
}

/// The key id a signed object's header names (the issuing key's when it carries a
/// certificate).
fn signer_kid(input: &[u8]) -> String {
    armor::dearmor(input)
        .ok()
        .and_then(|raw| parse_sign1(&raw).ok().map(|s| s.header.kid.to_string()))
        .unwrap_or_default()
}

/// The issuing key of a chained object as JSON: the certificate's fields (as
/// [`certificate_to_json`]) and `root`, the key id of the root that certified it
/// (`vectors/README.md`: `"issuer": {"root", "kid", "serial", …}`).
pub fn issuer_json(root: &KeyId, cert: &Certificate) -> Value {
    let mut j = certificate_to_json(cert);
    j["root"] = json!(root.to_string());
    j
}

/// The chain of a signed object, for people: root → certificate → issuing key, then the
/// certificate's fields.
pub fn print_chain(root: &KeyId, cert: &Certificate) {
    outln!(
        "  signed by  issuing key {} (certificate serial {}, certified by root key {root})",
        cert.key_id(),
        cert.serial
    );
    super::issuing_key::print_certificate(cert, root);
}

/// A revocation list's contents, one entry a line; every text from the file goes through
/// [`field`].
pub fn print_revocation_list(l: &RevocationList) {
    outln!("  sequence   {}", l.seq);
    outln!("  issued     {}", format_time(l.issued_at));
    outln!(
        "  revokes    {} licenses, {} product keys, {} cutoffs, {} issuing keys",
        l.licenses.len(),
        l.product_keys.len(),
        l.min_issued_at.len(),
        l.issuing_keys.len()
    );
    for id in &l.licenses {
        outln!("  license    {}", field(id));
    }
    for k in &l.product_keys {
        outln!("  key        {}", field(k));
    }
    for (product, before) in &l.min_issued_at {
        outln!(
            "  cutoff     {}: issued before {}",
            field(product),
            format_time(*before)
        );
    }
    for kid in &l.issuing_keys {
        outln!("  issuing key {kid}");
    }
}

/// The error message, with line and column when the problem is in armored text.
pub fn describe(e: &Error, input: &[u8]) -> String {
    describe_object(e, input, "license")
}

/// As [`describe`], for a `what` (license, certificate, revocation list).
fn describe_object(e: &Error, input: &[u8], what: &str) -> String {
    match e {
        Error::Malformed(d) if d.context == "armor" && !armor::is_raw(input) => {
            let (line, col) = crate::io::line_col(input, d.offset);
            format!("malformed {what}: {} (line {line}, column {col})", d.kind)
        }
        Error::Malformed(d) if !armor::is_raw(input) && !input.is_empty() => {
            format!("{e} of the decoded {what}")
        }
        Error::Released { .. } => format!(
            "{e}; to use this machine again, send the release proof (`airseal release` prints \
             it again) to the vendor, then make a new request"
        ),
        // The library carries instants; people read them as dates (time::verify_error).
        _ => time::verify_error(e).unwrap_or_else(|| e.to_string()),
    }
}

fn success_json(license: &License, now: i64) -> Value {
    let (status, grace_until) = match license.status() {
        Status::InGrace { until } => ("in_grace", Some(until)),
        _ => ("valid", None),
    };
    let mut j = json!({
        "valid": true,
        "status": status,
        "key_id": license.key_id().to_string(),
        "claims": claims_to_json(license.claims()),
        "active_features": license.active_features(now),
    });
    if let Some(t) = grace_until {
        j["grace_until"] = json!(t);
    }
    if let Some(issuer) = license.issuer() {
        j["issuer"] = issuer_json(&issuer.root(), issuer.certificate());
    }
    j
}

fn print_license(license: &License, now: i64) {
    let c = license.claims();
    outln!(
        "VALID license {} for product {}",
        field(&c.license_id),
        field(&c.product)
    );
    if let Status::InGrace { until } = license.status() {
        outln!(
            "  IN GRACE   expired, keeps working until {}: renew now",
            format_time(until)
        );
    }
    super::inspect::print_claims(c, now);
    match license.issuer() {
        Some(issuer) => print_issuer(issuer),
        None => outln!("  signed by  root key {}", license.key_id()),
    }
}

fn print_issuer(issuer: &Issuer) {
    print_chain(&issuer.root(), issuer.certificate());
}
