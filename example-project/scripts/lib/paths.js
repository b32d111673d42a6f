// Where the example's pieces live, and the state file a running example writes.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** example-project/ */
export const exampleDir = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** The svcgen repository (the example runs the svcgen of this checkout). */
export const repoDir = resolve(exampleDir, "..");
/** The compiled example: gen/ and src/ compiled into dist/ with their layout. */
export const distDir = join(exampleDir, "dist");
/** Service logs and the state file of a running example. */
export const runDir = join(exampleDir, ".run");

/**
 * The state file a running example writes (addresses, the development token endpoint) and
 * `npm run example:call` reads. `SVCGEN_EXAMPLE_STATE` moves it (tests use their own).
 */
export function statePath() {
  const fromEnv = process.env.SVCGEN_EXAMPLE_STATE;
  return fromEnv !== undefined && fromEnv !== "" ? resolve(fromEnv) : join(runDir, "state.json");
}

/**
 * The running example's state, or undefined when no example is running (no file, or the
 * process that wrote it is gone).
 * @returns {RunState | undefined}
 */
export function readState() {
  const file = statePath();
  if (!existsSync(file)) return undefined;
  /** @type {RunState} */
  const state = JSON.parse(readFileSync(file, "utf8"));
  try {
    process.kill(state.pid, 0); // signal 0: only asks whether the process exists
  } catch {
    return undefined;
  }
  return state;
}

/**
 * @typedef {object} RunState
 * @property {number} pid the `npm run example` process
 * @property {string} databaseUrl
 * @property {string} tokenUrl development tokens: GET <tokenUrl>?uid=...&roles=a,b
 * @property {Record<string, {grpc: string, http: string}>} services by entry name (auth-service, ...)
 * @property {Record<string, string>} users the tour's users: name -> account id (the token uid)
 */
