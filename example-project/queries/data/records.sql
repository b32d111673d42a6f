-- A record the caller may read: owned, shared with them, or public.
-- name: GetRecordForReader :one
SELECT r.id, r.owner_id, r.title, r.body, r.tags, r.visibility, r.version, r.created_at, r.updated_at,
       (r.owner_id = @reader_id) AS "can_write!"
FROM records r
WHERE r.id = @id
  AND r.deleted_at IS NULL
  AND (r.owner_id = @reader_id
       OR r.visibility = 'public'
       OR EXISTS (SELECT 1 FROM record_shares s WHERE s.record_id = r.id AND s.user_id = @reader_id));

-- What a caller may do with a record that is not deleted: read it (owned, shared or public),
-- and whether they own it; no row when it does not exist or they may not read it.
-- name: GetRecordAccess :one
SELECT r.id, r.version, (r.owner_id = @reader_id) AS "is_owner!"
FROM records r
WHERE r.id = @id
  AND r.deleted_at IS NULL
  AND (r.owner_id = @reader_id
       OR r.visibility = 'public'
       OR EXISTS (SELECT 1 FROM record_shares s WHERE s.record_id = r.id AND s.user_id = @reader_id));

-- One page of the owner's records, newest first, after the keyset cursor `before_id`.
-- name: ListRecordsByOwner :many
SELECT id, title, tags, visibility, version, updated_at
FROM records
WHERE owner_id = @owner_id AND deleted_at IS NULL
  AND (sqlc.narg(before_id)::bigint IS NULL OR id < sqlc.narg(before_id))
ORDER BY id DESC
LIMIT @row_limit;

-- Every record of the owner in full, oldest first (a server stream reads it through a cursor).
-- name: ExportRecordsByOwner :many
SELECT id, owner_id, title, body, tags, visibility, version, created_at, updated_at,
       true AS "can_write!"
FROM records
WHERE owner_id = @owner_id AND deleted_at IS NULL
ORDER BY id;

-- name: CreateRecord :one
INSERT INTO records (owner_id, title, body, tags, visibility)
VALUES (@owner_id, @title, @body, @tags, @visibility)
RETURNING id, owner_id, title, body, tags, visibility, version, created_at, updated_at,
          true AS "can_write!";

-- Optimistic update: only applies when the caller owns the record and the version matches.
-- name: UpdateRecord :one
UPDATE records
SET title = @title, body = @body, tags = @tags, visibility = @visibility,
    version = version + 1, updated_at = now()
WHERE id = @id AND owner_id = @owner_id AND version = @version AND deleted_at IS NULL
RETURNING id, owner_id, title, body, tags, visibility, version, created_at, updated_at,
          true AS "can_write!";

-- name: SoftDeleteRecord :execrows
UPDATE records SET deleted_at = now()
WHERE id = @id AND owner_id = @owner_id AND deleted_at IS NULL;

-- Shares a record the caller owns; 0 rows when they do not own it (or it is deleted). Sharing
-- twice with the same user violates the primary key (ALREADY_EXISTS).
-- name: ShareOwnRecord :execrows
INSERT INTO record_shares (record_id, user_id)
SELECT r.id, @user_id::uuid
FROM records r
WHERE r.id = @record_id AND r.owner_id = @owner_id AND r.deleted_at IS NULL;

-- Removes a share of a record the caller owns.
-- name: UnshareOwnRecord :execrows
DELETE FROM record_shares s
USING records r
WHERE s.record_id = r.id AND r.id = @record_id AND r.owner_id = @owner_id
  AND s.user_id = @user_id;

-- Records shared with the caller, newest first.
-- name: ListSharedWithReader :many
SELECT r.id, r.title, r.tags, r.visibility, r.version, r.updated_at
FROM record_shares s
JOIN records r ON r.id = s.record_id
WHERE s.user_id = @reader_id AND r.deleted_at IS NULL
ORDER BY r.id DESC
LIMIT 100;

-- Per-visibility counts of a user's records, with the newest update.
-- name: RecordStats :many
SELECT visibility, count(*) AS records, max(updated_at) AS last_updated
FROM records
WHERE owner_id = @owner_id AND deleted_at IS NULL
GROUP BY visibility
ORDER BY visibility;

-- A deleted user's records, soft-deleted ones too (the shares they gave go with them, by
-- cascade). A second run deletes nothing.
-- name: DeleteOwnerRecords :execrows
DELETE FROM records WHERE owner_id = @owner_id;

-- The shares other users gave a deleted user.
-- name: DeleteSharesWithUser :execrows
DELETE FROM record_shares WHERE user_id = @user_id;
