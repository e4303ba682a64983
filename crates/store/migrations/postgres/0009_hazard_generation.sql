-- A number that every change to hazards (and to the org tree, which decides whose hazards
-- a scope holds) moves on, in the same transaction as the change. Counts computed at one
-- generation stay true until the next: `hazards::counts` keeps them in memory meanwhile, on
-- every node, without ever serving a count older than the last committed change. Once per
-- statement: a bulk change moves it once.
CREATE TABLE hazard_generation (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    n BIGINT NOT NULL
);
INSERT INTO hazard_generation (id, n) VALUES (1, 0);

CREATE FUNCTION hazard_generation_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE hazard_generation SET n = n + 1 WHERE id = 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER hazard_generation_hazards AFTER INSERT OR UPDATE OR DELETE ON hazards
    FOR EACH STATEMENT EXECUTE FUNCTION hazard_generation_bump();
CREATE TRIGGER hazard_generation_orgs AFTER INSERT OR DELETE OR UPDATE OF parent_id, path ON orgs
    FOR EACH STATEMENT EXECUTE FUNCTION hazard_generation_bump();
