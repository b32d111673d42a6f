/**
 * Deadlines: the call's deadline is the tightest of the client's, the method's default
 * timeout (from proto options) and the server's cap. When it passes, the call's AbortSignal
 * fires (its queries are cancelled on the server) and the call ends DEADLINE_EXCEEDED at
 * once, even if the handler ignores the signal.
 */
import { onAbort } from "./abort-listeners.js";
import type { ServerInterceptor } from "./interceptor.js";

/** Options of {@link createDeadlineInterceptor}. */
export interface DeadlineOptions {
  /**
   * The longest any call may run, in ms, whatever the client asked; also the timeout of
   * calls with neither a client deadline nor a method timeout. Default 30000; 0 for no cap.
   */
  readonly maxTimeoutMs?: number;
}

/** The deadline interceptor. */
export function createDeadlineInterceptor(options: DeadlineOptions = {}): ServerInterceptor {
  const cap = options.maxTimeoutMs ?? 30_000;
  return (call, next) => {
    const now = Date.now();
    const timeout = call.info.policy.timeoutMs;
    if (timeout > 0) call.tightenDeadline(now + timeout);
    if (cap > 0) call.tightenDeadline(now + cap);
    return raceAbort(next(), call.ctx.signal);
  };
}

/** Settles with `promise`, or rejects with the abort reason as soon as `signal` aborts. */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    // The losing promise may still reject later: never leave that unhandled.
    promise.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const stop = onAbort(signal, () => reject(signal.reason));
    promise.then(
      (v) => {
        stop();
        resolve(v);
      },
      (e: unknown) => {
        stop();
        reject(e);
      },
    );
  });
}
