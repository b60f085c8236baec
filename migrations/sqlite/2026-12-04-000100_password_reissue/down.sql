DROP TABLE password_reissues;
