-- An account by its id (the token subject).
-- name: GetAccount :one
SELECT id, email, email_verified, roles, created_at, last_sign_in_at
FROM accounts
WHERE id = @id;

-- Creates the account on first sign-in, or records the sign-in; `created` is true for a new
-- account (an inserted row has no xmax).
-- name: UpsertAccountOnSignIn :one
INSERT INTO accounts (id, email, email_verified, last_sign_in_at)
VALUES (@id, sqlc.narg(email), @email_verified, now())
ON CONFLICT (id) DO UPDATE
  SET email = EXCLUDED.email,
      email_verified = EXCLUDED.email_verified,
      last_sign_in_at = now()
RETURNING id, email, email_verified, roles, created_at, last_sign_in_at,
          (xmax = 0) AS "created!";

-- name: CreateSession :one
INSERT INTO sessions (account_id, user_agent, expires_at)
VALUES (@account_id, sqlc.narg(user_agent), @expires_at)
RETURNING id, account_id, user_agent, created_at, expires_at;

-- Active sessions of an account, newest first.
-- name: ListActiveSessions :many
SELECT s.id, s.account_id, s.user_agent, s.created_at, s.expires_at
FROM sessions s
WHERE s.account_id = @account_id
  AND s.revoked_at IS NULL
  AND s.expires_at > now()
ORDER BY s.created_at DESC, s.id;

-- Revokes one of the account's active sessions; no row when it is not theirs or already revoked.
-- name: RevokeSession :one
UPDATE sessions
SET revoked_at = now()
WHERE id = @id AND account_id = @account_id AND revoked_at IS NULL
RETURNING id, revoked_at AS "revoked_at!";

-- Replaces an account's roles; no row for an unknown account.
-- name: SetAccountRoles :one
UPDATE accounts SET roles = @roles WHERE id = @id
RETURNING id, email, email_verified, roles, created_at, last_sign_in_at;
