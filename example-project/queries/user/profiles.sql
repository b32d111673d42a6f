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
