-- Migration 4: activations (seats and trials), the responses issued for them, trial
-- component hashes, and accepted deactivation proofs.
--
-- `activations.key` is NULL for a trial (the CHECK ties it to `purpose`); the composite
-- foreign key is then not enforced, as SQL specifies for NULLs. `components` is the
-- request's hashes end to end (8 bytes each) and `threshold` the binding's, as signed.
-- `response` is the last signed response, so a re-issue keeps the license's terms and
-- `airseal ledger` can show them. `token_id` and `request_nonce` are those of that last
-- response; `responses` keeps every one ever issued, because a deactivation proof may
-- name any of them (the device may not have installed the newest).
--
-- Shipped: never edit this file; add a new migration instead.

CREATE TABLE activations (
    id             INTEGER PRIMARY KEY,
    product        TEXT NOT NULL REFERENCES products(id),
    key            TEXT,
    purpose        TEXT NOT NULL CHECK (purpose IN ('activation', 'trial')),
    device_key     BLOB NOT NULL CHECK (length(device_key) = 32),
    device_kid     BLOB NOT NULL CHECK (length(device_kid) = 8),
    license_id     TEXT NOT NULL UNIQUE,
    token_id       BLOB NOT NULL,
    components     BLOB NOT NULL
                   CHECK (length(components) BETWEEN 8 AND 128 AND length(components) % 8 = 0),
    threshold      INTEGER NOT NULL CHECK (threshold >= 1 AND threshold * 8 <= length(components)),
    request_nonce  BLOB NOT NULL CHECK (length(request_nonce) = 16),
    activated_at   INTEGER NOT NULL,
    reissued_at    INTEGER,
    reissues       INTEGER NOT NULL DEFAULT 0 CHECK (reissues >= 0),
    deactivated_at INTEGER,
    deactivated_by TEXT CHECK (deactivated_by IN ('proof', 'vendor')),
    app_version    TEXT,
    meters         TEXT CHECK (meters IS NULL OR json_valid(meters)),
    email          TEXT,
    response       BLOB NOT NULL,
    CHECK ((purpose = 'trial') = (key IS NULL)),
    CHECK ((deactivated_at IS NULL) = (deactivated_by IS NULL)),
    FOREIGN KEY (product, key) REFERENCES keys(product, key)
) STRICT;

CREATE UNIQUE INDEX activations_live_seat ON activations (product, key, device_key)
    WHERE deactivated_at IS NULL AND key IS NOT NULL;
CREATE UNIQUE INDEX activations_live_trial ON activations (product, device_key)
    WHERE deactivated_at IS NULL AND key IS NULL;
CREATE INDEX activations_by_key ON activations (product, key);
CREATE INDEX activations_by_device ON activations (device_kid);
CREATE INDEX activations_by_email ON activations (email) WHERE email IS NOT NULL;

CREATE TABLE responses (
    token_id      BLOB PRIMARY KEY,
    activation    INTEGER NOT NULL REFERENCES activations(id),
    request_nonce BLOB NOT NULL CHECK (length(request_nonce) = 16),
    issued_at     INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX responses_by_activation ON responses (activation);

CREATE TABLE trial_components (
    product    TEXT NOT NULL,
    hash       BLOB NOT NULL CHECK (length(hash) = 8),
    activation INTEGER NOT NULL REFERENCES activations(id),
    PRIMARY KEY (product, hash, activation)
) STRICT, WITHOUT ROWID;

CREATE TABLE deactivation_proofs (
    nonce       BLOB PRIMARY KEY CHECK (length(nonce) = 16),
    activation  INTEGER NOT NULL REFERENCES activations(id),
    token_id    BLOB NOT NULL,
    created     INTEGER NOT NULL,
    accepted_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
