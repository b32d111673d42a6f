/**
 * `startConsumer`: an idempotent consumer group. Each event is handled in a transaction that
 * also records it in `svcgen_processed_events` under (group, event id), so a redelivered event
 * is skipped and a handler's writes and the record commit together. A failing handler rolls
 * back; the event is tried again with backoff, in place (later events of the topic wait, which
 * keeps order per key), and after `maxAttempts` it is dead-lettered: recorded with status
 * `dead` and its last error, logged, and passed over.
 */
import type { Pool, PoolClient } from "pg";
import type { EventLogger, EventTransport, StoredEvent } from "./event-types.js";
import { backoffDelay, errorMessage, pause, silentLogger } from "./event-types.js";
import { createPostgresTransport } from "./postgres-transport.js";

/**
 * Handles one event inside the transaction that records it as processed. Throwing rolls both
 * back. `afterCommit` registers a step to run once that transaction committed (see
 * `EventContext.afterCommit`).
 */
export type EventHandler = (
  event: StoredEvent,
  tx: PoolClient,
  afterCommit: (step: () => Promise<void> | void) => void,
) => Promise<void>;

/** Options of {@link startConsumer}. */
export interface ConsumerOptions {
  /** The consumer service's database, which holds `svcgen_processed_events`. Never ended by the consumer. */
  readonly pool: Pool;
  /** Must match the relay's. Default: `createPostgresTransport({ pool })`, closed by `stop()`. */
  readonly transport?: EventTransport | undefined;
  /** The group's name: each group processes every event once; instances of a group share the work. */
  readonly group: string;
  /** The topics to consume. */
  readonly topics: readonly string[];
  /** The handler. */
  readonly handle: EventHandler;
  /** Attempts (the first included) before an event is dead-lettered. Default 5. */
  readonly maxAttempts?: number | undefined;
  /** First delay between attempts; doubles per attempt. Default 200 ms. */
  readonly retryBaseMs?: number | undefined;
  /** Longest delay between attempts. Default 10 000 ms. */
  readonly retryMaxMs?: number | undefined;
  /** Default: silent. Dead letters are logged with `error`, failed attempts with `warn`. */
  readonly logger?: EventLogger | undefined;
  /**
   * Called after every attempt with the event's topic and what came of it: `done` (handled
   * and recorded), `skipped` (processed before: a redelivery), `failed` (the handler threw; it
   * will be retried) or `dead` (its last attempt failed). Metrics count these. Default none.
   */
  readonly onOutcome?: ((topic: string, outcome: ConsumerOutcome) => void) | undefined;
}

/** What {@link ConsumerOptions.onOutcome} reports for one attempt at an event. */
export type ConsumerOutcome = "done" | "skipped" | "failed" | "dead";

/** A running consumer. */
export interface Consumer {
  /** Stops taking events, waits for the one being handled, releases connections and the default transport. */
  stop(): Promise<void>;
}

/** What one attempt at an event came to: handled now, handled before (skipped), or failed with the attempts so far. */
export type ProcessOutcome =
  | { readonly kind: "done" }
  | { readonly kind: "skipped" }
  | { readonly kind: "failed"; readonly attempts: number; readonly error: unknown };

/** Raised into the transport when `stop()` interrupts a retry, so the event stays unacknowledged. */
class ConsumerStoppedError extends Error {
  override readonly name = "ConsumerStoppedError";
}

// Claims the event for the group: a first delivery inserts `done`, a retry of a `failed` one
// turns it to `done`; no row back means it was done or dead-lettered already (skip). The row
// lock also makes a concurrent delivery of the same event wait for this one's outcome.
const claimSql = `INSERT INTO svcgen_processed_events AS p (group_name, event_id, topic, status, attempts)
VALUES ($1, $2, $3, 'done', 1)
ON CONFLICT (group_name, event_id) DO UPDATE
  SET status = 'done', attempts = p.attempts + 1, last_error = NULL, processed_at = now()
  WHERE p.status = 'failed'
RETURNING attempts`;

const failSql = `INSERT INTO svcgen_processed_events AS p (group_name, event_id, topic, status, attempts, last_error)
VALUES ($1, $2, $3, 'failed', 1, $4)
ON CONFLICT (group_name, event_id) DO UPDATE
  SET attempts = p.attempts + 1, last_error = EXCLUDED.last_error, processed_at = now()
  WHERE p.status = 'failed'
RETURNING attempts`;

const deadSql = `UPDATE svcgen_processed_events SET status = 'dead', processed_at = now()
WHERE group_name = $1 AND event_id = $2 AND status = 'failed'`;

/**
 * Makes one attempt at `event` for `group`: skipped if the group already processed (or
 * dead-lettered) it, otherwise `handle(event, tx, afterCommit)` and the processed record in
 * one transaction, then the steps the handler registered with `afterCommit`, in order, once
 * the commit succeeded and the connection is back in the pool (a failing step is logged to
 * `logger`, default silent). A handler failure is recorded (attempts, last error) after the
 * rollback. Database errors outside the handler reject, leaving the event to be delivered again.
 */
export async function processEvent(
  pool: Pool,
  group: string,
  event: StoredEvent,
  handle: EventHandler,
  logger: EventLogger = silentLogger,
): Promise<ProcessOutcome> {
  const client = await pool.connect();
  let broken: Error | undefined;
  let handlerError: { error: unknown } | undefined;
  const steps: (() => Promise<void> | void)[] = [];
  try {
    await client.query("BEGIN");
    try {
      const claimed = await client.query(claimSql, [group, event.id, event.topic]);
      if (claimed.rowCount === 0) {
        await client.query("COMMIT");
        return { kind: "skipped" };
      }
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    }
    try {
      await handle(event, client, (step) => {
        steps.push(step);
      });
      await client.query("COMMIT");
    } catch (error) {
      handlerError = { error };
      await client.query("ROLLBACK").catch((e: unknown) => {
        broken = e instanceof Error ? e : new Error(String(e));
      });
    }
  } finally {
    client.release(broken);
  }
  if (handlerError === undefined) {
    await runAfterCommit(steps, group, event, logger);
    return { kind: "done" };
  }
  const failed = await pool.query<{ attempts: number }>(failSql, [
    group,
    event.id,
    event.topic,
    errorMessage(handlerError.error),
  ]);
  const attempts = failed.rows[0]?.attempts;
  // No row: another instance finished the event meanwhile.
  if (attempts === undefined) return { kind: "skipped" };
  return { kind: "failed", attempts, error: handlerError.error };
}

/** Runs the after-commit steps of a handled event one by one; a failure is logged, the rest still run. */
async function runAfterCommit(
  steps: readonly (() => Promise<void> | void)[],
  group: string,
  event: StoredEvent,
  logger: EventLogger,
): Promise<void> {
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      logger.warn("An after-commit step of a handled event failed", {
        group,
        eventId: event.id,
        topic: event.topic,
        error: errorMessage(error),
      });
    }
  }
}

/**
 * Starts a consumer group member; it runs until `stop()`. Rejects when the transport cannot
 * subscribe at start (database or NATS unreachable); later outages are logged and retried.
 */
export async function startConsumer(options: ConsumerOptions): Promise<Consumer> {
  const { pool, group, handle } = options;
  if (options.topics.length === 0) throw new Error(`Consumer ${group} has no topics`);
  const ownTransport = options.transport === undefined;
  const transport = options.transport ?? createPostgresTransport({ pool });
  const maxAttempts = options.maxAttempts ?? 5;
  const retryBaseMs = options.retryBaseMs ?? 200;
  const retryMaxMs = options.retryMaxMs ?? 10_000;
  const logger = options.logger ?? silentLogger;
  const onOutcome = options.onOutcome ?? (() => {});
  const stopping = new AbortController();

  async function deliver(event: StoredEvent, progress: () => void): Promise<void> {
    for (;;) {
      if (stopping.signal.aborted) throw new ConsumerStoppedError("Consumer stopped");
      const outcome = await processEvent(pool, group, event, handle, logger);
      if (outcome.kind !== "failed") {
        onOutcome(event.topic, outcome.kind);
        return;
      }
      const details = {
        group,
        eventId: event.id,
        topic: event.topic,
        attempts: outcome.attempts,
        error: errorMessage(outcome.error),
      };
      if (outcome.attempts >= maxAttempts) {
        await pool.query(deadSql, [group, event.id]);
        onOutcome(event.topic, "dead");
        logger.error("Event dead-lettered after its last attempt", details);
        return;
      }
      onOutcome(event.topic, "failed");
      logger.warn("Event handler failed; retrying", details);
      progress();
      await pause(backoffDelay(outcome.attempts, retryBaseMs, retryMaxMs), stopping.signal);
    }
  }

  const subscription = await transport.subscribe({
    group,
    topics: options.topics,
    deliver,
    onError(error) {
      if (error instanceof ConsumerStoppedError) return;
      logger.warn("Event delivery failed; it will be delivered again", {
        group,
        error: errorMessage(error),
      });
    },
  });

  return {
    async stop() {
      if (stopping.signal.aborted) return;
      stopping.abort();
      await subscription.stop();
      if (ownTransport) await transport.close();
    },
  };
}
