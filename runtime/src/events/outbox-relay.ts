/**
 * `startRelay`: moves committed outbox rows to a transport, at least once. Rows are claimed
 * with `FOR UPDATE SKIP LOCKED` (several relays share the work), published, and marked
 * delivered in the claiming transaction only after the transport acknowledged them, so a
 * relay that dies mid-batch loses nothing: its locks go with its connection and another run
 * publishes the rows again (transports drop the duplicates by event id).
 */
import type { Pool, PoolClient } from "pg";
import type { EventLogger, EventTransport, StoredEvent } from "./event-types.js";
import { backoffDelay, errorMessage, pause, silentLogger } from "./event-types.js";
import { outboxChannel } from "./events-schema.js";
import { createNotificationListener } from "./notification-listener.js";
import { createPostgresTransport } from "./postgres-transport.js";

/** Options of {@link startRelay}. */
export interface RelayOptions {
  /** The pool of the database holding the outbox. The relay never ends it. */
  readonly pool: Pool;
  /** Where events go. Default: `createPostgresTransport({ pool })`, closed by `stop()`. */
  readonly transport?: EventTransport | undefined;
  /** Rows claimed and published per batch. Default 100. */
  readonly batchSize?: number | undefined;
  /**
   * How often the outbox is read without a notification: the safety net for a lost LISTEN
   * connection and for rows waiting on a retry. Default 1000 ms.
   */
  readonly pollIntervalMs?: number | undefined;
  /** First retry delay after a failed publish; doubles per attempt of the batch's first row. Default 500 ms. */
  readonly retryBaseMs?: number | undefined;
  /** Longest retry delay. Default 60 000 ms. A relay never gives up on an event. */
  readonly retryMaxMs?: number | undefined;
  /** Wake on `NOTIFY svcgen_outbox` (one pooled connection held while running). Default true. */
  readonly listen?: boolean | undefined;
  /** Default: silent. */
  readonly logger?: EventLogger | undefined;
}

/** A running relay. */
export interface Relay {
  /** Events published and marked delivered by this relay so far. */
  readonly delivered: number;
  /** Runs batches until the outbox has nothing ready (used by tests and benchmarks); resolves with the events delivered. */
  drain(): Promise<number>;
  /** Stops claiming, waits for the in-flight batch to finish, releases the LISTEN connection and the default transport. */
  stop(): Promise<void>;
}

/** An outbox row as the relay claims it (bigint `seq` as text). */
export interface OutboxRow {
  seq: string;
  id: string;
  topic: string;
  key: string;
  payload: Buffer;
  content_type: string;
  headers: Record<string, string>;
  created_at: Date;
  attempts: number;
}

const claimSql = `SELECT seq, id, topic, key, payload, content_type, headers, created_at, attempts
FROM svcgen_outbox
WHERE delivered_at IS NULL AND next_attempt_at <= now()
ORDER BY seq
LIMIT $1
FOR UPDATE SKIP LOCKED`;

// Every undelivered row of the batch's keys up to the batch's last row, locked or not. A key's
// rows in the batch may go out only while they match this list from its start: a row missing
// before them (held by another relay, or waiting for a retry) would be overtaken.
const pendingOfKeysSql = `SELECT key, seq FROM svcgen_outbox
WHERE delivered_at IS NULL AND key = ANY($1::text[]) AND seq <= $2
ORDER BY seq`;

/**
 * The rows that can be published now without breaking the order of their keys: for each key,
 * the longest run of its rows in the batch that starts at its oldest undelivered row and has
 * no gap. Rows without a key are always ready. Exported for its unit test only (not part of
 * the package index).
 */
export function orderedPrefix(
  rows: OutboxRow[],
  pending: { key: string; seq: string }[],
): OutboxRow[] {
  const inBatch = new Map<string, string[]>();
  for (const row of rows) {
    if (row.key === "") continue;
    const list = inBatch.get(row.key);
    if (list === undefined) inBatch.set(row.key, [row.seq]);
    else list.push(row.seq);
  }
  const position = new Map<string, number>();
  const allowed = new Map<string, number>();
  for (const p of pending) {
    const i = position.get(p.key) ?? 0;
    if (allowed.has(p.key)) continue;
    if (inBatch.get(p.key)?.[i] === p.seq) position.set(p.key, i + 1);
    else allowed.set(p.key, i);
  }
  const taken = new Map<string, number>();
  return rows.filter((row) => {
    if (row.key === "") return true;
    const n = taken.get(row.key) ?? 0;
    taken.set(row.key, n + 1);
    return n < (allowed.get(row.key) ?? position.get(row.key) ?? 0);
  });
}

/**
 * Starts a relay; it runs until `stop()`. Several relays may run against one outbox. Resolves
 * once its LISTEN is in place, so it rejects when the database cannot be reached at start;
 * later outages are logged and retried.
 */
export async function startRelay(options: RelayOptions): Promise<Relay> {
  const { pool } = options;
  const ownTransport = options.transport === undefined;
  const transport = options.transport ?? createPostgresTransport({ pool });
  const batchSize = options.batchSize ?? 100;
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const retryBaseMs = options.retryBaseMs ?? 500;
  const retryMaxMs = options.retryMaxMs ?? 60_000;
  const logger = options.logger ?? silentLogger;
  const stopping = new AbortController();
  let delivered = 0;

  // Serialises batches of this relay: the loop and drain() never claim at the same time.
  let chain: Promise<unknown> = Promise.resolve();
  const runBatch = (): Promise<number> => {
    const next = chain.then(() => claimAndPublish());
    chain = next.catch(() => undefined);
    return next;
  };

  async function claimAndPublish(): Promise<number> {
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      await client.query("BEGIN");
      try {
        const n = await publishClaimed(client);
        await client.query("COMMIT");
        return n;
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

  async function publishClaimed(client: PoolClient): Promise<number> {
    const rows = (await client.query<OutboxRow>(claimSql, [batchSize])).rows;
    if (rows.length === 0) return 0;
    const keys = [...new Set(rows.map((r) => r.key).filter((k) => k !== ""))];
    const pending =
      keys.length === 0
        ? []
        : (
            await client.query<{ key: string; seq: string }>(pendingOfKeysSql, [
              keys,
              rows[rows.length - 1]!.seq,
            ])
          ).rows;
    const ready = orderedPrefix(rows, pending);
    if (ready.length === 0) return 0;
    const seqs = ready.map((r) => r.seq);
    try {
      await transport.publish(ready.map(toStoredEvent));
    } catch (err) {
      const delay = backoffDelay(ready[0]!.attempts + 1, retryBaseMs, retryMaxMs);
      logger.warn("Publishing outbox events failed; retrying later", {
        transport: transport.kind,
        events: ready.length,
        retryInMs: delay,
        error: errorMessage(err),
      });
      await client.query(
        `UPDATE svcgen_outbox SET attempts = attempts + 1, last_error = $2,
           next_attempt_at = now() + make_interval(secs => $3::double precision / 1000)
         WHERE seq = ANY($1::bigint[])`,
        [seqs, errorMessage(err), delay],
      );
      return 0;
    }
    await client.query(
      `UPDATE svcgen_outbox SET delivered_at = now(), attempts = attempts + 1, last_error = NULL
       WHERE seq = ANY($1::bigint[])`,
      [seqs],
    );
    delivered += ready.length;
    return ready.length;
  }

  const listener =
    options.listen === false
      ? undefined
      : await createNotificationListener(pool, outboxChannel, logger);

  async function loop(): Promise<void> {
    while (!stopping.signal.aborted) {
      let claimedFull = false;
      try {
        const n = await runBatch();
        claimedFull = n === batchSize;
      } catch (err) {
        logger.error("Outbox relay batch failed", { error: errorMessage(err) });
        await pause(retryBaseMs, stopping.signal);
      }
      if (claimedFull) continue;
      if (listener === undefined) await pause(pollIntervalMs, stopping.signal);
      else await listener.wait(pollIntervalMs, stopping.signal);
    }
  }
  const running = loop();

  return {
    get delivered() {
      return delivered;
    },
    async drain() {
      let total = 0;
      for (;;) {
        const n = await runBatch();
        total += n;
        if (n === 0) return total;
      }
    },
    async stop() {
      if (stopping.signal.aborted) return;
      stopping.abort();
      await running;
      await chain;
      await listener?.close();
      if (ownTransport) await transport.close();
    },
  };
}

function toStoredEvent(row: OutboxRow): StoredEvent {
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
