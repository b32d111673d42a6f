/**
 * Catalog facts the analyser needs, read from a real PostgreSQL in a few batched queries:
 * relations with their columns (NOT NULL, domain NOT NULL, types), view definitions, types
 * (enums with labels, domains with base types, arrays with element types) and functions
 * (strictness, aggregate/window kind).
 */
import type pg from "pg";
import type { PgType } from "../model.js";

/** A column of a table or view. */
export interface CatalogColumn {
  readonly name: string;
  readonly attnum: number;
  readonly typeOid: number;
  /** NOT NULL on the column itself, or from its domain (for a view: always false here). */
  readonly notNull: boolean;
}

/** A table, view, materialized view, partitioned or foreign table. */
export interface CatalogRelation {
  readonly oid: number;
  readonly schema: string;
  readonly name: string;
  readonly kind: "table" | "view" | "matview";
  readonly columns: readonly CatalogColumn[];
  /** The view's defining query (`pg_get_viewdef`), for views and materialized views. */
  readonly definition: string | undefined;
  /**
   * Whether its rows carry the system columns (`ctid`, `xmin`, `tableoid`, ...) that are
   * never NULL: tables, partitioned tables and materialized views, not views or foreign tables.
   */
  readonly systemColumns: boolean;
}

/** What the analyser needs to know of all functions of one name. */
export interface FunctionFacts {
  /** Every overload is strict (returns NULL on any NULL argument). */
  readonly strict: boolean;
  /** Some overload is an aggregate. */
  readonly aggregate: boolean;
  /** Some overload is a window function. */
  readonly window: boolean;
  /** Some overload returns a set. */
  readonly returnsSet: boolean;
  /** Some overload is VOLATILE (may have side effects, a write included). */
  readonly volatile: boolean;
}

/** The catalog interface the analyser works against. */
export interface Catalog {
  /** The schemas searched for unqualified names, in order. */
  readonly searchPath: readonly string[];
  /** A relation by (optional) schema and name, following the search path. */
  relation(schema: string | undefined, name: string): CatalogRelation | undefined;
  /** A relation by OID. */
  relationByOid(oid: number): CatalogRelation | undefined;
  /** Resolves type OIDs (and, recursively, their element and base types). */
  loadTypes(oids: Iterable<number>): Promise<void>;
  /** A type loaded by {@link loadTypes}. */
  type(oid: number): PgType;
  /** Loads facts for the named functions (lower-case names). */
  loadFunctions(names: Iterable<string>): Promise<void>;
  /** Facts for a function loaded by {@link loadFunctions}; undefined when unknown. */
  func(name: string): FunctionFacts | undefined;
}

interface TypeRow {
  oid: number;
  typname: string;
  formatted: string;
  typtype: string;
  typcategory: string;
  typelem: number;
  typbasetype: number;
  typnotnull: boolean;
  labels: string[] | null;
}

/**
 * Loads the relations of every non-system schema and returns a {@link Catalog} over the
 * connection. Pins `search_path` for the session so `format_type` spells names as a user
 * of that schema would (`users`, not `public.users`).
 */
export async function loadCatalog(client: pg.Client): Promise<Catalog> {
  const sp = await client.query<{ search_path: string[] }>(
    "SELECT current_schemas(false)::text[] AS search_path",
  );
  const searchPath = sp.rows[0]?.search_path ?? ["public"];
  const pinned = searchPath.length > 0 ? searchPath : ["public"];
  await client.query(`SELECT set_config('search_path', $1, false)`, [
    pinned.map((s) => `"${s.replace(/"/g, '""')}"`).join(", "),
  ]);

  const rel = await client.query<{
    oid: number;
    schema: string;
    name: string;
    relkind: string;
    definition: string | null;
    columns: { name: string; attnum: number; type: number; notnull: boolean }[] | null;
  }>(`
    SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind,
      CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END AS definition,
      (SELECT json_agg(json_build_object('name', a.attname, 'attnum', a.attnum,
                 'type', a.atttypid::int, 'notnull', a.attnotnull) ORDER BY a.attnum)
         FROM pg_attribute a
        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
      AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'`);

  const types = new Map<number, PgType>();
  const typeRows = new Map<number, TypeRow>();
  const functions = new Map<string, FunctionFacts>();

  const loadTypes = async (oids: Iterable<number>): Promise<void> => {
    let pending = [...new Set(oids)].filter((o) => o !== 0 && !typeRows.has(o));
    while (pending.length > 0) {
      const r = await client.query<TypeRow>(
        `SELECT t.oid::int AS oid, t.typname, format_type(t.oid, NULL) AS formatted,
                t.typtype::text AS typtype, t.typcategory::text AS typcategory,
                t.typelem::int AS typelem, t.typbasetype::int AS typbasetype, t.typnotnull,
                (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
                   FROM pg_enum e WHERE e.enumtypid = t.oid) AS labels
           FROM pg_type t WHERE t.oid = ANY($1::oid[])`,
        [pending],
      );
      const next: number[] = [];
      for (const row of r.rows) {
        typeRows.set(row.oid, row);
        for (const o of [row.typelem, row.typbasetype]) {
          if (o !== 0 && !typeRows.has(o)) next.push(o);
        }
      }
      for (const o of pending) {
        if (!typeRows.has(o)) {
          typeRows.set(o, {
            oid: o,
            typname: "unknown",
            formatted: "unknown",
            typtype: "p",
            typcategory: "X",
            typelem: 0,
            typbasetype: 0,
            typnotnull: false,
            labels: null,
          });
        }
      }
      pending = [...new Set(next)];
    }
  };

  const resolveType = (oid: number): PgType => {
    const cached = types.get(oid);
    if (cached !== undefined) return cached;
    const row = typeRows.get(oid);
    let t: PgType;
    if (row === undefined) {
      t = { kind: "other", oid, name: "unknown", typname: "unknown" };
    } else if (row.typtype === "e") {
      t = {
        kind: "enum",
        oid,
        name: row.formatted,
        typname: row.typname,
        labels: row.labels ?? [],
      };
    } else if (row.typtype === "d") {
      const base = resolveType(row.typbasetype);
      t = {
        kind: "domain",
        oid,
        name: row.formatted,
        typname: row.typname,
        notNull: row.typnotnull || (base.kind === "domain" && base.notNull),
        base,
      };
    } else if (row.typcategory === "A" && row.typelem !== 0) {
      t = {
        kind: "array",
        oid,
        name: row.formatted,
        typname: row.typname,
        element: resolveType(row.typelem),
      };
    } else if (row.typtype === "b") {
      t = { kind: "base", oid, name: row.formatted, typname: row.typname };
    } else {
      t = { kind: "other", oid, name: row.formatted, typname: row.typname };
    }
    types.set(oid, t);
    return t;
  };

  // Column NOT NULL includes the NOT NULL of the column's domain.
  await loadTypes(rel.rows.flatMap((r) => (r.columns ?? []).map((c) => c.type)));
  const relations: CatalogRelation[] = rel.rows.map((r) => ({
    oid: r.oid,
    schema: r.schema,
    name: r.name,
    kind: r.relkind === "v" ? "view" : r.relkind === "m" ? "matview" : "table",
    definition: r.definition ?? undefined,
    systemColumns: r.relkind === "r" || r.relkind === "p" || r.relkind === "m",
    columns: (r.columns ?? []).map((c) => {
      const t = resolveType(c.type);
      return {
        name: c.name,
        attnum: c.attnum,
        typeOid: c.type,
        notNull: c.notnull || (t.kind === "domain" && t.notNull),
      };
    }),
  }));
  const byOid = new Map(relations.map((r) => [r.oid, r]));
  const byName = new Map<string, CatalogRelation>();
  for (const r of relations) byName.set(`${r.schema}.${r.name}`, r);

  return {
    searchPath: pinned,
    relation(schema, name) {
      if (schema !== undefined) return byName.get(`${schema}.${name}`);
      for (const s of pinned) {
        const r = byName.get(`${s}.${name}`);
        if (r !== undefined) return r;
      }
      return undefined;
    },
    relationByOid: (oid) => byOid.get(oid),
    loadTypes,
    type: resolveType,
    async loadFunctions(names) {
      const missing = [...new Set(names)].filter((n) => !functions.has(n));
      if (missing.length === 0) return;
      const r = await client.query<{
        name: string;
        strict: boolean;
        aggregate: boolean;
        window: boolean;
        returns_set: boolean;
        volatile: boolean;
      }>(
        `SELECT p.proname AS name, bool_and(p.proisstrict) AS strict,
                bool_or(p.prokind = 'a') AS aggregate, bool_or(p.prokind = 'w') AS window,
                bool_or(p.proretset) AS returns_set, bool_or(p.provolatile = 'v') AS volatile
           FROM pg_proc p WHERE p.proname = ANY($1::text[]) GROUP BY p.proname`,
        [missing],
      );
      for (const row of r.rows) {
        functions.set(row.name, {
          strict: row.strict,
          aggregate: row.aggregate,
          window: row.window,
          returnsSet: row.returns_set,
          volatile: row.volatile,
        });
      }
    },
    func: (name) => functions.get(name),
  };
}
