-- The hazard closed loop: hazards, their append-only history, attachments (photos) and
-- per-school yearly numbering.

CREATE TABLE attachments (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uploader_id BIGINT NOT NULL REFERENCES users (id),
    stored_name TEXT NOT NULL UNIQUE,
    original_name TEXT NOT NULL,
    mime TEXT NOT NULL,
    size BIGINT NOT NULL,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    -- SHA-256 of the bytes as uploaded: the same photo uploaded twice is recognised.
    source_sha256 TEXT NOT NULL,
    duplicate_of BIGINT REFERENCES attachments (id),
    created_at BIGINT NOT NULL
);
CREATE INDEX attachments_source ON attachments (source_sha256);

CREATE TABLE hazard_counters (
    school_id BIGINT NOT NULL REFERENCES orgs (id),
    year BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (school_id, year)
);

CREATE TABLE hazards (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    school_id BIGINT NOT NULL REFERENCES orgs (id),
    number TEXT NOT NULL UNIQUE,
    category TEXT NOT NULL,
    grade TEXT NOT NULL,
    source TEXT NOT NULL,
    location TEXT NOT NULL,
    location_key TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    status TEXT NOT NULL,
    reporter_id BIGINT REFERENCES users (id),
    found_by TEXT NOT NULL,
    found_on TEXT NOT NULL,
    owner_id BIGINT REFERENCES users (id),
    measures TEXT NOT NULL DEFAULT '',
    deadline TEXT,
    on_plan SMALLINT NOT NULL DEFAULT 0,
    interim_measures TEXT NOT NULL DEFAULT '',
    rectifier_id BIGINT REFERENCES users (id),
    rectification_note TEXT NOT NULL DEFAULT '',
    verifier_id BIGINT REFERENCES users (id),
    closed_at BIGINT,
    escalation SMALLINT NOT NULL DEFAULT 0,
    escalated_at BIGINT,
    recurrence_of BIGINT REFERENCES hazards (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- Lists walk hazards newest first (ORDER BY id DESC LIMIT n): indexes that end in id serve
-- a filter and the order together; the wide ones answer counts and overdue checks from the
-- index alone.
CREATE INDEX hazards_status_id ON hazards (status, id);
CREATE INDEX hazards_escalation_id ON hazards (escalation, id);
CREATE INDEX hazards_school_counts ON hazards (school_id, status, deadline, escalation);
CREATE INDEX hazards_status_deadline ON hazards (status, deadline, school_id);
CREATE INDEX hazards_place ON hazards (school_id, category, location_key);

CREATE TABLE hazard_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hazard_id BIGINT NOT NULL REFERENCES hazards (id),
    at BIGINT NOT NULL,
    actor_id BIGINT REFERENCES users (id),
    actor_login TEXT NOT NULL,
    action TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX hazard_events_hazard ON hazard_events (hazard_id, id);

CREATE TABLE hazard_attachments (
    hazard_id BIGINT NOT NULL REFERENCES hazards (id),
    event_id BIGINT NOT NULL REFERENCES hazard_events (id),
    attachment_id BIGINT NOT NULL REFERENCES attachments (id),
    -- Set when these bytes were already used on another step.
    reused SMALLINT NOT NULL DEFAULT 0,
    PRIMARY KEY (event_id, attachment_id)
);
CREATE INDEX hazard_attachments_attachment ON hazard_attachments (attachment_id);
CREATE INDEX hazard_attachments_hazard ON hazard_attachments (hazard_id);

CREATE FUNCTION hazard_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'hazard history is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER hazard_events_no_update BEFORE UPDATE OR DELETE ON hazard_events
    FOR EACH ROW EXECUTE FUNCTION hazard_events_append_only();
