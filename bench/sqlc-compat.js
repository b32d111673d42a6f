/**
 * `node bench/sqlc-compat.js <sqlc checkout> [--json <file>] [--verbose] [--only <substring>]`
 *
 * Measures how much of sqlc's own end-to-end suite (`internal/endtoend/testdata` of the sqlc
 * repository) svcgen analyses. Nothing of sqlc is copied into this repository: the cases are
 * read from the checkout given on the command line.
 *
 * Which inputs count:
 *   - every folder with a sqlc.json / sqlc.yaml / sqlc.yml, and in it every package (version 1)
 *     or `sql` entry (version 2) whose engine is PostgreSQL (version 1 defaults to it);
 *   - not the cases sqlc itself expects to fail (a `stderr.txt` or `stderr/` beside the config);
 *   - the schema and query files as sqlc reads them: `.sql` files of the listed files and
 *     folders, without hidden files and `*.down.sql`, migrations cut at their rollback marker
 *     (goose, sql-migrate, tern, dbmate) and psql meta-commands removed;
 *   - inputs identical across drivers (pgx/v4, pgx/v5, stdlib, ...) counted once: the key is
 *     the schema and query texts.
 *
 * Each distinct input becomes a project in a temporary folder (migrations/, queries/,
 * svcgen.yaml) analysed in this process (`analyseProject`, no cache) against one PostgreSQL
 * server: `SQLC_COMPAT_DATABASE_URL` or `DATABASE_URL` when set, otherwise an embedded server
 * started here. Outcomes:
 *   - pass: no error;
 *   - not accepted by the server: a migration is rejected (SVC101), or every error is the
 *     server's own (SVC005) — such inputs need another PostgreSQL version or an extension
 *     and are outside the denominator;
 *   - rejected: any other error (svcgen refuses what sqlc accepts).
 * Needs `npm run build` first.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative } from "node:path";
import { parse as parseYaml } from "yaml";
import { loadConfig } from "../cli/dist/config/load-config.js";
import { startEmbeddedServer } from "../cli/dist/db/embedded-server.js";
import { analyseProject } from "../cli/dist/project.js";

const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(name);
  if (i === -1) return undefined;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const verbose = args.includes("--verbose");
if (verbose) args.splice(args.indexOf("--verbose"), 1);
const jsonOut = flag("--json");
const only = flag("--only");
const checkout = args[0];
if (checkout === undefined) {
  process.stderr.write("usage: node bench/sqlc-compat.js <sqlc checkout> [--json <file>]\n");
  process.exit(2);
}
const testdata = join(checkout, "internal", "endtoend", "testdata");
if (!existsSync(testdata)) {
  process.stderr.write(`no internal/endtoend/testdata under ${checkout}\n`);
  process.exit(2);
}

/** Every folder under `root` holding a sqlc config, with the config's path. */
function findConfigs(root) {
  const found = [];
  const walk = (dir) => {
    const entries = readdirSync(dir, { withFileTypes: true });
    for (const e of entries) {
      if (e.isFile() && /^sqlc\.(json|ya?ml)$/.test(e.name)) found.push(join(dir, e.name));
    }
    for (const e of entries) if (e.isDirectory()) walk(join(dir, e.name));
  };
  walk(root);
  return found.sort();
}

const asList = (v) => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);

/** sqlc's sqlpath.Glob: the .sql files of files and folders, no hidden or down files. */
function sqlFiles(base, paths) {
  const files = [];
  for (const p of paths) {
    const abs = join(base, String(p));
    if (!existsSync(abs)) return undefined;
    if (statSync(abs).isDirectory()) {
      for (const name of readdirSync(abs).sort()) files.push(join(abs, name));
    } else {
      files.push(abs);
    }
  }
  return files.filter((f) => {
    const name = basename(f);
    return name.endsWith(".sql") && !name.startsWith(".") && !name.endsWith(".down.sql");
  });
}

/** sqlc's RemoveRollbackStatements and RemovePsqlMetaCommands. */
function migrationText(text) {
  const out = [];
  for (const line of text.split("\n")) {
    const l = line.toLowerCase();
    if (
      l.startsWith("-- +goose down") ||
      l.startsWith("-- +migrate down") ||
      l.startsWith("---- create above / drop below ----") ||
      l.startsWith("-- migrate:down")
    ) {
      break;
    }
    if (/^\\[A-Za-z!?;][^\n]*$/.test(line)) continue;
    out.push(line);
  }
  return out.join("\n");
}

/** The PostgreSQL inputs of one config: [{ schema: [{name,text}], queries: [{name,text}] }]. */
function inputsOf(configPath) {
  const dir = dirname(configPath);
  let doc;
  try {
    doc = parseYaml(readFileSync(configPath, "utf8"));
  } catch {
    return [];
  }
  const version = String(doc?.version ?? "");
  const entries =
    version === "1"
      ? asList(doc.packages).filter((p) => (p.engine ?? "postgresql") === "postgresql")
      : asList(doc?.sql).filter((p) => p.engine === "postgresql");
  const inputs = [];
  for (const e of entries) {
    const schema = sqlFiles(dir, asList(e.schema));
    const queries = sqlFiles(dir, asList(e.queries));
    if (schema === undefined || queries === undefined || queries.length === 0) continue;
    const read = (f, fix) => ({ name: basename(f), bytes: fix(readFileSync(f)) });
    inputs.push({
      schema: schema.map((f) => read(f, (b) => Buffer.from(migrationText(b.toString("utf8"))))),
      // Query files byte for byte: svcgen reads (and judges) them as they are.
      queries: queries.map((f) => read(f, (b) => b)),
    });
  }
  return inputs;
}

function keyOf(input) {
  const h = createHash("sha256");
  for (const part of [input.schema, input.queries]) {
    h.update(String(part.length));
    for (const f of part) h.update(`\0${f.bytes.length}\0`).update(f.bytes);
  }
  return h.digest("hex");
}

const cases = new Map();
let packages = 0;
for (const configPath of findConfigs(testdata)) {
  const dir = dirname(configPath);
  if (existsSync(join(dir, "stderr.txt")) || existsSync(join(dir, "stderr"))) continue;
  const name = relative(testdata, dir);
  if (only !== undefined && !name.includes(only)) continue;
  const inputs = inputsOf(configPath);
  inputs.forEach((input, i) => {
    packages++;
    const key = keyOf(input);
    const label = inputs.length > 1 ? `${name}#${i}` : name;
    const seen = cases.get(key);
    if (seen === undefined) cases.set(key, { label, input, also: [] });
    else seen.also.push(label);
  });
}

let server;
let url = process.env.SQLC_COMPAT_DATABASE_URL ?? process.env.DATABASE_URL;
if (url === undefined || url === "") {
  server = await startEmbeddedServer(15);
  url = server.url;
}
const work = await mkdtemp(join(tmpdir(), "svcgen-sqlc-compat-"));
const results = [];
const started = performance.now();
try {
  let n = 0;
  for (const c of cases.values()) {
    n++;
    const dir = join(work, `case${n}`);
    await mkdir(join(dir, "migrations"), { recursive: true });
    await mkdir(join(dir, "queries"), { recursive: true });
    const pad = (i) => String(i).padStart(3, "0");
    await Promise.all([
      ...c.input.schema.map((f, i) =>
        writeFile(join(dir, "migrations", `${pad(i)}_${f.name}`), f.bytes),
      ),
      ...c.input.queries.map((f, i) =>
        writeFile(join(dir, "queries", `${pad(i)}_${f.name}`), f.bytes),
      ),
      writeFile(
        join(dir, "svcgen.yaml"),
        `schema: migrations\nqueries: queries\nout: gen\ndatabase:\n  url: ${JSON.stringify(url)}\n  keepSchema: false\n`,
      ),
    ]);
    const loaded = await loadConfig(join(dir, "svcgen.yaml"), {});
    let diagnostics;
    if (loaded.config === undefined) {
      diagnostics = loaded.diagnostics;
    } else {
      const r = await analyseProject(loaded.config, { cache: false });
      diagnostics = r.diagnostics;
    }
    const errors = diagnostics.filter((d) => d.severity === "error");
    const warnings = diagnostics.filter((d) => d.severity === "warning");
    let outcome = "pass";
    if (errors.some((d) => d.code === "SVC101" || d.code === "SVC102")) outcome = "server";
    else if (errors.length > 0 && errors.every((d) => d.code === "SVC005")) outcome = "server";
    else if (errors.length > 0) outcome = "rejected";
    const first = errors[0] ?? warnings[0];
    const where = (d) => `${d.file ?? ""}${d.line !== undefined ? `:${d.line}` : ""}`;
    results.push({
      case: c.label,
      also: c.also,
      outcome,
      warnings: warnings.length,
      errors: errors.map((d) => `${d.code} ${where(d)} ${d.message}`),
    });
    if (verbose && first !== undefined) {
      process.stderr.write(`${outcome.padEnd(8)} ${c.label}: ${first.code} ${first.message}\n`);
    }
    await rm(dir, { recursive: true, force: true });
  }
} finally {
  await rm(work, { recursive: true, force: true });
  await server?.stop();
}

const count = (o) => results.filter((r) => r.outcome === o).length;
const accepted = results.length - count("server");
const byCode = new Map();
for (const r of results.filter((x) => x.outcome === "rejected")) {
  for (const code of new Set(r.errors.map((e) => e.split(" ")[0]))) {
    byCode.set(code, (byCode.get(code) ?? 0) + 1);
  }
}
const lines = [
  `sqlc end-to-end suite: ${packages} PostgreSQL packages, ${results.length} distinct inputs`,
  `  not accepted by the PostgreSQL server used: ${count("server")}`,
  `  accepted by the server: ${accepted}`,
  `    svcgen passes:   ${count("pass")} (${results.filter((r) => r.outcome === "pass" && r.warnings > 0).length} with warnings)`,
  `    svcgen rejects:  ${count("rejected")}${byCode.size > 0 ? ` (${[...byCode].map(([k, v]) => `${k}: ${v}`).join(", ")})` : ""}`,
  `  in ${Math.round((performance.now() - started) / 1000)} s`,
];
process.stdout.write(`${lines.join("\n")}\n`);
for (const r of results.filter((x) => x.outcome === "rejected")) {
  process.stdout.write(`rejected ${r.case}: ${r.errors[0]}\n`);
}
if (verbose) {
  for (const r of results.filter((x) => x.outcome === "server")) {
    process.stdout.write(`server   ${r.case}: ${r.errors[0]}\n`);
  }
}
if (jsonOut !== undefined) await writeFile(jsonOut, `${JSON.stringify(results, null, 2)}\n`);
