/**
 * Retries (cockatiel): exponential backoff with decorrelated jitter, for transient failures
 * only, and only where a retry is safe: the whole call when its method is idempotent (reads
 * are generated as idempotent; a transaction is retried whole, as the handler is), and any
 * call whose failure came before anything was sent (no connection could be had). No attempt
 * starts after the call's signal aborted, so retries never run past the deadline.
 */
import { ExponentialBackoff, handleWhen, retry } from "cockatiel";
import type { ServerCall, ServerInterceptor } from "./interceptor.js";
import type { RuntimeState } from "./runtime-events.js";
import { DatabaseUnavailableError, isTransientError } from "./transient-errors.js";

/** Options of {@link createRetryInterceptor}. */
export interface RetryOptions {
  /** Retries after the first attempt. Default 3. */
  readonly maxAttempts?: number;
  /** First backoff, ms. Default 25. */
  readonly initialDelayMs?: number;
  /** Longest backoff, ms. Default 500. */
  readonly maxDelayMs?: number;
}

/** The retry interceptor (unary methods: a stream cannot be replayed). */
export function createRetryInterceptor(
  options: RetryOptions,
  state: RuntimeState,
): ServerInterceptor {
  const initialDelay = options.initialDelayMs ?? 25;
  const backoff = new ExponentialBackoff({ initialDelay, maxDelay: options.maxDelayMs ?? 500 });
  const maxAttempts = options.maxAttempts ?? 3;
  return (call, next) => {
    if (call.info.kind !== "unary") return next();
    // The first attempt runs bare: the policy is built only for calls that failed.
    return next().catch(async (first: unknown) => {
      if (call.ctx.signal.aborted || !safeToRetry(call, first)) throw first;
      const policy = retry(
        handleWhen((e) => !call.ctx.signal.aborted && safeToRetry(call, e)),
        { maxAttempts: maxAttempts - 1, backoff },
      );
      policy.onRetry((r) => {
        state.retries++;
        state.events.emit(
          "retry",
          call.info.path,
          r.attempt + 1,
          "error" in r ? r.error : undefined,
        );
      });
      state.retries++;
      state.events.emit("retry", call.info.path, 1, first);
      await new Promise((resolve) => setTimeout(resolve, initialDelay * (0.5 + Math.random())));
      return policy.execute(() => {
        // The deadline passed during the backoff: stop with the deadline's own error.
        if (call.ctx.signal.aborted) throw call.ctx.signal.reason;
        return next();
      });
    });
  };
}

function safeToRetry(call: ServerCall, error: unknown): boolean {
  if (!isTransientError(error)) return false;
  if (error instanceof DatabaseUnavailableError) return true;
  return call.info.policy.idempotent;
}
