//! The clock guard (`SPEC.md` §14): notices a clock turned back, and remembers the newest
//! revocation list seen, in a small tamper-evident state file chosen by the app.
//!
//! Every successful check raises a high-water mark to max(now, license issue time). If the
//! clock later reads earlier than the mark by more than the license's allowed clock offset,
//! the check fails with [`Error::ClockRolledBack`], stating both times. The file is written
//! atomically (temporary file, fsync, rename) and authenticated with HMAC-SHA256 under a key
//! derived from material the app binds it to (machine fingerprint, license id), so copying
//! it from another machine or editing it by hand is detected.
//!
//! What it cannot stop: deleting the state file (the guard then starts afresh — apps that
//! care can refuse to run when a license they have seen before has no state), or a user who
//! controls the app's process and memory. It raises the bar from "change the date" to
//! "find and delete the right file", and says so honestly.

use std::fs;
use std::path::{Path, PathBuf};

use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

use airseal_core::UnixTime;
use airseal_core::revocation::RevocationList;

use crate::error::Error;
use crate::license::License;

const MAGIC: &[u8; 16] = b"airseal-clock-v1";
const STATE_LEN: usize = MAGIC.len() + 8 + 8 + 32;

/// A clock guard bound to one state file.
#[derive(Debug)]
pub struct ClockGuard {
    path: PathBuf,
    key: [u8; 32],
    high_water: UnixTime,
    revocations_seq: u64,
}

impl ClockGuard {
    /// Opens the guard's state at `path` (absent = a fresh guard), authenticated under a key
    /// derived from `binding` (for example the machine's component hashes and the license
    /// id: state from another machine or license does not authenticate).
    ///
    /// # Errors
    /// [`Error::GuardState`] when the file cannot be read, or fails authentication.
    pub fn open(path: &Path, binding: &[u8]) -> Result<Self, Error> {
        let key: [u8; 32] = Sha256::new()
            .chain_update(b"airseal-clock-guard-v1")
            .chain_update(binding)
            .finalize()
            .into();
        let mut guard = ClockGuard {
            path: path.to_path_buf(),
            key,
            high_water: UnixTime::MIN,
            revocations_seq: 0,
        };
        match fs::read(path) {
            Ok(bytes) => guard.load(&bytes)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
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
        let mut block = [0u8; 64];
        if let Some(head) = block.get_mut(..32) {
            head.copy_from_slice(&self.key);
        }
        let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new(&block.into());
        mac.update(body);
        mac
    }

    fn load(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let bad = Error::GuardState {
            reason: "the clock guard state file was modified or belongs to another machine or license",
        };
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
