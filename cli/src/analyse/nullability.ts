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
  stringValue,
  unwrap,
  wrap,
} from "../parse/pg-ast.js";
import type { Catalog } from "./catalog.js";

/** A column visible in a scope. */
interface Col {
  readonly name: string;
  /** Null even when every join matched (nullable table column, nullable expression). */
  readonly baseNullable: boolean;
  /** Outer-join sides that null-extend this column when they do not match. */
  readonly ext: ReadonlySet<number>;
  /** The table column it is, when it is one. */
  readonly source: ColumnSource | undefined;
}

/** The base-table column a result column is a plain reference to. */
export interface ColumnSource {
  readonly table: string;
  readonly column: string;
}

/** A FROM item as seen by name lookup. */
interface Item {
  /** The alias (or table name) qualified references use; "" for USING-merged columns. */
  readonly alias: string;
  readonly cols: readonly Col[];
  /** Column names left out of `*` because a USING join shows them merged. */
  readonly hiddenInStar: ReadonlySet<string>;
}

/** One level of name lookup; `parent` is the enclosing query (correlated references). */
interface Scope {
  readonly items: readonly Item[];
  readonly parent: Scope | undefined;
  readonly ctes: ReadonlyMap<string, readonly OutCol[]>;
}

/** A result column of an analysed statement. */
export interface OutCol {
  readonly name: string;
  readonly nullable: boolean;
  readonly source: ColumnSource | undefined;
  /** Set on the columns of a `sqlc.embed(t)` target: `t`. */
  readonly embed?: string;
}

/** Context of expression evaluation in a select list. */
interface ExprCtx {
  readonly scope: Scope;
  /** GROUP BY is present and every group is non-empty (no grouping sets). */
  readonly grouped: boolean;
  /** GROUP BY has grouping sets (ROLLUP/CUBE/GROUPING SETS): grouped columns can be null. */
  readonly groupingSets: boolean;
  readonly windows: ReadonlyMap<string, PgBody>;
}

const emptySet: ReadonlySet<number> = new Set();
const DEFAULT_FRAME = 1058;

/** Operators that return non-null for non-null operands (they may raise, never return NULL). */
const totalOperators = new Set([
  "=",
  "<>",
  "!=",
  "<",
  ">",
  "<=",
  ">=",
  "+",
  "-",
  "*",
  "/",
  "%",
  "^",
  "||",
  "~",
  "~*",
  "!~",
  "!~*",
  "~~",
  "~~*",
  "!~~",
  "!~~*",
  "@>",
  "<@",
  "&&",
  "&",
  "|",
  "#",
  "<<",
  ">>",
  "|/",
  "@",
  "?",
  "?|",
  "?&",
  "-|-",
  "<->",
]);

/**
 * Strict functions known to return non-null for non-null arguments. An unknown function
 * is nullable: many strict ones return NULL for non-null input (`regexp_match`,
 * `array_position`, `array_length` of an empty array, `->>`).
 */
const totalFunctions = new Set([
  "lower",
  "upper",
  "initcap",
  "length",
  "char_length",
  "character_length",
  "octet_length",
  "bit_length",
  "abs",
  "round",
  "trunc",
  "ceil",
  "ceiling",
  "floor",
  "sign",
  "exp",
  "mod",
  "power",
  "pow",
  "trim",
  "btrim",
  "ltrim",
  "rtrim",
  "lpad",
  "rpad",
  "replace",
  "reverse",
  "left",
  "right",
  "repeat",
  "split_part",
  "strpos",
  "position",
  "substr",
  "md5",
  "to_date",
  "to_timestamp",
  "to_number",
  "date_trunc",
  "date_part",
  "extract",
  "age",
  "make_date",
  "make_time",
  "make_timestamp",
  "make_timestamptz",
  "make_interval",
  "justify_days",
  "justify_hours",
  "justify_interval",
  "timezone",
  "gen_random_uuid",
  "random",
  "now",
  "clock_timestamp",
  "statement_timestamp",
  "transaction_timestamp",
  "cardinality",
  "array_to_string",
  "to_json",
  "to_jsonb",
  "row_to_json",
  "jsonb_typeof",
  "json_typeof",
  "jsonb_array_length",
  "json_array_length",
  "jsonb_pretty",
  "jsonb_strip_nulls",
  "quote_ident",
  "quote_literal",
  "encode",
  "decode",
  "sha224",
  "sha256",
  "sha384",
  "sha512",
  "host",
  "text",
  "int4",
  "int8",
  "float8",
  "numeric",
  "greatest",
  "least",
  "starts_with",
  "ascii",
  "chr",
  "translate",
  "regexp_replace",
  "date_bin",
  "isfinite",
  "num_nulls",
  "num_nonnulls",
  "pg_typeof",
  "sqrt",
  "cbrt",
  "ln",
  "log",
  "log10",
  "degrees",
  "radians",
  "pi",
  "width_bucket",
  "div",
  "gcd",
  "lcm",
  "factorial",
  "string_to_array",
  "array_fill",
  "array_remove",
  "array_replace",
  "tsvector_to_array",
  "to_tsvector",
  "to_tsquery",
  "plainto_tsquery",
  "websearch_to_tsquery",
  "ts_rank",
]);

/** Functions that never return NULL, whatever their arguments. */
const neverNullFunctions = new Set([
  "concat",
  "jsonb_build_object",
  "json_build_object",
  "jsonb_build_array",
  "json_build_array",
  "quote_nullable",
  "num_nulls",
  "num_nonnulls",
  "current_database",
  "current_schema",
  "version",
  "pg_backend_pid",
  "txid_current",
  "gen_random_uuid",
  "now",
  "random",
  "clock_timestamp",
  "statement_timestamp",
  "transaction_timestamp",
  "timeofday",
  "pi",
  "row_number",
  "rank",
  "dense_rank",
  "percent_rank",
  "cume_dist",
]);

/** Functions returning non-null when their first argument is not null, whatever the rest. */
const firstArgFunctions = new Set(["concat_ws", "format"]);

/** Aggregates that are NULL only over no rows or only NULL inputs. */
const nullOnAllNullAggregates = new Set([
  "min",
  "max",
  "sum",
  "avg",
  "bool_and",
  "bool_or",
  "every",
  "bit_and",
  "bit_or",
  "bit_xor",
  "string_agg",
  "range_agg",
  "range_intersect_agg",
]);

/** Aggregates that are non-null over any non-empty input (NULL inputs included). */
const nonEmptyAggregates = new Set([
  "array_agg",
  "json_agg",
  "jsonb_agg",
  "json_object_agg",
  "jsonb_object_agg",
  "json_agg_strict",
  "jsonb_agg_strict",
]);

/** Set-returning functions whose rows are never null. */
const nonNullSetFunctions = new Set(["generate_series", "generate_subscripts"]);

/** The analyser: one per statement set, sharing catalog lookups and view analyses. */
export class NullabilityAnalyser {
  readonly #catalog: Catalog;
  #paramNullable: (n: number) => boolean = () => true;
  /** View columns, analysed once per analyser (views never refer to parameters). */
  readonly #views = new Map<number, readonly OutCol[]>();
  #joinIds = 0;

  /** One analyser serves every statement analysed against `catalog`. */
  constructor(catalog: Catalog) {
    this.#catalog = catalog;
  }

  /**
   * The result columns of a statement (`{ SelectStmt }`, `{ InsertStmt }`, ...), in order.
   * Statements without a result give an empty list. `paramNullable(n)` says whether `$n` may
   * be null (sqlc.narg, or assigned to a nullable column).
   */
  analyse(
    stmt: PgNode,
    paramNullable: (n: number) => boolean,
    embeds: ReadonlyMap<number, string> = new Map(),
  ): readonly OutCol[] {
    this.#paramNullable = paramNullable;
    this.#embeds = embeds;
    return this.#statement(stmt, undefined, new Map());
  }

  /** `sqlc.embed` targets of the statement being analysed, by the location of their `t.*`. */
  #embeds: ReadonlyMap<number, string> = new Map();

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

  #statement(
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
        cols = rename(
          this.#statement(wrap(child(sel, "larg"), "SelectStmt"), parent, out),
          aliases,
        );
        for (let i = 0; i < 4; i++) {
          out.set(name, cols);
          const whole = rename(this.#statement(query, parent, out), aliases);
          const merged = cols.map((col, k) => ({
            ...col,
            nullable: col.nullable || (whole[k]?.nullable ?? true),
          }));
          const changed = merged.some((m, k) => m.nullable !== cols[k]?.nullable);
          cols = merged;
          if (!changed) break;
        }
      } else {
        cols = rename(this.#statement(query, parent, out), aliases);
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
      const l = this.#statement(wrap(child(sel, "larg"), "SelectStmt"), parent, ctes);
      const r = this.#statement(wrap(child(sel, "rarg"), "SelectStmt"), parent, ctes);
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
        const cols = this.#statement(
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
        if (stmt !== undefined) cols = this.#statement(stmt, undefined, new Map());
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
    const cols = this.#statement(child(b, "subselect"), ctx.scope, ctx.scope.ctes);
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
      if (["row_number", "rank", "dense_rank", "percent_rank", "cume_dist"].includes(fname)) {
        return false;
      }
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

/**
 * The name PostgreSQL gives an unaliased result column (its FigureColname): a column's
 * name, a function's name, `coalesce`, `case`, ... and `?column?` otherwise.
 */
export function figureColname(node: unknown): string {
  const u = unwrap(node);
  if (u === undefined) return "?column?";
  const b = u.body;
  switch (u.kind) {
    case "ColumnRef": {
      const f = list(b, "fields");
      const last = f[f.length - 1];
      return kindOf(last) === "A_Star" ? "?column?" : (stringValue(last) ?? "?column?");
    }
    case "FuncCall": {
      const fn = names(list(b, "funcname"));
      return fn[fn.length - 1] ?? "?column?";
    }
    case "TypeCast": {
      const inner = figureColname(child(b, "arg"));
      if (inner !== "?column?") return inner;
      const tn = names(list(as(child(b, "typeName"), "TypeName"), "names"));
      return tn[tn.length - 1] ?? "?column?";
    }
    case "CollateClause":
      return figureColname(child(b, "arg"));
    case "CoalesceExpr":
      return "coalesce";
    case "CaseExpr":
      return "case";
    case "MinMaxExpr":
      return str(b, "op") === "IS_LEAST" ? "least" : "greatest";
    case "A_ArrayExpr":
      return "array";
    case "RowExpr":
      return "row";
    case "A_Expr":
      return str(b, "kind") === "AEXPR_NULLIF" ? "nullif" : "?column?";
    case "A_Indirection": {
      const ind = list(b, "indirection");
      const last = ind[ind.length - 1];
      const s = stringValue(last);
      return s ?? figureColname(child(b, "arg"));
    }
    case "SubLink": {
      const t = str(b, "subLinkType");
      if (t === "EXISTS_SUBLINK") return "exists";
      if (t === "ARRAY_SUBLINK") return "array";
      if (t === "EXPR_SUBLINK") {
        const first = list(as(child(b, "subselect"), "SelectStmt"), "targetList")[0];
        const rt = as(first, "ResTarget");
        return str(rt, "name") ?? figureColname(child(rt, "val"));
      }
      return "?column?";
    }
    case "SQLValueFunction": {
      const op = (str(b, "op") ?? "").replace(/^SVFOP_/, "").toLowerCase();
      return op.replace(/_n$/, "") || "?column?";
    }
    case "GroupingFunc":
      return "grouping";
    default:
      return "?column?";
  }
}

function plainCtx(scope: Scope): ExprCtx {
  return { scope, grouped: false, groupingSets: false, windows: new Map() };
}

function item(alias: string, cols: readonly Col[]): Item {
  return { alias, cols, hiddenInStar: new Set() };
}

function isNullable(c: Col): boolean {
  return c.baseNullable || c.ext.size > 0;
}

function outToCol(o: OutCol): Col {
  return { name: o.name, baseNullable: o.nullable, ext: emptySet, source: o.source };
}

function rename(cols: readonly OutCol[], aliases: readonly string[]): OutCol[] {
  return cols.map((c, i) => (aliases[i] === undefined ? c : { ...c, name: aliases[i]! }));
}

function renameCols(cols: readonly Col[], aliases: readonly string[]): Col[] {
  return cols.map((c, i) => (aliases[i] === undefined ? c : { ...c, name: aliases[i]! }));
}

function extend(items: readonly Item[], joinId: number): Item[] {
  return items.map((i) => ({
    ...i,
    cols: i.cols.map((c) => ({ ...c, ext: new Set([...c.ext, joinId]) })),
  }));
}

function hasCol(i: Item, name: string): boolean {
  return i.cols.some((c) => c.name === name);
}

function findCol(items: readonly Item[], name: string): Col | undefined {
  for (const i of items) {
    const c = i.cols.find((x) => x.name === name);
    if (c !== undefined) return c;
  }
  return undefined;
}

/** Used by tests and the analyser: the string value of a node, re-exported for convenience. */
export const nodeString = stringValue;
