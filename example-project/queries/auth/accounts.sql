-- Finds the account of a Firebase user.
-- name: GetAccountByFirebaseUid :one
SELECT id, firebase_uid, email, email_verified, roles, created_at, last_sign_in_at
FROM accounts
WHERE firebase_uid = @firebase_uid;

-- Creates the account on first sign-in, or records the sign-in.
-- name: UpsertAccountOnSignIn :one
INSERT INTO accounts (firebase_uid, email, email_verified, last_sign_in_at)
VALUES (@firebase_uid, @email, @email_verified, now())
ON CONFLICT (firebase_uid) DO UPDATE
  SET email = EXCLUDED.email,
      email_verified = EXCLUDED.email_verified,
      last_sign_in_at = now()
RETURNING id, firebase_uid, email, email_verified, roles, created_at, last_sign_in_at;

-- name: CreateSession :one
INSERT INTO sessions (account_id, user_agent, expires_at)
VALUES (@account_id, sqlc.narg(user_agent), @expires_at)
RETURNING id, account_id, created_at, expires_at;

-- Active sessions of an account, newest first.
-- name: ListActiveSessions :many
SELECT s.id, s.user_agent, s.created_at, s.expires_at
FROM sessions s
WHERE s.account_id = @account_id
  AND s.revoked_at IS NULL
  AND s.expires_at > now()
ORDER BY s.created_at DESC;

-- name: RevokeSession :execrows
UPDATE sessions
SET revoked_at = now()
WHERE id = @id AND account_id = @account_id AND revoked_at IS NULL;

-- name: SetAccountRoles :exec
UPDATE accounts SET roles = @roles WHERE id = @id;
