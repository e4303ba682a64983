-- Video surveillance: what a camera (a device of kind `camera`) covers and how its picture
-- reaches the police and bureau platforms, and the hazard filed for each key area a
-- school's cameras leave uncovered; and the hazard category of any device's alarms.

CREATE TABLE cameras (
    device_id BIGINT PRIMARY KEY REFERENCES devices (id),
    -- Key-area codes, comma-separated, in the domain's order.
    areas TEXT NOT NULL DEFAULT '',
    police_link TEXT NOT NULL DEFAULT 'none' CHECK (police_link IN ('linked', 'down', 'none')),
    bureau_link TEXT NOT NULL DEFAULT 'none' CHECK (bureau_link IN ('linked', 'down', 'none')),
    -- Days the recorder keeps this camera's video (SEC-08), when known.
    retention_days BIGINT,
    updated_at BIGINT NOT NULL
);

-- One row per school and uncovered area that has had a hazard filed: the area gets a new
-- hazard only once the last one is closed and the gap is still there.
CREATE TABLE video_gaps (
    school_id BIGINT NOT NULL REFERENCES orgs (id),
    area TEXT NOT NULL,
    hazard_id BIGINT NOT NULL REFERENCES hazards (id),
    filed_at BIGINT NOT NULL,
    PRIMARY KEY (school_id, area)
);

-- The hazard category a device's alarms are filed under (a gas detector in a laboratory is
-- a chemicals matter, in the canteen a food one); empty: by the alarm's type.
ALTER TABLE devices ADD COLUMN category TEXT NOT NULL DEFAULT '';
