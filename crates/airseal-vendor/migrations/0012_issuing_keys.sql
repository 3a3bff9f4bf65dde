-- Migration 12: issuing keys certified by the root (`SPEC.md` §18), and which key signed
-- each license, response and revocation list.
--
-- `certificates` holds one row per certificate `airseal issuing-key create` signed. The
-- serial is the ledger's (from 1, never reused: rowid without AUTOINCREMENT could reuse the
-- highest after a delete, and rows are never deleted). `kid` is the issuing key's id,
-- `root_kid` the id of the root that signed the certificate, both in their hex display
-- form. `products` is a JSON array of product ids, NULL for every product. `may_sign` is the
-- certificate's bitmask (1 licenses, 2 activation responses and updates, 4 revocation lists,
-- 8 signed product keys); `seq_lo`/`seq_hi` the range of revocation list numbers it may use,
-- present exactly when bit 4 is set. `certificate` is the signed certificate as written to
-- issuing.cert (raw COSE). A revoked key has `revoked_at` (and `prior` nothing: undo sets it
-- back to NULL); `listed_seq` is the first exported list that named it revoked, NULL until
-- then (a list that is the first to name one must be signed by the root).
--
-- `signed_by` (licenses, revocation_lists): the id of the key whose signature the document
-- carries, the issuing key's for a chained one, the root's otherwise; NULL for rows
-- recorded before this migration.
--
-- Shipped: never edit this file; add a new migration instead.

CREATE TABLE certificates (
    serial      INTEGER PRIMARY KEY CHECK (serial >= 1),
    kid         TEXT NOT NULL UNIQUE CHECK (length(kid) = 16),
    root_kid    TEXT NOT NULL CHECK (length(root_kid) = 16),
    not_before  INTEGER NOT NULL,
    not_after   INTEGER NOT NULL,
    products    TEXT,
    may_sign    INTEGER NOT NULL CHECK (may_sign BETWEEN 1 AND 15),
    seq_lo      INTEGER,
    seq_hi      INTEGER,
    certificate BLOB NOT NULL,
    created     INTEGER NOT NULL,
    revoked_at  INTEGER,
    reason      TEXT,
    listed_seq  INTEGER,
    CHECK (not_after > not_before),
    CHECK ((seq_lo IS NULL) = (seq_hi IS NULL)),
    CHECK (((may_sign & 4) != 0) = (seq_lo IS NOT NULL)),
    CHECK (seq_lo IS NULL OR (seq_lo >= 0 AND seq_lo < seq_hi)),
    CHECK (listed_seq IS NULL OR revoked_at IS NOT NULL)
) STRICT;

ALTER TABLE licenses ADD COLUMN signed_by TEXT CHECK (signed_by IS NULL OR length(signed_by) = 16);
ALTER TABLE revocation_lists ADD COLUMN signed_by TEXT
    CHECK (signed_by IS NULL OR length(signed_by) = 16);
