/**
 * `withTransaction`: BEGIN with the requested isolation, run a function, COMMIT; ROLLBACK on
 * error; run the whole function again on serialization failures and deadlocks.
 *
 * Why a whole transaction may run again, and only then (correctness first):
 * - SQLSTATE 40001 (serialization failure) and 40P01 (deadlock detected) mean the server
 *   aborted the transaction, at a statement or at COMMIT: nothing of that attempt is stored,
 *   and the ROLLBACK that follows is certain. Running it again from BEGIN, on a new snapshot,
 *   is what PostgreSQL asks of a client that gets them, and cannot store anything twice.
 * - Nothing else is retried here. A lost connection or a restart (08xxx, 57P01), above all
 *   during COMMIT, leaves the outcome unknown: the transaction may have committed, and running
 *   it again would repeat its writes. A statement error the function caught and went on from
 *   makes COMMIT answer ROLLBACK: that rejects with {@link TransactionRolledBackError}, never
 *   with the function's result, and is not retried either.
 * - The function itself must be safe to run again: everything it does goes through `tx` (an
 *   event through the outbox in the same transaction is fine; an HTTP call or a message sent
 *   elsewhere is not), and it must not catch 40001/40P01. It learns of a rerun from `attempt`.
 * - No attempt starts, and no backoff continues, after `signal` aborted (the call's deadline).
 * - A transaction whose retries ran out is marked (`markRetriedBelow`), so the server's
 *   call-level retry does not run it again on top: at most `maxRetries + 1` attempts.
 */

import { trace } from "@opentelemetry/api";
import type { Client, Pool, PoolClient } from "pg";
import {
  attachedTraceContext,
  attachTraceContext,
  inTraceOf,
  traceContextFor,
} from "../telemetry/trace-scope.js";
import { QueryAbortedError, sqlState, TransactionRolledBackError } from "./errors.js";
import { markRetriedBelow } from "./query-retry.js";
import { markSentWrite } from "./sent-writes.js";

/** PostgreSQL's isolation levels, spelled as in `BEGIN ISOLATION LEVEL ...`. */
export type IsolationLevel =
  | "read uncommitted"
  | "read committed"
  | "repeatable read"
  | "serializable";

/** Options of {@link withTransaction}. */
export interface TransactionOptions {
  /** Default: the server's `default_transaction_isolation` (read committed unless configured). */
  readonly isolationLevel?: IsolationLevel | undefined;
  /** Start a READ ONLY transaction. Default false. */
  readonly readOnly?: boolean | undefined;
  /**
   * How many times to run the function again after SQLSTATE 40001 (serialization failure) or
   * 40P01 (deadlock), with jittered exponential backoff. Default 3; 0 disables retries.
   */
  readonly maxRetries?: number | undefined;
  /**
   * Stops the transaction: checked before each attempt and before each backoff. An abort
   * while the function runs rolls back and rejects with an `AbortError` once the function
   * settles (pass the same signal to the queries inside to cancel them on the server).
   */
  readonly signal?: AbortSignal | undefined;
}

/** Facts about the current attempt, given to the transaction's function. */
export interface TransactionAttempt {
  /** 0 for the first run, then 1, 2, ... for retries. */
  readonly attempt: number;
}

/** SQLSTATEs after which running the whole transaction again can succeed. */
const retryableStates = new Set(["40001", "40P01"]);

function beginStatement(opts: TransactionOptions): string {
  let sql = "BEGIN";
  if (opts.isolationLevel !== undefined)
    sql += ` ISOLATION LEVEL ${opts.isolationLevel.toUpperCase()}`;
  if (opts.readOnly === true) sql += " READ ONLY";
  return sql;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new QueryAbortedError(signal?.reason));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function isPool(db: Pool | PoolClient | Client): db is Pool {
  return typeof (db as Partial<Pool>).totalCount === "number";
}

/**
 * Runs `fn` in a transaction and resolves with its result after COMMIT. Given a `Pool`, a
 * client is checked out for the whole call and released afterwards (destroyed if ROLLBACK
 * itself failed, so a broken connection never returns to the pool); given a `Client` or
 * `PoolClient`, it is used as is and must not already be in a transaction. A retried run
 * starts from scratch, so `fn` must not have effects outside the database that a retry would
 * repeat. Rejects with the last error once retries are exhausted.
 */
export async function withTransaction<T>(
  db: Pool | PoolClient | Client,
  fn: (tx: PoolClient | Client, attempt: TransactionAttempt) => Promise<T>,
  opts: TransactionOptions = {},
): Promise<T> {
  const maxRetries = opts.maxRetries ?? 3;
  const signal = opts.signal;
  const begin = beginStatement(opts);
  // The caller's trace context, read before any await; it goes with the transaction's client
  // so that every query inside (and an event written in it) is a span of that call.
  const entryTrace = traceContextFor(signal, isPool(db) ? undefined : db);
  const callTrace = trace.getSpan(entryTrace) === undefined ? undefined : entryTrace;
  for (let attempt = 0; ; attempt++) {
    if (signal?.aborted) throw new QueryAbortedError(signal.reason);
    const client = isPool(db) ? await db.connect() : db;
    let broken: Error | undefined;
    // node-postgres emits `error` on a checked-out client whose connection dies, and a plain
    // pg.Pool listens only to idle clients: without this the process would crash.
    const onError = (err: Error): void => {
      broken ??= err;
    };
    if (client !== db) client.on("error", onError);
    const outerTrace = attachedTraceContext(client);
    if (callTrace !== undefined) attachTraceContext(client, callTrace);
    const send = (text: string) => inTraceOf(undefined, client, () => client.query(text));
    // From here the transaction may write: a failed later step must not rerun the call.
    markSentWrite(signal);
    try {
      await send(begin);
      try {
        const result = await fn(client, { attempt });
        const committed = await send("COMMIT");
        // PostgreSQL answers COMMIT of a transaction a failed statement aborted with ROLLBACK.
        if (committed.command === "ROLLBACK") throw new TransactionRolledBackError();
        return result;
      } catch (err) {
        try {
          await send("ROLLBACK");
        } catch (rollbackError) {
          broken =
            rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
        }
        if (signal?.aborted) throw new QueryAbortedError(signal.reason, undefined, err);
        const state = sqlState(err);
        if (state === undefined || !retryableStates.has(state)) throw err;
        if (attempt >= maxRetries) {
          if (attempt > 0) markRetriedBelow(err);
          throw err;
        }
      }
    } finally {
      if (callTrace !== undefined) attachTraceContext(client, outerTrace);
      if (client !== db) {
        client.off("error", onError);
        (client as PoolClient).release(broken);
      }
    }
    // Jittered exponential backoff: 5-10 ms, 10-20 ms, 20-40 ms, ... capped at 1 s.
    const base = Math.min(1000, 5 * 2 ** attempt);
    await sleep(base + Math.random() * base, signal);
  }
}
