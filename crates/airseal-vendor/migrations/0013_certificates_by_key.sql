-- Migration 13: a certificate is identified by its issuing key's id, not by its serial
-- (`SPEC.md` §18.10). Two vendor folders copied from one (`cp -a`) hand out the same
-- serials; a certificate the root signed must still be importable and revocable here, so
-- `serial` is no longer unique (it is for people: listings and audit), and `kid` is the
-- table's key. Same columns and checks as migration 12 otherwise.
--
-- Shipped: never edit this file; add a new migration instead.

CREATE TABLE certificates_by_key (
    kid         TEXT PRIMARY KEY CHECK (length(kid) = 16),
    serial      INTEGER NOT NULL CHECK (serial >= 1),
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
) STRICT, WITHOUT ROWID;

INSERT INTO certificates_by_key (kid, serial, root_kid, not_before, not_after, products,
    may_sign, seq_lo, seq_hi, certificate, created, revoked_at, reason, listed_seq)
SELECT kid, serial, root_kid, not_before, not_after, products, may_sign, seq_lo, seq_hi,
    certificate, created, revoked_at, reason, listed_seq
FROM certificates;

DROP TABLE certificates;
ALTER TABLE certificates_by_key RENAME TO certificates;
CREATE INDEX certificates_serial ON certificates (serial);
