-- Schema 5: each profile's keychain entries are filed under a random id of its own. The row id
-- was used before, and a second data folder's profile 2 then read the first one's tokens.

ALTER TABLE profiles ADD COLUMN keychain_id TEXT NOT NULL DEFAULT '';
UPDATE profiles SET keychain_id = lower(hex(randomblob(16)));
CREATE UNIQUE INDEX profiles_keychain_id ON profiles (keychain_id);
