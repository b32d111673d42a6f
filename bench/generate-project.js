/**
 * The benchmark project: a synthetic but realistic schema of 100 tables (20 modules of 5) and
 * 1,000 sqlc-style queries over it (50 per module file), deterministic for a seed. The same
 * queries are also written in pgtyped's syntax, with a pgtyped config, so both tools analyse
 * exactly the same statements.
 *
 *   node bench/generate-project.js [dir]   # default bench/work/project
 */
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** @typedef {"int4" | "int8" | "text" | "uuid" | "timestamptz" | "bool" | "numeric" | "jsonb"} ColType */
/** @typedef {{ name: string, type: ColType, sqlType: string, notNull: boolean, default?: string, ref?: Table }} Column */
/** @typedef {{ index: number, name: string, module: string, noun: string, idType: "int8" | "uuid", columns: Column[], parent: Table | undefined, parentCol: string, other: Table | undefined, otherCol: string | undefined, extras: Column[] }} Table */
/** @typedef {{ name: string, command: "one" | "many" | "exec" | "execrows", sql: string, doc?: string }} QuerySpec */
/** @typedef {{ tables: Table[], migrations: { path: string, text: string }[], queryFiles: { module: string, file: string, queries: QuerySpec[] }[] }} Project */

/** mulberry32: small, fast, deterministic. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const modules = [
  "auth",
  "billing",
  "catalog",
  "crm",
  "inventory",
  "shipping",
  "support",
  "analytics",
  "hr",
  "payroll",
  "projects",
  "docs",
  "chat",
  "media",
  "reviews",
  "marketing",
  "finance",
  "legal",
  "fleet",
  "events",
];
const nouns = [
  "accounts",
  "sessions",
  "invoices",
  "payments",
  "products",
  "categories",
  "contacts",
  "deals",
  "items",
  "warehouses",
  "shipments",
  "carriers",
  "tickets",
  "replies",
  "reports",
  "dashboards",
  "employees",
  "teams",
  "payslips",
  "contracts",
  "tasks",
  "milestones",
  "documents",
  "revisions",
  "channels",
  "messages",
  "assets",
  "albums",
  "reviews",
  "ratings",
  "campaigns",
  "segments",
  "ledgers",
  "entries",
  "cases",
  "clauses",
  "vehicles",
  "routes",
  "venues",
  "bookings",
];

/** Extra columns by type: name pool, SQL type, default. */
/** @type {Record<ColType, { names: string[], sql: string }>} */
const extraPool = {
  int4: {
    names: ["quantity", "priority", "position", "rating", "attempts", "score"],
    sql: "integer",
  },
  int8: { names: ["total_bytes", "view_count", "sequence_no", "external_id"], sql: "bigint" },
  text: {
    names: ["title", "description", "code", "email", "slug", "label", "notes", "locale"],
    sql: "text",
  },
  uuid: { names: ["external_ref", "correlation_id", "tenant_id"], sql: "uuid" },
  timestamptz: {
    names: ["starts_at", "ends_at", "archived_at", "due_at", "verified_at"],
    sql: "timestamp with time zone",
  },
  bool: { names: ["is_archived", "verified", "flagged", "is_public"], sql: "boolean" },
  numeric: { names: ["price", "balance", "weight", "discount"], sql: "numeric(12,2)" },
  jsonb: { names: ["metadata", "settings", "payload", "attributes"], sql: "jsonb" },
};
const extraTypes = /** @type {ColType[]} */ (Object.keys(extraPool));

/** `crm_contacts` -> `CrmContacts`. */
function pascal(s) {
  return s
    .split("_")
    .map((p) => p[0].toUpperCase() + p.slice(1))
    .join("");
}

/** `contacts` -> `contact` (good enough for the noun list). */
function singular(s) {
  if (s.endsWith("ies")) return `${s.slice(0, -3)}y`;
  if (s.endsWith("ses")) return s.slice(0, -2);
  if (s.endsWith("s")) return s.slice(0, -1);
  return s;
}

/**
 * The schema: table i of module m has index 5m+k; every table references an earlier one (the
 * first one itself), some a second one, so migrations in module order always apply.
 * @param {() => number} r
 * @returns {Table[]}
 */
function makeTables(r) {
  /** @type {Table[]} */
  const tables = [];
  const pick = (/** @type {number} */ n) => Math.floor(r() * n);
  for (const [m, module] of modules.entries()) {
    const used = new Set();
    while (used.size < 5) used.add(nouns[pick(nouns.length)]);
    for (const noun of [...used].sort()) {
      const index = tables.length;
      const name = `${module}_${noun}`;
      const idType = r() < 0.5 ? "int8" : "uuid";
      /** @type {Table} */
      const t = /** @type {Table} */ ({
        index,
        name,
        module,
        noun,
        idType,
        columns: [],
        extras: [],
      });
      // Parent: mostly in the same module, sometimes anywhere earlier; the first table itself.
      const sameModuleStart = m * 5;
      t.parent =
        index === 0
          ? t
          : index > sameModuleStart && r() < 0.6
            ? tables[sameModuleStart + pick(index - sameModuleStart)]
            : tables[pick(index)];
      t.parentCol = t.parent === t ? "parent_id" : `${singular(t.parent.noun)}_id`;
      const idCol = /** @type {Column} */ ({
        name: "id",
        type: idType,
        sqlType: idType === "int8" ? "bigint GENERATED ALWAYS AS IDENTITY" : "uuid",
        notNull: true,
        default: idType === "uuid" ? "gen_random_uuid()" : undefined,
      });
      t.columns.push(idCol);
      t.columns.push({
        name: t.parentCol,
        type: t.parent.idType,
        sqlType: t.parent.idType === "int8" ? "bigint" : "uuid",
        notNull: t.parent !== t && r() < 0.7,
        ref: t.parent,
      });
      if (index > 1 && r() < 0.4) {
        const other = tables[pick(index)];
        const col = `${singular(other.noun)}_id`;
        if (other !== t.parent && col !== t.parentCol) {
          t.other = other;
          t.otherCol = col;
          t.columns.push({
            name: col,
            type: other.idType,
            sqlType: other.idType === "int8" ? "bigint" : "uuid",
            notNull: false,
            ref: other,
          });
        }
      }
      t.columns.push({ name: "name", type: "text", sqlType: "text", notNull: true });
      t.columns.push({
        name: "status",
        type: "text",
        sqlType: "text",
        notNull: true,
        default: "'active'",
      });
      t.columns.push({
        name: "is_active",
        type: "bool",
        sqlType: "boolean",
        notNull: true,
        default: "true",
      });
      t.columns.push({
        name: "amount",
        type: "numeric",
        sqlType: "numeric(12,2)",
        notNull: r() < 0.5,
      });
      const taken = new Set(t.columns.map((c) => c.name));
      const nExtras = 3 + pick(6);
      for (let k = 0; k < nExtras; k++) {
        const type = extraTypes[pick(extraTypes.length)];
        const pool = extraPool[type];
        const cname = pool.names[pick(pool.names.length)];
        if (taken.has(cname)) continue;
        taken.add(cname);
        const c = /** @type {Column} */ ({
          name: cname,
          type,
          sqlType: pool.sql,
          notNull: r() < 0.4,
        });
        if (c.notNull && type === "jsonb") c.default = "'{}'::jsonb";
        if (c.notNull && type === "bool") c.default = "false";
        t.columns.push(c);
        t.extras.push(c);
      }
      t.columns.push({
        name: "created_at",
        type: "timestamptz",
        sqlType: "timestamp with time zone",
        notNull: true,
        default: "now()",
      });
      t.columns.push({
        name: "updated_at",
        type: "timestamptz",
        sqlType: "timestamp with time zone",
        notNull: false,
      });
      tables.push(t);
    }
  }
  return tables;
}

/** @param {Table} t */
function createTable(t) {
  const lines = t.columns.map((c) => {
    let s = `  ${c.name} ${c.sqlType}`;
    if (c.name === "id") s += " PRIMARY KEY";
    else if (c.notNull) s += " NOT NULL";
    if (c.default !== undefined) s += ` DEFAULT ${c.default}`;
    if (c.ref !== undefined)
      s += ` REFERENCES ${c.ref.name} (id)${c.notNull ? " ON DELETE CASCADE" : " ON DELETE SET NULL"}`;
    return s;
  });
  let sql = `CREATE TABLE ${t.name} (\n${lines.join(",\n")}\n);\n`;
  for (const c of t.columns) {
    if (c.ref !== undefined)
      sql += `CREATE INDEX ${t.name}_${c.name}_idx ON ${t.name} (${c.name});\n`;
  }
  if (t.columns.some((c) => c.name === "slug"))
    sql += `CREATE UNIQUE INDEX ${t.name}_slug_key ON ${t.name} (slug);\n`;
  return sql;
}

/**
 * A query template: SQL with `{name}` parameter placeholders, rendered as `@name` or `$n`
 * (sqlc) and `:name` (pgtyped).
 * @typedef {{ name: string, command: QuerySpec["command"], sql: string, positional: boolean }} Template
 */

/**
 * Ten queries per table: point lookup, list by parent, inner join, left join, aggregate without
 * GROUP BY, aggregate with GROUP BY, insert RETURNING, update RETURNING/exec, delete
 * :execrows, and a search (subquery, jsonb, COALESCE, EXISTS...).
 * @param {Table} t
 * @param {() => number} r
 * @returns {Template[]}
 */
function tableQueries(t, r) {
  const P = pascal(t.name);
  const p = t.parent ?? t;
  const pc = t.parentCol;
  const cols = t.columns.filter((c) => c.name !== "id");
  const some = (/** @type {number} */ n) => {
    const pool = [...cols];
    const out = [];
    while (out.length < n && pool.length > 0)
      out.push(pool.splice(Math.floor(r() * pool.length), 1)[0]);
    return out.map((c) => c.name);
  };
  const pos = () => r() < 0.3;
  const ext = (/** @type {ColType} */ type) => t.extras.find((c) => c.type === type);
  /** @type {Template[]} */
  const q = [];

  // 1. point lookup
  q.push({
    name: `Get${P}`,
    command: "one",
    sql:
      r() < 0.3
        ? `SELECT * FROM ${t.name} WHERE id = {id}`
        : `SELECT id, ${some(4).join(", ")}\nFROM ${t.name}\nWHERE id = {id}`,
    positional: pos(),
  });
  // 2. list by parent
  q.push({
    name: `List${P}By${pascal(pc)}`,
    command: "many",
    sql: `SELECT id, name, status, ${some(3).join(", ")}\nFROM ${t.name}\nWHERE ${pc} = {${pc}} AND is_active\nORDER BY created_at DESC\nLIMIT {page_size}`,
    positional: pos(),
  });
  // 3. inner join (with the second foreign key as a LEFT JOIN when there is one)
  {
    let sql = `SELECT c.id, c.name, c.amount, p.name AS parent_name, p.created_at AS parent_created_at`;
    if (t.other !== undefined) sql += `, o.name AS ${singular(t.other.noun)}_name`;
    sql += `\nFROM ${t.name} c\nJOIN ${p.name} p ON p.id = c.${pc}`;
    if (t.other !== undefined) sql += `\nLEFT JOIN ${t.other.name} o ON o.id = c.${t.otherCol}`;
    sql += `\nWHERE c.status = {status}\nORDER BY c.created_at DESC`;
    q.push({ name: `List${P}WithParent`, command: "many", sql, positional: pos() });
  }
  // 4. left join from the parent
  q.push({
    name: `List${P}ForParents`,
    command: "many",
    sql: `SELECT p.id AS parent_id, p.name AS parent_name, c.id AS child_id, c.name AS child_name, c.amount\nFROM ${p.name} p\nLEFT JOIN ${t.name} c ON c.${pc} = p.id AND c.is_active\nWHERE p.created_at >= {since}\nORDER BY p.created_at, c.created_at`,
    positional: pos(),
  });
  // 5. aggregate without GROUP BY
  q.push({
    name: `Count${P}`,
    command: "one",
    sql: `SELECT count(*) AS total, count(updated_at) AS updated, sum(amount) AS total_amount, max(created_at) AS latest\nFROM ${t.name}\nWHERE is_active = {is_active}`,
    positional: pos(),
  });
  // 6. aggregate with GROUP BY
  q.push({
    name: `Summarise${P}ByStatus`,
    command: "many",
    sql: `SELECT status, count(*) AS total, avg(amount) AS avg_amount, min(created_at) AS first_created\nFROM ${t.name}\nWHERE created_at < {before}\nGROUP BY status\nHAVING count(*) > {min_count}\nORDER BY total DESC`,
    positional: pos(),
  });
  // 7. insert RETURNING
  {
    const insertable = cols.filter(
      (c) => c.name !== "created_at" && c.name !== "updated_at" && c.default === undefined,
    );
    const ret = r() < 0.4 ? "*" : "id, created_at";
    q.push({
      name: `Create${P}`,
      command: "one",
      sql: `INSERT INTO ${t.name} (${insertable.map((c) => c.name).join(", ")})\nVALUES (${insertable.map((c) => `{${c.name}}`).join(", ")})\nRETURNING ${ret}`,
      positional: pos(),
    });
  }
  // 8. update RETURNING or :exec
  {
    const upd = t.extras.length > 0 ? t.extras[Math.floor(r() * t.extras.length)] : undefined;
    const sets = ["name = {name}", "amount = {amount}"];
    if (upd !== undefined) sets.push(`${upd.name} = {${upd.name}}`);
    sets.push("updated_at = now()");
    const returning = r() < 0.6;
    q.push({
      name: `Update${P}`,
      command: returning ? "one" : "exec",
      sql: `UPDATE ${t.name}\nSET ${sets.join(", ")}\nWHERE id = {id}${returning ? "\nRETURNING id, name, amount, updated_at" : ""}`,
      positional: pos(),
    });
  }
  // 9. delete :execrows
  q.push({
    name: `Delete${P}`,
    command: "execrows",
    sql:
      r() < 0.5
        ? `DELETE FROM ${t.name} WHERE id = {id}`
        : `DELETE FROM ${t.name}\nWHERE NOT is_active AND created_at < {before}`,
    positional: pos(),
  });
  // 10. a search, one of several shapes
  {
    const text = ext("text");
    const json = ext("jsonb");
    const kind = Math.floor(r() * 4);
    let sql;
    if (kind === 0 && json !== undefined) {
      sql = `SELECT id, name, ${json.name}->>'kind' AS kind\nFROM ${t.name}\nWHERE ${json.name} ->> 'kind' = {kind}\nORDER BY id`;
    } else if (kind === 1 && text !== undefined) {
      sql = `SELECT id, COALESCE(${text.name}, name) AS display, status\nFROM ${t.name}\nWHERE ${text.name} ILIKE {pattern} OR name ILIKE {pattern}\nORDER BY name\nLIMIT 50`;
    } else if (kind === 2) {
      sql = `SELECT p.id, p.name,\n  (SELECT count(*) FROM ${t.name} c WHERE c.${pc} = p.id) AS child_count\nFROM ${p.name} p\nWHERE EXISTS (SELECT 1 FROM ${t.name} c WHERE c.${pc} = p.id AND c.status = {status})`;
    } else {
      sql = `SELECT id, name, CASE WHEN amount IS NULL THEN 'unknown' WHEN amount > {threshold} THEN 'high' ELSE 'low' END AS band\nFROM ${t.name}\nWHERE ${pc} IN (SELECT id FROM ${p.name} WHERE is_active)\nORDER BY id\nLIMIT {page_size}`;
    }
    q.push({ name: `Search${P}`, command: "many", sql, positional: pos() });
  }
  return q;
}

/**
 * Renders a template: sqlc (`@name`, or `$n` in order of first appearance) and pgtyped
 * (`:name`; pgtyped's SQL files have no positional parameters).
 * @param {Template} t
 */
function render(t) {
  const order = [];
  const sqlc = t.sql.replace(/\{([a-z_0-9]+)\}/g, (_, n) => {
    if (!t.positional) return `@${n}`;
    let i = order.indexOf(n);
    if (i < 0) i = order.push(n) - 1;
    return `$${i + 1}`;
  });
  const pgtyped = t.sql.replace(/\{([a-z_0-9]+)\}/g, (_, n) => `:${n}`);
  return { sqlc, pgtyped };
}

/**
 * Builds the project in memory.
 * @param {number} seed
 * @returns {Project & { rendered: { file: string, sqlc: string, pgtyped: string }[] }}
 */
export function buildProject(seed = 20240601) {
  const r = rng(seed);
  const tables = makeTables(r);
  const migrations = modules.map((module, m) => ({
    path: `migrations/${String(m + 1).padStart(3, "0")}_${module}.sql`,
    text: `-- ${module}: ${tables
      .slice(m * 5, m * 5 + 5)
      .map((t) => t.name)
      .join(", ")}\n\n${tables
      .slice(m * 5, m * 5 + 5)
      .map(createTable)
      .join("\n")}`,
  }));
  const rendered = modules.map((module, m) => {
    const file = `${String(m + 1).padStart(2, "0")}_${module}.sql`;
    let sqlc = `-- Queries of the ${module} module (generated by bench/generate-project.js).\n`;
    let pgtyped = `/* Queries of the ${module} module (generated by bench/generate-project.js). */\n`;
    for (const t of tables.slice(m * 5, m * 5 + 5)) {
      for (const tpl of tableQueries(t, r)) {
        const x = render(tpl);
        sqlc += `\n-- name: ${tpl.name} :${tpl.command}\n${x.sqlc};\n`;
        pgtyped += `\n/* @name ${tpl.name} */\n${x.pgtyped};\n`;
      }
    }
    return { file, sqlc, pgtyped };
  });
  return { tables, migrations, queryFiles: [], rendered };
}

/**
 * Writes the project to `dir` (emptied first): svcgen.yaml (url from DATABASE_URL),
 * svcgen.embedded.yaml (url: "", the embedded server), migrations/, queries/, and pgtyped/
 * with config.json and the same queries in pgtyped syntax.
 * @param {string} dir
 * @param {{ seed?: number, pgtypedDbUrl?: string }} [opts]
 * @returns {Promise<{ tables: number, queries: number, queryFiles: number }>}
 */
export async function writeProject(dir, opts = {}) {
  const p = buildProject(opts.seed);
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, "migrations"), { recursive: true });
  await mkdir(join(dir, "queries"), { recursive: true });
  await mkdir(join(dir, "pgtyped", "src"), { recursive: true });
  const yaml = (/** @type {string} */ url) =>
    `version: 1\nschema: migrations\nqueries: queries\nout: gen\ndatabase:\n  url: ${url}\n  postgres: 15\n`;
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a config-style reference, substituted by svcgen
  await writeFile(join(dir, "svcgen.yaml"), yaml("${DATABASE_URL}"));
  await writeFile(join(dir, "svcgen.embedded.yaml"), yaml('""'));
  for (const m of p.migrations) await writeFile(join(dir, m.path), m.text);
  let queries = 0;
  for (const f of p.rendered) {
    await writeFile(join(dir, "queries", f.file), f.sqlc);
    await writeFile(join(dir, "pgtyped", "src", f.file), f.pgtyped);
    queries += (f.sqlc.match(/^-- name: /gm) ?? []).length;
  }
  const pgtypedConfig = {
    transforms: [{ mode: "sql", include: "**/*.sql", emitTemplate: "{{dir}}/{{name}}.queries.ts" }],
    srcDir: "./src/",
    failOnError: false,
    camelCaseColumnNames: false,
    dbUrl: opts.pgtypedDbUrl ?? "postgres://postgres@127.0.0.1:5432/bench_pgtyped",
  };
  await writeFile(
    join(dir, "pgtyped", "config.json"),
    `${JSON.stringify(pgtypedConfig, null, 2)}\n`,
  );
  return { tables: p.tables.length, queries, queryFiles: p.rendered.length };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = resolve(
    process.argv[2] ?? join(fileURLToPath(new URL(".", import.meta.url)), "work", "project"),
  );
  const s = await writeProject(dir);
  console.log(`${dir}: ${s.tables} tables, ${s.queries} queries in ${s.queryFiles} files`);
}
