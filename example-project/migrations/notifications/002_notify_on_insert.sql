-- Live delivery: every new notification is announced on the channel `notification_created`
-- at commit (NOTIFY is transactional), payload "<user_id>:<id>". Subscribers LISTEN on it and
-- read the row; the payload stays far below NOTIFY's 8000-byte limit.
CREATE FUNCTION notifications_announce() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('notification_created', NEW.user_id::text || ':' || NEW.id::text);
  RETURN NULL;
END;
$$;

CREATE TRIGGER notifications_announce
AFTER INSERT ON notifications
FOR EACH ROW EXECUTE FUNCTION notifications_announce();
