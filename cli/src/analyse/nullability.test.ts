/**
 * Nullability cases where code generators commonly go wrong, each run through the real
 * pipeline (parser, Describe, catalog) against a real PostgreSQL. `N` = may be NULL,
 * `-` = never NULL, one letter per result column.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test/db.js";
import { loadParser, parseQueryFile } from "../parse/query-file-parser.js";
import { analyseQueries } from "./analyse-queries.js";

const schema = `
CREATE TABLE a (id int PRIMARY KEY, x int NOT NULL, y int);
CREATE TABLE b (id int PRIMARY KEY, a_id int NOT NULL, x int NOT NULL, y int);
CREATE TABLE c (id int PRIMARY KEY, b_id int NOT NULL, x int NOT NULL);
CREATE DOMAIN nn_text AS text NOT NULL;
CREATE TABLE d (id int PRIMARY KEY, t nn_text, u text);
CREATE VIEW ab AS SELECT a.id, b.x FROM a LEFT JOIN b ON b.a_id = a.id;
CREATE TABLE e (id int PRIMARY KEY, at timestamptz NOT NULL, d date NOT NULL, t time NOT NULL,
  n numeric NOT NULL, r int4range NOT NULL, s varchar NOT NULL, arr int[] NOT NULL, parent int);
`;

const cases: [string, string, string][] = [
  ["left join side", "SELECT a.x, b.x FROM a LEFT JOIN b ON b.a_id = a.id", "-N"],
  ["right join side", "SELECT a.x, b.x FROM a RIGHT JOIN b ON b.a_id = a.id", "N-"],
  ["full join both sides", "SELECT a.x, b.x FROM a FULL JOIN b ON b.a_id = a.id", "NN"],
  [
    "inner join after left join proves the left-joined row",
    "SELECT b.x, c.x FROM a LEFT JOIN b ON b.a_id = a.id JOIN c ON c.b_id = b.id",
    "--",
  ],
  [
    "WHERE comparison on the nullable side proves it",
    "SELECT b.x, b.y FROM a LEFT JOIN b ON b.a_id = a.id WHERE b.x > 0",
    "-N",
  ],
  ["WHERE col IS NOT NULL narrows that column", "SELECT y, x FROM a WHERE y IS NOT NULL", "--"],
  [
    "anti-join IS NULL proves nothing",
    "SELECT b.x FROM a LEFT JOIN b ON b.a_id = a.id WHERE b.id IS NULL",
    "N",
  ],
  [
    "OR proves nothing",
    "SELECT b.x FROM a LEFT JOIN b ON b.a_id = a.id WHERE b.x = 1 OR a.x = 1",
    "N",
  ],
  [
    "COALESCE in WHERE proves nothing",
    "SELECT b.x FROM a LEFT JOIN b ON b.a_id = a.id WHERE coalesce(b.x, 0) = 0",
    "N",
  ],
  [
    "a proof covers the whole matched side, not a nested outer join",
    "SELECT b.x, c.x FROM a LEFT JOIN (b LEFT JOIN c ON c.b_id = b.id) ON b.a_id = a.id WHERE b.y = 1",
    "-N",
  ],
  [
    "a proof on the inner side of a nested join covers its partner",
    "SELECT b.x, c.x FROM a LEFT JOIN (b JOIN c ON c.b_id = b.id) ON b.a_id = a.id WHERE c.x = 1",
    "--",
  ],
  ["FULL JOIN USING merges to COALESCE", "SELECT id FROM a FULL JOIN b USING (id)", "-"],
  [
    "LEFT JOIN LATERAL ... ON true",
    "SELECT l.m FROM a LEFT JOIN LATERAL (SELECT b.x AS m FROM b WHERE b.a_id = a.id LIMIT 1) l ON true",
    "N",
  ],
  [
    "CROSS JOIN LATERAL",
    "SELECT l.m FROM a CROSS JOIN LATERAL (SELECT b.x AS m FROM b WHERE b.a_id = a.id) l",
    "-",
  ],
  [
    "aggregates without GROUP BY run over possibly no rows",
    "SELECT count(*), count(y), max(x), sum(x), array_agg(x) FROM a",
    "--NNN",
  ],
  [
    "aggregates over a non-empty group",
    "SELECT x, max(x), max(y), array_agg(y), string_agg(x::text, ',') FROM a GROUP BY x",
    "--N--",
  ],
  ["FILTER can empty a group", "SELECT x, max(x) FILTER (WHERE y > 0) FROM a GROUP BY x", "-N"],
  [
    "ROLLUP adds rows with NULL grouping columns",
    "SELECT x, count(*) FROM a GROUP BY ROLLUP (x)",
    "N-",
  ],
  [
    "window functions",
    "SELECT row_number() OVER (), lag(x) OVER (), lag(x, 1, 0) OVER (), sum(x) OVER (ORDER BY id), sum(x) OVER (ROWS BETWEEN 1 PRECEDING AND 1 PRECEDING) FROM a",
    "-N--N",
  ],
  [
    "scalar subqueries",
    "SELECT (SELECT count(*) FROM b), (SELECT max(x) FROM b), (SELECT x FROM b LIMIT 1), EXISTS (SELECT 1 FROM b), ARRAY(SELECT x FROM b) FROM a",
    "-NN--",
  ],
  ["IN subquery is three-valued", "SELECT x IN (SELECT y FROM b) AS z FROM a", "N"],
  [
    "COALESCE, NULLIF, CASE, GREATEST",
    "SELECT coalesce(y, x), coalesce(y, y), nullif(x, 1), CASE WHEN x > 0 THEN x END, CASE WHEN x > 0 THEN x ELSE 0 END, greatest(x, y) FROM a",
    "-NNN--",
  ],
  [
    "strict total functions vs. functions that can return NULL",
    "SELECT lower(x::text), length(y::text), to_char(x, 'FM9'), array_position(ARRAY[x], 1), x::text || 'a' FROM a",
    "-N-N-",
  ],
  ["concat never returns NULL", "SELECT concat(y, 'a') FROM a", "-"],
  [
    "UNION is nullable if any branch is; INTERSECT if both are",
    "SELECT x FROM a UNION SELECT y FROM b",
    "N",
  ],
  ["INTERSECT", "SELECT x FROM a INTERSECT SELECT y FROM b", "-"],
  ["a NOT NULL domain makes a column not null", "SELECT t, u FROM d", "-N"],
  ["views follow their definition", "SELECT id, x FROM ab", "-N"],
  [
    "RETURNING gives the table's columns",
    "INSERT INTO a (id, x) VALUES (1, 2) RETURNING id, x, y",
    "--N",
  ],
  ["overrides", 'SELECT max(x) AS "m!", min(x) AS "v?" FROM a', "-N"],
  [
    "recursive CTE",
    "WITH RECURSIVE r AS (SELECT id, 0 AS n FROM a UNION ALL SELECT b.id, r.n + 1 FROM b JOIN r ON b.a_id = r.id) SELECT id, n FROM r",
    "--",
  ],
  [
    "system columns are never null, and not part of *",
    "SELECT ctid, xmin, xmax, tableoid, cmin, cmax, a.*, * FROM a",
    "--------N--N",
  ],
  [
    "system columns of an outer join's nullable side",
    "SELECT a.xmax, b.xmax FROM a LEFT JOIN b ON b.a_id = a.id",
    "-N",
  ],
  ["system columns in RETURNING", "UPDATE a SET x = 1 RETURNING xmax = 0 AS inserted", "-"],
  ["NATURAL JOIN does not join on system columns", "SELECT * FROM a NATURAL JOIN b", "--N-"],
  [
    "array and string functions over non-null arguments",
    "SELECT array_to_string(arr, ','), array_to_string(arr, ',', '*'), array_to_string(arr, ',', null), string_to_array(s, ','), array_append(arr, 1), array_prepend(1, arr), array_cat(arr, arr), array_remove(arr, 1), array_replace(arr, 1, 2), array_positions(arr, 1), array_append(arr, parent), to_hex(id), overlay(s placing 'x' from 2), regexp_split_to_array(s, ','), array_to_json(arr) FROM e",
    "--N-------N----",
  ],
  [
    "to_char is a value for numbers only (NULL for an infinite or empty-format timestamp)",
    "SELECT to_char(n, '999'), to_char(id, ''), to_char(id::float8, '9'), to_char(at, 'YYYY'), to_char(d::timestamp, 'YYYY'), to_char(parent, '9') FROM e",
    "---NNN",
  ],
  [
    "extract of a field that is infinite, not NULL, on infinite dates",
    "SELECT extract(year FROM at), extract(epoch FROM d), date_part('century', at), extract(dow FROM at), extract(day FROM d), date_part('month', at), extract(hour FROM t), date_trunc('day', at) FROM e",
    "---NNN--",
  ],
  [
    "lower/upper of text, not of a range",
    "SELECT lower(s), upper(s::text), lower('A'), lower(r), upper(r) FROM e",
    "---NN",
  ],
  [
    "recursive CTE: expressions over columns that are non-null in every branch",
    "WITH RECURSIVE t AS (SELECT id, ARRAY[id] AS path, s AS label, 1 AS depth FROM e WHERE parent IS NULL UNION ALL SELECT e.id, array_append(t.path, e.id), t.label || '/' || e.s, t.depth + 1 FROM e JOIN t ON e.parent = t.id) SELECT id, path, array_to_string(path, '.'), label, upper(label), depth * 2, cardinality(path) FROM t",
    "-------",
  ],
  [
    "recursive CTE: a branch that can be NULL makes the column nullable",
    "WITH RECURSIVE t(id, p) AS (SELECT id, parent FROM e UNION SELECT e.id, t.p FROM e JOIN t ON e.parent = t.id) SELECT id, p, p + 1 FROM t",
    "-NN",
  ],
  [
    "recursive CTE with several non-recursive branches",
    "WITH RECURSIVE t AS (SELECT id, 0 AS n FROM e UNION ALL SELECT id, 1 FROM a UNION ALL SELECT t.id, t.n + 1 FROM t JOIN b ON b.a_id = t.id) SELECT id, n FROM t",
    "--",
  ],
];

describe("nullability", () => {
  let db: TestDatabase;
  let results: Map<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase("nullability", schema);
    await loadParser();
    const text = cases.map(([_, sql], i) => `-- name: Q${i} :many\n${sql};\n`).join("\n");
    const parsed = parseQueryFile({ path: "q.sql", text });
    expect(parsed.diagnostics).toEqual([]);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const r = await analyseQueries(
        client,
        parsed.queries,
        { int8: "bigint", date: "Date", overrides: [] },
        () => text,
      );
      expect(r.diagnostics).toEqual([]);
      results = new Map(
        r.model.queries.map((q) => [
          q.name,
          q.columns.map((c) => (c.nullable ? "N" : "-")).join(""),
        ]),
      );
    } finally {
      await client.end();
    }
  });

  afterAll(async () => {
    await db.drop();
  });

  it.each(
    cases.map(([name, sql, want], i) => [name, sql, want, i] as const),
  )("%s", (_name, _sql, want, i) => {
    expect(results.get(`Q${i}`)).toBe(want);
  });
  it("turns an analyser failure into a warning naming the query, with nullable columns", async () => {
    const text = "-- name: Broken :many\nSELECT x, y FROM a WHERE id = 1;\n";
    const parsed = parseQueryFile({ path: "broken.sql", text });
    const query = parsed.queries[0]!;
    // A tree the analyser cannot walk: its select list throws when read (kept out of the
    // enumerable fields, so only the nullability analysis touches it).
    const select = (query.ast as { SelectStmt: object }).SelectStmt;
    Object.defineProperty(select, "targetList", {
      enumerable: false,
      get: () => {
        throw new Error("unexpected node");
      },
    });
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const r = await analyseQueries(
        client,
        parsed.queries,
        { int8: "bigint", date: "Date", overrides: [] },
        () => text,
      );
      expect(r.diagnostics).toEqual([
        expect.objectContaining({
          severity: "warning",
          code: "SVC010",
          file: "broken.sql",
          line: 2,
          column: 1,
          message: expect.stringMatching(
            /^Broken: nullability analysis failed \(unexpected node\)/,
          ),
        }),
      ]);
      expect(r.model.queries[0]?.columns.map((c) => c.nullable)).toEqual([true, true]);
    } finally {
      await client.end();
    }
  });
});
