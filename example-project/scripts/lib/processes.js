// Child processes of the example: started in process groups of their own, so that a Ctrl-C in
// the terminal reaches only run-example.js, which then stops them in order (services first,
// the database last). Every child started here is killed when this process exits, however it
// exits, so nothing is left behind.
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { createInterface } from "node:readline";

/** Children still running: killed at exit as a last resort. */
const running = new Set();
process.on("exit", () => {
  for (const child of running) {
    try {
      process.kill(-child.pid, "SIGKILL"); // the child's whole process group
    } catch {
      // already gone
    }
  }
});

/**
 * Starts `node <args>` in a new process group. Its stdout lines go to `onLine` (and to the log
 * file), its stderr to the log file.
 * @param {string} name for messages
 * @param {string[]} args node arguments
 * @param {{ env?: NodeJS.ProcessEnv, cwd?: string, logFile?: string, onLine?: (line: string) => void, stdin?: "pipe" | "ignore" }} options
 */
export function startNode(name, args, options = {}) {
  const child = spawn(process.execPath, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    detached: true, // its own process group: the terminal's Ctrl-C does not reach it
    stdio: [options.stdin ?? "ignore", "pipe", "pipe"],
  });
  running.add(child);
  const log = options.logFile === undefined ? undefined : createWriteStream(options.logFile);
  /** The last lines it printed, for error messages. */
  const recent = [];
  const remember = (line) => {
    recent.push(line);
    if (recent.length > 8) recent.shift();
  };
  createInterface({ input: child.stdout }).on("line", (line) => {
    log?.write(`${line}\n`);
    remember(line);
    options.onLine?.(line);
  });
  createInterface({ input: child.stderr }).on("line", (line) => {
    log?.write(`${line}\n`);
    remember(line);
  });
  const exited = new Promise((resolve) => {
    child.on("exit", (code, signal) => {
      running.delete(child);
      log?.end();
      resolve({ code, signal });
    });
  });
  return {
    name,
    child,
    /** Resolves with `{ code, signal }` when the process has exited. */
    exited,
    /** Its last lines of output (stdout and stderr), oldest first. */
    recent: () => [...recent],
    /**
     * Sends `signal`, waits up to `timeoutMs` for the exit, then kills the process group.
     * Resolves with the exit.
     */
    async stop(signal = "SIGTERM", timeoutMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill(signal);
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }, timeoutMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

/**
 * Resolves with the first stdout line of `proc` that `match` accepts (its return value);
 * rejects when the process exits first or `timeoutMs` passes.
 * @template T
 * @param {ReturnType<typeof startNode>} proc
 * @param {(line: string) => T | undefined} match
 * @param {number} timeoutMs
 * @param {string} [logFile] named in the error
 * @returns {Promise<T>}
 */
export function waitForLine(proc, match, timeoutMs, logFile) {
  const where = logFile === undefined ? "" : ` (log: ${logFile})`;
  return new Promise((resolve, reject) => {
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
 * Runs `node <args>` to completion with inherited output; rejects unless it exits 0.
 * @param {string} name
 * @param {string[]} args
 * @param {{ cwd?: string, env?: NodeJS.ProcessEnv }} options
 */
export function runNode(name, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      detached: true,
      stdio: ["ignore", "inherit", "inherit"],
    });
    running.add(child);
    child.on("exit", (code, signal) => {
      running.delete(child);
      if (code === 0) resolve(undefined);
      else reject(new Error(`${name} failed (${signal ?? `exit code ${code}`})`));
    });
  });
}
