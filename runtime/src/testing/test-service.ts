/**
 * In-process test services: what a generated `gen/testing/<service>.ts` calls. A fresh test
 * database from the project's template, the service started with `startServer` (the same
 * interceptor chain, error map and handlers as `gen/server/<service>.ts`) on free loopback
 * ports, a token verifier that accepts exactly a test issuer's tokens, and a typed client;
 * `close()` undoes all of it.
 */
import type pg from "pg";
import { createJwksVerifier } from "../auth/jwks-verifier.js";
import type { ClientOptions } from "../grpc/client-factory.js";
import type { ErrorMapTable } from "../server/error-map.js";
import {
  type Logger,
  type RegisteredService,
  type ServerHandle,
  type StartServerOptions,
  startServer,
} from "../server/start-server.js";
import { createTestDatabase, type TestDatabasesConfig } from "./test-databases.js";
import { createTestIssuer, type TestIssuer, type TestTokenClaims } from "./test-issuer.js";

/** What a generated test kit passes for its service. */
export interface TestServiceDefinition<C> {
  /** The project's migrations (generated `gen/testing/setup.ts`). */
  readonly database: TestDatabasesConfig;
  /** The registrations to serve (the generated `load<Service>()`). */
  readonly services: () => Promise<readonly RegisteredService[]>;
  /** The generated per-constraint error map (`gen/errors.ts`). */
  readonly errorMap: ErrorMapTable;
  /** The generated client factory (`create<Service>Client`). */
  readonly createClient: (target: string, options?: ClientOptions) => C;
}

/**
 * Options of a generated `startTestService`; `H` is the service's handler interface
 * (`UserServiceHandlers`).
 */
export interface TestServiceOptions<H extends object = object> {
  /**
   * Serve this database as it is (neither created nor dropped). Default: a fresh database
   * copied from the project's migrated template, dropped by `close()`.
   */
  readonly databaseUrl?: string;
  /**
   * The issuer whose tokens the service accepts (kept open by `close()`). Default: a new one,
   * closed by `close()`. Tokens of any other issuer or key are refused with UNAUTHENTICATED.
   */
  readonly issuer?: TestIssuer;
  /**
   * Fault injection, in `SVCGEN_FAULTS` syntax (`"GetUser=latency:200ms;*=error:UNAVAILABLE@10%"`).
   * Default none: the environment's `SVCGEN_FAULTS` is ignored in tests.
   */
  readonly faults?: string;
  /** The service's logs: false (default) drops them, true writes JSON lines to stdout, or a logger. */
  readonly logs?: boolean | Logger;
  /** Options of the typed client (channel options, credentials). */
  readonly client?: ClientOptions;
  /**
   * Builds the handlers from the service's pool instead of the generated registration's
   * `new <Service>Impl(pool)`: to give them test configuration (a storage, a clock) or to
   * replace a method. The chain, policies and error map stay the generated ones.
   */
  readonly handlers?: (pool: pg.Pool) => H;
  /**
   * Anything else of `startServer` (settings, features, pool, interceptors), over the test
   * defaults: loopback, free ports, a 1 s shutdown grace, a 100 ms database probe.
   */
  readonly server?: Partial<Omit<StartServerOptions, "services">>;
}

/** A running test service. */
export interface TestService<C> {
  /** The typed client, connected to the service. */
  readonly client: C;
  /** The service's own pool (seed data, inspect rows, `pg_stat_activity`). */
  readonly pool: pg.Pool;
  /** The test database's connection string. */
  readonly databaseUrl: string;
  /** `127.0.0.1:<port>` of gRPC (for a second client, or `svcgen load`). */
  readonly address: string;
  /** The issuer whose tokens the service accepts. */
  readonly issuer: TestIssuer;
  /** The running server (health, snapshot, metrics). */
  readonly server: ServerHandle;
  /**
   * Call metadata with a valid token: `{ metadata: await svc.as({ uid, roles }) }`; the same as
   * `issuer.authorization(claims)`.
   */
  as(claims?: TestTokenClaims): Promise<Record<string, string>>;
  /** Closes the client and the server, drops the test database, closes an issuer it made. */
  close(): Promise<void>;
}

const silent: Logger = { info() {}, warn() {}, error() {} };

/**
 * Starts a service for a test: see {@link TestServiceDefinition} and {@link TestServiceOptions}.
 * Anything started before a failure is closed again before the error is thrown.
 */
export async function startTestServer<C extends { close(): void }, H extends object = object>(
  definition: TestServiceDefinition<C>,
  options: TestServiceOptions<H> = {},
): Promise<TestService<C>> {
  const cleanup: (() => Promise<void> | void)[] = [];
  const undo = async () => {
    for (const step of cleanup.reverse()) await step();
  };
  try {
    let databaseUrl = options.databaseUrl;
    if (databaseUrl === undefined) {
      const db = await createTestDatabase(definition.database);
      cleanup.push(() => db.drop());
      databaseUrl = db.url;
    }
    let issuer = options.issuer;
    if (issuer === undefined) {
      const own = await createTestIssuer();
      cleanup.push(() => own.close());
      issuer = own;
    }
    const logs = options.logs ?? false;
    const server = options.server ?? {};
    const registered = await definition.services();
    const { handlers } = options;
    const handle = await startServer({
      services: handlers === undefined ? registered : registered.map((r) => ({ ...r, handlers })),
      errorMap: definition.errorMap,
      // Only what the tests set: the developer's shell (auth, faults, Loki) does not leak in.
      env: { DATABASE_URL: databaseUrl },
      verifier: createJwksVerifier(issuer.verifierOptions),
      ...(logs === true ? {} : { logger: logs === false ? silent : logs }),
      probeIntervalMs: 100,
      ...server,
      settings: {
        host: "127.0.0.1",
        port: 0,
        httpPort: 0,
        shutdownGraceMs: 1000,
        shutdownDelayMs: 0,
        ...server.settings,
        databaseUrl,
      },
      features: { faults: options.faults ?? false, ...server.features },
    });
    cleanup.push(() => handle.close());
    const client = definition.createClient(handle.grpcAddress, options.client);
    cleanup.push(() => client.close());
    const testIssuer = issuer;
    let closed: Promise<void> | undefined;
    return {
      client,
      pool: handle.pool,
      databaseUrl,
      address: handle.grpcAddress,
      issuer: testIssuer,
      server: handle,
      as: (claims) => testIssuer.authorization(claims),
      close() {
        closed ??= undo();
        return closed;
      },
    };
  } catch (err) {
    await undo();
    throw err;
  }
}
