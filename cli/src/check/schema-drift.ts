/**
 * Schema drift: the schema the repository's migrations produce (in a scratch database)
 * against the live database, at the level of tables, columns (type, NOT NULL), enums (labels
 * in order) and constraints (primary key, unique, foreign key, check, exclusion; compared by
 * definition, not by name, since generated names may differ).
 *
 * Scope: everything the migrations define. Tables and enums that exist only in the live
 * database are not reported, since other tools (Supabase's `auth` schema, a migration tool's
 * bookkeeping table) own them; extra columns and constraints on a table the migrations define
 * are reported.
 */
import type pg from "pg";
import type { Diagnostic } from "../diagnostics.js";
import { positionAt } from "../diagnostics.js";
import type { SourceFile } from "../inputs.js";
import { DriftCodes } from "./drift-codes.js";

/** One column of a table snapshot. */
export interface SnapshotColumn {
  readonly name: string;
  /** `format_type(atttypid, atttypmod)`, e.g. `character varying(40)`. */
  readonly type: string;
  readonly notNull: boolean;
}

/** One constraint of a table snapshot. */
export interface SnapshotConstraint {
  readonly name: string;
  /** `pg_get_constraintdef`, e.g. `UNIQUE (email)`. */
  readonly definition: string;
}

/** A table in a snapshot. `name` is schema-qualified unless the schema is `public`. */
export interface SnapshotTable {
  readonly name: string;
  readonly columns: readonly SnapshotColumn[];
  readonly constraints: readonly SnapshotConstraint[];
}

/** The user-visible schema of a database, as far as drift checks compare it. */
export interface SchemaSnapshot {
  readonly tables: readonly SnapshotTable[];
  /** Enum name (qualified unless `public`) -> labels in sort order. */
  readonly enums: ReadonlyMap<string, readonly string[]>;
}

const userSchemas = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`;
const qualified = `CASE WHEN n.nspname = 'public' THEN '' ELSE n.nspname || '.' END`;

/**
 * Reads the snapshot of the database `client` is connected to. Read-only: catalog queries
 * only. `format_type` spells names relative to the session's search path, which is left as
 * the database's default on both sides, so the two snapshots spell alike.
 */
export async function readSchemaSnapshot(client: pg.Client): Promise<SchemaSnapshot> {
  const cols = await client.query<{ t: string; c: string; type: string; nn: boolean }>(
    `SELECT ${qualified} || c.relname AS t, a.attname AS c,
            format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS nn
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE c.relkind IN ('r', 'p') AND ${userSchemas}
      ORDER BY 1, a.attnum`,
  );
  const cons = await client.query<{ t: string; name: string; def: string }>(
    `SELECT ${qualified} || c.relname AS t, k.conname AS name, pg_get_constraintdef(k.oid) AS def
       FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND ${userSchemas} AND k.contype IN ('p', 'u', 'f', 'c', 'x')
      ORDER BY 1, 3, 2`,
  );
  const enums = await client.query<{ name: string; labels: string[] }>(
    `SELECT ${qualified} || t.typname AS name,
            array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
       FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
       JOIN pg_enum e ON e.enumtypid = t.oid
      WHERE ${userSchemas}
      GROUP BY 1 ORDER BY 1`,
  );
  const tables = new Map<
    string,
    { columns: SnapshotColumn[]; constraints: SnapshotConstraint[] }
  >();
  const table = (name: string) => {
    let t = tables.get(name);
    if (t === undefined) {
      t = { columns: [], constraints: [] };
      tables.set(name, t);
    }
    return t;
  };
  for (const r of cols.rows) table(r.t).columns.push({ name: r.c, type: r.type, notNull: r.nn });
  for (const r of cons.rows) table(r.t).constraints.push({ name: r.name, definition: r.def });
  return {
    tables: [...tables].map(([name, t]) => ({ name, ...t })),
    enums: new Map(enums.rows.map((r) => [r.name, r.labels])),
  };
}

/**
 * Says what differs between `expected` (from the migrations) and `actual` (the live
 * database). Each difference is one SVC207 error, placed in the migration that most likely
 * introduced the thing (found by name in `migrations`; the last one mentioning it), or without
 * a location when none does.
 */
export function compareSchemas(
  expected: SchemaSnapshot,
  actual: SchemaSnapshot,
  migrations: readonly SourceFile[],
): Diagnostic[] {
  const out: Diagnostic[] = [];
  const push = (message: string, hint: string, where: Location | undefined): void => {
    out.push({
      severity: "error",
      code: DriftCodes.schemaDrift,
      message,
      ...(where !== undefined ? { file: where.file, line: where.line, column: where.column } : {}),
      hint,
    });
  };
  const apply = (where: Location | undefined, what: string): string =>
    where !== undefined
      ? `the database may not have applied ${where.file}: apply the pending migrations, or ${what}`
      : `apply the pending migrations, or ${what}`;

  const actualTables = new Map(actual.tables.map((t) => [t.name, t]));
  for (const want of expected.tables) {
    const have = actualTables.get(want.name);
    const tableAt = locateTable(migrations, want.name);
    if (have === undefined) {
      push(
        `table ${want.name} is missing in the database`,
        apply(tableAt, "remove it from the migrations"),
        tableAt,
      );
      continue;
    }
    const haveCols = new Map(have.columns.map((c) => [c.name, c]));
    const wantCols = new Set(want.columns.map((c) => c.name));
    for (const c of want.columns) {
      const h = haveCols.get(c.name);
      const colAt = locateColumn(migrations, want.name, c.name) ?? tableAt;
      if (h === undefined) {
        push(
          `table ${want.name}: column ${c.name} is missing in the database`,
          apply(colAt, "drop the column from the migrations"),
          colAt,
        );
      } else if (h.type !== c.type || h.notNull !== c.notNull) {
        push(
          `table ${want.name}: column ${c.name} is ${columnText(c)} in the migrations, database has ${columnText(h)}`,
          "write a migration that makes them agree, or apply the pending ones",
          colAt,
        );
      }
    }
    for (const h of have.columns) {
      if (wantCols.has(h.name)) continue;
      push(
        `table ${want.name}: column ${h.name} (${columnText(h)}) is in the database but not in the migrations`,
        "add a migration that creates it, or drop it from the database",
        tableAt,
      );
    }
    const haveDefs = new Set(have.constraints.map((k) => k.definition));
    const wantDefs = new Set(want.constraints.map((k) => k.definition));
    for (const k of want.constraints) {
      if (haveDefs.has(k.definition)) continue;
      push(
        `table ${want.name}: constraint ${k.name} ${k.definition} is missing in the database`,
        apply(tableAt, "drop it from the migrations"),
        locateWord(migrations, k.name) ?? tableAt,
      );
    }
    for (const k of have.constraints) {
      if (wantDefs.has(k.definition)) continue;
      push(
        `table ${want.name}: constraint ${k.name} ${k.definition} is in the database but not in the migrations`,
        "add a migration that creates it, or drop it from the database",
        tableAt,
      );
    }
  }

  for (const [name, labels] of expected.enums) {
    const have = actual.enums.get(name);
    const enumAt = locateEnum(migrations, name);
    if (have === undefined) {
      push(
        `enum ${name} is missing in the database`,
        apply(enumAt, "remove it from the migrations"),
        enumAt,
      );
    } else if (have.join("\0") !== labels.join("\0")) {
      push(
        `enum ${name}: labels are ${labelText(labels)} in the migrations, database has ${labelText(have)}`,
        "write a migration that makes them agree (ALTER TYPE ... ADD VALUE), or apply the pending ones",
        enumAt,
      );
    }
  }
  return out;
}

function columnText(c: SnapshotColumn): string {
  return `${c.type}${c.notNull ? " NOT NULL" : " NULL"}`;
}

function labelText(labels: readonly string[]): string {
  return labels.map((l) => `'${l}'`).join(", ");
}

// --- finding things in the migrations -----------------------------------------------------------

/** A place in a migration file. */
interface Location {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** An identifier as SQL may write it: bare or double-quoted, with an optional schema. */
function identPattern(qualifiedName: string): string {
  const parts = qualifiedName.split(".");
  const last = parts[parts.length - 1] ?? qualifiedName;
  const schema =
    parts.length > 1 ? `(?:"?${escapeRegExp(parts[0] ?? "")}"?\\.)` : `(?:"?\\w+"?\\.)?`;
  return `${schema}"?${escapeRegExp(last)}"?(?![\\w$])`;
}

/** The last match of `re` over all migrations (the newest migration that mentions it). */
function lastMatch(
  migrations: readonly SourceFile[],
  re: RegExp,
  filter: (text: string) => boolean = () => true,
  group = 0,
): Location | undefined {
  let found: Location | undefined;
  for (const m of migrations) {
    if (!filter(m.text)) continue;
    let last: RegExpExecArray | undefined;
    for (const x of m.text.matchAll(new RegExp(re.source, `${re.flags.replace("g", "")}g`))) {
      last = x;
    }
    if (last === undefined) continue;
    const offset = last.index + (group > 0 ? last[0].indexOf(last[group] ?? "") : 0);
    const { line, column } = positionAt(m.text, offset);
    found = { file: m.path, line, column };
  }
  return found;
}

function locateTable(migrations: readonly SourceFile[], table: string): Location | undefined {
  return lastMatch(
    migrations,
    new RegExp(
      `\\bcreate\\s+(?:unlogged\\s+)?table\\s+(?:if\\s+not\\s+exists\\s+)?${identPattern(table)}`,
      "i",
    ),
  );
}

function locateColumn(
  migrations: readonly SourceFile[],
  table: string,
  column: string,
): Location | undefined {
  const tableRe = new RegExp(identPattern(table), "i");
  const columnRe = new RegExp(`(?<![\\w$."])("?${escapeRegExp(column)}"?)(?![\\w$])`, "i");
  return lastMatch(migrations, columnRe, (t) => tableRe.test(t), 1);
}

function locateEnum(migrations: readonly SourceFile[], name: string): Location | undefined {
  return lastMatch(
    migrations,
    new RegExp(`\\b(?:create|alter)\\s+type\\s+${identPattern(name)}`, "i"),
  );
}

function locateWord(migrations: readonly SourceFile[], word: string): Location | undefined {
  return lastMatch(migrations, new RegExp(`(?<![\\w$])${escapeRegExp(word)}(?![\\w$])`, "i"));
}
