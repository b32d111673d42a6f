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
