DROP TABLE lifecycle_reminders;
