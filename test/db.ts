/** Test helpers for databases: a fresh database per test file on the run's one server. */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";
import { withDatabase } from "../cli/src/db/schema-source.js";

/** The URL of the run's server (`DATABASE_URL`, or the embedded server's). */
export function serverUrl(): string {
  return inject("databaseUrl");
}

export { withDatabase };

/** A database created for one test file; `drop()` removes it. */
export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

/**
 * Creates an empty database with a unique name (prefix + random suffix) and returns its URL.
 * Runs `setupSql` in it when given.
 */
export async function createTestDatabase(prefix: string, setupSql?: string): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(4).toString("hex")}`.toLowerCase();
  const admin = new pg.Client({ connectionString: serverUrl() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(serverUrl(), name);
  if (setupSql !== undefined) {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query(setupSql);
    } finally {
      await c.end();
    }
  }
  return {
    name,
    url,
    async drop() {
      const a = new pg.Client({ connectionString: serverUrl() });
      await a.connect();
      try {
        // pg's pool.end() resolves before its sockets close: give those connections up to 2 s
        // to go, or FORCE kills them and their clients raise errors nobody listens to any more.
        for (let waited = 0; waited < 2000; waited += 20) {
          const open = await a.query(
            "SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            [name],
          );
          if (open.rowCount === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        await a.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
}
