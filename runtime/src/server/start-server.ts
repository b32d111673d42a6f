/**
 * `startServer`: one call that turns generated services into a running process: the pool
 * with its breaker and health probe, the gRPC server with the full interceptor chain, health
 * (`grpc.health.v1`), reflection, the HTTP side port and graceful shutdown. Generated
 * `gen/server/<service>.ts` files are a few lines on top of it:
 *
 * ```ts
 * export const start = (options?: StartOverrides) =>
 *   startServer({ services: [defineService({ service: UserService, policies: userServicePolicies,
 *     handlers: (db) => new UserServiceImpl(db) })], errorMap, ...options });
 * if (isMainModule(import.meta.url)) runMain(start);
 * ```
 *
 * Telemetry and auth come from the environment with no user code, each switchable: metrics
 * (`SVCGEN_METRICS`) in the chain's metrics slot, `/metrics` on the side port with the
 * resilience, pool, query and auth metrics; the pino service logger (`LOG_LEVEL`, Loki with
 * `LOKI_URL`) with one line per call in the logging slot and refused calls on the security
 * channel; the token verifier (`verifierFromEnv`), with readiness held back until its keys
 * are loaded. Tracing is the `@svcgen/runtime/telemetry/register` preload; `close()` flushes
 * it and the logs last.
 */
import { setMaxListeners } from "node:events";
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { DescService } from "@bufbuild/protobuf";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import type pg from "pg";
import type { DestinationStream } from "pino";
import type { Registry } from "prom-client";
import { type Authenticate, createAuthInterceptor } from "../auth/auth-interceptor.js";
import type { SecurityEvent } from "../auth/authenticate-hook.js";
import type { TokenVerifier } from "../auth/token-verifier.js";
import { verifierFromEnv } from "../auth/verifier-from-env.js";
import { configureRuntime, type RuntimeSettings } from "../db/query.js";
import { setQueryRetryPolicy } from "../db/query-retry.js";
import { isRpcError } from "../grpc/rpc-error.js";
import {
  createServerHandlers,
  type FallbackHandler,
  type MethodPolicy,
  type ServiceHandlers,
} from "../grpc/server-handlers.js";
import { createServiceDefinition } from "../grpc/service-definition.js";
import { activeTracing } from "../telemetry/active-tracing.js";
import { createCallLogInterceptor } from "../telemetry/call-log.js";
import { createMetricsInterceptor, registerGrpcServerMetrics } from "../telemetry/grpc-metrics.js";
import {
  createServiceLogger,
  type ServiceLogger,
  securityEventLogger,
} from "../telemetry/logger.js";
import { runtimeMetricSources } from "../telemetry/runtime-metrics.js";
import {
  createMetricsHandler,
  createMetricsRegistry,
  metricsEnabledFromEnv,
  registerAuthMetrics,
  registerQueryMetrics,
  registerResilienceMetrics,
} from "../telemetry/service-metrics.js";
import { type BulkheadOptions, createBulkheadInterceptor } from "./bulkhead-interceptor.js";
import type { ChainSlots } from "./chain.js";
import { type BreakerOptions, createDatabase, type Database } from "./database.js";
import { createDeadlineInterceptor } from "./deadline-interceptor.js";
import { readServerEnvironment, type ServerEnvironment } from "./environment.js";
import { createErrorMapInterceptor, type ErrorMapTable, mapError } from "./error-map.js";
import { configureFaults, type FaultOptions } from "./fault-interceptor.js";
import type { StatusOf } from "./interceptor.js";
import { createRecoverInterceptor } from "./recover-interceptor.js";
import { addReflection } from "./reflection.js";
import {
  createQueryRetryPolicy,
  createRetryInterceptor,
  type RetryOptions,
} from "./retry-interceptor.js";
import { type RuntimeSnapshot, RuntimeState } from "./runtime-events.js";
import {
  type EventsSettings,
  type RunningEvents,
  type ServiceEvents,
  startServiceEvents,
} from "./service-events.js";
import { createShedder, type SheddingOptions } from "./shedding-interceptor.js";
import { type SidePort, type SidePortRoute, startSidePort } from "./side-port.js";

/** A pino-compatible logger (the telemetry layer passes its pino instance). */
export interface Logger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** One service to serve, as {@link defineService} makes it. */
export interface RegisteredService {
  readonly service: DescService;
  /** The handlers, or a function making them from the service's pool. */
  readonly handlers: object | ((db: pg.Pool) => object);
  readonly policies: Readonly<Record<string, MethodPolicy>>;
  readonly fallbacks?: Readonly<Record<string, FallbackHandler>>;
  /** The events it produces and consumes (`<service>Events` of the generated module). */
  readonly events?: ServiceEvents<never>;
}

/** Typed registration of one generated service (checks handlers against the service). */
export function defineService<
  S extends DescService,
  H extends ServiceHandlers<S> = ServiceHandlers<S>,
>(registration: {
  readonly service: S;
  readonly handlers: H | ((db: pg.Pool) => H);
  readonly policies: Readonly<Record<string, MethodPolicy>>;
  readonly fallbacks?: Readonly<Record<string, FallbackHandler>>;
  /** Its events; the consumer dispatches to the handlers made above (which implement `on<Event>`). */
  readonly events?: ServiceEvents<H>;
}): RegisteredService {
  return registration as RegisteredService;
}

/** Which parts run; each is on by default and switchable. */
export interface ServerFeatures {
  /** Server reflection. Default: `GRPC_REFLECTION` (true). */
  readonly reflection?: boolean;
  /** The database breaker, or false. */
  readonly breaker?: BreakerOptions | false;
  /** Retries of transient failures, or false. */
  readonly retry?: RetryOptions | false;
  /** Bulkheads per RPC group, or false. */
  readonly bulkhead?: BulkheadOptions | false;
  /** Load shedding, or false. */
  readonly shedding?: SheddingOptions | false;
  /** Request validation with protovalidate. Default true. */
  readonly validation?: boolean;
  /**
   * gRPC, query, pool, resilience and auth metrics on `/metrics`. Default `SVCGEN_METRICS`
   * (on unless `false`).
   */
  readonly metrics?: boolean;
  /** One log line per call (method, code, duration, request id, principal). Default true. */
  readonly callLog?: boolean;
  /**
   * Fault injection (a spec string or rules; see fault-interceptor.ts). Default off, or
   * `SVCGEN_FAULTS` from the environment; false turns it off whatever the environment says.
   */
  readonly faults?: FaultOptions | string | false;
}

/** Options of {@link startServer}; anything not given comes from the environment. */
export interface StartServerOptions {
  readonly services: readonly RegisteredService[];
  /** Where the contract is read from. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Overrides of single environment settings (tests pass `port: 0`). */
  readonly settings?: Partial<ServerEnvironment>;
  /** Extra node-postgres pool settings (merged over those from the environment). */
  readonly pool?: pg.PoolConfig;
  /** The generated per-constraint error map. */
  readonly errorMap?: ErrorMapTable;
  /**
   * The bearer-token verifier, or false for none. Default: the one the environment configures
   * (`verifierFromEnv`: `FIREBASE_PROJECT_ID`, or `AUTH_JWKS_URL`/`AUTH_ISSUER`/`AUTH_AUDIENCE`;
   * neither: every call anonymous). Readiness waits until its keys are loaded.
   */
  readonly verifier?: TokenVerifier | false;
  /**
   * A custom resolver of the caller, instead of a verifier (used when `verifier` is not
   * given; the environment's verifier is then not created).
   */
  readonly authenticate?: Authenticate;
  /** The service name of logs (and Loki's label). Default `OTEL_SERVICE_NAME`, else the first service's name. */
  readonly name?: string;
  /** The metrics registry to add the service's metrics to. Default a new one. */
  readonly metricsRegistry?: Registry;
  /**
   * Interceptors by chain position: `telemetry`, `logging` and `metrics` are the telemetry
   * layer's slots; any other position given replaces the runtime's own step.
   */
  readonly interceptors?: ChainSlots;
  readonly features?: ServerFeatures;
  /** Extra side-port routes by path (`/metrics`). */
  readonly routes?: Readonly<Record<string, SidePortRoute>>;
  /**
   * Default: the pino service logger (`createServiceLogger`: JSON lines on stdout, `LOG_LEVEL`,
   * and Loki when `LOKI_URL` is set), flushed by `close()`.
   */
  readonly logger?: Logger;
  /** Where the default service logger writes JSON lines (besides Loki). Default stdout. */
  readonly logDestination?: DestinationStream;
  /** First wait before fetching the verifier's keys again after a failure, ms. Default 1000 (doubling to 30 s). */
  readonly keyRetryMs?: number;
  /** How often the database health probe runs, ms. Default 500. */
  readonly probeIntervalMs?: number;
  /**
   * Events of services that declare them (relay, consumers, transport, tables); see
   * `service-events.ts`. The generated entry passes svcgen.yaml's `events.transport`.
   */
  readonly events?: EventsSettings;
}

/** A running server. */
export interface ServerHandle {
  /** `host:port` of gRPC. */
  readonly grpcAddress: string;
  /** `host:port` of the side port. */
  readonly httpAddress: string;
  /** The pool handlers use. */
  readonly pool: pg.Pool;
  /** Counters, gauges and events (see `runtime-events.ts`). */
  readonly state: RuntimeState;
  /** The current counters and gauges. */
  snapshot(): RuntimeSnapshot;
  /** True when SERVING: database answers, breaker closed, signing keys loaded, not draining. */
  serving(): boolean;
  /** The registry `/metrics` serves; undefined with metrics off. */
  readonly metrics: Registry | undefined;
  /** The running relay and consumers; undefined when no service has events. */
  readonly events: RunningEvents | undefined;
  /**
   * Graceful shutdown: NOT_SERVING and readiness 503, wait `shutdownDelayMs`, stop accepting
   * and abort every call's `ctx.draining` (long-lived streams end themselves), let calls
   * finish until the grace period ends, abort the rest (server-side SQL cancel),
   * close the pool and the side port. Calling it again returns the same promise.
   */
  close(): Promise<void>;
}

/** A logger writing one JSON object per line to stdout. */
export function createJsonLogger(
  write: (line: string) => void = (l) => process.stdout.write(l),
): Logger {
  const log = (level: string) => (fields: object, message: string) => {
    write(
      `${JSON.stringify({ level, time: new Date().toISOString(), msg: message, ...fields })}\n`,
    );
  };
  return { info: log("info"), warn: log("warn"), error: log("error") };
}

function errorFields(error: unknown): object {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      error: {
        name: error.name,
        message: error.message,
        ...(typeof code === "string" ? { code } : {}),
        stack: error.stack,
      },
    };
  }
  return { error: String(error) };
}

/** Starts the services; resolves once both ports listen. */
export async function startServer(options: StartServerOptions): Promise<ServerHandle> {
  const rawEnv = options.env ?? process.env;
  const env = { ...readServerEnvironment(rawEnv), ...options.settings };
  const features = options.features ?? {};
  const names = options.services.map((s) => s.service.typeName);
  const metricsOn = features.metrics ?? metricsEnabledFromEnv(rawEnv);
  // Configuration errors surface before anything starts (and before a logger holds stdout).
  const configured =
    options.verifier !== undefined || options.authenticate !== undefined
      ? undefined
      : await verifierFromEnv(rawEnv);
  const verifier =
    options.verifier === false ? undefined : (options.verifier ?? configured?.verifier);
  const serviceLogger: ServiceLogger | undefined =
    options.logger === undefined
      ? createServiceLogger({
          service: options.name ?? (rawEnv.OTEL_SERVICE_NAME || names[0] || "svcgen-service"),
          env: rawEnv,
          ...(options.logDestination === undefined ? {} : { destination: options.logDestination }),
        })
      : undefined;
  const logger: Logger = options.logger ?? (serviceLogger as ServiceLogger).log;
  const security = serviceLogger?.security ?? {
    warn: (fields: object, message: string) =>
      logger.warn({ channel: "security", ...fields }, message),
  };
  // Before anything is opened: a malformed spec stops the start with nothing to clean up.
  const faults = configureFaults(features.faults, options.env ?? process.env, logger, () => server);
  const state = new RuntimeState();
  const health = new HealthImplementation({ "": "NOT_SERVING" });
  let draining = false;
  const isServing = (): boolean =>
    !draining && (verifier === undefined || verifier.keysLoaded()) && db.healthy();
  const publishHealth = (): void => {
    const serving = isServing();
    if (serving !== state.serving) {
      state.serving = serving;
      state.events.emit("serving", serving);
      logger.info({ serving }, serving ? "serving" : "not serving");
    }
    const status = serving ? "SERVING" : "NOT_SERVING";
    health.setStatus("", status);
    for (const n of names) health.setStatus(n, status);
  };
  const db: Database = createDatabase({
    pool: {
      connectionString: env.databaseUrl,
      max: env.poolMax,
      connectionTimeoutMillis: env.connectTimeoutMs,
      idleTimeoutMillis: env.idleTimeoutMs,
      ...options.pool,
    },
    breaker: features.breaker ?? {},
    state,
    ...(options.probeIntervalMs === undefined ? {} : { probeIntervalMs: options.probeIntervalMs }),
    onIdleError: (err) => logger.warn(errorFields(err), "idle database connection failed; dropped"),
    onHealthChange: () => publishHealth(),
  });
  publishHealth();
  // Readiness waits for the verifier's signing keys: a replica that would refuse every token
  // gets no traffic. A failed fetch is retried with backoff until it succeeds or we close.
  let keyTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  /** Settles when the first attempt to load the signing keys has (either way). */
  let firstKeyAttempt: Promise<void> = Promise.resolve();
  if (verifier !== undefined) {
    let wait = options.keyRetryMs ?? 1000;
    const loadKeys = (): Promise<void> =>
      verifier.ready().then(
        () => {
          if (stopped) return;
          logger.info({}, "signing keys loaded");
          publishHealth();
        },
        (err: unknown) => {
          if (stopped) return;
          logger.warn(
            { retryInMs: wait, ...errorFields(err) },
            "signing keys could not be fetched; not ready",
          );
          keyTimer = setTimeout(() => void loadKeys(), wait);
          keyTimer.unref();
          wait = Math.min(wait * 2, 30_000);
        },
      );
    firstKeyAttempt = loadKeys();
  }
  // Health is known before anyone can ask: the first database probe (it started with the pool)
  // and the first key fetch have finished, so a healthy service is SERVING from its first
  // health check instead of NOT_SERVING until the next probe. Bounded, so a database that does
  // not answer delays the start by at most the connect timeout (health then says NOT_SERVING).
  await settledWithin(Promise.all([db.probe(), firstKeyAttempt]), env.connectTimeoutMs + 500);
  // Everything started here that outlives the servers, released last by close() (and on a
  // failed start): the verifier we created, the query observer, the logs, the tracer.
  const releaseRest = async (): Promise<void> => {
    stopped = true;
    if (keyTimer !== undefined) clearTimeout(keyTimer);
    if (configured?.verifier !== undefined) await configured.verifier.close();
    restoreQueryObserver?.();
    await activeTracing()?.shutdown();
    await serviceLogger?.close();
  };

  const shutdown = new AbortController();
  // Every call in flight listens to it.
  setMaxListeners(0, shutdown.signal);
  // `ctx.draining` of every call: aborted when the server stops accepting calls, so
  // long-lived streams end themselves instead of holding the shutdown to its grace period.
  const drain = new AbortController();
  setMaxListeners(0, drain.signal);
  const shedder =
    features.shedding === false ? undefined : createShedder(features.shedding ?? {}, state);
  const statusOf: StatusOf = (error) =>
    isRpcError(error) ? error.code : (mapError(error, options.errorMap)?.code ?? 13);
  const registry = metricsOn ? (options.metricsRegistry ?? createMetricsRegistry()) : undefined;
  let countAuthFailure: ((event: SecurityEvent) => void) | undefined;
  let restoreQueryObserver: (() => void) | undefined;
  if (registry !== undefined) {
    registerResilienceMetrics(
      registry,
      runtimeMetricSources(() => state.snapshot(), db.pool),
    );
    countAuthFailure = registerAuthMetrics(registry);
    const observe = registerQueryMetrics(registry);
    const observer: RuntimeSettings["queryObserver"] = (name, seconds) => observe(name, seconds);
    configureRuntime({ queryObserver: observer });
    restoreQueryObserver = () => {
      // Another server started later in this process may have replaced it: leave that one.
      if (configureRuntime({}).queryObserver === observer) {
        configureRuntime({ queryObserver: undefined });
      }
    };
  }
  const logSecurity = securityEventLogger(security);
  const onSecurityEvent = (event: SecurityEvent): void => {
    logSecurity(event);
    countAuthFailure?.(event);
  };
  if (verifier === undefined && options.authenticate === undefined) {
    logger.warn(
      { auth: "none", reason: configured?.description ?? "verifier: false" },
      "no token verifier: every call is anonymous and only public methods succeed",
    );
  } else if (configured?.verifier !== undefined) {
    logger.info(
      { auth: configured.kind, issuer: configured.description },
      "token verifier configured",
    );
  }
  const slots: ChainSlots = {
    ...(features.callLog === false
      ? {}
      : {
          logging: createCallLogInterceptor(
            options.logger ?? (serviceLogger as ServiceLogger).calls,
            statusOf,
          ),
        }),
    recover: createRecoverInterceptor((error, method, correlationId, requestId) =>
      logger.error(
        { method, correlation_id: correlationId, request_id: requestId, ...errorFields(error) },
        "unexpected error",
      ),
    ),
    ...(registry === undefined
      ? {}
      : { metrics: createMetricsInterceptor(registerGrpcServerMetrics(registry), statusOf) }),
    auth: createAuthInterceptor({ verifier, authenticate: options.authenticate, onSecurityEvent }),
    shedding: shedder?.interceptor ?? false,
    bulkhead:
      features.bulkhead === false
        ? false
        : createBulkheadInterceptor(features.bulkhead ?? {}, state),
    deadline: createDeadlineInterceptor({ maxTimeoutMs: env.maxTimeoutMs }),
    faults,
    errorMap: createErrorMapInterceptor(options.errorMap),
    retry: features.retry === false ? false : createRetryInterceptor(features.retry ?? {}, state),
    ...options.interceptors,
  };
  // Read-only queries on this pool retry below the call, by the same options and counters;
  // off with the retry step.
  if (slots.retry !== false) {
    setQueryRetryPolicy(db.pool, createQueryRetryPolicy(features.retry || {}, state));
  }
  const server = new Server({
    // channelz bookkeeping runs on every call and nothing here reads it.
    "grpc.enable_channelz": 0,
    "grpc.max_receive_message_length": env.maxMessageBytes,
    "grpc.max_send_message_length": env.maxMessageBytes,
  });
  const withEvents: { events: ServiceEvents; handlers: object }[] = [];
  for (const s of options.services) {
    const handlers = typeof s.handlers === "function" ? s.handlers(db.pool) : s.handlers;
    if (s.events !== undefined) withEvents.push({ events: s.events as ServiceEvents, handlers });
    server.addService(
      createServiceDefinition(s.service),
      createServerHandlers(s.service, handlers as ServiceHandlers<DescService>, s.policies, {
        interceptors: slots,
        ...(features.validation === false ? { validator: false } : {}),
        ...(options.errorMap === undefined ? {} : { errorMap: options.errorMap }),
        ...(s.fallbacks === undefined ? {} : { fallbacks: s.fallbacks }),
        shutdownSignal: shutdown.signal,
        drainSignal: drain.signal,
      }),
    );
  }
  health.addToServer(server);
  if (features.reflection ?? env.reflection)
    addReflection(
      server,
      options.services.map((s) => s.service),
    );

  let side: SidePort | undefined;
  let events: RunningEvents | undefined;
  try {
    // Before the ports open: a service whose events cannot run (tables, broker) does not start.
    events = await startServiceEvents({
      pool: db.pool,
      services: withEvents,
      env: rawEnv,
      ...(options.events === undefined ? {} : { settings: options.events }),
      logger: {
        warn: (message, details) => logger.warn({ ...details }, message),
        error: (message, details) => logger.error({ ...details }, message),
      },
      ...(registry === undefined ? {} : { registry }),
    });
    if (events !== undefined) {
      logger.info(
        { transport: events.transport, relay: events.relay !== undefined },
        "events started",
      );
    }
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(
        `${env.host.includes(":") ? `[${env.host}]` : env.host}:${env.port}`,
        ServerCredentials.createInsecure(),
        (err, p) => (err === null ? resolve(p) : reject(err)),
      );
    });
    side = await startSidePort({
      host: env.host,
      port: env.httpPort,
      ready: isServing,
      routes: {
        ...(registry === undefined ? {} : { "/metrics": createMetricsHandler(registry) }),
        ...options.routes,
      },
    });
    const grpcAddress = `${env.host.includes(":") ? `[${env.host}]` : env.host}:${port}`;
    const httpAddress = side.address;
    logger.info({ grpc: grpcAddress, http: httpAddress, services: names }, "listening");
    let closing: Promise<void> | undefined;
    const sidePort = side;
    const runningEvents = events;
    const close = async (): Promise<void> => {
      const started = Date.now();
      draining = true;
      publishHealth();
      logger.info({ graceMs: env.shutdownGraceMs }, "shutting down");
      if (env.shutdownDelayMs > 0) await sleep(Math.min(env.shutdownDelayMs, env.shutdownGraceMs));
      // Stop accepting (GOAWAY on every connection) and wait for the calls in flight, until
      // the grace period ends; keep some of it for cancelling and closing the pool. Streams
      // that would run on (subscriptions) end on `ctx.draining` now: after the delay, not at
      // its start, so a client they tell to reconnect cannot land on this server again.
      const drained = new Promise<boolean>((resolve) => server.tryShutdown(() => resolve(true)));
      drain.abort();
      const budget = Math.max(
        0,
        env.shutdownGraceMs - (Date.now() - started) - Math.min(1000, env.shutdownGraceMs / 5),
      );
      const graceful = await Promise.race([drained, sleep(budget).then(() => false)]);
      if (!graceful) {
        logger.warn(
          { inFlight: state.inFlight },
          "grace period over; cancelling the calls still running",
        );
        // Their signals abort: queries get a CancelRequest, handlers end, connections return.
        shutdown.abort();
        await Promise.race([drained, sleep(200)]);
        server.forceShutdown();
      }
      shedder?.stop();
      // Consumers finish the event in hand and the relay its batch, before the pool closes.
      if (runningEvents !== undefined) {
        await Promise.race([
          runningEvents
            .stop()
            .catch((err: unknown) => logger.warn(errorFields(err), "stopping events failed")),
          sleep(Math.max(100, env.shutdownGraceMs - (Date.now() - started))),
        ]);
      }
      await Promise.race([
        db.close(),
        sleep(Math.max(100, env.shutdownGraceMs - (Date.now() - started))),
      ]);
      await sidePort.close();
      logger.info({ ms: Date.now() - started, graceful }, "stopped");
      await releaseRest();
    };
    return {
      grpcAddress,
      httpAddress,
      pool: db.pool,
      state,
      snapshot: () => state.snapshot(),
      serving: isServing,
      metrics: registry,
      events,
      close() {
        closing ??= close();
        return closing;
      },
    };
  } catch (err) {
    server.forceShutdown();
    shedder?.stop();
    await events?.stop().catch(() => undefined);
    await side?.close();
    await db.close();
    await releaseRest();
    throw err;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs a service as a program: starts it, shuts down gracefully on the first SIGTERM or
 * SIGINT and exits 0; a second signal exits 1 at once. A failure to start is logged and
 * exits 1.
 */
export async function runMain(
  start: () => Promise<ServerHandle>,
  logger: Logger = createJsonLogger(),
): Promise<void> {
  let handle: ServerHandle;
  try {
    handle = await start();
  } catch (err) {
    logger.error(errorFields(err), "could not start");
    process.exit(1);
  }
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      logger.warn({ signal }, "second signal; exiting now");
      process.exit(1);
    }
    signalled = true;
    logger.info({ signal }, "signal received");
    handle.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error(errorFields(err), "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}

/** True when the module with this `import.meta.url` is the program node was asked to run. */
export function isMainModule(importMetaUrl: string): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(importMetaUrl));
  } catch {
    return false;
  }
}

/** Waits for `work` to settle, or for `ms`, whichever comes first; never rejects. */
async function settledWithin(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    work.then(
      () => {},
      () => {},
    ),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}
