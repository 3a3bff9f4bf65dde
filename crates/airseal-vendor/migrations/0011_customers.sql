-- Migration 11: `customers`, the people and companies keys are sold to (`airseal customers`).
--
-- A customer is found by its number (what `customers add` prints and `keys update
-- --customer` takes) or by its e-mail address, unique without regard to case. Which
-- customer a key belongs to is kept in the key's terms record (`keys.terms`, field 41,
-- src/ledger/terms.rs), beside the vendor's other per-key settings, so linking a key adds
-- no column to the largest table.
--
-- Shipped: never edit this file; add a new migration instead.

CREATE TABLE customers (
    id      INTEGER PRIMARY KEY,
    email   TEXT NOT NULL COLLATE NOCASE UNIQUE CHECK (length(email) > 0),
    name    TEXT,
    org     TEXT,
    notes   TEXT,
    created INTEGER NOT NULL
) STRICT;
