/**
 * The schema's constraints, read from the catalog of the database the migrations built: the
 * input of the per-constraint database-error map. Every user table's primary key, unique,
 * foreign key, check and exclusion constraints, and its NOT NULL columns (a column attribute in
 * PostgreSQL, listed here as one constraint per column).
 */
import type pg from "pg";
import type { ConstraintKind, ConstraintModel } from "../model.js";
import { sortConstraints } from "./model-builder.js";

const kinds: Readonly<Record<string, ConstraintKind>> = {
  p: "primary_key",
  u: "unique",
  f: "foreign_key",
  c: "check",
  x: "exclusion",
};

const userSchemas = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`;

const constraintSql = `
SELECT c.conname AS name, c.contype AS kind, n.nspname AS schema, t.relname AS "table",
  ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(attnum, i)
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.i) AS columns,
  rn.nspname AS ref_schema, rt.relname AS ref_table,
  ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(attnum, i)
        JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.i) AS ref_columns
FROM pg_constraint c
JOIN pg_class t ON t.oid = c.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
LEFT JOIN pg_class rt ON rt.oid = c.confrelid
LEFT JOIN pg_namespace rn ON rn.oid = rt.relnamespace
WHERE c.contype IN ('p', 'u', 'f', 'c', 'x') AND t.relkind IN ('r', 'p') AND ${userSchemas}`;

const notNullSql = `
SELECT n.nspname AS schema, t.relname AS "table", a.attname AS "column"
FROM pg_attribute a
JOIN pg_class t ON t.oid = a.attrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE a.attnotnull AND a.attnum > 0 AND NOT a.attisdropped AND t.relkind IN ('r', 'p') AND ${userSchemas}`;

interface ConstraintRow {
  readonly name: string;
  readonly kind: string;
  readonly schema: string;
  readonly table: string;
  readonly columns: string[];
  readonly ref_schema: string | null;
  readonly ref_table: string | null;
  readonly ref_columns: string[];
}

/** Every constraint of the user tables of the connected database, sorted. */
export async function readConstraints(client: pg.ClientBase): Promise<ConstraintModel[]> {
  const out: ConstraintModel[] = [];
  // Both statements in one simple-query round trip; node-postgres answers with one result each.
  const [rows, notNull] = (await client.query(`${constraintSql};\n${notNullSql}`)) as unknown as [
    pg.QueryResult<ConstraintRow>,
    pg.QueryResult<{ schema: string; table: string; column: string }>,
  ];
  for (const r of rows.rows) {
    const kind = kinds[r.kind];
    if (kind === undefined) continue;
    out.push({
      name: r.name,
      kind,
      schema: r.schema,
      table: r.table,
      columns: r.columns,
      ...(kind === "foreign_key" && r.ref_table !== null
        ? {
            references: {
              schema: r.ref_schema ?? r.schema,
              table: r.ref_table,
              columns: r.ref_columns,
            },
          }
        : {}),
    });
  }
  for (const r of notNull.rows) {
    out.push({
      name: `${r.table}_${r.column}_not_null`,
      kind: "not_null",
      schema: r.schema,
      table: r.table,
      columns: [r.column],
    });
  }
  return sortConstraints(out);
}
