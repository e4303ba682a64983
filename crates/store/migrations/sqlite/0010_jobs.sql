-- The job queue: work that runs in the background on any app node. A worker claims due jobs
-- with a lease (owner and expiry), extends it while working and records the outcome; a
-- job whose lease lapses (its node died) is claimed again by another. `dedupe_key` makes
-- periodic work (one escalation round per slot) enqueue once however many nodes schedule
-- it. States: queued, running, done, dead (out of attempts, last error kept), cancelled.
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    dedupe_key TEXT,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'dead', 'cancelled')),
    run_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX jobs_dedupe ON jobs (kind, dedupe_key);
CREATE INDEX jobs_due ON jobs (state, run_at);
