/**
 * Benchmark hook: edit-to-written latency of `svcgen watch` for one changed query. Starts the
 * CLI as a child process on a project, waits for its first run, then edits one query's SQL
 * (a comment, so the text and hence the generated module change) `edits` times, each time
 * timing from just before the write until the watcher reports the run that wrote the files.
 * The project's query file is restored afterwards. Used from `bench/`.
 */
import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { findConfig, loadConfig } from "../config/load-config.js";

/** Latency summary in milliseconds. */
export interface WatchLatency {
  readonly medianMs: number;
  readonly p95Ms: number;
}

const bin = fileURLToPath(new URL("../../../bin/svcgen.js", import.meta.url));

/** Longest wait for one run; a benchmark that hangs says so instead of waiting forever. */
const runTimeoutMs = 120_000;

/**
 * Measures `edits` edit-to-written latencies on the project in `projectDir` (which must hold
 * `svcgen.yaml`; its database settings apply as for `svcgen watch`, `DATABASE_URL` from this
 * process's environment). Returns the median and the 95th percentile (nearest rank).
 */
export async function measureWatchLatency(
  projectDir: string,
  edits: number,
): Promise<WatchLatency> {
  const configPath = await findConfig(projectDir);
  if (configPath === undefined) throw new Error(`no svcgen.yaml in ${projectDir}`);
  const loaded = await loadConfig(configPath, process.env);
  const queryFile = loaded.config?.queryFiles[0];
  if (queryFile === undefined)
    throw new Error(`${configPath} does not load or names no query file`);
  const original = await readFile(queryFile, "utf8");
  const at = editPoint(original);

  const child = spawn(process.execPath, [bin, "watch"], {
    cwd: projectDir,
    env: process.env,
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  let wake: (() => void) | undefined;
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    out += d;
    wake?.();
  });
  child.on("exit", () => wake?.());
  const waitFor = async (pattern: RegExp, from: number): Promise<void> => {
    const deadline = Date.now() + runTimeoutMs;
    while (!pattern.test(out.slice(from))) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`svcgen watch exited:\n${out}`);
      }
      if (Date.now() > deadline) throw new Error(`svcgen watch did not report ${pattern}:\n${out}`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 1_000);
      });
    }
  };

  const samples: number[] = [];
  try {
    await waitFor(/^initial run: .*\n/m, 0);
    for (let i = 1; i <= edits; i++) {
      const text = `${original.slice(0, at)} /* watch-latency ${i} */${original.slice(at)}`;
      const mark = out.length;
      const t0 = performance.now();
      await writeFile(queryFile, text);
      await waitFor(/ changed: .*files? written.*\n/, mark);
      samples.push(performance.now() - t0);
    }
  } finally {
    await writeFile(queryFile, original);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGINT");
      await exited;
    }
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = (p: number): number =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? 0;
  const round = (n: number): number => Math.round(n * 10) / 10;
  return { medianMs: round(rank(0.5)), p95Ms: round(rank(0.95)) };
}

/** Where a comment goes into the first query: just before the `;` that ends it. */
function editPoint(text: string): number {
  const name = text.search(/^--\s*name:/m);
  const end = name < 0 ? -1 : text.indexOf(";", name);
  if (end < 0) throw new Error("the first query file has no `-- name:` query ending in `;`");
  return end;
}

// `node cli/dist/watch/watch-latency.js <projectDir> [edits]` prints the result as JSON.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dir = process.argv[2] ?? process.cwd();
  const edits = Number.parseInt(process.argv[3] ?? "20", 10);
  const r = await measureWatchLatency(join(dir), edits);
  process.stdout.write(`${JSON.stringify(r)}\n`);
}
