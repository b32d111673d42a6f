-- Public profiles, keyed by the auth service's account id.
CREATE TABLE profiles (
  user_id uuid PRIMARY KEY,
  handle text NOT NULL UNIQUE CHECK (handle ~ '^[a-z0-9_]{3,30}$'),
  display_name text NOT NULL,
  bio text,
  avatar_file_id uuid,
  locale text NOT NULL DEFAULT 'en',
  timezone text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
-- Search by locale keeps handle order (the keyset) from the index.
CREATE INDEX profiles_locale_handle_idx ON profiles (locale, handle);
