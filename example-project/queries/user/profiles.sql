-- name: GetProfile :one
SELECT user_id, handle, display_name, bio, avatar_file_id, locale, timezone, created_at, updated_at
FROM profiles
WHERE user_id = @user_id;

-- name: GetProfileByHandle :one
SELECT user_id, handle, display_name, bio, avatar_file_id, locale, timezone, created_at, updated_at
FROM profiles
WHERE handle = @handle;

-- name: CreateProfile :one
INSERT INTO profiles (user_id, handle, display_name, bio, locale, timezone)
VALUES (@user_id, @handle, @display_name, sqlc.narg(bio), @locale, sqlc.narg(timezone))
RETURNING user_id, handle, display_name, bio, avatar_file_id, locale, timezone, created_at, updated_at;

-- Updates the fields that are given; a null leaves a field as it is.
-- name: UpdateProfile :one
UPDATE profiles
SET display_name = coalesce(sqlc.narg(display_name), display_name),
    bio = coalesce(sqlc.narg(bio), bio),
    locale = coalesce(sqlc.narg(locale), locale),
    timezone = coalesce(sqlc.narg(timezone), timezone),
    updated_at = now()
WHERE user_id = @user_id
RETURNING user_id, handle, display_name, bio, avatar_file_id, locale, timezone, created_at, updated_at;

-- name: SetProfileAvatar :execrows
UPDATE profiles SET avatar_file_id = sqlc.narg(avatar_file_id), updated_at = now()
WHERE user_id = @user_id;

-- name: ListProfilesByIds :many
SELECT user_id, handle, display_name, avatar_file_id
FROM profiles
WHERE user_id = ANY(@user_ids::uuid[])
ORDER BY handle;

-- Profiles matching every filter that is given (a null filter matches all), in handle order,
-- after the keyset cursor `after_handle` (handles are unique, so the order is total).
-- name: SearchProfiles :many
SELECT user_id, handle, display_name, avatar_file_id
FROM profiles
WHERE (sqlc.narg(handle_prefix)::text IS NULL OR starts_with(handle, sqlc.narg(handle_prefix)))
  AND (sqlc.narg(name_contains)::text IS NULL
       OR strpos(lower(display_name), lower(sqlc.narg(name_contains))) > 0)
  AND (sqlc.narg(locale)::text IS NULL OR locale = sqlc.narg(locale))
  AND (sqlc.narg(after_handle)::text IS NULL OR handle > sqlc.narg(after_handle))
ORDER BY handle
LIMIT @row_limit;

-- Deletes the caller's profile and, through ON DELETE CASCADE, everything of theirs the user
-- service keeps.
-- name: DeleteProfile :one
DELETE FROM profiles WHERE user_id = @user_id
RETURNING user_id;

-- Following a user twice violates the primary key (ALREADY_EXISTS); a user without a profile
-- violates the foreign key (FAILED_PRECONDITION); oneself violates follows_not_self.
-- name: Follow :one
INSERT INTO follows (follower_id, followee_id)
VALUES (@follower_id, @followee_id)
RETURNING follower_id, followee_id, created_at;

-- name: Unfollow :execrows
DELETE FROM follows WHERE follower_id = @follower_id AND followee_id = @followee_id;

-- The profiles a user follows, by handle.
-- name: ListFollowing :many
SELECT p.user_id, p.handle, p.display_name, p.avatar_file_id
FROM follows f
JOIN profiles p ON p.user_id = f.followee_id
WHERE f.follower_id = @follower_id
ORDER BY p.handle;

-- The profiles following a user, by handle.
-- name: ListFollowers :many
SELECT p.user_id, p.handle, p.display_name, p.avatar_file_id
FROM follows f
JOIN profiles p ON p.user_id = f.follower_id
WHERE f.followee_id = @followee_id
ORDER BY p.handle;
