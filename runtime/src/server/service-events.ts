/**
 * Events of generated services, run by `startServer`: the relay in a process whose services
 * produce events, one consumer group per consuming service, their transport (PostgreSQL by
 * default, NATS JetStream when configured), the events tables (created at start unless told
 * not to), and their Prometheus metrics. `close()` stops them after the gRPC server has
 * drained and before the pool closes.
 */
import type { Pool, PoolClient } from "pg";
import { Counter, type Registry } from "prom-client";
import { type ConsumerOutcome, startConsumer } from "../events/event-consumer.js";
import type {
  EventContext,
  EventLogger,
  EventTransport,
  StoredEvent,
} from "../events/event-types.js";
import { ensureEventsSchema } from "../events/events-migration.js";
import { createNatsTransport } from "../events/nats-transport.js";
import { type Relay, type RelayOptions, startRelay } from "../events/outbox-relay.js";
import { createPostgresTransport } from "../events/postgres-transport.js";
import { withEventSpan } from "../events/trace-context.js";
import { outboxSourceFromDatabase, registerOutboxMetrics } from "../telemetry/outbox-metrics.js";

/** The payload content type generated producers write and generated consumers read. */
export const protobufContentType = "application/x-protobuf";

/**
 * The events side of one generated service (`<service>Events` in `gen/grpc/<service>.ts`):
 * the topics its RPCs emit, and the topics it consumes with the dispatch to its handler
 * methods (`on<Event>(payload, tx, ctx)`).
 */
export interface ServiceEvents<H = object> {
  /** Topics the service's RPCs write to the outbox; non-empty means the process runs a relay. */
  readonly produces: readonly string[];
  /** The service's consumer group, when it consumes. */
  readonly consumes?: {
    /** The group name (default in the generator: the service's full name). */
    readonly group: string;
    readonly topics: readonly string[];
    /** Decodes the payload and calls the handler method of `event.topic`. */
    readonly handle: (
      handlers: H,
      event: StoredEvent,
      tx: PoolClient,
      ctx: EventContext,
    ) => Promise<void>;
  };
}

/** Event settings of {@link startServer}; the environment overrides what it names. */
export interface EventsSettings {
  /**
   * `postgres` (LISTEN/NOTIFY and an event log table) or `nats` (JetStream). Default:
   * `SVCGEN_EVENTS_TRANSPORT`, else this, else `nats` when `NATS_URL` is set, else `postgres`.
   */
  readonly transport?: "postgres" | "nats";
  /** NATS server URLs. Default `NATS_URL` (comma-separated), else `nats://127.0.0.1:4222`. */
  readonly natsServers?: readonly string[];
  /** The JetStream stream. Default `SVCGEN_NATS_STREAM`, else the transport's (`SVCGEN_EVENTS`). */
  readonly natsStream?: string;
  /**
   * Subjects are `<prefix>.<topic>`. Default `SVCGEN_NATS_SUBJECT_PREFIX`, else the
   * transport's (`svcgen.events`).
   */
  readonly natsSubjectPrefix?: string;
  /**
   * Run the relay in this process when a service produces. Default true;
   * `SVCGEN_EVENTS_RELAY=false` leaves delivery to other instances (a dedicated relay).
   */
  readonly relayEnabled?: boolean;
  /**
   * Create the events tables at start (`eventsMigrationSql`, idempotent, under an advisory
   * lock). Default true; `SVCGEN_EVENTS_MIGRATE=false` turns it off for databases where
   * the service's role may not create tables (apply the migration yourself then).
   */
  readonly migrate?: boolean;
  /** Relay tuning (batch size, poll interval, retry delays). */
  readonly relay?: Omit<RelayOptions, "pool" | "transport" | "logger">;
  /** Consumer tuning: attempts before a dead letter, retry delays. */
  readonly consumer?: {
    readonly maxAttempts?: number;
    readonly retryBaseMs?: number;
    readonly retryMaxMs?: number;
  };
  /** A transport to use instead of the configured one (tests); never closed by the server. */
  readonly transportInstance?: EventTransport;
}

/** The transport settings the environment and `settings` resolve to. */
export interface EventsTransportChoice {
  readonly kind: "postgres" | "nats";
  readonly natsServers: readonly string[];
  readonly natsStream: string | undefined;
  readonly natsSubjectPrefix: string | undefined;
}

/** Raised for a bad `SVCGEN_EVENTS_TRANSPORT` or `SVCGEN_EVENTS_MIGRATE`. */
export class EventsConfigError extends Error {
  override readonly name = "EventsConfigError";
}

/** Which transport `env` and `settings` select; see {@link EventsSettings.transport}. */
export function eventsTransportFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  settings: EventsSettings = {},
): EventsTransportChoice {
  const raw = env.SVCGEN_EVENTS_TRANSPORT?.trim().toLowerCase() ?? "";
  if (raw !== "" && raw !== "postgres" && raw !== "nats") {
    throw new EventsConfigError(
      `SVCGEN_EVENTS_TRANSPORT=${JSON.stringify(env.SVCGEN_EVENTS_TRANSPORT)} must be postgres or nats`,
    );
  }
  const natsUrl = env.NATS_URL?.trim() ?? "";
  const kind =
    raw === "postgres" || raw === "nats"
      ? raw
      : (settings.transport ?? (natsUrl === "" ? "postgres" : "nats"));
  const natsServers =
    settings.natsServers ??
    (natsUrl === "" ? ["nats://127.0.0.1:4222"] : natsUrl.split(",").map((s) => s.trim()));
  const natsStream = settings.natsStream ?? (env.SVCGEN_NATS_STREAM?.trim() || undefined);
  const natsSubjectPrefix =
    settings.natsSubjectPrefix ?? (env.SVCGEN_NATS_SUBJECT_PREFIX?.trim() || undefined);
  return { kind, natsServers, natsStream, natsSubjectPrefix };
}

/** A boolean variable: the variable when set, else `fallback`. */
function flagFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  fallback: boolean,
): boolean {
  const raw = env[name]?.trim().toLowerCase() ?? "";
  if (raw === "") return fallback;
  if (raw === "true" || raw === "1") return true;
  if (raw === "false" || raw === "0") return false;
  throw new EventsConfigError(`${name}=${JSON.stringify(env[name])} must be true or false`);
}

/** One service's events and the handler object its consumer dispatches to. */
export interface ServiceEventsInstance {
  readonly events: ServiceEvents;
  readonly handlers: object;
}

/** Running events of a process. */
export interface RunningEvents {
  /** The transport in use. */
  readonly transport: "postgres" | "nats";
  /** The relay, when a service produces. */
  readonly relay: Relay | undefined;
  /** Stops consumers (each finishes its event), then the relay (its batch), then the transport. */
  stop(): Promise<void>;
}

/** What {@link startServiceEvents} needs. */
export interface StartServiceEventsOptions {
  readonly pool: Pool;
  readonly services: readonly ServiceEventsInstance[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly settings?: EventsSettings;
  readonly logger: EventLogger;
  /** Where the events metrics go; undefined with metrics off. */
  readonly registry?: Registry;
}

/**
 * Starts the relay (when any service produces) and a consumer per consuming service; resolves
 * to undefined when no service has events. Rejects, with everything it started stopped again,
 * when the tables cannot be created or the transport cannot be reached.
 */
export async function startServiceEvents(
  options: StartServiceEventsOptions,
): Promise<RunningEvents | undefined> {
  const { pool, logger, registry } = options;
  const settings = options.settings ?? {};
  const produces = options.services.some((s) => s.events.produces.length > 0);
  const consuming = options.services.filter((s) => s.events.consumes !== undefined);
  if (!produces && consuming.length === 0) return undefined;
  const choice = eventsTransportFromEnv(options.env, settings);
  const migrate = flagFromEnv(options.env, "SVCGEN_EVENTS_MIGRATE", settings.migrate ?? true);
  const producing =
    produces && flagFromEnv(options.env, "SVCGEN_EVENTS_RELAY", settings.relayEnabled ?? true);
  if (migrate) await ensureEventsSchema(pool);

  const ownTransport = settings.transportInstance === undefined;
  const transport: EventTransport =
    settings.transportInstance ??
    (choice.kind === "nats"
      ? createNatsTransport({
          servers: [...choice.natsServers],
          logger,
          ...(choice.natsStream === undefined ? {} : { stream: choice.natsStream }),
          ...(choice.natsSubjectPrefix === undefined
            ? {}
            : { subjectPrefix: choice.natsSubjectPrefix }),
        })
      : createPostgresTransport({ pool, logger }));
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async (): Promise<void> => {
    // Consumers first (started last), then the relay, then the shared transport.
    for (const stop of stops.reverse()) await stop();
    stops.length = 0;
    if (ownTransport) await transport.close();
  };
  try {
    let relay: Relay | undefined;
    if (producing) {
      relay = await startRelay({ pool, transport, logger, ...settings.relay });
      const r = relay;
      stops.push(() => r.stop());
      if (registry !== undefined) registerRelayMetrics(registry, r, transport.kind, pool);
    }
    const count =
      registry === undefined || consuming.length === 0
        ? undefined
        : registerConsumerMetrics(registry);
    for (const s of consuming) {
      const c = s.events.consumes;
      if (c === undefined) continue;
      for (const topic of c.topics) {
        for (const outcome of outcomes) count?.(c.group, topic, outcome, 0);
      }
      const consumer = await startConsumer({
        pool,
        transport,
        group: c.group,
        topics: c.topics,
        logger,
        ...settings.consumer,
        handle: (event, tx, afterCommit) => {
          if (event.contentType !== protobufContentType) {
            throw new Error(
              `Event ${event.id} on ${event.topic} has content type ${event.contentType}; ${c.group} reads ${protobufContentType}`,
            );
          }
          // A consumer span in the producer's trace (from the event's traceparent header).
          return withEventSpan(
            event,
            c.group,
            () =>
              c.handle(s.handlers, event, tx, {
                id: event.id,
                topic: event.topic,
                key: event.key,
                createdAt: event.createdAt,
                headers: event.headers,
                group: c.group,
                afterCommit,
              }),
            tx,
          );
        },
        onOutcome: (topic, outcome) => count?.(c.group, topic, outcome, 1),
      });
      stops.push(() => consumer.stop());
    }
    return {
      transport: choice.kind,
      relay,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll().catch(() => undefined);
    throw err;
  }
}

const outcomes: readonly ConsumerOutcome[] = ["done", "skipped", "failed", "dead"];

/**
 * `events_relayed_total{transport}` (events the relay published and marked delivered), and
 * the outbox gauges `outbox_pending` and `outbox_lag_seconds` read from the table per scrape.
 */
function registerRelayMetrics(registry: Registry, relay: Relay, kind: string, pool: Pool): void {
  let last = 0;
  new Counter({
    name: "events_relayed_total",
    help: "Outbox events the relay published to the transport and marked delivered.",
    labelNames: ["transport"],
    registers: [registry],
    collect() {
      const now = relay.delivered;
      this.inc({ transport: kind }, Math.max(0, now - last));
      last = now;
    },
  });
  // One query per scrape, shared by both gauges (prom-client collects them concurrently).
  const read = outboxSourceFromDatabase(pool);
  let pending: ReturnType<typeof read> | undefined;
  registerOutboxMetrics(registry, () => {
    pending ??= read().finally(() => {
      pending = undefined;
    });
    return pending;
  });
}

/**
 * `events_consumed_total{group,topic,outcome}`: attempts at events by outcome (`done`,
 * `skipped` for a redelivery already processed, `failed` for a handler error that will be
 * retried, `dead` for a dead letter). Labels are bounded: groups and topics come from the
 * proto declarations.
 */
function registerConsumerMetrics(
  registry: Registry,
): (group: string, topic: string, outcome: ConsumerOutcome, n: number) => void {
  const existing = registry.getSingleMetric("events_consumed_total");
  const counter =
    existing instanceof Counter
      ? (existing as Counter<"group" | "topic" | "outcome">)
      : new Counter({
          name: "events_consumed_total",
          help: "Attempts at consumed events by consumer group, topic and outcome (done, skipped, failed, dead).",
          labelNames: ["group", "topic", "outcome"],
          registers: [registry],
        });
  return (group, topic, outcome, n) => counter.inc({ group, topic, outcome }, n);
}
