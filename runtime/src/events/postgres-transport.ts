/**
 * The PostgreSQL transport (the default): the relay appends events to `svcgen_event_log` and
 * notifies `svcgen_event_log`; each consumer group reads the log from its own cursor
 * (`svcgen_event_cursors`), woken by the notification. Consumers in other services read the
 * same database, so no broker is needed. Notifications carry no event (their payload is capped
 * at 8000 bytes); they only say "read the log".
 */
import type { Pool } from "pg";
import type {
  EventLogger,
  EventTransport,
  StoredEvent,
  SubscribeOptions,
  TransportSubscription,
} from "./event-types.js";
import { backoffDelay, pause, silentLogger } from "./event-types.js";
import { eventLogChannel } from "./events-schema.js";
import { createNotificationListener } from "./notification-listener.js";

/** Options of {@link createPostgresTransport}. */
export interface PostgresTransportOptions {
  /** The pool of the database that holds the event log (usually the outbox's). Never ended by the transport. */
  readonly pool: Pool;
  /** Events a consumer reads per batch. Default 100. */
  readonly batchSize?: number | undefined;
  /** How often a consumer reads the log without a notification. Default 1000 ms. */
  readonly pollIntervalMs?: number | undefined;
  /** First delay before reading again after a delivery failed; doubles up to 30 s. Default 200 ms. */
  readonly retryBaseMs?: number | undefined;
  /** Default: silent. */
  readonly logger?: EventLogger | undefined;
}

// The append runs under a transaction-level advisory lock, so log positions are handed out in
// commit order: a cursor that has read position N never misses a row below N committed later.
const logLockKey = 0x73766367; // "svcg"

const appendSql = `INSERT INTO svcgen_event_log (id, topic, key, payload, content_type, headers, created_at)
SELECT id, topic, key, payload, content_type, headers, created_at
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bytea[], $5::text[], $6::jsonb[], $7::timestamptz[])
  WITH ORDINALITY AS e(id, topic, key, payload, content_type, headers, created_at, n)
ORDER BY n
ON CONFLICT (id) DO NOTHING`;

interface LogRow {
  position: string;
  id: string;
  topic: string;
  key: string;
  payload: Buffer;
  content_type: string;
  headers: Record<string, string>;
  created_at: Date;
}

const readSql = `SELECT position, id, topic, key, payload, content_type, headers, created_at
FROM svcgen_event_log WHERE position > $1 AND topic = ANY($2::text[])
ORDER BY position LIMIT $3`;

/** Creates the PostgreSQL transport. Duplicates (same event id) are dropped by the log's unique id. */
export function createPostgresTransport(options: PostgresTransportOptions): EventTransport {
  const { pool } = options;
  const batchSize = options.batchSize ?? 100;
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const retryBaseMs = options.retryBaseMs ?? 200;
  const logger = options.logger ?? silentLogger;

  async function publish(events: readonly StoredEvent[]): Promise<void> {
    if (events.length === 0) return;
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      await client.query("BEGIN");
      try {
        await client.query("SELECT pg_advisory_xact_lock($1)", [logLockKey]);
        await client.query(appendSql, [
          events.map((e) => e.id),
          events.map((e) => e.topic),
          events.map((e) => e.key),
          events.map((e) =>
            Buffer.from(e.payload.buffer, e.payload.byteOffset, e.payload.byteLength),
          ),
          events.map((e) => e.contentType),
          events.map((e) => JSON.stringify(e.headers)),
          events.map((e) => e.createdAt),
        ]);
        await client.query(`SELECT pg_notify('${eventLogChannel}', '')`);
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK").catch((e: unknown) => {
          broken = e instanceof Error ? e : new Error(String(e));
        });
        throw err;
      }
    } finally {
      client.release(broken);
    }
  }

  async function subscribe(sub: SubscribeOptions): Promise<TransportSubscription> {
    await pool.query(
      "INSERT INTO svcgen_event_cursors (group_name) VALUES ($1) ON CONFLICT (group_name) DO NOTHING",
      [sub.group],
    );
    const stopping = new AbortController();
    const listener = await createNotificationListener(pool, eventLogChannel, logger);
    let failures = 0;

    // One batch: lock the group's cursor (SKIP LOCKED: another instance of the group is busy,
    // wait for the next wake-up), deliver in log order, move the cursor past what succeeded.
    async function readBatch(): Promise<number> {
      const client = await pool.connect();
      let broken: Error | undefined;
      let failed: { error: unknown } | undefined;
      let handled = 0;
      try {
        await client.query("BEGIN");
        try {
          const cursor = await client.query<{ position: string }>(
            "SELECT position FROM svcgen_event_cursors WHERE group_name = $1 FOR UPDATE SKIP LOCKED",
            [sub.group],
          );
          const from = cursor.rows[0]?.position;
          if (from !== undefined) {
            const rows = (await client.query<LogRow>(readSql, [from, sub.topics, batchSize])).rows;
            let last = from;
            for (const row of rows) {
              if (stopping.signal.aborted) break;
              try {
                await sub.deliver(toStoredEvent(row), () => {});
              } catch (error) {
                failed = { error };
                break;
              }
              last = row.position;
              handled++;
            }
            if (last !== from) {
              await client.query(
                "UPDATE svcgen_event_cursors SET position = $2, updated_at = now() WHERE group_name = $1",
                [sub.group, last],
              );
            }
          }
          await client.query("COMMIT");
        } catch (err) {
          await client.query("ROLLBACK").catch((e: unknown) => {
            broken = e instanceof Error ? e : new Error(String(e));
          });
          throw err;
        }
      } finally {
        client.release(broken);
      }
      if (failed !== undefined) throw failed.error;
      return handled === batchSize ? handled : 0;
    }

    async function loop(): Promise<void> {
      while (!stopping.signal.aborted) {
        let more = false;
        try {
          more = (await readBatch()) > 0;
          failures = 0;
        } catch (err) {
          if (stopping.signal.aborted) break;
          failures++;
          sub.onError(err);
          await pause(backoffDelay(failures, retryBaseMs, 30_000), stopping.signal);
          continue;
        }
        if (!more) await listener.wait(pollIntervalMs, stopping.signal);
      }
    }
    const running = loop();

    return {
      async stop() {
        if (stopping.signal.aborted) return;
        stopping.abort();
        await running;
        await listener.close();
      },
    };
  }

  return {
    kind: "postgres",
    publish,
    subscribe,
    async close() {},
  };
}

function toStoredEvent(row: LogRow): StoredEvent {
  return {
    id: row.id,
    topic: row.topic,
    key: row.key,
    payload: row.payload,
    contentType: row.content_type,
    headers: row.headers,
    createdAt: row.created_at,
  };
}
