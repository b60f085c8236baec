-- A change-by deadline: set when a weak password is used to sign in, or by an operator.
-- Past it, sign-in leads only to the password change page. Cleared by a new password.
ALTER TABLE password_credentials ADD COLUMN change_by BIGINT;
