-- A record the caller may read: owned, shared with them, or public.
-- name: GetRecordForReader :one
SELECT r.id, r.owner_id, r.title, r.body, r.tags, r.visibility, r.version, r.created_at, r.updated_at,
       (r.owner_id = @reader_id OR coalesce(s.can_write, false)) AS "can_write!"
FROM records r
LEFT JOIN record_shares s ON s.record_id = r.id AND s.user_id = @reader_id
WHERE r.id = @id
  AND r.deleted_at IS NULL
  AND (r.owner_id = @reader_id OR r.visibility = 'public' OR s.user_id IS NOT NULL);

-- name: ListRecordsByOwner :many
SELECT id, title, tags, visibility, version, updated_at
FROM records
WHERE owner_id = @owner_id AND deleted_at IS NULL
ORDER BY updated_at DESC, id DESC
LIMIT @page_size OFFSET @page_offset;

-- name: CreateRecord :one
INSERT INTO records (owner_id, title, body, tags, visibility)
VALUES (@owner_id, @title, @body, @tags, @visibility)
RETURNING id, owner_id, title, body, tags, visibility, version, created_at, updated_at,
          true AS "can_write!";

-- Optimistic update: only applies when the version matches.
-- name: UpdateRecord :one
UPDATE records
SET title = @title, body = @body, tags = @tags, version = version + 1, updated_at = now()
WHERE id = @id AND owner_id = @owner_id AND version = @version AND deleted_at IS NULL
RETURNING id, version, updated_at;

-- name: SoftDeleteRecord :execrows
UPDATE records SET deleted_at = now()
WHERE id = @id AND owner_id = @owner_id AND deleted_at IS NULL;

-- name: ShareRecord :exec
INSERT INTO record_shares (record_id, user_id, can_write)
VALUES (@record_id, @user_id, @can_write)
ON CONFLICT (record_id, user_id) DO UPDATE SET can_write = EXCLUDED.can_write;

-- Per-visibility counts of a user's records, with the newest update.
-- name: RecordStats :many
SELECT visibility, count(*) AS records, max(updated_at) AS last_updated
FROM records
WHERE owner_id = @owner_id AND deleted_at IS NULL
GROUP BY visibility
ORDER BY visibility;

-- Shares a record the caller owns; 0 rows when they do not own it (or it is deleted).
-- name: ShareOwnRecord :execrows
INSERT INTO record_shares (record_id, user_id, can_write)
SELECT r.id, @user_id::uuid, @can_write::boolean
FROM records r
WHERE r.id = @record_id AND r.owner_id = @owner_id AND r.deleted_at IS NULL
ON CONFLICT (record_id, user_id) DO UPDATE SET can_write = EXCLUDED.can_write;
