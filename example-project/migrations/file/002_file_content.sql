-- Where each file's content lives: 'postgres' (the file_chunks table) or 's3' (an object under
-- storage_key). Recorded per file, so changing the service's storage keeps old files readable.
ALTER TABLE files ADD COLUMN storage text NOT NULL DEFAULT 'postgres'
  CHECK (storage IN ('postgres', 's3'));

-- File content stored in PostgreSQL: the bytes in order, in chunks of at most 256 KiB.
CREATE TABLE file_chunks (
  file_id uuid NOT NULL REFERENCES files (id) ON DELETE CASCADE,
  seq integer NOT NULL CHECK (seq >= 0),
  data bytea NOT NULL,
  PRIMARY KEY (file_id, seq)
);

-- Keyset pagination of a user's files, newest first.
DROP INDEX files_owner_idx;
CREATE INDEX files_owner_created_idx ON files (owner_id, created_at DESC, id DESC);
