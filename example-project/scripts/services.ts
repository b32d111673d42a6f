// Starts the example's services as separate processes from their compiled entries
// (dist/gen/server/<service>.js, through lib/processes.js, the example's one process starter)
// and stops them again, leaving no process behind. Used by the end-to-end test
// (test/example-services.e2e.test.ts); importable by any Node program after
// `tsc -p tsconfig.build.json` (dist/scripts/services.js).

import { execFile } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startNode } from "./lib/processes.js";

/** The example project's folder (this file is scripts/services.ts, or dist/scripts/services.js). */
export const exampleDir: string = ((): string => {
  const here = dirname(fileURLToPath(import.meta.url));
  return here.endsWith(join("dist", "scripts")) ? join(here, "..", "..") : join(here, "..");
})();

/** The five services, by the base name of their entry (gen/server/<name>.ts). */
export const exampleServices = [
  "auth-service",
  "user-service",
  "data-service",
  "file-service",
  "notification-service",
] as const;

/** One of {@link exampleServices}. */
export type ExampleService = (typeof exampleServices)[number];

/** The migration folders in svcgen.yaml's order. */
const migrationFolders = ["auth", "user", "data", "file", "notifications"] as const;

/**
 * The example's migrations as one SQL script, in svcgen.yaml's order (service folders in turn,
 * files sorted by name): what a fresh database needs before the services start.
 */
export async function exampleMigrationSql(): Promise<string> {
  const parts: string[] = [];
  for (const folder of migrationFolders) {
    const dir = join(exampleDir, "migrations", folder);
    for (const f of (await readdir(dir)).filter((n) => n.endsWith(".sql")).sort()) {
      parts.push(await readFile(join(dir, f), "utf8"));
    }
  }
  return parts.join("\n");
}

/**
 * Compiles gen/ and src/ (and these scripts) with tsc (tsconfig.build.json, incremental: an
 * unchanged project compiles in a few seconds) into `outDir`, default `<example>/dist`. A test
 * gives its own folder so that it never reads files another run is writing (`npm run example`
 * compiles into dist/); any folder inside this repository works, since the compiled files find
 * their packages in its node_modules. Rejects with tsc's output when the project does not
 * compile. Returns the output folder.
 */
export async function buildExample(outDir: string = join(exampleDir, "dist")): Promise<string> {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  await new Promise<void>((resolve, reject) => {
    execFile(
      process.execPath,
      [
        tsc,
        "-p",
        join(exampleDir, "tsconfig.build.json"),
        "--outDir",
        outDir,
        "--tsBuildInfoFile",
        join(outDir, ".tsbuildinfo"),
      ],
      { cwd: exampleDir },
      (error, stdout, stderr) => {
        if (error === null) resolve();
        else reject(new Error(`the example project does not compile:\n${stdout}${stderr}`));
      },
    );
  });
  return outDir;
}

/** Options of {@link startServices}. */
export interface StartServicesOptions {
  /** The database every service uses (migrated already: see {@link exampleMigrationSql}). */
  readonly databaseUrl: string;
  /** Which services to start; default all five. */
  readonly services?: readonly ExampleService[];
  /** The compiled project; default `<example>/dist` (see {@link buildExample}). */
  readonly distDir?: string;
  /**
   * More environment for every service (AUTH_JWKS_URL, AUTH_ISSUER, AUTH_AUDIENCE,
   * LOG_LEVEL, SHUTDOWN_GRACE_MS, ...), over this process's environment.
   */
  readonly env?: Readonly<Record<string, string>>;
  /** Per-service environment, over `env`. */
  readonly serviceEnv?: Partial<Record<ExampleService, Readonly<Record<string, string>>>>;
  /** Interface both ports bind to; default 127.0.0.1. Ports are free ones picked by the OS. */
  readonly host?: string;
  /** How long a service may take to listen and be ready (`/readyz` 200); default 60 s. */
  readonly startTimeoutMs?: number;
  /** Every line a service writes (stdout and stderr); default: kept for error messages only. */
  readonly onLine?: (service: ExampleService, line: string) => void;
  /**
   * Start each service in a process group of its own (default false). `npm run example` sets
   * it: a Ctrl-C in the terminal then reaches only the parent, which stops the services once
   * (a service that got the terminal's SIGINT and then the parent's SIGTERM would take the
   * second signal as "exit now").
   */
  readonly processGroup?: boolean;
}

/** A running service process. */
export interface RunningService {
  readonly name: ExampleService;
  readonly pid: number;
  /** `host:port` of its gRPC server. */
  readonly grpcAddress: string;
  /** `host:port` of its side port (`/healthz`, `/readyz`, `/metrics`). */
  readonly httpAddress: string;
  /** Resolves with the exit code (null when killed by a signal) once the process has exited. */
  readonly exited: Promise<number | null>;
  /** The last lines it wrote (up to 200), for diagnostics. */
  output(): string;
  /**
   * Sends SIGTERM (graceful shutdown), waits for the exit and sends SIGKILL after `killAfterMs`
   * (default 15 s); resolves with the exit code.
   */
  stop(killAfterMs?: number): Promise<number | null>;
}

/** The started services and the one call that stops them all. */
export interface RunningServices {
  readonly services: Readonly<Record<ExampleService, RunningService>>;
  /** Stops every service (in parallel, as {@link RunningService.stop}); safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts the services, each as `node dist/gen/server/<service>.js` with `PORT=0` and
 * `HTTP_PORT=0`, waits for each one's `listening` log line and for its `/readyz` to answer 200
 * (database reachable, token keys loaded), and returns their addresses. If one fails to start,
 * all are stopped and the error carries its output. Children are killed if this process exits.
 */
export async function startServices(options: StartServicesOptions): Promise<RunningServices> {
  const dist = options.distDir ?? join(exampleDir, "dist");
  const names = options.services ?? exampleServices;
  const started: RunningService[] = [];
  const results = await Promise.allSettled(
    names.map(async (name) => {
      const service = await startOne(name, dist, options);
      started.push(service);
      return service;
    }),
  );
  const failed = results.find((r) => r.status === "rejected");
  if (failed !== undefined) {
    await Promise.all(started.map((s) => s.stop(2000)));
    throw failed.reason;
  }
  const services = Object.fromEntries(started.map((s) => [s.name, s])) as Record<
    ExampleService,
    RunningService
  >;
  let stopping: Promise<void> | undefined;
  return {
    services,
    stop: () => {
      stopping ??= Promise.all(started.map((s) => s.stop())).then(() => undefined);
      return stopping;
    },
  };
}

async function startOne(
  name: ExampleService,
  dist: string,
  options: StartServicesOptions,
): Promise<RunningService> {
  const entry = join(dist, "gen", "server", `${name}.js`);
  let onListening: ((addresses: { grpc: string; http: string }) => void) | undefined;
  const listening = new Promise<{ grpc: string; http: string }>((resolve) => {
    onListening = resolve;
  });
  const proc = startNode(name, [entry], {
    cwd: exampleDir,
    env: {
      ...process.env,
      LOG_LEVEL: "info",
      ...options.env,
      ...options.serviceEnv?.[name],
      DATABASE_URL: options.databaseUrl,
      HOST: options.host ?? "127.0.0.1",
      PORT: "0",
      HTTP_PORT: "0",
    },
    processGroup: options.processGroup === true,
    keepLines: 200,
    onLine: (line) => {
      options.onLine?.(name, line);
      if (line.includes('"listening"')) {
        const parsed = parseListening(line);
        if (parsed !== undefined) onListening?.(parsed);
      }
    },
  });
  const child = proc.child;
  const exited = proc.exited.then((e) => e.code);
  const output = (): string => proc.recent().join("\n");
  const stop = async (killAfterMs = 15_000): Promise<number | null> =>
    (await proc.stop("SIGTERM", killAfterMs)).code;
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  const fail = async (why: string): Promise<never> => {
    await stop(2000);
    throw new Error(`${name} ${why}; its output:\n${output()}`);
  };
  // Whichever comes first; the losers must not act later (a late timeout would stop the
  // service), hence `settled`.
  let settled = false;
  let timer: NodeJS.Timeout | undefined;
  const addresses = await Promise.race([
    listening,
    exited.then((code) =>
      settled ? listening : fail(`exited with code ${code} before listening`),
    ),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        if (!settled) fail(`did not listen within ${timeoutMs} ms`).catch(reject);
      }, timeoutMs);
    }),
  ]).finally(() => {
    settled = true;
    clearTimeout(timer);
  });
  // Listening is not ready: /readyz waits for the database and the token verifier's keys.
  for (;;) {
    if (child.exitCode !== null) return fail(`exited with code ${child.exitCode} before ready`);
    if (await isReady(addresses.http)) break;
    if (Date.now() > deadline) return fail(`was not ready within ${timeoutMs} ms`);
    await sleep(50);
  }
  return {
    name,
    pid: child.pid ?? -1,
    grpcAddress: addresses.grpc,
    httpAddress: addresses.http,
    exited,
    output,
    stop,
  };
}

function parseListening(line: string): { grpc: string; http: string } | undefined {
  try {
    const o: unknown = JSON.parse(line);
    if (typeof o !== "object" || o === null) return undefined;
    const grpc = "grpc" in o ? o.grpc : undefined;
    const http = "http" in o ? o.http : undefined;
    return typeof grpc === "string" && typeof http === "string" ? { grpc, http } : undefined;
  } catch {
    return undefined;
  }
}

async function isReady(httpAddress: string): Promise<boolean> {
  try {
    const res = await fetch(`http://${httpAddress}/readyz`, { signal: AbortSignal.timeout(1000) });
    return res.status === 200;
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
