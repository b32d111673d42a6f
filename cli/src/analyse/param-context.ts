/**
 * What a statement's syntax says about each `$n`: the column it is compared with or
 * assigned to (which names it), and whether it is assigned directly to a column in
 * `INSERT ... VALUES` or `UPDATE ... SET` / `ON CONFLICT DO UPDATE SET` (which decides
 * whether it may be null).
 */
import { as, child, list, names, num, type PgBody, str, unwrap } from "../parse/pg-ast.js";
import type { Catalog, CatalogRelation } from "./catalog.js";

/** Context of one parameter. */
export interface ParamContext {
  /** The column name it is compared with or assigned to, first occurrence. */
  readonly columnName: string | undefined;
  /** Set when assigned directly to a table column. */
  readonly assignedTo:
    | { readonly table: string; readonly column: string; readonly nullable: boolean }
    | undefined;
  /**
   * The table column it is compared with, when the reference resolves to exactly one table
   * of the statement (for type overrides by `table.column`).
   */
  readonly comparedTo?: { readonly table: string; readonly column: string } | undefined;
}

const comparisonOps = new Set(["=", "<>", "!=", "<", ">", "<=", ">=", "~~", "~~*", "!~~", "!~~*"]);

/** Unwraps casts: `$1::int` is still `$1`. */
function paramNumber(node: unknown): number | undefined {
  let n = node;
  for (;;) {
    const u = unwrap(n);
    if (u === undefined) return undefined;
    if (u.kind === "ParamRef") return num(u.body, "number");
    if (u.kind !== "TypeCast") return undefined;
    n = child(u.body, "arg");
  }
}

/** The fields of a column reference (`["u", "email"]`), through casts. */
function columnFields(node: unknown): string[] | undefined {
  let n = node;
  for (;;) {
    const u = unwrap(n);
    if (u === undefined) return undefined;
    if (u.kind === "ColumnRef") {
      const f = names(list(u.body, "fields"));
      return f.length > 0 && f[f.length - 1] !== "" ? f : undefined;
    }
    if (u.kind !== "TypeCast") return undefined;
    n = child(u.body, "arg");
  }
}

/** Every table the statement names, by the alias (or name) it is referred to with. */
function statementTables(
  stmt: unknown,
  catalog: Catalog,
): { alias: string; rel: CatalogRelation }[] {
  const out: { alias: string; rel: CatalogRelation }[] = [];
  const add = (rv: PgBody | undefined): void => {
    if (rv === undefined) return;
    const rel = catalog.relation(str(rv, "schemaname"), str(rv, "relname") ?? "");
    if (rel === undefined) return;
    const alias = str(as(child(rv, "alias"), "Alias"), "aliasname") ?? rel.name;
    out.push({ alias, rel });
  };
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const x of node) walk(x);
      return;
    }
    if (node === null || typeof node !== "object") return;
    const u = unwrap(node);
    if (u?.kind === "RangeVar") add(u.body);
    if (u !== undefined && ["InsertStmt", "UpdateStmt", "DeleteStmt"].includes(u.kind)) {
      add(as(child(u.body, "relation"), "RangeVar"));
    }
    for (const v of Object.values(u?.body ?? node)) walk(v);
  };
  walk(stmt);
  return out;
}

/** Collects the context of every parameter of `stmt`, keyed by `$n`. */
export function paramContexts(stmt: unknown, catalog: Catalog): Map<number, ParamContext> {
  const out = new Map<number, ParamContext>();
  const note = (n: number | undefined, ctx: ParamContext): void => {
    if (n === undefined) return;
    const prev = out.get(n);
    out.set(n, {
      columnName: prev?.columnName ?? ctx.columnName,
      assignedTo: prev?.assignedTo ?? ctx.assignedTo,
      comparedTo: prev?.comparedTo ?? ctx.comparedTo,
    });
  };
  const assign = (rel: CatalogRelation | undefined, col: string, value: unknown): void => {
    const n = paramNumber(value);
    if (n === undefined) return;
    const c = rel?.columns.find((x) => x.name === col);
    note(n, {
      columnName: col,
      assignedTo:
        rel !== undefined && c !== undefined
          ? { table: rel.name, column: col, nullable: !c.notNull }
          : undefined,
    });
  };
  const relationOf = (rv: PgBody | undefined): CatalogRelation | undefined =>
    rv === undefined
      ? undefined
      : catalog.relation(str(rv, "schemaname"), str(rv, "relname") ?? "");

  const tables = statementTables(stmt, catalog);
  /** The one table column a reference can mean, or undefined when unknown or ambiguous. */
  const resolveColumn = (fields: readonly string[]) => {
    const col = fields[fields.length - 1] ?? "";
    const qualifier = fields.length > 1 ? fields[fields.length - 2] : undefined;
    const hits = tables.filter(
      (t) =>
        (qualifier === undefined || t.alias === qualifier) &&
        t.rel.columns.some((c) => c.name === col),
    );
    const rels = new Set(hits.map((h) => h.rel));
    const only = hits[0];
    return rels.size === 1 && only !== undefined
      ? { table: only.rel.name, column: col }
      : undefined;
  };
  const compared = (columnSide: unknown, paramSide: unknown): void => {
    const fields = columnFields(columnSide);
    if (fields === undefined) return;
    note(paramNumber(paramSide), {
      columnName: fields[fields.length - 1],
      assignedTo: undefined,
      comparedTo: resolveColumn(fields),
    });
  };

  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const x of node) walk(x);
      return;
    }
    const u = unwrap(node);
    if (u === undefined) {
      if (node !== null && typeof node === "object") for (const v of Object.values(node)) walk(v);
      return;
    }
    const b = u.body;
    switch (u.kind) {
      case "InsertStmt": {
        const rel = relationOf(as(child(b, "relation"), "RangeVar"));
        const given = list(b, "cols").map((c) => str(as(c, "ResTarget"), "name") ?? "");
        const cols = given.length > 0 ? given : (rel?.columns.map((c) => c.name) ?? []);
        const sel = as(child(b, "selectStmt"), "SelectStmt");
        for (const row of list(sel, "valuesLists")) {
          list(as(row, "List"), "items").forEach((v, i) => {
            if (cols[i] !== undefined) assign(rel, cols[i], v);
          });
        }
        if (sel !== undefined && list(sel, "valuesLists").length === 0) {
          list(sel, "targetList").forEach((t, i) => {
            if (cols[i] !== undefined) assign(rel, cols[i], child(as(t, "ResTarget"), "val"));
          });
        }
        const conflict = as(child(b, "onConflictClause"), "OnConflictClause");
        for (const t of list(conflict, "targetList")) {
          const rt = as(t, "ResTarget");
          assign(rel, str(rt, "name") ?? "", child(rt, "val"));
        }
        break;
      }
      case "UpdateStmt": {
        const rel = relationOf(as(child(b, "relation"), "RangeVar"));
        for (const t of list(b, "targetList")) {
          const rt = as(t, "ResTarget");
          assign(rel, str(rt, "name") ?? "", child(rt, "val"));
        }
        break;
      }
      case "A_Expr": {
        const kind = str(b, "kind");
        const op = names(list(b, "name"))[0] ?? "";
        const l = child(b, "lexpr");
        const r = child(b, "rexpr");
        const compares =
          (kind === "AEXPR_OP" && comparisonOps.has(op)) ||
          kind === "AEXPR_OP_ANY" ||
          kind === "AEXPR_OP_ALL" ||
          kind === "AEXPR_LIKE" ||
          kind === "AEXPR_ILIKE" ||
          kind === "AEXPR_DISTINCT" ||
          kind === "AEXPR_NOT_DISTINCT";
        if (compares) {
          compared(l, r);
          compared(r, l);
        }
        if (kind === "AEXPR_IN" || kind?.includes("BETWEEN") === true) {
          for (const x of list(as(r, "List"), "items")) compared(l, x);
        }
        break;
      }
      default:
        break;
    }
    for (const v of Object.values(b)) walk(v);
  };
  walk(stmt);
  return out;
}
