//! Products and their license templates, as `airseal.toml` declares them: every other table
//! names a product recorded here.

use super::db::{Connection, OptionalExtension as _, params};

use super::audit::audit_in;
use super::connection::write_tx;
use super::error::db;
use super::{Ledger, LedgerError, now};

/// A product as the ledger knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Product {
    /// The product id (license `aud`).
    pub id: String,
    /// Human-readable name.
    pub name: Option<String>,
    /// When it was first recorded (seconds since 1970).
    pub created: i64,
}

/// The products and templates of a ledger: `ledger.products()`.
#[derive(Clone, Copy, Debug)]
pub struct Products<'a> {
    pub(super) conn: &'a Connection,
}

impl Ledger {
    /// Products and their templates.
    pub fn products(&self) -> Products<'_> {
        Products {
            conn: self.connection(),
        }
    }
}

impl Products<'_> {
    /// Records a product, or renames it when `name` is given and differs. Returns whether
    /// anything changed. Idempotent, so the CLI can call it for every product in
    /// `airseal.toml` on every run.
    ///
    /// # Errors
    /// [`LedgerError::EmptyProductId`], or a database error.
    pub fn ensure(&self, id: &str, name: Option<&str>) -> Result<bool, LedgerError> {
        if id.is_empty() {
            return Err(LedgerError::EmptyProductId);
        }
        // Reading first without a lock keeps the common case (nothing to do) lock-free.
        let existing = self.get(id)?;
        if let Some(p) = &existing {
            if name.is_none() || name == p.name.as_deref() {
                return Ok(false);
            }
        }
        let tx = write_tx(self.conn)?;
        let current: Option<Option<String>> = tx
            .query_row("SELECT name FROM products WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db("reading a product"))?;
        let changed = match current {
            None => {
                tx.execute(
                    "INSERT INTO products (id, name, created) VALUES (?1, ?2, ?3)",
                    params![id, name, now()],
                )
                .map_err(db("recording a product"))?;
                audit_in(
                    &tx,
                    "product.create",
                    id,
                    &serde_json::json!({ "name": name }),
                )?;
                true
            }
            Some(old) if name.is_some() && name != old.as_deref() => {
                tx.execute(
                    "UPDATE products SET name = ?2 WHERE id = ?1",
                    params![id, name],
                )
                .map_err(db("renaming a product"))?;
                audit_in(
                    &tx,
                    "product.rename",
                    id,
                    &serde_json::json!({ "from": old, "to": name }),
                )?;
                true
            }
            Some(_) => false,
        };
        tx.commit().map_err(db("committing a product"))?;
        Ok(changed)
    }

    /// One product, if recorded.
    ///
    /// # Errors
    /// A database error.
    pub fn get(&self, id: &str) -> Result<Option<Product>, LedgerError> {
        self.conn
            .query_row(
                "SELECT id, name, created FROM products WHERE id = ?1",
                [id],
                |r| {
                    Ok(Product {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        created: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(db("reading a product"))
    }

    /// Every product, by id.
    ///
    /// # Errors
    /// A database error.
    pub fn list(&self) -> Result<Vec<Product>, LedgerError> {
        let mut st = self
            .conn
            .prepare("SELECT id, name, created FROM products ORDER BY id")
            .map_err(db("listing products"))?;
        let rows = st
            .query_map([], |r| {
                Ok(Product {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    created: r.get(2)?,
                })
            })
            .map_err(db("listing products"))?;
        rows.collect::<Result<_, _>>()
            .map_err(db("listing products"))
    }

    /// Stores (or replaces) a license template of a product, as the TOML text it was read
    /// from. Audited only when the text changes.
    ///
    /// # Errors
    /// [`LedgerError::UnknownProduct`], or a database error.
    pub fn put_template(&self, product: &str, name: &str, body: &str) -> Result<bool, LedgerError> {
        // Reading first without a lock keeps the common case (nothing to do) lock-free, so a
        // command does not wait for a long batch to say nothing changed.
        let stored: Option<String> = self
            .conn
            .query_row(
                "SELECT body FROM templates WHERE product = ?1 AND name = ?2",
                [product, name],
                |r| r.get(0),
            )
            .optional()
            .map_err(db("reading a template"))?;
        if stored.as_deref() == Some(body) {
            return Ok(false);
        }
        let tx = write_tx(self.conn)?;
        require_product(&tx, product)?;
        let old: Option<String> = tx
            .query_row(
                "SELECT body FROM templates WHERE product = ?1 AND name = ?2",
                [product, name],
                |r| r.get(0),
            )
            .optional()
            .map_err(db("reading a template"))?;
        if old.as_deref() == Some(body) {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO templates (product, name, body, updated) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (product, name) DO UPDATE SET body = excluded.body,
                                                      updated = excluded.updated",
            params![product, name, body, now()],
        )
        .map_err(db("storing a template"))?;
        audit_in(
            &tx,
            if old.is_some() {
                "template.update"
            } else {
                "template.create"
            },
            &format!("{product}/{name}"),
            &serde_json::json!({ "body": body }),
        )?;
        tx.commit().map_err(db("committing a template"))?;
        Ok(true)
    }

    /// A product's template text, if stored.
    ///
    /// # Errors
    /// A database error.
    pub fn template(&self, product: &str, name: &str) -> Result<Option<String>, LedgerError> {
        self.conn
            .query_row(
                "SELECT body FROM templates WHERE product = ?1 AND name = ?2",
                [product, name],
                |r| r.get(0),
            )
            .optional()
            .map_err(db("reading a template"))
    }
}

pub(super) fn require_product(conn: &Connection, product: &str) -> Result<(), LedgerError> {
    let exists: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM products WHERE id = ?1)",
            [product],
            |r| r.get(0),
        )
        .map_err(db("reading a product"))?;
    if exists {
        Ok(())
    } else {
        Err(LedgerError::UnknownProduct {
            product: product.to_string(),
        })
    }
}
