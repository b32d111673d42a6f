/**
 * Where svcgen's time goes on the warm run (1,000 queries, --no-cache), measured from outside
 * the CLI without changing it:
 *
 *   node bench/profile.js [--runs 3]          # needs the project: npm run bench (or
 *                                             # node bench/generate-project.js) first
 *
 * 1. Phases: a child process imports the CLI's compiled modules and times each step that
 *    `svcgen generate --no-cache` performs (module loading, config, reading files, loading the
 *    WebAssembly parser, parsing, scratch database + migrations, catalog, pipelined describe,
 *    the rest of the analysis, emitting, writing, dropping the scratch database).
 * 2. A CPU profile of the real CLI run (`node --cpu-prof bin/svcgen.js generate --no-cache`),
 *    summarised by package/file and by function (self time), with idle time (waiting for the
 *    server) and GC separated.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { cleanEnv, median, projectDir, repoDir, serverUrl, svcgenBin, workDir } from "./lib.js";

const argv = process.argv.slice(2);
const runsArg = argv.indexOf("--runs");
const runs = runsArg >= 0 ? Number(argv[runsArg + 1]) : 3;

// --- 1. phases (in a child, so module loading is measured cold) ------------------------------

if (argv.includes("--phases-child")) {
  await phasesChild();
} else {
  await parent();
}

async function phasesChild() {
  /** @type {[string, number][]} */
  const t = [];
  let last = performance.now();
  t.push(["process start to first line of script", last]);
  const mark = (name) => {
    const now = performance.now();
    t.push([name, now - last]);
    last = now;
  };
  const dist = join(repoDir, "cli", "dist");
  const imp = (p) => import(join(dist, p));
  const pgq = await import("libpg-query");
  mark("import libpg-query");
  await pgq.loadModule();
  mark("instantiate the libpg-query WebAssembly module");
  await imp("main.js");
  mark("import cli/dist/main.js (the rest of the CLI module graph)");
  const { loadConfig } = await imp("config/load-config.js");
  const { readInputs } = await imp("read-inputs.js");
  const { openSchema } = await imp("db/schema-source.js");
  const { loadParser, parseQueryFile } = await imp("parse/query-file-parser.js");
  const { loadCatalog } = await imp("analyse/catalog.js");
  const { describeStatements } = await imp("analyse/describe.js");
  const { analyseQueries } = await imp("analyse/analyse-queries.js");
  const { emitQueryModules } = await imp("emit/query-module-emitter.js");
  const { buildModel } = await imp("analyse/model-builder.js");
  const { readConstraints } = await imp("analyse/constraints.js");
  const { serialiseManifest } = await imp("manifest.js");
  const { writeGeneratedFiles, projectPath } = await imp("commands/write-files.js");
  const pg = (await import("pg")).default;
  mark("(already loaded modules)");
  const { config } = await loadConfig(join(projectDir, "svcgen.yaml"), { DATABASE_URL: serverUrl });
  mark("load config");
  const inputs = await readInputs(config);
  const qf = { files: inputs.queryFiles };
  const mig = { files: inputs.migrations };
  mark("readInputs (query files + migrations)");
  await loadParser();
  mark("loadParser (already instantiated above)");
  const parsed = qf.files.flatMap((f) => parseQueryFile(f).queries);
  mark(`parse ${parsed.length} queries (scan + parse + split)`);
  let firstMigration;
  const { session } = await openSchema(config, mig.files, {
    onProgress: (m) => {
      if (firstMigration === undefined && m.startsWith("applying"))
        firstMigration = performance.now();
    },
  });
  if (session === undefined) throw new Error("openSchema failed");
  const end = performance.now();
  t.push(["connect + CREATE DATABASE scratch", (firstMigration ?? end) - last]);
  t.push([`apply ${mig.files.length} migrations (100 tables)`, end - (firstMigration ?? end)]);
  last = end;
  const client = new pg.Client({ connectionString: session.connectionString });
  await client.connect();
  mark("connect to the scratch database");
  await loadCatalog(client);
  mark("catalog: loadCatalog (relations, columns)");
  await describeStatements(
    client,
    parsed.map((q) => q.sql),
  );
  mark("pipelined Parse/Describe of 1,000 statements");
  const before = performance.now();
  const options = { int8: config.int8, date: config.date, overrides: config.types };
  const sources = new Map(qf.files.map((f) => [f.path, f.text]));
  const r = await analyseQueries(client, parsed, options, (p) => sources.get(p) ?? "");
  const whole = performance.now() - before;
  last = performance.now();
  t.push([
    "analyseQueries total (catalog + describe again + types/functions + nullability + mapping)",
    whole,
  ]);
  const constraints = await readConstraints(client);
  mark(`read ${constraints.length} constraints`);
  const model = buildModel({ queries: r.model.queries, constraints });
  mark("build the Model (enums, freeze)");
  const out0 = projectPath(config.rootDir, config.out);
  const files = emitQueryModules(model, { out: out0, int8: config.int8, date: config.date });
  mark(`emit ${files.length} query modules`);
  files.push({ path: `${out0}/svcgen-manifest.json`, content: serialiseManifest(model) });
  mark("serialise the manifest (the Model)");
  const out = projectPath(config.rootDir, config.out);
  await writeGeneratedFiles(config.rootDir, files, [`${out}/db`], false);
  mark("write files (compare with existing; unchanged)");
  await client.end();
  await session.close();
  mark("disconnect + DROP DATABASE scratch");
  process.stdout.write(JSON.stringify(t));
}

async function parent() {
  /** @type {Map<string, number[]>} */
  const phases = new Map();
  for (let i = 0; i < runs; i++) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--phases-child"], {
      env: cleanEnv(),
      encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`phases child failed:\n${r.stderr}`);
    for (const [name, ms] of JSON.parse(r.stdout)) {
      if (!phases.has(name)) phases.set(name, []);
      phases.get(name)?.push(ms);
    }
  }
  console.log(`## Phases of a warm --no-cache run (median of ${runs}, ms)\n`);
  console.log("| Phase | ms |\n|---|---|");
  for (const [name, xs] of phases) {
    if (name.startsWith("(")) continue;
    console.log(`| ${name} | ${Math.round(median(xs))} |`);
  }

  // --- 2. CPU profiles of the real CLI -------------------------------------------------------
  cpuProfile("warm", ["generate", "--no-cache"], "`svcgen generate --no-cache` (warm server)");
  // Fill the cache, then profile the unchanged project.
  spawnSync(process.execPath, [svcgenBin, "generate", "-c", join(projectDir, "svcgen.yaml")], {
    env: cleanEnv({ DATABASE_URL: serverUrl }),
  });
  cpuProfile("cached", ["generate"], "`svcgen generate` (unchanged project, cache hit)");
}

/**
 * Runs the CLI under --cpu-prof and prints the summary.
 * @param {string} name
 * @param {string[]} args
 * @param {string} title
 */
function cpuProfile(name, args, title) {
  const profDir = join(workDir, "prof", name);
  rmSync(profDir, { recursive: true, force: true });
  mkdirSync(profDir, { recursive: true });
  const r = spawnSync(
    process.execPath,
    [
      "--cpu-prof",
      `--cpu-prof-dir=${profDir}`,
      "--cpu-prof-interval=200",
      svcgenBin,
      ...args,
      "-c",
      join(projectDir, "svcgen.yaml"),
    ],
    { env: cleanEnv({ DATABASE_URL: serverUrl }), encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`profiled run failed:\n${r.stdout}\n${r.stderr}`);
  const file = readdirSync(profDir).find((f) => f.endsWith(".cpuprofile"));
  if (file === undefined) throw new Error("no .cpuprofile written");
  summarise(JSON.parse(readFileSync(join(profDir, file), "utf8")), title);
  console.log(`\nCLI output: ${r.stdout.trim()}`);
  console.log(
    `(profile: ${relative(repoDir, join(profDir, file))}; open it in Chrome DevTools > Performance)`,
  );
}

/**
 * Self time per node from samples and timeDeltas, grouped by category.
 * @param {{ nodes: { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[] }[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }} prof
 */
function summarise(prof, title) {
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (let i = 0; i < prof.samples.length; i++) {
    const id = prof.samples[i];
    const dt = (prof.timeDeltas[i + 1] ?? 0) / 1000; // the delta after a sample is its duration
    self.set(id, (self.get(id) ?? 0) + dt);
  }
  const total = (prof.endTime - prof.startTime) / 1000;
  const byGroup = new Map();
  const byFn = new Map();
  for (const [id, ms] of self) {
    const n = byId.get(id);
    if (n === undefined) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    const group = groupOf(functionName, url);
    byGroup.set(group, (byGroup.get(group) ?? 0) + ms);
    const fnKey = `${functionName || "(anonymous)"} ${shortUrl(url)}${url ? `:${lineNumber + 1}` : ""}`;
    byFn.set(fnKey, (byFn.get(fnKey) ?? 0) + ms);
  }
  const pct = (ms) => `${((100 * ms) / total).toFixed(1)}%`;
  console.log(`\n## CPU profile of ${title}: ${Math.round(total)} ms profiled\n`);
  console.log("| Where (self time) | ms | share |\n|---|---|---|");
  for (const [g, ms] of [...byGroup].sort((a, b) => b[1] - a[1]).slice(0, 18)) {
    console.log(`| ${g} | ${Math.round(ms)} | ${pct(ms)} |`);
  }
  console.log("\n| Top functions (self time) | ms |\n|---|---|");
  for (const [f, ms] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, 20)) {
    console.log(`| \`${f.replace(/\|/g, "\\|")}\` | ${Math.round(ms)} |`);
  }
}

function shortUrl(url) {
  if (url === "") return "";
  const p = url.replace(/^file:\/\//, "");
  return p.startsWith(repoDir) ? relative(repoDir, p) : p;
}

/** A category for a call frame: idle/GC/program, node internals, a package, or a CLI file. */
function groupOf(functionName, url) {
  if (url === "") {
    if (functionName === "(idle)") return "(idle: waiting for the server / I/O)";
    if (functionName === "(garbage collector)") return "(garbage collector)";
    if (functionName === "(program)")
      return "(program: V8/native, incl. compiling and wasm instantiation)";
    return `(native ${functionName})`;
  }
  if (url.startsWith("node:"))
    return `node internals (${url
      .split("/")[0]
      .replace(/^node:/, "")
      .replace(/^internal$/, "internal")})`;
  const p = url.replace(/^file:\/\//, "");
  const nm = p.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = p.slice(nm + "node_modules/".length).split("/");
    return `package ${rest[0].startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  if (p.startsWith(repoDir)) return relative(repoDir, p);
  return p;
}
