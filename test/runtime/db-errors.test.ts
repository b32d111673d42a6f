/**
 * The default database-error → gRPC status map, on errors a real PostgreSQL raises: the status
 * by SQLSTATE, the fields named (never the values), and nothing for non-database errors.
 */
import { status } from "@grpc/grpc-js";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { databaseErrorToRpc } from "../../runtime/src/grpc/db-errors.js";
import { createTestDatabase, type TestDatabase } from "../db.js";

let db: TestDatabase;
let client: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase(
    "dberrors",
    `CREATE TABLE orgs (id int PRIMARY KEY);
     CREATE TABLE users (id int PRIMARY KEY, org_id int NOT NULL REFERENCES orgs,
       email text NOT NULL, age int CHECK (age >= 0), UNIQUE (org_id, email));
     INSERT INTO orgs VALUES (1);
     INSERT INTO users VALUES (1, 1, 'a@example.com', 30);`,
  );
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
});

afterAll(async () => {
  await client.end();
  await db.drop();
});

async function mapped(sql: string) {
  const err = await client.query(sql).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeDefined();
  return databaseErrorToRpc(err);
}

it.each([
  [
    "unique",
    "INSERT INTO users VALUES (2, 1, 'a@example.com', 1)",
    status.ALREADY_EXISTS,
    ["org_id", "email"],
  ],
  [
    "foreign key",
    "INSERT INTO users VALUES (3, 9, 'b@example.com', 1)",
    status.FAILED_PRECONDITION,
    ["org_id"],
  ],
  ["not null", "INSERT INTO users (id, org_id) VALUES (4, 1)", status.INVALID_ARGUMENT, ["email"]],
  ["check", "INSERT INTO users VALUES (5, 1, 'c@example.com', -1)", status.INVALID_ARGUMENT, []],
  ["bad input", "SELECT 'x'::int", status.INVALID_ARGUMENT, []],
  ["division by zero", "SELECT 1 / 0", status.INVALID_ARGUMENT, []],
] as const)("%s", async (_name, sql, code, fields) => {
  const rpc = await mapped(sql);
  expect(rpc?.code).toBe(code);
  expect(rpc?.violations.map((v) => v.field)).toEqual(fields);
  // Never the offending values or the SQL.
  expect(JSON.stringify({ m: rpc?.message, v: rpc?.violations })).not.toMatch(
    /example\.com|INSERT|SELECT/,
  );
});

it("leaves other errors alone", async () => {
  expect(databaseErrorToRpc(new Error("boom"))).toBeUndefined();
  expect(await mapped("SELECT nope FROM users")).toBeUndefined();
});
