//! What a data folder remembers about the licenses it held (`SPEC.md` §15.5, §17.3):
//! `device.state`, authenticated under a key derived from the device key's seed.
//!
//! For each license id the folder has installed or released it keeps the newest issue time
//! installed and whether the license was released. A license released here is then refused
//! even when its file is copied back ([`crate::Error::Released`]), and an older document of
//! a license is refused once a newer one was installed ([`crate::Error::StaleUpdate`]), so a
//! renewal cannot be rolled back by restoring the old file.
//!
//! The file is authenticated, not hidden: HMAC-SHA256 under
//! `SHA-256("airseal-device-state-v1" 0x00 ‖ device key seed)`. Editing it, or copying it
//! from another folder, makes it fail authentication; only the app, which holds the seed,
//! can write it. What it cannot stop — a user who puts back the whole folder as it was
//! before a release — is stated in `SPEC.md` §17.3.

use std::collections::BTreeMap;

use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use airseal_core::UnixTime;

/// First bytes of the state file; a new layout gets a new version.
pub(crate) const MAGIC: &[u8; 16] = b"airseal-state-v1";
/// Bytes of the HMAC-SHA256 tag at the end.
const TAG_LEN: usize = 32;
/// At most this many licenses are remembered; past it, the oldest licenses that were not
/// released are forgotten first (a folder holds a handful of licenses in its life).
pub(crate) const MAX_ENTRIES: usize = 1024;
/// Longest license id kept (longer ids are cut to their SHA-256, see [`entry_id`]).
const MAX_ID_LEN: usize = 255;
/// Largest state file: every entry at its largest, plus the header and the tag.
pub(crate) const MAX_STATE_FILE: u64 =
    (MAGIC.len() + 2 + MAX_ENTRIES * (1 + 8 + 1 + MAX_ID_LEN) + TAG_LEN) as u64;

/// What the folder remembers of one license.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The newest issue time (`iat`) of a document of this license installed here.
    pub newest: UnixTime,
    /// Whether this folder released the license (made a deactivation proof for it).
    pub released: bool,
}

/// The decoded state: license id → what is remembered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct State {
    entries: BTreeMap<Vec<u8>, Entry>,
}

/// Why a state file was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StateError {
    /// Wrong length or magic, or entries that do not fit the layout.
    Layout,
    /// The tag does not verify: the file was edited, or belongs to another device key.
    Authentication,
}

/// The key a state file is authenticated with: never stored, derived from the seed.
pub(crate) struct StateKey(Zeroizing<[u8; 32]>);

impl StateKey {
    /// The state key of the device key with this seed.
    pub(crate) fn from_seed(seed: &[u8; 32]) -> Self {
        let digest: [u8; 32] = Sha256::new()
            .chain_update(b"airseal-device-state-v1\0")
            .chain_update(seed)
            .finalize()
            .into();
        StateKey(Zeroizing::new(digest))
    }

    fn mac(&self, body: &[u8]) -> hmac::Hmac<Sha256> {
        // HMAC takes any key length; a 64-byte block pads the key with zeros exactly as
        // RFC 2104 does, so this cannot fail (as in the clock guard).
        let mut block = Zeroizing::new([0u8; 64]);
        if let Some(head) = block.get_mut(..32) {
            head.copy_from_slice(self.0.as_slice());
        }
        let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new(&(*block).into());
        mac.update(body);
        mac
    }
}

/// The bytes a license id is remembered by: the id itself, or (for an id longer than 255
/// bytes, which airseal never makes) its SHA-256, so every id fits one length byte.
fn entry_id(license_id: &str) -> Vec<u8> {
    if license_id.len() <= MAX_ID_LEN {
        license_id.as_bytes().to_vec()
    } else {
        Sha256::digest(license_id.as_bytes()).to_vec()
    }
}

impl State {
    /// What is remembered of `license_id`.
    pub(crate) fn get(&self, license_id: &str) -> Option<Entry> {
        self.entries.get(&entry_id(license_id)).copied()
    }

    /// Remembers that a document of `license_id` issued at `issued_at` was installed.
    pub(crate) fn installed(&mut self, license_id: &str, issued_at: UnixTime) {
        let e = self.entries.entry(entry_id(license_id)).or_insert(Entry {
            newest: issued_at,
            released: false,
        });
        e.newest = e.newest.max(issued_at);
        self.trim();
    }

    /// Remembers that `license_id` (issued at `issued_at`) was released here.
    pub(crate) fn released(&mut self, license_id: &str, issued_at: UnixTime) {
        let e = self.entries.entry(entry_id(license_id)).or_insert(Entry {
            newest: issued_at,
            released: true,
        });
        e.newest = e.newest.max(issued_at);
        e.released = true;
        self.trim();
    }

    /// Keeps at most [`MAX_ENTRIES`]: forgets licenses never released before released ones,
    /// the oldest (by newest issue time) first.
    fn trim(&mut self) {
        while self.entries.len() > MAX_ENTRIES {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, e)| (e.released, e.newest))
                .map(|(id, _)| id.clone());
            match oldest {
                Some(id) => {
                    self.entries.remove(&id);
                }
                None => break,
            }
        }
    }

    /// The file: magic ‖ count (u16 BE) ‖ entries in id order, each flags (u8: 1 =
    /// released) ‖ newest issue time (i64 BE) ‖ id length (u8) ‖ id ‖ HMAC-SHA256 tag.
    pub(crate) fn encode(&self, key: &StateKey) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.entries.len() * 24);
        out.extend_from_slice(MAGIC);
        let count = u16::try_from(self.entries.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&count.to_be_bytes());
        for (id, e) in self.entries.iter().take(usize::from(count)) {
            out.push(u8::from(e.released));
            out.extend_from_slice(&e.newest.to_be_bytes());
            // `entry_id` keeps every id within one length byte.
            out.push(u8::try_from(id.len()).unwrap_or(u8::MAX));
            out.extend_from_slice(id.get(..MAX_ID_LEN.min(id.len())).unwrap_or_default());
        }
        let tag: [u8; TAG_LEN] = key.mac(&out).finalize().into_bytes().into();
        out.extend_from_slice(&tag);
        out
    }

    /// Reads a state file written by [`State::encode`] under `key`.
    pub(crate) fn decode(bytes: &[u8], key: &StateKey) -> Result<Self, StateError> {
        if bytes.len() < MAGIC.len() + 2 + TAG_LEN || !bytes.starts_with(MAGIC) {
            return Err(StateError::Layout);
        }
        let (body, tag) = bytes.split_at(bytes.len() - TAG_LEN);
        key.mac(body)
            .verify_slice(tag)
            .map_err(|_| StateError::Authentication)?;
        let mut rest = body.get(MAGIC.len()..).ok_or(StateError::Layout)?;
        let count = u16::from_be_bytes(take_array(&mut rest)?);
        let mut state = State::default();
        let mut previous: Option<Vec<u8>> = None;
        for _ in 0..count {
            let released = match take_array(&mut rest)? {
                [0] => false,
                [1] => true,
                _ => return Err(StateError::Layout),
            };
            let newest: [u8; 8] = take_array(&mut rest)?;
            let [len] = take_array(&mut rest)?;
            let id = take(&mut rest, usize::from(len))?.to_vec();
            // One encoding per state: ids strictly increasing, none empty.
            if id.is_empty() || previous.as_ref().is_some_and(|p| *p >= id) {
                return Err(StateError::Layout);
            }
            previous = Some(id.clone());
            state.entries.insert(
                id,
                Entry {
                    newest: i64::from_be_bytes(newest),
                    released,
                },
            );
        }
        if !rest.is_empty() || state.entries.len() > MAX_ENTRIES {
            return Err(StateError::Layout);
        }
        Ok(state)
    }
}

/// The fuzz hook (`crate::fuzz_device_state`): `body` with a valid tag under a fixed key,
/// read; whatever reads must encode to the same bytes (one encoding per state).
pub(crate) fn fuzz(body: &[u8]) {
    let key = StateKey::from_seed(&[0; 32]);
    let mut file = body.to_vec();
    let tag: [u8; TAG_LEN] = key.mac(body).finalize().into_bytes().into();
    file.extend_from_slice(&tag);
    if let Ok(state) = State::decode(&file, &key) {
        assert!(
            state.encode(&key) == file,
            "a device state read back encodes differently"
        );
    }
}

/// The next `n` bytes of `rest`, advancing it.
fn take<'a>(rest: &mut &'a [u8], n: usize) -> Result<&'a [u8], StateError> {
    let (head, tail) = rest.split_at_checked(n).ok_or(StateError::Layout)?;
    *rest = tail;
    Ok(head)
}

/// The next `N` bytes of `rest` as an array, advancing it.
fn take_array<const N: usize>(rest: &mut &[u8]) -> Result<[u8; N], StateError> {
    take(rest, N)?.try_into().map_err(|_| StateError::Layout)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trips_and_refuses_edits_and_other_keys() {
        let key = StateKey::from_seed(&[7; 32]);
        let mut s = State::default();
        s.installed("LIC-B", 20);
        s.installed("LIC-B", 10);
        s.released("LIC-A", 5);
        let bytes = s.encode(&key);
        let back = State::decode(&bytes, &key).unwrap();
        assert_eq!(back, s);
        assert_eq!(
            back.get("LIC-B"),
            Some(Entry {
                newest: 20,
                released: false
            })
        );
        assert!(back.get("LIC-A").unwrap().released);
        assert_eq!(back.get("LIC-C"), None);
        // Another device key's state does not authenticate.
        let other = StateKey::from_seed(&[8; 32]);
        assert_eq!(
            State::decode(&bytes, &other),
            Err(StateError::Authentication)
        );
        // Flipping any byte is refused.
        for i in 0..bytes.len() {
            let mut edited = bytes.clone();
            edited[i] ^= 1;
            assert!(State::decode(&edited, &key).is_err(), "byte {i}");
        }
        assert_eq!(State::decode(&bytes[..10], &key), Err(StateError::Layout));
    }

    #[test]
    fn the_fuzz_hook_reads_real_states_and_survives_junk() {
        let key = StateKey::from_seed(&[0; 32]);
        let mut s = State::default();
        s.installed("A", 1);
        s.released("B", 2);
        let file = s.encode(&key);
        let body = &file[..file.len() - TAG_LEN];
        fuzz(body);
        assert_eq!(State::decode(&file, &key).unwrap(), s);
        for junk in [
            &b""[..],
            b"airseal-state-v1",
            b"airseal-state-v1\x00\x01\x02",
        ] {
            fuzz(junk);
        }
    }

    #[test]
    fn long_ids_fit_and_the_oldest_unreleased_go_first() {
        let key = StateKey::from_seed(&[1; 32]);
        let mut s = State::default();
        let long = "x".repeat(300);
        s.released(&long, 1);
        assert!(s.get(&long).unwrap().released);
        assert_eq!(State::decode(&s.encode(&key), &key).unwrap(), s);
        for i in 0..MAX_ENTRIES {
            s.installed(&format!("L{i:05}"), i64::try_from(i).unwrap() + 100);
        }
        assert_eq!(s.entries.len(), MAX_ENTRIES);
        // The released license is kept; the oldest installed one was forgotten.
        assert!(s.get(&long).is_some());
        assert!(s.get("L00000").is_none());
        assert!(s.get("L00001").is_some());
        let bytes = s.encode(&key);
        assert!(bytes.len() as u64 <= MAX_STATE_FILE);
        assert_eq!(State::decode(&bytes, &key).unwrap(), s);
    }
}
