-- name: CreateNotification :one
INSERT INTO notifications (user_id, kind, title, body, payload)
VALUES (@user_id, @kind, @title, sqlc.narg(body), sqlc.narg(payload))
RETURNING id, user_id, kind, title, body, payload, created_at, read_at;

-- Newest first, keyset-paginated by id: the page before `before_id` (unset: the newest).
-- name: ListNotifications :many
SELECT id, kind, title, body, payload, created_at, read_at
FROM notifications
WHERE user_id = @user_id
  AND (sqlc.narg(before_id)::bigint IS NULL OR id < sqlc.narg(before_id))
  AND (NOT @unread_only::boolean OR read_at IS NULL)
ORDER BY id DESC
LIMIT @page_size;

-- name: StreamNotifications :many
SELECT id, kind, title, body, payload, created_at, read_at
FROM notifications
WHERE user_id = @user_id
ORDER BY id;

-- The user's notifications after `after_id`, oldest first: a subscription's catch-up.
-- name: NotificationsAfter :many
SELECT id, kind, title, body, payload, created_at, read_at
FROM notifications
WHERE user_id = @user_id AND id > @after_id
ORDER BY id
LIMIT @row_limit;

-- One notification of the user (what a subscription reads when it is announced).
-- name: GetNotification :one
SELECT id, kind, title, body, payload, created_at, read_at
FROM notifications
WHERE id = @id AND user_id = @user_id;

-- name: MarkNotificationsRead :execrows
UPDATE notifications SET read_at = now()
WHERE user_id = @user_id AND id = ANY(@ids::bigint[]) AND read_at IS NULL;

-- name: MarkAllNotificationsRead :execrows
UPDATE notifications SET read_at = now()
WHERE user_id = @user_id AND read_at IS NULL;

-- name: CountUnread :one
SELECT count(*) AS unread FROM notifications WHERE user_id = @user_id AND read_at IS NULL;

-- A notification made from an event: at most one per event (a replayed event adds nothing).
-- name: CreateNotificationForEvent :execrows
INSERT INTO notifications (user_id, kind, title, body, payload, event_id)
VALUES (@user_id, @kind, @title, sqlc.narg(body), sqlc.narg(payload), @event_id)
ON CONFLICT (event_id) DO NOTHING;

-- Every notification of a user (their account was deleted).
-- name: DeleteUserNotifications :execrows
DELETE FROM notifications WHERE user_id = @user_id;
