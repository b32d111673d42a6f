-- Notifications made from events (user.signed_up, record.shared, file.uploaded) name their
-- event: at most one notification per event, even if the event were handled again.
ALTER TABLE notifications ADD COLUMN event_id uuid UNIQUE;
