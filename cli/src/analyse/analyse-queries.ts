/**
 * Analysis: parsed queries + a connection to a database holding the schema -> the Model.
 * Types come from the server (pipelined Parse/Describe, catalog lookups); nullability from
 * the syntax tree on top of catalog facts (nullability.ts); parameter names and nullability
 * from the statement's context (param-context.ts).
 */
import type pg from "pg";
import { Codes, type Diagnostic, LineIndex } from "../diagnostics.js";
import {
  type ColumnModel,
  type CopyFromModel,
  commandReturnsRows,
  type Model,
  type ParamModel,
  type PgType,
  type QueryModel,
} from "../model.js";
import { camelCase } from "../names.js";
import { as, kindOf, type PgNode } from "../parse/pg-ast.js";
import type { ParsedQuery } from "../parse/query-file-parser.js";
import { ByteOffsets } from "../parse/sql-text.js";
import { loadCatalog } from "./catalog.js";
import { copyStatement } from "./copy-statement.js";
import { describeStatements } from "./describe.js";
import { buildModel } from "./model-builder.js";
import { NullabilityAnalyser, type OutCol } from "./nullability.js";
import { paramContexts } from "./param-context.js";
import { isReadOnlyStatement } from "./read-only.js";
import { type TsTypeOptions, tsTypeFor } from "./ts-types.js";

/** The result of analysing a set of queries. */
export interface AnalysisResult {
  readonly model: Model;
  readonly diagnostics: readonly Diagnostic[];
}

/**
 * Analyses `queries` against the schema in the database `client` is connected to.
 * `fileText(path)` returns a query file's text, to place diagnostics. The client is used
 * exclusively for the duration of the call.
 */
export async function analyseQueries(
  client: pg.Client,
  queries: readonly ParsedQuery[],
  options: TsTypeOptions,
  fileText: (path: string) => string,
): Promise<AnalysisResult> {
  const diagnostics: Diagnostic[] = [];
  const catalog = await loadCatalog(client);
  const described = await describeStatements(
    client,
    queries.map((q) => q.sql),
  );

  const typeOids = new Set<number>();
  const functionNames = new Set<string>();
  for (const [i, d] of described.entries()) {
    if (!d.ok) continue;
    for (const o of d.paramOids) typeOids.add(o);
    for (const f of d.fields) {
      typeOids.add(f.typeOid);
      const col = catalog.relationByOid(f.tableOid)?.columns.find((c) => c.attnum === f.columnAttr);
      if (col !== undefined) typeOids.add(col.typeOid);
    }
    for (const n of NullabilityAnalyser.functionNames(queries[i]?.ast)) functionNames.add(n);
  }
  // Views are analysed from their definitions: their functions matter too.
  functionNames.add("count");
  await catalog.loadTypes(typeOids);
  await catalog.loadFunctions(functionNames);

  const out: QueryModel[] = [];
  const analyser = new NullabilityAnalyser(catalog);
  const lineIndexes = new Map<string, LineIndex>();
  const positionIn = (file: string, offset: number) => {
    let index = lineIndexes.get(file);
    if (index === undefined) {
      index = new LineIndex(fileText(file));
      lineIndexes.set(file, index);
    }
    return index.positionAt(offset);
  };
  for (const [i, q] of queries.entries()) {
    const d = described[i];
    if (d === undefined) continue;
    if (!d.ok) {
      const sqlOffset = d.position === undefined ? 0 : d.position - 1;
      const pos = positionIn(q.file, q.toFileOffset(sqlOffset));
      diagnostics.push({
        severity: "error",
        code: Codes.server,
        message: `${q.name}: ${d.message}`,
        file: q.file,
        line: pos.line,
        column: pos.column,
        ...(d.hint !== undefined || d.detail !== undefined
          ? { hint: [d.detail, d.hint].filter((x) => x !== undefined).join("; ") }
          : {}),
      });
      continue;
    }
    // A SELECT of no columns (`SELECT FROM t`) still returns rows, each an empty object, as
    // sqlc generates it; a statement that returns no rows at all does not fit :one/:many.
    if (commandReturnsRows(q.command) && d.fields.length === 0 && !returnsRows(q.ast)) {
      const pos = positionIn(q.file, q.toFileOffset(0));
      diagnostics.push({
        severity: "error",
        code: Codes.commandMismatch,
        message: `${q.name} is :${q.command} but the statement returns no columns`,
        file: q.file,
        line: pos.line,
        column: pos.column,
        hint: q.command.startsWith("batch")
          ? "use :batchexec, or add a RETURNING clause"
          : "use :exec or :execrows, or add a RETURNING clause",
      });
      continue;
    }

    // Parameters: name and nullability from context.
    const contexts = paramContexts(q.ast, catalog);
    const usedNames = new Map<string, number>();
    const params: ParamModel[] = d.paramOids.map((oid, k) => {
      const position = k + 1;
      const parsed = q.params[k];
      const ctx = contexts.get(position);
      let name = parsed?.name ?? ctx?.columnName ?? `dollar_${position}`;
      if (parsed?.name === undefined) {
        const seen = usedNames.get(name) ?? 0;
        usedNames.set(name, seen + 1);
        if (seen > 0) name = `${name}_${seen + 1}`;
      }
      const pgType = catalog.type(oid);
      const nullable = (parsed?.nullable ?? false) || (ctx?.assignedTo?.nullable ?? false);
      const column = ctx?.assignedTo ?? ctx?.comparedTo;
      return {
        name,
        tsName: camelCase(name),
        position,
        pgType,
        tsType: tsTypeFor(
          pgType,
          "param",
          options,
          column === undefined ? undefined : { table: column.table, column: column.column },
        ),
        nullable,
        ...(parsed?.slice === true ? { slice: true as const } : {}),
        ...(column === undefined ? {} : { column: { table: column.table, column: column.column } }),
      };
    });
    uniqueTsNames(params);

    // Columns: types from Describe, nullability from the tree.
    let inferred: readonly OutCol[];
    try {
      inferred = analyser.analyse(
        q.ast,
        (n) => params[n - 1]?.nullable ?? true,
        new Map(q.embeds.map((e) => [e.location, e.alias])),
      );
    } catch (err) {
      // Nullable is the safe answer, but never a silent one: say which query lost its types.
      inferred = [];
      const pos = positionIn(q.file, q.toFileOffset(0));
      diagnostics.push({
        severity: "warning",
        code: Codes.nullability,
        message: `${q.name}: nullability analysis failed (${err instanceof Error ? err.message : String(err)}); every result column is typed nullable`,
        file: q.file,
        line: pos.line,
        column: pos.column,
        hint: "add ! to a column alias to declare it not null; please report the statement",
      });
    }
    // When the tree's column count disagrees with the server's, trust nothing from the tree.
    const trustTree = inferred.length === d.fields.length;
    const columns: ColumnModel[] = d.fields.map((f, k) => {
      let name = f.name;
      let forced: boolean | undefined;
      if (name.length > 1 && name.endsWith("!")) {
        name = name.slice(0, -1);
        forced = false;
      } else if (name.length > 1 && name.endsWith("?") && name !== "?column?") {
        name = name.slice(0, -1);
        forced = true;
      }
      const rel = f.tableOid === 0 ? undefined : catalog.relationByOid(f.tableOid);
      const relCol = rel?.columns.find((c) => c.attnum === f.columnAttr);
      let pgType: PgType = catalog.type(f.typeOid);
      // Describe reports a domain column as its base type: recover the domain.
      if (relCol !== undefined && relCol.typeOid !== f.typeOid) {
        const declared = catalog.type(relCol.typeOid);
        if (domainReaches(declared, f.typeOid)) pgType = declared;
      }
      const tree = trustTree ? inferred[k] : undefined;
      const nullable = forced ?? tree?.nullable ?? true;
      const source =
        rel !== undefined && relCol !== undefined && rel.kind === "table"
          ? { table: rel.name, column: relCol.name }
          : tree?.source;
      return {
        name,
        tsName: camelCase(name),
        pgType,
        tsType: tsTypeFor(pgType, "result", options, source),
        nullable,
        ...(source !== undefined ? { source } : {}),
        ...(tree?.embed !== undefined ? { embed: tree.embed } : {}),
      };
    });
    const embedded = new Set(columns.flatMap((c) => (c.embed === undefined ? [] : [c.embed])));
    const lost = q.embeds.filter((e) => !embedded.has(e.alias));
    if (lost.length > 0) {
      const pos = positionIn(q.file, q.toFileOffset(0));
      diagnostics.push({
        severity: "error",
        code: Codes.unsupported,
        message: `${q.name}: sqlc.embed(${lost.map((e) => e.alias).join("), sqlc.embed(")}) could not be mapped to result columns`,
        file: q.file,
        line: pos.line,
        column: pos.column,
        hint: "use sqlc.embed(t) in the select list of a plain SELECT, with t a table or alias of its FROM clause",
      });
      continue;
    }
    // Keys are unique among the row's own fields and embedded groups, and within each group.
    const top = columns.filter((c) => c.embed === undefined);
    const groups = [...embedded].map((g) => ({ tsName: camelCase(g) }));
    // Groups first: an embedded table keeps its name (`camelCase(t)`); a clashing column yields.
    const topKeys = [...groups, ...top];
    uniqueTsNames(topKeys);
    for (const [i, c] of top.entries()) {
      const k = topKeys[groups.length + i];
      if (k !== undefined && k.tsName !== c.tsName)
        columns[columns.indexOf(c)] = { ...c, tsName: k.tsName };
    }
    for (const g of embedded) {
      const members = columns.filter((c) => c.embed === g);
      const keyed = members.map((c) => ({ tsName: c.tsName }));
      uniqueTsNames(keyed);
      for (const [i, c] of members.entries()) {
        const k = keyed[i];
        if (k !== undefined && k.tsName !== c.tsName)
          columns[columns.indexOf(c)] = { ...c, tsName: k.tsName };
      }
    }

    let copyFrom: CopyFromModel | undefined;
    if (q.command === "copyfrom") {
      const copy = copyStatement(q.ast, catalog);
      if (!copy.ok) {
        // Syntax tree locations are UTF-8 byte offsets into the SQL.
        const at = new ByteOffsets(q.sql).toChar(copy.offset);
        const pos = positionIn(q.file, q.toFileOffset(at));
        diagnostics.push({
          severity: "error",
          code: Codes.commandMismatch,
          message: `${q.name}: ${copy.message}`,
          file: q.file,
          line: pos.line,
          column: pos.column,
          hint: "write :copyfrom queries as INSERT INTO t (a, b) VALUES ($1, $2), or use :batchexec",
        });
        continue;
      }
      copyFrom = { sql: copy.sql, params: copy.params };
    }

    const readOnly = await isReadOnlyStatement(q.ast, catalog);
    out.push({
      name: q.name,
      file: q.file,
      line: q.line,
      command: q.command,
      sql: q.sql,
      params,
      columns,
      doc: q.doc,
      ...(copyFrom === undefined ? {} : { copyFrom }),
      ...(readOnly ? { readOnly } : {}),
    });
  }
  return { model: buildModel({ queries: out }), diagnostics };
}

function domainReaches(t: PgType, oid: number): boolean {
  for (let x: PgType = t; ; ) {
    if (x.oid === oid) return true;
    if (x.kind !== "domain") return false;
    x = x.base;
  }
}

/** Makes `tsName`s unique within a list by numbering repeats (`id`, `id2`). */
function uniqueTsNames<T extends { tsName: string }>(items: T[]): void {
  const seen = new Set<string>();
  for (const [i, it] of items.entries()) {
    let name = it.tsName;
    for (let k = 2; seen.has(name); k++) name = `${it.tsName}${k}`;
    seen.add(name);
    if (name !== it.tsName) items[i] = { ...it, tsName: name };
  }
}

/** A SELECT (not `SELECT ... INTO`), which returns rows even when it has no columns. */
function returnsRows(ast: PgNode): boolean {
  return kindOf(ast) === "SelectStmt" && as(ast, "SelectStmt")?.intoClause === undefined;
}
