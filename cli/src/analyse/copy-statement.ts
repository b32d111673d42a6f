/**
 * `:copyfrom`: the `COPY ... FROM STDIN` statement equivalent to a query's
 * `INSERT INTO t (a, b) VALUES ($1, $2)`, as sqlc derives it. Only that shape has one: one
 * VALUES row whose every value is a parameter (a cast of one is fine: COPY reads the column's
 * type), no ON CONFLICT, RETURNING, WITH or OVERRIDING, which COPY cannot do.
 */
import type { PgNode } from "../parse/pg-ast.js";
import { asNode, type Node, nodeAs } from "../parse/pg-nodes.js";
import type { Catalog } from "./catalog.js";

/**
 * The derived statement, or why there is none, with the 0-based UTF-8 byte offset in the SQL it
 * concerns (as syntax tree locations are).
 */
export type CopyStatement =
  | { readonly ok: true; readonly sql: string; readonly params: readonly number[] }
  | { readonly ok: false; readonly message: string; readonly offset: number };

/** `"name"`: quoted as the server resolved it, so case and keywords survive. */
function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The parameter number of `$n` or of a cast of it (`$1::int`), else undefined. */
function paramNumber(node: Node | undefined): number | undefined {
  const cast = nodeAs(node, "TypeCast");
  const ref = nodeAs(cast === undefined ? node : cast.arg, "ParamRef");
  return ref?.number;
}

/** Derives the COPY statement of a `:copyfrom` query's INSERT (see the module comment). */
export function copyStatement(ast: PgNode, catalog: Catalog): CopyStatement {
  const fail = (message: string, offset = 0): CopyStatement => ({ ok: false, message, offset });
  const insert = nodeAs(asNode(ast), "InsertStmt");
  if (insert === undefined) {
    return fail("a :copyfrom query must be INSERT INTO t (columns) VALUES ($1, ...)");
  }
  const returning = insert.returningClause?.exprs ?? [];
  if (insert.onConflictClause !== undefined || returning.length > 0) {
    return fail("COPY cannot do ON CONFLICT or RETURNING; a :copyfrom INSERT must have neither");
  }
  if (
    insert.withClause !== undefined ||
    (insert.override ?? "OVERRIDING_NOT_SET") !== "OVERRIDING_NOT_SET"
  ) {
    return fail("COPY cannot do WITH or OVERRIDING; a :copyfrom INSERT must have neither");
  }
  const select = nodeAs(insert.selectStmt, "SelectStmt");
  const rows = select?.valuesLists ?? [];
  if (rows.length !== 1) {
    return fail("a :copyfrom INSERT takes one VALUES row of parameters, one per column");
  }
  const values = nodeAs(rows[0], "List")?.items ?? [];
  const params: number[] = [];
  for (const v of values) {
    const n = paramNumber(v);
    if (n === undefined) {
      const at = Object.values(v as Record<string, { location?: number }>)[0]?.location ?? 0;
      return fail("every VALUES item of a :copyfrom INSERT must be a parameter ($n or @name)", at);
    }
    params.push(n);
  }
  const relation = insert.relation;
  const relname = relation?.relname ?? "";
  const schema = relation?.schemaname;
  let columns = (insert.cols ?? []).map((c) => nodeAs(c, "ResTarget")?.name ?? "");
  const target = nodeAs(insert.cols?.[0], "ResTarget");
  if ((insert.cols ?? []).some((c) => (nodeAs(c, "ResTarget")?.indirection ?? []).length > 0)) {
    return fail(
      "COPY loads whole columns: a :copyfrom INSERT cannot assign a field or element",
      target?.location ?? 0,
    );
  }
  if (columns.length === 0) {
    // Without a column list the values fill the table's first columns, in order.
    const rel = catalog.relation(schema, relname);
    if (rel === undefined) return fail(`table ${relname} not found`, relation?.location ?? 0);
    columns = rel.columns.slice(0, params.length).map((c) => c.name);
  }
  const table = [schema, relname].filter((x) => x !== undefined).map((x) => quoteIdent(x));
  const sql = `COPY ${table.join(".")} (${columns.map(quoteIdent).join(", ")}) FROM STDIN`;
  return { ok: true, sql, params };
}
