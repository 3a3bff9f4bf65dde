//! Key ids: short, stable names for Ed25519 public keys (`SPEC.md` §3.2).
//!
//! `kid = SHA-512("airseal-kid-v1" || public_key)[0..8]`. The id only selects a key from a
//! trust store; security rests on the signature, so 64 bits is ample and keeps licenses small.

use core::fmt;
use sha2::{Digest, Sha512};

/// Domain-separation prefix hashed before the public key.
pub const KID_DOMAIN: &[u8] = b"airseal-kid-v1";

/// An 8-byte key id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 8]);

impl KeyId {
    /// The key id of an Ed25519 public key.
    pub fn of_public_key(public_key: &[u8; 32]) -> Self {
        let digest = Sha512::new()
            .chain_update(KID_DOMAIN)
            .chain_update(public_key)
            .finalize();
        let mut id = [0u8; 8];
        id.copy_from_slice(digest.get(..8).unwrap_or(&[0; 8]));
        KeyId(id)
    }

    /// Parses 16 lowercase or uppercase hex digits.
    pub fn from_hex(s: &str) -> Option<Self> {
        let bytes = s.as_bytes();
        if bytes.len() != 16 {
            return None;
        }
        let mut out = [0u8; 8];
        for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            let hi = hex_val(*pair.first()?)?;
            let lo = hex_val(*pair.get(1)?)?;
            *o = (hi << 4) | lo;
        }
        Some(KeyId(out))
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}
