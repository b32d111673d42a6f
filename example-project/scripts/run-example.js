// `npm run example`: the example project's five services, running, in one command.
//
//   1. build svcgen (the generator and @svcgen/runtime of this checkout)
//   2. start a database: an embedded PostgreSQL (nothing to install), or DATABASE_URL when set
//   3. svcgen generate: the example's gen/ from its migrations, queries and protos
//   4. compile gen/, src/ (the hand-written handlers) and scripts/ into dist/
//   5. apply the migrations (deploy/migrate.mjs, the release step of a deploy)
//   6. start the five services, one process each (dist/gen/server/<service>.js, through
//      scripts/services.ts, which the end-to-end test uses too), with a local development
//      token issuer; wait until each is ready and print its gRPC and HTTP addresses
//   7. run the tour (tour.js): a short scripted client
//   8. keep running until Ctrl-C (or SIGTERM): stop the services gracefully, then the database
//
// Try calls meanwhile with `npm run example:call -- <service> <method> '<json>'`.
// Nothing is left running afterwards: every child runs in a process group of its own, so a
// Ctrl-C in the terminal reaches only this process, which stops them in order (and kills them
// when it exits, if something went wrong).
import { createWriteStream, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative } from "node:path";
import { startDevTokens } from "./lib/dev-tokens.js";
import { exampleDir, repoDir, runDir, statePath } from "./lib/paths.js";
import { runNode, startNode, waitForLine } from "./lib/processes.js";

const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const logDir = join(runDir, "logs");
const started = Date.now();
/** The services' own grace period: how long Ctrl-C waits for calls in flight. */
const graceMs = 5000;

/** Everything running, for shutdown: the services, the database, the token issuer. */
const running = { services: undefined, database: undefined, tokens: undefined };

function print(line) {
  process.stdout.write(`${line}\n`);
}
function step(title) {
  print(`example: ${title} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}
const logPath = (name) => join(logDir, `${name}.log`);
const shown = (path) => relative(process.cwd(), path);

// --- Ctrl-C and SIGTERM: one orderly shutdown, whenever they arrive -----------------------
let shuttingDown;
function shutdown(reason, exitCode) {
  shuttingDown ??= (async () => {
    print(`example: ${reason}; stopping`);
    let code = exitCode;
    // Services first (each drains its calls for up to its grace period), in parallel.
    const services = Object.values(running.services?.services ?? {});
    const exits = await Promise.all(services.map((s) => s.stop(graceMs + 5000)));
    for (const [i, exit] of exits.entries()) {
      if (exit !== 0) {
        const how = exit === null ? "on a signal" : `with code ${exit}`;
        print(
          `example: ${services[i].name} exited ${how} (log: ${shown(logPath(services[i].name))})`,
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
      logFile: logPath("postgres"),
      processGroup: true, // Ctrl-C reaches only this process, which stops it last
    });
    running.database = db;
    databaseUrl = await waitForLine(db, (line) => jsonLine(line)?.url, 60_000, logPath("postgres"));
  }
  const env = { ...process.env, DATABASE_URL: databaseUrl };

  step("svcgen generate");
  await runNode("svcgen generate", [join(repoDir, "bin/svcgen.js"), "generate"], {
    cwd: exampleDir,
    env,
  });

  step("compiling gen/, src/ and scripts/ into dist/ (tsconfig.build.json)");
  await runNode("tsc", [tsc, "-p", "tsconfig.build.json"], { cwd: exampleDir });

  step("applying the migrations (deploy/migrate.mjs)");
  await runNode("migrate", [join(exampleDir, "deploy/migrate.mjs")], { cwd: exampleDir, env });

  step("starting the services");
  running.tokens = await startDevTokens();
  const { startServices } = await import("../dist/scripts/services.js");
  const logs = new Map();
  running.services = await startServices({
    databaseUrl,
    env: {
      ...running.tokens.env, // tokens from the development issuer, verified as in production
      SHUTDOWN_GRACE_MS: String(graceMs),
      DATABASE_POOL_MAX: "4",
    },
    processGroup: true, // Ctrl-C reaches only this process, which stops them in order
    onLine: (name, line) => {
      if (!logs.has(name)) logs.set(name, createWriteStream(logPath(name)));
      logs.get(name).write(`${line}\n`);
    },
  });
  const services = {};
  for (const s of Object.values(running.services.services)) {
    services[s.name] = { grpc: s.grpcAddress, http: s.httpAddress };
    s.exited.then((code) => {
      if (shuttingDown !== undefined) return;
      const how = code === null ? "on a signal" : `code ${code}`;
      void shutdown(`${s.name} exited (${how}; log: ${shown(logPath(s.name))})`, 1);
    });
  }
  for (const [name, a] of Object.entries(services).sort()) {
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
  state.users = await runTour({ services, authorization: running.tokens.authorization, print });
  writeFileSync(statePath(), JSON.stringify(state, null, 2));
  print("example: tour passed: every step answered as expected");
  print("");
  print(
    "The services keep running. Call any RPC as alice (or --uid, --roles) in another terminal:",
  );
  print("  npm run example:call -- user GetMyProfile");
  print("  npm run example:call -- data ListMyRecords '{\"pageSize\": 10}'");
  print(
    "  npm run example:call -- notifications Subscribe   # live: create one from another terminal",
  );
  print(`Logs: ${shown(logDir)}/. Press Ctrl-C to stop.`);
} catch (e) {
  // A service that failed to start comes with its output: show its last lines.
  const lines = (e instanceof Error ? e.message : String(e)).split("\n");
  const brief = lines.length > 12 ? [lines[0], "  ...", ...lines.slice(-10)] : lines;
  print(`example: ${brief.join("\n")}`);
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
