/**
 * Retries below the call: a pool's owner (the server, with its retry policy and counters) may
 * register how a generated query that only reads is sent again after a transient failure. Only
 * queries the generator marked `readOnly` (a SELECT that locks nothing, modifies nothing and
 * calls no volatile function) and run on the pool itself, outside any transaction, are handed
 * to it: sending one again cannot repeat a write, whatever became of the first attempt, so
 * this holds even inside a call that is not idempotent. A query on a checked-out client or in
 * a transaction is never retried here: the transaction it belongs to is what would have to
 * run again.
 */
import type { Pool } from "pg";

/** How a pool's read-only queries are retried; see {@link setQueryRetryPolicy}. */
export interface QueryRetryPolicy {
  /**
   * Called after a read-only query on the pool failed with `error` (never on success).
   * Resolves with what `again` (which sends the query again on a fresh connection) resolves
   * to once an attempt succeeds, or rejects: with `error` at once when it is not worth a
   * retry, else with the last attempt's error. Must start no attempt after `signal` aborted.
   */
  retry<T>(
    error: unknown,
    again: () => Promise<T>,
    signal: AbortSignal | undefined,
    queryName: string,
  ): Promise<T>;
}

// On globalThis so that two copies of the runtime in one process (the server's and the
// generated code's, say) see one registry, as with the runtime's settings.
const registryKey = Symbol.for("svcgen.runtime.db.queryRetry");
type RegistryHolder = { [registryKey]?: WeakMap<Pool, QueryRetryPolicy> };

function registry(): WeakMap<Pool, QueryRetryPolicy> {
  const holder = globalThis as RegistryHolder;
  let map = holder[registryKey];
  if (map === undefined) {
    map = new WeakMap();
    holder[registryKey] = map;
  }
  return map;
}

/**
 * Registers how read-only generated queries run on `pool` are retried (undefined: not at all,
 * the default). `startServer` registers its retry policy on the pool it hands the handlers.
 */
export function setQueryRetryPolicy(pool: Pool, policy: QueryRetryPolicy | undefined): void {
  if (policy === undefined) registry().delete(pool);
  else registry().set(pool, policy);
}

/** Internal: the retry policy registered for `pool`, if any. */
export function queryRetryPolicyOf(pool: Pool): QueryRetryPolicy | undefined {
  return registry().get(pool);
}

const retriedKey = Symbol.for("svcgen.runtime.db.retriedBelow");
type RetriedHolder = { [retriedKey]?: WeakSet<object> };

function retried(): WeakSet<object> {
  const holder = globalThis as RetriedHolder;
  let set = holder[retriedKey];
  if (set === undefined) {
    set = new WeakSet();
    holder[retriedKey] = set;
  }
  return set;
}

/**
 * Marks `error` as one that a retry below the call (a read-only query's, a transaction's) gave
 * up on after retrying, so the call-level retry does not retry it again: no attempt is made,
 * or counted, twice. Only failures are ever marked.
 */
export function markRetriedBelow(error: unknown): void {
  if (typeof error === "object" && error !== null) retried().add(error);
}

/** True when {@link markRetriedBelow} marked `error`. */
export function wasRetriedBelow(error: unknown): boolean {
  return typeof error === "object" && error !== null && retried().has(error);
}
