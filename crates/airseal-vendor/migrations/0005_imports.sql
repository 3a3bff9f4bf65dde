-- Migration 5: `imports`, one row per committed import with its full report, and
-- `import_updates`, the existing keys an import replaced the terms of (`--update`).
--
-- The keys an import added are its batch's keys (`keys.batch`); the keys it updated stay in
-- the batch that first recorded them, so they are listed here to let licenses be issued for
-- "everything this import wrote".
--
-- Shipped: never edit this file; add a new migration instead.

CREATE TABLE imports (
    batch   INTEGER PRIMARY KEY REFERENCES batches(id),
    product TEXT NOT NULL REFERENCES products(id),
    preset  TEXT NOT NULL,
    file    TEXT NOT NULL,
    at      INTEGER NOT NULL,
    report  TEXT NOT NULL CHECK (json_valid(report))
) STRICT;

CREATE TABLE import_updates (
    batch   INTEGER NOT NULL REFERENCES batches(id),
    product TEXT NOT NULL,
    key     TEXT NOT NULL,
    PRIMARY KEY (batch, key),
    FOREIGN KEY (product, key) REFERENCES keys(product, key)
) STRICT, WITHOUT ROWID;
