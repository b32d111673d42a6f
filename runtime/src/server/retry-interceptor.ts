/**
 * Retries (cockatiel): exponential backoff with decorrelated jitter, for transient failures
 * only, and only where a retry is safe, at two levels that share one policy and one counter:
 *
 * - the whole unary call, when its method is idempotent (reads are generated as idempotent; a
 *   transaction is retried whole, as the handler is), or when its failure came before anything
 *   was sent (no connection could be had) and no earlier step of the call sent a statement that
 *   may write (`db/sent-writes.ts`);
 * - one query, below the call: a generated query that only reads (`readOnly`), run on the pool
 *   outside a transaction, is sent again on a fresh connection ({@link createQueryRetryPolicy}),
 *   also inside a call that is not idempotent, since sending it again cannot repeat a write.
 *
 * A failure whose query (or transaction, see `withTransaction`) was already retried is not
 * retried again by the call, so no attempt is counted (or made) twice. No attempt starts after
 * the call's signal aborted, so retries never run past the deadline.
 */
import { ExponentialBackoff, handleWhen, type IBackoffFactory, retry } from "cockatiel";
import { markRetriedBelow, type QueryRetryPolicy, wasRetriedBelow } from "../db/query-retry.js";
import { sentWrite } from "../db/sent-writes.js";
import type { ServerCall, ServerInterceptor } from "./interceptor.js";
import type { RuntimeState } from "./runtime-events.js";
import { DatabaseUnavailableError, isTransientError } from "./transient-errors.js";

/** Options of {@link createRetryInterceptor} and {@link createQueryRetryPolicy}. */
export interface RetryOptions {
  /** Retries after the first attempt. Default 3. */
  readonly maxAttempts?: number;
  /** First backoff, ms. Default 25. */
  readonly initialDelayMs?: number;
  /** Longest backoff, ms. Default 500. */
  readonly maxDelayMs?: number;
}

/** One {@link RetryOptions}, resolved: what both levels run by. */
interface RetrySchedule {
  readonly initialDelay: number;
  readonly backoff: IBackoffFactory<unknown>;
  readonly maxAttempts: number;
}

function scheduleOf(options: RetryOptions): RetrySchedule {
  const initialDelay = options.initialDelayMs ?? 25;
  return {
    initialDelay,
    backoff: new ExponentialBackoff({ initialDelay, maxDelay: options.maxDelayMs ?? 500 }),
    maxAttempts: options.maxAttempts ?? 3,
  };
}

/**
 * Runs `again` after `first` failed, while `retryable` holds for each error, the signal has
 * not aborted and attempts remain; each retry is counted in `state.retries` and announced as a
 * `retry` event under `name`. The first pause is drawn here (cockatiel's first backoff comes
 * only after its own first attempt), the rest by cockatiel. Rejects with the last error.
 */
async function retryAfter<T>(
  first: unknown,
  again: () => Promise<T>,
  retryable: (error: unknown) => boolean,
  signal: AbortSignal | undefined,
  name: string,
  schedule: RetrySchedule,
  state: RuntimeState,
): Promise<T> {
  const policy = retry(
    handleWhen((e) => signal?.aborted !== true && retryable(e)),
    { maxAttempts: schedule.maxAttempts - 1, backoff: schedule.backoff },
  );
  policy.onRetry((r) => {
    state.retries++;
    state.events.emit("retry", name, r.attempt + 1, "error" in r ? r.error : undefined);
  });
  state.retries++;
  state.events.emit("retry", name, 1, first);
  await new Promise((resolve) =>
    setTimeout(resolve, schedule.initialDelay * (0.5 + Math.random())),
  );
  return policy.execute(again);
}

/** The retry interceptor (unary methods: a stream cannot be replayed). */
export function createRetryInterceptor(
  options: RetryOptions,
  state: RuntimeState,
): ServerInterceptor {
  const schedule = scheduleOf(options);
  return (call, next) => {
    if (call.info.kind !== "unary") return next();
    // The first attempt runs bare: the policy is built only for calls that failed.
    return next().catch((first: unknown) => {
      const signal = call.ctx.signal;
      if (signal.aborted || schedule.maxAttempts < 1 || !safeToRetry(call, first)) throw first;
      return retryAfter(
        first,
        () => {
          // The deadline passed during the backoff: stop with the deadline's own error.
          if (signal.aborted) throw signal.reason;
          return next();
        },
        (e) => safeToRetry(call, e),
        signal,
        call.info.path,
        schedule,
        state,
      );
    });
  };
}

/**
 * The query-level half: the policy `startServer` registers on its pool
 * (`setQueryRetryPolicy`), with the same options and counters as the call level. A read-only
 * query's transient failure is retried within the query's signal (the call's); its `retry`
 * events are named by the query (`GetProfile`). A failure it gives up on after retrying is
 * marked, so the call level does not retry it again.
 */
export function createQueryRetryPolicy(
  options: RetryOptions,
  state: RuntimeState,
): QueryRetryPolicy {
  const schedule = scheduleOf(options);
  return {
    async retry(error, again, signal, queryName) {
      if (signal?.aborted === true || !isTransientError(error) || schedule.maxAttempts < 1) {
        throw error;
      }
      try {
        return await retryAfter(error, again, isTransientError, signal, queryName, schedule, state);
      } catch (last) {
        markRetriedBelow(last);
        throw last;
      }
    },
  };
}

function safeToRetry(call: ServerCall, error: unknown): boolean {
  if (!isTransientError(error)) return false;
  // Retried below already (a read-only query's or a transaction's retries ran out).
  if (wasRetriedBelow(error)) return false;
  if (call.info.policy.idempotent) return true;
  // Nothing of this attempt was sent (no connection could be had), and no earlier step of
  // the call wrote: running it again cannot write twice.
  return error instanceof DatabaseUnavailableError && !sentWrite(call.ctx.signal);
}
