//! The app side of offline activation (`SPEC.md` §15): a device key, the pending request,
//! the installed license and the last deactivation proof, kept in a data folder the app
//! chooses.
//!
//! The flow on an air-gapped machine:
//!
//! 1. [`Device::create_request`] makes (once) the machine's Ed25519 **device key**, signs an
//!    activation request with it and remembers the request as *pending*;
//! 2. the vendor turns the request into an activation response (a license bound to the
//!    request's fingerprint, device key and nonce);
//! 3. [`Device::install`] checks the response answers the pending request (signature, type,
//!    product, nonce, device key, fingerprint) and stores it; later, it installs the
//!    vendor's renewals of that license the same way, with no new request
//!    ([`check_update`], `SPEC.md` §15.8);
//! 4. [`Device::verify_installed`] checks the installed license at every start against the
//!    machine as it is now;
//! 5. [`Device::deactivate`] signs a deactivation proof for the vendor, deletes the
//!    license and replaces the device key; the folder remembers the release, and the
//!    license is bound to a key the folder no longer has, so it does not come back if its
//!    file is restored.
//!
//! ```no_run
//! use airseal_verify::app::device::{Device, DeviceError};
//! use airseal_verify::app::fingerprint::{ComponentKind, Fingerprint};
//! use airseal_verify::{Expected, TrustStore};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let (vendor_public_key, _) = airseal_verify::doc_example();
//! let mut trust = TrustStore::new();
//! trust.add_public_key_file(vendor_public_key.as_bytes())?;
//! let device = Device::open("/var/lib/photo-pro/activation");
//! // In a container or VM, add an id the platform gives the instance.
//! let machine = Fingerprint::collect().with(ComponentKind::Custom("pod".into()), "pod-7f3a");
//! let now = 1_767_225_600; // the app's clock, seconds since 1970
//! match device.verify_installed(&trust, now, &machine, Expected::product("photo-pro")) {
//!     Ok(license) => println!("licensed to {:?}", license.claims().licensee.email),
//!     Err(DeviceError::NotActivated) => {
//!         let key = Some("7K3QD-M2XRP-9FTWB-4HCNV");
//!         let request = device.create_request("photo-pro", key, &machine, None, &[], now)?;
//!         std::fs::write("activation-request.bin", request)?; // to the vendor, then:
//!         let response = std::fs::read("activation-response.bin")?;
//!         device.install(&response, &trust, now)?;
//!     }
//!     Err(e) => return Err(e.into()), // wrong machine, expired, damaged folder…
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # The data folder
//!
//! | file | contents | written |
//! |---|---|---|
//! | `device.key` | `"airseal-device-v1"` ‖ Ed25519 seed (32) ‖ public key (32): 81 bytes | at the first request, and replaced by a fresh key at each release; mode 0600 |
//! | `device.key.next` | the replacement key, same layout | only while a release replaces the key (a crash leaves it; the next call finishes) |
//! | `pending.req` | the raw activation request last created (COSE_Sign1, §15) | by `create_request`; removed by `install` and by a release |
//! | `license.lic` | the raw activation response installed | by `install`; removed by `deactivate` |
//! | `release.proof` | the raw deactivation proof last made | by `deactivate` |
//! | `device.state` | the licenses installed (newest issue time) and released here, HMAC'd under a key derived from the device key's seed | by `install` and `deactivate`, mode 0600 |
//!
//! Every write is atomic (temporary file, fsync, rename, fsync of the folder); the folder
//! is created with mode 0700 when this module creates it. The pending request is the signed
//! request itself, so reading it back re-checks the device key's signature: an edited
//! request file is refused, never trusted. A damaged or hostile file gives an error naming
//! it, never a panic.
//!
//! The seed never leaves this module: it is read, used and wiped; `Debug` of every type here
//! shows the folder and public data only.

use std::fmt;
use std::path::{Path, PathBuf};

use airseal_core::activation::{
    ActivationRequest, DeactivationProof, MAX_METERS, MAX_PRODUCT_KEY_LEN, NONCE_LEN, Purpose,
};
use airseal_core::claims::MAX_COMPONENTS;
use airseal_core::cose::{self, ObjectType};
use airseal_core::{KeyId, LicenseClaims, UnixTime, armor};
use ed25519_dalek::{Signer as _, SigningKey};
use sha2::{Digest as _, Sha256};
use zeroize::{Zeroize as _, Zeroizing};

use crate::app::fingerprint::Fingerprint;
use crate::app::fs::{self as durable, Access, Mode, Read};
use crate::app::guard::GuardSecret;
use crate::app::state::{MAX_STATE_FILE, State, StateError, StateKey};
use crate::{Error, Expected, License, Machine, TrustStore};

/// The device key file's name in the data folder.
pub const DEVICE_KEY_FILE: &str = "device.key";
/// The pending request's file name in the data folder.
pub const PENDING_REQUEST_FILE: &str = "pending.req";
/// The installed license's file name in the data folder.
pub const LICENSE_FILE: &str = "license.lic";
/// The last deactivation proof's file name in the data folder.
pub const RELEASE_PROOF_FILE: &str = "release.proof";
/// The file in which the data folder remembers the licenses it installed and released
/// (`SPEC.md` §15.5), authenticated under a key derived from the device key.
pub const STATE_FILE: &str = "device.state";
/// A replacement device key, staged while a release replaces the folder's key (`SPEC.md`
/// §15.5); present only when a crash cut a replacement short, which the next call finishes.
pub const NEXT_KEY_FILE: &str = "device.key.next";

/// First bytes of the device key file; a new layout gets a new version.
const KEY_MAGIC: &[u8] = b"airseal-device-v1";
/// Length of the device key file: magic, seed, public key.
const KEY_FILE_LEN: usize = KEY_MAGIC.len() + 32 + 32;
/// Largest request, license or proof file read back (far above any real one, and the
/// CLI's input limit).
const MAX_FILE: u64 = 1024 * 1024;

/// What went wrong on the app side of activation: a verification failure, or a problem with
/// the data folder that the flat [`Error`] (which is `no_std` and carries no I/O errors or
/// paths) cannot describe.
#[non_exhaustive]
#[derive(Debug)]
pub enum DeviceError {
    /// A response or the installed license failed verification; the [`Error`] says why
    /// ([`Error::WrongRequest`] when a response does not answer the pending request or none
    /// is pending, [`Error::WrongDevice`], [`Error::WrongMachine`], [`Error::Expired`]…).
    Verify(Error),
    /// No license is installed in the data folder (never activated, or released).
    NotActivated,
    /// The app asked for a request the format cannot carry (no fingerprint component, too
    /// many meters…).
    InvalidRequest {
        /// What is wrong.
        reason: &'static str,
    },
    /// A file in the data folder is damaged or was edited: wrong size, wrong magic, bad
    /// signature, or it belongs to another device key.
    Corrupt {
        /// The file.
        file: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A file in the data folder cannot be read or written.
    Io {
        /// The file (or the folder).
        file: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The operating system's random generator failed (no device key or nonce can be made).
    Randomness,
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceError::Verify(e) => e.fmt(f),
            DeviceError::NotActivated => {
                f.write_str("no license is installed on this machine (activate it first)")
            }
            DeviceError::InvalidRequest { reason } => {
                write!(f, "cannot create an activation request: {reason}")
            }
            DeviceError::Corrupt { file, reason } => write!(f, "{}: {reason}", file.display()),
            DeviceError::Io { file, source } => write!(f, "{}: {source}", file.display()),
            DeviceError::Randomness => {
                f.write_str("the operating system's random number generator failed")
            }
        }
    }
}

impl std::error::Error for DeviceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DeviceError::Verify(e) => Some(e),
            DeviceError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<Error> for DeviceError {
    fn from(e: Error) -> Self {
        DeviceError::Verify(e)
    }
}

/// The pending activation request: the exact bytes sent, and what they say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingRequest {
    /// The raw request (COSE_Sign1), as returned by [`Device::create_request`].
    pub bytes: Vec<u8>,
    /// The decoded request.
    pub request: ActivationRequest,
}

/// This machine's activation state in one data folder (one per product, typically).
///
/// Opening does no I/O; each call reads what it needs, so several processes (the app and
/// an admin's `airseal` command) can share the folder.
#[derive(Clone, Debug)]
pub struct Device {
    dir: PathBuf,
}

/// The device key, loaded for one operation. `SigningKey` wipes itself on drop; `Debug`
/// is not derived so the seed cannot be printed.
struct DeviceKey(SigningKey);

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceKey")
            .field("kid", &KeyId::of_public_key(&self.public()))
            .finish_non_exhaustive()
    }
}

impl DeviceKey {
    fn public(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    /// The clock guard's secret (`SPEC.md` §14), derived from the seed under its own label
    /// so it reveals nothing of the seed or of the state key.
    fn guard_secret(&self) -> GuardSecret {
        let seed = Zeroizing::new(self.0.to_bytes());
        let mut digest: [u8; 32] = Sha256::new()
            .chain_update(b"airseal-clock-guard-secret-v1")
            .chain_update(seed.as_slice())
            .finalize()
            .into();
        let secret = GuardSecret::from_bytes(digest);
        digest.zeroize();
        secret
    }

    /// The key `device.state` is authenticated with, derived from the seed.
    fn state_key(&self) -> StateKey {
        StateKey::from_seed(&Zeroizing::new(self.0.to_bytes()))
    }

    /// A COSE_Sign1 of `typ` over `payload`, kid = the device key's id (SPEC.md §15).
    fn sign(&self, typ: ObjectType, payload: &[u8]) -> Vec<u8> {
        let protected = cose::encode_protected(&KeyId::of_public_key(&self.public()), typ);
        let signature = self.0.sign(&cose::sig_structure(&protected, payload));
        cose::encode_sign1(&protected, payload, &signature.to_bytes())
    }
}

/// Fresh random bytes from the operating system.
fn random<const N: usize>() -> Result<[u8; N], DeviceError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|_| DeviceError::Randomness)?;
    Ok(out)
}

impl Device {
    /// The activation state kept in `dir` (created when the first request is made).
    pub fn open(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The data folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn corrupt(&self, name: &str, reason: &'static str) -> DeviceError {
        DeviceError::Corrupt {
            file: self.path(name),
            reason,
        }
    }

    /// Reads a file of the data folder; `None` when absent.
    fn read(&self, name: &str, max: u64) -> Result<Option<Vec<u8>>, DeviceError> {
        let path = self.path(name);
        match durable::read_bounded(&path, max) {
            Ok(Read::Missing) => Ok(None),
            Ok(Read::TooLarge) => Err(self.corrupt(name, "file too large: not written by airseal")),
            Ok(Read::Bytes(b)) => Ok(Some(b)),
            Err(source) => Err(DeviceError::Io { file: path, source }),
        }
    }

    fn write(&self, name: &str, contents: &[u8]) -> Result<(), DeviceError> {
        let path = self.path(name);
        durable::write(&path, contents, Access::Default, Mode::Replace).map_err(|e| {
            DeviceError::Io {
                file: path,
                source: e.into(),
            }
        })
    }

    fn remove(&self, name: &str) -> Result<(), DeviceError> {
        let path = self.path(name);
        durable::remove(&path).map_err(|e| DeviceError::Io {
            file: path,
            source: e.into(),
        })
    }

    /// Creates the data folder (owner-only on Unix) if it does not exist yet.
    fn create_dir(&self) -> Result<(), DeviceError> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt as _;
            builder.mode(0o700);
        }
        builder.create(&self.dir).map_err(|source| DeviceError::Io {
            file: self.dir.clone(),
            source,
        })
    }

    /// The device key, if one was made; checks the file's layout and that the stored
    /// public key is the seed's (so a damaged seed is noticed, not used). A key replacement
    /// that a crash interrupted (a [`NEXT_KEY_FILE`] in the folder) is finished first.
    fn load_key(&self) -> Result<Option<DeviceKey>, DeviceError> {
        if let Some(next) = self.read_key_file(NEXT_KEY_FILE)? {
            self.finish_key_replacement(&next)?;
        }
        self.read_key_file(DEVICE_KEY_FILE)
    }

    /// A device key file (`device.key` or its staged replacement), checked.
    fn read_key_file(&self, name: &str) -> Result<Option<DeviceKey>, DeviceError> {
        let Some(bytes) = self.read(name, KEY_FILE_LEN as u64)? else {
            return Ok(None);
        };
        let bytes = Zeroizing::new(bytes);
        let bad = || self.corrupt(name, "not a device key file (wrong size or magic)");
        if bytes.len() != KEY_FILE_LEN || !bytes.starts_with(KEY_MAGIC) {
            return Err(bad());
        }
        let (seed_bytes, public) = bytes
            .get(KEY_MAGIC.len()..)
            .and_then(|rest| rest.split_at_checked(32))
            .ok_or_else(bad)?;
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(seed_bytes);
        let key = DeviceKey(SigningKey::from_bytes(&seed));
        if key.public().as_slice() != public {
            return Err(self.corrupt(
                name,
                "the device key file is damaged: its public key does not match its seed",
            ));
        }
        Ok(Some(key))
    }

    /// Writes `key` as the device key file `name` (owner-only).
    fn write_key_file(&self, name: &str, key: &DeviceKey, mode: Mode) -> Result<(), DeviceError> {
        let mut file = Zeroizing::new(Vec::with_capacity(KEY_FILE_LEN));
        file.extend_from_slice(KEY_MAGIC);
        file.extend_from_slice(Zeroizing::new(key.0.to_bytes()).as_slice());
        file.extend_from_slice(&key.public());
        let path = self.path(name);
        durable::write(&path, &file, Access::OwnerOnly, mode).map_err(|e| DeviceError::Io {
            file: path,
            source: e.into(),
        })
    }

    /// Replaces the device key with a fresh one, keeping what the folder remembers
    /// (`SPEC.md` §15.5): the last step of a release, so a license given back stays bound
    /// to a key this folder no longer has, whatever files are put back or deleted after.
    ///
    /// The pending request (signed by the old key; its answer would be bound to it) is
    /// dropped. The new key is staged in [`NEXT_KEY_FILE`] first; then `device.state` is
    /// written under it, then it becomes `device.key`, then the staged file goes. A crash
    /// at any point leaves either the old key with its state, or a staged key that the next
    /// call on the folder installs ([`Device::load_key`]).
    fn replace_key(&self) -> Result<(), DeviceError> {
        self.remove(PENDING_REQUEST_FILE)?;
        let seed = Zeroizing::new(random::<32>()?);
        let next = DeviceKey(SigningKey::from_bytes(&seed));
        self.write_key_file(NEXT_KEY_FILE, &next, Mode::Replace)?;
        self.finish_key_replacement(&next)
    }

    /// Installs the staged key `next`: `device.state` re-encoded under it (it may already
    /// be, if a crash came after that step), `device.key` replaced, the staged file removed.
    fn finish_key_replacement(&self, next: &DeviceKey) -> Result<(), DeviceError> {
        let state = match self.read(STATE_FILE, MAX_STATE_FILE)? {
            None => State::default(),
            Some(bytes) => match State::decode(&bytes, &next.state_key()) {
                Ok(state) => state,
                Err(_) => match self.read_key_file(DEVICE_KEY_FILE)? {
                    Some(old) => self.decode_state(&bytes, &old)?,
                    None => {
                        return Err(self.corrupt(
                            DEVICE_KEY_FILE,
                            "the device key is missing while its replacement is staged",
                        ));
                    }
                },
            },
        };
        self.save_state(next, &state)?;
        self.write_key_file(DEVICE_KEY_FILE, next, Mode::Replace)?;
        self.remove(NEXT_KEY_FILE)
    }

    /// Finishes a release that left the folder's device key in place — made by an airseal
    /// that did not replace keys, or cut short by a crash before the replacement began —
    /// when nothing needs the key any more: no license is installed, the kept release proof
    /// was signed by the current key, and no request is pending (unless `dropping_pending`,
    /// when the caller replaces it anyway).
    fn finish_release(&self, dropping_pending: bool) -> Result<(), DeviceError> {
        if self.installed_license()?.is_some()
            || (!dropping_pending && self.read(PENDING_REQUEST_FILE, MAX_FILE)?.is_some())
        {
            return Ok(());
        }
        let Some(proof) = self.release_proof()? else {
            return Ok(());
        };
        // Evidence only: a damaged proof is not this step's business.
        let Ok(proof) = crate::activation::verify_deactivation(&proof) else {
            return Ok(());
        };
        match self.load_key()? {
            Some(key) if key.public() == proof.device_key => self.replace_key(),
            _ => Ok(()),
        }
    }

    /// The device key, made now if there is none. If another process makes one at the same
    /// moment, both use the one written first.
    fn load_or_create_key(&self) -> Result<DeviceKey, DeviceError> {
        if let Some(key) = self.load_key()? {
            return Ok(key);
        }
        self.create_dir()?;
        let seed = Zeroizing::new(random::<32>()?);
        let key = DeviceKey(SigningKey::from_bytes(&seed));
        match self.write_key_file(DEVICE_KEY_FILE, &key, Mode::CreateNew) {
            Ok(()) => return Ok(key),
            // Another process made one first: use that.
            Err(DeviceError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        self.load_key()?
            .ok_or_else(|| self.corrupt(DEVICE_KEY_FILE, "the device key file vanished"))
    }

    /// The device public key, or `None` before the first request.
    ///
    /// # Errors
    /// [`DeviceError::Corrupt`] or [`DeviceError::Io`] for an unreadable key file.
    pub fn public_key(&self) -> Result<Option<[u8; 32]>, DeviceError> {
        Ok(self.load_key()?.map(|k| k.public()))
    }

    /// The secret for this machine's clock guard ([`ClockGuard::open`](crate::ClockGuard::open),
    /// `SPEC.md` §14): SHA-256("airseal-clock-guard-secret-v1" ‖ device key seed). The seed
    /// itself never leaves this module, and the secret reveals nothing of it. `None` before
    /// the first request (there is no device key yet). A release replaces the device key, so
    /// the secret changes with it: state kept under the old one no longer authenticates
    /// (start a new state file for the new license).
    ///
    /// # Errors
    /// [`DeviceError::Corrupt`] or [`DeviceError::Io`] for an unreadable key file.
    pub fn guard_secret(&self) -> Result<Option<GuardSecret>, DeviceError> {
        Ok(self.load_key()?.map(|k| k.guard_secret()))
    }

    /// What this folder remembers of the licenses it installed and released (empty when
    /// there is no state file yet: a new folder, or one made by an airseal before 0.x that
    /// kept none).
    fn load_state(&self, key: &DeviceKey) -> Result<State, DeviceError> {
        let Some(bytes) = self.read(STATE_FILE, MAX_STATE_FILE)? else {
            return Ok(State::default());
        };
        self.decode_state(&bytes, key)
    }

    /// A state file's contents, authenticated under `key`.
    fn decode_state(&self, bytes: &[u8], key: &DeviceKey) -> Result<State, DeviceError> {
        State::decode(bytes, &key.state_key()).map_err(|e| {
            self.corrupt(
                STATE_FILE,
                match e {
                    StateError::Layout => "not a device state file (wrong size or layout)",
                    StateError::Authentication => {
                        "the device state was edited, or belongs to another device key"
                    }
                },
            )
        })
    }

    fn save_state(&self, key: &DeviceKey, state: &State) -> Result<(), DeviceError> {
        let path = self.path(STATE_FILE);
        durable::write(
            &path,
            &state.encode(&key.state_key()),
            Access::OwnerOnly,
            Mode::Replace,
        )
        .map_err(|e| DeviceError::Io {
            file: path,
            source: e.into(),
        })
    }

    /// Refuses a license this folder released, or a document of a license older than one
    /// installed here before (`SPEC.md` §15.5). The last release proof kept in the folder
    /// counts as a release too, so a folder whose state predates the release (an older
    /// airseal, or a deleted state file) still refuses the license that proof gave back.
    fn check_remembered(
        &self,
        state: &State,
        license_id: &str,
        issued_at: UnixTime,
    ) -> Result<(), DeviceError> {
        let released = || Error::Released {
            license_id: license_id.to_string(),
        };
        if let Some(entry) = state.get(license_id) {
            if entry.released {
                return Err(released().into());
            }
            if issued_at < entry.newest {
                return Err(Error::StaleUpdate {
                    issued_at,
                    installed_at: entry.newest,
                }
                .into());
            }
        }
        if let Some(proof) = self.release_proof()? {
            // Evidence only: a damaged proof file is not this check's business.
            if let Ok(p) = crate::activation::verify_deactivation(&proof) {
                if p.license_id == license_id {
                    return Err(released().into());
                }
            }
        }
        Ok(())
    }

    /// `e`, except that [`Error::WrongDevice`] for a document of a license this folder
    /// remembers giving back becomes [`Error::Released`]: such a document is bound to the
    /// key the folder had before the release replaced it (`SPEC.md` §15.5), and "released"
    /// is the reason that helps. Only for a document whose signature verified (the
    /// verifier checks the device key after the signature), so its license id is the
    /// vendor's.
    fn explain_wrong_device(&self, key: &DeviceKey, document: &[u8], e: Error) -> DeviceError {
        if e != Error::WrongDevice {
            return e.into();
        }
        let Some(claims) = armor::dearmor(document)
            .ok()
            .and_then(|raw| LicenseClaims::read_unverified(&raw).ok())
        else {
            return e.into();
        };
        match self.remembers_release(key, &claims.license_id) {
            Ok(true) => Error::Released {
                license_id: claims.license_id,
            }
            .into(),
            Ok(false) => e.into(),
            Err(damaged) => damaged,
        }
    }

    /// Whether the folder remembers giving `license_id` back (its state, or the kept
    /// release proof).
    ///
    /// # Errors
    /// [`DeviceError::Corrupt`] / [`DeviceError::Io`] for a damaged or unreadable state
    /// file: reported wherever the state is read.
    fn remembers_release(&self, key: &DeviceKey, license_id: &str) -> Result<bool, DeviceError> {
        let state = self.load_state(key)?;
        match self.check_remembered(&state, license_id, UnixTime::MAX) {
            Ok(()) => Ok(false),
            Err(DeviceError::Verify(Error::Released { .. })) => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// Creates an activation request (trial when `product_key` is `None`) for this machine,
    /// signs it with the device key (made on first use) and keeps it as the pending request,
    /// replacing any earlier one (whose response will then be refused). Returns the raw
    /// request; [`airseal_core::armor::armor`] with
    /// [`ObjectType::ActivationRequest`]'s label gives the text form.
    ///
    /// `fingerprint` must have 1 to 16 components; its hashes are salted with `product`.
    /// The product key is sent as the user entered it, only trimmed of surrounding blanks
    /// (1 to [`MAX_PRODUCT_KEY_LEN`] bytes): the vendor, who knows how its keys are stored,
    /// finds the key (`SPEC.md` §15.6), so a key imported from another platform keeps its
    /// own case and separators. `meters` (at most 16, names unique) are reported to the
    /// vendor as they are.
    ///
    /// # Errors
    /// [`DeviceError::InvalidRequest`] for arguments the format cannot carry;
    /// [`DeviceError::Io`], [`DeviceError::Corrupt`] or [`DeviceError::Randomness`] when the
    /// device key or the pending request cannot be read or written.
    pub fn create_request(
        &self,
        product: &str,
        product_key: Option<&str>,
        fingerprint: &Fingerprint,
        app_version: Option<&str>,
        meters: &[(&str, i64)],
        now: UnixTime,
    ) -> Result<Vec<u8>, DeviceError> {
        let invalid = |reason| DeviceError::InvalidRequest { reason };
        if product.is_empty() || product.contains('\0') {
            return Err(invalid("the product id must be non-empty, without NUL"));
        }
        let components = fingerprint.hashes(product);
        if components.is_empty() {
            return Err(invalid(
                "the fingerprint has no components: add one (for example an instance id)",
            ));
        }
        if components.len() > MAX_COMPONENTS {
            return Err(invalid("the fingerprint has more than 16 components"));
        }
        if meters.len() > MAX_METERS {
            return Err(invalid("more than 16 meters"));
        }
        let mut meter_list: Vec<(String, i64)> =
            meters.iter().map(|(k, v)| ((*k).to_string(), *v)).collect();
        let product_key = match product_key {
            Some(typed) => {
                let key = typed.trim();
                if key.is_empty() {
                    return Err(invalid("the product key is empty"));
                }
                if key.len() > MAX_PRODUCT_KEY_LEN {
                    return Err(invalid("the product key is longer than 512 bytes"));
                }
                Some(key.to_string())
            }
            None => None,
        };
        meter_list.sort();
        if meter_list
            .windows(2)
            .any(|w| matches!(w, [a, b] if a.0 == b.0))
        {
            return Err(invalid("two meters have the same name"));
        }
        // A new request after a release is made with a key the released license is not
        // bound to, even in a folder an older airseal released.
        self.finish_release(true)?;
        let key = self.load_or_create_key()?;
        let mut request = ActivationRequest {
            product: product.to_string(),
            purpose: if product_key.is_some() {
                Purpose::Activation
            } else {
                Purpose::Trial
            },
            product_key,
            components,
            device_key: key.public(),
            nonce: random::<NONCE_LEN>()?,
            created: now,
            app_version: app_version.map(str::to_string),
            meters: meter_list,
        };
        request.normalize();
        let payload = request.encode();
        // The same strict decoder the vendor runs: never send what it would refuse.
        if ActivationRequest::decode(&payload, 0).as_ref() != Ok(&request) {
            return Err(invalid("the request breaks a format rule (SPEC.md §15)"));
        }
        let bytes = key.sign(ObjectType::ActivationRequest, &payload);
        self.write(PENDING_REQUEST_FILE, &bytes)?;
        Ok(bytes)
    }

    /// The pending request, re-verified: its signature must be the current device key's.
    ///
    /// # Errors
    /// [`DeviceError::Corrupt`] when the file is not a valid request of this device;
    /// [`DeviceError::Io`] when it cannot be read.
    pub fn pending_request(&self) -> Result<Option<PendingRequest>, DeviceError> {
        let Some(bytes) = self.read(PENDING_REQUEST_FILE, MAX_FILE)? else {
            return Ok(None);
        };
        let request = crate::activation::verify_request(&bytes).map_err(|_| {
            self.corrupt(
                PENDING_REQUEST_FILE,
                "not a valid activation request (damaged or edited)",
            )
        })?;
        let ours = self.load_key()?.map(|k| k.public());
        if ours != Some(request.device_key) {
            return Err(self.corrupt(
                PENDING_REQUEST_FILE,
                "the pending request was made with another device key",
            ));
        }
        Ok(Some(PendingRequest { bytes, request }))
    }

    /// Installs an activation response (raw or armored): either the answer to the pending
    /// request, or a **license update** (a renewal, `SPEC.md` §15.8) of the license
    /// installed here.
    ///
    /// * An answer to the pending request: trusted signature, type `airseal-activation`, the
    ///   request's product, valid at `now`, bound to this device key and to the fingerprint
    ///   the request carried, echoing the request's nonce. The pending request is then
    ///   forgotten, so the same response cannot be installed twice.
    /// * An update, when the response does not answer a pending request but a license is
    ///   installed: it must pass [`check_update`] against the installed license (same
    ///   license, product, device key, components and request nonce; issued later), no
    ///   pending request needed.
    ///
    /// Either way a license this folder released is refused ([`Error::Released`]), as is a
    /// document older than one installed before ([`Error::StaleUpdate`]). The license
    /// replaces any installed one, and the folder remembers its issue time. A refused
    /// response changes nothing.
    ///
    /// # Errors
    /// [`DeviceError::Verify`] with [`Error::WrongType`] for a signed object that is neither
    /// a response nor a license (a request, a revocation list…) or a plain license (one that
    /// answers no request), [`Error::Released`] for an update of a license this folder
    /// released, [`Error::WrongRequest`] when no request is pending and no license is
    /// installed, or the response answers neither
    /// (replayed or mixed up), [`Error::WrongDevice`] when it is bound to another device
    /// key, [`Error::StaleUpdate`], [`Error::Released`], or any verification failure
    /// ([`Error::BadSignature`], [`Error::WrongMachine`]…); [`DeviceError::Corrupt`] /
    /// [`DeviceError::Io`] for the data folder.
    pub fn install(
        &self,
        response: &[u8],
        trust: &TrustStore,
        now: UnixTime,
    ) -> Result<License, DeviceError> {
        // What the file is, first: a request or a revocation list handed to `install` is
        // the wrong kind of file, whatever is pending here.
        let raw = armor::dearmor(response).map_err(Error::Malformed)?;
        if let Ok(sign1) = cose::parse_sign1(&raw) {
            let typ = sign1.header.typ;
            if typ != ObjectType::ActivationResponse.typ() && typ != ObjectType::License.typ() {
                return Err(Error::WrongType {
                    found: typ.to_string(),
                }
                .into());
            }
        }
        let unverified = LicenseClaims::read_unverified(&raw).ok();
        // A license that answers no request (a plain license) is neither a response nor an
        // update of one: the wrong kind of file for this folder (`airseal verify` reads it).
        if unverified
            .as_ref()
            .is_some_and(|c| c.request_nonce.is_none())
        {
            return Err(Error::WrongType {
                found: ObjectType::License.typ().to_string(),
            }
            .into());
        }
        let pending = self.pending_request()?;
        // Which of the two it is, read before verifying: the checks that follow decide.
        let nonce = unverified.as_ref().and_then(|c| c.request_nonce);
        let answers_pending = matches!(
            (&pending, nonce),
            (Some(p), Some(n)) if p.request.nonce == n
        );
        let installed = if answers_pending {
            None
        } else {
            self.installed_license()?
        };
        let (license, update) = match (pending, installed) {
            (_, Some(installed)) => {
                // A damaged installed file is the folder's problem, not the update's.
                if LicenseClaims::read_unverified(&installed).is_err() {
                    return Err(self.corrupt(LICENSE_FILE, "the installed license cannot be read"));
                }
                let Some(key) = self.load_key()? else {
                    return Err(Error::WrongDevice.into());
                };
                let update = check_update(trust, &raw, &installed, &key.public(), now)
                    .map_err(|e| self.explain_wrong_device(&key, &raw, e))?;
                (update, true)
            }
            (Some(pending), None) => (check_response(trust, &raw, &pending.request, now)?, false),
            (None, None) => {
                // An update for a license this folder released: say so (it does not come
                // back), rather than that nothing is pending.
                if let (Some(c), Some(key)) = (&unverified, self.load_key()?) {
                    let state = self.load_state(&key)?;
                    self.check_remembered(&state, &c.license_id, c.issued_at)?;
                }
                return Err(Error::WrongRequest {
                    reason: "no activation request is pending and no license is installed on this machine",
                }
                .into());
            }
        };
        let key = self
            .load_key()?
            .ok_or_else(|| self.corrupt(DEVICE_KEY_FILE, "the device key file vanished"))?;
        let mut state = self.load_state(&key)?;
        let claims = license.claims();
        self.check_remembered(&state, &claims.license_id, claims.issued_at)?;
        // License first, then what the folder remembers, then the pending request: a crash
        // in between leaves a pending request that the installed response still answers
        // (installing again is safe), and state that is at worst one update behind.
        self.write(LICENSE_FILE, &raw)?;
        state.installed(&claims.license_id, claims.issued_at);
        self.save_state(&key, &state)?;
        if !update {
            self.remove(PENDING_REQUEST_FILE)?;
        }
        Ok(license)
    }

    /// The installed license's raw bytes, if any (not verified: see
    /// [`Device::verify_installed`]).
    ///
    /// # Errors
    /// [`DeviceError::Io`] or [`DeviceError::Corrupt`] (too large) for the license file.
    pub fn installed_license(&self) -> Result<Option<Vec<u8>>, DeviceError> {
        self.read(LICENSE_FILE, MAX_FILE)
    }

    /// Verifies the installed license, as an app does at every start: `expected` (product,
    /// release date, revocations…) plus this machine — `fingerprint`, hashed for the
    /// expected product, must reach the license's threshold, and the license must be bound
    /// to this folder's device key. Any machine set on `expected` is replaced.
    ///
    /// # Errors
    /// [`DeviceError::NotActivated`] when no license is installed; [`DeviceError::Verify`]
    /// with the reason the license is refused ([`Error::WrongMachine`],
    /// [`Error::WrongDevice`] — also when the device key is gone —, [`Error::Expired`]…);
    /// [`DeviceError::Io`] / [`DeviceError::Corrupt`] for the data folder.
    pub fn verify_installed(
        &self,
        trust: &TrustStore,
        now: UnixTime,
        fingerprint: &Fingerprint,
        expected: Expected<'_>,
    ) -> Result<License, DeviceError> {
        let Some(bytes) = self.installed_license()? else {
            self.finish_release(false)?;
            return Err(DeviceError::NotActivated);
        };
        // A license without the key it is bound to was copied here, or the key was lost:
        // either way it cannot be this device's.
        let Some(key) = self.load_key()? else {
            return Err(Error::WrongDevice.into());
        };
        let machine = fingerprint
            .machine(expected.product_id())
            .with_device_key(&key.public());
        let license = match trust.verify(&bytes, now, &expected.machine(&machine)) {
            Ok(license) => license,
            // A license this folder gave back is bound to the key the folder had before the
            // release replaced it: when the folder still remembers the release, say so.
            Err(e) => return Err(self.explain_wrong_device(&key, &bytes, e)),
        };
        let state = self.load_state(&key)?;
        let claims = license.claims();
        self.check_remembered(&state, &claims.license_id, claims.issued_at)?;
        Ok(license)
    }

    /// Gives the seat back: signs a deactivation proof naming the installed license (its
    /// id and `cti`) with the device key, stores it in the data folder, deletes the
    /// license, then **replaces the device key** with a fresh one (`SPEC.md` §15.5), and
    /// returns the proof (raw; armor it with [`ObjectType::DeactivationProof`]'s label for
    /// text). The proof is written before the license is removed, so a crash never loses
    /// both; called again when no license is installed, it returns the last proof made (one
    /// that was lost before it reached the vendor can be sent again: it needs no key).
    ///
    /// Replacing the key makes the release final on this folder: a copy of the license put
    /// back is bound to a key the folder no longer has, even with `device.state` and
    /// `release.proof` deleted. A pending request (made with the old key) is dropped; a new
    /// request is made with the new key, so the vendor sees it as a new seat (its trial rule
    /// still knows the machine by its components).
    ///
    /// # Errors
    /// [`DeviceError::NotActivated`] when there is neither a license nor an earlier proof;
    /// [`Error::Released`] (or [`Error::WrongDevice`]) when the installed license is bound
    /// to another device key — a license given back here, copied back; nothing changes;
    /// [`DeviceError::Corrupt`] when the installed license or the device key cannot be
    /// read; [`DeviceError::Io`], [`DeviceError::Randomness`].
    pub fn deactivate(&self, now: UnixTime) -> Result<Vec<u8>, DeviceError> {
        let Some(license) = self.installed_license()? else {
            let proof = self.release_proof()?.ok_or(DeviceError::NotActivated)?;
            self.finish_release(false)?;
            return Ok(proof);
        };
        let unreadable = || self.corrupt(LICENSE_FILE, "the installed license cannot be read");
        let claims = LicenseClaims::read_unverified(&license).map_err(|_| unreadable())?;
        let Some(key) = self.load_key()? else {
            return Err(self.corrupt(
                DEVICE_KEY_FILE,
                "the device key is missing: no proof can be signed for the installed license",
            ));
        };
        // A license bound to another device key — one this folder gave back before its key
        // was replaced, copied back — cannot be given back again: the vendor accepts a proof
        // only from the key the seat is bound to, and the proof kept here must not be
        // overwritten by one it would refuse.
        let bound = claims.machine.as_ref().and_then(|m| m.device_key);
        if bound.is_some_and(|b| b != KeyId::of_public_key(&key.public()).0) {
            return Err(if self.remembers_release(&key, &claims.license_id)? {
                Error::Released {
                    license_id: claims.license_id,
                }
            } else {
                Error::WrongDevice
            }
            .into());
        }
        // Remembered before anything else changes: from here on a copy of this license put
        // back in the folder is refused, whether or not the proof reaches the vendor.
        let mut state = self.load_state(&key)?;
        state.released(&claims.license_id, claims.issued_at);
        self.save_state(&key, &state)?;
        let proof = DeactivationProof {
            product: claims.product,
            license_id: claims.license_id,
            token_id: claims.token_id,
            device_key: key.public(),
            nonce: random::<NONCE_LEN>()?,
            created: now,
        };
        let bytes = key.sign(ObjectType::DeactivationProof, &proof.encode());
        self.write(RELEASE_PROOF_FILE, &bytes)?;
        self.remove(LICENSE_FILE)?;
        // Last, a new device key: the license given back (and any copy of it) is bound to
        // the old one, which from now on only a backup of the whole folder has. A crash
        // before this step leaves the proof kept and the old key, replaced at the next
        // request, release or start (`finish_release`).
        self.replace_key()?;
        Ok(bytes)
    }

    /// The last deactivation proof made, if it is still kept.
    ///
    /// # Errors
    /// [`DeviceError::Io`] or [`DeviceError::Corrupt`] (too large) for the proof file.
    pub fn release_proof(&self) -> Result<Option<Vec<u8>>, DeviceError> {
        self.read(RELEASE_PROOF_FILE, MAX_FILE)
    }

    /// Forgets the last deactivation proof, once the vendor has it.
    ///
    /// # Errors
    /// [`DeviceError::Io`] when it cannot be removed.
    pub fn forget_release_proof(&self) -> Result<(), DeviceError> {
        self.remove(RELEASE_PROOF_FILE)
    }
}

/// The checks [`Device::install`] makes of a response to `request`, without touching the
/// data folder: the license verifies for the request's product, components and device key,
/// and echoes the request's nonce.
///
/// # Errors
/// As [`TrustStore::verify`], then [`Error::WrongRequest`] for a plain license or another
/// request's nonce.
pub fn check_response(
    trust: &TrustStore,
    response: &[u8],
    request: &ActivationRequest,
    now: UnixTime,
) -> Result<License, Error> {
    let machine = Machine::from_component_hashes(request.components.clone())
        .with_device_key(&request.device_key);
    let license = trust.verify(
        response,
        now,
        &Expected::product(&request.product).machine(&machine),
    )?;
    match license.claims().request_nonce {
        None => Err(Error::WrongRequest {
            reason: "it is a plain license, not an activation response",
        }),
        Some(nonce) if nonce != request.nonce => Err(Error::WrongRequest {
            reason: "it answers another request (a replayed or mixed-up response)",
        }),
        Some(_) => Ok(license),
    }
}

/// The checks [`Device::install`] makes of a **license update** (`SPEC.md` §15.8) for the
/// license `installed` on a machine whose device public key is `device_key`, without
/// touching the data folder:
///
/// 1. the update verifies (`SPEC.md` §6) for the installed license's product, at `now`,
///    against the installed license's component hashes and `device_key` (so an update
///    made for another machine is [`Error::WrongMachine`] or [`Error::WrongDevice`]);
/// 2. it is an activation response for the same license (`sub`) echoing the same request
///    nonce as the installed one ([`Error::WrongRequest`] otherwise: a plain license, an
///    update of another license or of another activation of it);
/// 3. it was issued after the installed one ([`Error::StaleUpdate`] otherwise: an older
///    document replayed).
///
/// `installed` is read without verifying its signature (the app verified it when it was
/// installed); the data folder's own memory of issue times ([`Device::install`]) keeps an
/// edited installed file from opening the door to an older update.
///
/// # Errors
/// As [`TrustStore::verify`], then [`Error::WrongRequest`], [`Error::StaleUpdate`];
/// [`Error::Malformed`] when `installed` cannot be read or is not bound to a machine.
pub fn check_update(
    trust: &TrustStore,
    update: &[u8],
    installed: &[u8],
    device_key: &[u8; 32],
    now: UnixTime,
) -> Result<License, Error> {
    let raw = armor::dearmor(installed)?;
    let current = LicenseClaims::read_unverified(&raw)?;
    let Some(binding) = current.machine.as_ref() else {
        return Err(Error::WrongRequest {
            reason: "the installed license is not bound to this machine, so nothing can renew it",
        });
    };
    let machine =
        Machine::from_component_hashes(binding.components.clone()).with_device_key(device_key);
    let license = trust.verify(
        update,
        now,
        &Expected::product(&current.product).machine(&machine),
    )?;
    let claims = license.claims();
    match claims.request_nonce {
        None => Err(Error::WrongRequest {
            reason: "it is a plain license, not a license update for this machine",
        }),
        Some(_) if claims.license_id != current.license_id => Err(Error::WrongRequest {
            reason: "it updates another license than the one installed",
        }),
        Some(n) if Some(n) != current.request_nonce => Err(Error::WrongRequest {
            reason: "it updates another activation of this license (its request nonce differs)",
        }),
        Some(_) if claims.issued_at <= current.issued_at => Err(Error::StaleUpdate {
            issued_at: claims.issued_at,
            installed_at: current.issued_at,
        }),
        Some(_) => Ok(license),
    }
}
