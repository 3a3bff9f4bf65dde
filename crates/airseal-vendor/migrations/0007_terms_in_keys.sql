-- Migration 7: the terms move into the key's row (src/ledger/terms.rs explains
-- why). The SQL above the data-step line adds the columns and the index; the Rust data step
-- `move_key_terms` (src/ledger/terms.rs) then converts the rows of `key_terms`, and the
-- SQL below the line drops the old table, all in one transaction.
--
-- `key_shapes` lists, per product, the shapes of keys with terms that have no `loose` entry
-- (`lookup.rs` explains shapes); `slots` is how many characters of a loose form the shape
-- holds, so a lookup reads only the shapes an entry could fit.
--
-- Shipped: never edit this file; add a new migration instead.

ALTER TABLE keys ADD COLUMN terms BLOB;
ALTER TABLE keys ADD COLUMN loose TEXT;
CREATE INDEX keys_loose ON keys (product, loose) WHERE loose IS NOT NULL;

CREATE TABLE key_shapes (
    product TEXT NOT NULL REFERENCES products(id),
    shape   TEXT NOT NULL,
    slots   INTEGER NOT NULL CHECK (slots > 0),
    PRIMARY KEY (product, shape)
) STRICT, WITHOUT ROWID;

-- airseal:data-step

DROP INDEX key_terms_loose;
DROP TABLE key_terms;
