-- Audit rows are indexed for search in batches, when a search needs them, instead of by a
-- trigger inside every append: a full-text insert per one-row transaction cost more than the
-- row itself. `search_indexed` remembers the last audit row in the index.
DROP TRIGGER search_audit_row;

CREATE TABLE search_indexed (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    audit_id INTEGER NOT NULL
);

INSERT INTO search_indexed (id, audit_id) VALUES (1, (SELECT coalesce(max(id), 0) FROM audit));
