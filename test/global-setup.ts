/**
 * One PostgreSQL server for the whole test run: `DATABASE_URL` when set, else one embedded
 * server. Test files get a fresh database each with `createTestDatabase` (test/db.ts). The
 * generated test kit (`gen/testing/`) finds the same server in `SVCGEN_TEST_DATABASE_URL`, as
 * a project's own global setup would pass it (environment variables set here reach the test
 * processes).
 */
import pg from "pg";
import type { TestProject } from "vitest/node";
import { startEmbeddedServer } from "../cli/src/db/embedded-server.js";

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const fromEnv = process.env.DATABASE_URL;
  if (fromEnv !== undefined && fromEnv !== "") {
    project.provide("databaseUrl", fromEnv);
    process.env.SVCGEN_TEST_DATABASE_URL = fromEnv;
    // Tests generate projects against this server, which keeps a schema database per project
    // (database.keepSchema): drop the ones this run created, leave everything else alone.
    const before = new Set(await keptSchemas(fromEnv));
    return async () => {
      const c = new pg.Client({ connectionString: fromEnv });
      await c.connect();
      try {
        for (const name of await keptSchemas(fromEnv)) {
          if (!before.has(name)) await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        }
      } finally {
        await c.end();
      }
    };
  }
  const server = await startEmbeddedServer(15);
  project.provide("databaseUrl", server.url);
  process.env.SVCGEN_TEST_DATABASE_URL = server.url;
  return () => server.stop();
}

async function keptSchemas(url: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ datname: string }>(
      // Kept schemas of generated projects, and the test kit's templates.
      "SELECT datname FROM pg_database WHERE starts_with(datname, 'svcgen_schema_') OR starts_with(datname, 'svcgen_tpl_')",
    );
    return r.rows.map((x) => x.datname);
  } finally {
    await c.end();
  }
}
