-- Schema 4: ticket writes waiting for the network, and full-text search over cases and the audit log.

CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY,
    profile_id       INTEGER NOT NULL REFERENCES profiles (id),
    case_id          INTEGER NOT NULL REFERENCES cases (id),
    ticket_instance  TEXT NOT NULL CHECK (ticket_instance IN ('global', 'us_gov')),
    ticket_id        INTEGER NOT NULL,
    -- The stable marker the body carries: checked against the ticket before every post.
    marker           TEXT NOT NULL,
    body             TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'discarded')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    -- Epoch seconds.
    next_attempt_at  INTEGER NOT NULL,
    sent_comment_id  INTEGER,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE UNIQUE INDEX outbox_one_pending_per_marker ON outbox (marker) WHERE state = 'pending';

-- One document per case (ticket, subject, requester, playbook) and per audit row (its payload).
CREATE VIRTUAL TABLE search USING fts5 (
    source UNINDEXED,
    case_id UNINDEXED,
    audit_id UNINDEXED,
    body,
    tokenize = 'unicode61'
);

CREATE TRIGGER search_case_opened AFTER INSERT ON cases
BEGIN
    INSERT INTO search (source, case_id, audit_id, body)
    VALUES ('case', NEW.id, NULL, NEW.ticket_id || ' ' || NEW.ticket_subject || ' ' || NEW.requester || ' ' || NEW.playbook_title);
END;

CREATE TRIGGER search_audit_row AFTER INSERT ON audit
BEGIN
    INSERT INTO search (source, case_id, audit_id, body)
    VALUES ('audit', NEW.case_id, NEW.id, coalesce(NEW.ticket, '') || ' ' || NEW.kind || ' ' || coalesce(NEW.step, '') || ' ' || NEW.payload);
END;
