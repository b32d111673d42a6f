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

-- Deletes a file of its owner (its chunks go with it); no row for another user's file.
-- name: DeleteOwnFile :one
DELETE FROM files WHERE id = @id AND owner_id = @owner_id
RETURNING storage, storage_key;
