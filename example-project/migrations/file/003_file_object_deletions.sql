-- Objects in S3 whose files' rows are gone, waiting to be deleted from the bucket. A key is
-- queued in the transaction that deletes its row, and removed once the object is deleted, so
-- an object is never forgotten: not when the delete fails (it is retried with backoff), nor
-- when the process dies between the commit and the delete (the next sweep finds the key).
CREATE TABLE file_object_deletions (
  storage_key text PRIMARY KEY,
  queued_at timestamptz NOT NULL DEFAULT now(),
  -- Failed delete attempts so far, and the last one's error.
  attempts integer NOT NULL DEFAULT 0,
  last_error text,
  -- When a sweep may try the key (again): now when queued, later after a failure, and a
  -- lease while an instance is deleting it, so two instances do not both try.
  next_attempt_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX file_object_deletions_due_idx ON file_object_deletions (next_attempt_at);
