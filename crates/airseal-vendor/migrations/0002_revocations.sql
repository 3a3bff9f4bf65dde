-- Migration 2: revocations (SPEC.md §13) and the revocation lists exported from them.
--
-- Shipped: never edit this file; add a new migration instead.

CREATE TABLE revocations (
    id      INTEGER PRIMARY KEY,
    kind    TEXT NOT NULL CHECK (kind IN ('license', 'key', 'min_issued_at')),
    product TEXT,
    value   TEXT NOT NULL,
    at      INTEGER NOT NULL,
    reason  TEXT,
    UNIQUE (kind, product, value)
) STRICT;

CREATE TABLE revocation_lists (
    seq     INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    entries INTEGER NOT NULL
) STRICT;
