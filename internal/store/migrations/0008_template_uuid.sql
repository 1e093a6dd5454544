-- An egg keeps its uuid across its versions, so that importing a newer
-- version with replace finds the template it updates. '' is a template
-- without one (Berth's and Skyport's documents, older eggs): only the
-- uuids given are unique.
ALTER TABLE templates ADD COLUMN uuid TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX templates_uuid ON templates (uuid) WHERE uuid <> '';
