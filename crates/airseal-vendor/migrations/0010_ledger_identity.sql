-- Migration 10: the ledger's identity, and the output files `keys generate` is writing.
--
-- `ledger_identity` holds one row: a random id made when the ledger gets this migration
-- (a new ledger at creation, an older one when this build first opens it). The vendor
-- folder keeps the same id in `ledger.id` beside `airseal.toml` (`SPEC.md` §17.5), so a
-- ledger that is missing, empty or another folder's is refused instead of being recreated
-- or used silently. The id never changes: a restored backup carries it.
--
-- `batch_outputs` names the output of every `keys generate` run that has started and not
-- yet published its file, written and committed before the run's long transaction begins.
-- A run killed before publication leaves its row, so `keys recover` knows which folders
-- hold its temporary file. The row goes when the file is published or the run fails.
CREATE TABLE ledger_identity (
    one     INTEGER PRIMARY KEY CHECK (one = 1),
    id      TEXT NOT NULL CHECK (length(id) = 32),
    created INTEGER NOT NULL
) STRICT;

INSERT INTO ledger_identity (one, id, created)
VALUES (1, lower(hex(randomblob(16))), unixepoch());

CREATE TABLE batch_outputs (
    path    TEXT PRIMARY KEY NOT NULL,
    started INTEGER NOT NULL
) STRICT;
