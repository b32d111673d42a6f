/**
 * Every row of SPEC's type table through generated code against a real server: a value goes
 * in as a parameter, comes back as a column, and must equal what went in with the JS type
 * the generated TS type promises. citext is an extension and not installed on the test
 * server, so it is not covered here (it maps like text).
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { PgType } from "../../cli/src/model.js";
import { createTestDatabase, type TestDatabase } from "../db.js";
import { type GeneratedModules, generateAndImport } from "./generated-module.js";
import {
  arrayOf,
  base,
  column,
  domain,
  enumType,
  type Modes,
  param,
  query,
} from "./model-builders.js";

type Check = "number" | "bigint" | "string" | "boolean" | "Date" | "Buffer" | "json";

interface Case {
  readonly label: string;
  /** The type as written in the cast `$1::T`. */
  readonly sql: string;
  readonly pgType: PgType;
  readonly value: unknown;
  readonly check: Check;
  /** What comes back when it differs from `value` (char padding, money formatting). */
  readonly expected?: unknown;
  readonly modes?: Modes;
  /** A NOT NULL domain: SQL NULL is rejected, so only the value is sent. */
  readonly notNull?: boolean;
}

const taskStatus = enumType("task_status", ["todo", "in progress", "done"]);
const int4 = base("int4", "integer");
const int8 = base("int8", "bigint");
const text = base("text");
const tstz = base("timestamptz", "timestamp with time zone");
const ts = base("timestamp", "timestamp without time zone");
const date = base("date");
const bytea = base("bytea");
const jsonb = base("jsonb");

const cases: Case[] = [
  { label: "int2", sql: "int2", pgType: base("int2", "smallint"), value: -32768, check: "number" },
  { label: "int4", sql: "int4", pgType: int4, value: 2147483647, check: "number" },
  { label: "float4", sql: "float4", pgType: base("float4", "real"), value: 1.5, check: "number" },
  {
    label: "float8",
    sql: "float8",
    pgType: base("float8", "double precision"),
    value: Math.PI,
    check: "number",
  },
  {
    label: "float8 NaN",
    sql: "float8",
    pgType: base("float8", "double precision"),
    value: Number.NaN,
    check: "number",
  },
  {
    label: "float8 Infinity",
    sql: "float8",
    pgType: base("float8", "double precision"),
    value: Number.POSITIVE_INFINITY,
    check: "number",
  },
  {
    label: "float8 -Infinity",
    sql: "float8",
    pgType: base("float8", "double precision"),
    value: Number.NEGATIVE_INFINITY,
    check: "number",
  },
  { label: "oid", sql: "oid", pgType: base("oid"), value: 4294967295, check: "number" },
  { label: "int8 bigint", sql: "int8", pgType: int8, value: 9223372036854775807n, check: "bigint" },
  {
    label: "int8 bigint negative",
    sql: "int8",
    pgType: int8,
    value: -9223372036854775808n,
    check: "bigint",
  },
  {
    label: "int8 string",
    sql: "int8",
    pgType: int8,
    value: "9223372036854775807",
    check: "string",
    modes: { int8: "string" },
  },
  {
    label: "int8 number",
    sql: "int8",
    pgType: int8,
    value: 9007199254740991,
    check: "number",
    modes: { int8: "number" },
  },
  {
    label: "numeric",
    sql: "numeric",
    pgType: base("numeric"),
    value: "12345678901234567890.000000000123",
    check: "string",
  },
  { label: "numeric NaN", sql: "numeric", pgType: base("numeric"), value: "NaN", check: "string" },
  { label: "money", sql: "money", pgType: base("money"), value: "$1,234.56", check: "string" },
  {
    label: "text",
    sql: "text",
    pgType: text,
    value: "ünï \"quoted\" back\\slash, {brace} 'single' \n newline 🎉",
    check: "string",
  },
  {
    label: "varchar",
    sql: "varchar(20)",
    pgType: base("varchar", "character varying"),
    value: "hello",
    check: "string",
  },
  {
    label: "char",
    sql: "char(5)",
    pgType: base("bpchar", "character"),
    value: "ab",
    expected: "ab   ",
    check: "string",
  },
  {
    label: "uuid",
    sql: "uuid",
    pgType: base("uuid"),
    value: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
    check: "string",
  },
  { label: "inet", sql: "inet", pgType: base("inet"), value: "192.168.0.1/24", check: "string" },
  { label: "cidr", sql: "cidr", pgType: base("cidr"), value: "10.0.0.0/8", check: "string" },
  {
    label: "macaddr",
    sql: "macaddr",
    pgType: base("macaddr"),
    value: "08:00:2b:01:02:03",
    check: "string",
  },
  {
    label: "bool true",
    sql: "bool",
    pgType: base("bool", "boolean"),
    value: true,
    check: "boolean",
  },
  {
    label: "bool false",
    sql: "bool",
    pgType: base("bool", "boolean"),
    value: false,
    check: "boolean",
  },
  {
    label: "timestamptz",
    sql: "timestamptz",
    pgType: tstz,
    value: new Date("2024-02-29T12:34:56.789Z"),
    check: "Date",
  },
  {
    label: "timestamptz epoch",
    sql: "timestamptz",
    pgType: tstz,
    value: new Date(0),
    check: "Date",
  },
  {
    label: "timestamptz BC",
    sql: "timestamptz",
    pgType: tstz,
    value: new Date("-000043-03-15T10:00:00.000Z"),
    check: "Date",
  },
  {
    label: "timestamptz year 10000",
    sql: "timestamptz",
    pgType: tstz,
    value: new Date("+010000-01-01T00:00:00.000Z"),
    check: "Date",
  },
  {
    label: "timestamp",
    sql: "timestamp",
    pgType: ts,
    value: new Date("2024-02-29T23:59:59.999Z"),
    check: "Date",
  },
  {
    label: "date Date",
    sql: "date",
    pgType: date,
    value: new Date(Date.UTC(2024, 1, 29)),
    check: "Date",
  },
  {
    label: "date string",
    sql: "date",
    pgType: date,
    value: "2024-02-29",
    check: "string",
    modes: { date: "string" },
  },
  {
    label: "time",
    sql: "time",
    pgType: base("time", "time without time zone"),
    value: "12:34:56.789",
    check: "string",
  },
  {
    label: "timetz",
    sql: "timetz",
    pgType: base("timetz", "time with time zone"),
    value: "12:34:56+05:30",
    check: "string",
  },
  {
    label: "interval",
    sql: "interval",
    pgType: base("interval"),
    value: "1 year 2 mons 3 days 04:05:06",
    check: "string",
  },
  {
    label: "bytea",
    sql: "bytea",
    pgType: bytea,
    value: new Uint8Array([0, 1, 127, 128, 255]),
    check: "Buffer",
  },
  { label: "bytea empty", sql: "bytea", pgType: bytea, value: new Uint8Array([]), check: "Buffer" },
  {
    label: "json object",
    sql: "json",
    pgType: base("json"),
    value: { a: [1, "x", null, true], b: { c: 1.5 } },
    check: "json",
  },
  { label: "json array", sql: "json", pgType: base("json"), value: [1, 2, 3], check: "json" },
  {
    label: "jsonb object",
    sql: "jsonb",
    pgType: jsonb,
    value: { key: "välue", n: null },
    check: "json",
  },
  { label: "jsonb string", sql: "jsonb", pgType: jsonb, value: "just a string", check: "json" },
  { label: "jsonb number", sql: "jsonb", pgType: jsonb, value: 42, check: "json" },
  { label: "enum", sql: "task_status", pgType: taskStatus, value: "in progress", check: "string" },
  {
    label: "domain over text",
    sql: "email",
    pgType: domain("email", text),
    value: "a@b.c",
    check: "string",
  },
  {
    label: "domain over int8",
    sql: "big_id",
    pgType: domain("big_id", int8, true),
    value: 42n,
    check: "bigint",
    notNull: true,
  },
  {
    label: "domain over timestamptz",
    sql: "stamp",
    pgType: domain("stamp", tstz),
    value: new Date("2020-01-01T00:00:00.001Z"),
    check: "Date",
  },
  {
    label: "int4[] with NULL",
    sql: "int4[]",
    pgType: arrayOf(int4),
    value: [1, null, -3],
    check: "number",
  },
  { label: "int4[] empty", sql: "int4[]", pgType: arrayOf(int4), value: [], check: "number" },
  {
    label: "int4[][]",
    sql: "int4[]",
    pgType: arrayOf(int4),
    value: [
      [1, 2],
      [3, 4],
    ],
    check: "number",
  },
  {
    label: "text[] with quoting",
    sql: "text[]",
    pgType: arrayOf(text),
    value: ["a,b", 'quote"d', "back\\slash", "NULL", "", " spaced ", "{braces}", null, "ünï"],
    check: "string",
  },
  {
    label: "enum[] with NULL",
    sql: "task_status[]",
    pgType: arrayOf(taskStatus),
    value: ["todo", null, "in progress"],
    check: "string",
  },
  {
    label: "int8[]",
    sql: "int8[]",
    pgType: arrayOf(int8),
    value: [1n, null, -9223372036854775808n],
    check: "bigint",
  },
  {
    label: "numeric[]",
    sql: "numeric[]",
    pgType: arrayOf(base("numeric")),
    value: ["1.50", "-0.001"],
    check: "string",
  },
  {
    label: "bool[]",
    sql: "bool[]",
    pgType: arrayOf(base("bool", "boolean")),
    value: [true, false, null],
    check: "boolean",
  },
  {
    label: "timestamptz[]",
    sql: "timestamptz[]",
    pgType: arrayOf(tstz),
    value: [new Date("2024-01-01T00:00:00.000Z"), null, new Date("1999-12-31T23:59:59.999Z")],
    check: "Date",
  },
  {
    label: "date[]",
    sql: "date[]",
    pgType: arrayOf(date),
    value: [new Date(Date.UTC(2000, 0, 1))],
    check: "Date",
  },
  {
    label: "bytea[]",
    sql: "bytea[]",
    pgType: arrayOf(bytea),
    value: [new Uint8Array([1, 2]), null, new Uint8Array([255])],
    check: "Buffer",
  },
  {
    label: "jsonb[]",
    sql: "jsonb[]",
    pgType: arrayOf(jsonb),
    value: [{ a: 1 }, [1, "two"], "s", null],
    check: "json",
  },
  {
    label: "uuid[]",
    sql: "uuid[]",
    pgType: arrayOf(base("uuid")),
    value: ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"],
    check: "string",
  },
  {
    label: "float8[] special",
    sql: "float8[]",
    pgType: arrayOf(base("float8", "double precision")),
    value: [Number.NaN, Number.POSITIVE_INFINITY, 0.1],
    check: "number",
  },
];

const schema = `
  CREATE TYPE task_status AS ENUM ('todo', 'in progress', 'done');
  CREATE DOMAIN email AS text CHECK (VALUE LIKE '%@%');
  CREATE DOMAIN big_id AS int8 NOT NULL;
  CREATE DOMAIN stamp AS timestamptz;
  CREATE TABLE serials (id bigserial PRIMARY KEY, note text);
`;

const fnName = (i: number): string => `roundTrip${i}`;

let db: TestDatabase;
let pool: pg.Pool;
let gen: GeneratedModules;

beforeAll(async () => {
  db = await createTestDatabase("rt_types", schema);
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  const queries = cases.map((c, i) =>
    query(
      `RoundTrip${i}`,
      "one",
      `SELECT $1::${c.sql} AS value`,
      [param("value", 1, c.pgType, { nullable: true, ...(c.modes ? { modes: c.modes } : {}) })],
      [column("value", c.pgType, { nullable: true, ...(c.modes ? { modes: c.modes } : {}) })],
    ),
  );
  queries.push(
    query(
      "InsertSerial",
      "one",
      "INSERT INTO serials (note) VALUES ($1) RETURNING id, note",
      [param("note", 1, text)],
      [column("id", int8), column("note", text, { nullable: true })],
    ),
  );
  gen = await generateAndImport({ queries });
});

afterAll(async () => {
  gen?.remove();
  await pool?.end();
  await db?.drop();
});

function assertJsType(value: unknown, check: Check): void {
  if (Array.isArray(value)) {
    for (const v of value) if (v !== null) assertJsType(v, check);
    return;
  }
  switch (check) {
    case "Date":
      expect(value).toBeInstanceOf(Date);
      return;
    case "Buffer":
      expect(Buffer.isBuffer(value)).toBe(true);
      return;
    case "json":
      return;
    default:
      expect(typeof value).toBe(check);
  }
}

function normalise(value: unknown): unknown {
  if (value instanceof Uint8Array) return [...value];
  if (Array.isArray(value)) return value.map(normalise);
  return value;
}

describe.each([
  ["time zone UTC", "-c timezone=UTC"],
  // Offsets with minutes, and bytea in the old escape output format.
  [
    "time zone Asia/Kolkata, bytea_output escape",
    "-c timezone=Asia/Kolkata -c bytea_output=escape",
  ],
])("values round-trip (%s)", (_label, sessionOptions) => {
  test.each(cases.map((c, i) => [c.label, c, i] as const))("%s", async (_name, c, i) => {
    const client = new pg.Client({ connectionString: db.url, options: sessionOptions });
    await client.connect();
    try {
      const row = (await gen.fn(fnName(i))(client, { value: c.value })) as { value: unknown };
      const expected = c.expected ?? c.value;
      assertJsType(row.value, c.check);
      expect(normalise(row.value)).toEqual(normalise(expected));
      if (c.notNull === true) return;
      // SQL NULL in, null out, for every type.
      const nullRow = (await gen.fn(fnName(i))(client, { value: null })) as { value: unknown };
      expect(nullRow.value).toBeNull();
    } finally {
      await client.end();
    }
  });
});

test("bigserial ids come back as bigint", async () => {
  const insert = gen.fn("insertSerial");
  const a = (await insert(pool, { note: "a" })) as { id: unknown; note: unknown };
  const b = (await insert(pool, { note: "b" })) as { id: unknown; note: unknown };
  expect(typeof a.id).toBe("bigint");
  expect(b.id).toBe((a.id as bigint) + 1n);
  expect(a.note).toBe("a");
});

test("generated code leaves node-postgres's global type parsers alone", async () => {
  // A plain query still gets node-postgres's default parsing (int8 as string, dates as Date).
  const r = await pool.query("SELECT 1::int8 AS n, now() AS t");
  expect(r.rows[0].n).toBe("1");
  expect(r.rows[0].t).toBeInstanceOf(Date);
});
