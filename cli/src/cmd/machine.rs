//! What the app-side activation commands (`request`, `install`, `verify --machine`,
//! `release`) share: where the data folder is, this machine's fingerprint, the trust store,
//! and how the library's errors become messages and exit codes.

use std::path::{Path, PathBuf};

use airseal_core::LicenseClaims;
use airseal_core::cose::ObjectType;
use airseal_verify::app::device::{Device, DeviceError, LICENSE_FILE};
use airseal_verify::app::fingerprint::{ComponentKind, Fingerprint};
use airseal_verify::{Error, Expected, License, TrustStore};
use clap::Args;

use crate::error::CliError;

/// How the machine is identified: the ids read from this machine, plus or instead of ids
/// supplied on the command line.
#[derive(Debug, Clone, Default, Args)]
pub struct FingerprintArgs {
    /// Add or replace a fingerprint component: KIND=VALUE, KIND one of machine-id,
    /// product-uuid, mac, hostname, root-disk or custom:NAME (containers and VMs:
    /// `custom:pod=$POD_UID`); an empty VALUE drops that kind. Repeatable. Use the same
    /// components for `request` and `verify --machine`.
    #[arg(long = "component", value_name = "KIND=VALUE")]
    pub component: Vec<String>,
    /// Use only the --component values, not the ids read from this machine (containers,
    /// cloned VMs, tests).
    #[arg(long)]
    pub no_system_components: bool,
}

/// Parses a component kind as the library names them (`ComponentKind::name`).
fn parse_kind(name: &str) -> Result<ComponentKind, CliError> {
    Ok(match name {
        "machine-id" => ComponentKind::MachineId,
        "product-uuid" => ComponentKind::ProductUuid,
        "mac" => ComponentKind::MacAddress,
        "hostname" => ComponentKind::Hostname,
        "root-disk" => ComponentKind::RootDisk,
        other => match other.strip_prefix("custom:") {
            Some(n) if !n.is_empty() && !n.contains('\0') => ComponentKind::Custom(n.to_string()),
            _ => {
                return Err(CliError::Message(
                    format!(
                        "--component {name:?}: unknown kind (machine-id, product-uuid, mac, \
                         hostname, root-disk or custom:NAME)"
                    ),
                    crate::error::USAGE,
                ));
            }
        },
    })
}

/// This machine's fingerprint as the options describe it.
pub fn fingerprint(args: &FingerprintArgs) -> Result<Fingerprint, CliError> {
    let mut fp = if args.no_system_components {
        Fingerprint::new()
    } else {
        Fingerprint::collect()
    };
    for spec in &args.component {
        let Some((kind, value)) = spec.split_once('=') else {
            return Err(CliError::Message(
                format!("--component {spec:?}: expected KIND=VALUE"),
                crate::error::USAGE,
            ));
        };
        fp = fp.with(parse_kind(kind)?, value);
    }
    Ok(fp)
}

/// The data folder: `--data-dir`, else `$AIRSEAL_DATA_DIR`, else
/// `$XDG_DATA_HOME/airseal/PRODUCT`, else `~/.local/share/airseal/PRODUCT`. `product` is
/// asked for only when it is needed.
pub fn data_dir(
    explicit: Option<&Path>,
    product: impl FnOnce() -> Result<String, CliError>,
) -> Result<PathBuf, CliError> {
    if let Some(dir) = explicit {
        return Ok(dir.to_path_buf());
    }
    if let Some(dir) = std::env::var_os("AIRSEAL_DATA_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let product = product()?;
    // The product id becomes a folder name: keep it to one plain path component.
    if product.is_empty()
        || product == "."
        || product == ".."
        || product.contains(['/', '\\', '\0'])
    {
        return Err(CliError::msg(format!(
            "product id {product:?} cannot name a folder: give --data-dir"
        )));
    }
    // XDG Base Directory: a relative XDG_DATA_HOME is invalid and must be ignored.
    let base = match std::env::var_os("XDG_DATA_HOME").map(PathBuf::from) {
        Some(d) if d.is_absolute() => d,
        _ => match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            Some(home) => PathBuf::from(home).join(".local").join("share"),
            None => {
                return Err(CliError::msg(
                    "no data folder: give --data-dir, or set AIRSEAL_DATA_DIR or HOME",
                ));
            }
        },
    };
    Ok(base.join("airseal").join(product))
}

/// The product a license or response is for, read WITHOUT verifying it: only to find the
/// data folder (the response is verified against the pending request's product after).
pub fn unverified_product(bytes: &[u8]) -> Option<String> {
    let raw = airseal_core::armor::dearmor(bytes).ok()?;
    LicenseClaims::read_unverified(&raw).ok().map(|c| c.product)
}

/// A trust store of the given public key files.
pub fn load_trust(paths: &[PathBuf]) -> Result<TrustStore, CliError> {
    let mut trust = TrustStore::new();
    for p in paths {
        let text = crate::io::read_input(p)?;
        // Whatever is wrong with it, a file given as a public key that is not one is an
        // invalid public key (exit 19), not a malformed license.
        trust.add_public_key_file(&text).map_err(|e| {
            CliError::Message(
                format!("{}: not a usable public key file: {e}", p.display()),
                crate::error::INVALID_PUBLIC_KEY,
            )
        })?;
    }
    Ok(trust)
}

/// The CLI error for a library error: verification failures keep their exit code
/// (EXIT CODES), unreadable files exit 3, the rest 1.
pub fn device_error(e: DeviceError, dir: &Path) -> CliError {
    match e {
        DeviceError::NotActivated => CliError::msg(format!(
            "no license is installed in {} (airseal request, then airseal install)",
            dir.display()
        )),
        other => CliError::from(other),
    }
}

/// Refuses to go on when `path` exists and `--force` was not given: checked before a
/// command changes the data folder, so a refusal leaves everything as it was.
pub fn check_overwrite(path: &Path, force: bool) -> Result<(), CliError> {
    if !force && path != Path::new("-") && path.symlink_metadata().is_ok() {
        return Err(CliError::msg(format!(
            "{}: already exists (use --force to replace it)",
            path.display()
        )));
    }
    Ok(())
}

/// `verify --machine`: the installed license's path and bytes (for messages), or an error
/// when there is none.
pub fn installed_license(
    data_dir: Option<&Path>,
    product: &str,
) -> Result<(PathBuf, Vec<u8>), CliError> {
    let dir = self::data_dir(data_dir, || Ok(product.to_string()))?;
    let device = Device::open(&dir);
    match device.installed_license() {
        Ok(Some(bytes)) => Ok((dir.join(LICENSE_FILE), bytes)),
        Ok(None) => Err(device_error(DeviceError::NotActivated, &dir)),
        Err(e) => Err(device_error(e, &dir)),
    }
}

/// `verify --machine`: the installed license verified against this machine (fingerprint
/// threshold and device key) and `expected`. The outer error is a problem with the data
/// folder, the inner one the license's verdict.
pub fn verify_installed(
    data_dir: Option<&Path>,
    product: &str,
    fingerprint_args: &FingerprintArgs,
    trust: &TrustStore,
    now: i64,
    expected: Expected<'_>,
) -> Result<Result<License, Error>, CliError> {
    let dir = self::data_dir(data_dir, || Ok(product.to_string()))?;
    let fp = fingerprint(fingerprint_args)?;
    match Device::open(&dir).verify_installed(trust, now, &fp, expected) {
        Ok(license) => Ok(Ok(license)),
        Err(DeviceError::Verify(e)) => Ok(Err(e)),
        Err(e) => Err(device_error(e, &dir)),
    }
}

/// Writes a signed object the app side made (request, deactivation proof) to `out`, armored
/// or raw, or prints it armored when there is no `out`.
pub fn write_signed(
    typ: ObjectType,
    bytes: &[u8],
    out: Option<&Path>,
    raw: bool,
    force: bool,
) -> Result<(), CliError> {
    let text = airseal_core::armor::armor(typ.armor_label(), bytes);
    match out {
        Some(path) => {
            let contents = if raw { bytes } else { text.as_bytes() };
            crate::io::write_output(path, contents, force)
        }
        None => {
            out!("{text}");
            Ok(())
        }
    }
}
