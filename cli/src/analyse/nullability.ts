/**
 * Nullability of result columns, from the statement's syntax tree and catalog facts.
 *
 * The rule throughout: when unsure, say nullable. A wrong "not null" crashes a program at
 * run time; a wrong "nullable" costs one check.
 *
 * Model: every column visible in a FROM scope is a {@link Col}: its intrinsic nullability
 * (the table column's NOT NULL, or the computed nullability of a subquery's output) and the
 * set of outer-join sides that can null-extend it. A strict predicate that must be true for
 * a row to survive (a WHERE conjunct, an inner join's ON conjunct) proves its columns are
 * not null, and so proves that the join sides they come from matched: those sides no longer
 * null-extend any of their columns.
 *
 * Syntax nodes are typed with `@pgsql/types` (see parse/pg-nodes.ts); what functions do with
 * NULL is data (function-facts.ts); scopes and columns are values (nullability-scope.ts).
 */
import type {
  A_Expr,
  JoinExpr,
  RangeFunction,
  RangeVar,
  SelectStmt,
  SubLink,
  WindowDef,
  WithClause,
} from "@pgsql/types";
import { parseSync } from "libpg-query";
import type { PgNode } from "../parse/pg-ast.js";
import { asNode, baseName, type Node, nodeAs, nodeKind, stringValues } from "../parse/pg-nodes.js";
import { callNullable, isAggregateCall } from "./call-nullability.js";
import type { Catalog } from "./catalog.js";
import { figureColname } from "./column-name.js";
import { nonNullSetFunctions, totalOperators } from "./function-facts.js";
import {
  type Col,
  type ExprCtx,
  emptySet,
  extend,
  findCol,
  hasCol,
  type Item,
  isNullable,
  item,
  type OutCol,
  outToCol,
  plainCtx,
  rename,
  renameCols,
  resolveColumn,
  type Scope,
} from "./nullability-scope.js";
import { provenNotNull } from "./predicate-proofs.js";

export type { ColumnSource, OutCol } from "./nullability-scope.js";

/** The statements that modify a table and may return rows. */
type ModifyKind = "InsertStmt" | "UpdateStmt" | "DeleteStmt" | "MergeStmt";

/** The system columns of a table's rows: never NULL. */
const systemColumns: readonly string[] = ["tableoid", "ctid", "xmin", "xmax", "cmin", "cmax"];

/** CTEs visible at a point of the statement, by name. */
type Ctes = ReadonlyMap<string, readonly OutCol[]>;

/**
 * The analyser: one per statement set, sharing catalog lookups and view analyses. Each call
 * to {@link analyse} walks its statement with a fresh {@link StatementWalker}, so nothing of
 * one statement (its parameters, embeds, join numbering) can leak into the next.
 */
export class NullabilityAnalyser {
  readonly #catalog: Catalog;
  /** View columns, analysed once per analyser (views never refer to parameters). */
  readonly #views = new Map<number, readonly OutCol[]>();

  /** One analyser serves every statement analysed against `catalog`. */
  constructor(catalog: Catalog) {
    this.#catalog = catalog;
  }

  /**
   * The result columns of a statement (`{ SelectStmt }`, `{ InsertStmt }`, ...), in order.
   * Statements without a result give an empty list. `paramNullable(n)` says whether `$n` may
   * be null (sqlc.narg, or assigned to a nullable column); `embeds` maps the location of each
   * `sqlc.embed(t)` target's `t.*` to `t`. Throws only on a tree it cannot walk.
   */
  analyse(
    stmt: PgNode,
    paramNullable: (n: number) => boolean,
    embeds: ReadonlyMap<number, string> = new Map(),
  ): readonly OutCol[] {
    const walker = new StatementWalker(this.#catalog, this.#views, paramNullable, embeds);
    return walker.statement(asNode(stmt), undefined, new Map());
  }

  /** Every function name the statement calls, lower case, for loading catalog facts. */
  static functionNames(stmt: unknown): Set<string> {
    const out = new Set<string>();
    const walk = (n: unknown): void => {
      if (Array.isArray(n)) {
        for (const x of n) walk(x);
        return;
      }
      if (n === null || typeof n !== "object") return;
      const fc = nodeAs(n as Node, "FuncCall");
      if (fc !== undefined) {
        const name = baseName(fc.funcname);
        if (name !== "") out.add(name);
      }
      for (const v of Object.values(n)) walk(v);
    };
    walk(stmt);
    return out;
  }
}

/** The walk over one statement; its per-statement inputs are fixed at construction. */
class StatementWalker {
  readonly #catalog: Catalog;
  readonly #views: Map<number, readonly OutCol[]>;
  readonly #paramNullable: (n: number) => boolean;
  /** `sqlc.embed` targets of the statement, by the location of their `t.*`. */
  readonly #embeds: ReadonlyMap<number, string>;
  /** Numbers the outer joins of this statement (the sides columns are null-extended by). */
  #joinIds = 0;

  constructor(
    catalog: Catalog,
    views: Map<number, readonly OutCol[]>,
    paramNullable: (n: number) => boolean,
    embeds: ReadonlyMap<number, string>,
  ) {
    this.#catalog = catalog;
    this.#views = views;
    this.#paramNullable = paramNullable;
    this.#embeds = embeds;
  }

  /** The result columns of a statement in scope `parent` with the CTEs `ctes` visible. */
  statement(stmt: Node | undefined, parent: Scope | undefined, ctes: Ctes): readonly OutCol[] {
    const select = nodeAs(stmt, "SelectStmt");
    if (select !== undefined) return this.#select(select, parent, ctes);
    for (const kind of ["InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"] as const) {
      const body = nodeAs(stmt, kind);
      if (body !== undefined) return this.#modify(kind, stmt, parent, ctes);
    }
    return [];
  }

  /** WITH clause: each CTE's columns, in order; a recursive CTE iterates to a fixpoint. */
  #withClause(
    withClause: WithClause | undefined,
    parent: Scope | undefined,
    ctes: Ctes,
  ): Map<string, readonly OutCol[]> {
    const out = new Map(ctes);
    if (withClause === undefined) return out;
    const recursive = withClause.recursive === true;
    for (const c of withClause.ctes ?? []) {
      const cte = nodeAs(c, "CommonTableExpr");
      if (cte === undefined) continue;
      const name = cte.ctename ?? "";
      const aliases = stringValues(cte.aliascolnames);
      const query = cte.ctequery;
      const sel = nodeAs(query, "SelectStmt");
      let cols: readonly OutCol[];
      if (recursive && sel !== undefined && sel.op === "SETOP_UNION") {
        // Seed with the non-recursive term, then re-analyse with the CTE in scope until
        // nullability stops growing (it only grows, so this ends).
        cols = rename(this.#selectOrNothing(sel.larg, parent, out), aliases);
        for (let i = 0; i < 4; i++) {
          out.set(name, cols);
          const whole = rename(this.statement(query, parent, out), aliases);
          const merged = cols.map((col, k) => ({
            ...col,
            nullable: col.nullable || (whole[k]?.nullable ?? true),
          }));
          const changed = merged.some((m, k) => m.nullable !== cols[k]?.nullable);
          cols = merged;
          if (!changed) break;
        }
      } else {
        cols = rename(this.statement(query, parent, out), aliases);
      }
      out.set(name, cols);
    }
    return out;
  }

  /** A set operation's arm (a bare SelectStmt), or nothing. */
  #selectOrNothing(
    sel: SelectStmt | undefined,
    parent: Scope | undefined,
    ctes: Ctes,
  ): readonly OutCol[] {
    return sel === undefined ? [] : this.#select(sel, parent, ctes);
  }

  #select(sel: SelectStmt, parent: Scope | undefined, outerCtes: Ctes): readonly OutCol[] {
    const ctes = this.#withClause(sel.withClause, parent, outerCtes);
    const op = sel.op ?? "SETOP_NONE";
    if (op !== "SETOP_NONE") {
      const l = this.#selectOrNothing(sel.larg, parent, ctes);
      const r = this.#selectOrNothing(sel.rarg, parent, ctes);
      return l.map((col, i) => {
        const rn = r[i]?.nullable ?? true;
        const nullable =
          op === "SETOP_UNION"
            ? col.nullable || rn
            : op === "SETOP_INTERSECT"
              ? col.nullable && rn
              : col.nullable;
        return { name: col.name, nullable, source: undefined };
      });
    }
    const values = sel.valuesLists ?? [];
    if (values.length > 0) {
      const ctx = plainCtx({ items: [], parent, ctes });
      const out: OutCol[] = [];
      values.forEach((row, r) => {
        (nodeAs(row, "List")?.items ?? []).forEach((e, i) => {
          const n = this.#expr(e, ctx);
          const prev = out[i];
          if (r === 0) out.push({ name: `column${i + 1}`, nullable: n, source: undefined });
          else if (prev !== undefined) out[i] = { ...prev, nullable: prev.nullable || n };
        });
      });
      return out;
    }

    let items = this.#fromList(sel.fromClause ?? [], parent, ctes);
    const where = sel.whereClause;
    if (where !== undefined) items = this.#narrow(items, where, { items, parent, ctes });
    const scope: Scope = { items, parent, ctes };
    const groupClause = sel.groupClause ?? [];
    const groupingSets = groupClause.some((g) => {
      const gs = nodeAs(g, "GroupingSet");
      return gs !== undefined && gs.kind !== "GROUPING_SET_EMPTY";
    });
    const windows = new Map<string, WindowDef>();
    for (const w of sel.windowClause ?? []) {
      const wd = nodeAs(w, "WindowDef");
      if (wd?.name !== undefined) windows.set(wd.name, wd);
    }
    const ctx: ExprCtx = {
      scope,
      grouped: groupClause.length > 0 && !groupingSets,
      groupingSets,
      windows,
    };
    return this.#targets(sel.targetList ?? [], ctx);
  }

  #targets(targets: readonly Node[], ctx: ExprCtx): OutCol[] {
    const out: OutCol[] = [];
    for (const t of targets) {
      const rt = nodeAs(t, "ResTarget");
      const val = rt?.val;
      const cr = nodeAs(val, "ColumnRef");
      const fields = cr?.fields ?? [];
      if (cr !== undefined && nodeKind(fields[fields.length - 1]) === "A_Star") {
        const embed = this.#embeds.get(cr.location ?? -1);
        for (const col of this.#star(stringValues(fields.slice(0, -1)), ctx.scope)) {
          out.push({
            name: col.name,
            nullable: ctx.groupingSets || isNullable(col),
            source: col.source,
            ...(embed === undefined ? {} : { embed }),
          });
        }
        continue;
      }
      const nullable = this.#expr(val, ctx);
      const col = cr !== undefined ? resolveColumn(stringValues(fields), ctx.scope) : undefined;
      out.push({
        name: rt?.name ?? figureColname(val),
        nullable,
        source: col?.source,
        ...(col?.typeOid === undefined ? {} : { typeOid: col.typeOid }),
      });
    }
    return out;
  }

  /** Columns `*` or `t.*` expands to. */
  #star(qualifier: readonly string[], scope: Scope): Col[] {
    if (qualifier.length > 0) {
      const alias = qualifier[qualifier.length - 1];
      const found = scope.items.find((i) => i.alias === alias);
      return found === undefined ? [] : found.cols.filter((c) => c.system !== true);
    }
    return scope.items.flatMap((i) =>
      i.cols.filter((c) => !i.hiddenInStar.has(c.name) && c.system !== true),
    );
  }

  /** INSERT/UPDATE/DELETE/MERGE ... RETURNING: the target's columns (plus UPDATE FROM / DELETE USING). */
  #modify(
    kind: ModifyKind,
    stmt: Node | undefined,
    parent: Scope | undefined,
    outerCtes: Ctes,
  ): readonly OutCol[] {
    const body = nodeAs(stmt, kind);
    if (body === undefined) return [];
    // PG 18's grammar wraps RETURNING in a clause (for OLD/NEW aliases).
    const returning = body.returningClause?.exprs ?? [];
    if (returning.length === 0) return [];
    const ctes = this.#withClause(body.withClause, parent, outerCtes);
    const target = body.relation === undefined ? [] : this.#rangeVar(body.relation, ctes);
    const update = nodeAs(stmt, "UpdateStmt");
    const del = nodeAs(stmt, "DeleteStmt");
    const extra = update?.fromClause ?? del?.usingClause ?? [];
    let items = [...target, ...this.#fromList(extra, parent, ctes)];
    const where = update?.whereClause ?? del?.whereClause;
    if (where !== undefined) items = this.#narrow(items, where, { items, parent, ctes });
    return this.#targets(returning, plainCtx({ items, parent, ctes }));
  }

  #fromList(from: readonly Node[], parent: Scope | undefined, ctes: Ctes): Item[] {
    const items: Item[] = [];
    for (const f of from) {
      // LATERAL items see the items to their left.
      const lateralScope: Scope = { items: [...items], parent, ctes };
      items.push(...this.#fromItem(f, lateralScope, ctes));
    }
    return items;
  }

  #fromItem(node: Node | undefined, scope: Scope, ctes: Ctes): Item[] {
    const rv = nodeAs(node, "RangeVar");
    if (rv !== undefined) return this.#rangeVar(rv, ctes);
    const sub = nodeAs(node, "RangeSubselect");
    if (sub !== undefined) {
      const cols = this.statement(sub.subquery, sub.lateral === true ? scope : scope.parent, ctes);
      return [
        item(
          sub.alias?.aliasname ?? "",
          rename(cols, stringValues(sub.alias?.colnames)).map(outToCol),
        ),
      ];
    }
    const rf = nodeAs(node, "RangeFunction");
    if (rf !== undefined) return [this.#rangeFunction(rf, scope)];
    const join = nodeAs(node, "JoinExpr");
    if (join !== undefined) return this.#join(join, scope, ctes);
    return [];
  }

  #rangeVar(rv: RangeVar, ctes: Ctes): Item[] {
    const schema = rv.schemaname;
    const relname = rv.relname ?? "";
    const aliasName = rv.alias?.aliasname ?? relname;
    const colnames = stringValues(rv.alias?.colnames);
    const cte = schema === undefined ? ctes.get(relname) : undefined;
    if (cte !== undefined) return [item(aliasName, rename(cte, colnames).map(outToCol))];
    const rel = this.#catalog.relation(schema, relname);
    if (rel === undefined) return [item(aliasName, [])];
    let cols: Col[];
    if (rel.kind === "table") {
      cols = rel.columns.map((c) => ({
        name: c.name,
        baseNullable: !c.notNull,
        ext: emptySet,
        source: { table: rel.name, column: c.name },
        typeOid: c.typeOid,
      }));
    } else {
      const viewCols = this.#view(rel.oid, rel.definition);
      cols = rel.columns.map((c, i) => ({
        name: c.name,
        baseNullable: viewCols[i]?.nullable ?? true,
        ext: emptySet,
        source: viewCols[i]?.source,
      }));
    }
    const named = renameCols(cols, colnames);
    if (!rel.systemColumns) return [item(aliasName, named)];
    // Every stored row has its system columns; `*`, NATURAL and join aliases leave them out.
    const system: Col[] = systemColumns.map((name) => ({
      name,
      baseNullable: false,
      ext: emptySet,
      source: undefined,
      system: true,
    }));
    return [item(aliasName, [...named, ...system])];
  }

  /** A view's columns, from its definition, analysed once. */
  #view(oid: number, definition: string | undefined): readonly OutCol[] {
    const cached = this.#views.get(oid);
    if (cached !== undefined) return cached;
    this.#views.set(oid, []); // a view cannot refer to itself; guards against cycles anyway
    let cols: readonly OutCol[] = [];
    if (definition !== undefined) {
      try {
        const stmt = parseSync(definition).stmts?.[0]?.stmt;
        if (stmt !== undefined) {
          // A view's definition has no parameters and no embeds of the statement at hand.
          const walker = new StatementWalker(this.#catalog, this.#views, () => true, new Map());
          cols = walker.statement(stmt, undefined, new Map());
        }
      } catch {
        // A definition our grammar cannot read: its columns stay unknown, so nullable.
        cols = [];
      }
    }
    this.#views.set(oid, cols);
    return cols;
  }

  #rangeFunction(rf: RangeFunction, scope: Scope): Item {
    const colnames = stringValues(rf.alias?.colnames);
    const cols: Col[] = [];
    for (const f of rf.functions ?? []) {
      // Each entry is a List [FuncCall, column definitions].
      const fc = nodeAs(nodeAs(f, "List")?.items?.[0], "FuncCall");
      const fname = baseName(fc?.funcname);
      const argsNullable = (fc?.args ?? []).some((a) => this.#expr(a, plainCtx(scope)));
      const nullable = !(nonNullSetFunctions.has(fname) && !argsNullable);
      cols.push({ name: fname, baseNullable: nullable, ext: emptySet, source: undefined });
    }
    if (rf.ordinality === true) {
      cols.push({ name: "ordinality", baseNullable: false, ext: emptySet, source: undefined });
    }
    return item(rf.alias?.aliasname ?? cols[0]?.name ?? "", renameCols(cols, colnames));
  }

  #join(j: JoinExpr, scope: Scope, ctes: Ctes): Item[] {
    const left = this.#fromItem(j.larg, scope, ctes);
    const right = this.#fromItem(
      j.rarg,
      { items: [...scope.items, ...left], parent: scope.parent, ctes },
      ctes,
    );
    const type = j.jointype ?? "JOIN_INNER";
    const quals = j.quals;
    let l = left;
    let r = right;
    const combinedScope = (): Scope => ({ items: [...l, ...r], parent: scope.parent, ctes });
    if (quals !== undefined) {
      if (type === "JOIN_INNER") {
        const narrowed = this.#narrow([...l, ...r], quals, combinedScope());
        l = narrowed.slice(0, l.length);
        r = narrowed.slice(l.length);
      } else if (type === "JOIN_LEFT") {
        // Matched right rows satisfy ON; unmatched ones are null-extended (ext covers them).
        r = this.#narrowOnly(r, quals, combinedScope());
      } else if (type === "JOIN_RIGHT") {
        l = this.#narrowOnly(l, quals, combinedScope());
      }
    }
    // USING/NATURAL columns are merged from the sides as they are before null-extension.
    const using = stringValues(j.usingClause);
    const mergedNames =
      j.isNatural === true
        ? l
            .flatMap((i) => i.cols.filter((c) => c.system !== true).map((c) => c.name))
            .filter((n) => r.some((i) => hasCol(i, n)))
        : using;
    const beforeL = l;
    const beforeR = r;

    if (type === "JOIN_LEFT" || type === "JOIN_FULL") r = extend(r, ++this.#joinIds);
    if (type === "JOIN_RIGHT" || type === "JOIN_FULL") l = extend(l, ++this.#joinIds);

    let result: Item[] = [...l, ...r];
    if (mergedNames.length > 0) {
      const merged: Col[] = mergedNames.map((n) => {
        const lc = findCol(type === "JOIN_FULL" ? beforeL : l, n);
        const rc = findCol(type === "JOIN_FULL" ? beforeR : r, n);
        if (type === "JOIN_RIGHT" && rc !== undefined) return rc;
        if (type === "JOIN_FULL" && lc !== undefined && rc !== undefined) {
          // COALESCE(l, r): null only when both are.
          return {
            name: n,
            baseNullable: isNullable(lc) && isNullable(rc),
            ext: emptySet,
            source: undefined,
          };
        }
        return lc ?? rc ?? { name: n, baseNullable: true, ext: emptySet, source: undefined };
      });
      const hidden = new Set(mergedNames);
      result = [
        { alias: "", cols: merged, hiddenInStar: new Set() },
        ...result.map((i) => ({ ...i, hiddenInStar: new Set([...i.hiddenInStar, ...hidden]) })),
      ];
    }
    const aliasName = j.alias?.aliasname;
    if (aliasName !== undefined) {
      const all = this.#star([], { items: result, parent: undefined, ctes });
      return [item(aliasName, renameCols(all, stringValues(j.alias?.colnames)))];
    }
    return result;
  }

  /**
   * Applies the proofs of a predicate that must hold for every surviving row: columns it
   * proves not null lose their base nullability, and the join sides they come from no longer
   * null-extend anything.
   */
  #narrow(items: readonly Item[], predicate: Node, scope: Scope): Item[] {
    const proven = provenNotNull(predicate, scope, this.#catalog);
    if (proven.size === 0) return [...items];
    const joins = new Set<number>();
    for (const c of proven) for (const j of c.ext) joins.add(j);
    return items.map((i) => ({
      ...i,
      cols: i.cols.map((c) => {
        const base = c.baseNullable && !proven.has(c);
        const ext = c.ext.size === 0 ? c.ext : new Set([...c.ext].filter((j) => !joins.has(j)));
        return base === c.baseNullable && ext.size === c.ext.size
          ? c
          : { ...c, baseNullable: base, ext };
      }),
    }));
  }

  /** Like {@link #narrow} but only clears base nullability of proven columns in `items`. */
  #narrowOnly(items: readonly Item[], predicate: Node, scope: Scope): Item[] {
    const proven = provenNotNull(predicate, scope, this.#catalog);
    if (proven.size === 0) return [...items];
    return items.map((i) => ({
      ...i,
      cols: i.cols.map((c) => (proven.has(c) ? { ...c, baseNullable: false } : c)),
    }));
  }

  /** Whether an expression can be NULL. */
  #expr(node: Node | undefined, ctx: ExprCtx): boolean {
    const kind = nodeKind(node);
    switch (kind) {
      case "A_Const":
        return nodeAs(node, "A_Const")?.isnull === true;
      case "ColumnRef": {
        const fields = nodeAs(node, "ColumnRef")?.fields ?? [];
        if (nodeKind(fields[fields.length - 1]) === "A_Star") return false;
        const names = stringValues(fields);
        const col = resolveColumn(names, ctx.scope);
        if (col === undefined) {
          // A whole-row reference to a FROM item (`SELECT t FROM t`) is a non-null record.
          const alias = names[0];
          if (fields.length === 1 && ctx.scope.items.some((i) => i.alias === alias)) return false;
          return true;
        }
        return ctx.groupingSets || isNullable(col);
      }
      case "ParamRef":
        return this.#paramNullable(nodeAs(node, "ParamRef")?.number ?? 0);
      case "TypeCast":
        return this.#expr(nodeAs(node, "TypeCast")?.arg, ctx);
      case "CollateClause":
        return this.#expr(nodeAs(node, "CollateClause")?.arg, ctx);
      case "NullTest":
      case "BooleanTest":
      case "SQLValueFunction":
      case "A_ArrayExpr":
      case "RowExpr":
      case "GroupingFunc":
        return false;
      case "CoalesceExpr":
        return (nodeAs(node, "CoalesceExpr")?.args ?? []).every((a) => this.#expr(a, ctx));
      case "MinMaxExpr":
        return (nodeAs(node, "MinMaxExpr")?.args ?? []).every((a) => this.#expr(a, ctx));
      case "CaseExpr": {
        const c = nodeAs(node, "CaseExpr");
        const def = c?.defresult;
        if (def === undefined) return true;
        if (this.#expr(def, ctx)) return true;
        return (c?.args ?? []).some((w) => this.#expr(nodeAs(w, "CaseWhen")?.result, ctx));
      }
      case "BoolExpr":
        return (nodeAs(node, "BoolExpr")?.args ?? []).some((a) => this.#expr(a, ctx));
      case "A_Expr": {
        const e = nodeAs(node, "A_Expr");
        return e === undefined || this.#aExpr(e, ctx);
      }
      case "SubLink": {
        const link = nodeAs(node, "SubLink");
        return link === undefined || this.#subLink(link, ctx);
      }
      case "FuncCall": {
        const fc = nodeAs(node, "FuncCall");
        return (
          fc === undefined ||
          callNullable(
            fc,
            ctx,
            this.#catalog,
            (a) => this.#expr(a, ctx),
            (a) => this.#exprType(a, ctx),
          )
        );
      }
      default:
        // A_Indirection (subscripts, field selection), XmlExpr, ...: unknown, so nullable.
        return true;
    }
  }

  /**
   * An expression's type name (`pg_type.typname`; a domain's base type) where the syntax
   * alone shows it: a column of known type, a cast, a literal, a text concatenation.
   */
  #exprType(node: Node | undefined, ctx: ExprCtx): string | undefined {
    switch (nodeKind(node)) {
      case "ColumnRef": {
        const col = resolveColumn(stringValues(nodeAs(node, "ColumnRef")?.fields), ctx.scope);
        if (col?.typeOid === undefined) return undefined;
        let t = this.#catalog.type(col.typeOid);
        while (t.kind === "domain") t = t.base;
        return t.kind === "base" ? t.typname : undefined;
      }
      case "TypeCast": {
        const tn = nodeAs(node, "TypeCast")?.typeName;
        if (tn === undefined || (tn.arrayBounds ?? []).length > 0) return undefined;
        const names = stringValues(tn.names);
        return names[names.length - 1];
      }
      case "CollateClause":
        return this.#exprType(nodeAs(node, "CollateClause")?.arg, ctx);
      case "A_Const": {
        const c = nodeAs(node, "A_Const");
        if (c?.ival !== undefined) return "int4";
        if (c?.fval !== undefined) return "numeric";
        if (c?.sval !== undefined) return "unknown";
        return undefined;
      }
      default:
        return undefined;
    }
  }

  #aExpr(e: A_Expr, ctx: ExprCtx): boolean {
    const op = stringValues(e.name)[0] ?? "";
    const l = e.lexpr;
    const r = e.rexpr;
    const sides = (): boolean =>
      (l !== undefined && this.#expr(l, ctx)) || (r !== undefined && this.#expr(r, ctx));
    const rightList = (): boolean =>
      (nodeAs(r, "List")?.items ?? []).some((x) => this.#expr(x, ctx));
    switch (e.kind) {
      case "AEXPR_OP":
        return totalOperators.has(op) ? sides() : true;
      case "AEXPR_DISTINCT":
      case "AEXPR_NOT_DISTINCT":
        return false;
      case "AEXPR_NULLIF":
        return true;
      case "AEXPR_IN":
        return (
          (l !== undefined && this.#expr(l, ctx)) ||
          rightList() ||
          (nodeKind(r) !== "List" && r !== undefined && this.#expr(r, ctx))
        );
      case "AEXPR_LIKE":
      case "AEXPR_ILIKE":
      case "AEXPR_SIMILAR":
        return sides();
      case "AEXPR_BETWEEN":
      case "AEXPR_NOT_BETWEEN":
      case "AEXPR_BETWEEN_SYM":
      case "AEXPR_NOT_BETWEEN_SYM":
        return (l !== undefined && this.#expr(l, ctx)) || rightList();
      default:
        // = ANY(array), = ALL(array): NULL when an element is NULL and nothing matched.
        return true;
    }
  }

  #subLink(link: SubLink, ctx: ExprCtx): boolean {
    const type = link.subLinkType;
    if (type === "EXISTS_SUBLINK" || type === "ARRAY_SUBLINK") return false;
    if (type !== "EXPR_SUBLINK") return true;
    // A scalar subquery is NULL when it returns no row. An ungrouped aggregate query always
    // returns exactly one row, so then only the column's own nullability counts.
    const sub = nodeAs(link.subselect, "SelectStmt");
    const cols = this.statement(link.subselect, ctx.scope, ctx.scope.ctes);
    const first = cols[0];
    if (sub === undefined || first === undefined) return true;
    const oneRow =
      sub.op === "SETOP_NONE" &&
      (sub.groupClause ?? []).length === 0 &&
      sub.havingClause === undefined &&
      sub.limitCount === undefined &&
      sub.limitOffset === undefined &&
      (sub.valuesLists ?? []).length === 0 &&
      isAggregateCall(this.#catalog, nodeAs(sub.targetList?.[0], "ResTarget")?.val);
    return oneRow ? first.nullable : true;
  }
}
