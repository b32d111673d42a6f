/**
 * Emits the typed query modules: one TypeScript module per query file (`gen/db/<file>.ts`),
 * a shared `enums.ts` with a named union type per enum, and `index.ts` re-exporting all.
 * Pure: Model in, files out, printed with the one TypeScript printer (`generated-file.ts`).
 */
import { type GeneratedFile, generatedHeader } from "../inputs.js";
import {
  type ColumnModel,
  type CopyFromModel,
  commandReturnsRows,
  type Model,
  type ParamModel,
  type QueryCommand,
  type QueryModel,
} from "../model.js";
import { camelCase, pascalCase, propertyKey, safeIdentifier } from "../names.js";
import { enumLabelsUnion, isOverridden } from "../ts-type-renderer.js";
import {
  type CodecExpr,
  type CodecModes,
  type DateMode,
  type Int8Mode,
  selectDecoder,
  selectEncoder,
} from "./codec-selector.js";
import {
  createFileBuilder,
  type EnumNaming,
  escapeComment,
  type FileBuilder,
} from "./generated-file.js";
import { runtimeModule as defaultRuntimeModule } from "./runtime-symbols.js";

/** Options of {@link emitQueryModules}. */
export interface QueryEmitOptions {
  /** Output folder relative to the project folder (config `out`, e.g. `gen`); modules go to `<out>/db/`. */
  readonly out: string;
  /** Module specifier generated code imports the runtime from. Default `@svcgen/runtime`. */
  readonly runtimeModule?: string | undefined;
  /** Config `int8`, for codecs of overridden int8 types (others follow their TS type). Default `bigint`. */
  readonly int8?: Int8Mode | undefined;
  /** Config `date`, for codecs of overridden date types. Default `Date`. */
  readonly date?: DateMode | undefined;
  /**
   * Config `preparedStatements`. When false, generated queries never use named prepared
   * statements, whatever the runtime's setting. Default true (the runtime setting decides).
   */
  readonly preparedStatements?: boolean | undefined;
  /**
   * Modules emitted by earlier calls, reused when everything a module depends on is the same
   * (`watch` keeps one across runs, so an edit re-emits only its own file). Filled by the call.
   */
  readonly memo?: Map<string, { readonly key: string; readonly file: GeneratedFile }> | undefined;
}

export { generatedHeader };

interface FieldView {
  readonly key: string;
  readonly type: string;
  readonly doc: string;
}

/**
 * Turns the model's queries into TypeScript modules under `<out>/db/`. Query files keep their
 * folders relative to the deepest folder holding all query files (`queries/admin/roles.sql`
 * -> `gen/db/admin/roles.ts`). Paths that clash (case-insensitively, or with `index.ts` /
 * `enums.ts`) get `_2`, `_3`, ... in the order of the sorted source paths. Output is sorted
 * by path and deterministic byte for byte.
 */
export function emitQueryModules(model: Model, options: QueryEmitOptions): GeneratedFile[] {
  const dbDir = `${normaliseOut(options.out)}db`;
  const runtimeFrom = options.runtimeModule ?? defaultRuntimeModule;
  const modes: CodecModes = { int8: options.int8 ?? "bigint", date: options.date ?? "Date" };
  const prepareOff = options.preparedStatements === false;

  const enums = new Map(model.enums.map((e) => [e.pgName, e]));
  const byFile = new Map<string, QueryModel[]>();
  for (const q of model.queries) {
    const list = byFile.get(q.file) ?? [];
    list.push(q);
    byFile.set(q.file, list);
  }
  const sources = [...byFile.keys()].sort(compare);
  const modulePaths = assignModulePaths(sources);

  const files: GeneratedFile[] = [];
  // What every module depends on besides its own queries and path.
  const shared =
    options.memo === undefined
      ? ""
      : JSON.stringify([
          dbDir,
          runtimeFrom,
          modes,
          prepareOff,
          model.enums.map((e) => [e.pgName, e.name]),
        ]);
  for (const source of sources) {
    const rel = modulePaths.get(source)!;
    const memoKey =
      options.memo === undefined ? "" : `${shared}\0${rel}\0${JSON.stringify(byFile.get(source))}`;
    const remembered = options.memo?.get(source);
    if (remembered !== undefined && remembered.key === memoKey) {
      files.push(remembered.file);
      continue;
    }
    const builder = createFileBuilder(`${dbDir}/${rel}.ts`, {
      runtimeFrom,
      preamble: [generatedHeader, `// source: ${source}`],
    });
    const depth = rel.split("/").length - 1;
    const enumNaming: EnumNaming = {
      from: `${depth === 0 ? "./" : "../".repeat(depth)}enums.js`,
      nameOf: (pgName) => enums.get(pgName)?.name,
    };
    const queries = byFile.get(source)!;
    // Every name the module declares is reserved first, so imports never shadow them.
    const names = queries.map((q) => queryNames(q));
    for (const n of names) {
      for (const name of [
        n.sqlConst,
        n.paramsInterface,
        n.rowInterface,
        n.queryConst,
        n.fnName,
        n.streamFnName,
      ]) {
        builder.declare(name);
      }
    }
    queries.forEach((q, i) => {
      printQuery(q, names[i]!, builder, { enums: enumNaming, modes, prepareOff });
    });
    const file = builder.finish();
    options.memo?.set(source, { key: memoKey, file });
    files.push(file);
  }

  const indexExports = [...modulePaths.values()].map((rel) => `./${rel}.js`);
  if (model.enums.length > 0) {
    const f = createFileBuilder(`${dbDir}/enums.ts`, { runtimeFrom });
    for (const e of [...model.enums].sort((a, b) => compare(a.name, b.name))) {
      f.print();
      f.print`/** The PostgreSQL enum \`${escapeComment(e.pgName)}\`. */`;
      f.print`export type ${e.name} = ${enumLabelsUnion(e.labels)};`;
    }
    files.push(f.finish());
    indexExports.push("./enums.js");
  }
  if (files.length > 0) {
    const f = createFileBuilder(`${dbDir}/index.ts`, { runtimeFrom });
    f.print();
    for (const e of indexExports.sort(compare)) f.print`export * from ${JSON.stringify(e)};`;
    files.push(f.finish());
  }
  return files.sort((a, b) => compare(a.path, b.path));
}

/** The output folder as a path prefix: `gen` -> `gen/`; `.`, `./` and `` -> `` (the project folder). */
function normaliseOut(out: string): string {
  const trimmed = out
    .replace(/\\/g, "/")
    .replace(/^(\.\/)+/, "")
    .replace(/\/+$/, "");
  return trimmed === "" || trimmed === "." ? "" : `${trimmed}/`;
}

/** Module paths (without `.ts`) for the sorted query files, relative to `<out>/db/`. */
function assignModulePaths(sources: readonly string[]): Map<string, string> {
  const dirs = sources.map((s) => s.split("/").slice(0, -1));
  let common = dirs[0] ?? [];
  for (const d of dirs) {
    let i = 0;
    while (i < common.length && i < d.length && common[i] === d[i]) i++;
    common = common.slice(0, i);
  }
  const taken = new Set(["index", "enums"]);
  const result = new Map<string, string>();
  for (const source of sources) {
    const parts = source.split("/").slice(common.length);
    const stem = parts
      .map((p, i) => (i === parts.length - 1 ? p.replace(/\.sql$/i, "") : p))
      .map((p) => p.replace(/[^A-Za-z0-9_.-]/g, "_"))
      .join("/");
    let candidate = stem;
    for (let n = 2; taken.has(candidate.toLowerCase()); n++) candidate = `${stem}_${n}`;
    taken.add(candidate.toLowerCase());
    result.set(source, candidate);
  }
  return result;
}

interface QueryNames {
  readonly sqlConst: string;
  readonly paramsInterface: string;
  readonly rowInterface: string;
  readonly queryConst: string;
  readonly fnName: string;
  readonly streamFnName: string;
}

/**
 * The name of a query's generated function (`GetUser` -> `getUser`, `URLFor` -> `urlFor`,
 * `Delete` -> `delete_`). Other emitters that call query functions use this, never their own
 * spelling.
 */
export function queryFunctionName(queryName: string): string {
  return safeIdentifier(camelCase(queryName));
}

/** The name of a `:many` query's generated streaming function (`ListUsers` -> `listUsersStream`). */
export function queryStreamFunctionName(queryName: string): string {
  return `${camelCase(queryName)}Stream`;
}

/**
 * Where each query file's module goes: query file -> module path relative to `<out>/db/`,
 * without extension (`sql/queries/admin/roles.sql` -> `admin/roles`), with the same clash
 * resolution as {@link emitQueryModules}. Other emitters import query functions through this
 * (or through `<out>/db/index.js`, which re-exports every module).
 */
export function queryModulePaths(model: Model): ReadonlyMap<string, string> {
  return assignModulePaths([...new Set(model.queries.map((q) => q.file))].sort(compare));
}

function queryNames(q: QueryModel): QueryNames {
  const pascal = pascalCase(q.name);
  const camel = camelCase(q.name);
  return {
    sqlConst: `${camel}Sql`,
    paramsInterface: `${pascal}Params`,
    rowInterface: `${pascal}Row`,
    queryConst: `${camel}Query`,
    fnName: queryFunctionName(q.name),
    streamFnName: queryStreamFunctionName(q.name),
  };
}

interface EmitContext {
  readonly enums: EnumNaming;
  readonly modes: CodecModes;
  readonly prepareOff: boolean;
}

/** Prints one query: SQL constant, Params and Row types, the query definition and functions. */
function printQuery(q: QueryModel, n: QueryNames, f: FileBuilder, ctx: EmitContext): void {
  const hasParams = q.params.length > 0;
  const rows = commandReturnsRows(q.command);
  const name = escapeComment(q.name);
  f.print();
  f.print`export const ${n.sqlConst} = ${JSON.stringify(q.sql)};`;
  if (hasParams) {
    f.print();
    f.print`/** Parameters of ${name}, keyed as in the query; \`null\` sends SQL NULL. */`;
    f.print`export interface ${n.paramsInterface} {`;
    for (const field of q.params.map((p) => fieldView(p, f, ctx))) {
      f.print`  /** ${field.doc} */`;
      f.print`  readonly ${field.key}: ${field.type};`;
    }
    f.print("}");
  }
  if (rows) {
    f.print();
    f.print`/** One row of ${name}. */`;
    f.print`export interface ${n.rowInterface} {`;
    for (const field of rowFieldViews(q.columns, f, ctx)) {
      f.print`  /** ${field.doc} */`;
      f.print`  ${field.key}: ${field.type};`;
    }
    f.print("}");
  }
  if (q.command === "copyfrom" && q.copyFrom !== undefined) {
    printCopyFrom(q, q.copyFrom, n, f);
    return;
  }
  const noFields = "Record<string, never>";
  const typeArgs = `${hasParams ? n.paramsInterface : noFields}, ${rows ? n.rowInterface : noFields}`;
  f.print();
  f.print`const ${n.queryConst} = ${f.runtime("defineQuery")}<${typeArgs}>({`;
  f.print`  name: ${JSON.stringify(q.name)},`;
  f.print`  sql: ${n.sqlConst},`;
  const paramCodecs = [...q.params]
    .sort((a, c) => a.position - c.position)
    .map((p) => `    [${JSON.stringify(p.tsName)}, ${renderCodec(selectEncoder(p.pgType), f)}],`);
  printList(f, "params", paramCodecs);
  const columnCodecs = rows
    ? q.columns.map((c) => {
        const codec = renderCodec(selectDecoder(c.pgType, c.tsType, ctx.modes), f);
        const group = c.embed === undefined ? "" : `, ${JSON.stringify(camelCase(c.embed))}`;
        return `    [${JSON.stringify(c.tsName)}, ${codec}${group}],`;
      })
    : [];
  printList(f, "columns", columnCodecs);
  if (ctx.prepareOff) f.print("  prepare: false,");
  // The runtime retries only these at the query (see analyse/read-only.ts).
  if (q.readOnly === true) f.print("  readOnly: true,");
  f.print("});");
  if (isBatch(q.command)) {
    printBatch(q, n, f, hasParams ? n.paramsInterface : noFields);
    return;
  }
  const { runFn, returnType } = commandShape(q, n, f);
  const callArgs = `db, ${n.queryConst}, ${hasParams ? "params" : "undefined"}, opts`;
  f.print();
  f.jsDoc(docLines(q));
  f.print`export async function ${n.fnName}(`;
  f.print`  db: ${f.runtime("Queryable")},`;
  if (hasParams) f.print`  params: ${n.paramsInterface},`;
  f.print`  opts?: ${f.runtime("QueryOptions")},`;
  f.print`): Promise<${returnType}> {`;
  f.print`  return ${runFn}(${callArgs});`;
  f.print("}");
  if (q.command === "many" && isCursorable(q.sql)) {
    f.print();
    f.jsDoc([
      `${q.name} row by row through a server-side cursor, \`batchSize\` rows per FETCH (default 100),`,
      "fetched only as the consumer pulls: for large results and streaming RPCs. Leaving the loop",
      "early rolls back the cursor's transaction and returns the connection to the pool.",
    ]);
    f.print`export function ${n.streamFnName}(`;
    f.print`  db: ${f.runtime("Pool")},`;
    if (hasParams) f.print`  params: ${n.paramsInterface},`;
    f.print`  opts?: ${f.runtime("StreamOptions")},`;
    f.print`): AsyncGenerator<${n.rowInterface}, void, undefined> {`;
    f.print`  return ${f.runtime("runStream")}(${callArgs});`;
    f.print("}");
  }
}

function isBatch(command: QueryCommand): boolean {
  return command === "batchexec" || command === "batchone" || command === "batchmany";
}

/**
 * A `:copyfrom` query: its parameters are the row type, and the function loads any number of
 * rows (an array or an async iterable) with the derived `COPY ... FROM STDIN`.
 */
function printCopyFrom(q: QueryModel, copy: CopyFromModel, n: QueryNames, f: FileBuilder): void {
  const byPosition = new Map(q.params.map((p) => [p.position, p]));
  const rowType = q.params.length > 0 ? n.paramsInterface : "Record<string, never>";
  f.print();
  f.print`const ${n.queryConst}: ${f.runtime("CopySpec")}<${rowType}> = {`;
  f.print`  name: ${JSON.stringify(q.name)},`;
  f.print`  sql: ${JSON.stringify(copy.sql)},`;
  const columns = copy.params.map((position) => {
    const p = byPosition.get(position)!;
    return `    [${JSON.stringify(p.tsName)}, ${renderCodec(selectEncoder(p.pgType), f)}],`;
  });
  printList(f, "columns", columns);
  f.print("};");
  f.print();
  f.jsDoc([
    ...docLines(q),
    "",
    `Loads every row of \`rows\` with \`${copy.sql}\`,`,
    "at the pace the server takes them, and returns how many were stored. On any failure (a",
    "row the database rejects, a source that throws, an abort) nothing is stored.",
  ]);
  f.print`export async function ${n.fnName}(`;
  f.print`  db: ${f.runtime("Queryable")},`;
  f.print`  rows: Iterable<${rowType}> | AsyncIterable<${rowType}>,`;
  f.print`  opts?: ${f.runtime("CopyOptions")},`;
  f.print("): Promise<number> {");
  f.print`  return ${f.runtime("runCopyFrom")}(db, ${n.queryConst}, rows, opts);`;
  f.print("}");
}

/**
 * A `:batchexec`/`:batchone`/`:batchmany` query: the function runs the statement once per
 * item, pipelined on one connection, and returns one result per item.
 */
function printBatch(q: QueryModel, n: QueryNames, f: FileBuilder, paramsType: string): void {
  const value =
    q.command === "batchone"
      ? `${n.rowInterface} | null`
      : q.command === "batchmany"
        ? `${n.rowInterface}[]`
        : "undefined";
  const runFn =
    q.command === "batchone"
      ? f.runtime("runBatchOne")
      : q.command === "batchmany"
        ? f.runtime("runBatchMany")
        : f.runtime("runBatchExec");
  f.print();
  f.jsDoc([
    ...docLines(q),
    "",
    "Runs once per item, pipelined on one connection; each result is that item's value or its",
    "own error. With `transaction: true`, all or nothing.",
  ]);
  f.print`export async function ${n.fnName}(`;
  f.print`  db: ${f.runtime("Queryable")},`;
  f.print`  items: readonly ${paramsType}[],`;
  f.print`  opts?: ${f.runtime("BatchOptions")},`;
  f.print`): Promise<${f.runtime("BatchResult")}<${value}>[]> {`;
  f.print`  return ${runFn}(db, ${n.queryConst}, items, opts);`;
  f.print("}");
}

/** Prints `  key: [],` or the entries one per line. */
function printList(f: FileBuilder, key: string, entries: readonly string[]): void {
  if (entries.length === 0) {
    f.print`  ${key}: [],`;
    return;
  }
  f.print`  ${key}: [`;
  for (const e of entries) f.print(e);
  f.print("  ],");
}

/**
 * Whether a cursor can run the statement: it starts (after comments and parentheses) with
 * SELECT, VALUES, TABLE or WITH. INSERT/UPDATE/DELETE ... RETURNING cannot be streamed; a WITH
 * holding a data-modifying statement gets the server's own error when streamed.
 */
function isCursorable(sql: string): boolean {
  const head = sql.replace(/^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/|\()*/, "");
  return /^(?:select|values|table|with)\b/i.test(head);
}

function commandShape(
  q: QueryModel,
  n: QueryNames,
  b: FileBuilder,
): { runFn: string; returnType: string } {
  switch (q.command) {
    case "one":
      return { runFn: b.runtime("runOne"), returnType: `${n.rowInterface} | null` };
    case "many":
      return { runFn: b.runtime("runMany"), returnType: `${n.rowInterface}[]` };
    case "execrows":
      return { runFn: b.runtime("runExecRows"), returnType: "number" };
    case "execresult":
      return { runFn: b.runtime("runExecResult"), returnType: b.runtime("ExecResult") };
    case "exec":
    case "copyfrom":
    case "batchexec":
    case "batchone":
    case "batchmany":
      // Copy and batch queries have their own printers; a :copyfrom without its derived COPY
      // never gets past analysis.
      return { runFn: b.runtime("runExec"), returnType: "void" };
  }
}

/** The JSDoc lines of a query function: the user's doc lines, name and location, and the SQL. */
function docLines(q: QueryModel): string[] {
  const lines = [...q.doc];
  if (lines.length > 0) lines.push("");
  lines.push(`${q.name} (:${q.command}) from ${q.file}:${q.line}`);
  lines.push("");
  lines.push("```sql");
  lines.push(...q.sql.split(/\r?\n/));
  lines.push("```");
  return lines;
}

function renderCodec(expr: CodecExpr, b: FileBuilder): string {
  const fn = b.runtime(expr.symbol);
  return expr.kind === "symbol" ? fn : `${fn}(${renderCodec(expr.element, b)})`;
}

/**
 * The row type's fields: plain columns as they come, the columns of each `sqlc.embed(t)` as
 * one field `t` holding an object type, at the place of the group's first column.
 */
function rowFieldViews(
  columns: readonly ColumnModel[],
  b: FileBuilder,
  ctx: EmitContext,
): FieldView[] {
  const out: FieldView[] = [];
  const done = new Set<string>();
  for (const c of columns) {
    if (c.embed === undefined) {
      out.push(fieldView(c, b, ctx));
      continue;
    }
    if (done.has(c.embed)) continue;
    done.add(c.embed);
    const members = columns
      .filter((m) => m.embed === c.embed)
      .map((m) => {
        const f = fieldView(m, b, ctx);
        return `${f.key}: ${f.type}`;
      });
    out.push({
      key: propertyKey(camelCase(c.embed)),
      type: `{ ${members.join("; ")} }`,
      doc: `the columns of \`${escapeComment(c.embed)}\` (sqlc.embed)`,
    });
  }
  return out;
}

function fieldView(f: ParamModel | ColumnModel, b: FileBuilder, ctx: EmitContext): FieldView {
  let type = b.typeText(f.tsType, ctx.enums);
  // Parameters accept readonly arrays too: the runtime only reads them.
  if ("position" in f && f.tsType.kind === "array" && !isOverridden(f.tsType)) {
    type = `readonly ${type}`;
  }
  return {
    key: propertyKey(f.tsName),
    type: f.nullable ? `${type} | null` : type,
    doc: `\`${escapeComment(f.pgType.name)}\``,
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
