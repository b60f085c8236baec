ALTER TABLE password_credentials DROP COLUMN change_by;
