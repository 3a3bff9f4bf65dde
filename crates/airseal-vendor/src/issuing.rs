//! Issuing keys (`SPEC.md` §18): the root key, which apps trust and which stays offline,
//! certifies an issuing key for a window and a scope; a server holds only the issuing key.
//!
//! [`certify`] makes a key and its certificate and records it in the ledger (serial and
//! revocation-list range from [`crate::ledger::Certificates::plan`]); [`write_folder`] writes
//! the issuing key's folder; [`unlock`] reads it back into a certified [`Issuer`].
//!
//! ```text
//! DIR/issuing.key    the issuing key, encrypted exactly like the signing key (its own passphrase)
//! DIR/issuing.pub    its public key
//! DIR/issuing.cert   the certificate the root signed (armored)
//! DIR/data-mac.key   the root's data-key MAC key, sealed under the issuing key (§18.8)
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use airseal_core::armor::{armor, dearmor};
use airseal_core::cert::{Certificate, MaySign};
use airseal_core::cose::parse_sign1;
use airseal_core::pubkey::encode_public_key;
use airseal_core::{KeyId, ObjectType, UnixTime};
use ed25519_dalek::SigningKey;

use crate::issue::{CertifiedError, Issuer};
use crate::keyfile::{self, KdfParams, KeyFileError};
use crate::ledger::{CertificateRecord, LedgerError};
use crate::vendor_dir::VendorDir;

/// The encrypted issuing key, inside an issuing key's folder.
pub const KEY_FILE: &str = "issuing.key";
/// Its public key.
pub const PUBLIC_FILE: &str = "issuing.pub";
/// Its certificate (armored).
pub const CERT_FILE: &str = "issuing.cert";
/// The root's data-key MAC key, sealed under the issuing key.
pub const DATA_MAC_FILE: &str = "data-mac.key";

/// What a new certificate says, as the vendor asks for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertifyOptions {
    /// Valid for this many days from now (at least 1).
    pub days: u32,
    /// The products it may sign for; empty: every product.
    pub products: Vec<String>,
    /// What it may sign.
    pub may_sign: MaySign,
}

/// A new issuing key, its certificate, and what the ledger recorded.
pub struct Certified {
    /// The issuing key (secret).
    pub key: SigningKey,
    /// The certificate (raw COSE, signed by the root).
    pub certificate: Vec<u8>,
    /// The ledger's row.
    pub record: CertificateRecord,
    /// The root's data-key MAC key sealed under the issuing key (text, for [`DATA_MAC_FILE`]).
    pub data_mac: String,
}

impl fmt::Debug for Certified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certified")
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

/// Why an issuing key could not be certified, written or read.
#[non_exhaustive]
#[derive(Debug)]
pub enum IssuingError {
    /// The key asked to certify is itself an issuing key: only a root certifies (one level).
    NotARoot {
        /// The issuing key's id.
        kid: KeyId,
    },
    /// A certificate valid for 0 days.
    NoDays,
    /// A certificate that may sign nothing.
    NothingToSign,
    /// A product the vendor folder does not declare.
    UnknownProduct {
        /// The product.
        product: String,
    },
    /// A file of the issuing key's folder exists and replacing it was not asked for.
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// A file of the folder is missing or unreadable.
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file is a signed airseal object of another type than a certificate.
    WrongType {
        /// The file.
        path: PathBuf,
        /// Its `typ`.
        typ: String,
    },
    /// The key asked to sign with is an issuing key whose certificate the vendor folder's
    /// ledger does not record: the vendor could not revoke what it signs.
    NotRecorded {
        /// The issuing key's id.
        kid: KeyId,
        /// Its folder.
        dir: PathBuf,
    },
    /// The key asked to sign with is an issuing key the vendor recorded as revoked (in the
    /// ledger or in the vendor folder's own record): nothing it signs would be accepted.
    Revoked {
        /// The issuing key's id.
        kid: KeyId,
        /// Its folder.
        dir: PathBuf,
    },
    /// The key given as the root is not the vendor folder's root key (`keys/signing.pub`).
    NotTheRoot {
        /// The key file given.
        path: PathBuf,
        /// Its key id.
        given: KeyId,
        /// The vendor folder's root key id.
        root: KeyId,
    },
    /// The vendor folder's root public key cannot be read.
    RootPublicKey {
        /// `keys/signing.pub`.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// A certificate to import was not signed by the vendor folder's root key.
    ForeignCertificate {
        /// The file.
        path: PathBuf,
        /// Why the root does not verify it.
        why: String,
    },
    /// The number of days is refused by the one days rule.
    Days(crate::issue::IssueError),
    /// The issuing key's file could not be unlocked.
    Unlock {
        /// The key file.
        path: PathBuf,
        /// Why.
        source: KeyFileError,
    },
    /// The file is not an issuing-key certificate.
    NotACertificate {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The folder's certificate does not certify its key.
    Mismatch {
        /// The folder.
        dir: PathBuf,
        /// What does not match.
        source: CertifiedError,
    },
    /// The folder asked for the new issuing key is, contains or lies inside a folder that
    /// must never hold it: deploying it would ship the root key or the vendor's records.
    UnsafeFolder {
        /// The folder asked for.
        out: PathBuf,
        /// The protected folder it collides with.
        protected: PathBuf,
        /// What that folder is ("the root key's folder", …).
        what: &'static str,
    },
    /// The key file, or the sealed MAC key, failed.
    KeyFile(KeyFileError),
    /// The ledger failed.
    Ledger(LedgerError),
}

impl From<LedgerError> for IssuingError {
    fn from(e: LedgerError) -> Self {
        Self::Ledger(e)
    }
}

impl From<KeyFileError> for IssuingError {
    fn from(e: KeyFileError) -> Self {
        Self::KeyFile(e)
    }
}

impl fmt::Display for IssuingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotARoot { kid } => write!(
                f,
                "key {kid} is an issuing key: only the root key certifies issuing keys"
            ),
            Self::NoDays => f.write_str("a certificate must be valid for at least one day"),
            Self::NothingToSign => f.write_str("a certificate must allow signing something"),
            Self::UnknownProduct { product } => {
                write!(f, "the vendor folder declares no product {product:?}")
            }
            Self::Exists { path } => write!(f, "{} already exists", path.display()),
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::NotACertificate { path, why } => write!(
                f,
                "{} is not an issuing-key certificate: {why}",
                path.display()
            ),
            Self::Mismatch { dir, source } => write!(f, "{}: {source}", dir.display()),
            Self::WrongType { path, typ } => write!(
                f,
                "{} is not an issuing-key certificate: it is a signed object of type {typ:?}",
                path.display()
            ),
            Self::NotRecorded { kid, dir } => write!(
                f,
                "issuing key {kid} ({}) is not recorded in this vendor folder's ledger: \
                 it could not be revoked, so it does not sign here",
                dir.display()
            ),
            Self::Revoked { kid, dir } => write!(
                f,
                "issuing key {kid} ({}) is revoked: apps refuse everything it signs",
                dir.display()
            ),
            Self::NotTheRoot { path, given, root } => write!(
                f,
                "{} holds key {given}, not the vendor folder's root key {root}",
                path.display()
            ),
            Self::RootPublicKey { path, why } => {
                write!(
                    f,
                    "cannot read the root public key {}: {why}",
                    path.display()
                )
            }
            Self::ForeignCertificate { path, why } => write!(
                f,
                "{} was not certified by the vendor folder's root key: {why}",
                path.display()
            ),
            Self::UnsafeFolder {
                out,
                protected,
                what,
            } => write!(
                f,
                "{} cannot hold an issuing key: it is, contains or lies inside {what} {} \
                 (deploying the issuing key's folder would ship it)",
                out.display(),
                protected.display()
            ),
            Self::Days(e) => e.fmt(f),
            Self::Unlock { path, source } => write!(f, "{}: {source}", path.display()),
            Self::KeyFile(e) => e.fmt(f),
            Self::Ledger(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for IssuingError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::Mismatch { source, .. } => Some(source),
            Self::KeyFile(e) => Some(e),
            Self::Unlock { source, .. } => Some(source),
            Self::Days(e) => Some(e),
            Self::Ledger(e) => Some(e),
            _ => None,
        }
    }
}

/// Makes a new issuing key and has `root` certify it for `opts`, at `now`: the serial and
/// (when it may sign lists) the revocation-list range come from `vendor`'s ledger, and the
/// certificate is recorded there (audited) before it is returned.
///
/// # Errors
/// [`IssuingError::NotARoot`] when `root` is itself certified; [`IssuingError::NoDays`],
/// [`IssuingError::NothingToSign`], [`IssuingError::UnknownProduct`]; ledger errors.
pub fn certify(
    root: &Issuer,
    vendor: &VendorDir,
    ledger: &crate::ledger::Ledger,
    opts: &CertifyOptions,
    now: UnixTime,
) -> Result<Certified, IssuingError> {
    if root.chain().is_some() {
        return Err(IssuingError::NotARoot { kid: root.key_id() });
    }
    check_root(vendor, root.key_id(), None)?;
    let days = crate::time::require_days("days", opts.days).map_err(|e| match opts.days {
        0 => IssuingError::NoDays,
        _ => IssuingError::Days(e),
    })?;
    if opts.may_sign.0 == 0 {
        return Err(IssuingError::NothingToSign);
    }
    for product in &opts.products {
        if !vendor.config().products.contains_key(product) {
            return Err(IssuingError::UnknownProduct {
                product: product.clone(),
            });
        }
    }
    let lists = opts.may_sign.0 & MaySign::REVOCATIONS.0 != 0;
    // What the vendor folder remembers whatever ledger is in place (a restored backup
    // included): serials and list ranges above it are never handed out twice.
    let high = read_high_water(vendor)?;
    let floor = vendor
        .exported_revocation_seq()?
        .max(high.list_hi.saturating_sub(1));
    let plan = ledger.certificates().plan(lists, floor, high.serial)?;
    // A signed key carries only its creation day, and claims the start of it: a certificate
    // that may sign them starts at the beginning of its UTC day, or keys made on its first
    // day would claim a time before it.
    let not_before = if opts.may_sign.contains(MaySign::SIGNED_KEYS) {
        crate::signedkey::claimed_issue_time(now)
    } else {
        now
    };
    let not_after = crate::time::end_after_days("days", now, days).map_err(IssuingError::Days)?;
    let key = keyfile::generate_signing_key();
    let mut certificate = Certificate {
        serial: plan.serial,
        key: key.verifying_key().to_bytes(),
        not_before,
        not_after,
        products: opts.products.clone(),
        may_sign: opts.may_sign,
        list_seq: plan.list_seq,
    };
    certificate.normalize();
    let signed = root.sign(ObjectType::Certificate, &certificate.encode());
    let record = CertificateRecord {
        serial: plan.serial,
        kid: certificate.key_id(),
        root_kid: root.key_id(),
        not_before: certificate.not_before,
        not_after: certificate.not_after,
        products: certificate.products.clone(),
        may_sign: certificate.may_sign.0,
        list_seq: certificate.list_seq,
        certificate: signed.clone(),
        created: now,
        revoked_at: None,
        reason: None,
        listed_seq: None,
    };
    let data_mac = keyfile::wrap_data_mac_key(&key, &root.data_key_mac_key())?;
    // Kept in the vendor folder, durably, before the ledger records it and before the
    // certificate is handed out (§18.10).
    remember_certificate(vendor, &record)?;
    ledger.certificates().record(&record, floor, high.serial)?;
    Ok(Certified {
        key,
        certificate: signed,
        record,
        data_mac,
    })
}

/// `path` made absolute, with symbolic links and `..` resolved as far as it exists.
fn resolved(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut rest = Vec::new();
    let mut base = absolute.as_path();
    loop {
        if let Ok(real) = base.canonicalize() {
            let mut out = real;
            for part in rest.iter().rev() {
                match part {
                    std::path::Component::ParentDir => {
                        out.pop();
                    }
                    std::path::Component::CurDir => {}
                    other => out.push(other.as_os_str()),
                }
            }
            return out;
        }
        let (Some(parent), Some(last)) = (base.parent(), base.components().next_back()) else {
            return absolute;
        };
        rest.push(last);
        base = parent;
    }
}

/// Refuses a folder `out` for a new issuing key that is, contains or lies inside the root
/// key's folder (`root_key`'s), or that is or contains the vendor folder, or is, contains
/// or lies inside its internal folders (`keys/`, the ledger-independent record): its
/// folder is deployed to a server, and must hold nothing but the issuing key. A folder
/// elsewhere in the vendor folder (`issuing/2027-q1`) is fine.
///
/// # Errors
/// [`IssuingError::UnsafeFolder`].
pub fn check_out_folder(
    vendor: &VendorDir,
    root_key: &Path,
    out: &Path,
) -> Result<(), IssuingError> {
    let out_r = resolved(out);
    let related = |p: &Path| out_r.starts_with(p) || p.starts_with(&out_r);
    let mut protected: Vec<(PathBuf, &'static str, bool)> = vec![
        (vendor.keys_dir(), "the vendor folder's keys folder", true),
        (
            record_dir(vendor),
            "the vendor folder's issuing-key record",
            true,
        ),
        (vendor.root().to_path_buf(), "the vendor folder", false),
    ];
    if let Some(parent) = root_key.parent() {
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        protected.insert(0, (parent.to_path_buf(), "the root key's folder", true));
    }
    for (path, what, inside_too) in protected {
        let p = resolved(&path);
        let hit = if inside_too {
            related(&p)
        } else {
            p.starts_with(&out_r)
        };
        if hit {
            return Err(IssuingError::UnsafeFolder {
                out: out.to_path_buf(),
                protected: path,
                what,
            });
        }
    }
    Ok(())
}

/// The files of an issuing key's folder `dir`.
pub fn folder_files(dir: &Path) -> [PathBuf; 4] {
    [
        dir.join(KEY_FILE),
        dir.join(PUBLIC_FILE),
        dir.join(CERT_FILE),
        dir.join(DATA_MAC_FILE),
    ]
}

/// Refuses to go on when a file of the folder exists and `force` is not given: checked
/// before anything is signed or recorded, so a refusal leaves nothing half-done.
///
/// # Errors
/// [`IssuingError::Exists`] naming the first such file.
pub fn check_folder_free(dir: &Path, force: bool) -> Result<(), IssuingError> {
    if force {
        return Ok(());
    }
    match folder_files(dir).into_iter().find(|p| p.exists()) {
        Some(path) => Err(IssuingError::Exists { path }),
        None => Ok(()),
    }
}

/// Writes the issuing key's folder: the key encrypted under `passphrase` (owner-only), the
/// public key, the armored certificate, the sealed MAC key (owner-only). The folder is
/// created owner-only when missing. No file is replaced unless `force`.
///
/// # Errors
/// [`IssuingError::Exists`], [`IssuingError::Io`], key file errors.
pub fn write_folder(
    dir: &Path,
    certified: &Certified,
    passphrase: &[u8],
    params: KdfParams,
    force: bool,
) -> Result<(), IssuingError> {
    check_folder_free(dir, force)?;
    let mut folder = std::fs::DirBuilder::new();
    folder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut folder, 0o700);
    folder.create(dir).map_err(|source| IssuingError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let [key_path, pub_path, cert_path, mac_path] = folder_files(dir);
    let text = keyfile::encrypt_signing_key(&certified.key, passphrase, params)?;
    keyfile::write_secret_file(&key_path, text.as_bytes(), force)?;
    keyfile::write_public_file(
        &pub_path,
        encode_public_key(&certified.key.verifying_key().to_bytes()).as_bytes(),
        force,
    )?;
    keyfile::write_public_file(
        &cert_path,
        armor(
            ObjectType::Certificate.armor_label(),
            &certified.certificate,
        )
        .as_bytes(),
        force,
    )?;
    keyfile::write_secret_file(&mac_path, certified.data_mac.as_bytes(), force)?;
    Ok(())
}

/// A certificate read from a file, not yet verified.
#[derive(Clone, Debug)]
pub struct CertificateFile {
    /// The raw COSE bytes.
    pub bytes: Vec<u8>,
    /// Its payload.
    pub certificate: Certificate,
    /// The id of the root key that signed it (the header's `kid`).
    pub root: KeyId,
}

/// Reads a certificate: `path` is an issuing key's folder (its [`CERT_FILE`]) or the
/// certificate file itself, armored or raw. The signature is not checked.
///
/// # Errors
/// [`IssuingError::Io`], [`IssuingError::NotACertificate`].
pub fn read_certificate(path: &Path) -> Result<CertificateFile, IssuingError> {
    let file = if path.is_dir() {
        path.join(CERT_FILE)
    } else {
        path.to_path_buf()
    };
    let text = read_small(&file)?;
    let bytes = dearmor(&text)
        .map_err(|e| IssuingError::NotACertificate {
            path: file.clone(),
            why: e.to_string(),
        })?
        .into_owned();
    if let Ok(sign1) = parse_sign1(&bytes) {
        if sign1.header.typ != ObjectType::Certificate.typ() {
            return Err(IssuingError::WrongType {
                path: file,
                typ: sign1.header.typ.to_string(),
            });
        }
    }
    let (root, certificate) =
        parse_certificate(&bytes).map_err(|why| IssuingError::NotACertificate {
            path: file.clone(),
            why,
        })?;
    Ok(CertificateFile {
        bytes,
        certificate,
        root,
    })
}

/// The root's key id and the payload of a certificate (raw COSE), without checking its
/// signature: the envelope must be a certificate's (`typ` airseal-cert).
///
/// # Errors
/// What is wrong, in words.
pub fn parse_certificate(bytes: &[u8]) -> Result<(KeyId, Certificate), String> {
    let sign1 = parse_sign1(bytes).map_err(|e| e.to_string())?;
    if sign1.header.typ != ObjectType::Certificate.typ() {
        return Err(format!(
            "it is a signed object of type {:?}",
            sign1.header.typ
        ));
    }
    let certificate =
        Certificate::decode(sign1.payload, sign1.payload_offset).map_err(|e| e.to_string())?;
    Ok((sign1.header.kid, certificate))
}

/// Reads a file of an issuing key's folder (each is small: at most 64 KiB are read).
fn read_small(path: &Path) -> Result<Vec<u8>, IssuingError> {
    use std::io::Read as _;
    let io = |source| IssuingError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut out = Vec::new();
    file.take(64 * 1024).read_to_end(&mut out).map_err(io)?;
    Ok(out)
}

/// The key id of the issuing key in folder `dir`, read from its key file's header (no
/// passphrase needed; authenticated only once unlocked).
///
/// # Errors
/// As [`keyfile::read_signing_key_file`] and [`keyfile::key_id_of_file`].
pub fn key_id_of_folder(dir: &Path) -> Result<KeyId, IssuingError> {
    let text = keyfile::read_signing_key_file(&dir.join(KEY_FILE))?;
    Ok(keyfile::key_id_of_file(&text)?)
}

/// Unlocks the issuing key in folder `dir` with `passphrase`: an [`Issuer`] that signs under
/// the folder's certificate, with the root's data-key MAC key.
///
/// # Errors
/// Key file errors (a wrong passphrase included), [`IssuingError::NotACertificate`],
/// [`IssuingError::Mismatch`] when the certificate is for another key.
pub fn unlock(dir: &Path, passphrase: &[u8]) -> Result<Issuer, IssuingError> {
    let text = keyfile::read_signing_key_file(&dir.join(KEY_FILE))?;
    let cert = read_certificate(&dir.join(CERT_FILE))?;
    let key_path = dir.join(KEY_FILE);
    let key =
        keyfile::decrypt_signing_key(&text, passphrase).map_err(|source| IssuingError::Unlock {
            path: key_path.clone(),
            source,
        })?;
    let mac_text = keyfile::read_signing_key_file(&dir.join(DATA_MAC_FILE))?;
    let mac = keyfile::unwrap_data_mac_key(&key, &mac_text)?;
    Issuer::certified(key, &cert.bytes, mac).map_err(|source| IssuingError::Mismatch {
        dir: dir.to_path_buf(),
        source,
    })
}

/// Which key a signing command uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignerChoice {
    /// The root key in this file.
    Root(PathBuf),
    /// The issuing key in this folder.
    Issuing(PathBuf),
}

/// The key a signing command uses: the issuing key asked for; else the root key file asked
/// for; else, unless `force_root`, the vendor folder's default issuing key (`issuing_key` in
/// `airseal.toml`); else the vendor folder's root key. `None` when nothing names a key (no
/// vendor folder and no file given).
pub fn choose_signer(
    vendor: Option<&VendorDir>,
    root_key: Option<&Path>,
    issuing_key: Option<&Path>,
    force_root: bool,
) -> Option<SignerChoice> {
    if let Some(dir) = issuing_key {
        return Some(SignerChoice::Issuing(dir.to_path_buf()));
    }
    if let Some(file) = root_key {
        return Some(SignerChoice::Root(file.to_path_buf()));
    }
    let vendor = vendor?;
    match vendor.default_issuing_key() {
        Some(dir) if !force_root => Some(SignerChoice::Issuing(dir)),
        _ => Some(SignerChoice::Root(vendor.signing_key_path())),
    }
}

/// The id of the vendor folder's root key, from its public key (`keys/signing.pub`).
///
/// # Errors
/// [`IssuingError::RootPublicKey`] when it cannot be read or is not a public key.
pub fn root_key_id(vendor: &VendorDir) -> Result<KeyId, IssuingError> {
    let path = vendor.public_key_path();
    let text = read_small(&path).map_err(|e| IssuingError::RootPublicKey {
        path: path.clone(),
        why: e.to_string(),
    })?;
    let key =
        airseal_core::pubkey::parse_public_key(&text).map_err(|e| IssuingError::RootPublicKey {
            path: path.clone(),
            why: e.to_string(),
        })?;
    Ok(KeyId::of_public_key(&key))
}

/// What a vendor publishes for apps and customers to trust (the service's
/// `GET /v1/keys/public`): the root public key, and the issuing-key certificates that are
/// current.
#[derive(Clone, Debug)]
pub struct Published {
    /// The root key's id.
    pub root_kid: KeyId,
    /// The root public key, as `keys/signing.pub` holds it (its text form).
    pub root_public_key: String,
    /// The certificates usable now or later (neither revoked nor expired), by serial.
    pub certificates: Vec<CertificateRecord>,
}

/// The root public key of `vendor` and the certificates in `ledger` that are current at
/// `now`: neither revoked nor past their window (one not yet valid is included: apps may
/// learn it before it signs).
///
/// # Errors
/// [`IssuingError::RootPublicKey`], or the ledger's.
pub fn published(
    vendor: &VendorDir,
    ledger: &crate::ledger::Ledger,
    now: UnixTime,
) -> Result<Published, IssuingError> {
    use crate::ledger::CertificateStatus;
    let root_kid = root_key_id(vendor)?;
    let path = vendor.public_key_path();
    let text = read_small(&path)?;
    let key =
        airseal_core::pubkey::parse_public_key(&text).map_err(|e| IssuingError::RootPublicKey {
            path: path.clone(),
            why: e.to_string(),
        })?;
    let mut certificates: Vec<CertificateRecord> = ledger
        .certificates()
        .list()?
        .into_iter()
        .filter(|c| {
            matches!(
                c.status(now),
                CertificateStatus::Active | CertificateStatus::NotYetValid
            )
        })
        .collect();
    certificates.sort_by_key(|c| c.serial);
    Ok(Published {
        root_kid,
        root_public_key: encode_public_key(&key),
        certificates,
    })
}

/// Refuses a key `given` (from file `path`, when known) that is not the vendor folder's root.
fn check_root(vendor: &VendorDir, given: KeyId, path: Option<&Path>) -> Result<(), IssuingError> {
    let root = root_key_id(vendor)?;
    if given == root {
        return Ok(());
    }
    Err(IssuingError::NotTheRoot {
        path: path.map_or_else(|| vendor.signing_key_path(), Path::to_path_buf),
        given,
        root,
    })
}

/// The one check before a signing command unlocks the key `choice` names (the passphrase
/// is asked for only after it): with a vendor folder, a root key file must hold the folder's
/// root key (`keys/signing.pub`), and an issuing key must not be one the vendor recorded as
/// revoked (the ledger, merged with the folder's own record, §18.10). Without a vendor
/// folder there is nothing to check against. An issuing key's folder must be readable.
///
/// # Errors
/// [`IssuingError::NotTheRoot`], [`IssuingError::Revoked`], the folder's read errors, ledger
/// errors.
pub fn check_signer(vendor: Option<&VendorDir>, choice: &SignerChoice) -> Result<(), IssuingError> {
    match choice {
        SignerChoice::Root(file) => {
            let Some(vendor) = vendor else { return Ok(()) };
            let text = keyfile::read_signing_key_file(file)?;
            let given = keyfile::key_id_of_file(&text)?;
            check_root(vendor, given, Some(file))
        }
        SignerChoice::Issuing(dir) => {
            let kid = key_id_of_folder(dir)?;
            read_certificate(dir)?;
            let Some(vendor) = vendor else { return Ok(()) };
            let ledger = vendor.open_ledger()?;
            let Some(record) = ledger.certificates().get(&kid)? else {
                // The vendor could not revoke what it signs: the ledger must know it first.
                return Err(IssuingError::NotRecorded {
                    kid,
                    dir: dir.clone(),
                });
            };
            let revoked = record.revoked_at.is_some();
            if revoked || revoked_keys(vendor)?.contains(&kid) {
                return Err(IssuingError::Revoked {
                    kid,
                    dir: dir.clone(),
                });
            }
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------------------
// What a ledger restore must not lose (§18.10): kept in the vendor folder, like
// `revocations.seq`, written durably before the ledger changes and merged into the
// ledger's view whenever it is opened ([`reconcile`]).

/// The vendor folder's ledger-independent record of issuing keys.
pub const RECORD_DIR: &str = "issuing/ledger-independent";
/// In [`RECORD_DIR`]: the highest serial and list range end ever handed out.
pub const HIGH_WATER_FILE: &str = "high-water";
/// In [`RECORD_DIR`]: the ids of the issuing keys revoked (one per line).
pub const REVOKED_FILE: &str = "revoked";
/// In [`RECORD_DIR`]: a copy of every certificate made (`SERIAL-KID.cert`, armored).
pub const CERTIFICATES_DIR: &str = "certificates";

/// The highest serial and list range end (`hi`) any certificate of this folder got.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HighWater {
    /// The highest serial.
    pub serial: u64,
    /// The highest `hi`.
    pub list_hi: u64,
}

fn record_dir(vendor: &VendorDir) -> PathBuf {
    vendor.root().join(RECORD_DIR)
}

fn corrupt(path: &Path, what: &str) -> LedgerError {
    LedgerError::DamagedRecord {
        path: path.to_path_buf(),
        what: what.to_string(),
    }
}

fn read_optional(path: &Path) -> Result<Option<String>, LedgerError> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| corrupt(path, "not UTF-8")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(LedgerError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes a record file through the durable writer (owner-only), its folder created first.
fn write_record(path: &Path, contents: &[u8]) -> Result<(), LedgerError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| LedgerError::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    airseal_verify::app::fs::write(
        path,
        contents,
        airseal_verify::app::fs::Access::OwnerOnly,
        airseal_verify::app::fs::Mode::Replace,
    )
    .map_err(LedgerError::from)
}

/// The folder's high-water mark (zeros when none was recorded).
///
/// # Errors
/// [`LedgerError::Io`], or [`LedgerError::Corrupt`] for a file that is not one.
pub fn read_high_water(vendor: &VendorDir) -> Result<HighWater, LedgerError> {
    let path = record_dir(vendor).join(HIGH_WATER_FILE);
    let Some(text) = read_optional(&path)? else {
        return Ok(HighWater::default());
    };
    let mut high = HighWater::default();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (name, value) = line
            .split_once(' ')
            .ok_or_else(|| corrupt(&path, &format!("line {line:?}")))?;
        let value: u64 = value
            .trim()
            .parse()
            .map_err(|_| corrupt(&path, &format!("line {line:?}")))?;
        match name {
            "serial" => high.serial = value,
            "list-hi" => high.list_hi = value,
            _ => return Err(corrupt(&path, &format!("line {line:?}"))),
        }
    }
    Ok(high)
}

/// Raises the high-water mark to cover `serial` and `list_hi` (never lowers it).
fn raise_high_water(vendor: &VendorDir, serial: u64, list_hi: u64) -> Result<(), LedgerError> {
    let old = read_high_water(vendor)?;
    let new = HighWater {
        serial: old.serial.max(serial),
        list_hi: old.list_hi.max(list_hi),
    };
    if new == old {
        return Ok(());
    }
    write_record(
        &record_dir(vendor).join(HIGH_WATER_FILE),
        format!("serial {}\nlist-hi {}\n", new.serial, new.list_hi).as_bytes(),
    )
}

/// Keeps `rec`'s certificate and raises the high-water mark, durably.
fn remember_certificate(vendor: &VendorDir, rec: &CertificateRecord) -> Result<(), LedgerError> {
    let path = record_dir(vendor)
        .join(CERTIFICATES_DIR)
        .join(format!("{}-{}.cert", rec.serial, rec.kid));
    if !path.exists() {
        let text = armor(ObjectType::Certificate.armor_label(), &rec.certificate);
        write_record(&path, text.as_bytes())?;
    }
    raise_high_water(vendor, rec.serial, rec.list_seq.map_or(0, |(_, hi)| hi))
}

/// The issuing keys the folder records as revoked.
///
/// # Errors
/// [`LedgerError::Io`], or [`LedgerError::Corrupt`] for a line that is not a key id.
pub fn revoked_keys(vendor: &VendorDir) -> Result<std::collections::BTreeSet<KeyId>, LedgerError> {
    let path = record_dir(vendor).join(REVOKED_FILE);
    let Some(text) = read_optional(&path)? else {
        return Ok(std::collections::BTreeSet::new());
    };
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| KeyId::from_hex(l).ok_or_else(|| corrupt(&path, &format!("line {l:?}"))))
        .collect()
}

fn set_revoked_record(vendor: &VendorDir, kid: KeyId, revoked: bool) -> Result<(), LedgerError> {
    let mut set = revoked_keys(vendor)?;
    let changed = if revoked {
        set.insert(kid)
    } else {
        set.remove(&kid)
    };
    if !changed {
        return Ok(());
    }
    let text: String = set.iter().map(|k| format!("{k}\n")).collect();
    write_record(&record_dir(vendor).join(REVOKED_FILE), text.as_bytes())
}

/// Revokes issuing key `kid`: recorded in the vendor folder first (durably, so no ledger
/// restore forgets it), then in the ledger (audited).
///
/// # Errors
/// Those of [`crate::ledger::Revocations::revoke`], or the folder's write errors.
pub fn revoke(
    vendor: &VendorDir,
    ledger: &crate::ledger::Ledger,
    kid: KeyId,
    reason: Option<&str>,
    now: UnixTime,
) -> Result<crate::ledger::RevokeReport, crate::ledger::RevokeError> {
    let target = crate::ledger::RevokeTarget::IssuingKey { kid };
    if let Some(rec) = ledger.certificates().get(&kid)? {
        remember_certificate(vendor, &rec)?;
        set_revoked_record(vendor, kid, true)?;
    }
    ledger.revocations().revoke(&target, reason, now)
}

/// Takes the revocation of issuing key `kid` back: in the ledger (audited), then in the
/// vendor folder's record.
///
/// # Errors
/// Those of [`crate::ledger::Revocations::undo`], or the folder's write errors.
pub fn unrevoke(
    vendor: &VendorDir,
    ledger: &crate::ledger::Ledger,
    kid: KeyId,
    reason: Option<&str>,
    now: UnixTime,
) -> Result<crate::ledger::RevokeReport, crate::ledger::RevokeError> {
    let report =
        ledger
            .revocations()
            .undo(&crate::ledger::UndoTarget::IssuingKey { kid }, reason, now)?;
    set_revoked_record(vendor, kid, false)?;
    Ok(report)
}

/// Checks that `bytes` is a certificate the vendor folder's root signed; its payload.
fn verify_by_root(
    vendor: &VendorDir,
    path: &Path,
    bytes: &[u8],
) -> Result<(KeyId, Certificate), IssuingError> {
    let foreign = |why: String| IssuingError::ForeignCertificate {
        path: path.to_path_buf(),
        why,
    };
    let public = read_small(&vendor.public_key_path())?;
    let mut trust = airseal_verify::TrustStore::new();
    trust
        .add_public_key_file(&public)
        .map_err(|e| IssuingError::RootPublicKey {
            path: vendor.public_key_path(),
            why: e.to_string(),
        })?;
    trust
        .add_certificate(bytes)
        .map_err(|e| foreign(e.to_string()))?;
    parse_certificate(bytes).map_err(foreign)
}

/// The ledger's row for a certificate put back from a file.
fn record_of(
    bytes: &[u8],
    root: KeyId,
    certificate: &Certificate,
    now: UnixTime,
) -> CertificateRecord {
    CertificateRecord {
        serial: certificate.serial,
        kid: certificate.key_id(),
        root_kid: root,
        not_before: certificate.not_before,
        not_after: certificate.not_after,
        products: certificate.products.clone(),
        may_sign: certificate.may_sign.0,
        list_seq: certificate.list_seq,
        certificate: bytes.to_vec(),
        created: now,
        revoked_at: None,
        reason: None,
        listed_seq: None,
    }
}

/// Puts the certificate in `path` (an issuing key's folder or its certificate file) back
/// into the ledger, after checking that the vendor folder's root signed it; it is also kept
/// in the folder's record. A certificate the ledger has already is returned as it is
/// (`false`: nothing changed).
///
/// # Errors
/// [`IssuingError::ForeignCertificate`], the file's read errors, ledger errors (another
/// certificate with the same serial included).
pub fn import(
    vendor: &VendorDir,
    ledger: &crate::ledger::Ledger,
    path: &Path,
    now: UnixTime,
) -> Result<(CertificateRecord, bool), IssuingError> {
    let file = read_certificate(path)?;
    let (root, certificate) = verify_by_root(vendor, path, &file.bytes)?;
    if let Some(rec) = ledger.certificates().get(&certificate.key_id())? {
        return Ok((rec, false));
    }
    let rec = record_of(&file.bytes, root, &certificate, now);
    // The ledger first: a certificate it cannot take leaves nothing in the folder's record.
    ledger.certificates().import(&rec)?;
    remember_certificate(vendor, &rec)?;
    if revoked_keys(vendor)?.contains(&rec.kid) {
        ledger
            .revocations()
            .revoke(
                &crate::ledger::RevokeTarget::IssuingKey { kid: rec.kid },
                Some("recorded revoked in the vendor folder"),
                now,
            )
            .map_err(|e| match e {
                crate::ledger::RevokeError::Ledger(l) => IssuingError::Ledger(l),
                other => IssuingError::Ledger(LedgerError::Corrupt {
                    what: other.to_string(),
                }),
            })?;
    }
    let rec = ledger.certificates().get(&rec.kid)?.unwrap_or(rec);
    Ok((rec, true))
}

/// Merges the vendor folder's record (§18.10) and the ledger: every certificate the ledger
/// holds is kept in the folder (and raises its high-water mark), and every revocation it
/// holds is recorded there; every certificate the
/// folder kept and the ledger lacks (a restored backup) is put back, after checking the
/// root signed it; every issuing key the folder records as revoked is revoked in the
/// ledger. Only differences are written (and audited), so this runs whenever the vendor
/// folder's ledger is opened.
///
/// # Errors
/// [`LedgerError`]: the folder's files cannot be read or written, a kept certificate is not
/// the root's, or the ledger fails.
pub fn reconcile(vendor: &VendorDir, ledger: &crate::ledger::Ledger) -> Result<(), LedgerError> {
    let as_ledger = |e: IssuingError| match e {
        IssuingError::Ledger(l) => l,
        other => LedgerError::Corrupt {
            what: other.to_string(),
        },
    };
    let known = ledger.certificates().list()?;
    for rec in &known {
        remember_certificate(vendor, rec)?;
        // A revocation the ledger carries (made on another machine that held it) is kept too.
        if rec.revoked_at.is_some() {
            set_revoked_record(vendor, rec.kid, true)?;
        }
    }
    let dir = record_dir(vendor).join(CERTIFICATES_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(LedgerError::Io { path: dir, source }),
    };
    let now = chrono::Utc::now().timestamp();
    for entry in entries {
        let path = entry
            .map_err(|source| LedgerError::Io {
                path: dir.clone(),
                source,
            })?
            .path();
        if path.extension().is_none_or(|e| e != "cert") {
            continue;
        }
        // A damaged or foreign file in the record is skipped, not fatal: it would otherwise
        // stop every command that opens the ledger. `issuing-key import FILE` names what is
        // wrong with it.
        let Ok(file) = read_certificate(&path) else {
            continue;
        };
        if known.iter().any(|r| r.kid == file.certificate.key_id()) {
            continue;
        }
        match import(vendor, ledger, &path, now) {
            Ok(_)
            | Err(IssuingError::ForeignCertificate { .. } | IssuingError::RootPublicKey { .. }) => {
            }
            Err(e) => return Err(as_ledger(e)),
        }
    }
    for kid in revoked_keys(vendor)? {
        let row = ledger.certificates().get(&kid)?;
        if row.is_some_and(|r| r.revoked_at.is_none()) {
            ledger
                .revocations()
                .revoke(
                    &crate::ledger::RevokeTarget::IssuingKey { kid },
                    Some("recorded revoked in the vendor folder"),
                    now,
                )
                .map_err(|e| match e {
                    crate::ledger::RevokeError::Ledger(l) => l,
                    other => LedgerError::Corrupt {
                        what: other.to_string(),
                    },
                })?;
        }
    }
    Ok(())
}
