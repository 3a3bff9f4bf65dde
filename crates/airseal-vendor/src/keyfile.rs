//! A vendor's Ed25519 signing key encrypted at rest with a passphrase (`SPEC.md`, signing key
//! file).
//!
//! The signing key is the one secret a vendor must never lose or leak, and it usually lives
//! on a laptop or in a backup. The file therefore holds the seed only in encrypted form:
//! Argon2id (RFC 9106) turns the passphrase and a random salt into a 32-byte key, and
//! XChaCha20-Poly1305 encrypts the 32-byte Ed25519 seed under a random 24-byte nonce.
//!
//! ```text
//! offset  size  field
//!      0    14  magic "airseal-sk-v1\0"
//!     14     1  kdf id (1 = Argon2id, version 0x13)
//!     15     4  m_cost in KiB (u32, big-endian)
//!     19     4  t_cost (u32, big-endian)
//!     23     4  parallelism (u32, big-endian)
//!     27    16  salt
//!     43    24  nonce
//!     67     8  key id of the public key
//!     75    48  ciphertext of the seed (32) + Poly1305 tag (16)
//! ```
//!
//! Every parameter is in the file, so the cost can be raised later without a format change.
//! The AEAD's associated data is the whole header (bytes 0..75): lowering the Argon2 cost,
//! swapping the salt or relabelling the key id makes decryption fail rather than quietly
//! weakening the file or misnaming the key. The text form is the binary form in
//! `AIRSEAL SIGNING KEY` armor after one `#` comment line naming the key id.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use airseal_core::KeyId;
use airseal_core::armor::{armor, dearmor};
use airseal_verify::app::fs::{self as durable, Access, Mode, WriteError};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use chacha20poly1305::{AeadInOut as _, Key, KeyInit as _, Tag, XChaCha20Poly1305, XNonce};
use ed25519_dalek::SigningKey;
use rand::TryRng as _;
use rand::rngs::SysRng;
use zeroize::Zeroizing;

/// Armor label of the text form.
pub const ARMOR_LABEL: &str = "AIRSEAL SIGNING KEY";

/// The magic bytes that open the binary form; the version is part of the magic.
const MAGIC: &[u8; 14] = b"airseal-sk-v1\0";
/// The magic without its version, to tell "a newer key file" from "not a key file".
const MAGIC_PREFIX: &[u8] = b"airseal-sk-v";
/// KDF id of Argon2id version 0x13, the only KDF defined.
const KDF_ARGON2ID_V13: u8 = 1;

const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 24;
const KID_LEN: usize = 8;
const SEED_LEN: usize = 32;
const TAG_LEN: usize = 16;
/// Length of the header, which is also the AEAD's associated data.
const HEADER_LEN: usize = MAGIC.len() + 1 + 3 * 4 + SALT_LEN + NONCE_LEN + KID_LEN;
/// Length of the whole binary form; any other length is refused.
const FILE_LEN: usize = HEADER_LEN + SEED_LEN + TAG_LEN;

/// Largest Argon2 memory cost we agree to run: 4 GiB, expressed in KiB.
///
/// The parameters come from the file, so without a ceiling a hostile or corrupted file could
/// make us allocate terabytes before the AEAD had a chance to reject it.
pub const MAX_M_COST_KIB: u32 = 4 * 1024 * 1024;
/// Largest Argon2 pass count we agree to run (bounds the time a hostile file can cost).
pub const MAX_T_COST: u32 = 100;
/// Largest Argon2 lane count we agree to run.
pub const MAX_PARALLELISM: u32 = 64;

/// Argon2id cost parameters, stored in the key file so they can change between files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KdfParams {
    /// Memory in KiB; this is what makes each guess expensive on GPUs and ASICs.
    pub m_cost_kib: u32,
    /// Number of passes over the memory.
    pub t_cost: u32,
    /// Number of lanes (degree of parallelism).
    pub parallelism: u32,
}

impl KdfParams {
    /// What new key files use: 64 MiB, 3 passes, 1 lane.
    ///
    /// RFC 9106 §4 recommends, as its second option for memory-constrained settings,
    /// Argon2id with t=3 and 64 MiB. It pairs that with p=4, but our Argon2 is built without
    /// threads, so extra lanes would run one after the other and make unlocking no faster for
    /// us; p=1 keeps the cost one core's work, which any other implementation reading the
    /// file can match. Unlocking takes a fraction of a second in a release build, which is
    /// nothing for a command run a few times a day and a lot for an offline guesser.
    pub const DEFAULT: Self = Self {
        m_cost_kib: 64 * 1024,
        t_cost: 3,
        parallelism: 1,
    };

    /// **Insecure**: 256 KiB, 1 pass, 1 lane. Only for tests, where the default cost would
    /// make every unoptimised test run take seconds. Never use it for a real key.
    pub const FOR_TESTS: Self = Self {
        m_cost_kib: 256,
        t_cost: 1,
        parallelism: 1,
    };

    /// Checks the parameters against our ceilings and Argon2's own floors.
    ///
    /// Runs before any allocation, on both the write and the read side, so we never write a
    /// file we would refuse to read and never let a file pick our memory use.
    fn check(self) -> Result<(), KeyFileError> {
        let Self {
            m_cost_kib,
            t_cost,
            parallelism,
        } = self;
        let lanes_ok = (1..=MAX_PARALLELISM).contains(&parallelism);
        // Argon2 needs at least 8 KiB per lane (RFC 9106 §3.1).
        let memory_ok = lanes_ok && (8 * parallelism..=MAX_M_COST_KIB).contains(&m_cost_kib);
        let time_ok = (1..=MAX_T_COST).contains(&t_cost);
        if lanes_ok && memory_ok && time_ok {
            Ok(())
        } else {
            Err(KeyFileError::UnreasonableKdfParams {
                m_cost_kib,
                t_cost,
                parallelism,
            })
        }
    }
}

impl Default for KdfParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Why a signing key file could not be read, written or unlocked.
///
/// No variant ever holds the passphrase, the derived key or the seed.
#[non_exhaustive]
#[derive(Debug)]
pub enum KeyFileError {
    /// The text has no readable `-----BEGIN AIRSEAL …-----` block (missing, or its base64
    /// is damaged).
    Armor(airseal_core::DecodeError),
    /// The armored bytes do not start with the key file magic: this is some other airseal
    /// object (a license, say) or not an airseal file at all.
    NotAKeyFile,
    /// A signing key file of a format version this build does not know.
    UnsupportedVersion,
    /// The header names a key derivation function this build does not know.
    UnsupportedKdf {
        /// The KDF id byte found.
        id: u8,
    },
    /// The binary form is shorter than a key file.
    Truncated {
        /// Bytes found.
        len: usize,
        /// Bytes a key file has.
        expected: usize,
    },
    /// The binary form is longer than a key file; extra bytes are refused rather than
    /// ignored so that two different files never unlock to the same key.
    TrailingBytes {
        /// Bytes found.
        len: usize,
        /// Bytes a key file has.
        expected: usize,
    },
    /// The Argon2 parameters are outside what we agree to run (see [`MAX_M_COST_KIB`],
    /// [`MAX_T_COST`], [`MAX_PARALLELISM`]). Checked before any work is done.
    UnreasonableKdfParams {
        /// Memory cost found, in KiB.
        m_cost_kib: u32,
        /// Pass count found.
        t_cost: u32,
        /// Lane count found.
        parallelism: u32,
    },
    /// Not enough memory for the Argon2 work area.
    OutOfMemory {
        /// Memory cost asked for, in KiB.
        m_cost_kib: u32,
    },
    /// Authentication failed: the passphrase is wrong, or the file was modified (the two
    /// cannot be told apart, by design of the AEAD).
    WrongPassphrase,
    /// The file decrypted, but the key inside is not the key named in the header. Only a
    /// faulty writer, or someone who knew the passphrase, can produce such a file.
    KeyIdMismatch {
        /// Key id written in the header.
        header: KeyId,
        /// Key id of the decrypted key.
        actual: KeyId,
    },
    /// An empty passphrase was given; it would protect nothing, so we neither write nor
    /// try one.
    EmptyPassphrase,
    /// The operating system's random number generator failed.
    Rng(io::Error),
    /// A cryptographic primitive reported an error that validated inputs cannot cause.
    /// Seeing this is a bug in airseal.
    Internal {
        /// What failed.
        what: &'static str,
    },
    /// The passphrase for a new key is shorter or more repetitive than
    /// [`check_passphrase_strength`] accepts.
    WeakPassphrase {
        /// Characters in the passphrase.
        chars: usize,
        /// Distinct characters in it.
        distinct: usize,
    },
    /// The signing key file can be read by its group or by everyone: refused before it is
    /// used, since whoever can read it can try passphrases offline.
    LoosePermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits (e.g. `0o644`).
        mode: u32,
    },
    /// The output file exists and overwriting was not asked for.
    AlreadyExists {
        /// The existing file.
        path: PathBuf,
    },
    /// Reading or writing a file failed.
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The data-key MAC key kept beside an issuing key ([`wrap_data_mac_key`]) does not
    /// open with that issuing key: it belongs to another key, or was modified.
    DataMacKey {
        /// What is wrong.
        why: &'static str,
    },
}

impl fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyFileError::DataMacKey { why } => {
                write!(f, "the data-key MAC key file is unusable: {why}")
            }
            Self::Armor(e) => write!(f, "not a readable airseal signing key: {e}"),
            Self::NotAKeyFile => {
                f.write_str("not an airseal signing key file (the armored data is something else)")
            }
            Self::UnsupportedVersion => f.write_str(
                "this signing key file uses a newer format version; upgrade airseal to read it",
            ),
            Self::UnsupportedKdf { id } => {
                write!(
                    f,
                    "signing key file uses an unknown key derivation function (id {id})"
                )
            }
            Self::Truncated { len, expected } => {
                write!(
                    f,
                    "signing key file is truncated ({len} bytes, expected {expected})"
                )
            }
            Self::TrailingBytes { len, expected } => write!(
                f,
                "signing key file has trailing bytes ({len} bytes, expected {expected})"
            ),
            Self::UnreasonableKdfParams {
                m_cost_kib,
                t_cost,
                parallelism,
            } => write!(
                f,
                "signing key file asks for unreasonable Argon2id parameters \
                 (memory {m_cost_kib} KiB, {t_cost} passes, {parallelism} lanes); \
                 the limits are {MAX_M_COST_KIB} KiB of memory (at least 8 KiB per lane), \
                 1 to {MAX_T_COST} passes and 1 to {MAX_PARALLELISM} lanes"
            ),
            Self::OutOfMemory { m_cost_kib } => write!(
                f,
                "not enough memory for the key derivation ({} MiB needed)",
                m_cost_kib.div_ceil(1024)
            ),
            Self::WrongPassphrase => f.write_str(
                "cannot decrypt the signing key: wrong passphrase or the file was modified",
            ),
            Self::KeyIdMismatch { header, actual } => write!(
                f,
                "signing key file names key id {header} but holds the key with id {actual}"
            ),
            Self::EmptyPassphrase => f.write_str("the passphrase is empty"),
            Self::Rng(e) => write!(f, "the system random number generator failed: {e}"),
            Self::Internal { what } => write!(f, "internal error (a bug in airseal): {what}"),
            Self::WeakPassphrase { chars, distinct } => write!(
                f,
                "the passphrase is too weak ({chars} characters, {distinct} distinct): a new \
                 signing key needs at least {MIN_PASSPHRASE_CHARS} characters, at least \
                 {MIN_PASSPHRASE_DISTINCT} of them different"
            ),
            Self::LoosePermissions { path, mode } => write!(
                f,
                "{} has mode {mode:04o}: a signing key file must be readable by its owner only \
                 (0600)",
                path.display()
            ),
            Self::AlreadyExists { path } => write!(f, "{} already exists", path.display()),
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for KeyFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Armor(e) => Some(e),
            Self::Rng(e) | Self::Io { source: e, .. } => Some(e),
            _ => None,
        }
    }
}

/// The parsed header of a key file: everything but the ciphertext.
struct Header {
    params: KdfParams,
    salt: [u8; SALT_LEN],
    nonce: [u8; NONCE_LEN],
    key_id: KeyId,
}

impl Header {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FILE_LEN);
        out.extend_from_slice(MAGIC);
        out.push(KDF_ARGON2ID_V13);
        out.extend_from_slice(&self.params.m_cost_kib.to_be_bytes());
        out.extend_from_slice(&self.params.t_cost.to_be_bytes());
        out.extend_from_slice(&self.params.parallelism.to_be_bytes());
        out.extend_from_slice(&self.salt);
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.key_id.0);
        out
    }
}

/// Takes the next `N` bytes; the caller has already checked the total length.
fn take<'a, const N: usize>(rest: &mut &'a [u8]) -> Result<&'a [u8; N], KeyFileError> {
    let (head, tail) = rest
        .split_first_chunk::<N>()
        .ok_or(KeyFileError::Internal {
            what: "key file parser overran its input",
        })?;
    *rest = tail;
    Ok(head)
}

/// Splits the binary form into header fields, the raw header bytes (the associated data)
/// and the ciphertext with its tag. Checks structure only, not the KDF parameters.
fn parse(bytes: &[u8]) -> Result<(Header, &[u8], &[u8; SEED_LEN + TAG_LEN]), KeyFileError> {
    let truncated = KeyFileError::Truncated {
        len: bytes.len(),
        expected: FILE_LEN,
    };
    // Magic first, so a short or foreign input says what it is rather than "truncated".
    let prefix_len = bytes.len().min(MAGIC_PREFIX.len());
    if bytes.get(..prefix_len) != MAGIC_PREFIX.get(..prefix_len) {
        return Err(KeyFileError::NotAKeyFile);
    }
    if bytes.len() < MAGIC.len() {
        return Err(truncated);
    }
    if !bytes.starts_with(MAGIC) {
        return Err(KeyFileError::UnsupportedVersion);
    }
    if bytes.len() < FILE_LEN {
        return Err(truncated);
    }
    if bytes.len() > FILE_LEN {
        return Err(KeyFileError::TrailingBytes {
            len: bytes.len(),
            expected: FILE_LEN,
        });
    }
    let (header_bytes, _) = bytes.split_at(HEADER_LEN);
    let mut rest = bytes;
    take::<{ MAGIC.len() }>(&mut rest)?;
    let [kdf_id] = *take::<1>(&mut rest)?;
    if kdf_id != KDF_ARGON2ID_V13 {
        return Err(KeyFileError::UnsupportedKdf { id: kdf_id });
    }
    let params = KdfParams {
        m_cost_kib: u32::from_be_bytes(*take(&mut rest)?),
        t_cost: u32::from_be_bytes(*take(&mut rest)?),
        parallelism: u32::from_be_bytes(*take(&mut rest)?),
    };
    let salt = *take::<SALT_LEN>(&mut rest)?;
    let nonce = *take::<NONCE_LEN>(&mut rest)?;
    let key_id = KeyId(*take::<KID_LEN>(&mut rest)?);
    let sealed = take::<{ SEED_LEN + TAG_LEN }>(&mut rest)?;
    Ok((
        Header {
            params,
            salt,
            nonce,
            key_id,
        },
        header_bytes,
        sealed,
    ))
}

/// Fills `N` bytes from the operating system's RNG.
fn os_random<const N: usize>() -> Result<[u8; N], KeyFileError> {
    let mut out = [0u8; N];
    SysRng
        .try_fill_bytes(&mut out)
        .map_err(|e| KeyFileError::Rng(io::Error::other(e)))?;
    Ok(out)
}

/// Argon2id(passphrase, salt) → 32-byte AEAD key. `params` must already be checked.
fn derive_key(
    passphrase: &[u8],
    salt: &[u8; SALT_LEN],
    params: KdfParams,
) -> Result<Zeroizing<[u8; 32]>, KeyFileError> {
    let internal = |_| KeyFileError::Internal {
        what: "Argon2 refused checked parameters",
    };
    let argon_params = Params::new(
        params.m_cost_kib,
        params.t_cost,
        params.parallelism,
        Some(32),
    )
    .map_err(internal)?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params);
    // We allocate the work area ourselves so it is wiped afterwards: its last blocks
    // determine the derived key. `try_reserve_exact` turns an allocation failure into an
    // error instead of an abort.
    let block_count = argon.params().block_count();
    let mut blocks: Zeroizing<Vec<Block>> = Zeroizing::new(Vec::new());
    blocks
        .try_reserve_exact(block_count)
        .map_err(|_| KeyFileError::OutOfMemory {
            m_cost_kib: params.m_cost_kib,
        })?;
    blocks.resize(block_count, Block::new());
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into_with_memory(passphrase, salt, &mut key[..], blocks.as_mut_slice())
        .map_err(internal)?;
    Ok(key)
}

/// Generates a new Ed25519 signing key from the operating system's RNG.
///
/// The seed comes straight from the OS (`getrandom`), not from a user-space generator, since
/// this key is long-lived and everything the vendor issues rests on it.
///
/// # Panics
/// If the operating system cannot supply random bytes. That only happens on a broken or
/// unsupported system, where continuing could mean a predictable key.
#[must_use]
pub fn generate_signing_key() -> SigningKey {
    SigningKey::generate(&mut rand::rand_core::UnwrapErr(SysRng))
}

/// Encrypts `key` under `passphrase` and returns the text form of the key file.
///
/// A fresh random salt and nonce are drawn from the OS for every call, so encrypting the
/// same key twice gives unrelated files.
///
/// # Errors
/// [`KeyFileError::EmptyPassphrase`], [`KeyFileError::UnreasonableKdfParams`] (we never
/// write a file we would refuse to read), [`KeyFileError::OutOfMemory`],
/// [`KeyFileError::Rng`].
pub fn encrypt_signing_key(
    key: &SigningKey,
    passphrase: &[u8],
    params: KdfParams,
) -> Result<String, KeyFileError> {
    if passphrase.is_empty() {
        return Err(KeyFileError::EmptyPassphrase);
    }
    params.check()?;
    let header = Header {
        params,
        salt: os_random()?,
        nonce: os_random()?,
        key_id: KeyId::of_public_key(&key.verifying_key().to_bytes()),
    };
    let mut bytes = header.encode();
    let aead_key = derive_key(passphrase, &header.salt, params)?;
    let cipher = XChaCha20Poly1305::new(<&Key>::from(&*aead_key));
    let mut buf = Zeroizing::new(key.to_bytes());
    let tag = cipher
        .encrypt_inout_detached(&XNonce::from(header.nonce), &bytes, (&mut buf[..]).into())
        .map_err(|_| KeyFileError::Internal {
            what: "XChaCha20-Poly1305 refused a 32-byte seed",
        })?;
    // `buf` now holds ciphertext, which is safe to copy.
    bytes.extend_from_slice(&buf[..]);
    bytes.extend_from_slice(&tag);
    Ok(format!(
        "# airseal signing key (encrypted with a passphrase). Key id: {}. Keep this file private.\n{}",
        header.key_id,
        armor(ARMOR_LABEL, &bytes)
    ))
}

/// Decrypts a key file (text form; text around the armor block is ignored).
///
/// The order of checks keeps a hostile file cheap: structure, then the KDF parameters
/// against our ceilings, and only then Argon2 and the AEAD.
///
/// # Errors
/// [`KeyFileError::Armor`], [`KeyFileError::NotAKeyFile`], [`KeyFileError::UnsupportedVersion`],
/// [`KeyFileError::UnsupportedKdf`], [`KeyFileError::Truncated`],
/// [`KeyFileError::TrailingBytes`] for a malformed file;
/// [`KeyFileError::UnreasonableKdfParams`] before any work for a hostile one;
/// [`KeyFileError::EmptyPassphrase`]; [`KeyFileError::WrongPassphrase`] when authentication
/// fails; [`KeyFileError::KeyIdMismatch`] when the key inside is not the one the header names.
pub fn decrypt_signing_key(text: &[u8], passphrase: &[u8]) -> Result<SigningKey, KeyFileError> {
    let bytes = dearmor(text).map_err(KeyFileError::Armor)?;
    let (header, header_bytes, sealed) = parse(&bytes)?;
    header.params.check()?;
    if passphrase.is_empty() {
        return Err(KeyFileError::EmptyPassphrase);
    }
    let aead_key = derive_key(passphrase, &header.salt, header.params)?;
    let cipher = XChaCha20Poly1305::new(<&Key>::from(&*aead_key));
    let (ciphertext, tag) = sealed.split_at(SEED_LEN);
    let tag = <&Tag>::try_from(tag).map_err(|_| KeyFileError::Internal {
        what: "Poly1305 tag is not 16 bytes",
    })?;
    let mut seed = Zeroizing::new([0u8; SEED_LEN]);
    seed.copy_from_slice(ciphertext);
    cipher
        .decrypt_inout_detached(
            &XNonce::from(header.nonce),
            header_bytes,
            (&mut seed[..]).into(),
            tag,
        )
        .map_err(|_| KeyFileError::WrongPassphrase)?;
    let key = SigningKey::from_bytes(&seed);
    let actual = KeyId::of_public_key(&key.verifying_key().to_bytes());
    if actual != header.key_id {
        return Err(KeyFileError::KeyIdMismatch {
            header: header.key_id,
            actual,
        });
    }
    Ok(key)
}

/// Reads the key id from a key file's header without the passphrase, so tools can say
/// which key a file holds (and match it to a public key) before asking for anything.
///
/// The id is authenticated only once the file is decrypted; until then it is a label.
///
/// # Errors
/// The structural errors of [`decrypt_signing_key`].
pub fn key_id_of_file(text: &[u8]) -> Result<KeyId, KeyFileError> {
    let bytes = dearmor(text).map_err(KeyFileError::Armor)?;
    let (header, _, _) = parse(&bytes)?;
    Ok(header.key_id)
}

/// Armor label of the root's data-key MAC key kept beside an issuing key.
pub const DATA_MAC_ARMOR_LABEL: &str = "AIRSEAL DATA KEY MAC KEY";
/// Magic of [`wrap_data_mac_key`]'s binary form.
const DATA_MAC_MAGIC: &[u8; 16] = b"airseal-dmac-v1\0";
/// magic, issuing key id, nonce, sealed MAC key, tag.
const DATA_MAC_LEN: usize = DATA_MAC_MAGIC.len() + KID_LEN + NONCE_LEN + 32 + TAG_LEN;

/// The key that seals the data-key MAC key: SHA-256("airseal-data-mac-wrap-v1" || issuing
/// seed). Whoever unlocks the issuing key can open it, and nobody else.
fn data_mac_wrapping_key(issuing: &SigningKey) -> Zeroizing<[u8; 32]> {
    use sha2::Digest as _;
    let seed = Zeroizing::new(issuing.to_bytes());
    let out = sha2::Sha256::new()
        .chain_update(b"airseal-data-mac-wrap-v1")
        .chain_update(&seed[..])
        .finalize();
    Zeroizing::new(out.into())
}

/// Seals the root's data-key MAC key (`SPEC.md` §18.8) under a key derived from the issuing
/// key `issuing`, so a server that holds the issuing key can check data keys at activation
/// without the root: text form (armored), the issuing key's id bound as associated data.
///
/// # Errors
/// [`KeyFileError::Rng`], [`KeyFileError::Internal`].
pub fn wrap_data_mac_key(issuing: &SigningKey, mac_key: &[u8; 32]) -> Result<String, KeyFileError> {
    let kid = KeyId::of_public_key(&issuing.verifying_key().to_bytes());
    let nonce: [u8; NONCE_LEN] = os_random()?;
    let mut head = DATA_MAC_MAGIC.to_vec();
    head.extend_from_slice(&kid.0);
    head.extend_from_slice(&nonce);
    let key = data_mac_wrapping_key(issuing);
    let cipher = XChaCha20Poly1305::new(<&Key>::from(&*key));
    let mut buf = Zeroizing::new(*mac_key);
    let tag = cipher
        .encrypt_inout_detached(&XNonce::from(nonce), &head, (&mut buf[..]).into())
        .map_err(|_| KeyFileError::Internal {
            what: "XChaCha20-Poly1305 refused a 32-byte key",
        })?;
    let mut bytes = head;
    bytes.extend_from_slice(&buf[..]);
    bytes.extend_from_slice(&tag);
    Ok(format!(
        "# airseal data-key MAC key, sealed under issuing key {kid}. Keep this file private.\n{}",
        armor(DATA_MAC_ARMOR_LABEL, &bytes)
    ))
}

/// Opens what [`wrap_data_mac_key`] sealed, with the same issuing key.
///
/// # Errors
/// [`KeyFileError::Armor`], [`KeyFileError::DataMacKey`].
pub fn unwrap_data_mac_key(issuing: &SigningKey, text: &[u8]) -> Result<[u8; 32], KeyFileError> {
    let bytes = dearmor(text).map_err(KeyFileError::Armor)?;
    if bytes.len() != DATA_MAC_LEN || !bytes.starts_with(DATA_MAC_MAGIC) {
        return Err(KeyFileError::DataMacKey {
            why: "not a sealed data-key MAC key",
        });
    }
    let (head, sealed) = bytes.split_at(DATA_MAC_MAGIC.len() + KID_LEN + NONCE_LEN);
    let kid = KeyId::of_public_key(&issuing.verifying_key().to_bytes());
    if head.get(DATA_MAC_MAGIC.len()..DATA_MAC_MAGIC.len() + KID_LEN) != Some(&kid.0[..]) {
        return Err(KeyFileError::DataMacKey {
            why: "it was sealed for another issuing key",
        });
    }
    let nonce: [u8; NONCE_LEN] = head
        .get(DATA_MAC_MAGIC.len() + KID_LEN..)
        .and_then(|n| n.try_into().ok())
        .ok_or(KeyFileError::Internal {
            what: "a sealed MAC key's nonce is not 24 bytes",
        })?;
    let (ciphertext, tag) = sealed.split_at(32);
    let tag = <&Tag>::try_from(tag).map_err(|_| KeyFileError::Internal {
        what: "Poly1305 tag is not 16 bytes",
    })?;
    let key = data_mac_wrapping_key(issuing);
    let cipher = XChaCha20Poly1305::new(<&Key>::from(&*key));
    let mut out: [u8; 32] = ciphertext.try_into().map_err(|_| KeyFileError::Internal {
        what: "a sealed MAC key is not 32 bytes",
    })?;
    cipher
        .decrypt_inout_detached(&XNonce::from(nonce), head, (&mut out[..]).into(), tag)
        .map_err(|_| KeyFileError::DataMacKey {
            why: "it does not authenticate (modified)",
        })?;
    Ok(out)
}

/// Fewest characters (Unicode scalar values) in the passphrase of a new signing key.
pub const MIN_PASSPHRASE_CHARS: usize = 12;
/// Fewest distinct characters in it (refuses `aaaaaaaaaaaa`, `121212121212`).
pub const MIN_PASSPHRASE_DISTINCT: usize = 6;

/// The minimum strength of a new signing key's passphrase: at least
/// [`MIN_PASSPHRASE_CHARS`] characters, at least [`MIN_PASSPHRASE_DISTINCT`] of them
/// different (`SPEC.md` §8).
///
/// A length rule, as NIST SP 800-63B §5.1.1.2 advises rather than composition rules: every
/// guess costs an attacker one Argon2id derivation (64 MiB, about 0.1–0.2 s a core), so a
/// passphrase of a few words is out of reach, and a one-letter one is not. An estimator such
/// as zxcvbn would also catch `passwordpassword`, but brings a regex engine and megabytes of
/// word lists into the crate that holds the signing key; the vendor who wants less can say
/// so explicitly (the CLI's weak-passphrase option skips this check).
///
/// # Errors
/// [`KeyFileError::EmptyPassphrase`] or [`KeyFileError::WeakPassphrase`].
pub fn check_passphrase_strength(passphrase: &str) -> Result<(), KeyFileError> {
    if passphrase.is_empty() {
        return Err(KeyFileError::EmptyPassphrase);
    }
    let chars = passphrase.chars().count();
    let distinct = passphrase
        .chars()
        .collect::<std::collections::BTreeSet<char>>()
        .len();
    if chars < MIN_PASSPHRASE_CHARS || distinct < MIN_PASSPHRASE_DISTINCT {
        return Err(KeyFileError::WeakPassphrase { chars, distinct });
    }
    Ok(())
}

/// Reads a signing key file for use, refusing one that its group or everyone may read
/// (on Unix; [`KeyFileError::LoosePermissions`] names the file and its mode). Whoever can
/// read the file can try passphrases offline, so a leak is refused before it is used.
///
/// # Errors
/// [`KeyFileError::LoosePermissions`], or [`KeyFileError::Io`] when it cannot be read.
pub fn read_signing_key_file(path: &Path) -> Result<Vec<u8>, KeyFileError> {
    let io = |source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = file.metadata().map_err(io)?.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::LoosePermissions {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    let mut text = Vec::new();
    // A key file is a few hundred bytes; anything past 64 KiB is not one.
    io::Read::read_to_end(&mut io::Read::take(file, 64 * 1024), &mut text).map_err(io)?;
    Ok(text)
}

/// Writes a file that only its owner may read (mode 0600 on Unix): signing keys.
///
/// Written through [`airseal_verify::app::fs`]: without `force`, an existing file (or symlink) is
/// never touched; with `force` it is replaced in one rename. Either way the new contents go
/// to a temporary 0600 file in the same folder first, so a crash leaves either the old file
/// (or none) or the whole new one, and the old file's permissions never apply to the new key.
///
/// # Errors
/// [`KeyFileError::AlreadyExists`] without `force`; [`KeyFileError::Io`].
pub fn write_secret_file(path: &Path, contents: &[u8], force: bool) -> Result<(), KeyFileError> {
    write_file(path, contents, force, Access::OwnerOnly)
}

/// Writes a file anyone may read (mode 0644 on Unix, less any umask): public keys.
///
/// Follows the same no-overwrite rule as [`write_secret_file`].
///
/// # Errors
/// As [`write_secret_file`].
pub fn write_public_file(path: &Path, contents: &[u8], force: bool) -> Result<(), KeyFileError> {
    write_file(path, contents, force, Access::Default)
}

fn write_file(
    path: &Path,
    contents: &[u8],
    force: bool,
    access: Access,
) -> Result<(), KeyFileError> {
    durable::write(path, contents, access, Mode::replace_if(force)).map_err(|e| match e {
        WriteError::AlreadyExists { path } => KeyFileError::AlreadyExists { path },
        other => KeyFileError::Io {
            path: other.path().to_path_buf(),
            source: other.into(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::fs;

    const PASS: &[u8] = b"correct horse battery staple";

    fn fixed_key() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    fn body_of(text: &str) -> Vec<u8> {
        dearmor(text.as_bytes()).unwrap().into_owned()
    }

    fn rearmor(bytes: &[u8]) -> String {
        armor(ARMOR_LABEL, bytes)
    }

    /// A structurally valid file with chosen parameters (its tag is junk, which is fine for
    /// tests that must fail before the AEAD).
    fn file_with_params(params: KdfParams) -> Vec<u8> {
        let header = Header {
            params,
            salt: [1; 16],
            nonce: [2; 24],
            key_id: KeyId([3; 8]),
        };
        let mut bytes = header.encode();
        bytes.extend_from_slice(&[0u8; SEED_LEN + TAG_LEN]);
        bytes
    }

    #[test]
    fn round_trip() {
        let key = generate_signing_key();
        let text = encrypt_signing_key(&key, PASS, KdfParams::FOR_TESTS).unwrap();
        let back = decrypt_signing_key(text.as_bytes(), PASS).unwrap();
        assert_eq!(back.to_bytes(), key.to_bytes());
        assert_eq!(body_of(&text).len(), FILE_LEN);
    }

    #[test]
    fn text_form_names_the_key_and_tolerates_surroundings() {
        let key = fixed_key();
        let kid = KeyId::of_public_key(&key.verifying_key().to_bytes());
        let text = encrypt_signing_key(&key, PASS, KdfParams::FOR_TESTS).unwrap();
        let first = text.lines().next().unwrap();
        assert!(first.starts_with("# airseal signing key"));
        assert!(first.contains(&kid.to_string()));
        assert!(text.contains("-----BEGIN AIRSEAL SIGNING KEY-----\n"));
        let crlf = format!("backup of {kid}\r\n{}", text.replace('\n', "\r\n"));
        assert_eq!(
            decrypt_signing_key(crlf.as_bytes(), PASS)
                .unwrap()
                .to_bytes(),
            key.to_bytes()
        );
    }

    #[test]
    fn fresh_salt_and_nonce_each_time() {
        let key = fixed_key();
        let a = body_of(&encrypt_signing_key(&key, PASS, KdfParams::FOR_TESTS).unwrap());
        let b = body_of(&encrypt_signing_key(&key, PASS, KdfParams::FOR_TESTS).unwrap());
        assert_ne!(a[27..67], b[27..67]);
        assert_ne!(a[HEADER_LEN..], b[HEADER_LEN..]);
    }

    #[test]
    fn wrong_passphrase() {
        let text = encrypt_signing_key(&fixed_key(), PASS, KdfParams::FOR_TESTS).unwrap();
        let e = decrypt_signing_key(text.as_bytes(), b"correct horse battery stapler").unwrap_err();
        assert!(matches!(e, KeyFileError::WrongPassphrase), "{e:?}");
        assert!(
            e.to_string()
                .contains("wrong passphrase or the file was modified")
        );
    }

    #[test]
    fn empty_passphrase_refused() {
        let e = encrypt_signing_key(&fixed_key(), b"", KdfParams::FOR_TESTS).unwrap_err();
        assert!(matches!(e, KeyFileError::EmptyPassphrase));
        let text = encrypt_signing_key(&fixed_key(), PASS, KdfParams::FOR_TESTS).unwrap();
        let e = decrypt_signing_key(text.as_bytes(), b"").unwrap_err();
        assert!(matches!(e, KeyFileError::EmptyPassphrase));
    }

    #[test]
    fn every_single_byte_change_is_an_error() {
        let text = encrypt_signing_key(&fixed_key(), PASS, KdfParams::FOR_TESTS).unwrap();
        let body = body_of(&text);
        for i in 0..body.len() {
            // 0x80 keeps every changed memory cost within a few tens of MiB or above the
            // ceiling, so the test stays fast in an unoptimised build.
            let mut damaged = body.clone();
            damaged[i] ^= 0x80;
            let result = decrypt_signing_key(rearmor(&damaged).as_bytes(), PASS);
            let e = result
                .err()
                .unwrap_or_else(|| panic!("byte {i} changed, still decrypted"));
            // After the magic and the KDF id, a change is either refused before any work or
            // fails the AEAD: the header is authenticated.
            let kdf_id_at = MAGIC.len();
            if i > kdf_id_at {
                assert!(
                    matches!(
                        e,
                        KeyFileError::WrongPassphrase | KeyFileError::UnreasonableKdfParams { .. }
                    ),
                    "byte {i}: {e:?}"
                );
            }
        }
    }

    #[test]
    fn key_id_is_authenticated() {
        let text = encrypt_signing_key(&fixed_key(), PASS, KdfParams::FOR_TESTS).unwrap();
        let mut body = body_of(&text);
        body[HEADER_LEN - KID_LEN..HEADER_LEN].copy_from_slice(&[0xaa; 8]);
        let damaged = rearmor(&body);
        assert_eq!(
            key_id_of_file(damaged.as_bytes()).unwrap(),
            KeyId([0xaa; 8])
        );
        let e = decrypt_signing_key(damaged.as_bytes(), PASS).unwrap_err();
        assert!(matches!(e, KeyFileError::WrongPassphrase), "{e:?}");
    }

    #[test]
    fn truncated_and_extended_files() {
        let text = encrypt_signing_key(&fixed_key(), PASS, KdfParams::FOR_TESTS).unwrap();
        let body = body_of(&text);
        for len in [
            0,
            5,
            13,
            14,
            15,
            40,
            HEADER_LEN - 1,
            HEADER_LEN,
            FILE_LEN - 1,
        ] {
            let e = decrypt_signing_key(rearmor(&body[..len]).as_bytes(), PASS).unwrap_err();
            assert!(
                matches!(e, KeyFileError::Truncated { len: l, .. } if l == len),
                "{len}: {e:?}"
            );
            let e = key_id_of_file(rearmor(&body[..len]).as_bytes()).unwrap_err();
            assert!(matches!(e, KeyFileError::Truncated { .. }), "{len}: {e:?}");
        }
        let mut longer = body.clone();
        longer.push(0);
        let e = decrypt_signing_key(rearmor(&longer).as_bytes(), PASS).unwrap_err();
        assert!(matches!(e, KeyFileError::TrailingBytes { .. }), "{e:?}");
        // Truncating the text itself breaks the armor.
        for cut in [0, 10, text.len() / 2, text.len() - 10] {
            assert!(
                decrypt_signing_key(&text.as_bytes()[..cut], PASS).is_err(),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn foreign_and_future_files() {
        let e = decrypt_signing_key(b"# just a comment\n", PASS).unwrap_err();
        assert!(matches!(e, KeyFileError::Armor(_)), "{e:?}");
        let license = armor("AIRSEAL LICENSE", &[0xd2, 0x84, 0x43, 0xa1]);
        let e = decrypt_signing_key(license.as_bytes(), PASS).unwrap_err();
        assert!(matches!(e, KeyFileError::NotAKeyFile), "{e:?}");
        let mut future = file_with_params(KdfParams::FOR_TESTS);
        future[12] = b'2';
        let e = decrypt_signing_key(rearmor(&future).as_bytes(), PASS).unwrap_err();
        assert!(matches!(e, KeyFileError::UnsupportedVersion), "{e:?}");
        let mut other_kdf = file_with_params(KdfParams::FOR_TESTS);
        other_kdf[14] = 2;
        let e = decrypt_signing_key(rearmor(&other_kdf).as_bytes(), PASS).unwrap_err();
        assert!(matches!(e, KeyFileError::UnsupportedKdf { id: 2 }), "{e:?}");
    }

    #[test]
    fn key_id_readable_without_passphrase() {
        let key = generate_signing_key();
        let text = encrypt_signing_key(&key, PASS, KdfParams::FOR_TESTS).unwrap();
        let kid = key_id_of_file(text.as_bytes()).unwrap();
        assert_eq!(kid, KeyId::of_public_key(&key.verifying_key().to_bytes()));
    }

    #[test]
    fn key_id_mismatch_detected() {
        // Only someone holding the passphrase can build this file, so build it by hand.
        let key = fixed_key();
        let params = KdfParams::FOR_TESTS;
        let header = Header {
            params,
            salt: [1; 16],
            nonce: [2; 24],
            key_id: KeyId([9; 8]),
        };
        let mut bytes = header.encode();
        let aead_key = derive_key(PASS, &header.salt, params).unwrap();
        let cipher = XChaCha20Poly1305::new(<&Key>::from(&*aead_key));
        let mut buf = key.to_bytes();
        let tag = cipher
            .encrypt_inout_detached(&XNonce::from(header.nonce), &bytes, (&mut buf[..]).into())
            .unwrap();
        bytes.extend_from_slice(&buf);
        bytes.extend_from_slice(&tag);
        let e = decrypt_signing_key(rearmor(&bytes).as_bytes(), PASS).unwrap_err();
        assert!(
            matches!(e, KeyFileError::KeyIdMismatch { header, .. } if header == KeyId([9; 8])),
            "{e:?}"
        );
    }

    #[test]
    fn hostile_params_rejected_before_kdf() {
        // Each of these would take terabytes, hours or an invalid lane count; the test
        // finishing at all shows none of them reached Argon2.
        let hostile = [
            KdfParams {
                m_cost_kib: u32::MAX,
                ..KdfParams::FOR_TESTS
            },
            KdfParams {
                m_cost_kib: MAX_M_COST_KIB + 1,
                ..KdfParams::FOR_TESTS
            },
            KdfParams {
                t_cost: u32::MAX,
                ..KdfParams::FOR_TESTS
            },
            KdfParams {
                t_cost: MAX_T_COST + 1,
                ..KdfParams::FOR_TESTS
            },
            KdfParams {
                t_cost: 0,
                ..KdfParams::FOR_TESTS
            },
            KdfParams {
                parallelism: 0,
                ..KdfParams::FOR_TESTS
            },
            KdfParams {
                parallelism: MAX_PARALLELISM + 1,
                ..KdfParams::FOR_TESTS
            },
            KdfParams {
                m_cost_kib: 7,
                ..KdfParams::FOR_TESTS
            },
            KdfParams {
                m_cost_kib: 256,
                t_cost: 1,
                parallelism: 64,
            },
        ];
        for params in hostile {
            let text = rearmor(&file_with_params(params));
            let e = decrypt_signing_key(text.as_bytes(), PASS).unwrap_err();
            assert!(
                matches!(e, KeyFileError::UnreasonableKdfParams { .. }),
                "{params:?}: {e:?}"
            );
            let e = encrypt_signing_key(&fixed_key(), PASS, params).unwrap_err();
            assert!(
                matches!(e, KeyFileError::UnreasonableKdfParams { .. }),
                "{params:?}: {e:?}"
            );
        }
        assert!(KdfParams::DEFAULT.check().is_ok());
        assert!(
            KdfParams {
                m_cost_kib: MAX_M_COST_KIB,
                t_cost: 100,
                parallelism: 64
            }
            .check()
            .is_ok()
        );
    }

    #[test]
    fn errors_never_show_secrets() {
        let text = encrypt_signing_key(&fixed_key(), PASS, KdfParams::FOR_TESTS).unwrap();
        let e = decrypt_signing_key(text.as_bytes(), b"hunter2-secret").unwrap_err();
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("hunter2"));
        assert!(!shown.contains(&format!("{:?}", fixed_key().to_bytes())));
    }

    #[cfg(unix)]
    fn mode_of(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn passphrase_minimum() {
        for weak in [
            "",
            "a",
            "short pass",
            "aaaaaaaaaaaaaaaa",
            "ababababababab",
            "12121212123434",
        ] {
            assert!(check_passphrase_strength(weak).is_err(), "{weak:?}");
        }
        for strong in [
            "test passphrase",
            "correct horse battery staple",
            "ünïcödé-wörds",
        ] {
            assert!(check_passphrase_strength(strong).is_ok(), "{strong:?}");
        }
        // Counted in characters, not bytes: six two-byte letters are six characters.
        assert!(matches!(
            check_passphrase_strength("éèêëàâ"),
            Err(KeyFileError::WeakPassphrase {
                chars: 6,
                distinct: 6
            })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signing.key");
        write_secret_file(&path, b"key text", false).unwrap();
        assert_eq!(read_signing_key_file(&path).unwrap(), b"key text");
        for loose in [0o640, 0o604, 0o660, 0o644] {
            fs::set_permissions(&path, fs::Permissions::from_mode(loose)).unwrap();
            match read_signing_key_file(&path) {
                Err(KeyFileError::LoosePermissions { mode, .. }) => assert_eq!(mode, loose),
                other => panic!("{loose:o}: {other:?}"),
            }
        }
    }

    #[cfg(unix)]
    #[test]
    fn secret_file_is_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vendor.key");
        write_secret_file(&path, b"one", false).unwrap();
        assert_eq!(mode_of(&path), 0o600);
        // Replacing a looser file must not inherit its mode.
        let loose = dir.path().join("loose.key");
        fs::write(&loose, b"old").unwrap();
        fs::set_permissions(&loose, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
        write_secret_file(&loose, b"new", true).unwrap();
        assert_eq!(mode_of(&loose), 0o600);
        assert_eq!(fs::read(&loose).unwrap(), b"new");
    }

    #[test]
    fn no_overwrite_without_force() {
        let dir = tempfile::tempdir().unwrap();
        for write in [write_secret_file, write_public_file] {
            let path = dir.path().join("file");
            let _ = fs::remove_file(&path);
            write(&path, b"first", false).unwrap();
            let e = write(&path, b"second", false).unwrap_err();
            assert!(
                matches!(&e, KeyFileError::AlreadyExists { path: p } if *p == path),
                "{e:?}"
            );
            assert!(e.to_string().contains("already exists"), "{e}");
            assert_eq!(fs::read(&path).unwrap(), b"first");
            write(&path, b"third", true).unwrap();
            assert_eq!(fs::read(&path).unwrap(), b"third");
            // Only the target is left: no temporary files.
            assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        }
    }

    #[cfg(unix)]
    #[test]
    fn public_file_is_world_readable_and_symlinks_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vendor.pub");
        write_public_file(&path, b"pk", false).unwrap();
        assert_eq!(mode_of(&path) & 0o600, 0o600);
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), &link).unwrap();
        let e = write_secret_file(&link, b"secret", false).unwrap_err();
        assert!(matches!(e, KeyFileError::AlreadyExists { .. }), "{e:?}");
        assert!(!dir.path().join("elsewhere").exists());
    }

    #[test]
    fn missing_folder_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no/such/folder/vendor.key");
        for force in [false, true] {
            let e = write_secret_file(&path, b"x", force).unwrap_err();
            assert!(matches!(e, KeyFileError::Io { .. }), "{e:?}");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = decrypt_signing_key(&bytes, PASS);
            let _ = key_id_of_file(&bytes);
        }

        #[test]
        fn arbitrary_armored_bodies_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let text = rearmor(&bytes);
            prop_assert!(decrypt_signing_key(text.as_bytes(), PASS).is_err());
            let _ = key_id_of_file(text.as_bytes());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// Well-formed files with random salt, nonce, key id and ciphertext reach the AEAD
        /// and are refused there.
        #[test]
        fn random_well_formed_files_are_refused(
            tail in proptest::collection::vec(any::<u8>(), FILE_LEN - 27),
        ) {
            let mut bytes = file_with_params(KdfParams::FOR_TESTS);
            bytes[27..].copy_from_slice(&tail);
            let e = decrypt_signing_key(rearmor(&bytes).as_bytes(), PASS).unwrap_err();
            prop_assert!(matches!(e, KeyFileError::WrongPassphrase), "{:?}", e);
        }
    }
}
