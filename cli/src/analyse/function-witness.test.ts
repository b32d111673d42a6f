/**
 * Witnesses for the nullability claims that the catalog cannot prove: each claimed function
 * runs on representative non-null inputs (edge cases included: empty strings and arrays,
 * infinite dates, NaN) on the run's real server and must return a value; each exception a
 * rule carves out (`extract(dow ...)` of an infinite date, `to_char` of a timestamp, `lower`
 * of a range) is shown returning NULL, so the exception is needed. System columns are read
 * from real rows of a table, a partitioned table and a materialized view.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test/db.js";
import { functionFacts, infiniteDateFields, type NullRule } from "./function-facts.js";

/** Rules whose claims go beyond `pg_proc` and so need a run to prove them. */
const witnessedRules: readonly NullRule[] = [
  "non-null-args",
  "date-field",
  "number-format",
  "text-arg",
];

/** Strict "total" entries added with the witnesses (older entries are covered by the corpus). */
const witnessedTotals = ["to_hex", "overlay", "regexp_split_to_array", "array_to_json"];

const infinite = ["'infinity'::timestamptz", "'-infinity'::timestamp", "'infinity'::date"];
const finite = ["'2024-02-29 23:59:59.999999+00'::timestamptz", "'0001-01-01 BC'::date"];

/** Expressions over non-null inputs that must not be NULL, by the function they witness. */
const nonNull: Record<string, readonly string[]> = {
  to_hex: ["to_hex(0)", "to_hex(-1)", "to_hex(9223372036854775807::int8)"],
  overlay: [
    "overlay('' placing '' from 1)",
    "overlay('abc' placing 'x' from 10)",
    "overlay('abc' placing 'xyz' from 2 for 0)",
    "overlay('\\x0102'::bytea placing '\\x'::bytea from 1)",
    "overlay(B'101' placing B'0' from 3 for 5)",
  ],
  regexp_split_to_array: [
    "regexp_split_to_array('', ',')",
    "regexp_split_to_array('a,,b', ',')",
    "regexp_split_to_array('abc', '', 'i')",
  ],
  array_to_json: ["array_to_json('{}'::int[])", "array_to_json(ARRAY[NULL::int])"],
  array_to_string: [
    "array_to_string('{}'::int[], ',')",
    "array_to_string(ARRAY[NULL::int], ',')",
    "array_to_string(ARRAY[1, NULL], '', '')",
    "array_to_string('{{1,2},{3,4}}'::int[], '')",
  ],
  string_to_array: [
    "string_to_array('', ',')",
    "string_to_array('', '')",
    "string_to_array('a,,b', ',', '')",
    "string_to_array('abc', '')",
  ],
  array_append: ["array_append('{}'::int[], 1)", "array_append(ARRAY[1], 2)"],
  array_prepend: ["array_prepend(1, '{}'::int[])", "array_prepend(1, ARRAY[NULL::int])"],
  array_cat: [
    "array_cat('{}'::int[], '{}'::int[])",
    "array_cat('{{1}}'::int[], ARRAY[2])",
    "array_cat(ARRAY[1], '{}'::int[])",
  ],
  array_remove: ["array_remove('{}'::int[], 1)", "array_remove(ARRAY[1, 1], 1)"],
  array_replace: ["array_replace('{}'::int[], 1, 2)", "array_replace(ARRAY[1], 1, 3)"],
  array_positions: ["array_positions('{}'::int[], 1)", "array_positions(ARRAY[2], 1)"],
  extract: [
    ...[...infiniteDateFields].flatMap((f) =>
      [...infinite, ...finite].map((v) => `extract(${f} FROM ${v})`),
    ),
    "extract(dow FROM '2024-01-01'::date)",
    "extract(hour FROM '24:00'::time)",
    "extract(epoch FROM '23:59:59.999999'::time)",
    "extract(timezone_hour FROM '00:00+14'::timetz)",
    "extract(dow FROM '2024-02-29 12:00'::timestamp)",
  ],
  date_part: [
    ...[...infiniteDateFields].flatMap((f) => infinite.map((v) => `date_part('${f}', ${v})`)),
    "date_part('minute', '12:34'::time)",
    "date_part('day', '4713-11-24 BC'::date)",
  ],
  to_char: [
    "to_char(0, '')",
    "to_char(1::int2, '999')",
    "to_char(-2147483648, 'FM9')",
    "to_char(3999::int8, 'RN')",
    "to_char(9223372036854775807::int8, '9')",
    "to_char('NaN'::numeric, '9.9')",
    "to_char('Infinity'::numeric, '9')",
    "to_char('-Infinity'::float8, '9.99EEEE')",
    "to_char('NaN'::float4, '')",
    "to_char(1e300::float8, 'L9')",
  ],
  lower: ["lower('')", "lower('ÀB'::varchar)", "lower('x'::bpchar)", "lower('n'::name)"],
  upper: ["upper('')", "upper('straße')", "upper(''::varchar)"],
};

/** Expressions over non-null inputs that are NULL: the reason each rule is narrower. */
const isNull: readonly string[] = [
  "extract(dow FROM 'infinity'::timestamptz)",
  "extract(day FROM '-infinity'::date)",
  "date_part('month', 'infinity'::timestamp)",
  "to_char('infinity'::timestamp, 'YYYY')",
  "to_char(now(), '')",
  "to_char('1 day'::interval, '')",
  "lower('empty'::int4range)",
  "upper('[1,)'::int4range)",
  "array_to_string(NULL::int[], ',')",
  "string_to_array(NULL, ',')",
  "array_cat(NULL::int[], NULL::int[])",
];

describe("function witnesses", () => {
  let db: TestDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase(
      "fnwitness",
      `CREATE TABLE t (id int PRIMARY KEY, v text);
       CREATE TABLE p (id int, v text) PARTITION BY RANGE (id);
       CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (10);
       CREATE TABLE p2 PARTITION OF p FOR VALUES FROM (10) TO (20);
       INSERT INTO t VALUES (1, NULL), (2, 'b'), (3, 'c');
       UPDATE t SET v = 'x' WHERE id = 2;
       INSERT INTO p VALUES (1, NULL), (15, 'y');
       CREATE MATERIALIZED VIEW m AS SELECT id, v FROM t;`,
    );
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
  });

  afterAll(async () => {
    await client?.end();
    await db?.drop();
  });

  it("has a witness for every claim beyond pg_proc", () => {
    const needed = functionFacts
      .filter((f) => witnessedRules.includes(f.nulls) || witnessedTotals.includes(f.name))
      .map((f) => f.name);
    expect(needed.filter((n) => (nonNull[n] ?? []).length === 0)).toEqual([]);
    expect(Object.keys(nonNull).sort()).toEqual([...needed].sort());
  });

  it("returns a value for every claimed function on non-null inputs", async () => {
    const nulls: string[] = [];
    let checked = 0;
    for (const exprs of Object.values(nonNull)) {
      for (const e of exprs) {
        // An input the function rejects would prove nothing: it fails the test too.
        const r = await client
          .query<{ n: boolean }>(`SELECT (${e}) IS NULL AS n`)
          .catch((err: Error) => ({ rows: [{ n: err.message }] }));
        checked++;
        if (r.rows[0]?.n !== false) nulls.push(`${e}: ${String(r.rows[0]?.n)}`);
      }
    }
    expect(nulls).toEqual([]);
    expect(checked).toBeGreaterThan(100);
  });

  it("returns NULL where a rule makes an exception", async () => {
    const values: string[] = [];
    for (const e of isNull) {
      const r = await client.query<{ n: boolean }>(`SELECT (${e}) IS NULL AS n`);
      if (r.rows[0]?.n !== true) values.push(e);
    }
    expect(values).toEqual([]);
  });

  it("reads non-null system columns from tables, partitions and materialized views", async () => {
    const sys = "tableoid, ctid, xmin, xmax, cmin, cmax";
    let rows = 0;
    await client.query("BEGIN");
    try {
      // Rows deleted and updated inside an open transaction still carry every system column.
      await client.query("UPDATE t SET v = 'z' WHERE id = 3");
      for (const rel of ["t", "p", "p1", "m"]) {
        const r = await client.query({ text: `SELECT ${sys} FROM ${rel}`, rowMode: "array" });
        for (const row of r.rows as unknown[][]) {
          rows++;
          expect(row.filter((v) => v === null || v === undefined)).toEqual([]);
        }
      }
      const ret = await client.query({
        text: `DELETE FROM t WHERE id = 1 RETURNING ${sys}`,
        rowMode: "array",
      });
      expect((ret.rows[0] as unknown[]).every((v) => v !== null)).toBe(true);
    } finally {
      await client.query("ROLLBACK");
    }
    expect(rows).toBe(3 + 2 + 1 + 3);
  });
});
