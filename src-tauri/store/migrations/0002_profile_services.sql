-- Schema 2: where a profile's services are. URLs and names only; tokens live in the OS keychain.

ALTER TABLE profiles ADD COLUMN gitlab_url TEXT NOT NULL DEFAULT '';
ALTER TABLE profiles ADD COLUMN zendesk_url TEXT NOT NULL DEFAULT '';
ALTER TABLE profiles ADD COLUMN zendesk_us_gov_url TEXT NOT NULL DEFAULT '';
ALTER TABLE profiles ADD COLUMN mailgun_url TEXT NOT NULL DEFAULT '';
ALTER TABLE profiles ADD COLUMN mailgun_domain TEXT NOT NULL DEFAULT '';
ALTER TABLE profiles ADD COLUMN customersdot_url TEXT NOT NULL DEFAULT '';
ALTER TABLE profiles ADD COLUMN customersdot_mode TEXT NOT NULL DEFAULT 'api'
    CHECK (customersdot_mode IN ('api', 'manual'));
