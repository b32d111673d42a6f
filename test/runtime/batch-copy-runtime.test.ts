/**
 * The runtime's `:copyfrom` and `:batch*` functions against a real server: a 100,000-row COPY
 * from an async iterable, values that need escaping in COPY's text format read back exactly,
 * failures (a bad row, a failing source, a constraint, an abort) that keep nothing; batches
 * pipelined on one connection with typed results per item, one failing item among others that
 * keep their results, and the all-or-nothing transaction mode.
 */
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import {
  BatchRolledBackError,
  CopyRowError,
  type CopySpec,
  decodeArray,
  decodeBytea,
  decodeJson,
  decodeNumber,
  decodeText,
  decodeTimestamptz,
  defineQuery,
  encodeArray,
  encodeBytea,
  encodeJson,
  encodeTimestamptz,
  encodeValue,
  isAbortError,
  runBatchExec,
  runBatchMany,
  runBatchOne,
  runCopyFrom,
  sqlState,
  TooManyRowsError,
} from "../../runtime/src/index.js";
import { createTestDatabase, type TestDatabase } from "../db.js";

const schema = `
  CREATE TABLE things (
    id int PRIMARY KEY,
    name text NOT NULL,
    note text,
    tags text[] NOT NULL DEFAULT '{}',
    doc jsonb,
    raw bytea,
    at timestamptz
  );
`;

interface Thing {
  id: number;
  name: string;
  note: string | null;
  tags: string[];
  doc: unknown;
  raw: Uint8Array | null;
  at: Date | null;
}

const copyThings: CopySpec<Thing> = {
  name: "CopyThings",
  sql: "COPY things (id, name, note, tags, doc, raw, at) FROM STDIN",
  columns: [
    ["id", encodeValue],
    ["name", encodeValue],
    ["note", encodeValue],
    ["tags", encodeArray(encodeValue)],
    ["doc", encodeJson],
    ["raw", encodeBytea],
    ["at", encodeTimestamptz],
  ],
};

interface ThingRow {
  id: number;
  name: string;
  note: string | null;
  tags: unknown;
  doc: unknown;
  raw: Buffer | null;
  at: Date | null;
}
const thingColumns = [
  ["id", decodeNumber],
  ["name", decodeText],
  ["note", decodeText],
  ["tags", decodeArray(decodeText)],
  ["doc", decodeJson],
  ["raw", decodeBytea],
  ["at", decodeTimestamptz],
] as const;

const insertThing = defineQuery<{ id: number; name: string }, Record<string, never>>({
  name: "InsertThing",
  sql: "INSERT INTO things (id, name) VALUES ($1, $2)",
  params: [
    ["id", encodeValue],
    ["name", encodeValue],
  ],
  columns: [],
});

const renameThing = defineQuery<{ id: number; name: string }, ThingRow>({
  name: "RenameThing",
  sql: "UPDATE things SET name = $2 WHERE id = $1 RETURNING id, name, note, tags, doc, raw, at",
  params: [
    ["id", encodeValue],
    ["name", encodeValue],
  ],
  columns: thingColumns,
});

const thingsAbove = defineQuery<{ min: number; max: number }, { id: number; name: string }>({
  name: "ThingsBetween",
  sql: "SELECT id, name FROM things WHERE id >= $1 AND id <= $2 ORDER BY id",
  params: [
    ["min", encodeValue],
    ["max", encodeValue],
  ],
  columns: [
    ["id", decodeNumber],
    ["name", decodeText],
  ],
});

describe("copyfrom and batch runtime", () => {
  let db: TestDatabase;
  let pool: pg.Pool;

  beforeAll(async () => {
    db = await createTestDatabase("batchcopy", schema);
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  beforeEach(async () => {
    await pool.query("TRUNCATE things");
  });

  const count = async (): Promise<number> =>
    Number((await pool.query<{ n: string }>("SELECT count(*) AS n FROM things")).rows[0]?.n);

  test("copies 100,000 rows from an async iterable", async () => {
    async function* rows(): AsyncGenerator<Thing> {
      for (let i = 0; i < 100_000; i++) {
        yield {
          id: i,
          name: `name ${i}`,
          note: i % 3 === 0 ? null : `line\t${i}\n`,
          tags: i % 2 === 0 ? [] : ["a", `b${i}`],
          doc: { i },
          raw: null,
          at: null,
        };
      }
    }
    const stored = await runCopyFrom(pool, copyThings, rows());
    expect(stored).toBe(100_000);
    const r = await pool.query<{ n: string; s: string; nulls: string; tagged: string }>(
      `SELECT count(*) AS n, sum(id) AS s, count(*) FILTER (WHERE note IS NULL) AS nulls,
              count(*) FILTER (WHERE tags = ARRAY['a', 'b' || id]) AS tagged FROM things`,
    );
    expect(r.rows[0]).toEqual({
      n: "100000",
      s: String((99_999 * 100_000) / 2),
      nulls: "33334",
      tagged: "50000",
    });
    const one = await pool.query("SELECT note, doc FROM things WHERE id = 7");
    expect(one.rows[0]).toEqual({ note: "line\t7\n", doc: { i: 7 } });
  });

  test("reads back values that need escaping exactly", async () => {
    const tricky: Thing[] = [
      {
        id: 1,
        name: "back\\slash \\N and \\. tab\tnewline\nreturn\r",
        note: "\\N",
        tags: ["with,comma", 'quote"', "back\\slash", "NULL", ""],
        doc: { s: "tab\t\\", arr: [1, null] },
        raw: new Uint8Array([0, 9, 10, 92, 255]),
        at: new Date("2024-02-29T23:59:59.123Z"),
      },
      { id: 2, name: "", note: "", tags: [], doc: null, raw: null, at: null },
    ];
    expect(await runCopyFrom(pool, copyThings, tricky)).toBe(2);
    const r = await pool.query("SELECT id, name, note, tags, doc, raw, at FROM things ORDER BY id");
    expect(r.rows).toEqual([
      { ...tricky[0], raw: Buffer.from([0, 9, 10, 92, 255]) },
      { ...tricky[1], doc: null },
    ]);
  });

  test("keeps nothing when a row cannot be encoded, and names the row", async () => {
    const rows: Thing[] = [
      { id: 1, name: "ok", note: null, tags: [], doc: null, raw: null, at: null },
      { id: 2, name: "bad", note: null, tags: [], doc: null, raw: null, at: new Date(Number.NaN) },
    ];
    const err = await runCopyFrom(pool, copyThings, rows).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CopyRowError);
    expect((err as CopyRowError).message).toBe(
      "CopyThings: row 1, at: Invalid Date passed as a query parameter",
    );
    expect(await count()).toBe(0);
  });

  test("keeps nothing when the source fails or the server rejects a row", async () => {
    async function* failing(): AsyncGenerator<Thing> {
      for (let i = 0; i < 50_000; i++) {
        yield { id: i, name: "n", note: null, tags: [], doc: null, raw: null, at: null };
      }
      throw new Error("source broke");
    }
    await expect(runCopyFrom(pool, copyThings, failing())).rejects.toThrow("source broke");
    const dup = [1, 2, 1].map((id) => ({
      id,
      name: "n",
      note: null,
      tags: [],
      doc: null,
      raw: null,
      at: null,
    }));
    const err = await runCopyFrom(pool, copyThings, dup).catch((e: unknown) => e);
    expect(sqlState(err)).toBe("23505");
    expect(await count()).toBe(0);
    // The pool's connections are still usable after both failures.
    expect(await runCopyFrom(pool, copyThings, dup.slice(0, 2))).toBe(2);
  });

  test("an aborted copy keeps nothing", async () => {
    const controller = new AbortController();
    async function* slow(): AsyncGenerator<Thing> {
      for (let i = 0; ; i++) {
        if (i === 1000) controller.abort(new Error("caller gave up"));
        yield { id: i, name: "n", note: null, tags: [], doc: null, raw: null, at: null };
        if (i % 100 === 0) await new Promise((r) => setImmediate(r));
      }
    }
    const err = await runCopyFrom(pool, copyThings, slow(), { signal: controller.signal }).catch(
      (e: unknown) => e,
    );
    expect(isAbortError(err)).toBe(true);
    expect(await count()).toBe(0);
  });

  test("a batch where one item fails: the others keep their results", async () => {
    const items = [
      { id: 1, name: "a" },
      { id: 2, name: "b" },
      { id: 1, name: "duplicate" },
      { id: 3, name: "c" },
    ];
    const results = await runBatchExec(pool, insertThing, items);
    expect(results.map((r) => r.ok)).toEqual([true, true, false, true]);
    const failed = results[2];
    expect(failed?.ok === false && sqlState(failed.error)).toBe("23505");
    expect(await count()).toBe(3);

    const renamed = await runBatchOne(pool, renameThing, [
      { id: 1, name: "A" },
      { id: 99, name: "missing" },
      { id: 3, name: "x".repeat(3) },
    ]);
    expect(renamed).toEqual([
      {
        ok: true,
        value: { id: 1, name: "A", note: null, tags: [], doc: null, raw: null, at: null },
      },
      { ok: true, value: null },
      {
        ok: true,
        value: { id: 3, name: "xxx", note: null, tags: [], doc: null, raw: null, at: null },
      },
    ]);

    const ranges = await runBatchMany(pool, thingsAbove, [
      { min: 1, max: 2 },
      { min: 5, max: 9 },
      { min: 2, max: 3 },
    ]);
    expect(ranges).toEqual([
      {
        ok: true,
        value: [
          { id: 1, name: "A" },
          { id: 2, name: "b" },
        ],
      },
      { ok: true, value: [] },
      {
        ok: true,
        value: [
          { id: 2, name: "b" },
          { id: 3, name: "xxx" },
        ],
      },
    ]);
  });

  test("an item that cannot be encoded fails alone; :batchone reports too many rows", async () => {
    await runBatchExec(pool, insertThing, [
      { id: 1, name: "a" },
      { id: 2, name: "b" },
    ]);
    const bad = defineQuery<{ at: Date }, Record<string, never>>({
      name: "TouchAll",
      sql: "UPDATE things SET at = $1",
      params: [["at", encodeTimestamptz]],
      columns: [],
    });
    const results = await runBatchExec(pool, bad, [
      { at: new Date(Number.NaN) },
      { at: new Date("2024-01-01T00:00:00Z") },
    ]);
    expect(results[0]).toEqual({ ok: false, error: expect.any(RangeError) });
    expect(results[1]).toEqual({ ok: true, value: undefined });
    const all = defineQuery<{ min: number }, { id: number }>({
      name: "AnyAbove",
      sql: "SELECT id FROM things WHERE id >= $1",
      params: [["min", encodeValue]],
      columns: [["id", decodeNumber]],
    });
    const one = await runBatchOne(pool, all, [{ min: 2 }, { min: 1 }]);
    expect(one[0]).toEqual({ ok: true, value: { id: 2 } });
    expect(one[1]).toEqual({ ok: false, error: expect.any(TooManyRowsError) });
  });

  test("in one transaction: all or nothing, the failure named on every item", async () => {
    const items = [
      { id: 1, name: "a" },
      { id: 1, name: "dup" },
      { id: 2, name: "b" },
    ];
    const results = await runBatchExec(pool, insertThing, items, { transaction: true });
    expect(results[1]?.ok === false && sqlState(results[1].error)).toBe("23505");
    for (const i of [0, 2]) {
      const r = results[i];
      expect(r?.ok).toBe(false);
      expect(r?.ok === false && r.error).toBeInstanceOf(BatchRolledBackError);
      expect(r?.ok === false && (r.error as BatchRolledBackError).failedIndex).toBe(1);
    }
    expect(await count()).toBe(0);
    const ok = await runBatchExec(pool, insertThing, [items[0]!, items[2]!], {
      transaction: true,
    });
    expect(ok.every((r) => r.ok)).toBe(true);
    expect(await count()).toBe(2);
  });

  test("pipelines on one connection and reuses its prepared statement", async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const items = Array.from({ length: 500 }, (_, i) => ({ id: i, name: `n${i}` }));
      const first = await runBatchExec(client, insertThing, items.slice(0, 250));
      const second = await runBatchExec(client, insertThing, items.slice(250));
      expect([...first, ...second].every((r) => r.ok)).toBe(true);
      const prepared = await client.query<{ n: string }>(
        "SELECT count(*) AS n FROM pg_prepared_statements WHERE name = $1",
        [insertThing.statementName],
      );
      expect(prepared.rows[0]?.n).toBe("1");
      // The client is in a normal state after the batch: an ordinary query works.
      expect((await client.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
      const unprepared = await runBatchExec(client, insertThing, [{ id: 1000, name: "x" }], {
        prepare: false,
      });
      expect(unprepared).toEqual([{ ok: true, value: undefined }]);
    } finally {
      await client.end();
    }
    expect(await count()).toBe(501);
    const aborted = new AbortController();
    aborted.abort();
    await expect(
      runBatchExec(pool, insertThing, [{ id: 1, name: "a" }], { signal: aborted.signal }),
    ).rejects.toSatisfy(isAbortError);
    expect(await runBatchExec(pool, insertThing, [])).toEqual([]);
  });
});
