-- Schema 6: one writer per case. Every save names the revision it read and bumps it; a save
-- over a revision that another window or step wrote first changes nothing and is refused.

ALTER TABLE cases ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
