-- Migration 8: what revoking a key changed, so that `airseal revoke --undo` can put it
-- back, and two partial indexes so that building a revocation list reads only what it
-- lists (`SPEC.md` §17.4).
--
-- `prior_status` is the key's status before a `key` revocation set it to `revoked` (NULL
-- for other kinds, and for key revocations recorded before this migration, which changed
-- no status). `keys_revoked` holds only revoked keys (every key's status is in the list,
-- however it got there: `revoke`, or an import of a key revoked on the old platform), and
-- `activations_deactivated` only freed seats, whose licenses the list names.
--
-- Shipped: never edit this file; add a new migration instead.

ALTER TABLE revocations ADD COLUMN prior_status TEXT
    CHECK (prior_status IS NULL OR prior_status = 'active' OR prior_status = 'suspended');

CREATE INDEX keys_revoked ON keys (product, key) WHERE status = 'revoked';
CREATE INDEX activations_deactivated ON activations (license_id)
    WHERE deactivated_at IS NOT NULL;
