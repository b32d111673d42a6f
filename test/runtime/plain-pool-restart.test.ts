/**
 * Generated queries on a user's plain `pg.Pool` (no `error` listener, not the runtime's
 * pool) while the database restarts under a running query: node-postgres emits `error` on
 * the checked-out client, which would crash the process if nobody listened. The call must
 * reject with a connection error, nothing may reach `uncaughtException`, the dead client must
 * leave the pool, and the next call must succeed once the server is back.
 */
import { defineQuery, runExec, runOne, withTransaction } from "@svcgen/runtime";
import type { EmbeddedPostgresServer } from "@svcgen/runtime/embedded-postgres";
import pg from "pg";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startControlledPostgres } from "./controlled-postgres.js";

let db: EmbeddedPostgresServer;
const uncaught: unknown[] = [];
const onUncaught = (error: unknown): void => {
  uncaught.push(error);
};

beforeAll(async () => {
  db = await startControlledPostgres();
  process.on("uncaughtException", onUncaught);
});

afterAll(async () => {
  process.off("uncaughtException", onUncaught);
  await db?.stop();
});

const sleep = defineQuery<{ seconds: number }, { slept: string }>({
  name: "SleepWhileRestarting",
  sql: "SELECT pg_sleep($1)::text AS slept",
  params: [["seconds", (v) => String(v)]],
  columns: [["slept", (v) => v]],
});
const one = defineQuery<Record<string, never>, { one: number }>({
  name: "SelectOne",
  sql: "SELECT 1 AS one",
  params: [],
  columns: [["one", (v) => Number(v)]],
});

/** Waits until `pg_stat_activity` shows a session running `text`. */
async function waitForQuery(url: string, text: string): Promise<void> {
  const probe = new pg.Client({ connectionString: url });
  await probe.connect();
  try {
    for (let i = 0; i < 200; i++) {
      const r = await probe.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()",
        [`%${text}%`],
      );
      if ((r.rows[0] as { n: number }).n > 0) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`no session ran ${text}`);
  } finally {
    await probe.end();
  }
}

test("a restart during a query on a plain pg.Pool: the call fails, the process lives, the next call succeeds", async () => {
  // A user's pool: no `error` listener of its own, one connection so the dead one must go.
  const pool = new pg.Pool({ connectionString: db.url, max: 1 });
  try {
    expect(await runOne(pool, one)).toEqual({ one: 1 });

    const running = runOne(pool, sleep, { seconds: 30 }).then(
      () => "resolved",
      (e: unknown) => e,
    );
    await waitForQuery(db.url, "pg_sleep");
    await db.pause();
    const failure = await running;
    expect(failure).toBeInstanceOf(Error);
    // 57P01 (terminating connection due to administrator command) or a lost socket.
    expect(String((failure as Error).message)).toMatch(/terminat|connection|Connection/);
    // Give node-postgres time to emit the socket's `error`/`end` on the dead client.
    await new Promise((r) => setTimeout(r, 300));
    expect(uncaught).toEqual([]);
    expect(pool.totalCount).toBe(0);

    await db.resume();
    expect(await runOne(pool, one)).toEqual({ one: 1 });
    expect(pool.totalCount).toBe(1);

    // The same for a transaction checked out of the pool.
    const inTx = withTransaction(pool, (tx) => runExec(tx, sleep, { seconds: 30 })).then(
      () => "resolved",
      (e: unknown) => e,
    );
    await waitForQuery(db.url, "pg_sleep");
    await db.pause();
    expect(await inTx).toBeInstanceOf(Error);
    await new Promise((r) => setTimeout(r, 300));
    expect(uncaught).toEqual([]);
    await db.resume();
    expect(await runOne(pool, one)).toEqual({ one: 1 });
  } finally {
    // Teardown only: pool.end() resolves before the last socket has closed, and the server is
    // destroyed next; an idle client's error then goes to the pool (node-postgres's documented
    // behaviour for idle clients, not the checked-out case tested above).
    pool.on("error", () => undefined);
    await pool.end();
  }
});
