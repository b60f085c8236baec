-- Attempts are reserved before they are judged (issue #12 item 2): a row carries the time
-- before which its next attempt is refused, so one conditional UPDATE both checks and counts.
ALTER TABLE login_throttle ADD COLUMN blocked_until BIGINT NOT NULL DEFAULT 0;
