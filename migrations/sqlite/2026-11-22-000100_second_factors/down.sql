ALTER TABLE login_flows DROP COLUMN webauthn_state;
ALTER TABLE login_flows DROP COLUMN session_hash;
ALTER TABLE login_flows DROP COLUMN amr;
ALTER TABLE login_flows DROP COLUMN stage;
DROP TABLE passkeys;
DROP TABLE backup_codes;
DROP TABLE one_time_codes;
DROP TABLE email_otp_destinations;
DROP TABLE totp_credentials;
