-- A sign-in or step-up flow belongs to the browser that began it: the SHA-256 of that
-- browser's flow-binding cookie. A flow without one (begun before this migration) is
-- found by nobody and expires.
ALTER TABLE login_flows ADD COLUMN browser_hash TEXT;
