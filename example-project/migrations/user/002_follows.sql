-- Who follows whom. Both ends are profiles: deleting a profile (DeleteMyAccount) removes its
-- follows in both directions through ON DELETE CASCADE.
CREATE TABLE follows (
  follower_id uuid NOT NULL REFERENCES profiles (user_id) ON DELETE CASCADE,
  followee_id uuid NOT NULL REFERENCES profiles (user_id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (follower_id, followee_id),
  CONSTRAINT follows_not_self CHECK (follower_id <> followee_id)
);
CREATE INDEX follows_followee_idx ON follows (followee_id, created_at DESC);
