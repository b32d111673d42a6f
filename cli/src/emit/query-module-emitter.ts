/**
 * Emits the typed query modules: one TypeScript module per query file (`gen/db/<file>.ts`),
 * a shared `enums.ts` with a named union type per enum, and `index.ts` re-exporting all.
 * Pure: Model in, files out. Decisions live in the view-models built here; the templates
 * under `templates/db/` only lay out text.
 */
import { posix } from "node:path";
import { type GeneratedFile, generatedHeader } from "../inputs.js";
import type { ColumnModel, Model, ParamModel, PgType, QueryModel, TsTypeRef } from "../model.js";
import { camelCase, pascalCase, propertyKey, safeIdentifier } from "../names.js";
import {
  type CodecExpr,
  type CodecModes,
  type DateMode,
  type Int8Mode,
  selectDecoder,
  selectEncoder,
} from "./codec-selector.js";
import { createFileBuilder, type FileBuilder } from "./generated-file.js";
import { runtimeModule as defaultRuntimeModule } from "./runtime-symbols.js";
import { defaultTemplatesDir, loadTemplate } from "./template-loader.js";

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
  /** Folder of the templates (with a `db/` sub-folder). Default: svcgen's own `templates/`. */
  readonly templatesDir?: string | undefined;
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

interface CodecView {
  readonly key: string;
  readonly codec: string;
  /** For a `sqlc.embed` column: the row key of its group. */
  readonly group?: string | null;
}

interface QueryView {
  readonly docLines: readonly string[];
  readonly sqlConst: string;
  readonly sqlLiteral: string;
  readonly paramsInterface: string | null;
  readonly paramFields: readonly FieldView[];
  readonly rowInterface: string | null;
  readonly rowFields: readonly FieldView[];
  readonly name: string;
  readonly nameLiteral: string;
  readonly queryConst: string;
  readonly defineQuery: string;
  readonly typeArgs: string;
  readonly paramCodecs: readonly CodecView[];
  readonly columnCodecs: readonly CodecView[];
  readonly prepareOff: boolean;
  readonly fnName: string;
  readonly fnParams: readonly string[];
  readonly returnType: string;
  readonly runFn: string;
  readonly callArgs: string;
  /** For `:many`: the streaming variant (cursor, pull-based); null otherwise. */
  readonly stream: StreamView | null;
}

interface StreamView {
  readonly fnName: string;
  readonly fnParams: readonly string[];
  readonly rowInterface: string;
  readonly runFn: string;
}

interface ModuleView {
  readonly header: string;
  readonly source: string;
  readonly imports: string;
  readonly queries: readonly QueryView[];
}

interface EnumView {
  readonly name: string;
  readonly pgName: string;
  readonly union: string;
}

interface IndexView {
  readonly header: string;
  readonly exports: readonly string[];
}

/** A named union type for one Postgres enum. */
interface EnumType {
  readonly name: string;
  readonly pgName: string;
  readonly labels: readonly string[];
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
  const templatesDir = options.templatesDir ?? defaultTemplatesDir();
  const modes: CodecModes = { int8: options.int8 ?? "bigint", date: options.date ?? "Date" };
  const prepareOff = options.preparedStatements === false;

  const enums = collectEnums(model);
  const byFile = new Map<string, QueryModel[]>();
  for (const q of model.queries) {
    const list = byFile.get(q.file) ?? [];
    list.push(q);
    byFile.set(q.file, list);
  }
  const sources = [...byFile.keys()].sort(compare);
  const modulePaths = assignModulePaths(sources);

  const renderModule = loadTemplate<ModuleView>(templatesDir, "db/query-module.hbs");
  const files: GeneratedFile[] = [];
  // What every module depends on besides its own queries and path.
  const shared =
    options.memo === undefined
      ? ""
      : JSON.stringify([
          dbDir,
          runtimeFrom,
          templatesDir,
          modes,
          prepareOff,
          [...enums.byPgName.entries()].map(([k, e]) => [k, e.name]),
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
    const builder = createFileBuilder(`${dbDir}/${rel}.ts`, runtimeFrom);
    const depth = rel.split("/").length - 1;
    const enumsFrom = `${depth === 0 ? "./" : "../".repeat(depth)}enums.js`;
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
    const views = queries.map((q, i) =>
      queryView(q, names[i]!, builder, { enums, enumsFrom, modes, prepareOff, runtimeFrom }),
    );
    const content = renderModule({
      header: generatedHeader,
      source,
      imports: builder.renderImports(),
      queries: views,
    });
    const file = builder.finish(content);
    options.memo?.set(source, { key: memoKey, file });
    files.push(file);
  }

  const indexExports = [...modulePaths.values()].map((rel) => `./${rel}.js`);
  if (enums.byPgName.size > 0) {
    const renderEnums = loadTemplate<{ header: string; enums: readonly EnumView[] }>(
      templatesDir,
      "db/enums.hbs",
    );
    const enumViews = [...enums.byPgName.values()]
      .sort((a, b) => compare(a.name, b.name))
      .map((e) => ({ name: e.name, pgName: e.pgName, union: enumUnion(e.labels) }));
    files.push({
      path: `${dbDir}/enums.ts`,
      content: renderEnums({ header: generatedHeader, enums: enumViews }),
    });
    indexExports.push("./enums.js");
  }
  if (files.length > 0) {
    const renderIndex = loadTemplate<IndexView>(templatesDir, "db/index.hbs");
    files.push({
      path: `${dbDir}/index.ts`,
      content: renderIndex({ header: generatedHeader, exports: indexExports.sort(compare) }),
    });
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
  readonly enums: EnumTable;
  readonly enumsFrom: string;
  readonly modes: CodecModes;
  readonly prepareOff: boolean;
  readonly runtimeFrom: string;
}

const hasRows = (q: QueryModel): boolean => q.command === "one" || q.command === "many";

function queryView(q: QueryModel, n: QueryNames, b: FileBuilder, ctx: EmitContext): QueryView {
  const paramFields = q.params.map((p) => fieldView(p, b, ctx));
  const rowFields = hasRows(q) ? rowFieldViews(q.columns, b, ctx) : [];
  const hasParams = q.params.length > 0;
  const noFields = "Record<string, never>";
  const queryable = b.runtime("Queryable");
  const queryOptions = b.runtime("QueryOptions");
  const fnParams = [`db: ${queryable}`];
  if (hasParams) fnParams.push(`params: ${n.paramsInterface}`);
  fnParams.push(`opts?: ${queryOptions}`);
  const { runFn, returnType } = commandShape(q, n, b);
  return {
    docLines: docLines(q),
    sqlConst: n.sqlConst,
    sqlLiteral: JSON.stringify(q.sql),
    paramsInterface: hasParams ? n.paramsInterface : null,
    paramFields,
    rowInterface: hasRows(q) ? n.rowInterface : null,
    rowFields,
    name: q.name.replace(/\*\//g, "*\\/"),
    nameLiteral: JSON.stringify(q.name),
    queryConst: n.queryConst,
    defineQuery: b.runtime("defineQuery"),
    typeArgs: `${hasParams ? n.paramsInterface : noFields}, ${hasRows(q) ? n.rowInterface : noFields}`,
    paramCodecs: [...q.params]
      .sort((a, c) => a.position - c.position)
      .map((p) => ({
        key: JSON.stringify(p.tsName),
        codec: renderCodec(selectEncoder(p.pgType), b),
      })),
    columnCodecs: hasRows(q)
      ? q.columns.map((c) => ({
          key: JSON.stringify(c.tsName),
          codec: renderCodec(selectDecoder(c.pgType, c.tsType, ctx.modes), b),
          group: c.embed === undefined ? null : JSON.stringify(camelCase(c.embed)),
        }))
      : [],
    prepareOff: ctx.prepareOff,
    fnName: n.fnName,
    fnParams,
    returnType,
    runFn,
    callArgs: `db, ${n.queryConst}, ${hasParams ? "params" : "undefined"}, opts`,
    stream: q.command === "many" && isCursorable(q.sql) ? streamView(n, hasParams, b) : null,
  };
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

function streamView(n: QueryNames, hasParams: boolean, b: FileBuilder): StreamView {
  const fnParams = [`db: ${b.runtime("Pool")}`];
  if (hasParams) fnParams.push(`params: ${n.paramsInterface}`);
  fnParams.push(`opts?: ${b.runtime("StreamOptions")}`);
  return {
    fnName: n.streamFnName,
    fnParams,
    rowInterface: n.rowInterface,
    runFn: b.runtime("runStream"),
  };
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
      // The analyser diagnoses the batch and copy commands as unsupported before emission;
      // should one slip through, it runs as a plain statement.
      return { runFn: b.runtime("runExec"), returnType: "void" };
  }
}

/** The JSDoc of a query function: the user's doc lines, name and location, and the SQL. */
function docLines(q: QueryModel): string[] {
  const escapeDoc = (s: string): string => s.replace(/\*\//g, "*\\/");
  const lines = q.doc.map(escapeDoc);
  if (lines.length > 0) lines.push("");
  lines.push(`${q.name} (:${q.command}) from ${escapeDoc(q.file)}:${q.line}`);
  lines.push("");
  lines.push("```sql");
  for (const l of q.sql.split(/\r?\n/)) lines.push(escapeDoc(l));
  lines.push("```");
  return lines.map((l) => (l === "" ? " *" : ` * ${l}`.trimEnd()));
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
      doc: `the columns of \`${c.embed.replace(/\*\//g, "*\\/")}\` (sqlc.embed)`,
    });
  }
  return out;
}

function fieldView(f: ParamModel | ColumnModel, b: FileBuilder, ctx: EmitContext): FieldView {
  let type = tsTypeText(f.pgType, f.tsType, b, ctx);
  // Parameters accept readonly arrays too: the runtime only reads them.
  if ("position" in f && !f.tsType.overridden && isArray(f.pgType) && type.endsWith("[]")) {
    type = `readonly ${type}`;
  }
  return {
    key: propertyKey(f.tsName),
    type: f.nullable ? `${type} | null` : type,
    doc: `\`${f.pgType.name.replace(/\*\//g, "*\\/")}\``,
  };
}

/**
 * The TS type text of a value, with its imports registered: override imports as given, the
 * runtime's `JsonValue` when the text uses it, and the shared enum type in place of the
 * enum's union of labels.
 */
function tsTypeText(pgType: PgType, tsType: TsTypeRef, b: FileBuilder, ctx: EmitContext): string {
  let text = tsType.text;
  const imported = new Set<string>();
  for (const imp of tsType.imports) {
    const from =
      imp.from === defaultRuntimeModule ? ctx.runtimeFrom : projectRelativeImport(imp.from, b.path);
    b.import({ name: imp.name, from, typeOnly: true, as: imp.as, isDefault: imp.isDefault });
    imported.add(imp.as ?? imp.name);
  }
  if (!imported.has("JsonValue") && /\bJsonValue\b/.test(text)) b.runtime("JsonValue");
  if (!tsType.overridden) {
    const e = enumOf(pgType);
    const named = e === undefined ? undefined : ctx.enums.byPgName.get(e.name);
    if (named !== undefined) {
      const union = enumUnion(named.labels);
      if (text.includes(union)) {
        const local = b.import({ name: named.name, from: ctx.enumsFrom, typeOnly: true });
        text = text.split(`(${union})`).join(local).split(union).join(local);
      }
    }
  }
  return text;
}

/**
 * An override's module specifier as the generated file must write it. A relative one
 * (`./src/ids.js`) is relative to the project folder, where the config is; it is rewritten
 * relative to the generated file, which may sit in a sub-folder of `<out>/db/`. Package names
 * are kept as they are.
 */
export function projectRelativeImport(from: string, filePath: string): string {
  if (!from.startsWith("./") && !from.startsWith("../")) return from;
  const rel = posix.relative(posix.dirname(filePath), posix.normalize(from));
  return rel.startsWith(".") ? rel : `./${rel}`;
}

function enumUnion(labels: readonly string[]): string {
  // An enum without labels holds no value the analyser can name; it maps to string there too.
  return labels.length === 0 ? "string" : labels.map((l) => JSON.stringify(l)).join(" | ");
}

function isArray(t: PgType): boolean {
  return t.kind === "array" || (t.kind === "domain" && isArray(t.base));
}

/** The enum a value's type is, through domains and arrays. */
function enumOf(t: PgType): Extract<PgType, { kind: "enum" }> | undefined {
  switch (t.kind) {
    case "enum":
      return t;
    case "domain":
      return enumOf(t.base);
    case "array":
      return enumOf(t.element);
    default:
      return undefined;
  }
}

interface EnumTable {
  readonly byPgName: Map<string, EnumType>;
}

/** Every enum used by a parameter or column, named in PascalCase; clashing names get `2`, `3`, .... */
function collectEnums(model: Model): EnumTable {
  const found = new Map<string, Extract<PgType, { kind: "enum" }>>();
  for (const q of model.queries) {
    for (const f of [...q.params, ...q.columns]) {
      const e = enumOf(f.pgType);
      if (e !== undefined && !found.has(e.name)) found.set(e.name, e);
    }
  }
  const byPgName = new Map<string, EnumType>();
  const usedNames = new Set<string>();
  for (const pgName of [...found.keys()].sort(compare)) {
    const e = found.get(pgName)!;
    const base = pascalCase(pgName.replace(/"/g, "")) || "Enum";
    let name = base;
    for (let i = 2; usedNames.has(name); i++) name = `${base}${i}`;
    usedNames.add(name);
    byPgName.set(pgName, { name, pgName, labels: e.labels });
  }
  return { byPgName };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
