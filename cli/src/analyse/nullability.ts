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
 */
import { parseSync } from "libpg-query";
import {
  as,
  child,
  kindOf,
  list,
  names,
  num,
  type PgBody,
  type PgNode,
  str,
  unwrap,
  wrap,
} from "../parse/pg-ast.js";
import type { Catalog } from "./catalog.js";
import { figureColname } from "./column-name.js";
import {
  firstArgFunctions,
  neverNullFunctions,
  neverNullWindowFunctions,
  nonEmptyAggregates,
  nonNullSetFunctions,
  nullOnAllNullAggregates,
  totalFunctions,
  totalOperators,
} from "./function-facts.js";
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
  type Scope,
} from "./nullability-scope.js";

export type { ColumnSource, OutCol } from "./nullability-scope.js";

const DEFAULT_FRAME = 1058;

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
    return walker.statement(stmt, undefined, new Map());
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
      const fc = as(n, "FuncCall");
      if (fc !== undefined) {
        const fn = names(list(fc, "funcname"));
        const last = fn[fn.length - 1];
        if (last !== undefined) out.add(last.toLowerCase());
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
  statement(
    stmt: unknown,
    parent: Scope | undefined,
    ctes: ReadonlyMap<string, readonly OutCol[]>,
  ): readonly OutCol[] {
    const u = unwrap(stmt);
    if (u === undefined) return [];
    switch (u.kind) {
      case "SelectStmt":
        return this.#select(u.body, parent, ctes);
      case "InsertStmt":
      case "UpdateStmt":
      case "DeleteStmt":
      case "MergeStmt":
        return this.#modify(u.kind, u.body, parent, ctes);
      default:
        return [];
    }
  }

  /** WITH clause: each CTE's columns, in order; a recursive CTE iterates to a fixpoint. */
  #withClause(
    withClause: PgBody | undefined,
    parent: Scope | undefined,
    ctes: ReadonlyMap<string, readonly OutCol[]>,
  ): Map<string, readonly OutCol[]> {
    const out = new Map(ctes);
    if (withClause === undefined) return out;
    const recursive = withClause.recursive === true;
    for (const c of list(withClause, "ctes")) {
      const cte = as(c, "CommonTableExpr");
      if (cte === undefined) continue;
      const name = str(cte, "ctename") ?? "";
      const aliases = names(list(cte, "aliascolnames"));
      const query = child(cte, "ctequery");
      const sel = as(query, "SelectStmt");
      let cols: readonly OutCol[];
      if (recursive && sel !== undefined && str(sel, "op") === "SETOP_UNION") {
        // Seed with the non-recursive term, then re-analyse with the CTE in scope until
        // nullability stops growing (it only grows, so this ends).
        cols = rename(this.statement(wrap(child(sel, "larg"), "SelectStmt"), parent, out), aliases);
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

  #select(
    sel: PgBody,
    parent: Scope | undefined,
    outerCtes: ReadonlyMap<string, readonly OutCol[]>,
  ): readonly OutCol[] {
    const ctes = this.#withClause(as(child(sel, "withClause"), "WithClause"), parent, outerCtes);
    const op = str(sel, "op") ?? "SETOP_NONE";
    if (op !== "SETOP_NONE") {
      const l = this.statement(wrap(child(sel, "larg"), "SelectStmt"), parent, ctes);
      const r = this.statement(wrap(child(sel, "rarg"), "SelectStmt"), parent, ctes);
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
    const values = list(sel, "valuesLists");
    if (values.length > 0) {
      const scope: Scope = { items: [], parent, ctes };
      const ctx = plainCtx(scope);
      let out: OutCol[] = [];
      values.forEach((row, r) => {
        const exprs = list(as(row, "List"), "items");
        exprs.forEach((e, i) => {
          const n = this.#expr(e, ctx);
          if (r === 0) out.push({ name: `column${i + 1}`, nullable: n, source: undefined });
          else if (out[i] !== undefined) out[i] = { ...out[i]!, nullable: out[i]!.nullable || n };
        });
      });
      if (out.length === 0) out = [];
      return out;
    }

    let items = this.#fromList(list(sel, "fromClause"), parent, ctes);
    const where = child(sel, "whereClause");
    if (where !== undefined) items = this.#narrow(items, where, { items, parent, ctes });
    const scope: Scope = { items, parent, ctes };
    const groupClause = list(sel, "groupClause");
    const groupingSets = groupClause.some((g) => {
      const gs = as(g, "GroupingSet");
      return gs !== undefined && str(gs, "kind") !== "GROUPING_SET_EMPTY";
    });
    const windows = new Map<string, PgBody>();
    for (const w of list(sel, "windowClause")) {
      const wd = as(w, "WindowDef");
      const name = str(wd, "name");
      if (wd !== undefined && name !== undefined) windows.set(name, wd);
    }
    const ctx: ExprCtx = {
      scope,
      grouped: groupClause.length > 0 && !groupingSets,
      groupingSets,
      windows,
    };
    return this.#targets(list(sel, "targetList"), ctx);
  }

  #targets(targets: readonly unknown[], ctx: ExprCtx): OutCol[] {
    const out: OutCol[] = [];
    for (const t of targets) {
      const rt = as(t, "ResTarget");
      const val = child(rt, "val");
      const cr = as(val, "ColumnRef");
      const fields = list(cr, "fields");
      if (cr !== undefined && kindOf(fields[fields.length - 1]) === "A_Star") {
        const embed = this.#embeds.get(num(cr, "location") ?? -1);
        for (const col of this.#star(names(fields.slice(0, -1)), ctx.scope)) {
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
      const col = cr !== undefined ? this.#resolve(names(fields), ctx.scope) : undefined;
      out.push({
        name: str(rt, "name") ?? figureColname(val),
        nullable,
        source: col?.source,
      });
    }
    return out;
  }

  /** Columns `*` or `t.*` expands to. */
  #star(qualifier: readonly string[], scope: Scope): Col[] {
    if (qualifier.length > 0) {
      const alias = qualifier[qualifier.length - 1];
      const item = scope.items.find((i) => i.alias === alias);
      return item === undefined ? [] : [...item.cols];
    }
    return scope.items.flatMap((i) => i.cols.filter((c) => !i.hiddenInStar.has(c.name)));
  }

  /** INSERT/UPDATE/DELETE ... RETURNING: the target's columns (plus UPDATE FROM / DELETE USING). */
  #modify(
    kind: string,
    body: PgBody,
    parent: Scope | undefined,
    outerCtes: ReadonlyMap<string, readonly OutCol[]>,
  ): readonly OutCol[] {
    // PG 18's grammar wraps RETURNING in a clause (for OLD/NEW aliases); older ones do not.
    const returning =
      list(body, "returningList").length > 0
        ? list(body, "returningList")
        : list(as(child(body, "returningClause"), "ReturningClause"), "exprs");
    if (returning.length === 0) return [];
    const ctes = this.#withClause(as(child(body, "withClause"), "WithClause"), parent, outerCtes);
    const rv = as(child(body, "relation"), "RangeVar");
    const target = rv === undefined ? [] : this.#rangeVar(rv, ctes);
    const extra =
      kind === "UpdateStmt"
        ? list(body, "fromClause")
        : kind === "DeleteStmt"
          ? list(body, "usingClause")
          : [];
    let items = [...target, ...this.#fromList(extra, parent, ctes)];
    const where = child(body, "whereClause");
    if (where !== undefined) items = this.#narrow(items, where, { items, parent, ctes });
    const scope: Scope = { items, parent, ctes };
    return this.#targets(returning, plainCtx(scope));
  }

  #fromList(
    from: readonly unknown[],
    parent: Scope | undefined,
    ctes: ReadonlyMap<string, readonly OutCol[]>,
  ): Item[] {
    const items: Item[] = [];
    for (const f of from) {
      // LATERAL items see the items to their left.
      const lateralScope: Scope = { items: [...items], parent, ctes };
      items.push(...this.#fromItem(f, lateralScope, ctes));
    }
    return items;
  }

  #fromItem(node: unknown, scope: Scope, ctes: ReadonlyMap<string, readonly OutCol[]>): Item[] {
    const u = unwrap(node);
    if (u === undefined) return [];
    switch (u.kind) {
      case "RangeVar":
        return this.#rangeVar(u.body, ctes);
      case "RangeSubselect": {
        const lateral = u.body.lateral === true;
        const cols = this.statement(
          child(u.body, "subquery"),
          lateral ? scope : scope.parent,
          ctes,
        );
        const alias = as(child(u.body, "alias"), "Alias");
        return [
          item(
            str(alias, "aliasname") ?? "",
            rename(cols, names(list(alias, "colnames"))).map(outToCol),
          ),
        ];
      }
      case "RangeFunction":
        return [this.#rangeFunction(u.body, scope)];
      case "JoinExpr":
        return this.#join(u.body, scope, ctes);
      default:
        return [];
    }
  }

  #rangeVar(rv: PgBody, ctes: ReadonlyMap<string, readonly OutCol[]>): Item[] {
    const schema = str(rv, "schemaname");
    const relname = str(rv, "relname") ?? "";
    const alias = as(child(rv, "alias"), "Alias");
    const aliasName = str(alias, "aliasname") ?? relname;
    const colnames = names(list(alias, "colnames"));
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
    return [item(aliasName, renameCols(cols, colnames))];
  }

  /** A view's columns, from its definition, analysed once. */
  #view(oid: number, definition: string | undefined): readonly OutCol[] {
    const cached = this.#views.get(oid);
    if (cached !== undefined) return cached;
    this.#views.set(oid, []); // a view cannot refer to itself; guards against cycles anyway
    let cols: readonly OutCol[] = [];
    if (definition !== undefined) {
      try {
        const tree = parseSync(definition) as unknown as { stmts?: { stmt: PgNode }[] };
        const stmt = tree.stmts?.[0]?.stmt;
        if (stmt !== undefined) {
          // A view's definition has no parameters and no embeds of the statement at hand.
          const walker = new StatementWalker(this.#catalog, this.#views, () => true, new Map());
          cols = walker.statement(stmt, undefined, new Map());
        }
      } catch {
        cols = [];
      }
    }
    this.#views.set(oid, cols);
    return cols;
  }

  #rangeFunction(rf: PgBody, scope: Scope): Item {
    const alias = as(child(rf, "alias"), "Alias");
    const colnames = names(list(alias, "colnames"));
    const cols: Col[] = [];
    for (const f of list(rf, "functions")) {
      // Each entry is a List [FuncCall, column definitions].
      const call = list(as(f, "List"), "items")[0];
      const fc = as(call, "FuncCall");
      const fn = names(list(fc, "funcname"));
      const fname = (fn[fn.length - 1] ?? "").toLowerCase();
      const argsNullable = list(fc, "args").some((a) => this.#expr(a, plainCtx(scope)));
      const nullable = !(nonNullSetFunctions.has(fname) && !argsNullable);
      cols.push({ name: fname, baseNullable: nullable, ext: emptySet, source: undefined });
    }
    if (rf.ordinality === true) {
      cols.push({ name: "ordinality", baseNullable: false, ext: emptySet, source: undefined });
    }
    return item(str(alias, "aliasname") ?? cols[0]?.name ?? "", renameCols(cols, colnames));
  }

  #join(j: PgBody, scope: Scope, ctes: ReadonlyMap<string, readonly OutCol[]>): Item[] {
    const left = this.#fromItem(child(j, "larg"), scope, ctes);
    const right = this.#fromItem(
      child(j, "rarg"),
      { items: [...scope.items, ...left], parent: scope.parent, ctes },
      ctes,
    );
    const type = str(j, "jointype") ?? "JOIN_INNER";
    const quals = child(j, "quals");
    let l = left;
    let r = right;
    const combinedScope = (): Scope => ({
      items: [...l, ...r],
      parent: scope.parent,
      ctes,
    });
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
    const using = names(list(j, "usingClause"));
    const natural = j.isNatural === true;
    const mergedNames = natural
      ? l.flatMap((i) => i.cols.map((c) => c.name)).filter((n) => r.some((i) => hasCol(i, n)))
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
    const alias = as(child(j, "alias"), "Alias");
    const aliasName = str(alias, "aliasname");
    if (aliasName !== undefined) {
      const all = this.#star([], { items: result, parent: undefined, ctes });
      return [item(aliasName, renameCols(all, names(list(alias, "colnames"))))];
    }
    return result;
  }

  /**
   * Applies the proofs of a predicate that must hold for every surviving row: columns it
   * proves not null lose their base nullability, and the join sides they come from no longer
   * null-extend anything.
   */
  #narrow(items: readonly Item[], predicate: unknown, scope: Scope): Item[] {
    const proven = this.#proofs(predicate, scope);
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
  #narrowOnly(items: readonly Item[], predicate: unknown, scope: Scope): Item[] {
    const proven = this.#proofs(predicate, scope);
    if (proven.size === 0) return [...items];
    return items.map((i) => ({
      ...i,
      cols: i.cols.map((c) => (proven.has(c) ? { ...c, baseNullable: false } : c)),
    }));
  }

  /** Columns a predicate proves not null when it is true (conjuncts of strict expressions). */
  #proofs(predicate: unknown, scope: Scope): Set<Col> {
    const out = new Set<Col>();
    const strictRefs = (n: unknown): void => {
      const u = unwrap(n);
      if (u === undefined) return;
      switch (u.kind) {
        case "ColumnRef": {
          const col = this.#resolveLocal(names(list(u.body, "fields")), scope);
          if (col !== undefined) out.add(col);
          return;
        }
        case "TypeCast":
        case "CollateClause":
          strictRefs(child(u.body, "arg"));
          return;
        case "NullTest":
          if (str(u.body, "nulltesttype") === "IS_NOT_NULL") strictRefs(child(u.body, "arg"));
          return;
        case "BoolExpr":
          if (str(u.body, "boolop") === "AND_EXPR")
            for (const a of list(u.body, "args")) strictRefs(a);
          return;
        case "A_Expr": {
          const k = str(u.body, "kind");
          const op = names(list(u.body, "name"))[0] ?? "";
          if (k === "AEXPR_OP" && totalOperators.has(op)) {
            strictRefs(child(u.body, "lexpr"));
            strictRefs(child(u.body, "rexpr"));
          } else if (
            k === "AEXPR_LIKE" ||
            k === "AEXPR_ILIKE" ||
            k === "AEXPR_SIMILAR" ||
            k === "AEXPR_IN" ||
            k === "AEXPR_OP_ANY" ||
            k === "AEXPR_OP_ALL" ||
            k === "AEXPR_BETWEEN" ||
            k === "AEXPR_NOT_BETWEEN"
          ) {
            strictRefs(child(u.body, "lexpr"));
          }
          return;
        }
        case "SubLink":
          // x IN (SELECT ...) is true only for a non-null x.
          if (str(u.body, "subLinkType") === "ANY_SUBLINK") strictRefs(child(u.body, "testexpr"));
          return;
        case "FuncCall": {
          const fn = names(list(u.body, "funcname"));
          const fname = (fn[fn.length - 1] ?? "").toLowerCase();
          if (
            u.body.over === undefined &&
            totalFunctions.has(fname) &&
            this.#catalog.func(fname)?.strict === true
          ) {
            for (const a of list(u.body, "args")) strictRefs(a);
          }
          return;
        }
        default:
          return;
      }
    };
    strictRefs(predicate);
    return out;
  }

  /** Resolves a column reference through the scope chain (correlated references included). */
  #resolve(fields: readonly string[], scope: Scope): Col | undefined {
    for (let s: Scope | undefined = scope; s !== undefined; s = s.parent) {
      const c = this.#resolveLocal(fields, s);
      if (c !== undefined) return c;
    }
    return undefined;
  }

  #resolveLocal(fields: readonly string[], scope: Scope): Col | undefined {
    if (fields.length === 0) return undefined;
    const colName = fields[fields.length - 1]!;
    if (fields.length === 1) {
      for (const i of scope.items) {
        const c = i.cols.find((x) => x.name === colName);
        if (c !== undefined) return c;
      }
      return undefined;
    }
    const alias = fields[fields.length - 2];
    for (const i of scope.items) {
      if (i.alias !== alias) continue;
      const c = i.cols.find((x) => x.name === colName);
      if (c !== undefined) return c;
    }
    return undefined;
  }

  /** Whether an expression can be NULL. */
  #expr(node: unknown, ctx: ExprCtx): boolean {
    const u = unwrap(node);
    if (u === undefined) return true;
    const b = u.body;
    switch (u.kind) {
      case "A_Const":
        return b.isnull === true;
      case "ColumnRef": {
        const fields = list(b, "fields");
        if (kindOf(fields[fields.length - 1]) === "A_Star") return false;
        const col = this.#resolve(names(fields), ctx.scope);
        if (col === undefined) {
          // A whole-row reference to a FROM item (`SELECT t FROM t`) is a non-null record.
          const alias = names(fields)[0];
          if (fields.length === 1 && ctx.scope.items.some((i) => i.alias === alias)) return false;
          return true;
        }
        return ctx.groupingSets || isNullable(col);
      }
      case "ParamRef":
        return this.#paramNullable(num(b, "number") ?? 0);
      case "TypeCast":
      case "CollateClause":
        return this.#expr(child(b, "arg"), ctx);
      case "NullTest":
      case "BooleanTest":
        return false;
      case "SQLValueFunction":
        return false;
      case "A_ArrayExpr":
      case "RowExpr":
        return false;
      case "CoalesceExpr":
        return list(b, "args").every((a) => this.#expr(a, ctx));
      case "MinMaxExpr":
        return list(b, "args").every((a) => this.#expr(a, ctx));
      case "CaseExpr": {
        const def = child(b, "defresult");
        if (def === undefined) return true;
        if (this.#expr(def, ctx)) return true;
        return list(b, "args").some((w) => this.#expr(child(as(w, "CaseWhen"), "result"), ctx));
      }
      case "BoolExpr":
        return list(b, "args").some((a) => this.#expr(a, ctx));
      case "A_Expr":
        return this.#aExpr(b, ctx);
      case "SubLink":
        return this.#subLink(b, ctx);
      case "FuncCall":
        return this.#funcCall(b, ctx);
      case "GroupingFunc":
        return false;
      default:
        // A_Indirection (subscripts, field selection), XmlExpr, ...: unknown, so nullable.
        return true;
    }
  }

  #aExpr(b: PgBody, ctx: ExprCtx): boolean {
    const kind = str(b, "kind");
    const op = names(list(b, "name"))[0] ?? "";
    const l = child(b, "lexpr");
    const r = child(b, "rexpr");
    const sides = (): boolean =>
      (l !== undefined && this.#expr(l, ctx)) || (r !== undefined && this.#expr(r, ctx));
    switch (kind) {
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
          list(as(r, "List"), "items").some((x) => this.#expr(x, ctx)) ||
          (kindOf(r) !== "List" && r !== undefined && this.#expr(r, ctx))
        );
      case "AEXPR_LIKE":
      case "AEXPR_ILIKE":
      case "AEXPR_SIMILAR":
        return sides();
      case "AEXPR_BETWEEN":
      case "AEXPR_NOT_BETWEEN":
      case "AEXPR_BETWEEN_SYM":
      case "AEXPR_NOT_BETWEEN_SYM":
        return (
          (l !== undefined && this.#expr(l, ctx)) ||
          list(as(r, "List"), "items").some((x) => this.#expr(x, ctx))
        );
      default:
        // = ANY(array), = ALL(array): NULL when an element is NULL and nothing matched.
        return true;
    }
  }

  #subLink(b: PgBody, ctx: ExprCtx): boolean {
    const type = str(b, "subLinkType");
    if (type === "EXISTS_SUBLINK" || type === "ARRAY_SUBLINK") return false;
    if (type !== "EXPR_SUBLINK") return true;
    // A scalar subquery is NULL when it returns no row. An ungrouped aggregate query always
    // returns exactly one row, so then only the column's own nullability counts.
    const sub = as(child(b, "subselect"), "SelectStmt");
    const cols = this.statement(child(b, "subselect"), ctx.scope, ctx.scope.ctes);
    const first = cols[0];
    if (sub === undefined || first === undefined) return true;
    const oneRow =
      str(sub, "op") === "SETOP_NONE" &&
      list(sub, "groupClause").length === 0 &&
      child(sub, "havingClause") === undefined &&
      child(sub, "limitCount") === undefined &&
      child(sub, "limitOffset") === undefined &&
      list(sub, "valuesLists").length === 0 &&
      this.#isAggregateCall(child(as(list(sub, "targetList")[0], "ResTarget"), "val"));
    return oneRow ? first.nullable : true;
  }

  #isAggregateCall(node: unknown): boolean {
    const fc = as(node, "FuncCall");
    if (fc === undefined || fc.over !== undefined) return false;
    const fn = names(list(fc, "funcname"));
    const fname = (fn[fn.length - 1] ?? "").toLowerCase();
    return this.#catalog.func(fname)?.aggregate === true || fc.agg_star === true;
  }

  #funcCall(b: PgBody, ctx: ExprCtx): boolean {
    const fn = names(list(b, "funcname"));
    const fname = (fn[fn.length - 1] ?? "").toLowerCase();
    const args = list(b, "args");
    const facts = this.#catalog.func(fname);
    const over = as(child(b, "over"), "WindowDef");
    const anyArgNullable = (): boolean => args.some((a) => this.#expr(a, ctx));
    const filtered = child(b, "agg_filter") !== undefined;

    if (b.over !== undefined) {
      if (neverNullWindowFunctions.has(fname)) return false;
      if (fname === "ntile") return anyArgNullable();
      if (fname === "lag" || fname === "lead") {
        // With a non-null default, only a NULL value itself yields NULL.
        return args.length < 3 || anyArgNullable();
      }
      if (fname === "count") return false;
      if (facts?.aggregate === true || b.agg_star === true) {
        const frame = this.#frameOptions(over, ctx);
        if (filtered || frame !== DEFAULT_FRAME) return true;
        if (nonEmptyAggregates.has(fname)) return false;
        if (nullOnAllNullAggregates.has(fname)) return anyArgNullable();
        return true;
      }
      return true;
    }

    if (fname === "count" && (b.agg_star === true || facts?.aggregate === true)) return false;
    if (facts?.aggregate === true) {
      if (!ctx.grouped || filtered) return true;
      if (nonEmptyAggregates.has(fname)) return false;
      if (nullOnAllNullAggregates.has(fname)) return anyArgNullable();
      return true;
    }
    if (fname === "coalesce") return args.every((a) => this.#expr(a, ctx));
    if (fname === "nullif") return true;
    if (neverNullFunctions.has(fname) && fn.length <= 2) return false;
    if (firstArgFunctions.has(fname)) return args[0] === undefined || this.#expr(args[0], ctx);
    if (fname === "substring" && args.length >= 2) {
      // substring(x from 'pattern') is NULL when nothing matches; the integer forms are total.
      const second = unwrap(args[1]);
      const isText = second?.kind === "A_Const" && typeof as(args[1], "A_Const")?.sval === "object";
      if (isText || second?.kind !== "A_Const") return true;
      return anyArgNullable();
    }
    if (totalFunctions.has(fname) && facts !== undefined && facts.strict) {
      return anyArgNullable();
    }
    return true;
  }

  #frameOptions(over: PgBody | undefined, ctx: ExprCtx): number {
    const own = num(over, "frameOptions") ?? DEFAULT_FRAME;
    const ref = str(over, "name") ?? str(over, "refname");
    if (ref !== undefined && own === DEFAULT_FRAME) {
      return num(ctx.windows.get(ref), "frameOptions") ?? DEFAULT_FRAME;
    }
    return own;
  }
}
