/**
 * The edge around the pure core for the commands: the schema session (analysis cache in front
 * of a database holding the schema, opened only when something is not cached) and
 * {@link analyseProject}, which reads a project's inputs and returns its analysed Model.
 * Shared by generate, analyze, check and watch.
 */
import pg from "pg";
import { analyseQueries } from "./analyse/analyse-queries.js";
import {
  AnalysisCache,
  type CachedAnalysis,
  queryKey,
  schemaHash,
} from "./analyse/analysis-cache.js";
import { readConstraints } from "./analyse/constraints.js";
import type { ResolvedConfig } from "./config/config.js";
import { openSchema, type SchemaSession as SchemaDatabase } from "./db/schema-source.js";
import { Codes, type Diagnostic, hasErrors } from "./diagnostics.js";
import { analyse, type SchemaSession } from "./generate.js";
import type { SourceFile } from "./inputs.js";
import type { ConstraintModel, Model } from "./model.js";
import type { ParsedQuery, ParsedQueryFile } from "./parse/query-file-parser.js";
import { readInputs } from "./read-inputs.js";

/** What {@link analyseProject} returns. */
export interface ProjectAnalysis {
  readonly model: Model;
  readonly diagnostics: readonly Diagnostic[];
  /** Every input file's text by project-relative path, for source frames in diagnostics. */
  readonly sources: ReadonlyMap<string, string>;
  /** How many queries were analysed against a database in this run. */
  readonly analysed: number;
  /** How many came from the cache. */
  readonly cached: number;
}

/** Options of {@link analyseProject} and {@link openSchemaSession}. */
export interface AnalyseProjectOptions {
  /** Use and update the analysis cache. Default true (never with `useLiveSchema`). */
  readonly cache?: boolean;
  /** Progress lines (starting a server, applying migrations). */
  readonly onProgress?: (message: string) => void;
  /**
   * Opens the schema; default {@link openSchema}. `watch` passes one that keeps a server up
   * between runs.
   */
  readonly openSchema?: (
    config: ResolvedConfig,
    migrations: readonly SourceFile[],
  ) => Promise<{ session: SchemaDatabase | undefined; diagnostics: Diagnostic[] }>;
  /**
   * Parsed query files of earlier runs by project path, reused while a file's text is
   * unchanged and updated in place; `watch` keeps one so an edit re-parses only its file.
   * Default: parse every file.
   */
  readonly parseMemo?: Map<string, ParsedQueryFile>;
  /**
   * The analysis cache to use instead of loading it from `cacheDir` (it is still saved
   * there); `watch` keeps one in memory across runs. Ignored when the cache is off.
   */
  readonly analysisCache?: AnalysisCache;
  /** Save the analysis cache at the end of the run. Default true; `watch` saves when it stops. */
  readonly saveCache?: boolean;
}

/** A schema session the commands own: the core's view plus counters and the end of the run. */
export interface CommandSession extends SchemaSession {
  /** Queries analysed against the database so far. */
  readonly analysed: () => number;
  /** Queries taken from the cache so far. */
  readonly cached: () => number;
  /** Saves the cache (unless the run had errors or saving is off) and closes the database. */
  close(runHadErrors: boolean): Promise<void>;
}

/**
 * The session of one run: each query's analysis from the cache when its key is there, else
 * from the database the migrations build (opened on first need, once). Constraints likewise,
 * by schema hash. Database problems are diagnostics, never throws.
 */
export async function openSchemaSession(
  config: ResolvedConfig,
  migrations: readonly SourceFile[],
  migrationDiagnostics: readonly Diagnostic[],
  opts: AnalyseProjectOptions = {},
): Promise<CommandSession> {
  const useCache = (opts.cache ?? true) && !config.database.useLiveSchema;
  const options = { int8: config.int8, date: config.date, overrides: config.types };
  const schema = schemaHash(migrations, JSON.stringify(options));
  const cache = useCache
    ? (opts.analysisCache ?? (await AnalysisCache.load(config.cacheDir)))
    : undefined;
  let analysedCount = 0;
  let cachedCount = 0;
  // A changed migration changes every key, so the schema is rebuilt and a broken migration is
  // reported, never hidden by a warm cache.
  const migrationsBroken = hasErrors(migrationDiagnostics);
  let db:
    | Promise<{ database?: SchemaDatabase; client?: pg.Client; diagnostics: Diagnostic[] }>
    | undefined;
  const connect = () => {
    db ??= (async () => {
      const open =
        opts.openSchema ??
        ((c, m) => openSchema(c, m, { onProgress: opts.onProgress ?? (() => {}) }));
      const { session, diagnostics } = await open(config, migrations);
      if (session === undefined) return { diagnostics };
      const client = new pg.Client({ connectionString: session.connectionString });
      try {
        await client.connect();
      } catch (e) {
        await session.close();
        return {
          diagnostics: [
            ...diagnostics,
            {
              severity: "error" as const,
              code: Codes.database,
              message: `analysis failed: ${(e as Error).message}`,
            },
          ],
        };
      }
      return { database: session, client, diagnostics };
    })();
    return db;
  };
  let reported = false;
  /** The connection's diagnostics, reported once per run. */
  const once = (d: readonly Diagnostic[]): Diagnostic[] => {
    if (reported) return [];
    reported = true;
    return [...d];
  };

  return {
    async analyse(queries, source) {
      const results = new Map<ParsedQuery, CachedAnalysis>();
      const misses: ParsedQuery[] = [];
      for (const q of queries) {
        const hit = cache?.get(queryKey(schema, q.command, q.sql));
        if (hit !== undefined) results.set(q, hit);
        else misses.push(q);
      }
      cachedCount += queries.length - misses.length;
      const diagnostics: Diagnostic[] = [];
      if (misses.length === 0 || migrationsBroken) return { results, diagnostics };
      const c = await connect();
      diagnostics.push(...once(c.diagnostics));
      if (c.client === undefined) return { results, diagnostics };
      try {
        const r = await analyseQueries(c.client, misses, options, source);
        diagnostics.push(...r.diagnostics);
        // A failed nullability analysis (SVC010) is not cached, so its warning shows again on
        // the next run instead of the degraded result passing silently from the cache.
        const degraded = r.diagnostics.some((d) => d.code === Codes.nullability);
        const byName = new Map(r.model.queries.map((q) => [q.name, q]));
        for (const q of misses) {
          const m = byName.get(q.name);
          if (m === undefined) continue;
          analysedCount++;
          const value: CachedAnalysis = {
            params: m.params,
            columns: m.columns,
            ...(m.copyFrom === undefined ? {} : { copyFrom: m.copyFrom }),
            ...(m.readOnly === true ? { readOnly: true } : {}),
          };
          results.set(q, value);
          if (!degraded) cache?.set(queryKey(schema, q.command, q.sql), value);
        }
      } catch (e) {
        diagnostics.push({
          severity: "error",
          code: Codes.database,
          message: `analysis failed: ${(e as Error).message}`,
        });
      }
      return { results, diagnostics };
    },
    async constraints() {
      const hit = cache?.getConstraints(schema);
      if (hit !== undefined) return { constraints: hit, diagnostics: [] };
      if (migrationsBroken) return { constraints: [], diagnostics: [] };
      const c = await connect();
      const diagnostics = once(c.diagnostics);
      if (c.client === undefined) return { constraints: [], diagnostics };
      try {
        const list: readonly ConstraintModel[] = await readConstraints(c.client);
        cache?.setConstraints(schema, list);
        return { constraints: list, diagnostics };
      } catch (e) {
        diagnostics.push({
          severity: "error",
          code: Codes.database,
          message: `reading the schema's constraints failed: ${(e as Error).message}`,
        });
        return { constraints: [], diagnostics };
      }
    },
    analysed: () => analysedCount,
    cached: () => cachedCount,
    async close(runHadErrors) {
      if (db !== undefined) {
        const c = await db;
        await c.client?.end().catch(() => {});
        await c.database?.close();
      }
      if (cache !== undefined && opts.saveCache !== false && !runHadErrors) {
        await cache.save().catch(() => {});
      }
    },
  };
}

/** Analyses the project the config describes (queries and constraints; no protos). Never throws for a user error. */
export async function analyseProject(
  config: ResolvedConfig,
  opts: AnalyseProjectOptions = {},
): Promise<ProjectAnalysis> {
  const inputs = await readInputs(config, { protos: false });
  const session = await openSchemaSession(config, inputs.migrations, inputs.diagnostics, opts);
  try {
    const r = await analyse(
      inputs,
      session,
      opts.parseMemo === undefined ? {} : { parseMemo: opts.parseMemo },
    );
    await session.close(hasErrors(r.diagnostics));
    return { ...r, analysed: session.analysed(), cached: session.cached() };
  } catch (e) {
    await session.close(true);
    throw e;
  }
}
