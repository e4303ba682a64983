-- Campaign plans and compliance: plan versions, the school calendar, records (the evidence)
-- with their correction history, and the measures the compliance engine keeps current.
-- Civil dates are TEXT 'YYYY-MM-DD'; instants BIGINT milliseconds; flags SMALLINT 0/1.

CREATE TABLE plans (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code TEXT NOT NULL,
    version BIGINT NOT NULL,
    -- SHA-256 of the checked plan (its JSON model): the same plan loaded twice is one version.
    sha256 TEXT NOT NULL,
    name TEXT NOT NULL,
    starts_on TEXT NOT NULL,
    ends_on TEXT NOT NULL,
    model TEXT NOT NULL,
    source TEXT NOT NULL,
    active SMALLINT NOT NULL DEFAULT 0,
    loaded_at BIGINT NOT NULL,
    loaded_by TEXT NOT NULL,
    UNIQUE (code, version),
    UNIQUE (code, sha256)
);

CREATE TABLE calendar_terms (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    school_year BIGINT NOT NULL,
    number BIGINT NOT NULL CHECK (number IN (1, 2)),
    starts_on TEXT NOT NULL,
    ends_on TEXT NOT NULL,
    UNIQUE (school_year, number)
);

CREATE TABLE calendar_days (
    day TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('holiday', 'school_day')),
    note TEXT NOT NULL DEFAULT ''
);

CREATE TABLE records (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    kind TEXT NOT NULL,
    occurred_on TEXT NOT NULL,
    fields TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    author_id BIGINT REFERENCES users (id),
    author_login TEXT NOT NULL,
    revision BIGINT NOT NULL DEFAULT 1,
    withdrawn SMALLINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- What the compliance engine reads: the live records of one kind, org by org, by day.
CREATE INDEX records_kind_org_day ON records (kind, org_id, occurred_on) WHERE withdrawn = 0;
CREATE INDEX records_org_day ON records (org_id, occurred_on);

-- Every earlier version of a record: a correction or withdrawal copies the current row here
-- first, with the reason for the change. Append-only.
CREATE TABLE record_revisions (
    record_id BIGINT NOT NULL REFERENCES records (id),
    revision BIGINT NOT NULL,
    occurred_on TEXT NOT NULL,
    fields TEXT NOT NULL,
    note TEXT NOT NULL,
    withdrawn SMALLINT NOT NULL,
    reason TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    changed_at BIGINT NOT NULL,
    PRIMARY KEY (record_id, revision)
);

CREATE TABLE record_attachments (
    record_id BIGINT NOT NULL REFERENCES records (id),
    attachment_id BIGINT NOT NULL REFERENCES attachments (id),
    PRIMARY KEY (record_id, attachment_id)
);
CREATE INDEX record_attachments_attachment ON record_attachments (attachment_id);

CREATE FUNCTION records_never_deleted() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'records are never deleted; withdraw them instead';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER records_no_delete BEFORE DELETE ON records
    FOR EACH ROW EXECUTE FUNCTION records_never_deleted();
CREATE FUNCTION record_revisions_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'record history is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER record_revisions_no_change BEFORE UPDATE OR DELETE ON record_revisions
    FOR EACH ROW EXECUTE FUNCTION record_revisions_append_only();

-- What each bucket of records adds up to, per plan version, org and obligation. Derived
-- from records (a full recompute rebuilds it), so it carries no foreign keys.
CREATE TABLE compliance_measures (
    plan_id BIGINT NOT NULL,
    org_id BIGINT NOT NULL,
    obligation TEXT NOT NULL,
    bucket TEXT NOT NULL,
    measured DOUBLE PRECISION NOT NULL,
    target DOUBLE PRECISION NOT NULL,
    met_on TEXT,
    mask BIGINT NOT NULL DEFAULT 0,
    dates TEXT NOT NULL DEFAULT '',
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (plan_id, obligation, org_id, bucket)
);
-- The primary key serves the recompute (one obligation, orgs in id ranges) and refreshes;
-- this index serves the matrix (some orgs, the buckets of a period).
CREATE INDEX compliance_measures_org ON compliance_measures (plan_id, org_id, bucket);
