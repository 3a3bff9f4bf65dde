-- Migration 9: seats that hold and terms that end (SPEC.md §17.1, §17.2).
--
-- `keys.term_start` is when the key's term began, in seconds since 1970: written once, in
-- the transaction that first activates the key (its first activation's time, or its
-- batch's creation when the template says `term_starts = "creation"`), and never changed by
-- moving between machines, releases, deactivations or activating again. NULL: the term has
-- not started. Keys that were activated before this migration take their first
-- activation's time.
--
-- `seat_components` keeps the component hashes of every request answered on a seat (the
-- one that took it and each re-issue), never overwritten; `matched` is how many of the
-- seat's own components the request had (NULL for the request that took the seat). From
-- here on `activations.components` is the seat's machine as first activated: a later
-- request is answered on the seat only when it meets the seat's threshold against them.
--
-- A seat belongs to a machine, not to a device key alone: the same device key asking from
-- another machine (a copied device.key) needs a seat of its own, so the unique index on
-- live seats per (product, key, device key) becomes a plain one. Trials keep theirs: a
-- device key that had a trial never gets another.
--
-- Shipped: never edit this file; add a new migration instead.

ALTER TABLE keys ADD COLUMN term_start INTEGER;

UPDATE keys SET term_start = (
    SELECT min(a.activated_at) FROM activations a
    WHERE a.product = keys.product AND a.key = keys.key
)
WHERE (product, key) IN (SELECT product, key FROM activations WHERE key IS NOT NULL);

CREATE TABLE seat_components (
    id            INTEGER PRIMARY KEY,
    activation    INTEGER NOT NULL REFERENCES activations(id),
    at            INTEGER NOT NULL,
    request_nonce BLOB NOT NULL CHECK (length(request_nonce) = 16),
    components    BLOB NOT NULL
                  CHECK (length(components) BETWEEN 8 AND 128 AND length(components) % 8 = 0),
    matched       INTEGER CHECK (matched IS NULL OR matched >= 0)
) STRICT;

CREATE INDEX seat_components_by_activation ON seat_components (activation);

INSERT INTO seat_components (activation, at, request_nonce, components)
SELECT id, coalesce(reissued_at, activated_at), request_nonce, components
FROM activations ORDER BY id;

DROP INDEX activations_live_seat;
CREATE INDEX activations_live_seat ON activations (product, key, device_key)
    WHERE deactivated_at IS NULL AND key IS NOT NULL;
