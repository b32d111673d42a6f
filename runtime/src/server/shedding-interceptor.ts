/**
 * Load shedding: under overload, reject early with RESOURCE_EXHAUSTED so that the calls
 * admitted keep their latency, instead of every call slowing down together. Overload is
 * judged on two measured signals: calls in flight past a hard cap, and the event loop's delay
 * (a Node process that is CPU-bound shows it there first). While the loop is late, calls are
 * admitted only while fewer than `minInFlight` are running, so a late loop caused by
 * something else (a GC pause) does not reject a nearly idle service.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { status } from "@grpc/grpc-js";
import { RpcError } from "../grpc/rpc-error.js";
import type { ServerInterceptor } from "./interceptor.js";
import type { RuntimeState } from "./runtime-events.js";

/** Options of {@link createSheddingInterceptor}. */
export interface SheddingOptions {
  /** Calls in flight (all methods) beyond which every new call is shed. Default 1024. */
  readonly maxInFlight?: number;
  /**
   * Mean event-loop delay (ms, over the last window) that counts as overload. Default 200 (a
   * loaded shared machine shows 50-100 ms means without the service being the cause); 0 off.
   */
  readonly maxEventLoopDelayMs?: number;
  /** Under a late event loop, calls are still admitted while fewer than this run. Default 8. */
  readonly minInFlight?: number;
  /** The measuring window, ms. Default 500. */
  readonly windowMs?: number;
}

/** A shedding interceptor and the function that stops its event-loop monitor. */
export interface Shedder {
  readonly interceptor: ServerInterceptor;
  stop(): void;
}

/** The shedding interceptor; also counts `state.inFlight` and `state.shed`. */
export function createShedder(options: SheddingOptions, state: RuntimeState): Shedder {
  const maxInFlight = options.maxInFlight ?? 1024;
  const maxDelayMs = options.maxEventLoopDelayMs ?? 200;
  const minInFlight = options.minInFlight ?? 8;
  let late = false;
  let timer: NodeJS.Timeout | undefined;
  let histogram: ReturnType<typeof monitorEventLoopDelay> | undefined;
  if (maxDelayMs > 0) {
    const h = monitorEventLoopDelay({ resolution: 10 });
    h.enable();
    histogram = h;
    timer = setInterval(() => {
      // The histogram is in nanoseconds and includes the 10 ms sampling resolution.
      late = h.mean / 1e6 - 10 > maxDelayMs;
      h.reset();
    }, options.windowMs ?? 500);
    timer.unref();
  }
  const leave = (): void => {
    state.inFlight--;
  };
  const leaveWith = (error: unknown): never => {
    state.inFlight--;
    throw error;
  };
  const interceptor: ServerInterceptor = (call, next) => {
    if (state.inFlight >= maxInFlight || (late && state.inFlight >= minInFlight)) {
      state.shed++;
      state.events.emit("shed", call.info.path);
      return Promise.reject(
        new RpcError(status.RESOURCE_EXHAUSTED, "The server is overloaded; retry later", {
          errorInfo: { reason: "OVERLOADED", domain: "svcgen" },
        }),
      );
    }
    state.inFlight++;
    return next().then(leave, leaveWith);
  };
  return {
    interceptor,
    stop() {
      if (timer !== undefined) clearInterval(timer);
      histogram?.disable();
    },
  };
}
