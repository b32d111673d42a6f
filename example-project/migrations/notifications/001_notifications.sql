CREATE TYPE notification_kind AS ENUM ('info', 'warning', 'mention', 'share');

CREATE TABLE notifications (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id uuid NOT NULL,
  kind notification_kind NOT NULL,
  title text NOT NULL,
  body text,
  payload jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  read_at timestamptz
);
CREATE INDEX notifications_user_idx ON notifications (user_id, id DESC);
