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

/// Seconds in a day.
const DAY: i64 = 86_400;

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
    if opts.days == 0 {
        return Err(IssuingError::NoDays);
    }
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
    let floor = vendor.exported_revocation_seq()?;
    let plan = ledger.certificates().plan(lists, floor)?;
    // A signed key carries only its creation day, and claims the start of it: a certificate
    // that may sign them starts at the beginning of its UTC day, or keys made on its first
    // day would claim a time before it.
    let not_before = if opts.may_sign.contains(MaySign::SIGNED_KEYS) {
        crate::signedkey::claimed_issue_time(now)
    } else {
        now
    };
    let key = keyfile::generate_signing_key();
    let mut certificate = Certificate {
        serial: plan.serial,
        key: key.verifying_key().to_bytes(),
        not_before,
        not_after: now.saturating_add(i64::from(opts.days).saturating_mul(DAY)),
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
    ledger.certificates().record(&record, floor)?;
    Ok(Certified {
        key,
        certificate: signed,
        record,
        data_mac,
    })
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
    let key = keyfile::decrypt_signing_key(&text, passphrase)?;
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
