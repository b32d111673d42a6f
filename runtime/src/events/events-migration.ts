/**
 * `ensureEventsSchema`: applies {@link eventsMigrationSql} at service start, under an advisory
 * lock, so services that share a database and start at the same moment do not race on
 * `CREATE TABLE IF NOT EXISTS` (two concurrent creations of one table can fail on the
 * catalog's unique index even with `IF NOT EXISTS`).
 */
import type { Pool } from "pg";
import { eventsMigrationSql } from "./events-schema.js";

// An arbitrary constant of svcgen's: the advisory lock key of the events migration.
const migrationLockKey = 5_187_100_001;

/** Creates the events tables when they are missing; a no-op when they exist. */
export async function ensureEventsSchema(pool: Pool): Promise<void> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query("BEGIN");
    try {
      await client.query("SELECT pg_advisory_xact_lock($1)", [migrationLockKey]);
      await client.query(eventsMigrationSql);
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch((e: unknown) => {
        broken = e instanceof Error ? e : new Error(String(e));
      });
      throw err;
    }
  } finally {
    client.release(broken);
  }
}
