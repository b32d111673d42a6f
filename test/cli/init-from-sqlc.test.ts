/**
 * `svcgen init --from-sqlc`: a sqlc config (version 1 JSON, version 2 YAML) becomes an
 * svcgen.yaml that generates against a real server, and every setting that cannot be carried
 * over is reported at its line and column in the sqlc file.
 */
import { cp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { serverUrl } from "../db.js";
import { runCli, writeProject } from "./cli-project.js";

const fixtures = join(import.meta.dirname, "..", "..", "fixtures", "sqlc-config");
const dirs: string[] = [];

afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A copy of one fixture folder without its expected output. */
async function copyFixture(name: string): Promise<string> {
  const dir = await writeProject(`from-sqlc-${name}`, {});
  dirs.push(dir);
  await cp(join(fixtures, name), dir, {
    recursive: true,
    filter: (src) => !src.includes(`${name}/expected`),
  });
  return dir;
}

/** The `file:line:col: warning SVC100: ...` lines of a run's stderr. */
const warnings = (err: string) => err.split("\n").filter((l) => l.includes(": warning SVC100:"));

describe("svcgen init --from-sqlc", () => {
  it("converts a version 1 sqlc.json found in the folder, reporting what it cannot carry over", async () => {
    const dir = await copyFixture("v1");
    const env = { DATABASE_URL: serverUrl() };
    const r = await runCli(dir, ["init", "--from-sqlc"], env);
    expect(r.err).not.toMatch(/error SVC/);
    expect(r.code).toBe(0);
    expect(r.out).toBe("created svcgen.yaml\n");
    expect(await readFile(join(dir, "svcgen.yaml"), "utf8")).toBe(
      await readFile(join(fixtures, "v1", "expected", "svcgen.yaml"), "utf8"),
    );
    expect(warnings(r.err).map((l) => l.replace(/ is not carried over: .*/, ""))).toEqual([
      "sqlc.json:5:7: warning SVC100: packages[0].name",
      "sqlc.json:8:7: warning SVC100: packages[0].sql_package",
      "sqlc.json:12:7: warning SVC100: packages[0].emit_json_tags",
      "sqlc.json:16:30: warning SVC100: packages[0].overrides[1].nullable",
      "sqlc.json:18:11: warning SVC100: packages[0].overrides[3].column",
      "sqlc.json:19:41: warning SVC100: packages[0].overrides[4].go_type",
      "sqlc.json:25:7: warning SVC100: packages[1]",
      "sqlc.json:30:3: warning SVC100: rename",
    ]);
    expect(r.err).toContain(
      'packages[0].overrides[4].go_type is not carried over: Go type "example.com/civil.Date" has no known TypeScript equivalent',
    );
    expect(r.err).toContain("packages[1] is not carried over: engine mysql is not PostgreSQL");

    const gen = await runCli(dir, ["generate"], env);
    expect(gen.err).not.toMatch(/error SVC/);
    expect(gen.code).toBe(0);
    const code = await readFile(join(dir, "gen", "db", "query.ts"), "utf8");
    // The column override (a Go *string) and the uuid override (uuid.UUID) are strings.
    expect(code).toMatch(/bio: string \| null;/);
    expect(code).toMatch(/readonly id: string;/);
    // emit_prepared_queries: false carried over as preparedStatements: false.
    expect(code).toContain("prepare: false,");
  });

  it("converts a version 2 sqlc.yaml given by path, overrides and database.uri included", async () => {
    const dir = await copyFixture("v2");
    const env = { DATABASE_URL: serverUrl() };
    const r = await runCli(dir, ["init", "--from-sqlc", "sqlc.yaml"], env);
    expect(r.err).not.toMatch(/error SVC/);
    expect(r.code).toBe(0);
    expect(await readFile(join(dir, "svcgen.yaml"), "utf8")).toBe(
      await readFile(join(fixtures, "v2", "expected", "svcgen.yaml"), "utf8"),
    );
    expect(warnings(r.err).map((l) => l.replace(/ is not carried over: .*/, ""))).toEqual([
      "sqlc.yaml:2:1: warning SVC100: plugins",
      "sqlc.yaml:12:5: warning SVC100: sql[0].strict_order_by",
      "sqlc.yaml:15:9: warning SVC100: sql[0].gen.go.package",
      "sqlc.yaml:17:9: warning SVC100: sql[0].gen.go.sql_package",
      "sqlc.yaml:19:9: warning SVC100: sql[0].gen.go.emit_interface",
      "sqlc.yaml:23:7: warning SVC100: sql[0].gen.kotlin",
      "sqlc.yaml:26:5: warning SVC100: sql[1]",
      "sqlc.yaml:31:5: warning SVC100: overrides.go.rename",
    ]);
    // A source frame with a caret under the setting.
    expect(r.err).toContain('17 |         sql_package: "pgx/v5"\n   |         ^');

    const gen = await runCli(dir, ["generate"], env);
    expect(gen.err).not.toMatch(/error SVC/);
    expect(gen.code).toBe(0);
    const code = await readFile(join(dir, "internal", "db", "db", "authors.ts"), "utf8");
    expect(code).toMatch(/born: Date \| null;/);
    expect(code).not.toContain("prepare: false,");
  });

  it("warns where sqlc would leave out down migrations that svcgen applies", async () => {
    const dir = await writeProject("from-sqlc-down", {
      "sqlc.yaml":
        'version: "2"\nsql:\n  - engine: postgresql\n    schema: [migrations, goose.sql]\n    queries: q.sql\n',
      "migrations/001_init.up.sql": "CREATE TABLE t (id int);\n",
      "migrations/001_init.down.sql": "DROP TABLE t;\n",
      "goose.sql": "-- +goose Up\nCREATE TABLE u (id int);\n\n-- +goose Down\nDROP TABLE u;\n",
      "q.sql": "-- name: A :one\nSELECT id FROM t;\n",
    });
    dirs.push(dir);
    const r = await runCli(dir, ["init", "--from-sqlc"], {});
    expect(r.code).toBe(0);
    expect(warnings(r.err)).toEqual([
      "sqlc.yaml:4:5: warning SVC100: schema goose.sql: sqlc ignores goose.sql from line 4 (a rollback section); svcgen would apply it",
      "sqlc.yaml:4:5: warning SVC100: schema migrations: sqlc skips down migrations, svcgen would apply 001_init.down.sql",
    ]);
  });

  it("refuses without a sqlc config, over an existing svcgen.yaml, and for other versions or engines", async () => {
    const empty = await writeProject("from-sqlc-empty", {});
    dirs.push(empty);
    const none = await runCli(empty, ["init", "--from-sqlc"], {});
    expect(none.code).toBe(1);
    expect(none.err).toContain("error SVC100: no sqlc.yaml, sqlc.yml, sqlc.json in this folder");

    const dir = await copyFixture("v1");
    await writeFile(join(dir, "svcgen.yaml"), "# mine\n");
    const exists = await runCli(dir, ["init", "--from-sqlc", "sqlc.json"], {});
    expect(exists.code).toBe(1);
    expect(exists.err).toContain(
      "svcgen.yaml already exists; svcgen init does not overwrite files",
    );
    expect(await readFile(join(dir, "svcgen.yaml"), "utf8")).toBe("# mine\n");

    const bad = await writeProject("from-sqlc-bad", {
      "v3/sqlc.yaml": 'version: "3"\nsql: []\n',
      "mysql/sqlc.yaml":
        'version: "2"\nsql:\n  - engine: mysql\n    schema: s.sql\n    queries: q.sql\n',
      "broken/sqlc.json": '{ "version": "1", "packages": [ }\n',
    });
    dirs.push(bad);
    const v3 = await runCli(bad, ["init", "--from-sqlc", "v3/sqlc.yaml"], {});
    expect(v3.code).toBe(1);
    expect(v3.err).toContain(
      'v3/sqlc.yaml:1:1: error SVC100: sqlc config version "3" is not supported',
    );
    const mysql = await runCli(bad, ["init", "--from-sqlc", "mysql/sqlc.yaml"], {});
    expect(mysql.code).toBe(1);
    expect(mysql.err).toContain("mysql/sqlc.yaml:2:1: error SVC100: no PostgreSQL entry in sql");
    const broken = await runCli(bad, ["init", "--from-sqlc", "broken/sqlc.json"], {});
    expect(broken.code).toBe(1);
    expect(broken.err).toMatch(/broken\/sqlc\.json:1:\d+: error SVC100: not valid YAML or JSON/);
  });
});
