-- Schema 1: profiles (never secrets: tokens live in the OS keychain) and the cases list.

CREATE TABLE profiles (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL CHECK (kind IN ('sandbox', 'live')),
    agent_name  TEXT NOT NULL DEFAULT '',
    agent_email TEXT NOT NULL DEFAULT '',
    is_active   INTEGER NOT NULL DEFAULT 0 CHECK (is_active IN (0, 1)),
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- At most one active profile.
CREATE UNIQUE INDEX profiles_one_active ON profiles (is_active) WHERE is_active = 1;

-- With nothing configured, Casekit runs on the built-in Sandbox.
INSERT INTO profiles (name, kind, is_active) VALUES ('Sandbox', 'sandbox', 1);

CREATE TABLE cases (
    id               INTEGER PRIMARY KEY,
    profile_id       INTEGER NOT NULL REFERENCES profiles (id),
    ticket_instance  TEXT NOT NULL CHECK (ticket_instance IN ('global', 'us_gov')),
    ticket_id        INTEGER NOT NULL CHECK (ticket_id > 0),
    playbook_id      TEXT NOT NULL,
    playbook_version TEXT NOT NULL,
    playbook_title   TEXT NOT NULL,
    current_step     TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('open', 'finished', 'abandoned')),
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE INDEX cases_open_by_recency ON cases (status, updated_at DESC);
