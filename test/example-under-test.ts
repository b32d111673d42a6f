/**
 * The example's five services as the end-to-end tests run them: compiled into the test's own
 * folder, each a process of its own (example-project/scripts/services.ts) over a fresh copy of
 * the example's migrated template (its generated test kit), verifying real tokens of a test
 * issuer. One place for what every such test needs; each adds its own environment.
 */
import {
  createTestDatabase,
  createTestIssuer,
  type TestDatabase,
  type TestIssuer,
} from "@svcgen/runtime/testing";
import pg from "pg";
import { testDatabases } from "../example-project/gen/testing/setup.js";
import {
  buildExample,
  type RunningServices,
  type StartServicesOptions,
  startServices,
} from "../example-project/scripts/services.js";

/** The running example and what it runs on. */
export interface ExampleUnderTest {
  readonly issuer: TestIssuer;
  readonly db: TestDatabase;
  /** A small pool on `db`, for the test's own queries. */
  readonly sql: pg.Pool;
  readonly running: RunningServices;
  /** Stops the services, then drops the database and closes the issuer. */
  stop(): Promise<void>;
}

/** Options of {@link startExampleUnderTest}. */
export interface ExampleUnderTestOptions {
  /** Where the example is compiled to: the test's own folder (runs may overlap). */
  readonly distDir: string;
  /** More environment for every service, over the auth settings and a 3 s grace period. */
  readonly env?: Readonly<Record<string, string>>;
  readonly onLine?: StartServicesOptions["onLine"];
}

/** Starts the example's services for a test (see the module comment). */
export async function startExampleUnderTest(
  options: ExampleUnderTestOptions,
): Promise<ExampleUnderTest> {
  const [issuer, db] = await Promise.all([
    createTestIssuer(),
    createTestDatabase(testDatabases),
    buildExample(options.distDir),
  ]);
  const sql = new pg.Pool({ connectionString: db.url, max: 2 });
  const closeRest = async (): Promise<void> => {
    await sql.end();
    await db.drop();
    await issuer.close();
  };
  let running: RunningServices;
  try {
    running = await startServices({
      databaseUrl: db.url,
      distDir: options.distDir,
      env: {
        AUTH_JWKS_URL: issuer.jwksUrl,
        AUTH_ISSUER: issuer.issuer,
        AUTH_AUDIENCE: issuer.audience,
        SHUTDOWN_GRACE_MS: "3000",
        OTEL_SDK_DISABLED: "true",
        ...options.env,
      },
      // Five Node processes start at once on a machine that may be loaded.
      startTimeoutMs: 120_000,
      ...(options.onLine === undefined ? {} : { onLine: options.onLine }),
    });
  } catch (err) {
    await closeRest();
    throw err;
  }
  return {
    issuer,
    db,
    sql,
    running,
    async stop() {
      await running.stop();
      await closeRest();
    },
  };
}
