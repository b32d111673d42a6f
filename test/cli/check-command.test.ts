/**
 * `svcgen check` end to end against the run's real PostgreSQL: a project is generated against
 * a fresh database, the database is then altered, and check must name every drift precisely.
 */
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../db.js";
import { runCli, writeProject } from "./cli-project.js";

const migration = `CREATE TYPE mood AS ENUM ('happy', 'sad');

CREATE TABLE users (
  id integer PRIMARY KEY,
  email text NOT NULL UNIQUE,
  bio text,
  age integer NOT NULL,
  mood mood NOT NULL
);

CREATE TABLE posts (
  id integer PRIMARY KEY,
  user_id integer NOT NULL REFERENCES users (id),
  title text NOT NULL
);
`;

const usersQueries = `-- name: GetUser :one
SELECT id, email, age FROM users WHERE id = @id;

-- name: ListUsers :many
SELECT * FROM users ORDER BY id;

-- name: SetAge :exec
UPDATE users SET age = @age WHERE id = @id;

-- name: GetBio :one
SELECT bio FROM users WHERE id = @id;
`;

const postsQueries = `-- name: ListPosts :many
SELECT id, title FROM posts WHERE user_id = @user_id;
`;

const config = `version: 1
schema: migrations
queries: queries
out: gen
`;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

interface Generated {
  readonly dir: string;
  readonly db: TestDatabase;
  readonly env: NodeJS.ProcessEnv;
}

/** A project generated against a fresh database that holds its migration. */
async function generated(): Promise<Generated> {
  const db = await createTestDatabase("svcgen_check", migration);
  const dir = await writeProject("check", {
    "svcgen.yaml": config,
    "migrations/001_init.sql": migration,
    "queries/users.sql": usersQueries,
    "queries/posts.sql": postsQueries,
  });
  cleanups.push(async () => {
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  });
  const env = { DATABASE_URL: db.url };
  const r = await runCli(dir, ["generate"], env);
  expect(r.err).toBe("applying migrations/001_init.sql\n");
  expect(r.code).toBe(0);
  return { dir, db, env };
}

async function alter(db: TestDatabase, sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

describe("svcgen check", () => {
  it("passes on an unchanged database", async () => {
    const { dir, env } = await generated();
    const r = await runCli(dir, ["check"], env);
    // The schema built from the migrations by generate is kept (database.keepSchema): reused.
    expect(r.err).toBe("");
    expect(r.out).toMatch(/^no drift: 5 queries checked against postgres:\/\/\S+ in \d+ ms\n$/);
    expect(r.code).toBe(0);
  });

  it("reports a changed column type", async () => {
    const { dir, db, env } = await generated();
    await alter(db, "ALTER TABLE users ALTER age TYPE bigint");
    const r = await runCli(dir, ["check"], env);
    expect(r.err).toMatchInlineSnapshot(`
      "migrations/001_init.sql:7:3: error SVC207: table users: column age is integer NOT NULL in the migrations, database has bigint NOT NULL
      7 |   age integer NOT NULL,
        |   ^
        hint: write a migration that makes them agree, or apply the pending ones
      queries/users.sql:1:1: error SVC202: GetUser: column "age" was integer NOT NULL, database has bigint NOT NULL
      1 | -- name: GetUser :one
        | ^
        hint: regenerate, or change the column back to integer
      queries/users.sql:4:1: error SVC202: ListUsers: column "age" was integer NOT NULL, database has bigint NOT NULL
      4 | -- name: ListUsers :many
        | ^
        hint: regenerate, or change the column back to integer
      queries/users.sql:7:1: error SVC204: SetAge: parameter $1 (age) was integer NOT NULL, database has bigint NOT NULL
      7 | -- name: SetAge :exec
        | ^
        hint: regenerate, or change the column back to integer
      4 errors
      "
    `);
    expect(r.code).toBe(1);
  });

  it("reports a dropped NOT NULL", async () => {
    const { dir, db, env } = await generated();
    await alter(db, "ALTER TABLE users ALTER email DROP NOT NULL");
    const r = await runCli(dir, ["check"], env);
    expect(r.err).toMatchInlineSnapshot(`
      "migrations/001_init.sql:5:3: error SVC207: table users: column email is text NOT NULL in the migrations, database has text NULL
      5 |   email text NOT NULL UNIQUE,
        |   ^
        hint: write a migration that makes them agree, or apply the pending ones
      queries/users.sql:1:1: error SVC201: GetUser: column "email" was text NOT NULL, database has text NULL
      1 | -- name: GetUser :one
        | ^
        hint: regenerate, or add NOT NULL back
      queries/users.sql:4:1: error SVC201: ListUsers: column "email" was text NOT NULL, database has text NULL
      4 | -- name: ListUsers :many
        | ^
        hint: regenerate, or add NOT NULL back
      3 errors
      "
    `);
    expect(r.code).toBe(1);
  });

  it("reports a dropped column", async () => {
    const { dir, db, env } = await generated();
    await alter(db, "ALTER TABLE users DROP COLUMN bio");
    const r = await runCli(dir, ["check"], env);
    expect(r.err).toMatchInlineSnapshot(`
      "migrations/001_init.sql:6:3: error SVC207: table users: column bio is missing in the database
      6 |   bio text,
        |   ^
        hint: the database may not have applied migrations/001_init.sql: apply the pending migrations, or drop the column from the migrations
      queries/users.sql:4:1: error SVC203: ListUsers: column "bio" (text NULL) is gone from the database
      4 | -- name: ListUsers :many
        | ^
        hint: regenerate, or restore the column
      queries/users.sql:11:8: error SVC200: GetBio: no longer prepares on the database: column "bio" does not exist
      11 | SELECT bio FROM users WHERE id = @id;
         |        ^
        hint: the database changed under the query: fix the query or the database
      3 errors
      "
    `);
    expect(r.code).toBe(1);
  });

  it("reports a renamed column", async () => {
    const { dir, db, env } = await generated();
    await alter(db, "ALTER TABLE users RENAME COLUMN bio TO about");
    const r = await runCli(dir, ["check"], env);
    expect(r.err).toMatchInlineSnapshot(`
      "migrations/001_init.sql:3:1: error SVC207: table users: column about (text NULL) is in the database but not in the migrations
      3 | CREATE TABLE users (
        | ^
        hint: add a migration that creates it, or drop it from the database
      migrations/001_init.sql:6:3: error SVC207: table users: column bio is missing in the database
      6 |   bio text,
        |   ^
        hint: the database may not have applied migrations/001_init.sql: apply the pending migrations, or drop the column from the migrations
      queries/users.sql:4:1: error SVC203: ListUsers: column "bio" was renamed to "about" in the database
      4 | -- name: ListUsers :many
        | ^
        hint: regenerate, or rename the column back to bio
      queries/users.sql:11:8: error SVC200: GetBio: no longer prepares on the database: column "bio" does not exist
      11 | SELECT bio FROM users WHERE id = @id;
         |        ^
        hint: the database changed under the query: fix the query or the database
      4 errors
      "
    `);
    expect(r.code).toBe(1);
  });

  it("reports an added enum label", async () => {
    const { dir, db, env } = await generated();
    await alter(db, "ALTER TYPE mood ADD VALUE 'meh'");
    const r = await runCli(dir, ["check"], env);
    expect(r.err).toMatchInlineSnapshot(`
      "migrations/001_init.sql:1:1: error SVC207: enum mood: labels are 'happy', 'sad' in the migrations, database has 'happy', 'sad', 'meh'
      1 | CREATE TYPE mood AS ENUM ('happy', 'sad');
        | ^
        hint: write a migration that makes them agree (ALTER TYPE ... ADD VALUE), or apply the pending ones
      queries/users.sql:4:1: error SVC205: ListUsers: labels of enum mood in column "mood" were "happy" | "sad", database has "happy" | "sad" | "meh"
      4 | -- name: ListUsers :many
        | ^
        hint: regenerate to update the union type, or restore the enum's labels
      2 errors
      "
    `);
    expect(r.code).toBe(1);
  });

  it("reports a dropped table", async () => {
    const { dir, db, env } = await generated();
    await alter(db, "DROP TABLE posts");
    const r = await runCli(dir, ["check"], env);
    expect(r.err).toMatchInlineSnapshot(`
      "migrations/001_init.sql:11:1: error SVC207: table posts is missing in the database
      11 | CREATE TABLE posts (
         | ^
        hint: the database may not have applied migrations/001_init.sql: apply the pending migrations, or remove it from the migrations
      queries/posts.sql:2:23: error SVC200: ListPosts: no longer prepares on the database: relation "posts" does not exist
      2 | SELECT id, title FROM posts WHERE user_id = @user_id;
        |                       ^
        hint: the database changed under the query: fix the query or the database
      2 errors
      "
    `);
    expect(r.code).toBe(1);
  });

  it("reports generated files out of date with the queries", async () => {
    const { dir, env } = await generated();
    await writeFile(
      join(dir, "queries/posts.sql"),
      postsQueries.replace("SELECT id, title", "SELECT id, title, user_id"),
    );
    const r = await runCli(dir, ["check"], env);
    expect(r.err).toMatchInlineSnapshot(`
      "gen/db/posts.ts: error SVC206: generated file gen/db/posts.ts is out of date with the inputs (would write gen/db/posts.ts)
        hint: run svcgen generate and commit the result
      gen/svcgen-manifest.json: error SVC206: generated file gen/svcgen-manifest.json is out of date with the inputs (would write gen/svcgen-manifest.json)
        hint: run svcgen generate and commit the result
      2 errors
      "
    `);
    expect(r.code).toBe(1);
  });

  it("prints JSON and GitHub annotations", async () => {
    const { dir, db, env } = await generated();
    await alter(db, "ALTER TABLE users ALTER email DROP NOT NULL");
    const json = await runCli(dir, ["check", "--format", "json"], env);
    expect(json.code).toBe(1);
    expect(json.err).toBe("");
    expect(JSON.parse(json.out)).toMatchInlineSnapshot(`
      [
        {
          "code": "SVC207",
          "column": 3,
          "file": "migrations/001_init.sql",
          "hint": "write a migration that makes them agree, or apply the pending ones",
          "line": 5,
          "message": "table users: column email is text NOT NULL in the migrations, database has text NULL",
          "severity": "error",
        },
        {
          "code": "SVC201",
          "column": 1,
          "file": "queries/users.sql",
          "hint": "regenerate, or add NOT NULL back",
          "line": 1,
          "message": "GetUser: column "email" was text NOT NULL, database has text NULL",
          "severity": "error",
        },
        {
          "code": "SVC201",
          "column": 1,
          "file": "queries/users.sql",
          "hint": "regenerate, or add NOT NULL back",
          "line": 4,
          "message": "ListUsers: column "email" was text NOT NULL, database has text NULL",
          "severity": "error",
        },
      ]
    `);
    const github = await runCli(dir, ["check", "--format", "github"], env);
    expect(github.code).toBe(1);
    expect(github.err).toBe("");
    expect(github.out).toMatchInlineSnapshot(`
      "::error file=migrations/001_init.sql,line=5,col=3,title=SVC207::table users: column email is text NOT NULL in the migrations, database has text NULL%0Ahint: write a migration that makes them agree, or apply the pending ones
      ::error file=queries/users.sql,line=1,col=1,title=SVC201::GetUser: column "email" was text NOT NULL, database has text NULL%0Ahint: regenerate, or add NOT NULL back
      ::error file=queries/users.sql,line=4,col=1,title=SVC201::ListUsers: column "email" was text NOT NULL, database has text NULL%0Ahint: regenerate, or add NOT NULL back
      "
    `);
    const clean = await runCli(dir, ["check", "--format", "json", "--no-schema"], {
      DATABASE_URL: db.url,
    });
    expect(clean.out).not.toContain("SVC207");
  });

  it("checks the database named by --database-url", async () => {
    const { dir, db } = await generated();
    // Without a configured server, the migrations go to an embedded one, as for generate.
    const r = await runCli(dir, ["check", "--database-url", db.url], {});
    expect(r.err).toBe(
      "starting an embedded PostgreSQL 15 server\napplying migrations/001_init.sql\n",
    );
    expect(r.code).toBe(0);
  });

  it("exits 2 with a clear message when the database is unreachable", async () => {
    const { dir } = await generated();
    const r = await runCli(
      dir,
      ["check", "--database-url", "postgres://postgres:secret@127.0.0.1:1/app"],
      {},
    );
    expect(r.err).toBe(
      "error SVC102: could not connect to postgres://postgres:***@127.0.0.1:1/app: connection refused\n" +
        "  hint: check database.url (or DATABASE_URL) and that the server runs; leave both empty to use an embedded server\n" +
        "1 error\n",
    );
    expect(r.code).toBe(2);
  });

  it("exits 2 without a manifest", async () => {
    const { dir, env } = await generated();
    const manifest = join(dir, "gen/svcgen-manifest.json");
    expect(await readFile(manifest, "utf8")).toContain('"queries"');
    await rm(manifest);
    const r = await runCli(dir, ["check"], env);
    expect(r.err).toBe(
      "error SVC208: no manifest at gen/svcgen-manifest.json: nothing records what the generated code was generated from\n" +
        "  hint: run svcgen generate first, and commit the generated folder\n" +
        "1 error\n",
    );
    expect(r.code).toBe(2);
  });

  it("rejects an unknown format", async () => {
    const { dir, env } = await generated();
    const r = await runCli(dir, ["check", "--format", "xml"], env);
    expect(r.err).toBe("error: --format must be one of human, json, github, not xml\n");
    expect(r.code).toBe(2);
  });
});
