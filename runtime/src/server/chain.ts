/**
 * The interceptor chain: the one place that fixes the order in which a call meets every
 * cross-cutting concern. Outermost first:
 *
 *  1. telemetry   (slot) span + request id: everything after it, failures included, is traced
 *  2. logging     (slot) one line per call with the final status, after recovery mapped it
 *  3. recover     unknown errors become INTERNAL + a correlation id that is also logged
 *  4. metrics     (slot) sees every call with its final status, also rejected ones
 *  5. auth        before any work is admitted: an anonymous flood cannot use up the bulkheads
 *  6. shedding    rejects early under process-wide overload, before queueing anywhere
 *  7. bulkhead    per RPC group: a saturated group cannot starve another
 *  8. deadline    the client's deadline or the method's timeout, capped; starts after the
 *                 bulkhead so time spent queued counts against the caller's own deadline only
 *  8b. faults     (slot, off by default) injected latency, errors and dropped connections:
 *                 after auth and the deadline, so latency counts against the deadline and a
 *                 refused call stays refused (see fault-interceptor.ts)
 *  9. validation  protovalidate rules on the request
 * 10. error map   database and dependency errors become statuses (SQLSTATE + per constraint),
 *                 innermost so that every outer concern sees the final gRPC code
 * 11. fallback    per method, when the primary dependency is unavailable (breaker open)
 * 12. retry       transient failures of idempotent calls, with backoff, within the deadline
 *     handler     (its queries: breaker -> pg with server-side cancel on abort)
 *
 * Each concern is switchable: a slot left empty or set to `false` is not in the chain at all,
 * so a disabled feature costs nothing per call.
 */
import type { ServerCall, ServerInterceptor } from "./interceptor.js";

/** The positions of the chain, outermost first; see the module comment for why this order. */
export const chainOrder = [
  "telemetry",
  "logging",
  "recover",
  "metrics",
  "auth",
  "shedding",
  "bulkhead",
  "deadline",
  "faults",
  "validation",
  "errorMap",
  "fallback",
  "retry",
] as const;

/** One position of the chain. */
export type ChainPosition = (typeof chainOrder)[number];

/**
 * What fills each position: one interceptor, several (run in the given order), or
 * false/undefined for none.
 */
export type ChainSlots = {
  readonly [P in ChainPosition]?: ServerInterceptor | readonly ServerInterceptor[] | false;
};

/** The interceptors of `slots` in chain order, outermost first. */
export function assembleChain(slots: ChainSlots): readonly ServerInterceptor[] {
  const out: ServerInterceptor[] = [];
  for (const position of chainOrder) {
    const entry = slots[position];
    if (entry === undefined || entry === false) continue;
    if (typeof entry === "function") out.push(entry);
    else out.push(...entry);
  }
  return out;
}

/**
 * Runs `call` through `chain` (outermost first), ending in `terminal` (the handler). Every
 * `next()` returns a promise, never throws: an interceptor or handler that throws
 * synchronously becomes a rejection, so interceptors can chain on `next()` with `then`
 * instead of an async function and an await (each one more promise per call, and a cost the
 * tracing's async hooks pay again for every promise).
 */
export function runChain(
  chain: readonly ServerInterceptor[],
  call: ServerCall,
  terminal: () => Promise<void>,
): Promise<void> {
  const step = (i: number): Promise<void> => {
    const interceptor = chain[i];
    try {
      if (interceptor === undefined) return terminal();
      return interceptor(call, () => step(i + 1));
    } catch (error) {
      return Promise.reject(error);
    }
  };
  return step(0);
}
