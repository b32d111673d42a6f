-- name: CreateFile :one
INSERT INTO files (owner_id, record_id, name, content_type, size_bytes, sha256, storage_key)
VALUES (@owner_id, sqlc.narg(record_id), @name, @content_type, @size_bytes, @sha256, @storage_key)
RETURNING id, owner_id, record_id, name, content_type, size_bytes, sha256, storage_key, created_at;

-- name: GetFile :one
SELECT id, owner_id, record_id, name, content_type, size_bytes, sha256, storage_key, created_at
FROM files
WHERE id = @id;

-- name: ListFilesByOwner :many
SELECT id, name, content_type, size_bytes, created_at
FROM files
WHERE owner_id = @owner_id
ORDER BY created_at DESC, id;

-- Total bytes stored by a user (zero when they have no files).
-- name: OwnerUsage :one
SELECT count(*) AS files, coalesce(sum(size_bytes), 0)::bigint AS total_bytes
FROM files
WHERE owner_id = @owner_id;

-- name: DeleteFile :execrows
DELETE FROM files WHERE id = @id AND owner_id = @owner_id;

-- A file of its owner; another user's file is not found.
-- name: GetOwnFile :one
SELECT id, owner_id, record_id, name, content_type, size_bytes, sha256, storage_key, created_at
FROM files
WHERE id = @id AND owner_id = @owner_id;
