-- School facts over time: a change of a school's type, head counts or facts (boarding,
-- canteen, buses, labs, special equipment) applies from the day given, so periods before it
-- keep the facts they had. Each row is one recorded version; for one school and first day
-- the latest row is the one in force (a later change on the same day, or a correction of a
-- data-entry mistake, replaces the earlier row, which stays as history). Append-only.
-- `orgs` keeps the facts in force now. effective_from is '' for "from the start".

CREATE TABLE school_facts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    effective_from TEXT NOT NULL,
    school_type TEXT NOT NULL CHECK (school_type IN ('primary', 'middle', 'nine_year', 'kindergarten', 'vocational')),
    students BIGINT NOT NULL,
    staff BIGINT NOT NULL,
    boarding SMALLINT NOT NULL,
    canteen SMALLINT NOT NULL,
    buses SMALLINT NOT NULL,
    labs SMALLINT NOT NULL,
    special_equipment SMALLINT NOT NULL,
    -- 1 when the row corrects a data-entry mistake in the version it replaces.
    correction SMALLINT NOT NULL DEFAULT 0,
    recorded_at BIGINT NOT NULL,
    recorded_by TEXT NOT NULL
);
CREATE INDEX school_facts_org ON school_facts (org_id, effective_from, id);

CREATE FUNCTION school_facts_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'school facts history is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER school_facts_no_change BEFORE UPDATE OR DELETE ON school_facts
    FOR EACH ROW EXECUTE FUNCTION school_facts_append_only();

-- Schools created before the history existed: their facts as they are, from the start.
INSERT INTO school_facts (org_id, effective_from, school_type, students, staff, boarding, canteen, buses, labs,
    special_equipment, correction, recorded_at, recorded_by)
SELECT id, '', school_type, students, staff, boarding, canteen, buses, labs, special_equipment, 0, updated_at, 'migration'
FROM orgs WHERE kind = 'school' AND school_type IS NOT NULL;
