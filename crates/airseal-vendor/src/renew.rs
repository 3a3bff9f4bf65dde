//! Offline renewal without a new request (`SPEC.md` §15.8, §17.3): for every live seat of a
//! product key, a **license update** — an ordinary activation response for that seat, with
//! the key's current terms and term end, issued later than the seat's last response and
//! echoing that response's request nonce and machine binding — written to a folder the
//! vendor sends to each machine. The app installs it over the license it has
//! (`airseal_verify::app::device::Device::install`), with no request pending.
//!
//! What binds an update to its seat is the seat's last response: the same license id, the
//! same machine binding (component hashes, threshold, device key id) and the same request
//! nonce. The app accepts it only over that license and only if it was issued later, so it
//! cannot be installed on another machine, and an older one cannot be put back.
//!
//! [`renew`] refuses a key that is suspended or revoked, or whose term has ended (it must be
//! extended first). Every update is signed, recorded (the seat's last response, the
//! `responses` and `licenses` tables, audit `license.renew` with the license before and
//! after) and written in one seat transaction: the files are written before the commit and
//! removed if it fails, so the ledger lists exactly the updates that were written.

use std::fmt;
use std::path::{Path, PathBuf};

use airseal_core::armor::armor;
use airseal_core::cose::ObjectType;
use airseal_core::{KeyId, LicenseClaims, Limit, UnixTime};

use crate::activate::{ActivationError, issued_after, key_spec, write_response_file};
use crate::issue::{IssueError, Issuer, LicenseSpec};
use crate::ledger::{Activation, KeyStatus, Ledger, LedgerError, Revocation};
use crate::time::format_time;
use crate::vendor_dir::Config;

/// What to renew.
#[derive(Clone, Copy, Debug)]
pub struct RenewOptions<'a> {
    /// The product key, as the customer or the ledger spells it (found as activation finds
    /// it: exactly, canonical, or loosely among imported keys).
    pub key: &'a str,
    /// The product; `None` looks the key up in every product of `airseal.toml`.
    pub product: Option<&'a str>,
    /// The folder the updates are written to (created if missing).
    pub out_dir: &'a Path,
    /// Replace update files that already exist.
    pub force: bool,
}

/// One seat's license update, as signed, recorded and written.
#[derive(Clone, Debug)]
pub struct RenewedSeat {
    /// The seat (activation id).
    pub activation: i64,
    /// The license id, the same as before.
    pub license_id: String,
    /// The device key the update is bound to.
    pub device_key_id: KeyId,
    /// The seat's license before (its last response).
    pub before: LicenseClaims,
    /// The update's claims.
    pub claims: LicenseClaims,
    /// The signed update (raw COSE bytes, `typ` `airseal-activation`).
    pub bytes: Vec<u8>,
    /// The file written (armored `AIRSEAL ACTIVATION RESPONSE`).
    pub file: PathBuf,
}

/// A live seat that got no update, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedSeat {
    /// The seat (activation id).
    pub activation: i64,
    /// Its license id.
    pub license_id: String,
    /// Why it was not renewed.
    pub reason: SkipReason,
}

/// Why a live seat was not renewed.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// Its license id is revoked: renewing it would hand the machine a license the
    /// revocation list refuses.
    LicenseRevoked,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LicenseRevoked => f.write_str("its license is revoked"),
        }
    }
}

/// What [`renew`] did.
#[derive(Clone, Debug)]
pub struct Renewal {
    /// The product.
    pub product: String,
    /// The key, as the ledger stores it.
    pub key: String,
    /// The term end written into every update (`None`: no end).
    pub term_end: Option<UnixTime>,
    /// The updates written, one per renewed seat, oldest seat first.
    pub renewed: Vec<RenewedSeat>,
    /// Live seats left as they were.
    pub skipped: Vec<SkippedSeat>,
}

/// Why a renewal was refused. Nothing is recorded, and no file is left, when one of these
/// is returned.
#[non_exhaustive]
#[derive(Debug)]
pub enum RenewError {
    /// The product is not in `airseal.toml`.
    UnknownProduct {
        /// The product id.
        product: String,
    },
    /// The key is not in the ledger (for the product, or for any product).
    UnknownKey {
        /// The product, if one was given.
        product: Option<String>,
        /// The key as entered.
        key: String,
    },
    /// No product was given and the key is recorded for several.
    AmbiguousProduct {
        /// The key as entered.
        key: String,
        /// The products that have it.
        products: Vec<String>,
    },
    /// The key is suspended: its machines get no update until it is reinstated.
    KeySuspended {
        /// The product.
        product: String,
        /// The key.
        key: String,
    },
    /// The key is revoked (its status, or a revocation of the key).
    KeyRevoked {
        /// The product.
        product: String,
        /// The key.
        key: String,
    },
    /// The key's term ended and was not extended: an update would be born expired.
    TermEnded {
        /// The key.
        key: String,
        /// When the term ended.
        at: UnixTime,
    },
    /// The key has no live seat (no machine holds it), so there is nothing to renew.
    NoLiveSeats {
        /// The product.
        product: String,
        /// The key.
        key: String,
    },
    /// An update file already exists (checked for every seat before anything is signed).
    AlreadyExists {
        /// The file.
        path: PathBuf,
    },
    /// The key's terms cannot be read or turned into a license (no template, a bad
    /// template), as activation would report them.
    Terms(ActivationError),
    /// Signing failed (the claims break a format rule).
    Issue(IssueError),
    /// The ledger could not be read or written.
    Ledger(LedgerError),
    /// The output folder or an update file could not be written.
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

impl fmt::Display for RenewError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownProduct { product } => {
                write!(f, "product {product:?} is not in airseal.toml")
            }
            Self::UnknownKey { product, key } => match product {
                Some(p) => write!(f, "key {key} is not in the ledger for product {p:?}"),
                None => write!(f, "key {key} is not in the ledger for any product"),
            },
            Self::AmbiguousProduct { key, products } => write!(
                f,
                "key {key} is recorded for several products ({}); name the product",
                products.join(", ")
            ),
            Self::KeySuspended { product, key } => write!(
                f,
                "key {key} of {product:?} is suspended: its machines get no renewal until it \
                 is reinstated"
            ),
            Self::KeyRevoked { product, key } => {
                write!(f, "key {key} of {product:?} is revoked: nothing to renew")
            }
            Self::TermEnded { key, at } => write!(
                f,
                "the term of key {key} ended at {}; extend it before renewing",
                format_time(*at)
            ),
            Self::NoLiveSeats { product, key } => write!(
                f,
                "key {key} of {product:?} has no live seat: no machine holds a license to renew"
            ),
            Self::AlreadyExists { path } => write!(f, "{} already exists", path.display()),
            Self::Terms(e) => e.fmt(f),
            Self::Issue(e) => e.fmt(f),
            Self::Ledger(e) => e.fmt(f),
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for RenewError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Terms(e) => Some(e),
            Self::Issue(e) => Some(e),
            Self::Ledger(e) => Some(e),
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<LedgerError> for RenewError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::UnknownProduct { product } => Self::UnknownProduct { product },
            other => Self::Ledger(other),
        }
    }
}

impl From<IssueError> for RenewError {
    fn from(e: IssueError) -> Self {
        Self::Issue(e)
    }
}

/// The file an update for `seat` is written to: `<license id>.renewal.txt`, or
/// `activation-<id>.renewal.txt` for a license id that is not a plain file name (airseal
/// makes ids of letters and digits; one from elsewhere is not trusted as a path).
pub fn update_file_name(seat: &Activation) -> String {
    let plain = !seat.license_id.is_empty()
        && seat.license_id.len() <= 64
        && seat
            .license_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plain {
        format!("{}.renewal.txt", seat.license_id)
    } else {
        format!("activation-{}.renewal.txt", seat.id)
    }
}

/// The product whose ledger holds `key`: the one given, or the only one that has it.
fn product_of(
    ledger: &Ledger,
    config: &Config,
    options: &RenewOptions<'_>,
) -> Result<String, RenewError> {
    if let Some(p) = options.product {
        if !config.products.contains_key(p) {
            return Err(RenewError::UnknownProduct {
                product: p.to_string(),
            });
        }
        return Ok(p.to_string());
    }
    let mut found = Vec::new();
    for product in config.products.keys() {
        match ledger.keys().find(product, options.key) {
            Ok(Some(_)) => found.push(product.clone()),
            Ok(None) | Err(LedgerError::UnknownProduct { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    match found.len() {
        0 => Err(RenewError::UnknownKey {
            product: None,
            key: options.key.to_string(),
        }),
        1 => Ok(found.remove(0)),
        _ => Err(RenewError::AmbiguousProduct {
            key: options.key.to_string(),
            products: found,
        }),
    }
}

/// Renews every live seat of a key at `now` (see the module docs): one license update per
/// seat, written to `options.out_dir` as [`update_file_name`], recorded and audited.
///
/// # Errors
/// A [`RenewError`]; the ledger is then unchanged and no update file is left behind.
pub fn renew(
    ledger: &mut Ledger,
    issuer: &Issuer,
    config: &Config,
    options: &RenewOptions<'_>,
    now: UnixTime,
) -> Result<Renewal, RenewError> {
    let product = product_of(ledger, config, options)?;
    let tx = ledger.seats().begin()?;
    let unknown = || RenewError::UnknownKey {
        product: Some(product.clone()),
        key: options.key.to_string(),
    };
    let key = match tx.find_key(&product, options.key) {
        Ok(Some(found)) => found.key,
        Ok(None) => return Err(unknown()),
        Err(LedgerError::AmbiguousEntry {
            product,
            entered,
            keys,
        }) => {
            return Err(RenewError::Terms(ActivationError::AmbiguousKey {
                product,
                entered,
                keys,
            }));
        }
        Err(e) => return Err(e.into()),
    };
    let record = tx.key(&product, &key)?.ok_or_else(unknown)?;
    match record.status {
        KeyStatus::Active => {}
        KeyStatus::Suspended => return Err(RenewError::KeySuspended { product, key }),
        _ => return Err(RenewError::KeyRevoked { product, key }),
    }
    if let Some(Revocation::Key(_)) = tx.revocation(Some(&key), None)? {
        return Err(RenewError::KeyRevoked { product, key });
    }
    let (spec, _template) = key_spec(config, &product, &key, &record).map_err(RenewError::Terms)?;
    // The term is anchored (`SPEC.md` §17.1): renewing delivers its end as it now stands
    // (moved only by an explicit extension), never a fresh term counted from today.
    let start = crate::terms::term_start(
        record.term_start,
        spec.term_starts.unwrap_or_default(),
        record.created,
        now,
    );
    let end = crate::terms::term_end(start, &spec)?;
    let activations = tx.key_activations(&product, &key)?;
    if let Some(at) = end.filter(|at| *at <= now) {
        return Err(RenewError::TermEnded { key, at });
    }
    let live: Vec<&Activation> = activations.iter().filter(|a| a.is_live()).collect();
    if live.is_empty() {
        return Err(RenewError::NoLiveSeats { product, key });
    }
    // Every target is checked before anything is signed: a refusal changes nothing.
    let targets: Vec<PathBuf> = live
        .iter()
        .map(|seat| options.out_dir.join(update_file_name(seat)))
        .collect();
    if !options.force {
        if let Some(path) = targets.iter().find(|p| p.symlink_metadata().is_ok()) {
            return Err(RenewError::AlreadyExists { path: path.clone() });
        }
    }
    let limit = spec.max_activations.map_or(Limit::AtMost(1), Limit::from);
    let mut renewed = Vec::new();
    let mut skipped = Vec::new();
    for (seat, file) in live.into_iter().zip(targets) {
        if let Some(Revocation::License(_)) = tx.revocation(None, Some(&seat.license_id))? {
            skipped.push(SkippedSeat {
                activation: seat.id,
                license_id: seat.license_id.clone(),
                reason: SkipReason::LicenseRevoked,
            });
            continue;
        }
        let before = LicenseClaims::read_unverified(&seat.response).map_err(|e| {
            RenewError::Ledger(LedgerError::Corrupt {
                what: format!("activation {}: {e}", seat.id),
            })
        })?;
        let claims = update_claims(issuer, &spec, &before, limit, end, now)?;
        let bytes = issuer.issue_activation_response(claims.clone())?;
        tx.record_renewal(seat, &before, &claims, &bytes, now)?;
        renewed.push(RenewedSeat {
            activation: seat.id,
            license_id: seat.license_id.clone(),
            device_key_id: seat.device_key_id(),
            before,
            claims,
            bytes,
            file,
        });
    }
    write_all(options, &renewed)?;
    if let Err(e) = tx.commit() {
        remove_all(&renewed);
        return Err(e.into());
    }
    Ok(Renewal {
        product,
        key,
        term_end: end,
        renewed,
        skipped,
    })
}

/// The update's claims: the key's terms as they are now, with the seat's license id,
/// machine binding and request nonce, the term end `end`, valid from when the seat's
/// license was, and issued at `now` — or a second after the seat's license, if the
/// vendor's clock is not past it, so the app always sees it as newer.
fn update_claims(
    issuer: &Issuer,
    spec: &LicenseSpec,
    before: &LicenseClaims,
    limit: Limit,
    end: Option<UnixTime>,
    now: UnixTime,
) -> Result<LicenseClaims, RenewError> {
    let issued_at = issued_after(now, before.issued_at);
    let mut claims = spec.to_claims(issuer, issued_at, &mut rand::rng())?;
    claims.license_id = before.license_id.clone();
    claims.max_activations = Some(limit);
    claims.expires_at = end;
    if claims.not_before.is_none() {
        claims.not_before = Some(before.not_before.unwrap_or(before.issued_at));
    }
    claims.machine = before.machine.clone();
    claims.request_nonce = before.request_nonce;
    claims.normalize();
    Ok(claims)
}

/// Writes every update file, armored; on the first failure removes the ones written.
fn write_all(options: &RenewOptions<'_>, renewed: &[RenewedSeat]) -> Result<(), RenewError> {
    if !renewed.is_empty() {
        std::fs::create_dir_all(options.out_dir).map_err(|source| RenewError::Io {
            path: options.out_dir.to_path_buf(),
            source,
        })?;
    }
    for (i, seat) in renewed.iter().enumerate() {
        let text = armor(ObjectType::ActivationResponse.armor_label(), &seat.bytes);
        if let Err(source) = write_response_file(&seat.file, text.as_bytes(), options.force) {
            remove_all(renewed.get(..i).unwrap_or_default());
            return Err(if source.kind() == std::io::ErrorKind::AlreadyExists {
                RenewError::AlreadyExists {
                    path: seat.file.clone(),
                }
            } else {
                RenewError::Io {
                    path: seat.file.clone(),
                    source,
                }
            });
        }
    }
    Ok(())
}

/// Removes update files written by a renewal that is not recorded after all.
fn remove_all(renewed: &[RenewedSeat]) {
    for seat in renewed {
        // Best effort: the error being reported is the one that matters.
        let _ = std::fs::remove_file(&seat.file);
    }
}

/// [`renew`] for a caller that hands the updates out itself (the service answers with them):
/// the update files go to a fresh scratch folder under `scratch`, removed before this
/// returns; each update is in its [`RenewedSeat::bytes`].
///
/// # Errors
/// As [`renew`].
pub fn renew_unwritten(
    ledger: &mut Ledger,
    issuer: &Issuer,
    config: &Config,
    key: &str,
    product: Option<&str>,
    scratch: &Path,
    now: UnixTime,
) -> Result<Renewal, RenewError> {
    let mut name = [0u8; 8];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut name);
    let out_dir = scratch.join(format!(".renewal-{}", crate::issue::crockford(&name)));
    let done = renew(
        ledger,
        issuer,
        config,
        &RenewOptions {
            key,
            product,
            out_dir: &out_dir,
            force: false,
        },
        now,
    );
    // Nothing in it is kept: the updates are returned.
    let _ = std::fs::remove_dir_all(&out_dir);
    done
}
