-- IoT monitoring: devices at schools, the messages they sent (for de-duplication), their
-- readings (append-only, pruned by age), the latest value per metric, the persisted state
-- of each threshold rule, and alarms with their append-only history. One open alarm per
-- device and type is enforced by a partial unique index.

CREATE TABLE devices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES orgs (id),
    code TEXT NOT NULL,
    kind TEXT NOT NULL,
    location TEXT NOT NULL,
    key_area TEXT NOT NULL DEFAULT '',
    overrides TEXT NOT NULL DEFAULT '{}',
    -- SHA-256 (hex) of the device's secret; the secret itself is shown once at creation.
    secret_hash TEXT NOT NULL UNIQUE,
    online SMALLINT NOT NULL DEFAULT 0,
    last_seen_at BIGINT,
    battery REAL,
    signal REAL,
    accepted BIGINT NOT NULL DEFAULT 0,
    duplicates BIGINT NOT NULL DEFAULT 0,
    malformed BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    retired_at BIGINT,
    created_by BIGINT REFERENCES users (id),
    created_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX devices_code ON devices (school_id, code);

CREATE TABLE device_messages (
    device_id BIGINT NOT NULL REFERENCES devices (id),
    msg_id TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, msg_id)
);
CREATE INDEX device_messages_received ON device_messages (received_at);

CREATE TABLE readings (
    device_id BIGINT NOT NULL REFERENCES devices (id),
    at BIGINT NOT NULL,
    metric TEXT NOT NULL,
    value REAL NOT NULL
);
CREATE INDEX readings_device_at ON readings (device_id, at);

CREATE TABLE latest_values (
    device_id BIGINT NOT NULL REFERENCES devices (id),
    metric TEXT NOT NULL,
    at BIGINT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (device_id, metric)
);

CREATE TABLE rule_states (
    device_id BIGINT NOT NULL REFERENCES devices (id),
    metric TEXT NOT NULL,
    above BIGINT NOT NULL,
    firing SMALLINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, metric)
);

CREATE TABLE alarms (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id BIGINT NOT NULL REFERENCES devices (id),
    school_id BIGINT NOT NULL REFERENCES orgs (id),
    alarm_type TEXT NOT NULL,
    severity TEXT NOT NULL,
    condition TEXT NOT NULL CHECK (condition IN ('active', 'cleared')),
    acked SMALLINT NOT NULL DEFAULT 0,
    closed SMALLINT NOT NULL DEFAULT 0,
    raised_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    cleared_at BIGINT,
    acked_at BIGINT,
    acked_by BIGINT REFERENCES users (id),
    closed_at BIGINT,
    closed_by BIGINT REFERENCES users (id),
    close_reason TEXT,
    occurrences BIGINT NOT NULL DEFAULT 1,
    trigger_value REAL,
    peak_value REAL,
    hazard_id BIGINT REFERENCES hazards (id),
    version BIGINT NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX alarms_one_open ON alarms (device_id, alarm_type) WHERE closed = 0;
CREATE INDEX alarms_school ON alarms (school_id, closed, id);

CREATE TABLE alarm_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    alarm_id BIGINT NOT NULL REFERENCES alarms (id),
    at BIGINT NOT NULL,
    action TEXT NOT NULL,
    actor_login TEXT NOT NULL,
    value REAL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX alarm_events_alarm ON alarm_events (alarm_id, id);
CREATE TRIGGER alarm_events_no_update BEFORE UPDATE ON alarm_events
BEGIN
    SELECT RAISE(ABORT, 'alarm_events is append-only');
END;
CREATE TRIGGER alarm_events_no_delete BEFORE DELETE ON alarm_events
BEGIN
    SELECT RAISE(ABORT, 'alarm_events is append-only');
END;
