/**
 * Outbox metrics: how many events wait for delivery and how old the oldest one is. The
 * generated alert rule `OutboxLag` and the dashboards read `outbox_lag_seconds` and
 * `outbox_pending`; the relay (or anything that can count the outbox table) supplies them.
 */
import { Gauge, type Registry } from "prom-client";

/** What the outbox metrics read at scrape time. */
export interface OutboxSource {
  /** Events written but not yet delivered. */
  readonly pending: number;
  /** Age in seconds of the oldest undelivered event; 0 when none waits. */
  readonly oldestAgeSeconds: number;
}

/**
 * Registers `outbox_pending` and `outbox_lag_seconds`, read from `source` on every scrape
 * (twice per scrape, once per gauge: keep it a cached value or one cheap query).
 */
export function registerOutboxMetrics(
  registry: Registry,
  source: () => OutboxSource | Promise<OutboxSource>,
): void {
  // Each gauge reads on its own: prom-client collects metrics concurrently, so one cannot
  // rely on the other having read first.
  new Gauge({
    name: "outbox_pending",
    help: "Events in the outbox not yet delivered.",
    registers: [registry],
    async collect() {
      this.set((await source()).pending);
    },
  });
  new Gauge({
    name: "outbox_lag_seconds",
    help: "Age of the oldest undelivered outbox event, in seconds (0 when none waits).",
    registers: [registry],
    async collect() {
      this.set((await source()).oldestAgeSeconds);
    },
  });
}

/** Anything that runs a query: a node-postgres Pool or Client. */
export interface OutboxQueryable {
  query<R extends Record<string, unknown>>(sql: string): Promise<{ rows: R[] }>;
}

const outboxLagSql = `SELECT count(*)::float8 AS pending,
  COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS lag
  FROM svcgen_outbox WHERE delivered_at IS NULL`;

/**
 * An {@link OutboxSource} reading the events outbox table (`svcgen_outbox`): undelivered rows
 * and the age of the oldest. The `WHERE delivered_at IS NULL` scan uses the table's partial
 * index, so it stays cheap while the relay keeps up.
 */
export function outboxSourceFromDatabase(db: OutboxQueryable): () => Promise<OutboxSource> {
  return async () => {
    const { rows } = await db.query<{ pending: number; lag: number }>(outboxLagSql);
    const row = rows[0];
    return { pending: row?.pending ?? 0, oldestAgeSeconds: row?.lag ?? 0 };
  };
}
