import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, serverUrl, type TestDatabase } from "../../../test/db.js";
import type { ResolvedConfig } from "../config/config.js";
import { positionAt } from "../diagnostics.js";
import type { SourceFile } from "../inputs.js";
import { freePort } from "./embedded-server.js";
import { openSchema, readMigrations, redactUrl } from "./schema-source.js";

/** A config with only what openSchema reads set meaningfully. */
function configWith(database: Partial<ResolvedConfig["database"]>): ResolvedConfig {
  return {
    configPath: "/p/svcgen.yaml",
    rootDir: "/p",
    schemaFiles: [],
    queryFiles: [],
    out: "/p/gen",
    database: {
      url: undefined,
      postgres: 15,
      useLiveSchema: false,
      keepSchema: false,
      ...database,
    },
    types: [],
    int8: "bigint",
    date: "Date",
    preparedStatements: true,
    cacheDir: "/p/.svcgen-cache",
    proto: undefined,
  };
}

function uniqueName(): string {
  return `svcgen_scratch_test_${randomBytes(4).toString("hex")}`;
}

async function query<T extends pg.QueryResultRow>(
  url: string,
  sql: string,
  params: unknown[] = [],
) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

async function databaseExists(name: string): Promise<boolean> {
  const rows = await query(serverUrl(), "SELECT 1 FROM pg_database WHERE datname = $1", [name]);
  return rows.length > 0;
}

/** The 1-based line and column of the first occurrence of `needle` in `text`. */
function locate(text: string, needle: string, from = 0) {
  const i = text.indexOf(needle, from);
  expect(i).toBeGreaterThanOrEqual(0);
  return positionAt(text, i);
}

const m1: SourceFile = {
  path: "migrations/001_users.sql",
  text: "CREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE);\n",
};

describe("openSchema on a configured server", () => {
  it("applies migrations into a scratch database and drops it on close", async () => {
    const name = uniqueName();
    const m2: SourceFile = {
      path: "migrations/002_posts.sql",
      text: "-- posts\nCREATE TABLE posts (id int PRIMARY KEY, author bigint REFERENCES users);\nSET search_path = public, pg_catalog;\n",
    };
    const steps: string[] = [];
    const { session, diagnostics } = await openSchema(configWith({ url: serverUrl() }), [m1, m2], {
      onProgress: (m) => steps.push(m),
      scratchName: name,
    });
    expect(diagnostics).toEqual([]);
    expect(session).toBeDefined();
    if (session === undefined) return;
    expect(session.source).toBe("scratch");
    expect(session.serverVersion).toBeGreaterThanOrEqual(120000);
    expect(session.searchPath).toBe("public, pg_catalog");
    expect(new URL(session.connectionString).pathname).toBe(`/${name}`);
    expect(steps).toEqual([
      "applying migrations/001_users.sql",
      "applying migrations/002_posts.sql",
    ]);
    const tables = await query<{ relname: string }>(
      session.connectionString,
      "SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace ORDER BY 1",
    );
    expect(tables.map((t) => t.relname)).toEqual(["posts", "users"]);
    expect(await databaseExists(name)).toBe(true);
    await session.close();
    expect(await databaseExists(name)).toBe(false);
    await session.close(); // twice is harmless
  });

  it("reports a syntax error at its line and column, counting characters not bytes", async () => {
    const name = uniqueName();
    // Multibyte characters (2, 3 and 4 bytes in UTF-8; the last is 2 UTF-16 units) before
    // the error: a byte or code-unit confusion would shift the column.
    const text =
      "-- café ☕ 😀\nCREATE TABLE tags (name text DEFAULT 'é😀');\nCREATE TABLE bad (id int,, x int);\n";
    const m2: SourceFile = { path: "migrations/002_bad.sql", text };
    const m3: SourceFile = { path: "migrations/003_more.sql", text: "CREATE TABLE more (id int);" };
    const { session, diagnostics } = await openSchema(
      configWith({ url: serverUrl() }),
      [m1, m2, m3],
      { scratchName: name },
    );
    expect(session).toBeUndefined();
    expect(diagnostics).toEqual([
      {
        severity: "error",
        code: "SVC101",
        message: 'syntax error at or near ","',
        file: "migrations/002_bad.sql",
        ...locate(text, ", x int"),
        hint: "1 later migration was not applied",
      },
    ]);
    expect(locate(text, ", x int")).toEqual({ line: 3, column: 26 });
    expect(await databaseExists(name)).toBe(false);
  });

  it("points a run-time error without a position at the failing statement", async () => {
    const name = uniqueName();
    const text = [
      "INSERT INTO users (email) VALUES ('a@example.com');",
      "/* again */ -- the same e-mail",
      "  INSERT INTO users (email) VALUES ('a@example.com');",
      "INSERT INTO users (email) VALUES ('b@example.com');",
      "",
    ].join("\n");
    const { session, diagnostics } = await openSchema(
      configWith({ url: serverUrl() }),
      [m1, { path: "migrations/002_seed.sql", text }],
      { scratchName: name },
    );
    expect(session).toBeUndefined();
    expect(diagnostics).toEqual([
      {
        severity: "error",
        code: "SVC101",
        message: 'duplicate key value violates unique constraint "users_email_key"',
        file: "migrations/002_seed.sql",
        line: 3,
        column: 3,
        hint: "Key (email)=(a@example.com) already exists.",
      },
    ]);
    expect(await databaseExists(name)).toBe(false);
  });

  it("runs statements that cannot run in a transaction block one by one, as psql does", async () => {
    const text =
      "CREATE TABLE t (id int);\nCREATE INDEX CONCURRENTLY t_id ON t (id);\nCREATE TYPE mood AS ENUM ('ok');\nALTER TYPE mood ADD VALUE 'meh';\nSELECT 'meh'::mood;\n";
    const { session, diagnostics } = await openSchema(configWith({ url: serverUrl() }), [
      { path: "m.sql", text },
    ]);
    expect(diagnostics).toEqual([]);
    expect(session).toBeDefined();
    const rows = await query<{ n: string }>(
      session?.connectionString ?? "",
      "SELECT indexrelid::regclass::text AS n FROM pg_index WHERE indrelid = 't'::regclass",
    );
    expect(rows).toEqual([{ n: "t_id" }]);
    await session?.close();
  });

  it("maps a positioned error inside a file with its own transactions", async () => {
    const text =
      "BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;\nCREATE VIEW v AS SELECT nope FROM a;\n";
    const { session, diagnostics } = await openSchema(configWith({ url: serverUrl() }), [
      { path: "m.sql", text },
    ]);
    expect(session).toBeUndefined();
    expect(diagnostics).toMatchObject([
      {
        code: "SVC101",
        message: 'column "nope" does not exist',
        file: "m.sql",
        ...locate(text, "nope"),
      },
    ]);
  });

  it("reports an unreachable server as one SVC102 without a stack trace", async () => {
    const port = await freePort();
    const url = `postgres://postgres:secret@127.0.0.1:${port}/postgres`;
    const { session, diagnostics } = await openSchema(configWith({ url }), [m1]);
    expect(session).toBeUndefined();
    expect(diagnostics).toEqual([
      {
        severity: "error",
        code: "SVC102",
        message: `could not connect to postgres://postgres:***@127.0.0.1:${port}/postgres: connection refused`,
        hint: "check database.url (or DATABASE_URL) and that the server runs; leave both empty to use an embedded server",
      },
    ]);
  });

  it("reports a URL that is not a URL, and a database that does not exist", async () => {
    const bad = await openSchema(configWith({ url: "not a url" }), []);
    expect(bad.diagnostics).toMatchObject([
      { code: "SVC102", message: "database URL (the configured URL) is not a valid URL" },
    ]);
    const u = new URL(serverUrl());
    u.pathname = "/svcgen_no_such_database";
    const missing = await openSchema(configWith({ url: u.toString(), useLiveSchema: true }), []);
    expect(missing.session).toBeUndefined();
    expect(missing.diagnostics).toHaveLength(1);
    expect(missing.diagnostics[0]?.code).toBe("SVC102");
    expect(missing.diagnostics[0]?.message).toMatch(
      /^could not connect to .*: database "svcgen_no_such_database" does not exist$/,
    );
  });

  it("redacts passwords in URLs", () => {
    expect(redactUrl("postgres://u:p@h:1/d?sslmode=require")).toBe(
      "postgres://u:***@h:1/d?sslmode=require",
    );
    expect(redactUrl("postgres://u@h/d")).toBe("postgres://u@h/d");
  });
});

describe("openSchema with useLiveSchema", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase("schema_source_live", "CREATE TABLE live_t (id int);");
  });
  afterAll(async () => {
    await db.drop();
  });

  it("uses the database as it is and applies nothing", async () => {
    const { session, diagnostics } = await openSchema(
      configWith({ url: db.url, useLiveSchema: true }),
      [{ path: "m.sql", text: "this is not even SQL" }],
    );
    expect(diagnostics).toEqual([]);
    expect(session?.source).toBe("live");
    expect(session?.connectionString).toBe(db.url);
    await session?.close();
    const rows = await query(db.url, "SELECT 1 FROM live_t");
    expect(rows).toEqual([]);
  });
});

describe("openSchema with an embedded server", () => {
  it("starts a server, applies migrations and leaves no process behind", async () => {
    const steps: string[] = [];
    const { session, diagnostics } = await openSchema(configWith({ url: undefined }), [m1], {
      onProgress: (m) => steps.push(m),
    });
    expect(diagnostics).toEqual([]);
    expect(session).toBeDefined();
    if (session === undefined) return;
    expect(session.source).toBe("embedded");
    expect(Math.floor(session.serverVersion / 10000)).toBe(15);
    expect(steps).toEqual([
      "starting an embedded PostgreSQL 15 server",
      "applying migrations/001_users.sql",
    ]);
    const rows = await query(session.connectionString, "SELECT count(*)::int AS n FROM users");
    expect(rows).toEqual([{ n: 0 }]);
    const port = new URL(session.connectionString).port;
    const running = () =>
      execFileSync("ps", ["-eo", "args"], { encoding: "utf8" })
        .split("\n")
        .filter((l) => /postgres/.test(l) && l.includes(`-p ${port}`));
    expect(running().length).toBeGreaterThan(0);
    await session.close();
    expect(running()).toEqual([]);
  });

  it("reports a version the installed embedded server does not have as SVC102", async () => {
    const { session, diagnostics } = await openSchema(configWith({ postgres: 16 }), [m1]);
    expect(session).toBeUndefined();
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]).toMatchObject({ severity: "error", code: "SVC102" });
    expect(diagnostics[0]?.message).toMatch(
      /^database\.postgres is 16, but the installed embedded server is PostgreSQL 15/,
    );
  });
});

describe("readMigrations", () => {
  it("reads schema files in order, named relative to the project folder", async () => {
    const dir = await mkdtemp(join(tmpdir(), "svcgen-migrations-"));
    try {
      await mkdir(join(dir, "db", "migrations"), { recursive: true });
      await writeFile(join(dir, "db", "migrations", "2.sql"), "select 2;");
      await writeFile(join(dir, "db", "migrations", "1.sql"), "select 1;");
      const config = {
        ...configWith({}),
        rootDir: dir,
        schemaFiles: [
          join(dir, "db", "migrations", "2.sql"),
          join(dir, "db", "migrations", "1.sql"),
          join(dir, "db", "migrations", "gone.sql"),
        ],
      };
      const { files, diagnostics } = await readMigrations(config);
      expect(files).toEqual([
        { path: "db/migrations/2.sql", text: "select 2;" },
        { path: "db/migrations/1.sql", text: "select 1;" },
      ]);
      expect(diagnostics).toMatchObject([
        { severity: "error", code: "SVC009", file: "db/migrations/gone.sql" },
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
