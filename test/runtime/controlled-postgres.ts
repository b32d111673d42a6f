/**
 * A PostgreSQL server that a test owns and can pause and resume (the run's shared server must
 * never be stopped): an embedded server of its own (`@svcgen/runtime/embedded-postgres`),
 * keeping its data across an outage.
 */
import {
  type EmbeddedPostgresServer,
  startEmbeddedPostgres,
} from "@svcgen/runtime/embedded-postgres";
import pg from "pg";

/**
 * Initialises and starts a server, running `setupSql` in its `postgres` database. Commits are
 * synchronous (unlike the shared test server's): a write acknowledged before an outage must
 * still be there after it, as on a production server.
 */
export async function startControlledPostgres(setupSql?: string): Promise<EmbeddedPostgresServer> {
  const server = await startEmbeddedPostgres({
    folderPrefix: "svcgen-faults-",
    settings: { synchronous_commit: "on" },
  });
  if (setupSql !== undefined) {
    const c = new pg.Client({ connectionString: server.url });
    try {
      await c.connect();
      await c.query(setupSql);
    } catch (err) {
      await server.stop();
      throw err;
    } finally {
      await c.end();
    }
  }
  return server;
}
