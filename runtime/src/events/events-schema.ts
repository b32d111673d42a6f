/**
 * The tables of the events layer, as one migration a project applies once. Every statement is
 * idempotent (`IF NOT EXISTS`), so applying it twice, or from two services sharing a database,
 * is harmless.
 */

/** The outbox: one row per event a producer wrote, in the producer's own transaction. */
export const outboxTable = "svcgen_outbox";
/** The PostgreSQL transport's delivered-event log, read by consumer groups through cursors. */
export const eventLogTable = "svcgen_event_log";
/** One cursor per consumer group of the PostgreSQL transport: the last log position handled. */
export const eventCursorTable = "svcgen_event_cursors";
/** What each consumer group did with each event: done, or dead-lettered after N failures. */
export const processedEventsTable = "svcgen_processed_events";
/** The channel `writeEvent` notifies at commit; relays LISTEN on it. */
export const outboxChannel = "svcgen_outbox";
/** The channel the PostgreSQL transport notifies when it appends to the event log. */
export const eventLogChannel = "svcgen_event_log";

/**
 * The migration that creates the events tables (PostgreSQL 13+ for `gen_random_uuid()`).
 *
 * Payloads are `bytea`: producers write protobuf binary, which keeps field numbers (old
 * consumers read new events, new consumers read old ones), keeps int64 exact and is smaller
 * than JSON; `content_type` says how to read the bytes, so a JSON payload
 * (`application/json`) is possible too. `headers` holds string pairs such as W3C trace
 * context (`traceparent`), carried to consumers unchanged. `seq` orders the outbox (insertion
 * order, which is commit order for writers that lock the same row, as writers of one key do);
 * `next_attempt_at` and `attempts` drive the relay's backoff when a transport fails.
 */
export const eventsMigrationSql = `-- svcgen events: transactional outbox, PostgreSQL event log, consumer cursors, processed events
CREATE TABLE IF NOT EXISTS svcgen_outbox (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  topic text NOT NULL CHECK (topic ~ '^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*$'),
  key text NOT NULL DEFAULT '',
  payload bytea NOT NULL,
  content_type text NOT NULL DEFAULT 'application/x-protobuf',
  headers jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error text,
  delivered_at timestamptz
);
CREATE INDEX IF NOT EXISTS svcgen_outbox_pending ON svcgen_outbox (seq) WHERE delivered_at IS NULL;
CREATE INDEX IF NOT EXISTS svcgen_outbox_pending_key ON svcgen_outbox (key, seq) WHERE delivered_at IS NULL;

CREATE TABLE IF NOT EXISTS svcgen_event_log (
  position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id uuid NOT NULL UNIQUE,
  topic text NOT NULL,
  key text NOT NULL,
  payload bytea NOT NULL,
  content_type text NOT NULL,
  headers jsonb NOT NULL,
  created_at timestamptz NOT NULL,
  logged_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS svcgen_event_log_topic ON svcgen_event_log (topic, position);

CREATE TABLE IF NOT EXISTS svcgen_event_cursors (
  group_name text PRIMARY KEY,
  position bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS svcgen_processed_events (
  group_name text NOT NULL,
  event_id uuid NOT NULL,
  topic text NOT NULL,
  status text NOT NULL CHECK (status IN ('done', 'failed', 'dead')),
  attempts integer NOT NULL DEFAULT 1,
  last_error text,
  processed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_name, event_id)
);
CREATE INDEX IF NOT EXISTS svcgen_processed_events_dead ON svcgen_processed_events (group_name) WHERE status = 'dead';
`;
