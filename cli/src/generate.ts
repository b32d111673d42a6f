/**
 * The pure core of svcgen: inputs (read once by `readInputs`) and a schema session in, the
 * Model, every file and every diagnostic out. No disk, no printing, no cache, no connection
 * management: the commands (generate, check, watch, the plugin) do those at the edge, and the
 * session is the only way the core reaches a database.
 */

import { basename } from "node:path";
import type { CachedAnalysis } from "./analyse/analysis-cache.js";
import { buildModel } from "./analyse/model-builder.js";
import { Codes, type Diagnostic, hasErrors } from "./diagnostics.js";
import { emitErrorMap } from "./emit/error-map-emitter.js";
import { emitQueryModules } from "./emit/query-module-emitter.js";
import { emitServerEntries } from "./emit/server-entry-emitter.js";
import { emitTestingKit } from "./emit/testing-kit-emitter.js";
import type { GeneratedFile } from "./inputs.js";
import { manifestName, serialiseManifest } from "./manifest.js";
import type { ConstraintModel, Model, QueryModel } from "./model.js";
import {
  loadParser,
  type ParsedQuery,
  type ParsedQueryFile,
  parseQueryFile,
} from "./parse/query-file-parser.js";
import { projectPath } from "./project-paths.js";
import type { HandlerFile } from "./proto/generate-proto.js";
import type { Inputs } from "./read-inputs.js";

/**
 * How the core reaches the schema: analyses statements and lists the schema's constraints.
 * The commands implement it over a database connection, with the analysis cache in front.
 */
export interface SchemaSession {
  /**
   * The analysis of each query it could analyse; problems as diagnostics, located in the
   * query files (`source` gives a file's text by project path).
   */
  analyse(
    queries: readonly ParsedQuery[],
    source: (path: string) => string,
  ): Promise<{
    readonly results: ReadonlyMap<ParsedQuery, CachedAnalysis>;
    readonly diagnostics: readonly Diagnostic[];
  }>;
  /** The schema's constraints; when the schema cannot be opened, none and the diagnostics why. */
  constraints(): Promise<{
    readonly constraints: readonly ConstraintModel[];
    readonly diagnostics: readonly Diagnostic[];
  }>;
}

/** Options of the core. */
export interface CoreOptions {
  /**
   * Parsed query files of earlier runs by project path, reused while a file's text is
   * unchanged and updated in place (`watch`).
   */
  readonly parseMemo?: Map<string, ParsedQueryFile>;
  /** Emitted query modules to reuse across runs (`watch`). */
  readonly emitMemo?: Map<string, { readonly key: string; readonly file: GeneratedFile }>;
}

/** What {@link analyse} returns. */
export interface Analysis {
  readonly model: Model;
  readonly diagnostics: readonly Diagnostic[];
  /** Every input file's text by project path, for source frames in diagnostics. */
  readonly sources: ReadonlyMap<string, string>;
  /**
   * Whether the queries analysed cleanly (whatever the proto stage found): the analysis is
   * then worth keeping in the cache.
   */
  readonly queriesClean: boolean;
}

/** What {@link generate} returns. */
export interface GenerateOutput extends Analysis {
  /** Files svcgen owns (`<out>/**`), sorted by path; empty when there are errors. */
  readonly files: readonly GeneratedFile[];
  /** User-owned handler files to write: new ones, and existing ones that gained stubs. */
  readonly handlerFiles: readonly HandlerFile[];
  /** Every handler file of the services, project-relative. */
  readonly handlerPaths: readonly string[];
}

/** Parses, analyses through `session` and binds: the Model of the inputs. */
export async function analyse(
  inputs: Inputs,
  session: SchemaSession,
  opts: CoreOptions = {},
): Promise<Analysis> {
  const diagnostics: Diagnostic[] = [...inputs.diagnostics];
  const sources = new Map<string, string>();
  for (const f of [...inputs.queryFiles, ...inputs.migrations]) sources.set(f.path, f.text);

  await loadParser();
  const parsed: ParsedQuery[] = [];
  const firstByName = new Map<string, ParsedQuery>();
  for (const file of inputs.queryFiles) {
    const memo = opts.parseMemo?.get(file.path);
    const unannotated = inputs.config.unannotated ?? "warning";
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

  const analysed = await session.analyse(parsed, (p) => sources.get(p) ?? "");
  diagnostics.push(...analysed.diagnostics);
  const queries: QueryModel[] = [];
  for (const q of parsed) {
    const r = analysed.results.get(q);
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
      ...(r.copyFrom === undefined ? {} : { copyFrom: r.copyFrom }),
      ...(r.readOnly === true ? { readOnly: true } : {}),
    });
  }
  let constraints: readonly ConstraintModel[] = [];
  if (!hasErrors(diagnostics)) {
    const c = await session.constraints();
    diagnostics.push(...c.diagnostics);
    constraints = c.constraints;
  }

  const queriesClean = !hasErrors(diagnostics);
  let services: Model["services"] = [];
  if (inputs.protos !== undefined && !hasErrors(diagnostics)) {
    const { bindProtoServices } = await import("./proto/generate-proto.js");
    const bound = bindProtoServices(inputs.protos, queries);
    diagnostics.push(...bound.diagnostics);
    services = bound.services;
  }
  return {
    model: buildModel({ queries, services, constraints }),
    diagnostics,
    sources,
    queriesClean,
  };
}

/**
 * The whole run: {@link analyse}, then every file svcgen writes (query modules, the manifest,
 * messages, service code) and the handler skeletons, all relative to the project folder.
 * Deterministic: the same inputs and schema give the same bytes.
 */
export async function generate(
  inputs: Inputs,
  session: SchemaSession,
  opts: CoreOptions = {},
): Promise<GenerateOutput> {
  const analysis = await analyse(inputs, session, opts);
  const none = { ...analysis, files: [], handlerFiles: [], handlerPaths: [] };
  if (hasErrors(analysis.diagnostics)) return none;
  const { config } = inputs;
  const out = projectPath(config.rootDir, config.out);
  const files = emitModel(analysis.model, inputs, opts);
  if (inputs.protos === undefined || config.proto === undefined) {
    return { ...none, files };
  }
  const { emitProtoCode, emitHandlerFiles } = await import("./proto/generate-proto.js");
  files.push(...emitProtoCode(inputs.protos, analysis.model, out));
  const handlersDir = projectPath(config.rootDir, config.proto.handlersDir);
  files.push(
    ...emitServerEntries(analysis.model, {
      out,
      handlersDir,
      eventsTransport: config.eventsTransport,
    }),
  );
  files.push(
    ...emitTestingKit(analysis.model, {
      out,
      migrations: inputs.migrations.map((m) => m.path),
      postgres: config.database.postgres,
    }),
  );
  const handlers = emitHandlerFiles(analysis.model, out, handlersDir, (p) =>
    inputs.handlerFiles.get(p),
  );
  return {
    ...analysis,
    diagnostics: [...analysis.diagnostics, ...handlers.diagnostics],
    files: files.sort((a, b) => compare(a.path, b.path)),
    handlerFiles: handlers.handlerFiles,
    handlerPaths: handlers.handlerPaths,
  };
}

/** The query modules, the error map and the manifest of a Model, sorted by path. */
export function emitModel(
  model: Model,
  inputs: Pick<Inputs, "config">,
  opts: CoreOptions = {},
): GeneratedFile[] {
  const { config } = inputs;
  const out = projectPath(config.rootDir, config.out);
  const files = emitQueryModules(model, {
    out,
    int8: config.int8,
    date: config.date,
    preparedStatements: config.preparedStatements,
    memo: opts.emitMemo,
  });
  files.push({ path: `${out}/${manifestName}`, content: serialiseManifest(model) });
  files.push(emitErrorMap(model, { out, domain: config.errorDomain ?? basename(config.rootDir) }));
  return files.sort((a, b) => compare(a.path, b.path));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
