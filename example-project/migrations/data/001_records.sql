CREATE TYPE record_visibility AS ENUM ('private', 'shared', 'public');

-- Data records owned by a user; soft-deleted.
CREATE TABLE records (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  owner_id uuid NOT NULL,
  title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  body jsonb NOT NULL DEFAULT '{}',
  tags text[] NOT NULL DEFAULT '{}',
  visibility record_visibility NOT NULL DEFAULT 'private',
  -- Optimistic concurrency: every update bumps it and must name the version it read.
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);
-- The owner's records newest first: the keyset order of ListMyRecords and ExportMyRecords.
CREATE INDEX records_owner_id_idx ON records (owner_id, id DESC) WHERE deleted_at IS NULL;

-- Read access the owner gave another user; only the owner writes.
CREATE TABLE record_shares (
  record_id bigint NOT NULL REFERENCES records (id) ON DELETE CASCADE,
  user_id uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (record_id, user_id)
);
CREATE INDEX record_shares_user_id_idx ON record_shares (user_id);
