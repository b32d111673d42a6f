/** Helpers shared by the benchmark scripts: paths, timed child processes, statistics. */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const benchDir = dirname(fileURLToPath(import.meta.url));
export const repoDir = dirname(benchDir);
export const workDir = join(benchDir, "work");
export const projectDir = join(workDir, "project");
export const svcgenBin = join(repoDir, "bin", "svcgen.js");
export const pgtypedBin = join(repoDir, "node_modules", "@pgtyped", "cli", "lib", "index.js");
export const serverUrl =
  process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
export const pgtypedDbName = "bench_pgtyped";

/** The server URL with another database name. */
export function urlWithDatabase(url, db) {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/**
 * Runs `node args...` and measures the wall time from spawn to exit.
 * @param {string[]} args
 * @param {{ env?: NodeJS.ProcessEnv, cwd?: string }} [opts]
 * @returns {Promise<{ ms: number, code: number | null, stdout: string, stderr: string }>}
 */
export function timeNode(args, opts = {}) {
  return new Promise((resolvePromise, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd ?? repoDir,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      resolvePromise({ ms, code, stdout, stderr });
    });
  });
}

/** An environment without DATABASE_URL (and PG* variables), plus `extra`. */
export function cleanEnv(extra = {}) {
  /** @type {NodeJS.ProcessEnv} */
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k === "DATABASE_URL" || k.startsWith("PG")) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/** @param {number[]} xs */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** @param {number[]} xs */
export function min(xs) {
  return Math.min(...xs);
}

/** @param {number[]} xs  p-th percentile (nearest rank). */
export function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** Formats milliseconds: `1234 ms`, `12.3 s` above 10 s. */
export function fmtMs(ms) {
  if (ms === undefined || Number.isNaN(ms)) return "–";
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms)} ms`;
}

/** The ms svcgen prints in its summary line (`... in 1234 ms`), or undefined. */
export function reportedMs(stdout) {
  const m = /in (\d+) ms/.exec(stdout);
  return m === null ? undefined : Number(m[1]);
}

/** Builds the CLI (tsc -b runtime cli); tolerates errors when the output exists anyway. */
export async function buildCli() {
  const tsc = join(repoDir, "node_modules", "typescript", "bin", "tsc");
  const r = await timeNode([tsc, "-b", "runtime", "cli"]);
  const built = existsSync(join(repoDir, "cli", "dist", "main.js"));
  if (r.code !== 0) {
    if (!built)
      throw new Error(`tsc -b runtime cli failed and cli/dist is missing:\n${r.stdout}${r.stderr}`);
    process.stderr.write(
      `warning: tsc -b reported errors (using the emitted cli/dist anyway):\n${r.stdout.split("\n").slice(0, 5).join("\n")}\n`,
    );
  }
}
