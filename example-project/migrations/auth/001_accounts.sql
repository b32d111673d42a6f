-- Accounts known to the auth service, one per user of the identity provider. The id is the
-- verified token's subject (`sub`), a uuid as Supabase Auth and most OIDC issuers give it;
-- every other service keys its data by this id (auth.uid).
CREATE TABLE accounts (
  id uuid PRIMARY KEY,
  -- Unset for sign-ins without an email (phone, anonymous).
  email text,
  email_verified boolean NOT NULL DEFAULT false,
  roles text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  last_sign_in_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT accounts_email_key UNIQUE (email)
);

-- One row per sign-in (a device or browser); listed and revoked by their account.
CREATE TABLE sessions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  user_agent text,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  CHECK (expires_at > created_at)
);
CREATE INDEX sessions_account_id_idx ON sessions (account_id, created_at DESC);
