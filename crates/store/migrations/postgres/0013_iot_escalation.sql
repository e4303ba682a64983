-- Monitoring, second part: gateways (one credential for many devices of a school: a
-- gateway, a video platform), silences (maintenance, drill and test windows that hold an
-- alarm's notifications), the escalation of unacknowledged alarms up the org tree, and the
-- per-device count of messages refused as a flood.

CREATE TABLE gateways (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    school_id BIGINT NOT NULL REFERENCES orgs (id),
    name TEXT NOT NULL,
    -- SHA-256 (hex) of the token; the token itself is shown once at creation.
    token_hash TEXT NOT NULL UNIQUE,
    accepted BIGINT NOT NULL DEFAULT 0,
    last_seen_at BIGINT,
    retired_at BIGINT,
    created_by BIGINT REFERENCES users (id),
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX gateways_name ON gateways (school_id, name);

CREATE TABLE alarm_silences (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    school_id BIGINT NOT NULL REFERENCES orgs (id),
    -- One device, or every device of the school when NULL.
    device_id BIGINT REFERENCES devices (id),
    reason TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    created_by BIGINT REFERENCES users (id),
    created_at BIGINT NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX alarm_silences_school ON alarm_silences (school_id, ends_at);

-- Notifications of an alarm raised in a silence wait until it ends.
ALTER TABLE alarms ADD COLUMN silenced_until BIGINT;
-- The last time people were told of the alarm (its raise or a reminder); NULL: not yet.
ALTER TABLE alarms ADD COLUMN notified_at BIGINT;
-- How far up it went unacknowledged: 0 the school, 1 the centre, 2 the bureau.
ALTER TABLE alarms ADD COLUMN level SMALLINT NOT NULL DEFAULT 0;
UPDATE alarms SET notified_at = raised_at;
CREATE INDEX alarms_unacked ON alarms (closed, acked, raised_at);

ALTER TABLE devices ADD COLUMN flooded BIGINT NOT NULL DEFAULT 0;
