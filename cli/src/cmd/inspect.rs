//! `airseal inspect`: show what a license says, without verifying it.

use std::path::PathBuf;
use std::process::ExitCode;

use airseal_core::cose::{EnvelopeError, ObjectType, parse_sign1};
use airseal_core::json::{claims_to_json, revocation_list_to_json};
use airseal_core::revocation::RevocationList;
use airseal_core::{LicenseClaims, Limit, MetaValue, armor};
use airseal_vendor::time::format_time;
use clap::Args;
use serde_json::json;

use crate::error::CliError;
use crate::term::field;

/// Arguments of `airseal inspect`.
#[derive(Debug, Args)]
#[command(
    after_help = "Nothing shown is verified: anyone can write any claims into a file. \
    Use `airseal verify` to check a license, a certificate or a revocation list."
)]
pub struct InspectArgs {
    /// The file (armored or raw; `-` for stdin): a license, an activation response, an
    /// issuing-key certificate or a revocation list.
    pub file: PathBuf,
    /// Print as JSON (with "verified": false).
    #[arg(long)]
    pub json: bool,
}

/// Runs `airseal inspect`.
pub fn run(args: &InspectArgs) -> Result<ExitCode, CliError> {
    let input = crate::io::read_input(&args.file)?;
    let fail = |what: String| CliError::Message(format!("{}: {what}", args.file.display()), 10);
    let raw = armor::dearmor(&input).map_err(|e| fail(format!("malformed: {e}")))?;
    let sign1 = parse_sign1(&raw).map_err(|e| match e {
        EnvelopeError::Malformed(d) => fail(format!("malformed: {d}")),
        other => fail(other.to_string()),
    })?;
    // An issuing-key certificate (`SPEC.md` §18) is shown as one.
    let typ = sign1.header.typ;
    if typ == ObjectType::Certificate.typ() {
        let (_, cert) = airseal_vendor::issuing::parse_certificate(&raw)
            .map_err(|e| fail(format!("malformed: {e}")))?;
        if args.json {
            crate::term::out_json(&json!({
                "verified": false,
                "typ": typ,
                "size": raw.len(),
                "certificate": super::issuing_key::certificate_json(&cert, &sign1.header.kid),
            }));
        } else {
            outln!("UNVERIFIED — shows what the file claims; run `airseal verify` to check it");
            outln!("  type       {typ} ({} bytes)", raw.len());
            super::issuing_key::print_certificate(&cert, &sign1.header.kid);
        }
        return Ok(ExitCode::SUCCESS);
    }
    // A chained object carries the certificate of the issuing key that signed it.
    let chain = match sign1.header.cert {
        Some(bytes) => Some(
            airseal_vendor::issuing::parse_certificate(bytes)
                .map_err(|e| fail(format!("the certificate it carries is malformed: {e}")))?,
        ),
        None => None,
    };
    // A revocation list: its entries, and the chain of its signer when it carries one.
    if typ == ObjectType::RevocationList.typ() {
        let list = RevocationList::decode(sign1.payload, sign1.payload_offset)
            .map_err(|e| fail(format!("malformed: {e}")))?;
        if args.json {
            let mut j = json!({
                "verified": false,
                "typ": typ,
                "alg": sign1.header.alg,
                "key_id": sign1.header.kid.to_string(),
                "size": raw.len(),
                "list": revocation_list_to_json(&list),
                "counts": {
                    "licenses": list.licenses.len(),
                    "product_keys": list.product_keys.len(),
                    "min_issued_at": list.min_issued_at.len(),
                    "issuing_keys": list.issuing_keys.len(),
                },
            });
            if let Some((root, cert)) = &chain {
                j["chain"] = super::verify::issuer_json(root, cert);
            }
            crate::term::out_json(&j);
        } else {
            outln!("UNVERIFIED — shows what the file claims; run `airseal verify` to check it");
            outln!(
                "  type       {typ}: a {} (alg {}, key {}, {} bytes)",
                ObjectType::RevocationList.name(),
                sign1.header.alg,
                sign1.header.kid,
                raw.len()
            );
            super::verify::print_revocation_list(&list);
            match &chain {
                Some((root, cert)) => super::verify::print_chain(root, cert),
                None => outln!("  signed by  root key {}", sign1.header.kid),
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    // Licenses and activation responses carry license claims; anything else (a request, a
    // proof) would only fail to decode as one: say what it is instead.
    if typ != ObjectType::License.typ() && typ != ObjectType::ActivationResponse.typ() {
        return Err(CliError::from(airseal_verify::Error::WrongType {
            found: typ.to_string(),
        })
        .at(&args.file));
    }
    let claims = LicenseClaims::of_sign1(&sign1);
    if args.json {
        let mut j = json!({
            "verified": false,
            "typ": sign1.header.typ,
            "alg": sign1.header.alg,
            "key_id": sign1.header.kid.to_string(),
            "size": raw.len(),
        });
        match &claims {
            Ok(c) => j["claims"] = claims_to_json(c),
            Err(e) => j["claims_error"] = json!(e.to_string()),
        }
        if let Some((root, cert)) = &chain {
            j["chain"] = super::issuing_key::certificate_json(cert, root);
        }
        crate::term::out_json(&j);
    } else {
        outln!("UNVERIFIED — shows what the file claims; run `airseal verify` to check it");
        outln!(
            "  type       {} (alg {}, key {}, {} bytes)",
            sign1.header.typ,
            sign1.header.alg,
            sign1.header.kid,
            raw.len()
        );
        if let Some((root, cert)) = &chain {
            outln!(
                "  chain      root key {} → certificate {} → issuing key {}",
                root,
                cert.serial,
                cert.key_id()
            );
            super::issuing_key::print_certificate(cert, root);
        }
        match &claims {
            Ok(c) => {
                outln!(
                    "  license    {} for product {}",
                    field(&c.license_id),
                    field(&c.product)
                );
                print_claims(c, chrono::Utc::now().timestamp());
            }
            Err(e) => outln!("  claims     cannot be decoded: {}", field(&e.to_string())),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints claims for people, one field a line; every value from the file goes through
/// [`field`], so a licensee name cannot drive the terminal or forge a line.
pub fn print_claims(c: &LicenseClaims, now: i64) {
    let l = &c.licensee;
    let who: Vec<String> = [
        l.name.clone(),
        l.email.as_ref().map(|e| format!("<{e}>")),
        l.organization.clone(),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !who.is_empty() {
        outln!("  licensee   {}", field(&who.join(" ")));
    }
    outln!("  issuer     {}", field(&c.issuer));
    outln!("  kind       {}", c.kind.as_str());
    outln!("  issued     {}", format_time(c.issued_at));
    if let Some(t) = c.not_before {
        outln!("  not before {}", format_time(t));
    }
    match c.expires_at {
        Some(t) => outln!("  expires    {}", format_time(t)),
        None => outln!("  expires    never"),
    }
    if let Some(g) = c.grace_period {
        outln!("  grace      {} days", g / 86_400);
    }
    if let Some(t) = c.maintenance_until {
        outln!("  updates    until {}", format_time(t));
    }
    if let Some(k) = &c.product_key {
        outln!("  key        {}", field(k));
    }
    let active = c.features.active(now);
    if !active.is_empty() {
        outln!("  features   {}", field(&active.join(", ")));
    }
    let limit = |l: Limit| match l {
        Limit::AtMost(n) => n.to_string(),
        Limit::Unlimited => "unlimited".to_string(),
    };
    if let Some(l) = c.max_activations {
        outln!("  activations at most {}", limit(l));
    }
    if let Some(m) = &c.machine {
        outln!(
            "  machine    node-locked ({} of {} components must match)",
            m.threshold,
            m.components.len()
        );
    }
    for (k, v) in &c.metadata {
        match v {
            MetaValue::Text(s) => outln!("  meta       {} = {}", field(k), field(s)),
            MetaValue::Int(i) => outln!("  meta       {} = {i}", field(k)),
        }
    }
}
