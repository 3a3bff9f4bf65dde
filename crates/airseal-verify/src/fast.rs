//! Strict Ed25519 verification with precomputed tables for a trusted key (`SPEC.md` §3.1).
//!
//! A trust store's public keys are fixed for its lifetime, so the two points of the
//! verification equation, the base point `B` and the key `A`, are both known in advance.
//! [`PrecomputedKey`] stores multiples of `B` and of `−A` at every 6-bit position of a
//! scalar, so `[S]B + [k](−A)` costs about 85 table additions and 6 doublings instead of
//! the ~250 doublings of the generic double-base multiplication. Everything here is
//! variable-time, as the generic `verify_strict` is: signatures, keys and messages are
//! public.
//!
//! The acceptance rules are exactly those of ed25519-dalek 3.0's
//! `VerifyingKey::verify_strict`, and `tests/fast_path.rs` checks the two agree on edge-case
//! vectors and on random and mutated inputs:
//!
//! 1. `S` must be canonical (`S < ℓ`);
//! 2. `A` must not have small order (the trust store also refuses such keys);
//! 3. `R` must decode as a point that does not have small order;
//! 4. with `k = SHA-512(R ‖ A ‖ M) mod ℓ`, hashing the 32 bytes of `R` and of `A` exactly
//!    as given, `[S]B − [k]A` must encode to the 32 bytes of `R`.
//!
//! Rule 3 is checked after rule 4 on the computed point instead of by decoding `R` first,
//! which saves a square root per call: an encoding produced by `compress` always decodes,
//! and to the point it came from, so when rule 4 holds `R` decodes to `[S]B − [k]A` and its
//! order can be checked there; when rule 4 fails the signature is rejected either way.

use alloc::vec::Vec;
use core::fmt;

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;
use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha512};

/// Bits per signed digit of a scalar.
const WINDOW: u32 = 6;
/// Largest digit magnitude, and so the number of multiples stored per position.
const HALF: usize = 1 << (WINDOW - 1);
/// Digits of a scalar below 2^253 (43 are needed; one more keeps them in pairs).
const DIGITS: usize = 44;
/// Table rows: one per even digit position (odd positions reuse them, see [`Table`]).
const ROWS: usize = DIGITS / 2;

/// Multiples `j · 2^(12 r) · P` for `j = 1..=32` and rows `r = 0..22`: row `r` serves
/// digit position `2r` directly and position `2r + 1` before the final `× 2^6` (the same
/// layout as curve25519-dalek's `EdwardsBasepointTable`, with plain indexing instead of
/// constant-time selection). 22 × 32 points of 160 bytes: 110 KiB.
#[derive(Clone)]
struct Table {
    rows: Vec<[EdwardsPoint; HALF]>,
}

impl Table {
    fn new(point: &EdwardsPoint) -> Self {
        let mut rows = Vec::with_capacity(ROWS);
        let mut base = *point;
        for _ in 0..ROWS {
            let mut row = [EdwardsPoint::identity(); HALF];
            let mut multiple = base;
            for slot in &mut row {
                *slot = multiple;
                multiple += base;
            }
            rows.push(row);
            // Next row: 2^12 · base = 8 · 8 · 8 · 8 · base.
            for _ in 0..4 {
                base = base.mul_by_cofactor();
            }
        }
        Self { rows }
    }
}

/// Adds `digit · entry` of `row` to `acc` (`digit` in `−32..=32`).
fn add_digit(acc: &mut EdwardsPoint, row: &[EdwardsPoint; HALF], digit: i8) {
    let magnitude = usize::from(digit.unsigned_abs());
    if let Some(point) = magnitude.checked_sub(1).and_then(|i| row.get(i)) {
        if digit > 0 {
            *acc += point;
        } else {
            *acc -= point;
        }
    }
}

/// Signed radix-2^6 digits `d_i` in `−32..=32` with `Σ d_i · 2^(6i)` = the scalar.
///
/// The scalars recoded here are below ℓ < 2^253, so the 43 digits never carry out (the 44th
/// is always zero).
fn recode(scalar: &Scalar) -> [i8; DIGITS] {
    let mut digits = [0i8; DIGITS];
    let mut bytes = scalar.as_bytes().iter();
    let (mut window, mut bits, mut carry) = (0u32, 0u32, 0i32);
    for digit in &mut digits {
        while bits < WINDOW {
            window |= u32::from(bytes.next().copied().unwrap_or(0)) << bits;
            bits += 8;
        }
        // `coef` is in 0..=64; recentre it to −32..=31 (64 becomes 0 with a carry).
        let coef = i32::try_from(window & ((1 << WINDOW) - 1)).unwrap_or(0) + carry;
        window >>= WINDOW;
        bits -= WINDOW;
        carry = (coef + (1 << (WINDOW - 1))) >> WINDOW;
        *digit = i8::try_from(coef - (carry << WINDOW)).unwrap_or(0);
    }
    digits
}

/// `[a]P + [b]Q` from the tables of `P` and `Q`.
fn double_fixed_base(p: &Table, a: &Scalar, q: &Table, b: &Scalar) -> EdwardsPoint {
    let (da, db) = (recode(a), recode(b));
    let rows = p.rows.iter().zip(&q.rows);
    let pairs = da.chunks_exact(2).zip(db.chunks_exact(2));
    let mut acc = EdwardsPoint::identity();
    // Odd positions first, then × 2^6 (two cofactor multiplications), then even positions.
    for ((rp, rq), (pa, pb)) in rows.clone().zip(pairs.clone()) {
        if let ([_, a_odd], [_, b_odd]) = (pa, pb) {
            add_digit(&mut acc, rp, *a_odd);
            add_digit(&mut acc, rq, *b_odd);
        }
    }
    acc = acc.mul_by_cofactor().mul_by_cofactor();
    for ((rp, rq), (pa, pb)) in rows.zip(pairs) {
        if let ([a_even, _], [b_even, _]) = (pa, pb) {
            add_digit(&mut acc, rp, *a_even);
            add_digit(&mut acc, rq, *b_even);
        }
    }
    acc
}

/// A trusted Ed25519 public key with precomputed tables for strict verification.
///
/// Build it once per key (about 1,400 point additions; it holds 220 KiB of tables, for `B`
/// and for `−A`), then [`verify_strict`](Self::verify_strict) accepts exactly the
/// signatures that ed25519-dalek's `VerifyingKey::verify_strict` accepts, in about two
/// thirds of the time.
#[derive(Clone)]
pub struct PrecomputedKey {
    /// The key's 32 bytes as given: they are hashed into `k`, as dalek hashes them.
    compressed: [u8; 32],
    /// `A` has small order: `verify_strict` rejects every signature.
    weak: bool,
    base: Table,
    minus_a: Table,
}

impl fmt::Debug for PrecomputedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrecomputedKey")
            .field("compressed", &self.compressed)
            .field("weak", &self.weak)
            .finish_non_exhaustive()
    }
}

impl PrecomputedKey {
    /// Precomputes the tables for a decoded key.
    ///
    /// The key is taken as ed25519-dalek decoded it (`VerifyingKey::from_bytes` accepts some
    /// non-canonical encodings; the original bytes are kept for hashing). A small-order key
    /// is accepted here and then rejects every signature, as `verify_strict` does.
    pub fn new(key: &VerifyingKey) -> Self {
        let a = key.to_edwards();
        Self {
            compressed: *key.as_bytes(),
            weak: a.is_small_order(),
            base: Table::new(&ED25519_BASEPOINT_POINT),
            minus_a: Table::new(&-a),
        }
    }

    /// Decodes a 32-byte public key as `VerifyingKey::from_bytes` does, then precomputes.
    /// `None` if the bytes are not a curve point.
    pub fn from_bytes(public_key: &[u8; 32]) -> Option<Self> {
        VerifyingKey::from_bytes(public_key)
            .ok()
            .map(|k| Self::new(&k))
    }

    /// The public key's bytes, as given.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.compressed
    }

    /// Whether `signature` is a valid strict Ed25519 signature of `message` by this key:
    /// the same answer as ed25519-dalek 3.0's `VerifyingKey::verify_strict` (see the module
    /// documentation for the rules).
    pub fn verify_strict(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        if self.weak {
            return false;
        }
        let (Some(r), Some(s)) = (signature.first_chunk::<32>(), signature.last_chunk::<32>())
        else {
            return false;
        };
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(*s)) else {
            return false;
        };
        let k = Scalar::from_hash(
            Sha512::new()
                .chain_update(r)
                .chain_update(self.compressed)
                .chain_update(message),
        );
        // R' = [S]B − [k]A = [S]B + [k](−A).
        let expected_r = double_fixed_base(&self.base, &s, &self.minus_a, &k);
        expected_r.compress().as_bytes() == r && !expected_r.is_small_order()
    }
}

/// Differential check of arbitrary bytes: `mode ‖ key (32) ‖ sig (64) ‖ message`. With an
/// even `mode` the key and signature are used as given; with an odd one the key is a signing
/// seed and `sig` is XORed onto a real signature of the message, so the fuzzer explores
/// near-valid signatures. Panics if the precomputed path and `verify_strict` disagree.
/// Used by the fuzz target and by `tests/fast_path.rs`.
#[doc(hidden)]
pub fn fuzz_differential(data: &[u8]) {
    use ed25519_dalek::{Signature, Signer, SigningKey};
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Some((key, rest)) = rest.split_first_chunk::<32>() else {
        return;
    };
    let Some((delta, message)) = rest.split_first_chunk::<64>() else {
        return;
    };
    let (key, sig) = if mode & 1 == 0 {
        (*key, *delta)
    } else {
        let signing = SigningKey::from_bytes(key);
        let mut sig = signing.sign(message).to_bytes();
        for (b, d) in sig.iter_mut().zip(delta) {
            *b ^= d;
        }
        (signing.verifying_key().to_bytes(), sig)
    };
    let strict = VerifyingKey::from_bytes(&key).is_ok_and(|k| {
        k.verify_strict(message, &Signature::from_bytes(&sig))
            .is_ok()
    });
    let fast = PrecomputedKey::from_bytes(&key).is_some_and(|k| k.verify_strict(message, &sig));
    assert_eq!(
        fast, strict,
        "precomputed path disagrees with verify_strict"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recode_round_trips() {
        let scalars = [
            Scalar::ZERO,
            Scalar::ONE,
            -Scalar::ONE,
            Scalar::from(0x7fff_ffff_u64),
            Scalar::from_bytes_mod_order([0xff; 32]),
            Scalar::from_bytes_mod_order([0x55; 32]),
            Scalar::from_bytes_mod_order([0xaa; 32]),
        ];
        let sixty_four = Scalar::from(64u64);
        for s in scalars {
            let digits = recode(&s);
            assert_eq!(digits[DIGITS - 1], 0);
            let mut back = Scalar::ZERO;
            for d in digits.iter().rev() {
                assert!((-32..=32).contains(d));
                let term = Scalar::from(u64::from(d.unsigned_abs()));
                back = back * sixty_four + if *d < 0 { -term } else { term };
            }
            assert_eq!(back, s);
        }
    }

    #[test]
    fn double_fixed_base_matches_dalek() {
        let a = EdwardsPoint::mul_base(&Scalar::from(987_654_321u64));
        let (ta, tb) = (Table::new(&a), Table::new(&ED25519_BASEPOINT_POINT));
        for seed in 0u8..20 {
            let x = Scalar::from_bytes_mod_order([seed.wrapping_mul(37); 32]);
            let y = Scalar::from_bytes_mod_order([seed.wrapping_mul(91) ^ 0xc3; 32]);
            let want = EdwardsPoint::vartime_double_scalar_mul_basepoint(&x, &a, &y);
            assert_eq!(double_fixed_base(&ta, &x, &tb, &y), want);
        }
    }
}
