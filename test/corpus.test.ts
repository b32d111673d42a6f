/**
 * The type-analysis corpus (fixtures/corpus): a realistic schema and 160+ queries whose
 * expected parameter and column types and nullability were written from PostgreSQL semantics,
 * independently of svcgen. Every query's analysis must equal the expectation, and every
 * column svcgen calls nullable must be shown NULL on real data by a witness run, while the
 * columns it calls not null stay non-null on those same rows.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../cli/src/config/load-config.js";
import { type PublicQuery, toPublicModel } from "../cli/src/model.js";
import { analyseProject } from "../cli/src/project.js";
import { createTestDatabase, serverUrl, type TestDatabase } from "./db.js";

const corpusDir = join(import.meta.dirname, "..", "fixtures", "corpus");

interface ExpectedField {
  name: string;
  pgType: string;
  tsType: string;
  nullable: boolean;
  reason?: string;
}
interface ExpectedQuery {
  name: string;
  command: string;
  params: ExpectedField[];
  columns: ExpectedField[];
}

const expectedFiles = (await readdir(join(corpusDir, "expected")))
  .filter((f) => f.endsWith(".json"))
  .sort();
const expected: ExpectedQuery[] = [];
for (const f of expectedFiles) {
  const data = JSON.parse(await readFile(join(corpusDir, "expected", f), "utf8")) as {
    queries: ExpectedQuery[];
  };
  expected.push(...data.queries);
}
const witnesses = JSON.parse(await readFile(join(corpusDir, "witness.json"), "utf8")) as Record<
  string,
  { params: Record<string, unknown> }[]
>;

const strip = (f: ExpectedField) => ({
  name: f.name,
  pgType: f.pgType,
  tsType: f.tsType,
  nullable: f.nullable,
});

describe("type-analysis corpus", () => {
  let analysed: Map<string, PublicQuery>;
  let seeded: TestDatabase;

  beforeAll(async () => {
    const { config, diagnostics } = await loadConfig(join(corpusDir, "svcgen.yaml"), {
      DATABASE_URL: serverUrl(),
    });
    expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    const r = await analyseProject(config!, { cache: false });
    expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    analysed = new Map(toPublicModel(r.model).queries.map((q) => [q.name, q]));

    // A database with the schema and the seed data, for the witness runs.
    const migrations = (await readdir(join(corpusDir, "schema")))
      .filter((f) => f.endsWith(".sql"))
      .sort();
    let sql = "";
    for (const m of migrations)
      sql += `${await readFile(join(corpusDir, "schema", m), "utf8")}\n;\n`;
    sql += await readFile(join(corpusDir, "seed.sql"), "utf8");
    seeded = await createTestDatabase("corpus", sql);
  });

  afterAll(async () => {
    await seeded?.drop();
  });

  it("has at least 150 queries, each with an expectation", () => {
    expect(expected.length).toBeGreaterThanOrEqual(150);
    expect([...analysed.keys()].sort()).toEqual(expected.map((q) => q.name).sort());
  });

  it("gives a reason for every not-null expectation", () => {
    const missing = expected.flatMap((q) =>
      q.columns.filter((c) => !c.nullable && !c.reason).map((c) => `${q.name}.${c.name}`),
    );
    expect(missing).toEqual([]);
  });

  it.each(expected.map((q) => [q.name, q] as const))("%s", (_name, q) => {
    const got = analysed.get(q.name);
    expect(got, `query ${q.name} was not analysed`).toBeDefined();
    expect({ command: got!.command, params: got!.params, columns: got!.columns }).toEqual({
      command: q.command,
      params: q.params.map(strip),
      columns: q.columns.map(strip),
    });
  });

  it("shows every nullable column NULL, and no not-null column NULL, on real data", async () => {
    const client = new pg.Client({ connectionString: seeded.url });
    await client.connect();
    // Raw text values: only NULL-ness matters here.
    const raw = { getTypeParser: () => (v: string) => v };
    const unproven: string[] = [];
    const violated = new Set<string>();
    let notNullValuesChecked = 0;
    try {
      for (const q of expected) {
        const a = analysed.get(q.name);
        if (a === undefined) continue;
        const nullableCols = a.columns.map((c, i) => ({ c, i })).filter(({ c }) => c.nullable);
        // A `!` override forces not null by the author's word (the witness may even show it
        // wrong, as GetOrgUserStats does on purpose): only the analyser's own promises count.
        const notNullCols = a.columns
          .map((c, i) => ({ c, i }))
          .filter(({ c }) => !c.nullable && !a.sql.includes(`${c.name}!"`));
        const seen = new Set<number>();
        for (const w of witnesses[q.name] ?? []) {
          const values = a.params.map((p) => {
            const v = w.params[p.name];
            return v === undefined
              ? null
              : typeof v === "object" && v !== null && !Array.isArray(v)
                ? JSON.stringify(v)
                : v;
          });
          await client.query("BEGIN");
          try {
            const r = await client.query({ text: a.sql, values, rowMode: "array", types: raw });
            for (const row of r.rows as unknown[][]) {
              for (const { i } of nullableCols) if (row[i] === null) seen.add(i);
              // The same rows must never show NULL where svcgen promises a value.
              for (const { c, i } of notNullCols) {
                notNullValuesChecked++;
                if (row[i] === null) violated.add(`${q.name}.${c.name}`);
              }
            }
          } finally {
            await client.query("ROLLBACK");
          }
        }
        for (const { c, i } of nullableCols) {
          // A `?` override forces nullable by the author's word; nothing to prove.
          const forced = /\?"?\s*(,|$|\n|FROM)/i.test(a.sql) && a.sql.includes(`${c.name}?`);
          if (!seen.has(i) && !forced) unproven.push(`${q.name}.${c.name}`);
        }
      }
    } finally {
      await client.end();
    }
    expect(unproven).toEqual([]);
    expect([...violated]).toEqual([]);
    // The witness rows exercise the not-null promise broadly, not on a handful of values.
    expect(notNullValuesChecked).toBeGreaterThan(500);
  });
});
