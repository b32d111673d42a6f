/**
 * `pruneEvents`: keeps the events tables from growing without bound. Nothing runs it on its
 * own; call it from a scheduled job (or a timer in one service) once an hour or a day.
 */
import type { Pool } from "pg";

/** Options of {@link pruneEvents}. */
export interface PruneOptions {
  /**
   * How long delivered outbox rows, event log rows and `done` processed-event records are kept.
   * Default 7 days. It must exceed the longest time an event can be delivered again (a
   * consumer's downtime, JetStream's retention), or a late duplicate would be handled twice.
   */
  readonly olderThanMs?: number | undefined;
}

/** Rows removed by {@link pruneEvents}, per table. */
export interface PruneResult {
  readonly outbox: number;
  readonly eventLog: number;
  readonly processed: number;
}

/**
 * Deletes outbox rows delivered before the cutoff, event log rows logged before it that every
 * consumer group's cursor has passed, and `done` processed-event records older than it.
 * Undelivered rows, rows some cursor still needs and dead letters are kept.
 */
export async function pruneEvents(pool: Pool, options: PruneOptions = {}): Promise<PruneResult> {
  const seconds = (options.olderThanMs ?? 7 * 24 * 3600 * 1000) / 1000;
  const cutoff = "now() - make_interval(secs => $1::double precision)";
  const outbox = await pool.query(
    `DELETE FROM svcgen_outbox WHERE delivered_at IS NOT NULL AND delivered_at < ${cutoff}`,
    [seconds],
  );
  const eventLog = await pool.query(
    `DELETE FROM svcgen_event_log WHERE logged_at < ${cutoff}
       AND position <= (SELECT COALESCE(min(position), 0) FROM svcgen_event_cursors)`,
    [seconds],
  );
  const processed = await pool.query(
    `DELETE FROM svcgen_processed_events WHERE status = 'done' AND processed_at < ${cutoff}`,
    [seconds],
  );
  return {
    outbox: outbox.rowCount ?? 0,
    eventLog: eventLog.rowCount ?? 0,
    processed: processed.rowCount ?? 0,
  };
}
