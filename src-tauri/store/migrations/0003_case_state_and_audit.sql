-- Schema 3: the draft state of a case, and the append-only, hash-chained audit log.

ALTER TABLE cases ADD COLUMN ticket_subject TEXT NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN requester TEXT NOT NULL DEFAULT '';
-- The engine's state: evidence, step records (JSON).
ALTER TABLE cases ADD COLUMN state TEXT NOT NULL DEFAULT '{}';
-- How a finished case ended: completed, switched (to another playbook), blocked, abandoned.
ALTER TABLE cases ADD COLUMN outcome TEXT;
-- The case this one was switched from, carrying its evidence.
ALTER TABLE cases ADD COLUMN origin_case_id INTEGER REFERENCES cases (id);
-- The last audit row written with this case: a deleted tail of the log shows up here.
ALTER TABLE cases ADD COLUMN last_audit_id INTEGER;

CREATE TABLE audit (
    -- AUTOINCREMENT: ids are never reused, so sqlite_sequence remembers the newest row even if
    -- rows at the end are deleted behind Casekit's back.
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    at               TEXT NOT NULL,
    agent            TEXT NOT NULL,
    case_id          INTEGER REFERENCES cases (id),
    ticket           TEXT,
    playbook_id      TEXT,
    playbook_version TEXT,
    step             TEXT,
    kind             TEXT NOT NULL,
    payload          TEXT NOT NULL,
    prev_hash        TEXT NOT NULL,
    hash             TEXT NOT NULL
);

CREATE INDEX audit_by_case ON audit (case_id, id);

CREATE TRIGGER audit_is_append_only_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: rows cannot be changed');
END;

CREATE TRIGGER audit_is_append_only_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: rows cannot be deleted');
END;
