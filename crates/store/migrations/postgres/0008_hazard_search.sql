-- Text search over a hazard's number, title, location and description, as substrings
-- (Chinese has no spaces to split words at): trigram GIN indexes (pg_trgm) that serve the
-- same `ILIKE '%…%'` the list has always used, one per column so that nothing matches
-- across two columns. pg_trgm is a trusted extension: the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX hazards_search_number ON hazards USING gin (number gin_trgm_ops);
CREATE INDEX hazards_search_title ON hazards USING gin (title gin_trgm_ops);
CREATE INDEX hazards_search_location ON hazards USING gin (location gin_trgm_ops);
CREATE INDEX hazards_search_description ON hazards USING gin (description gin_trgm_ops);
