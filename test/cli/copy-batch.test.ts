/**
 * `:copyfrom` and `:batch*` end to end (fixtures/copy-batch): parsed, analysed against the
 * real server, emitted, compiled under the strict flags and run on real rows. A 100,000-row
 * COPY through the generated function from an async iterable, a batch where one item fails
 * while the others keep their results, typed rows per item, the all-or-nothing transaction
 * mode, and the diagnostics of statements these commands cannot run.
 */
import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BatchResult, BatchRolledBackError } from "../../runtime/src/index.js";
import { sqlState } from "../../runtime/src/index.js";
import { createTestDatabase, serverUrl, type TestDatabase } from "../db.js";
import { runCli } from "./cli-project.js";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const fixture = join(root, "fixtures", "copy-batch");
await mkdir(join(root, "test", ".tmp"), { recursive: true });
const dir = await mkdtemp(join(root, "test", ".tmp", "copy-batch-"));
const env = { DATABASE_URL: serverUrl() };

type Level = "debug" | "info" | "warn" | "error";
interface EventIn {
  id: bigint;
  source: string;
  level: Level;
  message: string | null;
  tags: readonly string[];
  payload: unknown;
  at: Date;
}
type Pool = pg.Pool;
interface Generated {
  copyEvents(db: Pool, rows: Iterable<EventIn> | AsyncIterable<EventIn>): Promise<number>;
  copyCounters(db: Pool, rows: readonly { name: string; value: number }[]): Promise<number>;
  setCounter(
    db: Pool,
    items: readonly { name: string; value: number }[],
    opts?: { transaction?: boolean },
  ): Promise<BatchResult<undefined>[]>;
  bumpCounter(
    db: Pool,
    items: readonly { by: number; name: string }[],
  ): Promise<BatchResult<{ name: string; value: number } | null>[]>;
  eventsAtLevel(
    db: Pool,
    items: readonly { level: Level; id: bigint }[],
  ): Promise<BatchResult<{ id: bigint; source: string; message: string | null }[]>[]>;
}

let db: TestDatabase;
let pool: pg.Pool;
let gen: Generated;

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
  db = await createTestDatabase(
    "copy_batch",
    await readFile(join(fixture, "migrations", "001_events.sql"), "utf8"),
  );
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
  await rm(dir, { recursive: true, force: true });
});

describe(":copyfrom and :batch* end to end", () => {
  it("generates code that compiles under the strict flags", async () => {
    const r = await runCli(dir, ["generate"], env);
    expect(r.err).not.toMatch(/error SVC/);
    expect(r.code).toBe(0);
    const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
    const compiled = await run("node", [tsc, "-p", join(dir, "tsconfig.json")]).then(
      () => "",
      (e: { stdout: string }) => e.stdout,
    );
    expect(compiled).toBe("");
    const code = await readFile(join(dir, "gen/db/events.ts"), "utf8");
    // The COPY names the INSERT's columns (quoted as resolved); without a column list, the
    // table's first columns.
    expect(code).toContain(
      'sql: "COPY \\"events\\" (\\"id\\", \\"Source\\", \\"level\\", \\"message\\", \\"tags\\", \\"payload\\", \\"at\\") FROM STDIN",',
    );
    expect(code).toContain('sql: "COPY \\"counters\\" (\\"name\\", \\"value\\") FROM STDIN",');
    gen = (await import(join(dir, "gen/db/events.ts"))) as Generated;
  });

  it("copies 100,000 rows from an async iterable and reads them back", async () => {
    const start = Date.UTC(2024, 0, 1);
    const levels: Level[] = ["debug", "info", "warn", "error"];
    async function* events(): AsyncGenerator<EventIn> {
      for (let i = 0; i < 100_000; i++) {
        yield {
          id: BigInt(i),
          source: i % 2 === 0 ? "api" : "worker\tqueue",
          level: levels[i % 4]!,
          message: i % 5 === 0 ? null : `event ${i}\nsecond line \\ end`,
          tags: i % 3 === 0 ? [] : ["a", `t${i}`],
          payload: i % 7 === 0 ? null : { i, nested: [i, "x"] },
          at: new Date(start + i * 1000),
        };
      }
    }
    expect(await gen.copyEvents(pool, events())).toBe(100_000);
    const r = await pool.query(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE message IS NULL)::int AS no_message,
              count(*) FILTER (WHERE level = 'error')::int AS errors,
              count(*) FILTER (WHERE payload IS NULL)::int AS no_payload,
              max(at) AS last
         FROM events`,
    );
    expect(r.rows[0]).toEqual({
      n: 100_000,
      no_message: 20_000,
      errors: 25_000,
      no_payload: 14_286,
      last: new Date(start + 99_999 * 1000),
    });
    const one = await pool.query(
      `SELECT "Source", message, tags, payload FROM events WHERE id = 7`,
    );
    expect(one.rows[0]).toEqual({
      Source: "worker\tqueue",
      message: "event 7\nsecond line \\ end",
      tags: ["a", "t7"],
      payload: null,
    });
  });

  it("runs a batch where one item fails; the others keep their results", async () => {
    expect(
      await gen.copyCounters(pool, [
        { name: "a", value: 1 },
        { name: "b", value: 2 },
      ]),
    ).toBe(2);
    const set = await gen.setCounter(pool, [
      { name: "a", value: 10 },
      { name: "c", value: -1 },
      { name: "d", value: 4 },
    ]);
    expect(set.map((r) => r.ok)).toEqual([true, false, true]);
    expect(set[1]?.ok === false && sqlState(set[1].error)).toBe("23514");

    const bumped = await gen.bumpCounter(pool, [
      { by: 5, name: "a" },
      { by: -100, name: "b" },
      { by: 1, name: "missing" },
      { by: 1, name: "d" },
    ]);
    expect(bumped[0]).toEqual({ ok: true, value: { name: "a", value: 15 } });
    expect(bumped[1]?.ok === false && sqlState(bumped[1].error)).toBe("23514");
    expect(bumped[2]).toEqual({ ok: true, value: null });
    expect(bumped[3]).toEqual({ ok: true, value: { name: "d", value: 5 } });

    const byLevel = await gen.eventsAtLevel(pool, [
      { level: "warn", id: 8n },
      { level: "debug", id: 0n },
      { level: "error", id: 4n },
    ]);
    expect(byLevel).toEqual([
      {
        ok: true,
        value: [
          { id: 2n, source: "api", message: "event 2\nsecond line \\ end" },
          { id: 6n, source: "api", message: "event 6\nsecond line \\ end" },
        ],
      },
      { ok: true, value: [] },
      {
        ok: true,
        value: [{ id: 3n, source: "worker\tqueue", message: "event 3\nsecond line \\ end" }],
      },
    ]);
  });

  it("keeps nothing of a batch in one transaction when an item fails", async () => {
    const before = await pool.query("SELECT name, value FROM counters ORDER BY name");
    const r = await gen.setCounter(
      pool,
      [
        { name: "a", value: 100 },
        { name: "e", value: -5 },
        { name: "f", value: 6 },
      ],
      { transaction: true },
    );
    expect(r[1]?.ok === false && sqlState(r[1].error)).toBe("23514");
    // Generated code runs the built runtime package: compare by name, not by class identity.
    for (const i of [0, 2]) {
      const e = r[i]?.ok === false ? (r[i].error as BatchRolledBackError) : undefined;
      expect([e?.name, e?.failedIndex]).toEqual(["BatchRolledBackError", 1]);
    }
    const after = await pool.query("SELECT name, value FROM counters ORDER BY name");
    expect(after.rows).toEqual(before.rows);
  });

  it("reports statements :copyfrom and :batch* cannot run, at their place", async () => {
    const bad = await mkdtemp(join(root, "test", ".tmp", "copy-batch-bad-"));
    try {
      await cp(fixture, bad, { recursive: true });
      await writeFile(join(bad, "svcgen.yaml"), "schema: migrations\nqueries: bad\nout: gen\n");
      const r = await runCli(bad, ["generate"], env);
      expect(r.code).toBe(1);
      expect(r.err.match(/^bad\/bad\.sql:\d+:\d+: error SVC\d+: .*$/gm)).toEqual([
        "bad/bad.sql:2:1: error SVC007: CopyReturning: COPY cannot do ON CONFLICT or RETURNING; a :copyfrom INSERT must have neither",
        "bad/bad.sql:5:50: error SVC007: CopyComputed: every VALUES item of a :copyfrom INSERT must be a parameter ($n or @name)",
        "bad/bad.sql:8:1: error SVC007: BatchNothing is :batchone but the statement returns no columns",
      ]);
      expect(r.err).toContain("hint: use :batchexec, or add a RETURNING clause");
    } finally {
      await rm(bad, { recursive: true, force: true });
    }
  });
});
