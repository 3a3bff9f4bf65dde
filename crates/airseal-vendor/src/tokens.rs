//! Bearer tokens for `airseal serve`: making one (its text shown once), checking one a
//! client presents, listing and revoking them. The rows live in the ledger
//! ([`crate::ledger::Tokens`]), which keeps only each token's public id and the SHA-256 of
//! its text.
//!
//! A token reads `airseal_<scope>_<id>_<secret>`: `<scope>` is `admin` or `portal`, `<id>`
//! 8 Crockford base32 symbols (40 random bits, public: how the ledger finds the row) and
//! `<secret>` 32 random bytes in Crockford base32 (52 symbols). [`verify`] finds the row by
//! id, then compares SHA-256 of the whole text with the stored hash in constant time
//! (`subtle`), so neither a timing nor a stored row gives the secret away.

use std::fmt;

use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::ledger::{Ledger, LedgerError, NewTokenRow};
pub use crate::ledger::{TokenError, TokenRecord, TokenScope};
use crate::time::{EndOfDay, parse_time};

/// What every token text starts with.
pub const PREFIX: &str = "airseal_";

/// Random bytes in a token's id (8 base32 symbols).
const ID_BYTES: usize = 5;

/// Random bytes in a token's secret.
const SECRET_BYTES: usize = 32;

/// How often [`create`] draws a fresh id when the one drawn is taken, before giving up.
const ID_ATTEMPTS: usize = 8;

/// A token's text: shown once, when made. Its `Debug` hides the text, and it is wiped from
/// memory when dropped.
pub struct TokenSecret(Zeroizing<String>);

impl TokenSecret {
    /// The token text, to hand to the client once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSecret(…)")
    }
}

/// A token just made: its row and its text.
#[derive(Debug)]
pub struct CreatedToken {
    /// The row the ledger keeps.
    pub record: TokenRecord,
    /// The text, shown once.
    pub secret: TokenSecret,
}

/// Who is calling, once their token is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The token's name.
    pub name: String,
    /// The token's scope.
    pub scope: TokenScope,
}

impl Caller {
    /// The audit log's actor for this caller: `token:<name>`.
    pub fn actor(&self) -> String {
        format!("token:{}", self.name)
    }
}

/// Why a presented token was not accepted. None of them carries the token text.
#[non_exhaustive]
#[derive(Debug)]
pub enum AuthError {
    /// Not a token's text at all (no `airseal_<scope>_<id>_<secret>` shape).
    Malformed,
    /// No token has this id, or the secret does not match (never told apart, so a guess
    /// learns nothing).
    Unknown,
    /// The token was revoked.
    Revoked {
        /// Its name.
        name: String,
        /// When (seconds since 1970).
        at: i64,
    },
    /// The token has expired.
    Expired {
        /// Its name.
        name: String,
        /// When it expired (seconds since 1970).
        at: i64,
    },
    /// The token works, but not for this.
    WrongScope {
        /// Its name.
        name: String,
        /// Its scope.
        scope: TokenScope,
        /// The scope needed.
        needed: TokenScope,
    },
    /// The ledger failed.
    Ledger(LedgerError),
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed => f.write_str("not an airseal token"),
            Self::Unknown => f.write_str("unknown token"),
            Self::Revoked { name, at } => write!(
                f,
                "the token {name} was revoked at {}",
                crate::time::format_time(*at)
            ),
            Self::Expired { name, at } => write!(
                f,
                "the token {name} expired at {}",
                crate::time::format_time(*at)
            ),
            Self::WrongScope {
                name,
                scope,
                needed,
            } => write!(
                f,
                "the token {name} is a {scope} token; this needs an {needed} token"
            ),
            Self::Ledger(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for AuthError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Ledger(e) => Some(e),
            _ => None,
        }
    }
}

impl From<LedgerError> for AuthError {
    fn from(e: LedgerError) -> Self {
        Self::Ledger(e)
    }
}

/// What [`create`] makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewToken {
    /// Its name (unique for ever; see [`crate::ledger::check_token_name`]).
    pub name: String,
    /// What it may do.
    pub scope: TokenScope,
    /// When it stops working: `YYYY-MM-DD` (the end of that day, UTC) or RFC 3339; `None`
    /// for never.
    pub expires: Option<String>,
}

fn sha256(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

fn random_symbols(rng: &mut impl Rng, n: usize) -> Zeroizing<String> {
    let mut bytes = Zeroizing::new(vec![0u8; n]);
    rng.fill_bytes(&mut bytes);
    Zeroizing::new(crate::issue::crockford(&bytes))
}

/// Makes a token, audited as `token.create` (its row: name, scope, id, dates — never the
/// text or its hash), and returns its text, which is never stored and cannot be shown again.
///
/// # Errors
/// [`TokenError::BadName`], [`TokenError::Duplicate`], [`TokenError::BadExpiry`],
/// [`TokenError::ExpiryPassed`], or a ledger error.
pub fn create(ledger: &Ledger, new: &NewToken, now: i64) -> Result<CreatedToken, TokenError> {
    crate::ledger::check_token_name(&new.name)?;
    let expires = new
        .expires
        .as_deref()
        .map(|s| parse_time("expires", s, EndOfDay::Yes))
        .transpose()
        .map_err(TokenError::BadExpiry)?;
    if let Some(expires) = expires {
        if expires <= now {
            return Err(TokenError::ExpiryPassed { expires, now });
        }
    }
    let mut rng = rand::rng();
    for _ in 0..ID_ATTEMPTS {
        let id = random_symbols(&mut rng, ID_BYTES);
        let secret = random_symbols(&mut rng, SECRET_BYTES);
        let text = Zeroizing::new(format!(
            "{PREFIX}{}_{}_{}",
            new.scope.as_str(),
            id.as_str(),
            secret.as_str()
        ));
        let row = NewTokenRow {
            id: &id,
            name: &new.name,
            scope: new.scope,
            sha256: sha256(&text),
            created: now,
            expires,
        };
        if let Some(record) = ledger.tokens().insert(&row)? {
            return Ok(CreatedToken {
                record,
                secret: TokenSecret(text),
            });
        }
    }
    Err(LedgerError::Corrupt {
        what: format!("{ID_ATTEMPTS} random token ids were all taken"),
    }
    .into())
}

/// The id part of a token's text, if it has the shape `airseal_<scope>_<id>_<secret>`.
fn id_of(presented: &str) -> Option<&str> {
    let rest = presented.strip_prefix(PREFIX)?;
    let mut parts = rest.splitn(3, '_');
    let scope = parts.next()?;
    let id = parts.next()?;
    let secret = parts.next()?;
    let symbol = |c: char| c.is_ascii_digit() || c.is_ascii_uppercase();
    let ok = TokenScope::parse(scope).is_some()
        && id.len() == 8
        && id.chars().all(symbol)
        && !secret.is_empty()
        && secret.len() <= 64
        && secret.chars().all(symbol);
    ok.then_some(id)
}

/// Checks a presented token for an operation that needs `needed`: who is calling, or why
/// not. The comparison with the stored hash takes the same time wherever they differ.
///
/// # Errors
/// [`AuthError::Malformed`], [`AuthError::Unknown`], [`AuthError::Revoked`],
/// [`AuthError::Expired`], [`AuthError::WrongScope`], or a ledger error.
pub fn verify(
    ledger: &Ledger,
    presented: &str,
    needed: TokenScope,
    now: i64,
) -> Result<Caller, AuthError> {
    let id = id_of(presented).ok_or(AuthError::Malformed)?;
    let Some((record, stored)) = ledger.tokens().by_id(id)? else {
        return Err(AuthError::Unknown);
    };
    let hash = sha256(presented);
    if !bool::from(hash.as_slice().ct_eq(stored.as_slice())) {
        return Err(AuthError::Unknown);
    }
    if let Some(at) = record.revoked {
        return Err(AuthError::Revoked {
            name: record.name,
            at,
        });
    }
    if let Some(at) = record.expires.filter(|at| *at <= now) {
        return Err(AuthError::Expired {
            name: record.name,
            at,
        });
    }
    if !record.scope.allows(needed) {
        return Err(AuthError::WrongScope {
            name: record.name,
            scope: record.scope,
            needed,
        });
    }
    Ok(Caller {
        name: record.name,
        scope: record.scope,
    })
}

/// Every token (never a text or a hash), in the order they were made.
///
/// # Errors
/// A ledger error.
pub fn list(ledger: &Ledger) -> Result<Vec<TokenRecord>, LedgerError> {
    ledger.tokens().list()
}

/// Revokes the token named `name`, audited as `token.revoke`; from now on [`verify`] refuses
/// it.
///
/// # Errors
/// [`TokenError::Unknown`], [`TokenError::AlreadyRevoked`], or a ledger error.
pub fn revoke(ledger: &Ledger, name: &str, now: i64) -> Result<TokenRecord, TokenError> {
    ledger.tokens().revoke(name, now)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn ledger() -> (tempfile::TempDir, Ledger) {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::open(&dir.path().join("l.sqlite3")).unwrap();
        (dir, l)
    }

    fn new(name: &str, scope: TokenScope, expires: Option<&str>) -> NewToken {
        NewToken {
            name: name.into(),
            scope,
            expires: expires.map(Into::into),
        }
    }

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn a_token_is_shown_once_and_only_its_hash_is_kept() {
        let (_d, l) = ledger();
        let t = create(&l, &new("store", TokenScope::Admin, None), NOW).unwrap();
        let text = t.secret.expose().to_string();
        let parts: Vec<&str> = text.split('_').collect();
        assert_eq!(parts.len(), 4, "{text}");
        assert_eq!(
            (parts[0], parts[1], parts[2]),
            ("airseal", "admin", &*t.record.id)
        );
        assert_eq!(parts[3].len(), 52);
        assert!(!format!("{t:?}").contains(parts[3]));
        // Nothing in the ledger file holds the secret, the text or a listing of it.
        let dump: Vec<String> = l
            .connection()
            .prepare("SELECT quote(sha256) || name FROM tokens")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(dump.iter().all(|d| !d.contains(parts[3])));
        let audit = l.audit().recent(1).unwrap();
        assert_eq!(audit[0].action, "token.create");
        assert!(!audit[0].detail.to_string().contains(parts[3]));
        let caller = verify(&l, &text, TokenScope::Admin, NOW).unwrap();
        assert_eq!(caller.name, "store");
        assert_eq!(caller.actor(), "token:store");
    }

    #[test]
    fn every_refusal_is_named() {
        let (_d, l) = ledger();
        let admin = create(&l, &new("a", TokenScope::Admin, Some("2027-01-01")), 0).unwrap();
        let portal = create(&l, &new("p", TokenScope::Portal, None), 0).unwrap();
        let text = admin.secret.expose();
        // Another secret with the same id.
        let forged = format!(
            "{}{}",
            &text[..text.len() - 1],
            if text.ends_with('0') { '1' } else { '0' }
        );
        assert!(matches!(
            verify(&l, &forged, TokenScope::Admin, 0),
            Err(AuthError::Unknown)
        ));
        assert!(matches!(
            verify(&l, "Bearer x", TokenScope::Admin, 0),
            Err(AuthError::Malformed)
        ));
        assert!(matches!(
            verify(&l, "airseal_admin_ZZZZZZZZ_ABC", TokenScope::Admin, 0),
            Err(AuthError::Unknown)
        ));
        let end = parse_time("x", "2027-01-01", EndOfDay::Yes).unwrap();
        assert!(verify(&l, text, TokenScope::Admin, end - 1).is_ok());
        assert!(matches!(
            verify(&l, text, TokenScope::Admin, end),
            Err(AuthError::Expired { at, .. }) if at == end
        ));
        assert!(matches!(
            verify(&l, portal.secret.expose(), TokenScope::Admin, 0),
            Err(AuthError::WrongScope {
                scope: TokenScope::Portal,
                needed: TokenScope::Admin,
                ..
            })
        ));
        // An admin token may do what a portal token may.
        assert!(verify(&l, text, TokenScope::Portal, 0).is_ok());
        revoke(&l, "p", 5).unwrap();
        assert!(matches!(
            verify(&l, portal.secret.expose(), TokenScope::Portal, 6),
            Err(AuthError::Revoked { at: 5, .. })
        ));
        assert!(matches!(
            revoke(&l, "p", 7),
            Err(TokenError::AlreadyRevoked { at: 5, .. })
        ));
        assert!(matches!(
            revoke(&l, "q", 7),
            Err(TokenError::Unknown { .. })
        ));
        // Names are never reused, even once revoked.
        assert!(matches!(
            create(&l, &new("p", TokenScope::Portal, None), 8),
            Err(TokenError::Duplicate { .. })
        ));
        assert!(matches!(
            create(&l, &new("-x", TokenScope::Portal, None), 8),
            Err(TokenError::BadName { .. })
        ));
        assert!(matches!(
            create(&l, &new("x", TokenScope::Portal, Some("1970-01-01")), NOW),
            Err(TokenError::ExpiryPassed { .. })
        ));
        let names: Vec<_> = list(&l).unwrap().into_iter().map(|t| t.name).collect();
        assert_eq!(names, ["a", "p"]);
    }

    #[test]
    fn the_audit_log_names_the_actor_set_on_the_connection() {
        let (_d, l) = ledger();
        l.set_actor(Some("token:store".into()));
        create(&l, &new("a", TokenScope::Admin, None), 0).unwrap();
        l.set_actor(None);
        create(&l, &new("b", TokenScope::Admin, None), 0).unwrap();
        let rows = l.audit().recent(2).unwrap();
        assert_eq!(rows[0].actor, None);
        assert_eq!(rows[1].actor.as_deref(), Some("token:store"));
        let by_store = l
            .audit()
            .search(&crate::ledger::AuditFilter {
                actor: Some("token:store".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(by_store.len(), 1);
        assert_eq!(by_store[0].subject, "a");
    }
}
