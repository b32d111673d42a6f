-- name: CreateNotification :one
INSERT INTO notifications (user_id, kind, title, body, payload)
VALUES (@user_id, @kind, @title, sqlc.narg(body), sqlc.narg(payload))
RETURNING id, user_id, kind, title, body, payload, created_at, read_at;

-- Newest first, keyset-paginated by id.
-- name: ListNotifications :many
SELECT id, kind, title, body, payload, created_at, read_at
FROM notifications
WHERE user_id = @user_id AND id < @before_id
ORDER BY id DESC
LIMIT @page_size;

-- name: StreamNotifications :many
SELECT id, kind, title, body, payload, created_at, read_at
FROM notifications
WHERE user_id = @user_id
ORDER BY id;

-- name: MarkNotificationsRead :execrows
UPDATE notifications SET read_at = now()
WHERE user_id = @user_id AND id = ANY(@ids::bigint[]) AND read_at IS NULL;

-- name: CountUnread :one
SELECT count(*) AS unread FROM notifications WHERE user_id = @user_id AND read_at IS NULL;
