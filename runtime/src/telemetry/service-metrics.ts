/**
 * The service's Prometheus registry and the metrics beside gRPC's: database queries and pool,
 * circuit breakers, bulkheads, retries, load shedding and auth failures. Resilience state is
 * read at scrape time from {@link MetricSources} (getters the resilience layer exposes), so
 * nothing here depends on how breakers or bulkheads are built. Every label is bounded: query
 * names, breaker and bulkhead names, and fixed reason sets; never user ids or SQL.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { SecurityEvent } from "../auth/authenticate-hook.js";
import { authFailureReasons } from "../auth/token-verifier.js";

/** Options of {@link createMetricsRegistry}. */
export interface MetricsRegistryOptions {
  /**
   * Also export prom-client's default Node.js metrics (heap, event loop lag, GC). Default
   * false: some of them are gauges named `..._total`, which `promtool check metrics` rejects.
   * When true, those are left out and the rest kept.
   */
  readonly defaultMetrics?: boolean;
}

/** The gauges prom-client registers by default that promtool rejects (gauges named `_total`). */
const promtoolRejected = [
  "nodejs_active_resources_total",
  "nodejs_active_handles_total",
  "nodejs_active_requests_total",
];

/** A registry for one service; see {@link MetricsRegistryOptions}. */
export function createMetricsRegistry(options: MetricsRegistryOptions = {}): Registry {
  const registry = new Registry();
  if (options.defaultMetrics === true) {
    collectDefaultMetrics({ register: registry });
    for (const name of promtoolRejected) registry.removeSingleMetric(name);
  }
  return registry;
}

/** The Prometheus text exposition of `registry`. */
export function metricsText(registry: Registry): Promise<string> {
  return registry.metrics();
}

/** A Node.js HTTP handler serving `registry` (mount it at `/metrics` on the side port). */
export function createMetricsHandler(
  registry: Registry,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (_req, res) => {
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { "content-type": registry.contentType });
        res.end(text);
      },
      (error: unknown) => {
        res.writeHead(500, { "content-type": "text/plain" });
        res.end(
          `Metrics collection failed: ${error instanceof Error ? error.message : String(error)}\n`,
        );
      },
    );
  };
}

/** Pool counters; a node-postgres `Pool` satisfies it. */
export interface PoolSource {
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
}

/** A circuit breaker's state as the resilience layer reports it. */
export interface BreakerSource {
  readonly name: string;
  readonly state: "closed" | "open" | "half_open";
}

/** A bulkhead's counters; `rejected` is cumulative since start. */
export interface BulkheadSource {
  readonly name: string;
  readonly inFlight: number;
  readonly queued: number;
  readonly rejected: number;
}

/** Cumulative retries of one retry policy (a query name or a downstream). */
export interface RetrySource {
  readonly name: string;
  readonly retries: number;
}

/** What the metrics read at scrape time; every part optional. */
export interface MetricSources {
  readonly pool?: PoolSource;
  readonly breakers?: () => Iterable<BreakerSource>;
  readonly bulkheads?: () => Iterable<BulkheadSource>;
  readonly retries?: () => Iterable<RetrySource>;
  /** Calls refused by load shedding, cumulative. */
  readonly shed?: () => number;
}

/** Records query durations (wire it to the runtime's `queryObserver` setting). */
export type QueryDurationRecorder = (query: string, seconds: number) => void;

/** Registers `db_query_duration_seconds{query}`; the recorder observes one query. */
export function registerQueryMetrics(
  registry: Registry,
  buckets: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
): QueryDurationRecorder {
  const h = new Histogram({
    name: "db_query_duration_seconds",
    help: "Duration of generated queries, by query name.",
    labelNames: ["query"],
    buckets: [...buckets],
    registers: [registry],
  });
  return (query, seconds) => h.labels(query).observe(seconds);
}

/** A counter fed by a cumulative reading: each scrape adds what grew since the last one. */
function cumulativeCounter(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly string[],
  read: () => Iterable<[Record<string, string>, number]>,
): void {
  const last = new Map<string, number>();
  new Counter({
    name,
    help,
    labelNames: [...labelNames],
    registers: [registry],
    collect() {
      for (const [labels, value] of read()) {
        const key = JSON.stringify(labels);
        const before = last.get(key) ?? 0;
        // A source that restarted from zero: count its new total.
        const delta = value >= before ? value - before : value;
        last.set(key, value);
        this.inc(labels, delta);
      }
    },
  });
}

/** Registers the pool, breaker, bulkhead, retry and load-shed metrics over `sources`. */
export function registerResilienceMetrics(registry: Registry, sources: MetricSources): void {
  const { pool, breakers, bulkheads, retries, shed } = sources;
  if (pool !== undefined) {
    new Gauge({
      name: "db_pool_connections",
      help: "Connections of the database pool, by state (idle, in_use).",
      labelNames: ["state"],
      registers: [registry],
      collect() {
        this.set({ state: "idle" }, pool.idleCount);
        this.set({ state: "in_use" }, pool.totalCount - pool.idleCount);
      },
    });
    new Gauge({
      name: "db_pool_waiting",
      help: "Callers waiting for a database connection.",
      registers: [registry],
      collect() {
        this.set(pool.waitingCount);
      },
    });
  }
  if (breakers !== undefined) {
    new Gauge({
      name: "circuit_breaker_state",
      help: "Circuit breaker state: 1 for the current state (closed, open, half_open), else 0.",
      labelNames: ["breaker", "state"],
      registers: [registry],
      collect() {
        for (const b of breakers()) {
          for (const state of ["closed", "open", "half_open"] as const) {
            this.set({ breaker: b.name, state }, b.state === state ? 1 : 0);
          }
        }
      },
    });
  }
  if (bulkheads !== undefined) {
    new Gauge({
      name: "bulkhead_in_flight",
      help: "Calls running inside a bulkhead.",
      labelNames: ["bulkhead"],
      registers: [registry],
      collect() {
        for (const b of bulkheads()) this.set({ bulkhead: b.name }, b.inFlight);
      },
    });
    new Gauge({
      name: "bulkhead_queued",
      help: "Calls queued for a bulkhead.",
      labelNames: ["bulkhead"],
      registers: [registry],
      collect() {
        for (const b of bulkheads()) this.set({ bulkhead: b.name }, b.queued);
      },
    });
    cumulativeCounter(
      registry,
      "bulkhead_rejected_total",
      "Calls a full bulkhead rejected.",
      ["bulkhead"],
      function* () {
        for (const b of bulkheads()) yield [{ bulkhead: b.name }, b.rejected];
      },
    );
  }
  if (retries !== undefined) {
    cumulativeCounter(
      registry,
      "retries_total",
      "Retried attempts, by policy.",
      ["name"],
      function* () {
        for (const r of retries()) yield [{ name: r.name }, r.retries];
      },
    );
  }
  if (shed !== undefined) {
    cumulativeCounter(
      registry,
      "load_shed_total",
      "Calls refused by load shedding.",
      [],
      function* () {
        yield [{}, shed()];
      },
    );
  }
}

/**
 * Registers `auth_failures_total{reason}` (every reason pre-set to 0) and returns the
 * security-event listener that counts refused calls.
 */
export function registerAuthMetrics(registry: Registry): (event: SecurityEvent) => void {
  const c = new Counter({
    name: "auth_failures_total",
    help: "Calls refused by authentication or authorization, by reason.",
    labelNames: ["reason"],
    registers: [registry],
  });
  for (const reason of authFailureReasons) c.labels(reason).inc(0);
  return (event) => c.labels(event.reason).inc();
}

/**
 * Whether the service exports metrics: true unless `SVCGEN_METRICS` is `false` or `off`
 * (then the entry point registers no metric interceptors and serves no `/metrics`).
 * Throws for any other value than `true`/`on`/empty, naming the variable.
 */
export function metricsEnabledFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
): boolean {
  const v = (env.SVCGEN_METRICS ?? "").trim().toLowerCase();
  if (v === "" || v === "true" || v === "on") return true;
  if (v === "false" || v === "off") return false;
  throw new Error(`SVCGEN_METRICS must be true or false, got "${env.SVCGEN_METRICS}"`);
}
