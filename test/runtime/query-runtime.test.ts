/**
 * Generated query functions against a real server: the command shapes (:one with 0, 1 and 2
 * rows, :many, :exec, :execrows, :execresult), named prepared statements on and off, abort
 * with a server-side cancel, and withTransaction with real serialization conflicts.
 */
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import {
  configureRuntime,
  isAbortError,
  type QueryAbortedError,
  sqlState,
  TooManyRowsError,
  TransactionRolledBackError,
  withTransaction,
} from "../../runtime/src/index.js";
import { createTestDatabase, type TestDatabase } from "../db.js";
import { type GeneratedModules, generateAndImport } from "./generated-module.js";
import { base, column, param, query } from "./model-builders.js";

const int4 = base("int4", "integer");
const int8 = base("int8", "bigint");
const text = base("text");
const float8 = base("float8", "double precision");
const bool = base("bool", "boolean");

const schema = `
  CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, tag text);
  INSERT INTO items (name, tag) VALUES ('a', 'x'), ('b', 'y'), ('c', 'y');
  CREATE TABLE doctors (name text PRIMARY KEY, on_call bool NOT NULL);
  INSERT INTO doctors VALUES ('alice', true), ('bob', true);
  CREATE TABLE log (id serial PRIMARY KEY, note text);
`;

// A marker in the SQL lets the test find its own backend in pg_stat_activity.
const sleepMarker = `svcgen_abort_${Date.now()}`;

const model = {
  queries: [
    query(
      "ItemsByTag",
      "one",
      "SELECT id, name FROM items WHERE tag = $1 ORDER BY id",
      [param("tag", 1, text)],
      [column("id", int4), column("name", text)],
    ),
    query(
      "ListItems",
      "many",
      "SELECT id, name, tag FROM items ORDER BY id",
      [],
      [column("id", int4), column("name", text), column("tag", text, { nullable: true })],
    ),
    query(
      "RenameTag",
      "execrows",
      "UPDATE items SET tag = $2 WHERE tag = $1",
      [param("from", 1, text), param("to", 2, text)],
      [],
    ),
    query("TouchItems", "exec", "UPDATE items SET name = name", [], []),
    query("DeleteLogs", "execresult", "DELETE FROM log", [], []),
    query("AddLog", "exec", "INSERT INTO log (note) VALUES ($1)", [param("note", 1, text)], []),
    query("CountLogs", "one", "SELECT count(*) AS n FROM log", [], [column("n", int8)]),
    query(
      "Sleep",
      "exec",
      `SELECT pg_sleep($1) /* ${sleepMarker} */`,
      [param("seconds", 1, float8)],
      [],
    ),
    query(
      "CountOnCall",
      "one",
      "SELECT count(*)::int4 AS n FROM doctors WHERE on_call",
      [],
      [column("n", int4)],
    ),
    query(
      "GoOffCall",
      "execrows",
      "UPDATE doctors SET on_call = false WHERE name = $1",
      [param("name", 1, text)],
      [],
    ),
    query(
      "IsOnCall",
      "one",
      "SELECT on_call FROM doctors WHERE name = $1",
      [param("name", 1, text)],
      [column("on_call", bool)],
    ),
  ],
};

let db: TestDatabase;
let pool: pg.Pool;
let admin: pg.Client;
let gen: GeneratedModules;

beforeAll(async () => {
  db = await createTestDatabase("rt_query", schema);
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  gen = await generateAndImport(model);
});

afterAll(async () => {
  gen?.remove();
  await admin?.end();
  await pool?.end();
  await db?.drop();
});

afterEach(() => {
  configureRuntime({ preparedStatements: true });
});

async function withClient<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function preparedNames(c: pg.Client): Promise<string[]> {
  const r = await c.query<{ name: string }>(
    "SELECT name FROM pg_prepared_statements ORDER BY name",
  );
  return r.rows.map((row) => row.name);
}

/** Backends currently running the sleep query (other than the one asking). */
async function sleepingBackends(): Promise<number> {
  const r = await admin.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1 AND pid <> pg_backend_pid()",
    [`%${sleepMarker}%`],
  );
  return r.rows[0]?.n ?? 0;
}

/** Polls (bounded by attempts, not asserted on time) until the predicate holds. */
async function eventually(predicate: () => Promise<boolean>, attempts = 400): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    if (await predicate()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

describe("command shapes", () => {
  test(":one returns null for no row, the row for one, and rejects for two", async () => {
    const itemsByTag = gen.fn("itemsByTag");
    expect(await itemsByTag(pool, { tag: "none" })).toBeNull();
    expect(await itemsByTag(pool, { tag: "x" })).toEqual({ id: 1, name: "a" });
    const err = await itemsByTag(pool, { tag: "y" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TooManyRowsError);
    expect((err as TooManyRowsError).rowCount).toBe(2);
    expect((err as Error).message).toContain("ItemsByTag");
  });

  test(":many returns every row with camelCase keys in order", async () => {
    const rows = (await gen.fn("listItems")(pool)) as Array<Record<string, unknown>>;
    expect(rows.map((r) => r.name)).toEqual(["a", "b", "c"]);
    expect(Object.keys(rows[0] ?? {})).toEqual(["id", "name", "tag"]);
  });

  test(":execrows returns the affected row count, :exec returns nothing", async () => {
    expect(await gen.fn("renameTag")(pool, { from: "y", to: "z" })).toBe(2);
    expect(await gen.fn("renameTag")(pool, { from: "nope", to: "z" })).toBe(0);
    expect(await gen.fn("renameTag")(pool, { from: "z", to: "y" })).toBe(2);
    expect(await gen.fn("touchItems")(pool)).toBeUndefined();
  });

  test(":execresult returns the command and row count", async () => {
    await gen.fn("addLog")(pool, { note: "one" });
    await gen.fn("addLog")(pool, { note: "two" });
    expect(await gen.fn("deleteLogs")(pool)).toEqual({ command: "DELETE", rowCount: 2 });
  });
});

describe("prepared statements", () => {
  test("on by default: a named statement, derived from name and SQL hash, is prepared once", async () => {
    await withClient(async (c) => {
      await gen.fn("listItems")(c);
      await gen.fn("listItems")(c);
      const names = await preparedNames(c);
      expect(names).toHaveLength(1);
      expect(names[0]).toMatch(/^svcgen_ListItems_[0-9a-f]{12}$/);
    });
  });

  test("off per call with prepare: false", async () => {
    await withClient(async (c) => {
      await gen.fn("listItems")(c, { prepare: false });
      expect(await preparedNames(c)).toEqual([]);
    });
  });

  test("off globally with configureRuntime, and a per-call prepare: true still wins", async () => {
    configureRuntime({ preparedStatements: false });
    await withClient(async (c) => {
      await gen.fn("listItems")(c);
      await gen.fn("itemsByTag")(c, { tag: "x" });
      expect(await preparedNames(c)).toEqual([]);
      await gen.fn("listItems")(c, { prepare: true });
      expect(await preparedNames(c)).toHaveLength(1);
    });
  });

  test("off at generate time (config preparedStatements: false)", async () => {
    const unprepared = await generateAndImport(
      { queries: [model.queries[1]!] },
      { preparedStatements: false },
    );
    try {
      await withClient(async (c) => {
        const rows = (await unprepared.fn("listItems")(c)) as unknown[];
        expect(rows).toHaveLength(3);
        expect(await preparedNames(c)).toEqual([]);
      });
    } finally {
      unprepared.remove();
    }
  });
});

describe("abort", () => {
  test("an already aborted signal rejects without sending the query", async () => {
    const controller = new AbortController();
    controller.abort(new Error("caller gave up"));
    const err = await gen
      .fn("addLog")(pool, { note: "never" }, { signal: controller.signal })
      .catch((e: unknown) => e);
    expect(isAbortError(err)).toBe(true);
    expect((err as QueryAbortedError).reason).toEqual(new Error("caller gave up"));
    expect(sqlState(err)).toBe("57014");
    const count = (await gen.fn("countLogs")(pool)) as { n: bigint };
    const notes = await pool.query("SELECT count(*)::int AS n FROM log WHERE note = 'never'");
    expect(notes.rows[0].n).toBe(0);
    expect(typeof count.n).toBe("bigint");
  });

  test.each([
    ["a Pool", (): pg.Pool | undefined | null => pool],
    ["a PoolClient", (): pg.Pool | undefined | null => undefined],
    ["a Client", (): pg.Pool | undefined | null => null],
  ] as const)("aborting mid-query on %s cancels it on the server", async (_label, pick) => {
    const picked = pick();
    let target: pg.Pool | pg.PoolClient | pg.Client;
    let cleanup = async (): Promise<void> => {};
    if (picked === undefined) {
      const pc = await pool.connect();
      target = pc;
      cleanup = async () => pc.release();
    } else if (picked === null) {
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      target = c;
      cleanup = () => c.end();
    } else {
      target = picked;
    }
    try {
      const controller = new AbortController();
      const running = gen
        .fn("sleep")(target, { seconds: 30 }, { signal: controller.signal })
        .catch((e: unknown) => e);
      expect(await eventually(async () => (await sleepingBackends()) === 1)).toBe(true);
      controller.abort("deadline");
      const err = await running;
      expect(isAbortError(err)).toBe(true);
      expect((err as QueryAbortedError).reason).toBe("deadline");
      // The server reported the cancel itself (query_canceled), so the backend really stopped.
      expect(sqlState((err as Error).cause)).toBe("57014");
      expect(await eventually(async () => (await sleepingBackends()) === 0)).toBe(true);
      // The connection is healthy afterwards.
      expect(await gen.fn("itemsByTag")(target, { tag: "x" })).toEqual({ id: 1, name: "a" });
    } finally {
      await cleanup();
    }
  });

  test("aborting while waiting for a connection from an exhausted pool rejects at once", async () => {
    const small = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      const held = await small.connect();
      const controller = new AbortController();
      const waiting = gen
        .fn("listItems")(small, { signal: controller.signal })
        .catch((e: unknown) => e);
      expect(await eventually(async () => small.waitingCount === 1)).toBe(true);
      controller.abort("too slow");
      const err = await waiting;
      expect(isAbortError(err)).toBe(true);
      held.release();
      // The client handed over after the abort went back to the pool, usable by the next caller.
      expect(await gen.fn("itemsByTag")(small, { tag: "x" })).toEqual({ id: 1, name: "a" });
      expect(small.totalCount).toBe(1);
    } finally {
      await small.end();
    }
  });

  test("aborting a query still queued behind another on the same client drops it unsent", async () => {
    await withClient(async (c) => {
      const first = new AbortController();
      const second = new AbortController();
      const running = gen
        .fn("sleep")(c, { seconds: 30 }, { signal: first.signal })
        .catch((e: unknown) => e);
      const queued = gen
        .fn("addLog")(c, { note: "queued" }, { signal: second.signal })
        .catch((e: unknown) => e);
      expect(await eventually(async () => (await sleepingBackends()) === 1)).toBe(true);
      second.abort("not needed");
      expect(isAbortError(await queued)).toBe(true);
      // The running query was not the one cancelled.
      expect(await sleepingBackends()).toBe(1);
      first.abort("stop");
      expect(isAbortError(await running)).toBe(true);
      const r = await c.query("SELECT count(*)::int AS n FROM log WHERE note = 'queued'");
      expect(r.rows[0].n).toBe(0);
    });
  });
});

describe("withTransaction", () => {
  async function resetDoctors(): Promise<void> {
    await pool.query("UPDATE doctors SET on_call = true");
  }

  /** Two serializable transactions that both read before either writes: write skew. */
  async function conflictingPair(maxRetries: number): Promise<{
    results: PromiseSettledResult<number>[];
    attempts: number[];
  }> {
    let arrived = 0;
    let release: () => void = () => {};
    const barrier = new Promise<void>((r) => {
      release = r;
    });
    const attempts: number[] = [];
    const goOffCall = (me: string) =>
      withTransaction(
        pool,
        async (tx, { attempt }) => {
          attempts.push(attempt);
          const { n } = (await gen.fn("countOnCall")(tx)) as { n: number };
          if (attempt === 0) {
            arrived++;
            if (arrived === 2) release();
            await barrier;
          }
          return n >= 2 ? ((await gen.fn("goOffCall")(tx, { name: me })) as number) : 0;
        },
        { isolationLevel: "serializable", maxRetries },
      );
    const results = await Promise.allSettled([goOffCall("alice"), goOffCall("bob")]);
    return { results, attempts };
  }

  test("retries a serialization failure and ends consistent", async () => {
    await resetDoctors();
    const { results, attempts } = await conflictingPair(3);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled"]);
    // One transaction went off call; the retried one saw that and stayed.
    const changed = results.map((r) => (r.status === "fulfilled" ? r.value : -1)).sort();
    expect(changed).toEqual([0, 1]);
    expect(attempts).toContain(1);
    const onCall = (await gen.fn("countOnCall")(pool)) as { n: number };
    expect(onCall.n).toBe(1);
  });

  test("with maxRetries 0 the loser rejects with SQLSTATE 40001", async () => {
    await resetDoctors();
    const { results } = await conflictingPair(0);
    const rejected = results.filter((r) => r.status === "rejected");
    expect(rejected).toHaveLength(1);
    expect(sqlState((rejected[0] as PromiseRejectedResult).reason)).toBe("40001");
    const onCall = (await gen.fn("countOnCall")(pool)) as { n: number };
    expect(onCall.n).toBe(1);
  });

  test("a failed statement the function caught makes COMMIT roll back: it rejects, nothing stored", async () => {
    await resetDoctors();
    const err = await withTransaction(pool, async (tx) => {
      await gen.fn("goOffCall")(tx, { name: "alice" });
      await tx.query("SELECT 1 / 0").catch(() => undefined);
      return "done";
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransactionRolledBackError);
    expect(await gen.fn("isOnCall")(pool, { name: "alice" })).toEqual({ onCall: true });
  });

  test("rolls back when the function throws, and the client goes back to the pool", async () => {
    await resetDoctors();
    const idleBefore = pool.totalCount;
    const err = await withTransaction(pool, async (tx) => {
      await gen.fn("goOffCall")(tx, { name: "alice" });
      throw new Error("domain rule failed");
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe("domain rule failed");
    expect(await gen.fn("isOnCall")(pool, { name: "alice" })).toEqual({ onCall: true });
    expect(pool.totalCount).toBeGreaterThanOrEqual(idleBefore);
    expect(pool.waitingCount).toBe(0);
  });

  test("commits and returns the function's result; readOnly rejects writes", async () => {
    await resetDoctors();
    const n = await withTransaction(pool, (tx) => gen.fn("goOffCall")(tx, { name: "bob" }), {
      isolationLevel: "repeatable read",
    });
    expect(n).toBe(1);
    expect(await gen.fn("isOnCall")(pool, { name: "bob" })).toEqual({ onCall: false });
    const err = await withTransaction(pool, (tx) => gen.fn("goOffCall")(tx, { name: "alice" }), {
      readOnly: true,
    }).catch((e: unknown) => e);
    expect(sqlState(err)).toBe("25006");
  });

  test("an abort inside the function cancels its query, rolls back and rejects with AbortError", async () => {
    const controller = new AbortController();
    let attempts = 0;
    const running = withTransaction(
      pool,
      async (tx) => {
        attempts++;
        await gen.fn("addLog")(tx, { note: "rolled back" }, { signal: controller.signal });
        await gen.fn("sleep")(tx, { seconds: 30 }, { signal: controller.signal });
      },
      { signal: controller.signal, isolationLevel: "serializable" },
    ).catch((e: unknown) => e);
    expect(await eventually(async () => (await sleepingBackends()) === 1)).toBe(true);
    controller.abort("shutdown");
    const err = await running;
    expect(isAbortError(err)).toBe(true);
    expect((err as QueryAbortedError).reason).toBe("shutdown");
    expect(attempts).toBe(1);
    const r = await pool.query("SELECT count(*)::int AS n FROM log WHERE note = 'rolled back'");
    expect(r.rows[0].n).toBe(0);
  });

  test("works on a Client and rejects up front when the signal is already aborted", async () => {
    await withClient(async (c) => {
      const level = await withTransaction(
        c,
        async (tx) => {
          const r = await tx.query("SHOW transaction_isolation");
          return r.rows[0].transaction_isolation as string;
        },
        { isolationLevel: "serializable" },
      );
      expect(level).toBe("serializable");
      const controller = new AbortController();
      controller.abort("gone");
      const err = await withTransaction(c, async () => 1, { signal: controller.signal }).catch(
        (e: unknown) => e,
      );
      expect(isAbortError(err)).toBe(true);
      // No transaction was left open on the client.
      const status = await c.query("SELECT now() = statement_timestamp() AS outside");
      expect(status.rows[0].outside).toBe(true);
    });
  });
});

describe("runStream (generated *Stream functions)", () => {
  let streams: GeneratedModules;

  beforeAll(async () => {
    await pool.query("CREATE SEQUENCE pulled");
    streams = await generateAndImport({
      queries: [
        query(
          "Numbers",
          "many",
          "SELECT i::int8 AS n, nextval('pulled')::int8 AS pulled_at FROM generate_series(1, $1::int4) AS i",
          [param("count", 1, int4)],
          [column("n", int8), column("pulled_at", int8)],
        ),
        query(
          "SlowAfter",
          "many",
          `SELECT i AS n, pg_sleep(CASE WHEN i > $1 THEN 30 ELSE 0 END)::text AS s /* ${sleepMarker} */ FROM generate_series(1, 1000) AS i`,
          [param("fast", 1, int4)],
          [column("n", int4), column("s", text)],
        ),
      ],
    });
  });

  afterAll(() => {
    streams?.remove();
  });

  const stream = (name: string, ...args: unknown[]): AsyncGenerator<Record<string, unknown>> =>
    streams.exports[name] !== undefined
      ? (streams.exports[name] as (...a: unknown[]) => AsyncGenerator<Record<string, unknown>>)(
          ...args,
        )
      : (() => {
          throw new Error(`no ${name}`);
        })();

  /** Backends of this database blocked in the slow FETCH (the cursor's SQL is not what they show). */
  async function sleepingFetches(): Promise<number> {
    const r = await admin.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE 'FETCH % FROM svcgen_stream'",
    );
    return r.rows[0].n as number;
  }

  async function noOpenTransactions(): Promise<boolean> {
    const r = await admin.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
    );
    return r.rows[0].n === 0;
  }

  test("yields every row decoded, in order, across batches", async () => {
    const seen: bigint[] = [];
    for await (const row of stream("numbersStream", pool, { count: 250 }, { batchSize: 100 })) {
      expect(typeof row.n).toBe("bigint");
      seen.push(row.n as bigint);
    }
    expect(seen).toEqual(Array.from({ length: 250 }, (_, i) => BigInt(i + 1)));
    expect(await noOpenTransactions()).toBe(true);
    expect(pool.idleCount).toBe(pool.totalCount);
  });

  test("fetches only what the consumer pulls, and leaving early releases the connection", async () => {
    const before = BigInt((await pool.query("SELECT nextval('pulled') AS v")).rows[0].v);
    let taken = 0;
    for await (const _row of stream("numbersStream", pool, { count: 100_000 }, { batchSize: 10 })) {
      taken++;
      if (taken === 15) break;
    }
    const after = BigInt((await pool.query("SELECT nextval('pulled') AS v")).rows[0].v);
    // Two FETCHes of 10 rows evaluated 20 rows, not 100,000 (plus our own two nextval calls).
    expect(after - before - 1n).toBe(20n);
    expect(await eventually(noOpenTransactions)).toBe(true);
    expect(pool.idleCount).toBe(pool.totalCount);
  });

  test("an abort during a FETCH cancels it on the server and rejects with AbortError", async () => {
    const controller = new AbortController();
    const rows: unknown[] = [];
    const consuming = (async () => {
      for await (const row of stream(
        "slowAfterStream",
        pool,
        { fast: 5 },
        { batchSize: 5, signal: controller.signal },
      )) {
        rows.push(row.n);
      }
    })().catch((e: unknown) => e);
    expect(await eventually(async () => (await sleepingFetches()) === 1)).toBe(true);
    controller.abort("client cancelled");
    const err = await consuming;
    expect(isAbortError(err)).toBe(true);
    expect(rows).toEqual([1, 2, 3, 4, 5]);
    expect(await eventually(async () => (await sleepingFetches()) === 0)).toBe(true);
    expect(await eventually(noOpenTransactions)).toBe(true);
  });

  test("an already aborted signal rejects before checking out a connection", async () => {
    const controller = new AbortController();
    controller.abort("no");
    const it = stream("numbersStream", pool, { count: 3 }, { signal: controller.signal });
    const err = await it.next().catch((e: unknown) => e);
    expect(isAbortError(err)).toBe(true);
  });
});
