/**
 * Bad inputs through the real CLI entry point: every problem is reported with its file,
 * line and column, all of a run's problems at once, and the exit code says what kind it was.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../cli/src/main.js";
import { serverUrl } from "../db.js";

const run = promisify(execFile);
const dirs: string[] = [];

async function project(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "svcgen-diag-"));
  dirs.push(dir);
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(dir, path, ".."), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

async function cli(dir: string, ...argv: string[]) {
  let out = "";
  let err = "";
  const code = await main(argv, {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    cwd: dir,
    env: { DATABASE_URL: serverUrl() },
  });
  return { code, out, err };
}

const config = "schema: migrations\nqueries: queries\nout: gen\n";
const schema = "CREATE TABLE users (\n  id bigint PRIMARY KEY,\n  name text NOT NULL\n);\n";

afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe("diagnostics", () => {
  it("reports a syntax error at its line and column with a source frame, exit 1", async () => {
    const dir = await project({
      "svcgen.yaml": config,
      "migrations/001.sql": schema,
      "queries/q.sql":
        "-- name: A :one\nSELECT id FROM users WHERE id = $1;\n\n-- name: B :many\nSELECT id,\n  FROM users;\n",
    });
    const r = await cli(dir, "generate");
    expect(r.code).toBe(1);
    expect(r.err).toContain('queries/q.sql:6:3: error SVC001: syntax error at or near "FROM"');
    expect(r.err).toContain("6 |   FROM users");
    expect(r.err).toMatch(/\| {3}\^/);
  });

  it("reports an unknown column and an unknown table from the server, mapped to the file, all at once", async () => {
    const dir = await project({
      "svcgen.yaml": config,
      "migrations/001.sql": schema,
      "queries/users.sql":
        "-- name: GetUser :one\nSELECT id, nme FROM users WHERE id = @id;\n\n-- name: ListThings :many\nSELECT * FROM thingz;\n",
    });
    const r = await cli(dir, "generate");
    expect(r.code).toBe(1);
    expect(r.err).toContain(
      'queries/users.sql:2:12: error SVC005: GetUser: column "nme" does not exist',
    );
    expect(r.err).toContain(
      'queries/users.sql:5:15: error SVC005: ListThings: relation "thingz" does not exist',
    );
    expect(r.err).toContain("2 errors");
    // Nothing is written when the inputs have errors.
    await expect(readdir(join(dir, "gen"))).rejects.toThrow();
  });

  it("maps a server position after a rewritten named parameter back to the original column", async () => {
    const dir = await project({
      "svcgen.yaml": config,
      "migrations/001.sql": schema,
      "queries/q.sql":
        "-- name: A :one\nSELECT id FROM users WHERE id = sqlc.arg(user_id) AND nam = 'x';\n",
    });
    const r = await cli(dir, "generate");
    expect(r.code).toBe(1);
    expect(r.err).toContain('queries/q.sql:2:55: error SVC005: A: column "nam" does not exist');
  });

  it("reports a wrong annotation and a missing one", async () => {
    const dir = await project({
      "svcgen.yaml": config,
      "migrations/001.sql": schema,
      "queries/q.sql": "-- name: A :uno\nSELECT 1;\n\nSELECT 2;\n",
    });
    const r = await cli(dir, "generate");
    expect(r.code).toBe(1);
    expect(r.err).toContain('queries/q.sql:1:12: error SVC003: unknown command ":uno" for query A');
    expect(r.err).toContain(
      "queries/q.sql:4:1: warning SVC002: statement has no `-- name: <Name> :<command>` annotation; it is skipped",
    );
  });

  it("reports a duplicate query name across files", async () => {
    const dir = await project({
      "svcgen.yaml": config,
      "migrations/001.sql": schema,
      "queries/a.sql": "-- name: GetUser :one\nSELECT id FROM users WHERE id = $1;\n",
      "queries/b.sql": "\n\n-- name: GetUser :many\nSELECT id FROM users;\n",
    });
    const r = await cli(dir, "generate");
    expect(r.code).toBe(1);
    expect(r.err).toContain(
      "queries/b.sql:3:1: error SVC004: query name GetUser is already used at queries/a.sql:1",
    );
  });

  it("reports :one on a statement without result columns", async () => {
    const dir = await project({
      "svcgen.yaml": config,
      "migrations/001.sql": schema,
      "queries/q.sql": "-- name: DeleteUser :one\nDELETE FROM users WHERE id = $1;\n",
    });
    const r = await cli(dir, "generate");
    expect(r.code).toBe(1);
    expect(r.err).toContain(
      "queries/q.sql:2:1: error SVC007: DeleteUser is :one but the statement returns no columns",
    );
  });

  it("reports a broken migration at its file, line and column", async () => {
    const dir = await project({
      "svcgen.yaml": config,
      "migrations/001.sql": schema,
      "migrations/002.sql": "ALTER TABLE users\n  ADD COLUMN bio txet;\n",
      "queries/q.sql": "-- name: A :one\nSELECT id FROM users WHERE id = $1;\n",
    });
    const r = await cli(dir, "generate");
    expect(r.code).toBe(1);
    expect(r.err).toContain('migrations/002.sql:2:18: error SVC101: type "txet" does not exist');
  });

  it("reports every config error with its location, exit 2", async () => {
    const dir = await project({
      "svcgen.yaml":
        "schema: migrations\nqueries: 42\nout: gen\ndatabase:\n  postgres: nine\nbogus: true\n",
      "migrations/001.sql": schema,
    });
    const r = await cli(dir, "generate");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/svcgen\.yaml:2:10: error SVC100: queries/);
    expect(r.err).toMatch(/svcgen\.yaml:5:13: error SVC100: database\.postgres/);
    expect(r.err).toMatch(/svcgen\.yaml:6:1: error SVC100: .*bogus/);
  });

  it("says what to do when there is no config, exit 2", async () => {
    const dir = await project({});
    const r = await cli(dir, "generate");
    expect(r.code).toBe(2);
    expect(r.err).toContain("no svcgen.yaml");
  });

  it("exits 1 from the real binary, printing diagnostics and no stack trace", async () => {
    const dir = await project({
      "svcgen.yaml": config,
      "migrations/001.sql": schema,
      "queries/q.sql": "-- name: A :one\nSELECT nope FROM users;\n",
    });
    const bin = join(import.meta.dirname, "..", "..", "bin", "svcgen.js");
    const err = await run("node", [bin, "generate"], {
      cwd: dir,
      env: { ...process.env, DATABASE_URL: serverUrl() },
    }).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(1);
    expect(err?.stderr).toContain("queries/q.sql:2:8: error SVC005");
    expect(err?.stderr).not.toMatch(/\n\s+at /);
  });
});
