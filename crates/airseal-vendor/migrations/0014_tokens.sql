-- Migration 14: `tokens`, the bearer tokens of `airseal serve` (`airseal tokens`), and the
-- actor of each audit row.
--
-- A token reads `airseal_<scope>_<id>_<secret>`. The ledger keeps its id (public: the
-- lookup), its name (what the audit log says), its scope and the SHA-256 of the whole text;
-- never the text, which is shown once when the token is made. `revoked` is when it was
-- revoked (NULL while it works); a token row is never deleted, so its name is never reused
-- and old audit rows keep naming one token.
--
-- `audit.actor` says who made a change through the service (`token:<name>` for the admin
-- API, `portal:<client address>` for the portal); NULL for a local command.
--
-- Shipped: never edit this file; add a new migration instead.

CREATE TABLE tokens (
    id      TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 8),
    name    TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),
    scope   TEXT NOT NULL CHECK (scope IN ('admin', 'portal')),
    sha256  BLOB NOT NULL CHECK (length(sha256) = 32),
    created INTEGER NOT NULL,
    expires INTEGER,
    revoked INTEGER
) STRICT;

ALTER TABLE audit ADD COLUMN actor TEXT;
