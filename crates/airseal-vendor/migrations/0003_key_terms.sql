-- Migration 3 (superseded by migration 7, kept as shipped): `key_terms`, one optional row
-- per key, the spec as JSON.
--
-- Shipped: never edit this file; add a new migration instead.

CREATE TABLE key_terms (
    product             TEXT NOT NULL,
    key                 TEXT NOT NULL,
    template            TEXT,
    spec                TEXT NOT NULL CHECK (json_valid(spec)),
    email               TEXT,
    prior_activations   INTEGER NOT NULL DEFAULT 0 CHECK (prior_activations >= 0),
    prior_deactivations INTEGER NOT NULL DEFAULT 0 CHECK (prior_deactivations >= 0),
    source              TEXT,
    loose               TEXT NOT NULL,
    PRIMARY KEY (product, key),
    FOREIGN KEY (product, key) REFERENCES keys(product, key)
) STRICT, WITHOUT ROWID;

CREATE INDEX key_terms_loose ON key_terms (product, loose);
