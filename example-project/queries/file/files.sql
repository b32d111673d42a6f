-- Records a file's metadata (the upload writes its content in the same transaction, or to
-- object storage before this commits).
-- name: CreateFile :one
INSERT INTO files (id, owner_id, record_id, name, content_type, size_bytes, sha256, storage, storage_key)
VALUES (@id, @owner_id, sqlc.narg(record_id), @name, @content_type, @size_bytes, @sha256, @storage, @storage_key)
RETURNING id, owner_id, record_id, name, content_type, size_bytes, sha256, storage_key, created_at;

-- One chunk of a file's content stored in PostgreSQL.
-- name: InsertFileChunk :exec
INSERT INTO file_chunks (file_id, seq, data) VALUES (@file_id, @seq, @data);

-- The chunk at seq of a file stored in PostgreSQL (none past the last).
-- name: GetFileChunk :one
SELECT data FROM file_chunks WHERE file_id = @file_id AND seq = @seq;

-- name: GetFile :one
SELECT id, owner_id, record_id, name, content_type, size_bytes, sha256, storage_key, created_at, storage
FROM files
WHERE id = @id;

-- A page of a user's files, newest first, after the previous page's last file (none for the
-- first page). The cursor carries created_at in whole microseconds (created_us), exactly as
-- stored: a JavaScript Date would round it to milliseconds and skip files.
-- name: ListFilesByOwner :many
SELECT id, name, content_type, size_bytes, created_at,
  (extract(epoch FROM created_at) * 1000000)::bigint AS created_us
FROM files
WHERE owner_id = @owner_id
  AND (sqlc.narg(after_us)::bigint IS NULL
       OR (created_at, id) < ('epoch'::timestamptz + sqlc.narg(after_us)::bigint * interval '1 microsecond',
                              sqlc.narg(after_id)::uuid))
ORDER BY created_at DESC, id DESC
LIMIT @page_size;

-- Total bytes stored by a user (zero when they have no files).
-- name: OwnerUsage :one
SELECT count(*) AS files, coalesce(sum(size_bytes), 0)::bigint AS total_bytes
FROM files
WHERE owner_id = @owner_id;

-- Deletes a file of its owner (its chunks go with it); no row for another user's file. An S3
-- object's key is queued for deletion in the same statement (file_object_deletions).
-- name: DeleteOwnFile :one
WITH gone AS (
  DELETE FROM files WHERE id = @id AND owner_id = @owner_id
  RETURNING storage, storage_key
), queued AS (
  INSERT INTO file_object_deletions (storage_key)
  SELECT storage_key FROM gone WHERE storage = 's3'
  ON CONFLICT (storage_key) DO NOTHING
)
SELECT storage, storage_key FROM gone;

-- A deleted user's files: every row (the chunks of content kept in PostgreSQL go with them),
-- and the keys of their S3 objects queued for deletion in the same statement, returned so the
-- objects can be deleted once it commits. A second run finds nothing.
-- name: DeleteOwnerFiles :many
WITH gone AS (
  DELETE FROM files WHERE owner_id = @owner_id
  RETURNING storage, storage_key
)
INSERT INTO file_object_deletions (storage_key)
SELECT storage_key FROM gone WHERE storage = 's3'
ON CONFLICT (storage_key) DO NOTHING
RETURNING storage_key;

-- Leases up to row_limit queued object keys that are due (only those in `keys` when given),
-- oldest first, for lease_ms: the caller deletes their objects meanwhile, and a key whose
-- caller died is due again when the lease ends. Another instance's leased keys are skipped.
-- name: ClaimObjectDeletions :many
UPDATE file_object_deletions d
SET next_attempt_at = now() + @lease_ms::integer * interval '1 millisecond'
WHERE d.storage_key IN (
  SELECT q.storage_key FROM file_object_deletions q
  WHERE q.next_attempt_at <= now()
    AND (sqlc.narg(keys)::text[] IS NULL OR q.storage_key = ANY (sqlc.narg(keys)::text[]))
  ORDER BY q.next_attempt_at
  LIMIT @row_limit
  FOR UPDATE SKIP LOCKED
)
RETURNING d.storage_key, d.attempts;

-- The object of a queued key is deleted: forget the key.
-- name: ForgetObjectDeletion :exec
DELETE FROM file_object_deletions WHERE storage_key = @storage_key;

-- Deleting the object of a queued key failed: try again after delay_ms.
-- name: PostponeObjectDeletion :exec
UPDATE file_object_deletions
SET attempts = attempts + 1, last_error = @last_error,
    next_attempt_at = now() + @delay_ms::integer * interval '1 millisecond'
WHERE storage_key = @storage_key;

-- How long until the next queued key is due, in ms (negative when one is overdue; null when
-- the queue is empty): a sweep sleeps until then, not a whole sweep interval.
-- name: NextObjectDeletionDue :one
SELECT (extract(epoch FROM min(next_attempt_at) - now()) * 1000)::integer AS due_in_ms
FROM file_object_deletions;
