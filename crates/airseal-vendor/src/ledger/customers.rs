//! Customers (migration 11): who a vendor sells keys to. A key is linked to one through its
//! terms record (`terms.rs`), set by [`crate::keys::ops::update`]; `airseal ledger keys
//! --customer` lists a customer's keys.

use super::db::{Connection, OptionalExtension as _, Row, params};
use serde::Serialize;

use super::audit::audit_in;
use super::connection::write_tx;
use super::error::db;
use super::{Ledger, LedgerError, now};

/// Why a customer could not be added.
#[non_exhaustive]
#[derive(Debug)]
pub enum CustomerError {
    /// The ledger failed.
    Ledger(LedgerError),
    /// The e-mail address has no `@` or holds spaces.
    BadEmail {
        /// The address given.
        email: String,
    },
    /// A field holds a control character.
    Text(crate::ids::TextError),
    /// A customer already has this e-mail address.
    Duplicate {
        /// The address.
        email: String,
        /// The customer that has it.
        id: i64,
    },
}

impl std::fmt::Display for CustomerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ledger(e) => e.fmt(f),
            Self::BadEmail { email } => write!(f, "{email:?} is not an e-mail address"),
            Self::Text(e) => e.fmt(f),
            Self::Duplicate { email, id } => {
                write!(f, "customer {id} already has the e-mail address {email}")
            }
        }
    }
}

impl std::error::Error for CustomerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Ledger(e) => Some(e),
            _ => None,
        }
    }
}

impl From<LedgerError> for CustomerError {
    fn from(e: LedgerError) -> Self {
        Self::Ledger(e)
    }
}

/// A customer as the ledger records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Customer {
    /// Its number.
    pub id: i64,
    /// Its e-mail address (unique, case ignored).
    pub email: String,
    /// The person's name.
    pub name: Option<String>,
    /// The organisation.
    pub org: Option<String>,
    /// The vendor's notes.
    pub notes: Option<String>,
    /// When it was added (seconds since 1970).
    pub created: i64,
}

/// A customer to add.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewCustomer {
    /// E-mail address (required).
    pub email: String,
    /// Name.
    pub name: Option<String>,
    /// Organisation.
    pub org: Option<String>,
    /// Notes.
    pub notes: Option<String>,
}

/// The customers of a ledger: `ledger.customers()`.
#[derive(Clone, Copy, Debug)]
pub struct Customers<'a> {
    pub(super) conn: &'a Connection,
}

impl Ledger {
    /// Customers.
    pub fn customers(&self) -> Customers<'_> {
        Customers {
            conn: self.connection(),
        }
    }
}

const COLUMNS: &str = "id, email, name, org, notes, created";

fn read(r: &Row<'_>) -> rusqlite::Result<Customer> {
    Ok(Customer {
        id: r.get(0)?,
        email: r.get(1)?,
        name: r.get(2)?,
        org: r.get(3)?,
        notes: r.get(4)?,
        created: r.get(5)?,
    })
}

/// Text a person left empty is no text.
fn given(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl Customers<'_> {
    /// Adds a customer, audited as `customer.add`; returns it with its number.
    ///
    /// # Errors
    /// [`CustomerError::BadEmail`] for an address without `@` or with spaces,
    /// [`CustomerError::Text`] for a control character in any field,
    /// [`CustomerError::Duplicate`] when the address is already a customer's, or a ledger
    /// error.
    pub fn add(&self, c: &NewCustomer) -> Result<Customer, CustomerError> {
        for (field, text) in [
            ("e-mail", Some(&c.email)),
            ("name", c.name.as_ref()),
            ("organisation", c.org.as_ref()),
            ("notes", c.notes.as_ref()),
        ] {
            if let Some(text) = text {
                crate::ids::check_text(field, text).map_err(CustomerError::Text)?;
            }
        }
        let email = c.email.trim();
        if !email.contains('@') || email.chars().any(char::is_whitespace) {
            return Err(CustomerError::BadEmail {
                email: email.to_string(),
            });
        }
        let tx = write_tx(self.conn)?;
        if let Some(existing) = by_email(&tx, email)? {
            return Err(CustomerError::Duplicate {
                email: email.to_string(),
                id: existing.id,
            });
        }
        let (name, org, notes) = (given(&c.name), given(&c.org), given(&c.notes));
        tx.execute(
            "INSERT INTO customers (email, name, org, notes, created)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![email, name, org, notes, now()],
        )
        .map_err(db("adding a customer"))?;
        let id = tx
            .last_insert_rowid()
            .map_err(db("reading the new row's id"))?;
        let customer = tx
            .query_row(
                &format!("SELECT {COLUMNS} FROM customers WHERE id = ?1"),
                [id],
                read,
            )
            .map_err(db("reading a customer"))?;
        audit_in(
            &tx,
            "customer.add",
            &id.to_string(),
            &serde_json::json!({ "before": null, "after": customer }),
        )?;
        tx.commit().map_err(db("committing a customer"))?;
        Ok(customer)
    }

    /// One customer, if there is one with this number.
    ///
    /// # Errors
    /// A database error.
    pub fn get(&self, id: i64) -> Result<Option<Customer>, LedgerError> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM customers WHERE id = ?1"),
                [id],
                read,
            )
            .optional()
            .map_err(db("reading a customer"))
    }

    /// The customer with this e-mail address (case ignored), if any.
    ///
    /// # Errors
    /// A database error.
    pub fn by_email(&self, email: &str) -> Result<Option<Customer>, LedgerError> {
        by_email(self.conn, email.trim())
    }

    /// Every customer, by number.
    ///
    /// # Errors
    /// A database error.
    pub fn list(&self) -> Result<Vec<Customer>, LedgerError> {
        let mut st = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM customers ORDER BY id"))
            .map_err(db("listing customers"))?;
        let rows = st.query_map([], read).map_err(db("listing customers"))?;
        rows.collect::<Result<_, _>>()
            .map_err(db("listing customers"))
    }
}

fn by_email(conn: &Connection, email: &str) -> Result<Option<Customer>, LedgerError> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM customers WHERE email = ?1"),
        [email],
        read,
    )
    .optional()
    .map_err(db("reading a customer"))
}
