// `npm run example`: the example project's five services, running, in one command.
//
//   1. build svcgen (the generator and @svcgen/runtime of this checkout)
//   2. start a database: an embedded PostgreSQL (nothing to install), or DATABASE_URL when set
//   3. svcgen generate: the example's gen/ from its migrations, queries and protos
//   4. compile gen/ and src/ (the hand-written handlers) into dist/
//   5. apply the migrations (deploy/migrate.mjs, the release step of a deploy)
//   6. start the five services, one process each (dist/gen/server/<service>.js), with a local
//      development token issuer; print each one's gRPC and HTTP addresses
//   7. run the tour (tour.js): a short scripted client
//   8. keep running until Ctrl-C (or SIGTERM): stop the services gracefully, then the database
//
// Try calls meanwhile with `npm run example:call -- <service> <method> '<json>'`.
// Nothing is left running afterwards: every child runs in a process group of its own and is
// stopped here (or killed when this process exits, if something went wrong).
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative } from "node:path";
import { startDevTokens } from "./lib/dev-tokens.js";
import { distDir, exampleDir, repoDir, runDir, statePath } from "./lib/paths.js";
import { runNode, startNode, waitForLine } from "./lib/processes.js";

const require = createRequire(import.meta.url);
const tsc = require.resolve("typescript/bin/tsc");
const logDir = join(runDir, "logs");
const started = Date.now();
/** The services' own grace period: how long Ctrl-C waits for calls in flight. */
const graceMs = 5000;

/** Everything running, for shutdown: services, the database, the token issuer. */
const running = { services: [], database: undefined, tokens: undefined };

function print(line) {
  process.stdout.write(`${line}\n`);
}
function step(title) {
  print(`example: ${title} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

// --- Ctrl-C and SIGTERM: one orderly shutdown, whenever they arrive -----------------------
let shuttingDown;
function shutdown(reason, exitCode) {
  shuttingDown ??= (async () => {
    print(`example: ${reason}; stopping`);
    let code = exitCode;
    // Services first (each drains its calls for up to its grace period), in parallel.
    const exits = await Promise.all(running.services.map((s) => s.stop("SIGTERM", graceMs + 5000)));
    for (const [i, exit] of exits.entries()) {
      if (exit.code !== 0) {
        print(
          `example: ${running.services[i].name} exited ${exit.signal ?? `with code ${exit.code}`}`,
        );
        code = 1;
      }
    }
    // The database last, when nothing uses it any more.
    if (running.database !== undefined) await running.database.stop("SIGTERM", 10_000);
    await running.tokens?.close();
    rmSync(statePath(), { force: true });
    print(`example: stopped (${code === 0 ? "clean" : "with errors"})`);
    process.exit(code);
  })();
  return shuttingDown;
}
process.on("SIGINT", () => void shutdown("SIGINT", 0));
process.on("SIGTERM", () => void shutdown("SIGTERM", 0));

try {
  mkdirSync(logDir, { recursive: true });

  step("building svcgen (tsc -b runtime cli)");
  await runNode("tsc -b runtime cli", [tsc, "-b", "runtime", "cli"], { cwd: repoDir });

  const fromEnv = process.env.DATABASE_URL;
  let databaseUrl;
  if (fromEnv !== undefined && fromEnv !== "") {
    databaseUrl = fromEnv;
    step("using the database at DATABASE_URL");
  } else {
    step("starting an embedded PostgreSQL 15");
    const db = startNode("postgres", [join(exampleDir, "scripts/lib/database-process.js")], {
      stdin: "pipe", // it stops when this process goes away and its stdin closes
      logFile: join(logDir, "postgres.log"),
    });
    running.database = db;
    databaseUrl = await waitForLine(
      db,
      (line) => jsonLine(line)?.url,
      60_000,
      join(logDir, "postgres.log"),
    );
  }
  const env = { ...process.env, DATABASE_URL: databaseUrl };

  step("svcgen generate");
  await runNode("svcgen generate", [join(repoDir, "bin/svcgen.js"), "generate"], {
    cwd: exampleDir,
    env,
  });

  step("compiling gen/ and src/ into dist/");
  await runNode(
    "tsc",
    [
      tsc,
      "-p",
      "tsconfig.json",
      "--noEmit",
      "false",
      "--outDir",
      "dist",
      "--rootDir",
      ".",
      "--declaration",
      "false",
      "--sourceMap",
      "false",
      "--incremental",
      "--tsBuildInfoFile",
      join("dist", ".tsbuildinfo"),
    ],
    { cwd: exampleDir },
  );

  step("applying the migrations (deploy/migrate.mjs)");
  await runNode("migrate", [join(exampleDir, "deploy/migrate.mjs")], { cwd: exampleDir, env });

  step("starting the services");
  running.tokens = await startDevTokens();
  const entries = readdirSync(join(distDir, "gen/server"))
    .filter((f) => f.endsWith(".js") && f !== "all.js")
    .sort();
  const serviceEnv = {
    ...env,
    ...running.tokens.env, // tokens from the development issuer, verified as in production
    HOST: "127.0.0.1", // loopback only
    PORT: "0", // free ports, printed below
    HTTP_PORT: "0",
    SHUTDOWN_GRACE_MS: String(graceMs),
    DATABASE_POOL_MAX: "4",
  };
  const addresses = await Promise.all(
    entries.map((file) => {
      const name = file.replace(/\.js$/, "");
      const logFile = join(logDir, `${name}.log`);
      const proc = startNode(name, [join(distDir, "gen/server", file)], {
        env: serviceEnv,
        logFile,
      });
      running.services.push(proc);
      proc.exited.then(({ code, signal }) => {
        if (shuttingDown === undefined) {
          void shutdown(
            `${name} exited (${signal ?? `code ${code}`}; log: ${relative(process.cwd(), logFile)})`,
            1,
          );
        }
      });
      return waitForLine(
        proc,
        (line) => {
          const j = jsonLine(line);
          return j?.msg === "listening" ? { grpc: j.grpc, http: j.http } : undefined;
        },
        60_000,
        logFile,
      );
    }),
  );
  const services = Object.fromEntries(
    entries.map((f, i) => [f.replace(/\.js$/, ""), addresses[i]]),
  );
  for (const [name, a] of Object.entries(services)) {
    print(`  ${name.padEnd(22)} grpc ${a.grpc.padEnd(18)} http http://${a.http}/readyz`);
  }
  const state = {
    pid: process.pid,
    databaseUrl,
    tokenUrl: running.tokens.tokenUrl,
    services,
    users: {},
  };
  writeFileSync(statePath(), JSON.stringify(state, null, 2));

  step("the tour");
  const { runTour } = await import("./tour.js");
  state.users = await runTour({
    services,
    databaseUrl,
    authorization: running.tokens.authorization,
    print,
  });
  writeFileSync(statePath(), JSON.stringify(state, null, 2));
  print("example: tour passed: every step answered as expected");
  print("");
  print(
    "The services keep running. Call any RPC as alice (or --uid, --roles) in another terminal:",
  );
  print("  npm run example:call -- user GetMyProfile '{}'");
  print("  npm run example:call -- data ListMyRecords '{\"pageSize\": 10}'");
  print("  npm run example:call -- notifications StreamNotifications '{}'");
  print(`Logs: ${relative(process.cwd(), logDir)}/. Press Ctrl-C to stop.`);
} catch (e) {
  print(`example: ${e instanceof Error ? e.message : String(e)}`);
  await shutdown("a step failed", 1);
}

/** The object a JSON log line holds, or undefined for any other line. */
function jsonLine(line) {
  if (!line.startsWith("{")) return undefined;
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}
