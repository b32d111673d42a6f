/**
 * A hand-built Model of fixtures/proto/users/sql (what the analyser produces for those
 * queries), so the proto stage is tested without the analyser.
 */
import { buildModel } from "../../cli/src/analyse/model-builder.js";
import { tsTypeFor } from "../../cli/src/analyse/ts-types.js";
import type { ColumnModel, Model, ParamModel, PgType, QueryModel } from "../../cli/src/model.js";

const base = (typname: string, name: string, oid: number): PgType => ({
  kind: "base",
  oid,
  name,
  typname,
});
const T = {
  int4: base("int4", "integer", 23),
  int8: base("int8", "bigint", 20),
  text: base("text", "text", 25),
  bool: base("bool", "boolean", 16),
  bytea: base("bytea", "bytea", 17),
  numeric: base("numeric", "numeric", 1700),
  jsonb: base("jsonb", "jsonb", 3802),
  uuid: base("uuid", "uuid", 2950),
  float8: base("float8", "double precision", 701),
  timestamptz: base("timestamptz", "timestamp with time zone", 1184),
  status: {
    kind: "enum",
    oid: 90001,
    name: "user_status",
    typname: "user_status",
    labels: ["active", "suspended"],
  } as PgType,
  textArray: {
    kind: "array",
    oid: 1009,
    name: "text[]",
    typname: "_text",
    element: base("text", "text", 25),
  } as PgType,
};
const opts = { int8: "bigint", date: "Date", overrides: [] } as const;
function col(name: string, t: keyof typeof T, nullable = false): ColumnModel {
  const tsName = name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  return { name, tsName, pgType: T[t], tsType: tsTypeFor(T[t], "result", opts), nullable };
}
function param(name: string, position: number, t: keyof typeof T, nullable = false): ParamModel {
  const tsName = name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  return { name, tsName, position, pgType: T[t], tsType: tsTypeFor(T[t], "param", opts), nullable };
}
const userColumns: ColumnModel[] = [
  col("id", "int8"),
  col("email", "text"),
  col("name", "text"),
  col("age", "int4", true),
  col("status", "status"),
  col("tags", "textArray"),
  col("avatar", "bytea", true),
  col("balance", "numeric"),
  col("profile", "jsonb", true),
  col("created_at", "timestamptz"),
  col("external_id", "uuid"),
  col("active", "bool"),
  col("score", "float8", true),
];
const cols =
  "id, email, name, age, status, tags, avatar, balance, profile, created_at, external_id, active, score";
const file = "sql/queries/users.sql";
function q(
  name: string,
  line: number,
  command: QueryModel["command"],
  sql: string,
  params: ParamModel[],
  columns: ColumnModel[],
): QueryModel {
  return { name, file, line, command, sql, params, columns, doc: [] };
}

/** The analysed queries of fixtures/proto/users/sql/queries/users.sql. */
export const usersModel: Model = buildModel({
  queries: [
    q(
      "GetUser",
      1,
      "one",
      `SELECT ${cols} FROM users WHERE id = $1`,
      [param("id", 1, "int8")],
      userColumns,
    ),
    q(
      "CreateUser",
      4,
      "one",
      `INSERT INTO users (email, name, age, status, tags, avatar, balance, profile, score) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${cols}`,
      [
        param("email", 1, "text"),
        param("name", 2, "text"),
        param("age", 3, "int4", true),
        param("status", 4, "status"),
        param("tags", 5, "textArray"),
        param("avatar", 6, "bytea", true),
        param("balance", 7, "numeric"),
        param("profile", 8, "jsonb", true),
        param("score", 9, "float8", true),
      ],
      userColumns,
    ),
    q(
      "ListUsers",
      9,
      "many",
      `SELECT ${cols} FROM users ORDER BY id LIMIT $1`,
      [param("limit", 1, "int4")],
      userColumns,
    ),
    q(
      "SeriesNumbers",
      12,
      "many",
      "SELECT n::int8 AS n, 'row ' || n::text || ' ' || repeat('x', 40) AS text_label FROM generate_series(1, $1::int4) AS n",
      [param("count", 1, "int4")],
      [col("n", "int8"), col("text_label", "text")],
    ),
    q("DeleteUser", 15, "exec", "DELETE FROM users WHERE id = $1", [param("id", 1, "int8")], []),
    q(
      "SuspendOlder",
      18,
      "execrows",
      "UPDATE users SET status = 'suspended' WHERE age >= $1",
      [param("min_age", 1, "int4")],
      [],
    ),
  ],
});
