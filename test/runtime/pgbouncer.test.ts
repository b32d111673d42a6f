/**
 * Generated queries through a real PgBouncer in transaction mode (Debian's `pgbouncer`
 * package, the stand-in for Supabase's Supavisor): with named prepared statements turned off
 * through `configureRuntime`, concurrent queries and transactions work although each
 * transaction may land on another server connection, and an abort still cancels the query on
 * the server (PgBouncer forwards the cancel request).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { freePort } from "../../cli/src/db/embedded-server.js";
import { configureRuntime, isAbortError, withTransaction } from "../../runtime/src/index.js";
import { createTestDatabase, type TestDatabase } from "../db.js";
import { type GeneratedModules, generateAndImport } from "./generated-module.js";
import { base, column, param, query } from "./model-builders.js";

const int4 = base("int4", "integer");
const int8 = base("int8", "bigint");
const text = base("text");
const marker = `svcgen_bouncer_${Date.now()}`;

let db: TestDatabase;
let bouncer: ChildProcess | undefined;
let workDir: string;
let pool: pg.Pool;
let admin: pg.Client;
let gen: GeneratedModules;

const pgbouncerPaths = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer", "/usr/local/bin/pgbouncer"];

/**
 * PgBouncer's binary, or undefined when it is not installed. CI installs it (`.ci/run`) and must
 * run these tests, so there its absence fails the file; elsewhere they are skipped with the
 * reason printed, never installed here (the same rule as NATS and promtool).
 */
const pgbouncer = pgbouncerPaths.find((p) => existsSync(p));
if (pgbouncer === undefined && process.env.CI === "true") {
  throw new Error("pgbouncer is not installed, and CI must run the PgBouncer tests (see .ci/run)");
}
if (pgbouncer === undefined) {
  console.warn(
    `skipping the PgBouncer tests: pgbouncer is not installed (looked in ${pgbouncerPaths.join(", ")}); install it with \`apt-get install pgbouncer\``,
  );
}

async function startBouncer(serverUrl: string): Promise<string> {
  const u = new URL(serverUrl);
  const port = await freePort();
  workDir = mkdtempSync(join(tmpdir(), "svcgen-pgbouncer-"));
  // As root PgBouncer runs as the unprivileged postgres user, which must read and write here.
  chmodSync(workDir, 0o777);
  const password = decodeURIComponent(u.password);
  const server = [
    `host=${u.hostname}`,
    `port=${u.port || "5432"}`,
    `user=${decodeURIComponent(u.username)}`,
    ...(password === "" ? [] : [`password=${password}`]),
  ].join(" ");
  const ini = join(workDir, "pgbouncer.ini");
  writeFileSync(
    ini,
    [
      "[databases]",
      `* = ${server}`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      "auth_type = any",
      "pool_mode = transaction",
      "default_pool_size = 3",
      "max_client_conn = 100",
      "ignore_startup_parameters = extra_float_digits,options",
      `logfile = ${join(workDir, "pgbouncer.log")}`,
      "",
    ].join("\n"),
  );
  chmodSync(ini, 0o644);
  const args = process.getuid?.() === 0 ? ["-u", "postgres", ini] : [ini];
  bouncer = spawn(pgbouncer ?? "pgbouncer", args, { stdio: "ignore" });
  const url = `postgres://postgres@127.0.0.1:${port}/${u.pathname.slice(1)}`;
  // Bounded wait for the listener; each attempt is a real connection.
  for (let i = 0; i < 200; i++) {
    const c = new pg.Client({ connectionString: url });
    try {
      await c.connect();
      await c.query("SELECT 1");
      await c.end();
      return url;
    } catch {
      await c.end().catch(() => {});
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  throw new Error("pgbouncer did not start");
}

describe.skipIf(pgbouncer === undefined)("through PgBouncer in transaction mode", () => {
  beforeAll(async () => {
    db = await createTestDatabase(
      "rt_bouncer",
      "CREATE TABLE counters (id int PRIMARY KEY, n int8 NOT NULL); INSERT INTO counters VALUES (1, 0);",
    );
    const url = await startBouncer(db.url);
    pool = new pg.Pool({ connectionString: url, max: 10 });
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    gen = await generateAndImport({
      queries: [
        query(
          "AddTo",
          "one",
          "UPDATE counters SET n = n + $2 WHERE id = $1 RETURNING n",
          [param("id", 1, int4), param("by", 2, int8)],
          [column("n", int8)],
        ),
        query(
          "Echo",
          "one",
          // The short sleep holds each server connection long enough that concurrent calls need several.
          "SELECT $1::text AS value, pg_backend_pid() AS pid FROM pg_sleep(0.02)",
          [param("value", 1, text)],
          [column("value", text), column("pid", int4)],
        ),
        query("Sleep", "exec", `SELECT pg_sleep(30) /* ${marker} */`, [], []),
      ],
    });
    configureRuntime({ preparedStatements: false });
  });

  afterAll(async () => {
    configureRuntime({ preparedStatements: true });
    gen?.remove();
    await pool?.end();
    await admin?.end();
    if (bouncer !== undefined && bouncer.exitCode === null && bouncer.signalCode === null) {
      const exited = new Promise((r) => bouncer?.once("exit", r));
      bouncer.kill("SIGTERM");
      await exited;
    }
    if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
    await db?.drop();
  });

  test("concurrent generated queries run across several server connections", async () => {
    const echo = gen.fn("echo");
    const results = (await Promise.all(
      Array.from({ length: 60 }, (_, i) => echo(pool, { value: `v${i}` })),
    )) as Array<{ value: string; pid: number }>;
    expect(results.map((r) => r.value)).toEqual(Array.from({ length: 60 }, (_, i) => `v${i}`));
    // More than one server backend served them: the situation named statements cannot survive.
    expect(new Set(results.map((r) => r.pid)).size).toBeGreaterThan(1);
  });

  test("transactions with retries work in transaction pooling mode", async () => {
    const addTo = gen.fn("addTo");
    const totals = await Promise.all(
      Array.from({ length: 8 }, () =>
        withTransaction(
          pool,
          async (tx) => ((await addTo(tx, { id: 1, by: 5n })) as { n: bigint }).n,
          {
            isolationLevel: "serializable",
            maxRetries: 20,
          },
        ),
      ),
    );
    expect(totals.every((t) => typeof t === "bigint")).toBe(true);
    const final = await admin.query("SELECT n FROM counters WHERE id = 1");
    expect(final.rows[0].n).toBe("40");
  });

  test("an abort through PgBouncer cancels the query on the server", async () => {
    const active = async (): Promise<number> => {
      const r = await admin.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1 AND pid <> pg_backend_pid()",
        [`%${marker}%`],
      );
      return r.rows[0].n as number;
    };
    const controller = new AbortController();
    const running = gen
      .fn("sleep")(pool, { signal: controller.signal })
      .catch((e: unknown) => e);
    let seen = false;
    for (let i = 0; i < 400 && !seen; i++) {
      seen = (await active()) === 1;
      if (!seen) await new Promise((r) => setTimeout(r, 25));
    }
    expect(seen).toBe(true);
    controller.abort("client went away");
    expect(isAbortError(await running)).toBe(true);
    let gone = false;
    for (let i = 0; i < 400 && !gone; i++) {
      gone = (await active()) === 0;
      if (!gone) await new Promise((r) => setTimeout(r, 25));
    }
    expect(gone).toBe(true);
    // PgBouncer itself survived the cancel and still serves queries.
    expect(bouncer?.exitCode).toBeNull();
    expect(await gen.fn("echo")(pool, { value: "after" })).toMatchObject({ value: "after" });
  });
});
