/**
 * Observable state of a running service, for metrics and logs: counters and gauges read
 * through {@link RuntimeState.snapshot}, and the same changes as events on
 * {@link RuntimeState.events} for exporters that prefer pushes. The runtime itself depends on
 * no metrics library; the telemetry layer turns these into Prometheus series.
 */
import { EventEmitter } from "node:events";

/** A breaker's state as cockatiel names it. */
export type BreakerStateName = "closed" | "open" | "half-open" | "isolated";

/** Gauges and counters of one bulkhead (RPC group). */
export interface BulkheadSnapshot {
  /** Calls running now. */
  readonly inFlight: number;
  /** Calls waiting for a slot now. */
  readonly queued: number;
  /** Calls rejected with RESOURCE_EXHAUSTED since start. */
  readonly rejected: number;
  readonly limit: number;
  readonly queueLimit: number;
}

/** Connection-pool saturation (node-postgres counters). */
export interface PoolSnapshot {
  readonly total: number;
  readonly idle: number;
  /** Callers waiting for a connection. */
  readonly waiting: number;
  /** Errors on idle connections since start (a server restart kills them all). */
  readonly idleErrors: number;
}

/** Everything at one instant. */
export interface RuntimeSnapshot {
  /** The database breaker's state. */
  readonly breaker: BreakerStateName;
  /** By group name. */
  readonly bulkheads: Readonly<Record<string, BulkheadSnapshot>>;
  /** Retries made since start (attempts after the first). */
  readonly retries: number;
  /** Calls shed with RESOURCE_EXHAUSTED since start. */
  readonly shed: number;
  /** Calls running now (all methods). */
  readonly inFlight: number;
  readonly pool: PoolSnapshot;
  /** Health: true when SERVING (database answers, breaker closed, not draining). */
  readonly serving: boolean;
}

/** The events of {@link RuntimeState.events}, with their argument. */
export interface RuntimeEventMap {
  /** The breaker changed state. */
  breaker: [state: BreakerStateName];
  /**
   * A call is retried: method path, attempt number (1 = first retry), the error. For a
   * read-only query retried below the call, the first element is the query's name (`GetProfile`).
   */
  retry: [method: string, attempt: number, error: unknown];
  /** A call was shed. */
  shed: [method: string];
  /** A bulkhead rejected a call. */
  "bulkhead-rejected": [group: string, method: string];
  /** Health changed. */
  serving: [serving: boolean];
  /** An idle pool connection failed (logged, never fatal). */
  "pool-error": [error: Error];
}

/** Mutable state shared by the parts of one server; read it through `snapshot()`. */
export class RuntimeState {
  /** Typed events, see {@link RuntimeEventMap}. */
  readonly events = new EventEmitter<RuntimeEventMap>();
  retries = 0;
  shed = 0;
  inFlight = 0;
  idleErrors = 0;
  serving = false;
  breaker: BreakerStateName = "closed";
  /** Read at snapshot time. */
  readonly bulkheads = new Map<string, () => BulkheadSnapshot>();
  /** Read at snapshot time; zeros until a pool is attached. */
  pool: () => { total: number; idle: number; waiting: number } = () => ({
    total: 0,
    idle: 0,
    waiting: 0,
  });

  /** The current values. */
  snapshot(): RuntimeSnapshot {
    const bulkheads: Record<string, BulkheadSnapshot> = {};
    for (const [name, read] of this.bulkheads) bulkheads[name] = read();
    return {
      breaker: this.breaker,
      bulkheads,
      retries: this.retries,
      shed: this.shed,
      inFlight: this.inFlight,
      pool: { ...this.pool(), idleErrors: this.idleErrors },
      serving: this.serving,
    };
  }
}
