-- Every step of a hazard's closed loop bumps its version; a step is written only
-- `WHERE id = … AND version = …` (the version it was decided on), so two people acting at
-- once cannot both pass a rule checked against the same facts (a later deadline, say).
ALTER TABLE hazards ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
