/**
 * The data the nullability analysis works on: columns visible in a FROM scope, with their own
 * nullability and the outer joins that can null-extend them, and the result columns a
 * statement produces. Pure values and helpers; the walk over syntax trees is in
 * nullability.ts.
 */
import type { WindowDef } from "@pgsql/types";

/** A column visible in a scope. */
export interface Col {
  readonly name: string;
  /** Null even when every join matched (nullable table column, nullable expression). */
  readonly baseNullable: boolean;
  /** Outer-join sides that null-extend this column when they do not match. */
  readonly ext: ReadonlySet<number>;
  /** The table column it is, when it is one. */
  readonly source: ColumnSource | undefined;
  /** Its type, when known from the catalog (a table column, or a plain reference to one). */
  readonly typeOid?: number;
  /** A system column (`ctid`, `xmin`, ...): referable by name, never part of `*`. */
  readonly system?: true;
}

/** The base-table column a result column is a plain reference to. */
export interface ColumnSource {
  readonly table: string;
  readonly column: string;
}

/** A FROM item as seen by name lookup. */
export interface Item {
  /** The alias (or table name) qualified references use; "" for USING-merged columns. */
  readonly alias: string;
  readonly cols: readonly Col[];
  /** Column names left out of `*` because a USING join shows them merged. */
  readonly hiddenInStar: ReadonlySet<string>;
}

/** One level of name lookup; `parent` is the enclosing query (correlated references). */
export interface Scope {
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
  /** Its type, when it is a plain reference to a column of known type. */
  readonly typeOid?: number;
}

/** Context of expression evaluation in a select list. */
export interface ExprCtx {
  readonly scope: Scope;
  /** GROUP BY is present and every group is non-empty (no grouping sets). */
  readonly grouped: boolean;
  /** GROUP BY has grouping sets (ROLLUP/CUBE/GROUPING SETS): grouped columns can be null. */
  readonly groupingSets: boolean;
  readonly windows: ReadonlyMap<string, WindowDef>;
}

/** No outer join null-extends the column. */
export const emptySet: ReadonlySet<number> = new Set();

/** An expression context outside any grouping or window clause. */
export function plainCtx(scope: Scope): ExprCtx {
  return { scope, grouped: false, groupingSets: false, windows: new Map() };
}

/** A FROM item with nothing hidden from `*`. */
export function item(alias: string, cols: readonly Col[]): Item {
  return { alias, cols, hiddenInStar: new Set() };
}

/** Whether a column can be NULL: nullable in itself or null-extended by an outer join. */
export function isNullable(c: Col): boolean {
  return c.baseNullable || c.ext.size > 0;
}

/** A subquery's or CTE's result column as a column of a FROM item. */
export function outToCol(o: OutCol): Col {
  return {
    name: o.name,
    baseNullable: o.nullable,
    ext: emptySet,
    source: o.source,
    ...(o.typeOid === undefined ? {} : { typeOid: o.typeOid }),
  };
}

/** Result columns renamed by an alias list (`AS t(a, b)`); unnamed positions keep their name. */
export function rename(cols: readonly OutCol[], aliases: readonly string[]): OutCol[] {
  return cols.map((c, i) => (aliases[i] === undefined ? c : { ...c, name: aliases[i]! }));
}

/** Scope columns renamed by an alias list; unnamed positions keep their name. */
export function renameCols(cols: readonly Col[], aliases: readonly string[]): Col[] {
  return cols.map((c, i) => (aliases[i] === undefined ? c : { ...c, name: aliases[i]! }));
}

/** The items as the nullable side of outer join `joinId`: every column null-extended by it. */
export function extend(items: readonly Item[], joinId: number): Item[] {
  return items.map((i) => ({
    ...i,
    cols: i.cols.map((c) => ({ ...c, ext: new Set([...c.ext, joinId]) })),
  }));
}

/** Whether the item has a column of that name. */
export function hasCol(i: Item, name: string): boolean {
  return i.cols.some((c) => c.name === name);
}

/** The first column of that name among the items. */
export function findCol(items: readonly Item[], name: string): Col | undefined {
  for (const i of items) {
    const c = i.cols.find((x) => x.name === name);
    if (c !== undefined) return c;
  }
  return undefined;
}

/** Resolves a column reference through the scope chain (correlated references included). */
export function resolveColumn(fields: readonly string[], scope: Scope): Col | undefined {
  for (let s: Scope | undefined = scope; s !== undefined; s = s.parent) {
    const c = resolveLocal(fields, s);
    if (c !== undefined) return c;
  }
  return undefined;
}

/** Resolves a column reference (`col` or `alias.col`) among one scope's own items. */
export function resolveLocal(fields: readonly string[], scope: Scope): Col | undefined {
  const colName = fields[fields.length - 1];
  if (colName === undefined) return undefined;
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
