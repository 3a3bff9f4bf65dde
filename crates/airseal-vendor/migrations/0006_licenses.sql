-- Migration 6: `licenses`, one row per signed license document.
--
-- `token_id` (the `cti`) is the key: a license id (`sub`) is shared by every response
-- re-issued on one seat. The table keeps its rowid, so listing in rowid order lists
-- licenses in the order they were recorded (a batch in the import's order) without a sort.
-- `activation` is set exactly for activation responses and `batch` exactly for batch
-- issues (the CHECKs).
--
-- A key is searched by its spelling with case and separators ignored (`KEY_FORM` in src/ledger/licenses.rs): a
-- license holds its key as it was given (imported keys verbatim, `SPEC.md` §16; `issue
-- --product-key` as typed), and a vendor types it as the customer reads it. That form
-- leads the key index and the product follows, so one index serves a key alone and a key
-- with its product; listing a whole product reads most of the table anyway. The e-mail
-- index serves exact lookups; `ledger licenses --email` searches "contains", like the
-- other listings, and scans.
--
-- The word checks are written as `=` … `OR`, not `IN (…)`: SQLite builds an ephemeral
-- table for a constant `IN` list each time the statement runs, which is once per row here
-- (measured with `examples/ledger_licenses.rs`: 100,000 rows took 0.78 s with `IN`,
-- about 0.5 s without).
--
-- Shipped: never edit this file; add a new migration instead.

CREATE TABLE licenses (
    token_id    BLOB NOT NULL PRIMARY KEY CHECK (length(token_id) BETWEEN 1 AND 32),
    license_id  TEXT NOT NULL,
    product     TEXT NOT NULL,
    product_key TEXT,
    kind        TEXT NOT NULL
                CHECK (kind = 'perpetual' OR kind = 'subscription' OR kind = 'trial'),
    email       TEXT,
    name        TEXT,
    issued_at   INTEGER NOT NULL,
    expires_at  INTEGER,
    source      TEXT NOT NULL
                CHECK (source = 'issue' OR source = 'batch' OR source = 'activation'),
    activation  INTEGER REFERENCES activations(id),
    batch       INTEGER REFERENCES batches(id),
    CHECK ((source = 'activation') = (activation IS NOT NULL)),
    CHECK ((source = 'batch') = (batch IS NOT NULL))
) STRICT;

CREATE INDEX licenses_by_license_id ON licenses (license_id);
CREATE INDEX licenses_by_key ON licenses (
    lower(replace(replace(replace(replace(product_key, '-', ''), ' ', ''), '_', ''), '.', '')),
    product
) WHERE product_key IS NOT NULL;
CREATE INDEX licenses_by_email ON licenses (email) WHERE email IS NOT NULL;
