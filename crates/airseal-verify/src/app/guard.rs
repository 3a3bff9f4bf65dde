//! The clock guard (`SPEC.md` §14): notices a clock turned back, and remembers the newest
//! revocation list seen, in a small authenticated state file chosen by the app.
//!
//! Every successful check raises a high-water mark to max(now, license issue time). If the
//! clock later reads earlier than the mark by more than the license's allowed clock offset,
//! the check fails with [`Error::ClockRolledBack`], stating both times. The file is written
//! atomically (temporary file, fsync, rename) and authenticated with HMAC-SHA256 under a key
//! derived from a **secret** ([`GuardSecret`]: for an activated app, the one
//! [`Device::guard_secret`](crate::app::device::Device::guard_secret) derives from its device
//! key's seed) and from material the app binds it to (machine fingerprint, license id). So
//! without the secret the file can be neither forged nor replaced by an older copy made
//! under another binding, and a file from another machine does not authenticate.
//!
//! What it cannot stop: deleting the state file (the guard then starts afresh — apps that
//! care can refuse to run when a license they have seen before has no state), restoring a
//! copy of the same file saved earlier on this machine, or a snapshot of the whole machine;
//! a user who can read the secret (the device key file) can forge the file; and a user who
//! controls the app's process and memory. It raises the bar from "change the date" to
//! "find and delete the right file", and says so honestly.

use std::path::{Path, PathBuf};

use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

use airseal_core::UnixTime;
use airseal_core::revocation::RevocationList;

use zeroize::Zeroizing;

use crate::app::fs::Read;
use crate::error::Error;
use crate::license::License;

const MAGIC: &[u8; 16] = b"airseal-clock-v2";
/// The magic of the first layout, whose key had no secret (so anyone could forge it): such
/// a file is refused, never read (`SPEC.md` §14).
const MAGIC_V1: &[u8; 16] = b"airseal-clock-v1";
const STATE_LEN: usize = MAGIC.len() + 8 + 8 + 32;
/// Why a state file that is not one this guard wrote is refused.
const TAMPERED: &str =
    "the clock guard state file was modified, or belongs to another machine, license or secret";

/// The secret part of the clock guard's key: 32 bytes the user cannot read without reading
/// the app's own secrets. An activated app gets it from
/// [`Device::guard_secret`](crate::app::device::Device::guard_secret) (derived from the
/// device key's seed, which never leaves that module); an app without a device key supplies
/// 32 random bytes it keeps as well as it keeps anything. Wiped on drop; `Debug` shows no
/// bytes.
pub struct GuardSecret(Zeroizing<[u8; 32]>);

impl GuardSecret {
    /// A secret from 32 bytes the app keeps secret (for example random bytes stored in the
    /// platform's key store).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The secret's bytes (for the key derivation only).
    fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for GuardSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GuardSecret(..)")
    }
}

/// A clock guard bound to one state file.
pub struct ClockGuard {
    path: PathBuf,
    key: Zeroizing<[u8; 32]>,
    high_water: UnixTime,
    revocations_seq: u64,
}

impl std::fmt::Debug for ClockGuard {
    // The key is derived from the secret: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClockGuard")
            .field("path", &self.path)
            .field("high_water", &self.high_water)
            .field("revocations_seq", &self.revocations_seq)
            .finish_non_exhaustive()
    }
}

impl ClockGuard {
    /// Opens the guard's state at `path` (absent = a fresh guard), authenticated under the
    /// key SHA-256("airseal-clock-guard-v2" ‖ `secret` ‖ `binding`): without the secret the
    /// file cannot be forged, and state made under another binding (the machine's component
    /// hashes and the license id, for example) or another secret does not authenticate.
    ///
    /// # Errors
    /// [`Error::GuardState`] when the file cannot be read, fails authentication, or is in
    /// the first layout (`airseal-clock-v1`, keyed without a secret: refused, because anyone
    /// could have written it; delete it to start afresh).
    pub fn open(path: &Path, binding: &[u8], secret: &GuardSecret) -> Result<Self, Error> {
        let key = Zeroizing::new(
            Sha256::new()
                .chain_update(b"airseal-clock-guard-v2")
                .chain_update(secret.bytes())
                .chain_update(binding)
                .finalize()
                .into(),
        );
        let mut guard = ClockGuard {
            path: path.to_path_buf(),
            key,
            high_water: UnixTime::MIN,
            revocations_seq: 0,
        };
        // The one bounded reader: a huge file at the path is refused, never held in memory.
        let state_len = u64::try_from(STATE_LEN).unwrap_or(u64::MAX);
        match crate::app::fs::read_bounded(path, state_len) {
            Ok(Read::Bytes(bytes)) => guard.load(&bytes)?,
            Ok(Read::Missing) => {}
            Ok(Read::TooLarge) => return Err(Error::GuardState { reason: TAMPERED }),
            Err(_) => {
                return Err(Error::GuardState {
                    reason: "the clock guard state file cannot be read",
                });
            }
        }
        Ok(guard)
    }

    /// HMAC-SHA256 under the guard's key, fed with `body`. HMAC accepts any key length; a
    /// 64-byte block pads the 32-byte key with zeros exactly as RFC 2104 does, so this
    /// constructor cannot fail.
    fn hmac(&self, body: &[u8]) -> hmac::Hmac<Sha256> {
        let mut block = Zeroizing::new([0u8; 64]);
        if let Some(head) = block.get_mut(..32) {
            head.copy_from_slice(self.key.as_slice());
        }
        let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new(&(*block).into());
        mac.update(body);
        mac
    }

    fn load(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let bad = Error::GuardState { reason: TAMPERED };
        if bytes.starts_with(MAGIC_V1) {
            return Err(Error::GuardState {
                reason: "the clock guard state file is in the first layout (airseal-clock-v1, keyed without a secret) and cannot be trusted; delete it to start afresh",
            });
        }
        if bytes.len() != STATE_LEN || !bytes.starts_with(MAGIC) {
            return Err(bad);
        }
        let (body, tag) = bytes.split_at(STATE_LEN - 32);
        // Constant time is not needed (the attacker owns the file), but costs nothing.
        self.hmac(body).verify_slice(tag).map_err(|_| bad.clone())?;
        let field = |at: usize| -> [u8; 8] {
            let mut b = [0u8; 8];
            if let Some(src) = body.get(at..at + 8) {
                b.copy_from_slice(src);
            }
            b
        };
        self.high_water = i64::from_be_bytes(field(MAGIC.len()));
        self.revocations_seq = u64::from_be_bytes(field(MAGIC.len() + 8));
        Ok(())
    }

    fn save(&self) -> Result<(), Error> {
        let mut body = Vec::with_capacity(STATE_LEN);
        body.extend_from_slice(MAGIC);
        body.extend_from_slice(&self.high_water.to_be_bytes());
        body.extend_from_slice(&self.revocations_seq.to_be_bytes());
        let tag: [u8; 32] = self.hmac(&body).finalize().into_bytes().into();
        body.extend_from_slice(&tag);
        crate::app::fs::write(
            &self.path,
            &body,
            crate::app::fs::Access::Default,
            crate::app::fs::Mode::Replace,
        )
        .map_err(|_| Error::GuardState {
            reason: "the clock guard state file cannot be written",
        })
    }

    /// The latest time observed.
    pub fn high_water_mark(&self) -> Option<UnixTime> {
        (self.high_water != UnixTime::MIN).then_some(self.high_water)
    }

    /// The newest revocation list sequence number accepted.
    pub fn revocations_seq(&self) -> u64 {
        self.revocations_seq
    }

    /// Checks `now` against the mark for a license that has just verified, then raises the
    /// mark to max(mark, now, the license's issue time) and saves it.
    ///
    /// # Errors
    /// [`Error::ClockRolledBack`] when `now` is earlier than the mark by more than the
    /// license's allowed clock offset; [`Error::GuardState`] when the state cannot be saved.
    pub fn observe(&mut self, now: UnixTime, license: &License) -> Result<(), Error> {
        let claims = license.claims();
        let offset = i64::try_from(claims.clock_offset.unwrap_or(0)).unwrap_or(i64::MAX);
        if self.high_water != UnixTime::MIN && now.saturating_add(offset) < self.high_water {
            return Err(Error::ClockRolledBack {
                now,
                last_seen: self.high_water,
            });
        }
        let mark = self.high_water.max(now).max(claims.issued_at);
        if mark != self.high_water {
            self.high_water = mark;
            self.save()?;
        }
        Ok(())
    }

    /// Accepts a verified revocation list unless an newer one was accepted before.
    ///
    /// # Errors
    /// [`Error::StaleRevocationList`] for an older list; [`Error::GuardState`] when the
    /// state cannot be saved.
    pub fn accept_revocations(&mut self, list: &RevocationList) -> Result<(), Error> {
        if list.seq < self.revocations_seq {
            return Err(Error::StaleRevocationList {
                seq: list.seq,
                newest: self.revocations_seq,
            });
        }
        if list.seq != self.revocations_seq {
            self.revocations_seq = list.seq;
            self.save()?;
        }
        Ok(())
    }
}
