CREATE TYPE record_visibility AS ENUM ('private', 'shared', 'public');

-- Data records owned by a user; soft-deleted.
CREATE TABLE records (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  owner_id uuid NOT NULL,
  title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  body jsonb NOT NULL DEFAULT '{}',
  tags text[] NOT NULL DEFAULT '{}',
  visibility record_visibility NOT NULL DEFAULT 'private',
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);
CREATE INDEX records_owner_idx ON records (owner_id) WHERE deleted_at IS NULL;

CREATE TABLE record_shares (
  record_id bigint NOT NULL REFERENCES records (id) ON DELETE CASCADE,
  user_id uuid NOT NULL,
  can_write boolean NOT NULL DEFAULT false,
  PRIMARY KEY (record_id, user_id)
);
