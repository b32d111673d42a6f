/**
 * `svcgen check`: what CI runs before a deploy. Against a live database, every query must
 * still prepare and describe to exactly what the committed code was generated from (the
 * manifest `<out>/svcgen-manifest.json`, written by `generate`); the generated files must be
 * up to date with the inputs (as `generate --check`); and the live schema must match what the
 * migrations produce. Nothing is created or altered on the live database: it is read with
 * catalog queries and Parse/Describe only. The migrations are applied where `generate` applies
 * them (a scratch database on the configured server, or an embedded server).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { DriftCodes } from "../check/drift-codes.js";
import { compareQueries } from "../check/model-drift.js";
import { compareSchemas, readSchemaSnapshot, type SchemaSnapshot } from "../check/schema-drift.js";
import type { ResolvedConfig } from "../config/config.js";
import { openSchema, redactUrl, type SchemaSession } from "../db/schema-source.js";
import { Codes, type Diagnostic } from "../diagnostics.js";
import { manifestName, parseManifest } from "../manifest.js";
import { type PublicQuery, toPublicModel } from "../model.js";
import { analyseProject } from "../project.js";
import { projectPath } from "../project-paths.js";
import { readSourceFiles } from "../read-inputs.js";
import { runGenerate } from "./generate-command.js";

/** Options of {@link runCheck}. */
export interface CheckOptions {
  /** The live database; default `database.url` of the config (which defaults to `DATABASE_URL`). */
  readonly databaseUrl?: string;
  /** Check that generated files are up to date (as `generate --check`). Default true. */
  readonly generated?: boolean;
  /** Compare the live schema with the one the migrations produce. Default true. */
  readonly schema?: boolean;
  /** Progress lines (starting a server, applying migrations). */
  readonly onProgress?: (message: string) => void;
}

/**
 * The outcome: `clean` (exit 0), `drift` (exit 1: any error diagnostic, drift or a broken
 * input), `failed` (exit 2: the check could not run: no database, unreachable, no manifest).
 */
export type CheckStatus = "clean" | "drift" | "failed";

/** What {@link runCheck} found. */
export interface CheckResult {
  readonly status: CheckStatus;
  readonly diagnostics: readonly Diagnostic[];
  /** Input files by project path, for source frames. */
  readonly sources: ReadonlyMap<string, string>;
  /** How many queries were checked against the live database. */
  readonly queries: number;
  /** The live database, password masked, for messages. */
  readonly database: string | undefined;
}

/** Codes that mean the check itself could not run. */
const cannotRun = new Set<string>([Codes.database, DriftCodes.manifest]);

/** Runs every check. Never throws for a user error or an unreachable database. */
export async function runCheck(
  config: ResolvedConfig,
  opts: CheckOptions = {},
): Promise<CheckResult> {
  const progress = opts.onProgress ?? (() => {});
  const sources = new Map<string, string>();
  const url = opts.databaseUrl ?? config.database.url;
  const done = (diagnostics: Diagnostic[], queries = 0): CheckResult => ({
    status: diagnostics.some((d) => d.severity === "error" && cannotRun.has(d.code))
      ? "failed"
      : diagnostics.some((d) => d.severity === "error")
        ? "drift"
        : "clean",
    diagnostics: dedupe(diagnostics),
    sources,
    queries,
    database: url === undefined ? undefined : redactUrl(url),
  });
  if (url === undefined || url === "") {
    return done([
      {
        severity: "error",
        code: Codes.database,
        message: "no database to check against",
        hint: "pass --database-url, or set DATABASE_URL or database.url",
      },
    ]);
  }

  const manifest = await readManifest(config);
  if (manifest.kind === "error") return done([manifest.diagnostic]);

  const migrations = await readSourceFiles(config.rootDir, config.schemaFiles, "migration");
  let scratch: SchemaSession | undefined;
  try {
    const diagnostics: Diagnostic[] = [...migrations.diagnostics];
    const liveConfig: ResolvedConfig = {
      ...config,
      database: { ...config.database, url, useLiveSchema: true },
    };
    const live = await analyseProject(liveConfig, { cache: false });
    for (const [k, v] of live.sources) sources.set(k, v);
    // Unreachable: stop before starting anything else (an embedded server takes a while).
    if (live.diagnostics.some((d) => d.code === Codes.database)) {
      return done(live.diagnostics.filter((d) => d.code === Codes.database));
    }
    const liveQueries = toPublicModel(live.model).queries;
    diagnostics.push(...live.diagnostics.map((d) => asNoLongerPrepares(d, manifest.queries)));
    diagnostics.push(...compareQueries(manifest.queries, liveQueries));

    // The migrations go where `generate` puts them (a scratch database on the configured
    // server, or an embedded server), never into the live database.
    const wantScratch = opts.generated !== false || opts.schema !== false;
    if (wantScratch && migrations.diagnostics.length === 0) {
      const opened = await openSchema(
        { ...config, database: { ...config.database, useLiveSchema: false } },
        migrations.files,
        { onProgress: progress },
      );
      scratch = opened.session;
      diagnostics.push(...opened.diagnostics);
    }
    if (opts.generated !== false) {
      diagnostics.push(...(await checkGenerated(config, scratch, sources, progress)));
    }
    if (opts.schema !== false && scratch !== undefined) {
      const [expected, actual] = await Promise.all([
        snapshot(scratch.connectionString),
        snapshot(url),
      ]);
      if (expected.kind === "error" || actual.kind === "error") {
        for (const s of [expected, actual]) if (s.kind === "error") diagnostics.push(s.diagnostic);
      } else {
        diagnostics.push(...compareSchemas(expected.snapshot, actual.snapshot, migrations.files));
      }
    }
    return done(diagnostics, liveQueries.length);
  } finally {
    await scratch?.close();
  }
}

type Manifest =
  | { readonly kind: "ok"; readonly queries: readonly PublicQuery[] }
  | { readonly kind: "error"; readonly diagnostic: Diagnostic };

/** Reads `<out>/svcgen-manifest.json`; a missing or malformed one means check cannot run. */
async function readManifest(config: ResolvedConfig): Promise<Manifest> {
  const rel = `${projectPath(config.rootDir, config.out)}/${manifestName}`;
  let text: string;
  try {
    text = await readFile(join(config.out, manifestName), "utf8");
  } catch {
    return {
      kind: "error",
      diagnostic: {
        severity: "error",
        code: DriftCodes.manifest,
        message: `no manifest at ${rel}: nothing records what the generated code was generated from`,
        hint: "run svcgen generate first, and commit the generated folder",
      },
    };
  }
  try {
    return { kind: "ok", queries: toPublicModel(parseManifest(text)).queries };
  } catch (e) {
    return {
      kind: "error",
      diagnostic: {
        severity: "error",
        code: DriftCodes.manifest,
        message: `the manifest ${rel} is not valid: ${(e as Error).message}`,
        file: rel,
        hint: "run svcgen generate to write it again",
      },
    };
  }
}

/**
 * A server error (SVC005) for a query the manifest has with the same SQL: it prepared when
 * the code was generated, so the database changed under it. Other diagnostics pass through.
 */
function asNoLongerPrepares(d: Diagnostic, manifest: readonly PublicQuery[]): Diagnostic {
  if (d.code !== Codes.server) return d;
  const q = manifest.find((m) => m.file === d.file && d.message.startsWith(`${m.name}: `));
  if (q === undefined) return d;
  return {
    ...d,
    code: DriftCodes.noLongerPrepares,
    message: `${q.name}: no longer prepares on the database: ${d.message.slice(q.name.length + 2)}`,
    hint: d.hint ?? "the database changed under the query: fix the query or the database",
  };
}

/** `generate --check` against the scratch schema: one SVC206 per file that would change. */
async function checkGenerated(
  config: ResolvedConfig,
  scratch: SchemaSession | undefined,
  sources: Map<string, string>,
  progress: (message: string) => void,
): Promise<Diagnostic[]> {
  const shared = scratch;
  const r = await runGenerate(config, {
    check: true,
    onProgress: progress,
    // Reuse the scratch database already opened for the schema comparison; analyseProject
    // closes what it is given, so hand it a session whose close does nothing.
    ...(shared !== undefined && !config.database.useLiveSchema
      ? {
          openSchema: async () => ({
            session: { ...shared, close: async () => {} },
            diagnostics: [],
          }),
        }
      : {}),
  });
  for (const [k, v] of r.sources) sources.set(k, v);
  const out: Diagnostic[] = [...r.diagnostics];
  for (const f of r.report?.written ?? []) {
    out.push({
      severity: "error",
      code: DriftCodes.generatedOutOfDate,
      message: `generated file ${f} is out of date with the inputs (would write ${f})`,
      file: f,
      hint: "run svcgen generate and commit the result",
    });
  }
  for (const f of r.report?.deleted ?? []) {
    out.push({
      severity: "error",
      code: DriftCodes.generatedOutOfDate,
      message: `generated file ${f} is no longer produced (would delete ${f})`,
      file: f,
      hint: "run svcgen generate and commit the result",
    });
  }
  return out;
}

type Snapshot =
  | { readonly kind: "ok"; readonly snapshot: SchemaSnapshot }
  | { readonly kind: "error"; readonly diagnostic: Diagnostic };

async function snapshot(url: string): Promise<Snapshot> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 15_000 });
  client.on("error", () => {});
  try {
    await client.connect();
    return { kind: "ok", snapshot: await readSchemaSnapshot(client) };
  } catch (e) {
    return {
      kind: "error",
      diagnostic: {
        severity: "error",
        code: Codes.database,
        message: `could not read the schema of ${redactUrl(url)}: ${(e as Error).message}`,
      },
    };
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Drops repeats: the live analysis and `generate --check` both parse the same query files,
 * and a query broken in both schemas is reported by both.
 */
function dedupe(list: readonly Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  const out: Diagnostic[] = [];
  for (const d of list) {
    const body =
      d.code === DriftCodes.noLongerPrepares
        ? d.message.replace(/^(\w+): no longer prepares on the database: /, "$1: ")
        : d.message;
    const key = `${d.file}:${d.line}:${d.column}:${body}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(d);
  }
  return out;
}
