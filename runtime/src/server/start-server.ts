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
 */
import { setMaxListeners } from "node:events";
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { DescService } from "@bufbuild/protobuf";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import type pg from "pg";
import {
  createServerHandlers,
  type FallbackHandler,
  type MethodPolicy,
  type ServiceHandlers,
} from "../grpc/server-handlers.js";
import { createServiceDefinition } from "../grpc/service-definition.js";
import { type Authenticate, createAuthInterceptor } from "./auth-interceptor.js";
import { type BulkheadOptions, createBulkheadInterceptor } from "./bulkhead-interceptor.js";
import type { ChainSlots } from "./chain.js";
import { type BreakerOptions, createDatabase, type Database } from "./database.js";
import { createDeadlineInterceptor } from "./deadline-interceptor.js";
import { readServerEnvironment, type ServerEnvironment } from "./environment.js";
import { createErrorMapInterceptor, type ErrorMapTable } from "./error-map.js";
import { createRecoverInterceptor } from "./recover-interceptor.js";
import { addReflection } from "./reflection.js";
import { createRetryInterceptor, type RetryOptions } from "./retry-interceptor.js";
import { type RuntimeSnapshot, RuntimeState } from "./runtime-events.js";
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
}

/** Typed registration of one generated service (checks handlers against the service). */
export function defineService<S extends DescService>(registration: {
  readonly service: S;
  readonly handlers: ServiceHandlers<S> | ((db: pg.Pool) => ServiceHandlers<S>);
  readonly policies: Readonly<Record<string, MethodPolicy>>;
  readonly fallbacks?: Readonly<Record<string, FallbackHandler>>;
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
  /** Resolves the caller of each call (Firebase, OIDC); default: every call anonymous. */
  readonly authenticate?: Authenticate;
  /**
   * Interceptors by chain position: `telemetry`, `logging` and `metrics` are the telemetry
   * layer's slots; any other position given replaces the runtime's own step.
   */
  readonly interceptors?: ChainSlots;
  readonly features?: ServerFeatures;
  /** Extra side-port routes by path (`/metrics`). */
  readonly routes?: Readonly<Record<string, SidePortRoute>>;
  /** Default: JSON lines on stdout. */
  readonly logger?: Logger;
  /** How often the database health probe runs, ms. Default 500. */
  readonly probeIntervalMs?: number;
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
  /** True when SERVING: database answers, breaker closed, not draining. */
  serving(): boolean;
  /**
   * Graceful shutdown: NOT_SERVING and readiness 503, wait `shutdownDelayMs`, stop accepting,
   * let calls finish until the grace period ends, abort the rest (server-side SQL cancel),
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
  const env = { ...readServerEnvironment(options.env ?? process.env), ...options.settings };
  const logger = options.logger ?? createJsonLogger();
  const features = options.features ?? {};
  const state = new RuntimeState();
  const health = new HealthImplementation({ "": "NOT_SERVING" });
  const names = options.services.map((s) => s.service.typeName);
  let draining = false;
  const isServing = (): boolean => !draining && db.healthy();
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

  const shutdown = new AbortController();
  // Every call in flight listens to it.
  setMaxListeners(0, shutdown.signal);
  const shedder =
    features.shedding === false ? undefined : createShedder(features.shedding ?? {}, state);
  const slots: ChainSlots = {
    recover: createRecoverInterceptor((error, method, correlationId) =>
      logger.error({ method, correlationId, ...errorFields(error) }, "unexpected error"),
    ),
    auth: createAuthInterceptor(options.authenticate),
    shedding: shedder?.interceptor ?? false,
    bulkhead:
      features.bulkhead === false
        ? false
        : createBulkheadInterceptor(features.bulkhead ?? {}, state),
    deadline: createDeadlineInterceptor({ maxTimeoutMs: env.maxTimeoutMs }),
    errorMap: createErrorMapInterceptor(options.errorMap),
    retry: features.retry === false ? false : createRetryInterceptor(features.retry ?? {}, state),
    ...options.interceptors,
  };
  const server = new Server({
    "grpc.max_receive_message_length": env.maxMessageBytes,
    "grpc.max_send_message_length": env.maxMessageBytes,
  });
  for (const s of options.services) {
    const handlers = typeof s.handlers === "function" ? s.handlers(db.pool) : s.handlers;
    server.addService(
      createServiceDefinition(s.service),
      createServerHandlers(s.service, handlers as ServiceHandlers<DescService>, s.policies, {
        interceptors: slots,
        ...(features.validation === false ? { validator: false } : {}),
        ...(options.errorMap === undefined ? {} : { errorMap: options.errorMap }),
        ...(s.fallbacks === undefined ? {} : { fallbacks: s.fallbacks }),
        shutdownSignal: shutdown.signal,
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
  try {
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
      ...(options.routes === undefined ? {} : { routes: options.routes }),
    });
    const grpcAddress = `${env.host.includes(":") ? `[${env.host}]` : env.host}:${port}`;
    const httpAddress = side.address;
    logger.info({ grpc: grpcAddress, http: httpAddress, services: names }, "listening");
    let closing: Promise<void> | undefined;
    const sidePort = side;
    const close = async (): Promise<void> => {
      const started = Date.now();
      draining = true;
      publishHealth();
      logger.info({ graceMs: env.shutdownGraceMs }, "shutting down");
      if (env.shutdownDelayMs > 0) await sleep(Math.min(env.shutdownDelayMs, env.shutdownGraceMs));
      // Stop accepting (GOAWAY on every connection) and wait for the calls in flight, until
      // the grace period ends; keep some of it for cancelling and closing the pool.
      const drained = new Promise<boolean>((resolve) => server.tryShutdown(() => resolve(true)));
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
      await Promise.race([
        db.close(),
        sleep(Math.max(100, env.shutdownGraceMs - (Date.now() - started))),
      ]);
      await sidePort.close();
      logger.info({ ms: Date.now() - started, graceful }, "stopped");
    };
    return {
      grpcAddress,
      httpAddress,
      pool: db.pool,
      state,
      snapshot: () => state.snapshot(),
      serving: isServing,
      close() {
        closing ??= close();
        return closing;
      },
    };
  } catch (err) {
    server.forceShutdown();
    shedder?.stop();
    await side?.close();
    await db.close();
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
