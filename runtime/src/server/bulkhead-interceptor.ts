/**
 * Bulkheads: a concurrency limit and a bounded queue per RPC group (cockatiel's bulkhead).
 * A group is the method's `group` policy (a proto option on the method or service), else the
 * service's name. Excess calls get RESOURCE_EXHAUSTED at once, so one saturated group cannot
 * take every connection and event-loop turn from another.
 */
import { status } from "@grpc/grpc-js";
import { type BulkheadPolicy, BulkheadRejectedError, bulkhead } from "cockatiel";
import { RpcError } from "../grpc/rpc-error.js";
import { raceAbort } from "./deadline-interceptor.js";
import type { ServerInterceptor } from "./interceptor.js";
import type { RuntimeState } from "./runtime-events.js";

/** The size of one bulkhead. */
export interface BulkheadLimits {
  /** Calls running at once. */
  readonly limit: number;
  /** Calls waiting for a slot; beyond it, RESOURCE_EXHAUSTED. */
  readonly queue: number;
}

/** Options of {@link createBulkheadInterceptor}. */
export interface BulkheadOptions {
  /** Limits of every group not in `groups`. Default { limit: 64, queue: 64 }. */
  readonly default?: BulkheadLimits;
  /** Limits by group name. */
  readonly groups?: Readonly<Record<string, BulkheadLimits>>;
}

/** The bulkhead interceptor; each group's gauges appear in `state.bulkheads`. */
export function createBulkheadInterceptor(
  options: BulkheadOptions,
  state: RuntimeState,
): ServerInterceptor {
  const fallback = options.default ?? { limit: 64, queue: 64 };
  const heads = new Map<string, { policy: BulkheadPolicy; rejected: number }>();
  const headFor = (group: string): { policy: BulkheadPolicy; rejected: number } => {
    let head = heads.get(group);
    if (head === undefined) {
      const limits = options.groups?.[group] ?? fallback;
      const entry = { policy: bulkhead(limits.limit, limits.queue), rejected: 0 };
      head = entry;
      heads.set(group, entry);
      state.bulkheads.set(group, () => ({
        inFlight: limits.limit - entry.policy.executionSlots,
        queued: limits.queue - entry.policy.queueSlots,
        rejected: entry.rejected,
        limit: limits.limit,
        queueLimit: limits.queue,
      }));
    }
    return head;
  };
  return (call, next) => {
    const group = call.info.policy.group ?? call.info.service;
    const head = headFor(group);
    const signal = call.ctx.signal;
    // A call that will have to queue is raced with the signal: a caller whose deadline passes
    // while queued leaves at once (cockatiel drops its queued task when the slot comes, as
    // the signal is aborted). One that gets a slot at once runs bare: the deadline step
    // inside already ends it when the signal fires.
    const queued = head.policy.executionSlots === 0;
    const run = head.policy.execute(() => next(), signal);
    return (queued ? raceAbort(run, signal) : run).catch((error: unknown) => {
      if (error instanceof BulkheadRejectedError) {
        head.rejected++;
        state.events.emit("bulkhead-rejected", group, call.info.path);
        throw new RpcError(status.RESOURCE_EXHAUSTED, "Too many concurrent calls; retry later", {
          errorInfo: { reason: "BULKHEAD_FULL", domain: "svcgen", metadata: { group } },
        });
      }
      throw error;
    });
  };
}
