-- Text search over a hazard's number, title, location and description, as substrings
-- (Chinese has no spaces to split words at): an FTS5 index of every three-character
-- sequence (the trigram tokenizer, case folded). Each value is stored with two U+0001
-- characters after it, so that every one- or two-character substring is also the start of
-- some indexed trigram: `hazard_search_terms` lists the trigrams, and a short query looks up
-- the trigrams that begin with it. Queries never contain U+0001 (it is stripped), so nothing
-- matches across the end of a value. Triggers keep the index in step with `hazards`.
CREATE VIRTUAL TABLE hazard_search USING fts5 (
    number, title, location, description,
    tokenize = 'trigram'
);
CREATE VIRTUAL TABLE hazard_search_terms USING fts5vocab (hazard_search, 'row');

INSERT INTO hazard_search (rowid, number, title, location, description)
SELECT id, number || char(1, 1), title || char(1, 1), location || char(1, 1),
       description || char(1, 1)
FROM hazards;

CREATE TRIGGER hazard_search_insert AFTER INSERT ON hazards BEGIN
    INSERT INTO hazard_search (rowid, number, title, location, description)
    VALUES (new.id, new.number || char(1, 1), new.title || char(1, 1),
            new.location || char(1, 1), new.description || char(1, 1));
END;

CREATE TRIGGER hazard_search_update AFTER UPDATE OF number, title, location, description ON hazards BEGIN
    DELETE FROM hazard_search WHERE rowid = old.id;
    INSERT INTO hazard_search (rowid, number, title, location, description)
    VALUES (new.id, new.number || char(1, 1), new.title || char(1, 1),
            new.location || char(1, 1), new.description || char(1, 1));
END;

CREATE TRIGGER hazard_search_delete AFTER DELETE ON hazards BEGIN
    DELETE FROM hazard_search WHERE rowid = old.id;
END;
