/**
 * The one adapter from the server's observable state (`RuntimeState.snapshot()`) to the
 * resilience metrics: breaker state, bulkheads, retries, load shedding and pool saturation,
 * all read at scrape time, so the request path pays nothing for them.
 */
import type { BreakerStateName, RuntimeSnapshot } from "../server/runtime-events.js";
import type { BreakerSource, MetricSources, PoolSource } from "./service-metrics.js";

/** The breaker state names of the `circuit_breaker_state` metric. */
const breakerStates: Readonly<Record<BreakerStateName, BreakerSource["state"]>> = {
  closed: "closed",
  open: "open",
  "half-open": "half_open",
  // Isolated is held open by hand: for a dashboard it is open.
  isolated: "open",
};

/**
 * Metric sources over a running server: `snapshot` is `ServerHandle.snapshot` (or
 * `RuntimeState.snapshot`), `pool` the node-postgres pool its handlers use. The database
 * breaker is named `database`, the retry policy `server`.
 */
export function runtimeMetricSources(
  snapshot: () => RuntimeSnapshot,
  pool: PoolSource,
): MetricSources {
  return {
    pool,
    breakers: () => [{ name: "database", state: breakerStates[snapshot().breaker] }],
    bulkheads: () =>
      Object.entries(snapshot().bulkheads).map(([name, b]) => ({
        name,
        inFlight: b.inFlight,
        queued: b.queued,
        rejected: b.rejected,
      })),
    retries: () => [{ name: "server", retries: snapshot().retries }],
    shed: () => snapshot().shed,
  };
}
