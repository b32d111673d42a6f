/**
 * sqlc's query files unchanged (fixtures/sqlc-syntax): block-comment `name:` annotations, statements
 * without an annotation skipped with a warning (or an error when the project says so), `$n`
 * mixed with named parameters numbered as sqlc numbers them, SELECTs of no columns as rows of
 * `{}`, and a query file that is not UTF-8 reported at its first bad byte. Parsed, analysed
 * against the real server, emitted, compiled and run on real rows.
 */
import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { toPublicModel } from "../../cli/src/model.js";
import { loadParser, parseQueryFile } from "../../cli/src/parse/query-file-parser.js";
import { decodeUtf8 } from "../../cli/src/utf8.js";
import { createTestDatabase, serverUrl } from "../db.js";
import { runCli } from "./cli-project.js";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const fixture = join(root, "fixtures", "sqlc-syntax");
await mkdir(join(root, "test", ".tmp"), { recursive: true });
const dir = await mkdtemp(join(root, "test", ".tmp", "sqlc-syntax-"));
const env = { DATABASE_URL: serverUrl() };

beforeAll(async () => {
  await cp(fixture, dir, { recursive: true });
  await writeFile(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      extends: "../../../tsconfig.base.json",
      compilerOptions: { noEmit: true, declaration: false, sourceMap: false },
      include: ["gen/**/*.ts"],
    }),
  );
  await loadParser();
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Parses one statement's worth of query file text. */
function parse(text: string, unannotated?: "warning" | "error") {
  return parseQueryFile({ path: "q.sql", text }, unannotated === undefined ? {} : { unannotated });
}

describe("parsing sqlc's syntax", () => {
  it("numbers named parameters after the written $n, in order of first appearance, as sqlc", () => {
    // sqlc's internal/endtoend/testdata/mix_param_types expects exactly these texts.
    const one = parse(
      "-- name: CountOne :one\nSELECT count(1) FROM bar WHERE id = sqlc.arg(id) AND name <> $1 LIMIT sqlc.arg('limit');",
    );
    expect(one.diagnostics).toEqual([]);
    expect(one.queries[0]?.sql).toBe(
      "SELECT count(1) FROM bar WHERE id = $2 AND name <> $1 LIMIT $3",
    );
    expect(one.queries[0]?.params.map((p) => [p.position, p.name ?? null])).toEqual([
      [1, null],
      [2, "id"],
      [3, "limit"],
    ]);
    const three = parse(
      "-- name: CountThree :one\nSELECT count(1) FROM bar WHERE id > $2 AND phone <> sqlc.arg(phone) AND name <> $1;",
    );
    expect(three.queries[0]?.sql).toBe(
      "SELECT count(1) FROM bar WHERE id > $2 AND phone <> $3 AND name <> $1",
    );
    // A repeated name keeps its number; a slice is numbered like any named parameter.
    const slice = parse(
      "-- name: D :exec\nDELETE FROM t WHERE id IN (sqlc.slice(ids)) AND name = $1 AND org = @org AND @org <> '';",
    );
    expect(slice.queries[0]?.sql).toBe(
      "DELETE FROM t WHERE id = ANY($2) AND name = $1 AND org = $3 AND $3 <> ''",
    );
    expect(slice.queries[0]?.params.map((p) => [p.position, p.name ?? null, p.slice])).toEqual([
      [1, null, false],
      [2, "ids", true],
      [3, "org", false],
    ]);
  });

  it("rejects a gap in the written $n beside named parameters, as sqlc does", () => {
    const r = parse("-- name: Gap :one\nSELECT 1 FROM t WHERE a = $2 AND b = @b;");
    expect(r.queries).toEqual([]);
    expect(r.diagnostics).toMatchObject([
      {
        severity: "error",
        code: "SVC006",
        message: "parameter $1 is not used, but $2 is",
        line: 2,
        column: 27,
      },
    ]);
  });

  it("reads /* name: */ annotations and block-comment doc lines", () => {
    const r = parse(
      "/*\n * Lists them.\n * Newest first.\n */\n/* name: ListThem :many */\nSELECT 1;\n/*name:GetIt :one*/ SELECT 2;\n/* name: Bad :uno */ SELECT 3;",
    );
    expect(r.queries.map((q) => [q.name, q.command, q.line, q.doc])).toEqual([
      ["ListThem", "many", 5, ["Lists them.", "Newest first."]],
      ["GetIt", "one", 7, []],
    ]);
    expect(r.diagnostics).toMatchObject([
      { code: "SVC003", message: 'unknown command ":uno" for query Bad', line: 8 },
    ]);
  });

  it("skips a statement without annotation with a warning, or reports it as an error", () => {
    const text = "CREATE TABLE t (id int);\n-- name: A :one\nSELECT 1;\n";
    const warned = parse(text);
    expect(warned.queries.map((q) => q.name)).toEqual(["A"]);
    expect(warned.diagnostics).toMatchObject([
      {
        severity: "warning",
        code: "SVC002",
        line: 1,
        column: 1,
        message: "statement has no `-- name: <Name> :<command>` annotation; it is skipped",
      },
    ]);
    const strict = parse(text, "error");
    expect(strict.diagnostics).toMatchObject([{ severity: "error", code: "SVC002", line: 1 }]);
  });

  it("finds the first byte that is not UTF-8, with its line and column", () => {
    const bytes = Buffer.concat([
      Buffer.from("-- name: A :one\nSELECT 'é', '"),
      Buffer.from([0xe9, 0x27]),
      Buffer.from(";\n"),
    ]);
    expect(decodeUtf8(bytes)).toEqual({ ok: false, badByte: 30, line: 2, column: 14 });
    // Overlong forms, surrogates and truncated sequences are invalid too.
    expect(decodeUtf8(Buffer.from([0x41, 0xc0, 0x80]))).toMatchObject({ ok: false, badByte: 1 });
    expect(decodeUtf8(Buffer.from([0xed, 0xa0, 0x80]))).toMatchObject({ ok: false, badByte: 0 });
    expect(decodeUtf8(Buffer.from([0x0a, 0xe2, 0x82]))).toMatchObject({
      ok: false,
      badByte: 1,
      line: 2,
      column: 1,
    });
    expect(decodeUtf8(Buffer.from("ok ✓ 𝄞", "utf8"))).toEqual({ ok: true, text: "ok ✓ 𝄞" });
  });
});

describe("the sqlc-syntax fixture end to end", () => {
  it("generates with one warning, compiles, and returns the right rows", async () => {
    const r = await runCli(dir, ["generate"], env);
    expect(r.err).not.toMatch(/error SVC/);
    expect(r.code).toBe(0);
    expect(r.err).toContain(
      "queries/authors.sql:11:1: warning SVC002: statement has no `-- name: <Name> :<command>` annotation; it is skipped",
    );

    const json = await runCli(dir, ["analyze", "--json"], env);
    expect(json.code).toBe(0);
    const model = JSON.parse(json.out) as ReturnType<typeof toPublicModel>;
    const byName = new Map(model.queries.map((q) => [q.name, q]));
    expect([...byName.keys()]).toEqual([
      "GetAuthor",
      "ListAuthorsByCountry",
      "CountMixed",
      "CountMixedReordered",
      "UpsertAuthorMixed",
      "ListEmptyRows",
      "GetEmptyRow",
    ]);
    const params = (name: string) =>
      byName.get(name)?.params.map((p, i) => `${i + 1}:${p.name}:${p.pgType}`);
    expect(params("CountMixed")).toEqual(["1:name:text", "2:id:integer", "3:max_id:integer"]);
    expect(params("CountMixedReordered")).toEqual([
      "1:name:text",
      "2:id:integer",
      "3:country:text",
    ]);
    expect(params("UpsertAuthorMixed")).toEqual(["1:id:integer", "2:name:text", "3:bio:text"]);
    expect(byName.get("ListEmptyRows")?.columns).toEqual([]);

    const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
    const compiled = await run("node", [tsc, "-p", join(dir, "tsconfig.json")]).then(
      () => "",
      (e: { stdout: string }) => e.stdout,
    );
    expect(compiled).toBe("");
    // The block comment above the annotation is the function's doc comment.
    const code = await readFile(join(dir, "gen/db/authors.ts"), "utf8");
    expect(code).toContain(" * Authors by country, block-comment doc and annotation.\n");

    const db = await createTestDatabase(
      "sqlc_syntax",
      `${await readFile(join(fixture, "migrations", "001_authors.sql"), "utf8")}
       INSERT INTO authors VALUES (1, 'Ada', NULL, 'UK'), (2, 'Bo', 'x', 'NZ'), (3, 'Cy', NULL, 'NZ');`,
    );
    const pool = new pg.Pool({ connectionString: db.url });
    try {
      type Count = { n: bigint } | null;
      const mod = (await import(join(dir, "gen/db/authors.ts"))) as {
        getAuthor: (db: pg.Pool, p: { id: number }) => Promise<unknown>;
        listAuthorsByCountry: (db: pg.Pool, p: { country: string }) => Promise<unknown[]>;
        countMixed: (db: pg.Pool, p: { name: string; id: number; maxId: number }) => Promise<Count>;
        countMixedReordered: (
          db: pg.Pool,
          p: { name: string; id: number; country: string },
        ) => Promise<Count>;
        upsertAuthorMixed: (
          db: pg.Pool,
          p: { id: number; name: string; bio: string | null },
        ) => Promise<void>;
        listEmptyRows: (db: pg.Pool, p: { country: string }) => Promise<unknown[]>;
        getEmptyRow: (db: pg.Pool, p: { id: number }) => Promise<unknown>;
      };
      expect(await mod.getAuthor(pool, { id: 2 })).toEqual({ id: 2, name: "Bo", bio: "x" });
      expect(await mod.listAuthorsByCountry(pool, { country: "NZ" })).toEqual([
        { id: 2, name: "Bo" },
        { id: 3, name: "Cy" },
      ]);
      // id >= 1 AND name <> 'Bo' AND id <= 3: Ada and Cy. Each value reaches its own $n.
      expect(await mod.countMixed(pool, { name: "Bo", id: 1, maxId: 3 })).toEqual({ n: 2n });
      // id > 1 AND country = 'NZ' AND name <> 'Cy': Bo.
      expect(await mod.countMixedReordered(pool, { name: "Cy", id: 1, country: "NZ" })).toEqual({
        n: 1n,
      });
      await mod.upsertAuthorMixed(pool, { id: 3, name: "Cyd", bio: "y" });
      await mod.upsertAuthorMixed(pool, { id: 4, name: "Di", bio: null });
      expect(
        (await pool.query("SELECT id, name, bio FROM authors WHERE id >= 3 ORDER BY id")).rows,
      ).toEqual([
        { id: 3, name: "Cyd", bio: "y" },
        { id: 4, name: "Di", bio: null },
      ]);
      // Rows of no columns: one empty object per row, as sqlc returns empty structs.
      expect(await mod.listEmptyRows(pool, { country: "NZ" })).toEqual([{}, {}, {}]);
      expect(await mod.getEmptyRow(pool, { id: 1 })).toEqual({});
      expect(await mod.getEmptyRow(pool, { id: 99 })).toBeNull();
    } finally {
      await pool.end();
      await db.drop();
    }
  });

  it("makes the skipped statement an error with options.unannotated: error", async () => {
    const strict = await mkdtemp(join(root, "test", ".tmp", "sqlc-syntax-strict-"));
    try {
      await cp(fixture, strict, { recursive: true });
      await writeFile(
        join(strict, "svcgen.yaml"),
        "schema: migrations\nqueries: queries\nout: gen\noptions:\n  unannotated: error\n",
      );
      const r = await runCli(strict, ["generate"], env);
      expect(r.code).toBe(1);
      expect(r.err).toContain(
        "queries/authors.sql:11:1: error SVC002: statement has no `-- name: <Name> :<command>` annotation",
      );
    } finally {
      await rm(strict, { recursive: true, force: true });
    }
  });

  it("reports a query file that is not UTF-8 at its first bad byte, not as SQL", async () => {
    const bad = await mkdtemp(join(root, "test", ".tmp", "sqlc-syntax-latin1-"));
    try {
      await cp(fixture, bad, { recursive: true });
      await writeFile(
        join(bad, "svcgen.yaml"),
        "schema: migrations\nqueries: [queries, not-utf8]\nout: gen\n",
      );
      const r = await runCli(bad, ["generate"], env);
      expect(r.code).toBe(1);
      expect(r.err).toContain(
        "not-utf8/latin1.sql:2:41: error SVC009: query file is not valid UTF-8: byte 0xe9 at byte offset 70",
      );
      // Only that: no syntax error or missing annotation made up from replaced bytes.
      expect(r.err.match(/latin1\.sql:\S+ \w+ SVC\d+/g)).toEqual(["latin1.sql:2:41: error SVC009"]);
    } finally {
      await rm(bad, { recursive: true, force: true });
    }
  });
});
