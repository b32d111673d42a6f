/**
 * A LISTEN connection that wakes a polling loop. It holds one pooled connection, reconnects
 * after losing it, and folds notifications that arrive while the loop is busy into one wake-up,
 * so nothing is missed between two waits.
 */
import type { Pool, PoolClient } from "pg";
import type { EventLogger } from "./event-types.js";
import { errorMessage, pause } from "./event-types.js";

/** See the module comment. */
export interface NotificationListener {
  /** Resolves on a notification (or one received since the last wait), after `timeoutMs`, or when `signal` aborts. */
  wait(timeoutMs: number, signal: AbortSignal): Promise<void>;
  /** UNLISTENs and releases the connection. */
  close(): Promise<void>;
}

/** Starts listening on `channel`; resolves once the first LISTEN is in place. */
export async function createNotificationListener(
  pool: Pool,
  channel: string,
  logger: EventLogger,
): Promise<NotificationListener> {
  let pending = false;
  let wake: (() => void) | undefined;
  let client: PoolClient | undefined;
  let closed = false;
  const closing = new AbortController();

  const onNotification = (): void => {
    pending = true;
    wake?.();
  };

  const errorHandlers = new Map<PoolClient, (err: Error) => void>();
  // A released client goes back to the pool: it must not keep this listener's handlers.
  function detach(c: PoolClient): void {
    c.removeListener("notification", onNotification);
    const onError = errorHandlers.get(c);
    if (onError !== undefined) c.removeListener("error", onError);
    errorHandlers.delete(c);
  }

  async function connect(): Promise<void> {
    const c = await pool.connect();
    const onError = (err: Error): void => {
      // The connection died: poll only until a new one listens; wake the loop to catch up.
      logger.warn("LISTEN connection lost; reconnecting", { channel, error: err.message });
      detach(c);
      c.release(err);
      if (client === c) client = undefined;
      onNotification();
      void reconnect();
    };
    errorHandlers.set(c, onError);
    c.on("notification", onNotification);
    c.on("error", onError);
    try {
      await c.query(`LISTEN ${channel}`);
    } catch (err) {
      detach(c);
      c.release(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
    client = c;
  }

  async function reconnect(): Promise<void> {
    for (let attempt = 1; !closed; attempt++) {
      await pause(Math.min(5000, 100 * 2 ** attempt), closing.signal);
      if (closed) return;
      try {
        await connect();
        onNotification();
        return;
      } catch (err) {
        logger.warn("LISTEN reconnect failed", { channel, error: errorMessage(err) });
      }
    }
  }

  await connect();

  return {
    async wait(timeoutMs, signal) {
      if (pending) {
        pending = false;
        return;
      }
      const woken = new Promise<void>((resolve) => {
        wake = resolve;
      });
      const both = new AbortController();
      const onAbort = (): void => both.abort();
      signal.addEventListener("abort", onAbort, { once: true });
      await Promise.race([woken, pause(timeoutMs, both.signal)]);
      both.abort();
      signal.removeEventListener("abort", onAbort);
      wake = undefined;
      pending = false;
    },
    async close() {
      closed = true;
      closing.abort();
      const c = client;
      client = undefined;
      if (c === undefined) return;
      detach(c);
      try {
        await c.query(`UNLISTEN ${channel}`);
        c.release();
      } catch (err) {
        c.release(err instanceof Error ? err : new Error(String(err)));
      }
    },
  };
}
