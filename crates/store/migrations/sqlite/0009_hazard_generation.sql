-- A number that every change to hazards (and to the org tree, which decides whose hazards
-- a scope holds) moves on, in the same transaction as the change. Counts computed at one
-- generation stay true until the next: `hazards::counts` keeps them in memory meanwhile, on
-- every node, without ever serving a count older than the last committed change.
CREATE TABLE hazard_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n BIGINT NOT NULL
);
INSERT INTO hazard_generation (id, n) VALUES (1, 0);

CREATE TRIGGER hazard_generation_insert AFTER INSERT ON hazards BEGIN
    UPDATE hazard_generation SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER hazard_generation_update AFTER UPDATE ON hazards BEGIN
    UPDATE hazard_generation SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER hazard_generation_delete AFTER DELETE ON hazards BEGIN
    UPDATE hazard_generation SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER hazard_generation_org_insert AFTER INSERT ON orgs BEGIN
    UPDATE hazard_generation SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER hazard_generation_org_update AFTER UPDATE OF parent_id, path ON orgs BEGIN
    UPDATE hazard_generation SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER hazard_generation_org_delete AFTER DELETE ON orgs BEGIN
    UPDATE hazard_generation SET n = n + 1 WHERE id = 1;
END;
