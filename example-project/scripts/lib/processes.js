// The example's one way to run child processes (the database, the build steps, the services:
// scripts/services.ts starts them through here too). A child can get a process group of its
// own, so that a Ctrl-C in the terminal reaches only run-example.js, which then stops the
// children in order (services first, the database last). Every child started here is killed
// when this process exits, however it exits, so nothing is left behind. Plain JavaScript:
// run-example.js uses it before anything is compiled.
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { createInterface } from "node:readline";

/** Children still running, with whether each leads a process group: killed at exit as a last resort. */
const running = new Map();
process.on("exit", () => {
  for (const [child, group] of running) kill(child, group);
});

/**
 * SIGKILL for the child (its whole process group when it leads one); quiet when it is gone.
 * @param {import("node:child_process").ChildProcess} child
 * @param {boolean} group
 */
function kill(child, group) {
  try {
    if (group && child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
    else child.kill("SIGKILL");
  } catch {
    // already gone
  }
}

/**
 * @typedef {object} StartNodeOptions
 * @property {NodeJS.ProcessEnv} [env] the child's whole environment; default this process's
 * @property {string} [cwd]
 * @property {string} [logFile] every line it prints (stdout and stderr) also goes there
 * @property {(line: string) => void} [onLine] every line it prints, stdout and stderr
 * @property {"pipe" | "ignore"} [stdin] default "ignore"; "pipe": the child can notice this
 *   process going away (its standard input closes)
 * @property {"pipe" | "inherit"} [output] default "pipe" (read as lines); "inherit": straight
 *   to this process's stdout and stderr
 * @property {boolean} [processGroup] a process group of its own (default false): the
 *   terminal's Ctrl-C does not reach it, and a kill reaches everything it started
 * @property {number} [keepLines] how many of its last lines {@link NodeProcess.recent} keeps;
 *   default 8
 */

/**
 * @typedef {object} NodeExit
 * @property {number | null} code null when it ended on a signal
 * @property {NodeJS.Signals | null} signal
 */

/**
 * @typedef {object} NodeProcess
 * @property {string} name for messages
 * @property {import("node:child_process").ChildProcess} child
 * @property {Promise<NodeExit>} exited resolves when the process has exited
 * @property {() => string[]} recent its last lines of output (stdout and stderr), oldest first
 * @property {(signal?: NodeJS.Signals, timeoutMs?: number) => Promise<NodeExit>} stop sends
 *   `signal` (default SIGTERM), waits up to `timeoutMs` (default 15 s) for the exit, then
 *   kills it (its process group when it has one); resolves with the exit
 */

/**
 * Starts `node <args>` (see {@link StartNodeOptions}).
 * @param {string} name for messages
 * @param {string[]} args node arguments
 * @param {StartNodeOptions} [options]
 * @returns {NodeProcess}
 */
export function startNode(name, args, options = {}) {
  const group = options.processGroup === true;
  const output = options.output ?? "pipe";
  const child = spawn(process.execPath, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    detached: group,
    stdio: [options.stdin ?? "ignore", output, output],
  });
  running.set(child, group);
  const log = options.logFile === undefined ? undefined : createWriteStream(options.logFile);
  const keep = options.keepLines ?? 8;
  /** @type {string[]} */
  const recent = [];
  /** @param {string} line */
  const read = (line) => {
    log?.write(`${line}\n`);
    recent.push(line);
    if (recent.length > keep) recent.shift();
    options.onLine?.(line);
  };
  if (child.stdout !== null) createInterface({ input: child.stdout }).on("line", read);
  if (child.stderr !== null) createInterface({ input: child.stderr }).on("line", read);
  /** @type {Promise<NodeExit>} */
  const exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      running.delete(child);
      log?.end();
      resolve({ code, signal });
    });
  });
  return {
    name,
    child,
    exited,
    recent: () => [...recent],
    async stop(signal = "SIGTERM", timeoutMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill(signal);
      const timer = setTimeout(() => kill(child, group), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/**
 * Resolves with the first stdout line of `proc` that `match` accepts (its return value);
 * rejects when the process exits first or `timeoutMs` passes.
 * @template T
 * @param {NodeProcess} proc
 * @param {(line: string) => T | undefined} match
 * @param {number} timeoutMs
 * @param {string} [logFile] named in the error
 * @returns {Promise<T>}
 */
export function waitForLine(proc, match, timeoutMs, logFile) {
  const where = logFile === undefined ? "" : ` (log: ${logFile})`;
  return new Promise((resolve, reject) => {
    if (proc.child.stdout === null) {
      reject(new Error(`${proc.name}: its output is not read`));
      return;
    }
    const lines = createInterface({ input: proc.child.stdout });
    const timer = setTimeout(() => {
      lines.close();
      reject(new Error(`${proc.name} did not start within ${timeoutMs / 1000} s${where}`));
    }, timeoutMs);
    lines.on("line", (line) => {
      const value = match(line);
      if (value === undefined) return;
      clearTimeout(timer);
      lines.close();
      resolve(value);
    });
    proc.exited.then(({ code, signal }) => {
      clearTimeout(timer);
      const last = proc
        .recent()
        .map((l) => `\n    ${l}`)
        .join("");
      reject(
        new Error(
          `${proc.name} exited (${signal ?? `code ${code}`}) before it was ready${where}${last}`,
        ),
      );
    });
  });
}

/**
 * Runs `node <args>` to completion in a process group of its own, its output going straight
 * to this process's; rejects unless it exits 0.
 * @param {string} name
 * @param {string[]} args
 * @param {{ cwd?: string, env?: NodeJS.ProcessEnv }} [options]
 * @returns {Promise<void>}
 */
export async function runNode(name, args, options = {}) {
  const proc = startNode(name, args, { ...options, output: "inherit", processGroup: true });
  const { code, signal } = await proc.exited;
  if (code !== 0) throw new Error(`${name} failed (${signal ?? `exit code ${code}`})`);
}
