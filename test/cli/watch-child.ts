/** A `svcgen watch` child process for tests, with waiting on its output. */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const bin = fileURLToPath(new URL("../../bin/svcgen.js", import.meta.url));

/** A running `node bin/svcgen.js watch`. */
export interface WatchChild {
  readonly process: ChildProcess;
  /** Everything written to stdout / stderr so far. */
  stdout(): string;
  stderr(): string;
  /**
   * Resolves with the match once `pattern` matches the stream's text after `from` (a length
   * of that stream taken earlier); rejects after `timeoutMs` (generous: not a speed check) or
   * when the process exits.
   */
  waitFor(
    stream: "stdout" | "stderr",
    pattern: RegExp,
    from?: number,
    timeoutMs?: number,
  ): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
}

/** Starts `svcgen watch` in `cwd` with `env` (and any extra CLI arguments). */
export function startWatch(cwd: string, env: NodeJS.ProcessEnv, args: string[] = []): WatchChild {
  const child = spawn(process.execPath, [bin, "watch", ...args], {
    cwd,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const text = { stdout: "", stderr: "" };
  const waiters = new Set<() => void>();
  const notify = (): void => {
    for (const w of [...waiters]) w();
  };
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    text.stdout += d;
    notify();
  });
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    text.stderr += d;
    notify();
  });
  const exited = new Promise<number | string>((resolve) => {
    child.on("exit", (code, signal) => {
      resolve(code ?? signal ?? "unknown");
      notify();
    });
  });
  return {
    process: child,
    stdout: () => text.stdout,
    stderr: () => text.stderr,
    exited,
    waitFor(stream, pattern, from = 0, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const m = text[stream].slice(from).match(pattern);
          if (m !== null) {
            done();
            resolve(m);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            done();
            reject(
              new Error(`svcgen watch exited before ${pattern}:\n${text.stdout}\n${text.stderr}`),
            );
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(
              `no ${pattern} on ${stream} within ${timeoutMs} ms:\n${text.stdout}\n${text.stderr}`,
            ),
          );
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}
