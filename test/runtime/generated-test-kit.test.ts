/**
 * The generated test kit (`gen/testing/`) of the example project, used as a project's tests use
 * it: `startTestService()` serves the real UserService (its generated registration, chain and
 * error map) over a fresh database copied from the migrated template, on the run's PostgreSQL,
 * with real tokens from a test issuer. Also the test databases themselves: one template per
 * migrations content, migration errors with their location, the global setup around a command.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  callOutcome,
  callWithDeadline,
  createTestIssuer,
  MigrationError,
  prepareTemplate,
  runWithTestDatabases,
  startDatabaseOutage,
  testServerUrlVariable,
} from "@svcgen/runtime/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { testDatabases } from "../../example-project/gen/testing/setup.js";
import {
  startTestService,
  type UserServiceTestService,
} from "../../example-project/gen/testing/user-service.js";
import { serverUrl } from "../db.js";

const started: UserServiceTestService[] = [];
async function start(...args: Parameters<typeof startTestService>) {
  const svc = await startTestService(...args);
  started.push(svc);
  return svc;
}
let svc: UserServiceTestService;

beforeAll(async () => {
  // test/global-setup.ts passes the run's server to every test process, as a project's does.
  expect(process.env[testServerUrlVariable]).toBe(serverUrl());
  svc = await start();
});

afterAll(async () => {
  for (const s of started) await s.close();
});

async function databaseExists(name: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: serverUrl() });
  await c.connect();
  try {
    const r = await c.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    return (r.rowCount ?? 0) > 0;
  } finally {
    await c.end();
  }
}

const nameOf = (url: string) => new URL(url).pathname.slice(1);
const handle = () => `kit_${randomUUID().slice(0, 8)}`;

describe("startTestService", () => {
  test("serves the migrated schema from a fresh database per service, dropped by close()", async () => {
    const uid = randomUUID();
    const created = await svc.client.createProfile(
      { handle: handle(), displayName: "Kit", locale: "en" },
      { metadata: await svc.as({ uid }) },
    );
    expect(created.userId).toBe(uid);
    const rows = await svc.pool.query("SELECT user_id FROM profiles");
    expect(rows.rows).toEqual([{ user_id: uid }]);

    const other = await start();
    expect(nameOf(other.databaseUrl)).not.toBe(nameOf(svc.databaseUrl));
    // Tables of every migration, no rows of the other test.
    const fresh = await other.pool.query<{ n: number }>(
      "SELECT (SELECT count(*) FROM profiles)::int + (SELECT count(*) FROM accounts)::int AS n",
    );
    expect(fresh.rows[0]?.n).toBe(0);
    const name = nameOf(other.databaseUrl);
    expect(await databaseExists(name)).toBe(true);
    await other.close();
    await other.close();
    expect(await databaseExists(name)).toBe(false);
  });

  test("auth rules see real tokens: its issuer's pass, another key's and none are refused", async () => {
    const uid = randomUUID();
    await svc.client.createProfile(
      { handle: handle(), displayName: "Mine", locale: "en" },
      { metadata: await svc.as({ uid }) },
    );
    const mine = await svc.client.getMyProfile({}, { metadata: await svc.as({ uid }) });
    expect(mine.userId).toBe(uid);
    const anonymous = await callOutcome(() => svc.client.getMyProfile({}));
    expect(anonymous.codeName).toBe("UNAUTHENTICATED");
    const forger = await createTestIssuer({
      issuer: svc.issuer.issuer,
      audience: svc.issuer.audience,
    });
    try {
      const forged = await callOutcome(async () =>
        svc.client.getMyProfile({}, { metadata: await forger.authorization({ uid }) }),
      );
      expect(forged.codeName).toBe("UNAUTHENTICATED");
    } finally {
      await forger.close();
    }
    const expired = await callOutcome(async () =>
      svc.client.getMyProfile({}, { metadata: await svc.as({ uid, expiresIn: "-5m" }) }),
    );
    expect(expired.codeName).toBe("UNAUTHENTICATED");
  });

  test("a shared issuer: its tokens pass at every service started with it", async () => {
    const issuer = await createTestIssuer();
    try {
      const a = await start({ issuer });
      const b = await start({ issuer });
      const metadata = await issuer.authorization({ uid: randomUUID() });
      for (const s of [a, b]) {
        expect((await callOutcome(() => s.client.getMyProfile({}, { metadata }))).codeName).toBe(
          "NOT_FOUND",
        );
      }
    } finally {
      await issuer.close();
    }
  });

  test("faults: exactly the configured status, and latency that counts against the deadline", async () => {
    const faulty = await start({
      faults: "GetProfileByHandle=error:RESOURCE_EXHAUSTED;GetProfile=latency:400ms",
    });
    const codes: string[] = [];
    for (let i = 0; i < 10; i++) {
      codes.push(
        (await callOutcome(() => faulty.client.getProfileByHandle({ handle: handle() }))).codeName,
      );
    }
    expect(codes).toEqual(Array(10).fill("RESOURCE_EXHAUSTED"));
    const metadata = await faulty.as({ uid: randomUUID() });
    const slow = await callOutcome(() =>
      faulty.client.getProfile({ userId: randomUUID() }, { metadata }),
    );
    expect(slow.codeName).toBe("NOT_FOUND");
    expect(slow.ms).toBeGreaterThanOrEqual(400);
    const late = await callWithDeadline(100, (o) =>
      faulty.client.getProfile({ userId: randomUUID() }, { ...o, metadata }),
    );
    expect(late.codeName).toBe("DEADLINE_EXCEEDED");
    // Without `faults`, none: the environment's SVCGEN_FAULTS does not reach test services.
    expect(
      (await callOutcome(() => svc.client.getProfileByHandle({ handle: handle() }))).codeName,
    ).toBe("NOT_FOUND");
  });

  test("a database outage: UNAVAILABLE while it lasts, answers again after", async () => {
    const s = await start();
    const outage = await startDatabaseOutage(s.databaseUrl);
    try {
      const during = await callOutcome(() =>
        s.client.getProfileByHandle({ handle: handle() }, { timeoutMs: 4000 }),
      );
      expect(during.codeName).toBe("UNAVAILABLE");
    } finally {
      await outage.restore();
    }
    let last = "";
    for (const t0 = Date.now(); Date.now() - t0 < 15_000; ) {
      last = (await callOutcome(() => s.client.getProfileByHandle({ handle: handle() }))).codeName;
      if (last === "NOT_FOUND") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(last).toBe("NOT_FOUND");
  });
});

describe("test databases", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "svcgen-kit-"));
    await mkdir(join(dir, "migrations"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("one template per migrations content, reused; a refused migration names file, line and column", async () => {
    const tag = randomUUID().slice(0, 8);
    await writeFile(
      join(dir, "migrations", "001_a.sql"),
      `CREATE TABLE t_${tag} (id int);\n-- fine\n`,
    );
    const config = { root: dir, migrations: ["migrations/001_a.sql"] };
    const first = await prepareTemplate(serverUrl(), config);
    expect(first).toMatch(/^svcgen_tpl_[0-9a-f]{16}$/);
    expect(await prepareTemplate(serverUrl(), config)).toBe(first);
    // The generated config finds the example project from the generated file's URL.
    expect(testDatabases.migrations[0]).toBe("migrations/auth/001_accounts.sql");

    await writeFile(
      join(dir, "migrations", "002_bad.sql"),
      "CREATE TABLE ok (id int);\nSELECT nme\n  FROM ok;\n",
    );
    const bad = { root: dir, migrations: ["migrations/001_a.sql", "migrations/002_bad.sql"] };
    const err = await prepareTemplate(serverUrl(), bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationError);
    expect((err as Error).message).toMatch(
      /^migrations\/002_bad\.sql:2:8: the test database refused the migration: column "nme" does not exist$/,
    );
    // Nothing half-built is left behind.
    const c = new pg.Client({ connectionString: serverUrl() });
    await c.connect();
    try {
      const left = await c.query(
        "SELECT datname FROM pg_database WHERE datname LIKE 'svcgen_tpl_%\\_%' AND datname <> $1",
        [first],
      );
      expect(left.rows.filter((r: { datname: string }) => r.datname.length > 27)).toEqual([]);
      await c.query(`DROP DATABASE IF EXISTS "${first}"`);
    } finally {
      await c.end();
    }
  });

  test("the global setup around a command: the command sees the server and the template; then the template goes", async () => {
    const tag = randomUUID().slice(0, 8);
    await writeFile(join(dir, "migrations", "001_b.sql"), `CREATE TABLE b_${tag} (id int);\n`);
    const config = { root: dir, migrations: ["migrations/001_b.sql"] };
    const seen = join(dir, "seen.txt");
    const script =
      "const u = process.env.SVCGEN_TEST_DATABASE_URL, t = process.env.SVCGEN_TEST_TEMPLATE;" +
      `require("node:fs").writeFileSync(${JSON.stringify(seen)}, t ?? "");` +
      "process.exit(u ? 7 : 3);";
    const code = await runWithTestDatabases(config, [process.execPath, "-e", script]);
    expect(code).toBe(7);
    const template = await readFile(seen, "utf8");
    expect(template).toMatch(/^svcgen_tpl_[0-9a-f]{16}$/);
    // On a given server the teardown drops the run's template (an embedded one goes with it).
    expect(await databaseExists(template)).toBe(false);
    await expect(runWithTestDatabases(config, [])).rejects.toThrow(/Nothing to run/);
  });

  test("without a global setup or DATABASE_URL a test process starts its own embedded server, stops it when idle, and keeps its exit code", async () => {
    await writeFile(join(dir, "migrations", "001_c.sql"), "CREATE TABLE c (id int);\n");
    const script = join(dir, "own-server.mjs");
    const testing = new URL("../../runtime/dist/testing/index.js", import.meta.url).href;
    const pgModule = pathToFileURL(createRequire(import.meta.url).resolve("pg")).href;
    await writeFile(
      script,
      `import { createTestDatabase } from ${JSON.stringify(testing)};
import pg from ${JSON.stringify(pgModule)};
const config = { root: ${JSON.stringify(dir)}, migrations: ["migrations/001_c.sql"] };
const db = await createTestDatabase(config);
const c = new pg.Client({ connectionString: db.url });
await c.connect();
const r = await c.query("SELECT count(*)::int AS n FROM c");
await c.end();
await db.drop();
console.log(JSON.stringify({ rows: r.rows[0].n, url: db.url }));
process.exitCode = 5;
`,
    );
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const name of ["DATABASE_URL", testServerUrlVariable, "SVCGEN_TEST_TEMPLATE"]) {
      delete env[name];
    }
    const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [script], {
        cwd: join(import.meta.dirname, "..", ".."),
        env,
      });
      let out = "";
      child.stdout.on("data", (b: Buffer) => {
        out += b.toString();
      });
      child.stderr.on("data", (b: Buffer) => {
        out += b.toString();
      });
      child.once("exit", (c) => resolve({ code: c, out }));
    });
    // The process ended by itself (the idle server stopped) with the code it set.
    expect(code, out).toBe(5);
    const line = JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as { rows: number; url: string };
    expect(line.rows).toBe(0);
    // Its server is gone: nothing listens on its port any more.
    const gone = new pg.Client({ connectionString: line.url, connectionTimeoutMillis: 2000 });
    await expect(gone.connect()).rejects.toThrow(/ECONNREFUSED/);
  }, 120_000);
});
