/**
 * Context helpers for tests: a call with a deadline, a call cancelled while it runs, and the
 * server-side check that its SQL is gone (`pg_stat_activity`). They work with any client whose
 * calls take `{ deadline }` / `{ signal }` options, as generated clients do, and throw plain
 * errors, so they fit any test runner.
 */
import { type ServiceError, status } from "@grpc/grpc-js";

/** How one call ended; never a rejection. */
export interface CallOutcome<T> {
  /** OK or the call's gRPC status. */
  readonly code: status;
  /** The status name, `DEADLINE_EXCEEDED`. */
  readonly codeName: string;
  /** Wall time from start to settle, ms. */
  readonly ms: number;
  readonly value?: T;
  readonly error?: ServiceError;
}

/** The name of a gRPC status code (`UNAVAILABLE`), or the number as text when unknown. */
export function statusName(code: number): string {
  return status[code] ?? String(code);
}

/** Runs `call` and records how it ended and how long it took. */
export async function callOutcome<T>(call: () => Promise<T>): Promise<CallOutcome<T>> {
  const t0 = performance.now();
  try {
    const value = await call();
    return { code: status.OK, codeName: "OK", ms: performance.now() - t0, value };
  } catch (e) {
    const error = e as ServiceError;
    const code = typeof error?.code === "number" ? error.code : status.UNKNOWN;
    return { code, codeName: statusName(code), ms: performance.now() - t0, error };
  }
}

/** Options a generated client's call accepts for deadlines and cancellation. */
export interface ContextCallOptions {
  readonly deadline?: number;
  readonly signal?: AbortSignal;
}

/**
 * Calls with a deadline `ms` from now: `callWithDeadline(100, (o) => client.getProfile(req, o))`.
 */
export function callWithDeadline<T>(
  ms: number,
  call: (options: { deadline: number }) => Promise<T>,
): Promise<CallOutcome<T>> {
  return callOutcome(() => call({ deadline: Date.now() + ms }));
}

/**
 * Starts `call` and cancels it (the client-side cancel the server sees as CANCELLED) after
 * `when` milliseconds, or once the `when` promise resolves, e.g.
 * `() => waitForQuery(pool, "pg_sleep")`, so the cancel lands while the SQL runs.
 */
export async function cancelMidCall<T>(
  call: (options: { signal: AbortSignal }) => Promise<T>,
  when: number | (() => Promise<unknown>),
): Promise<CallOutcome<T>> {
  const controller = new AbortController();
  const result = callOutcome(() => call({ signal: controller.signal }));
  let settled = false;
  void result.then(() => {
    settled = true;
  });
  if (typeof when === "number") {
    await Promise.race([result, new Promise((r) => setTimeout(r, when))]);
  } else {
    await Promise.race([result, when()]);
  }
  if (!settled) controller.abort();
  return result;
}

/** Something that runs SQL: a node-postgres Pool, PoolClient or Client. */
export interface SqlRunner {
  query<R extends object>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

/** Options of {@link waitForQuery} and {@link expectQueryCancelled}. */
export interface QueryWaitOptions {
  /** Longest wait, ms. Default 5000. */
  readonly timeoutMs?: number;
  /** Poll interval, ms. Default 20. */
  readonly intervalMs?: number;
}

/**
 * The SQL text of every statement running now in the runner's database, other than the
 * probe itself, whose text matches `pattern` (a substring, or a RegExp).
 */
export async function runningQueries(
  runner: SqlRunner,
  pattern: string | RegExp,
): Promise<string[]> {
  const r = await runner.query<{ query: string }>(
    `SELECT query FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid()
        AND state IN ('active', 'fastpath function call')`,
  );
  return r.rows
    .map((row) => row.query)
    .filter((q) => (typeof pattern === "string" ? q.includes(pattern) : pattern.test(q)));
}

async function poll(check: () => Promise<boolean>, options: QueryWaitOptions): Promise<boolean> {
  const deadline = Date.now() + (options.timeoutMs ?? 5000);
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 20));
  }
}

/** Resolves once a statement matching `pattern` is running; throws after the timeout. */
export async function waitForQuery(
  runner: SqlRunner,
  pattern: string | RegExp,
  options: QueryWaitOptions = {},
): Promise<void> {
  const seen = await poll(async () => (await runningQueries(runner, pattern)).length > 0, options);
  if (!seen) {
    throw new Error(
      `No running statement matched ${String(pattern)} within ${options.timeoutMs ?? 5000} ms`,
    );
  }
}

/**
 * Asserts that no statement matching `pattern` runs any more in the runner's database (the
 * server-side SQL of a cancelled call was cancelled, not merely abandoned by the client):
 * waits up to the timeout for it to disappear, then throws listing what still runs.
 */
export async function expectQueryCancelled(
  runner: SqlRunner,
  pattern: string | RegExp,
  options: QueryWaitOptions = {},
): Promise<void> {
  let still: string[] = [];
  const gone = await poll(async () => {
    still = await runningQueries(runner, pattern);
    return still.length === 0;
  }, options);
  if (!gone) {
    throw new Error(
      `Expected no running statement to match ${String(pattern)}, but after ${
        options.timeoutMs ?? 5000
      } ms still running: ${still.map((q) => JSON.stringify(q)).join(", ")}`,
    );
  }
}

/** Options of {@link untilOk}. */
export interface UntilOkOptions {
  /** Give up after this long, ms. Default 15000. */
  readonly timeoutMs?: number;
  /** Wait between attempts, ms. Default 100. */
  readonly intervalMs?: number;
}

/**
 * Calls again until a call succeeds (after an outage, say) or `timeoutMs` passes; resolves to
 * the first OK outcome, else the last failed one (never rejects), with `ms` the time until then
 * across attempts.
 */
export async function untilOk<T>(
  call: () => Promise<T>,
  options: UntilOkOptions = {},
): Promise<CallOutcome<T>> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const t0 = performance.now();
  for (;;) {
    const outcome = await callOutcome(call);
    const ms = performance.now() - t0;
    if (outcome.codeName === "OK" || ms >= timeoutMs) return { ...outcome, ms };
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 100));
  }
}
