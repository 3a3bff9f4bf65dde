//! Tokens (migration 14): the bearer tokens `airseal serve` accepts, by name and scope. The
//! ledger keeps each token's public id and the SHA-256 of its text, never the text; making
//! and checking tokens is [`crate::tokens`]'s job, this store only keeps the rows.

use super::db::{Connection, OptionalExtension as _, Row, params};
use serde::Serialize;

use super::audit::audit_in;
use super::connection::write_tx;
use super::error::db;
use super::{Ledger, LedgerError};

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenScope {
    /// The admin API: keys, licenses, renewals, revocations, the ledger's listings.
    Admin,
    /// The portal's operations (activation, deactivation) where a deployment asks for a
    /// token there.
    Portal,
}

impl TokenScope {
    /// Its name in the ledger and in the token text: `admin` or `portal`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Portal => "portal",
        }
    }

    /// The scope named `s` (`admin`, `portal`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Self::Admin),
            "portal" => Some(Self::Portal),
            _ => None,
        }
    }

    /// Whether a token of this scope may do what needs `needed`: an admin token may do
    /// everything, a portal token only the portal's operations.
    pub fn allows(self, needed: Self) -> bool {
        self == Self::Admin || self == needed
    }
}

impl std::fmt::Display for TokenScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A token as the ledger records it: never its text or its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TokenRecord {
    /// Its public id (8 Crockford base32 symbols, also in the token text).
    pub id: String,
    /// Its name, unique, which the audit log names as `token:<name>`.
    pub name: String,
    /// What it may do.
    pub scope: TokenScope,
    /// When it was made (seconds since 1970).
    pub created: i64,
    /// When it stops working, if ever.
    pub expires: Option<i64>,
    /// When it was revoked, if it was.
    pub revoked: Option<i64>,
}

/// Why a token could not be made or revoked.
#[non_exhaustive]
#[derive(Debug)]
pub enum TokenError {
    /// The ledger failed.
    Ledger(LedgerError),
    /// The name is not 1 to 64 letters, digits, `.`, `_` or `-` starting with a letter or
    /// digit.
    BadName {
        /// The name as given.
        name: String,
    },
    /// A token (live or revoked) already has this name: names are never reused, so the
    /// audit log's `token:<name>` names one token.
    Duplicate {
        /// The name.
        name: String,
    },
    /// No token has this name.
    Unknown {
        /// The name.
        name: String,
    },
    /// The token was already revoked.
    AlreadyRevoked {
        /// Its name.
        name: String,
        /// When (seconds since 1970).
        at: i64,
    },
    /// The expiry is not a date or time.
    BadExpiry(crate::issue::IssueError),
    /// The expiry is not in the future.
    ExpiryPassed {
        /// The expiry asked for (seconds since 1970).
        expires: i64,
        /// Now.
        now: i64,
    },
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ledger(e) => e.fmt(f),
            Self::BadName { name } => write!(
                f,
                "{name:?} is not a token name: 1 to {NAME_MAX} letters, digits, '.', '_' or \
                 '-', starting with a letter or digit"
            ),
            Self::Duplicate { name } => write!(f, "a token named {name} already exists"),
            Self::Unknown { name } => write!(f, "no token is named {name:?}"),
            Self::AlreadyRevoked { name, at } => write!(
                f,
                "the token {name} was already revoked at {}",
                crate::time::format_time(*at)
            ),
            Self::BadExpiry(e) => e.fmt(f),
            Self::ExpiryPassed { expires, .. } => write!(
                f,
                "the expiry {} has already passed",
                crate::time::format_time(*expires)
            ),
        }
    }
}

impl std::error::Error for TokenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Ledger(e) => Some(e),
            Self::BadExpiry(e) => Some(e),
            _ => None,
        }
    }
}

impl From<LedgerError> for TokenError {
    fn from(e: LedgerError) -> Self {
        Self::Ledger(e)
    }
}

/// The longest token name.
pub const NAME_MAX: usize = 64;

/// The one rule for a token name: `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`, plain enough for an
/// audit row, a log line and a terminal.
///
/// # Errors
/// [`TokenError::BadName`].
pub fn check_name(name: &str) -> Result<(), TokenError> {
    let bytes = name.as_bytes();
    let first_ok = bytes.first().is_some_and(u8::is_ascii_alphanumeric);
    let rest_ok = bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(b));
    if first_ok && rest_ok && bytes.len() <= NAME_MAX {
        Ok(())
    } else {
        Err(TokenError::BadName {
            name: name.to_string(),
        })
    }
}

/// A token row to insert: [`crate::tokens::create`] makes it.
#[derive(Debug)]
pub(crate) struct NewTokenRow<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub scope: TokenScope,
    pub sha256: [u8; 32],
    pub created: i64,
    pub expires: Option<i64>,
}

/// The tokens of a ledger: `ledger.tokens()`.
#[derive(Clone, Copy, Debug)]
pub struct Tokens<'a> {
    pub(super) conn: &'a Connection,
}

impl Ledger {
    /// Tokens for `airseal serve`.
    pub fn tokens(&self) -> Tokens<'_> {
        Tokens {
            conn: self.connection(),
        }
    }
}

const COLUMNS: &str = "id, name, scope, created, expires, revoked";

fn read(r: &Row<'_>) -> rusqlite::Result<TokenRecord> {
    let scope: String = r.get(2)?;
    // The schema allows only the two names.
    let scope = TokenScope::parse(&scope).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            2,
            rusqlite::types::Type::Text,
            format!("token scope {scope:?}").into(),
        )
    })?;
    Ok(TokenRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        scope,
        created: r.get(3)?,
        expires: r.get(4)?,
        revoked: r.get(5)?,
    })
}

fn by_name(conn: &Connection, name: &str) -> Result<Option<TokenRecord>, LedgerError> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM tokens WHERE name = ?1"),
        [name],
        read,
    )
    .optional()
    .map_err(db("reading a token"))
}

impl Tokens<'_> {
    /// Inserts a token row, audited as `token.create` (the row, never the hash). `Ok(None)`
    /// when its id is already taken (the caller draws another).
    pub(crate) fn insert(&self, new: &NewTokenRow<'_>) -> Result<Option<TokenRecord>, TokenError> {
        check_name(new.name)?;
        let tx = write_tx(self.conn)?;
        if by_name(&tx, new.name)?.is_some() {
            return Err(TokenError::Duplicate {
                name: new.name.to_string(),
            });
        }
        let taken = tx
            .query_row("SELECT 1 FROM tokens WHERE id = ?1", [new.id], |_| Ok(()))
            .optional()
            .map_err(db("reading a token"))?
            .is_some();
        if taken {
            return Ok(None);
        }
        tx.execute(
            "INSERT INTO tokens (id, name, scope, sha256, created, expires)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                new.id,
                new.name,
                new.scope.as_str(),
                &new.sha256[..],
                new.created,
                new.expires
            ],
        )
        .map_err(db("adding a token"))?;
        let record = by_name(&tx, new.name)?.ok_or_else(|| LedgerError::Corrupt {
            what: format!("token {} vanished", new.name),
        })?;
        audit_in(
            &tx,
            "token.create",
            new.name,
            &serde_json::json!({ "before": null, "after": record }),
        )?;
        tx.commit().map_err(db("committing a token"))?;
        Ok(Some(record))
    }

    /// The token with public id `id` and the SHA-256 of its text, if there is one.
    pub(crate) fn by_id(&self, id: &str) -> Result<Option<(TokenRecord, Vec<u8>)>, LedgerError> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS}, sha256 FROM tokens WHERE id = ?1"),
                [id],
                |r| Ok((read(r)?, r.get::<_, Vec<u8>>(6)?)),
            )
            .optional()
            .map_err(db("reading a token"))
    }

    /// The token named `name`, if any.
    ///
    /// # Errors
    /// A database error.
    pub fn get(&self, name: &str) -> Result<Option<TokenRecord>, LedgerError> {
        by_name(self.conn, name)
    }

    /// Every token, revoked ones included, in the order they were made.
    ///
    /// # Errors
    /// A database error.
    pub fn list(&self) -> Result<Vec<TokenRecord>, LedgerError> {
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM tokens ORDER BY created, name"
            ))
            .map_err(db("listing tokens"))?;
        let rows = st.query_map([], read).map_err(db("listing tokens"))?;
        rows.collect::<Result<_, _>>().map_err(db("listing tokens"))
    }

    /// Revokes the token named `name` at `now`, audited as `token.revoke` with the row
    /// before and after; returns the revoked row.
    ///
    /// # Errors
    /// [`TokenError::Unknown`], [`TokenError::AlreadyRevoked`], or a ledger error.
    pub fn revoke(&self, name: &str, now: i64) -> Result<TokenRecord, TokenError> {
        let tx = write_tx(self.conn)?;
        let before = by_name(&tx, name)?.ok_or_else(|| TokenError::Unknown {
            name: name.to_string(),
        })?;
        if let Some(at) = before.revoked {
            return Err(TokenError::AlreadyRevoked {
                name: name.to_string(),
                at,
            });
        }
        tx.execute(
            "UPDATE tokens SET revoked = ?1 WHERE name = ?2",
            params![now, name],
        )
        .map_err(db("revoking a token"))?;
        let after = TokenRecord {
            revoked: Some(now),
            ..before.clone()
        };
        audit_in(
            &tx,
            "token.revoke",
            name,
            &serde_json::json!({ "before": before, "after": after }),
        )?;
        tx.commit().map_err(db("committing a token's revocation"))?;
        Ok(after)
    }
}
