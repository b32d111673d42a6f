/**
 * A project's analysis from its configuration: read query files and migrations, parse,
 * take what the cache has, analyse the rest against a database holding the schema, and
 * return the Model with every diagnostic. Shared by generate, analyze, check and watch.
 */
import { readFile } from "node:fs/promises";
import { relative, sep } from "node:path";
import pg from "pg";
import { analyseQueries } from "./analyse/analyse-queries.js";
import { AnalysisCache, queryKey, schemaHash } from "./analyse/analysis-cache.js";
import type { ResolvedConfig } from "./config/config.js";
import { openSchema, readMigrations, type SchemaSession } from "./db/schema-source.js";
import { Codes, type Diagnostic, hasErrors } from "./diagnostics.js";
import type { SourceFile } from "./inputs.js";
import type { Model, QueryModel } from "./model.js";
import {
  loadParser,
  type ParsedQuery,
  type ParsedQueryFile,
  parseQueryFile,
} from "./parse/query-file-parser.js";

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

/** Options of {@link analyseProject}. */
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
  ) => Promise<{ session: SchemaSession | undefined; diagnostics: Diagnostic[] }>;
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

function toProjectPath(config: ResolvedConfig, abs: string): string {
  return relative(config.rootDir, abs).split(sep).join("/");
}

/** Reads the query files named by the config. Unreadable files become diagnostics. */
export async function readQueryFiles(
  config: ResolvedConfig,
): Promise<{ files: SourceFile[]; diagnostics: Diagnostic[] }> {
  const files: SourceFile[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const abs of config.queryFiles) {
    const path = toProjectPath(config, abs);
    let bytes: Buffer;
    try {
      bytes = await readFile(abs);
    } catch (e) {
      diagnostics.push({
        severity: "error",
        code: Codes.io,
        message: `cannot read query file: ${(e as Error).message}`,
        file: path,
      });
      continue;
    }
    const decoded = decodeUtf8(bytes);
    if (decoded.ok) {
      files.push({ path, text: decoded.text });
      continue;
    }
    // Decoding with replacement characters would turn this into confusing SQL errors (or a
    // "missing annotation"); say what is wrong and where.
    diagnostics.push({
      severity: "error",
      code: Codes.io,
      message: `query file is not valid UTF-8: byte 0x${(bytes[decoded.badByte] ?? 0)
        .toString(16)
        .padStart(2, "0")} at byte offset ${decoded.badByte}`,
      file: path,
      line: decoded.line,
      column: decoded.column,
      hint: "save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)",
    });
  }
  return { files, diagnostics };
}

/**
 * Decodes UTF-8 strictly: the text, or where the first invalid byte is (byte offset, and the
 * 1-based line and character column of the valid text before it). A leading BOM is dropped.
 */
export function decodeUtf8(bytes: Uint8Array):
  | { readonly ok: true; readonly text: string }
  | {
      readonly ok: false;
      readonly badByte: number;
      readonly line: number;
      readonly column: number;
    } {
  try {
    return { ok: true, text: new TextDecoder("utf-8", { fatal: true }).decode(bytes) };
  } catch {
    const bad = firstInvalidUtf8(bytes);
    let lineStart = 0;
    let line = 1;
    for (let i = 0; i < bad; i++) {
      if (bytes[i] === 0x0a) {
        line++;
        lineStart = i + 1;
      }
    }
    const before = new TextDecoder("utf-8").decode(bytes.subarray(lineStart, bad));
    return { ok: false, badByte: bad, line, column: before.length + 1 };
  }
}

/** The offset of the first byte that does not start or continue a valid UTF-8 sequence. */
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i] ?? 0;
    let len: number;
    let min: number;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
      min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      min = 0x10000;
    } else {
      return i;
    }
    let cp = c & (len === 2 ? 0x1f : len === 3 ? 0x0f : 0x07);
    for (let k = 1; k < len; k++) {
      const n = b[i + k];
      // A truncated or broken sequence: the first byte that does not fit is the bad one.
      if (n === undefined || (n & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (n & 0x3f);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are invalid too.
    if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return i;
    i += len;
  }
  return b.length;
}

/** Analyses the project the config describes. Never throws for a user error. */
export async function analyseProject(
  config: ResolvedConfig,
  opts: AnalyseProjectOptions = {},
): Promise<ProjectAnalysis> {
  const diagnostics: Diagnostic[] = [];
  const sources = new Map<string, string>();
  const queryFiles = await readQueryFiles(config);
  const migrations = await readMigrations(config);
  diagnostics.push(...queryFiles.diagnostics, ...migrations.diagnostics);
  for (const f of [...queryFiles.files, ...migrations.files]) sources.set(f.path, f.text);

  await loadParser();
  const parsed: ParsedQuery[] = [];
  const firstByName = new Map<string, ParsedQuery>();
  for (const file of queryFiles.files) {
    const memo = opts.parseMemo?.get(file.path);
    const unannotated = config.unannotated ?? "warning";
    const r =
      memo !== undefined && memo.file.text === file.text && memo.unannotated === unannotated
        ? memo
        : parseQueryFile(file, { unannotated });
    opts.parseMemo?.set(file.path, r);
    diagnostics.push(...r.diagnostics);
    for (const q of r.queries) {
      const prev = firstByName.get(q.name);
      if (prev !== undefined) {
        diagnostics.push({
          severity: "error",
          code: Codes.duplicateName,
          message: `query name ${q.name} is already used at ${prev.file}:${prev.line}`,
          file: q.file,
          line: q.line,
          column: 1,
          hint: "query names must be unique across the project",
        });
        continue;
      }
      firstByName.set(q.name, q);
      parsed.push(q);
    }
  }

  const useCache = (opts.cache ?? true) && !config.database.useLiveSchema;
  const options = { int8: config.int8, date: config.date, overrides: config.types };
  const schema = schemaHash(migrations.files, JSON.stringify(options));
  const cache = useCache
    ? (opts.analysisCache ?? (await AnalysisCache.load(config.cacheDir)))
    : undefined;
  const results = new Map<ParsedQuery, Pick<QueryModel, "params" | "columns">>();
  const misses: ParsedQuery[] = [];
  for (const q of parsed) {
    const hit = cache?.get(queryKey(schema, q.command, q.sql));
    if (hit !== undefined) results.set(q, hit);
    else misses.push(q);
  }

  let analysed = 0;
  // Every key includes the migrations, so a changed migration makes every query a miss and
  // the schema is rebuilt (a broken migration is reported, never hidden by a warm cache).
  if (misses.length > 0 && !hasErrors(migrations.diagnostics)) {
    const open =
      opts.openSchema ??
      ((c, m) => openSchema(c, m, { onProgress: opts.onProgress ?? (() => {}) }));
    const { session, diagnostics: schemaDiags } = await open(config, migrations.files);
    diagnostics.push(...schemaDiags);
    if (session !== undefined) {
      const client = new pg.Client({ connectionString: session.connectionString });
      try {
        await client.connect();
        const r = await analyseQueries(client, misses, options, (p) => sources.get(p) ?? "");
        diagnostics.push(...r.diagnostics);
        // A failed nullability analysis (SVC010) is not cached, so its warning shows again on
        // the next run instead of the degraded result passing silently from the cache.
        const degraded = r.diagnostics.some((d) => d.code === Codes.nullability);
        const byName = new Map(r.model.queries.map((q) => [q.name, q]));
        for (const q of misses) {
          const m = byName.get(q.name);
          if (m === undefined) continue;
          analysed++;
          const value = { params: m.params, columns: m.columns };
          results.set(q, value);
          if (!degraded) cache?.set(queryKey(schema, q.command, q.sql), value);
        }
      } catch (e) {
        diagnostics.push({
          severity: "error",
          code: Codes.database,
          message: `analysis failed: ${(e as Error).message}`,
        });
      } finally {
        await client.end().catch(() => {});
        await session.close();
      }
    }
  }
  if (cache !== undefined && opts.saveCache !== false && !hasErrors(diagnostics)) {
    await cache.save().catch(() => {});
  }

  const queries: QueryModel[] = [];
  for (const q of parsed) {
    const r = results.get(q);
    if (r === undefined) continue;
    queries.push({
      name: q.name,
      file: q.file,
      line: q.line,
      command: q.command,
      sql: q.sql,
      params: r.params,
      columns: r.columns,
      doc: q.doc,
    });
  }
  return {
    model: { queries },
    diagnostics,
    sources,
    analysed,
    cached: parsed.length - misses.length,
  };
}
