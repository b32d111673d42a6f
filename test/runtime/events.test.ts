/**
 * The events layer end to end against a real PostgreSQL and a real NATS JetStream: the outbox
 * written in the producer's transaction, relays (two at once, and one killed mid-batch with
 * SIGKILL), idempotent consumer groups (stopped while producers write, replayed from the
 * start), order per key, retries and dead letters. Each transport runs the same suite.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { connect, type NatsConnection } from "nats";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import {
  createNatsTransport,
  createPostgresTransport,
  type EventTransport,
  eventsMigrationSql,
  InvalidEventError,
  processEvent,
  pruneEvents,
  type Relay,
  type StoredEvent,
  startConsumer,
  startRelay,
  writeEvent,
} from "../../runtime/src/events/index.js";
import { withTransaction } from "../../runtime/src/index.js";
import { createTestDatabase, type TestDatabase } from "../db.js";
import { natsSkipReason as natsSkip, natsUrl } from "../system-tools.js";

// Outside CI the NATS tests are skipped, with the reason printed, where no server answers; CI
// (CI=true) must run them, so there they fail instead.
const natsSkipReason = await natsSkip("the NATS JetStream events tests");

const appSchema = `
CREATE TABLE orders (id serial PRIMARY KEY, key text NOT NULL, n int NOT NULL);
CREATE TABLE received (pos bigserial PRIMARY KEY, grp text NOT NULL, event_id uuid NOT NULL, topic text NOT NULL, key text NOT NULL, n int NOT NULL);
`;

/** Resolves once `check` is true; rejects after `timeoutMs` (generous: a correctness bound, not a speed check). */
async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

interface Payload {
  key: string;
  n: number;
}

const encode = (p: Payload): Uint8Array => new TextEncoder().encode(JSON.stringify(p));
const decode = (e: StoredEvent): Payload =>
  JSON.parse(new TextDecoder().decode(e.payload)) as Payload;

interface TransportCase {
  readonly kind: "postgres" | "nats";
  readonly skip: string | undefined;
}

const cases: TransportCase[] = [
  { kind: "postgres", skip: undefined },
  { kind: "nats", skip: natsSkipReason },
];

for (const c of cases) {
  describe.skipIf(c.skip !== undefined)(`events over ${c.kind}`, () => {
    let db: TestDatabase;
    let pool: pg.Pool;
    let nc: NatsConnection | undefined;
    const suffix = randomBytes(4).toString("hex");
    const stream = `SVCGEN_TEST_${suffix}`;
    const subjectPrefix = `svcgen_test_${suffix}`;
    const transports: EventTransport[] = [];
    // Relays and consumers still running when a test fails are stopped after it, so a failure
    // does not leave workers that steal the next test's events.
    const running: { stop(): Promise<void> }[] = [];
    function track<T extends { stop(): Promise<void> }>(worker: T): T {
      running.push(worker);
      return worker;
    }
    afterEach(async () => {
      for (const w of running.splice(0)) await w.stop();
    });
    // Handler invocations per (group, event id), counted in this process.
    const calls = new Map<string, number>();

    function transport(): EventTransport {
      const t =
        c.kind === "nats"
          ? createNatsTransport({ stream, subjectPrefix, ackWaitMs: 3000, retryBaseMs: 20 })
          : createPostgresTransport({ pool, pollIntervalMs: 200, retryBaseMs: 20 });
      transports.push(t);
      return t;
    }

    beforeAll(async () => {
      db = await createTestDatabase("events", eventsMigrationSql + appSchema);
      pool = new pg.Pool({ connectionString: db.url, max: 12 });
      if (c.kind === "nats") nc = await connect({ servers: natsUrl });
    });

    afterAll(async () => {
      for (const t of transports) await t.close();
      if (nc !== undefined) {
        await (await nc.jetstreamManager()).streams.delete(stream).catch(() => false);
        await nc.close();
      }
      await pool?.end();
      await db?.drop();
    });

    /** Writes one order and its event per item, each in its own transaction; keys run concurrently, a key's items in sequence. */
    async function produce(topic: string, keys: string[], perKey: number): Promise<string[]> {
      const ids: string[] = [];
      await Promise.all(
        keys.map(async (key) => {
          for (let n = 0; n < perKey; n++) {
            await withTransaction(pool, async (tx) => {
              await tx.query("INSERT INTO orders (key, n) VALUES ($1, $2)", [key, n]);
              ids.push(
                await writeEvent(tx, {
                  topic,
                  key,
                  payload: encode({ key, n }),
                  contentType: "application/json",
                  headers: { traceparent: `00-${"1".repeat(32)}-${"2".repeat(16)}-01` },
                }),
              );
            });
          }
        }),
      );
      return ids;
    }

    function handler(group: string, opts: { failOnce?: Payload; poisonKey?: string } = {}) {
      return async (event: StoredEvent, tx: pg.PoolClient): Promise<void> => {
        const id = `${group}/${event.id}`;
        const call = (calls.get(id) ?? 0) + 1;
        calls.set(id, call);
        const p = decode(event);
        expect(event.key).toBe(p.key);
        expect(event.headers.traceparent).toMatch(/^00-1{32}-2{16}-01$/);
        expect(event.contentType).toBe("application/json");
        await tx.query(
          "INSERT INTO received (grp, event_id, topic, key, n) VALUES ($1, $2, $3, $4, $5)",
          [group, event.id, event.topic, p.key, p.n],
        );
        // Thrown after the insert: the rollback must take the insert away.
        if (p.key === opts.poisonKey) throw new Error(`poison ${p.key}`);
        if (opts.failOnce?.key === p.key && opts.failOnce.n === p.n && call === 1) {
          throw new Error("transient failure");
        }
      };
    }

    async function receivedCount(group: string): Promise<number> {
      const r = await pool.query<{ n: string }>(
        "SELECT count(*) AS n FROM received WHERE grp = $1",
        [group],
      );
      return Number(r.rows[0]!.n);
    }

    function callsOf(group: string): number[] {
      return [...calls].filter(([k]) => k.startsWith(`${group}/`)).map(([, v]) => v);
    }

    test("every committed event once per group, in order per key; rollbacks emit nothing; poison is dead-lettered; a replay is skipped", async () => {
      const t = transport();
      // Two relays share the outbox (SKIP LOCKED) with small batches, so order per key is
      // kept across relays, not by one relay alone.
      const relays: Relay[] = [
        track(await startRelay({ pool, transport: t, batchSize: 7, pollIntervalMs: 200 })),
        track(await startRelay({ pool, transport: t, batchSize: 7, pollIntervalMs: 200 })),
      ];
      const group = "g1";
      const opts = { failOnce: { key: "k1", n: 3 }, poisonKey: "poison" };
      const startG1 = () =>
        startConsumer({
          pool,
          transport: t,
          group,
          topics: ["order.created"],
          handle: handler(group, opts),
          maxAttempts: 3,
          retryBaseMs: 10,
        });
      let consumer = track(await startG1());

      const rolledBack = randomUUID();
      await expect(
        withTransaction(pool, async (tx) => {
          await tx.query("INSERT INTO orders (key, n) VALUES ('k0', 99)");
          await writeEvent(tx, {
            id: rolledBack,
            topic: "order.created",
            key: "k0",
            payload: encode({ key: "k0", n: 99 }),
          });
          throw new Error("the RPC failed after writing its event");
        }),
      ).rejects.toThrow("the RPC failed");
      const [ids] = await Promise.all([
        produce("order.created", ["k0", "k1", "k2"], 15),
        produce("order.created", ["poison"], 1),
      ]);
      expect(ids).toHaveLength(45);

      await waitFor("45 events and a dead letter", async () => {
        const dead = await pool.query(
          "SELECT 1 FROM svcgen_processed_events WHERE group_name = $1 AND status = 'dead'",
          [group],
        );
        return (await receivedCount(group)) === 45 && dead.rowCount === 1;
      });

      const byKey = await pool.query<{ key: string; ns: number[] }>(
        "SELECT key, array_agg(n ORDER BY pos) AS ns FROM received WHERE grp = $1 GROUP BY key ORDER BY key",
        [group],
      );
      const inOrder = Array.from({ length: 15 }, (_, i) => i);
      expect(byKey.rows).toEqual([
        { key: "k0", ns: inOrder },
        { key: "k1", ns: inOrder },
        { key: "k2", ns: inOrder },
      ]);
      const distinct = await pool.query("SELECT DISTINCT event_id FROM received WHERE grp = $1", [
        group,
      ]);
      expect(distinct.rowCount).toBe(45);
      // The rolled-back transaction left neither its order nor its event.
      expect(
        (await pool.query("SELECT 1 FROM svcgen_outbox WHERE id = $1", [rolledBack])).rowCount,
      ).toBe(0);
      expect((await pool.query("SELECT 1 FROM orders WHERE n = 99")).rowCount).toBe(0);
      expect(calls.has(`${group}/${rolledBack}`)).toBe(false);

      const processed = await pool.query<{ status: string; attempts: number; n: string }>(
        `SELECT status, attempts, count(*) AS n FROM svcgen_processed_events WHERE group_name = $1
         GROUP BY status, attempts ORDER BY status, attempts`,
        [group],
      );
      expect(processed.rows).toEqual([
        { status: "dead", attempts: 3, n: "1" },
        { status: "done", attempts: 1, n: "44" },
        { status: "done", attempts: 2, n: "1" },
      ]);
      const dead = await pool.query<{ last_error: string }>(
        "SELECT last_error FROM svcgen_processed_events WHERE status = 'dead'",
      );
      expect(dead.rows[0]!.last_error).toBe("poison poison");
      expect(callsOf(group).reduce((a, b) => a + b, 0)).toBe(45 + 1 + 3);

      // Replay the group from the start (a cursor reset, or a JetStream consumer recreated):
      // every old event arrives again and is skipped; only a new one is handled.
      await consumer.stop();
      if (c.kind === "postgres") {
        await pool.query("UPDATE svcgen_event_cursors SET position = 0 WHERE group_name = $1", [
          group,
        ]);
      } else {
        await (await nc!.jetstreamManager()).consumers.delete(stream, "g1-order_created");
      }
      consumer = track(await startG1());
      const before = callsOf(group).reduce((a, b) => a + b, 0);
      await produce("order.created", ["k9"], 1);
      await waitFor("the event after the replay", async () => (await receivedCount(group)) === 46);
      expect(callsOf(group).reduce((a, b) => a + b, 0)).toBe(before + 1);
      const outbox = await pool.query(
        "SELECT 1 FROM svcgen_outbox WHERE delivered_at IS NULL OR attempts <> 1",
      );
      expect(outbox.rowCount).toBe(0);

      await consumer.stop();
      await Promise.all(relays.map((r) => r.stop()));
      expect(relays[0]!.delivered + relays[1]!.delivered).toBe(47);
    });

    test("a consumer stopped while producers write gets every event once after it starts again", async () => {
      const t = transport();
      const relay = track(await startRelay({ pool, transport: t, pollIntervalMs: 200 }));
      const group = "g2";
      const start = () =>
        startConsumer({
          pool,
          transport: t,
          group,
          topics: ["invoice.issued"],
          handle: handler(group),
        });
      let consumer = track(await start());
      await produce("invoice.issued", ["a", "b"], 3);
      await waitFor("the first 6 events", async () => (await receivedCount(group)) === 6);
      await consumer.stop();

      await produce("invoice.issued", ["a", "b", "c"], 10);
      await waitFor("the relay to deliver the outbox", async () => {
        const r = await pool.query("SELECT 1 FROM svcgen_outbox WHERE delivered_at IS NULL");
        return r.rowCount === 0;
      });
      expect(await receivedCount(group)).toBe(6);

      consumer = track(await start());
      await waitFor("36 events", async () => (await receivedCount(group)) === 36);
      const distinct = await pool.query("SELECT DISTINCT event_id FROM received WHERE grp = $1", [
        group,
      ]);
      expect(distinct.rowCount).toBe(36);
      expect(callsOf(group).every((n) => n === 1)).toBe(true);
      expect(callsOf(group)).toHaveLength(36);
      await consumer.stop();
      await relay.stop();
    });

    test("stop() finishes the in-flight batch and event, then releases every connection", async () => {
      const t = transport();
      let publishing: (() => void) | undefined;
      const inPublish = new Promise<void>((resolve) => {
        publishing = resolve;
      });
      // The real transport, reached a little later, so stop() lands while a batch is in flight.
      const slow: EventTransport = {
        kind: t.kind,
        async publish(events) {
          publishing?.();
          await new Promise((r) => setTimeout(r, 300));
          await t.publish(events);
        },
        subscribe: (o) => t.subscribe(o),
        close: () => t.close(),
      };
      const ids = await produce("refund.issued", ["x", "y"], 5);
      const relay = track(await startRelay({ pool, transport: slow, pollIntervalMs: 200 }));
      await inPublish;
      await relay.stop();
      const left = await pool.query(
        "SELECT 1 FROM svcgen_outbox WHERE topic = 'refund.issued' AND delivered_at IS NULL",
      );
      expect(left.rowCount).toBe(0);
      expect(relay.delivered).toBe(ids.length);

      const group = "g4";
      let handling: (() => void) | undefined;
      const inHandler = new Promise<void>((resolve) => {
        handling = resolve;
      });
      const consumer = track(
        await startConsumer({
          pool,
          transport: t,
          group,
          topics: ["refund.issued"],
          handle: async (event, tx) => {
            handling?.();
            await new Promise((r) => setTimeout(r, 300));
            await handler(group)(event, tx);
          },
        }),
      );
      await inHandler;
      await consumer.stop();
      // The event in the handler when stop() was called committed; nothing was left half done.
      const done = await pool.query(
        "SELECT 1 FROM svcgen_processed_events WHERE group_name = $1 AND status = 'done'",
        [group],
      );
      expect(done.rowCount).toBeGreaterThanOrEqual(1);
      expect(await receivedCount(group)).toBe(done.rowCount);
      expect(pool.totalCount).toBe(pool.idleCount);
    });

    test("a transport that is down: the relay backs off, records the error, and delivers once it is back", async () => {
      // Port 1 refuses connections: the same transport, pointed at a server that is not there.
      const deadPool = new pg.Pool({ connectionString: "postgres://postgres@127.0.0.1:1/none" });
      const down =
        c.kind === "nats"
          ? createNatsTransport({ servers: "nats://127.0.0.1:1", stream, subjectPrefix })
          : createPostgresTransport({ pool: deadPool });
      await produce("shipment.sent", ["s"], 3);
      const failing = track(
        await startRelay({ pool, transport: down, pollIntervalMs: 50, retryBaseMs: 100 }),
      );
      await waitFor("two failed attempts", async () => {
        const r = await pool.query(
          "SELECT 1 FROM svcgen_outbox WHERE topic = 'shipment.sent' AND attempts >= 2",
        );
        return r.rowCount === 3;
      });
      await failing.stop();
      await down.close();
      await deadPool.end();
      const rows = await pool.query<{
        late: boolean;
        last_error: string;
        delivered_at: Date | null;
      }>(
        `SELECT next_attempt_at > created_at AS late, last_error, delivered_at FROM svcgen_outbox
         WHERE topic = 'shipment.sent'`,
      );
      for (const row of rows.rows) {
        expect(row).toEqual({
          late: true,
          last_error: expect.stringMatching(/ECONNREFUSED|CONNECTION_REFUSED/),
          delivered_at: null,
        });
      }
      expect(failing.delivered).toBe(0);

      const relay = track(await startRelay({ pool, transport: transport(), pollIntervalMs: 50 }));
      await waitFor("the retried events", async () => {
        const r = await pool.query(
          "SELECT 1 FROM svcgen_outbox WHERE topic = 'shipment.sent' AND delivered_at IS NOT NULL",
        );
        return r.rowCount === 3;
      });
      await relay.stop();
    });

    test("a relay killed mid-batch loses nothing and nothing is processed twice", async () => {
      const topic = "payment.settled";
      const ids = await produce(topic, ["p", "q", "r", "s"], 10);
      const child: ChildProcess = spawn(
        process.execPath,
        [
          fileURLToPath(new URL("./events-relay-child.js", import.meta.url)),
          db.url,
          c.kind,
          stream,
          subjectPrefix,
        ],
        { stdio: ["ignore", "pipe", "inherit"] },
      );
      track({
        async stop() {
          child.kill("SIGKILL");
        },
      });
      const exited = new Promise<string | number | null>((resolve) =>
        child.on("exit", (code, signal) => resolve(signal ?? code)),
      );
      let out = "";
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on("data", (chunk: Buffer) => {
          out += chunk.toString();
          if (/PUBLISHED 20\n/.test(out)) resolve();
        });
        void exited.then((how) => reject(new Error(`relay child exited (${String(how)}): ${out}`)));
      });
      // Half the batch reached the transport; none is marked delivered yet.
      const pending = await pool.query(
        "SELECT 1 FROM svcgen_outbox WHERE topic = $1 AND delivered_at IS NULL",
        [topic],
      );
      expect(pending.rowCount).toBe(40);
      child.kill("SIGKILL");
      expect(await exited).toBe("SIGKILL");

      const t = transport();
      const relay = track(await startRelay({ pool, transport: t, pollIntervalMs: 200 }));
      const group = "g3";
      const consumer = track(
        await startConsumer({
          pool,
          transport: t,
          group,
          topics: [topic],
          handle: handler(group),
        }),
      );
      await waitFor("40 events", async () => (await receivedCount(group)) === 40);
      const got = await pool.query<{ event_id: string }>(
        "SELECT event_id FROM received WHERE grp = $1",
        [group],
      );
      expect(got.rows.map((r) => r.event_id).sort()).toEqual([...ids].sort());
      expect(callsOf(group).every((n) => n === 1)).toBe(true);
      // The first half was published twice; the transport kept one copy of each.
      if (c.kind === "postgres") {
        const log = await pool.query("SELECT 1 FROM svcgen_event_log WHERE topic = $1", [topic]);
        expect(log.rowCount).toBe(40);
      } else {
        const subject = `${subjectPrefix}.${topic}`;
        const info = await (await nc!.jetstreamManager()).streams.info(stream, {
          subjects_filter: subject,
        });
        expect(info.state.subjects?.[subject]).toBe(40);
      }
      await consumer.stop();
      await relay.stop();
    });
  });
}

describe("writeEvent", () => {
  test("rejects a topic that is not dot-separated words, naming it", async () => {
    const db = await createTestDatabase("events_topic", eventsMigrationSql);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await expect(
        writeEvent(client, { topic: "user signed up", payload: new Uint8Array() }),
      ).rejects.toThrow(InvalidEventError);
      await expect(
        writeEvent(client, { topic: "user.>", payload: new Uint8Array() }),
      ).rejects.toThrow('Event topic "user.>" is invalid');
      const id = await writeEvent(client, {
        topic: "user.signed_up",
        payload: new Uint8Array([1, 2]),
      });
      const row = await client.query<{ payload: Buffer; key: string; content_type: string }>(
        "SELECT payload, key, content_type FROM svcgen_outbox WHERE id = $1",
        [id],
      );
      expect(row.rows[0]).toEqual({
        payload: Buffer.from([1, 2]),
        key: "",
        content_type: "application/x-protobuf",
      });
    } finally {
      await client.end();
      await db.drop();
    }
  });

  test("pruneEvents removes only what is delivered, passed by every cursor and older than the cutoff", async () => {
    const db = await createTestDatabase("events_prune", eventsMigrationSql);
    const pool = new pg.Pool({ connectionString: db.url, max: 2 });
    try {
      const old = "now() - interval '8 days'";
      await pool.query(`
        INSERT INTO svcgen_outbox (topic, payload, delivered_at) VALUES
          ('a.old', '\\x01', ${old}), ('a.new', '\\x01', now()), ('a.pending', '\\x01', NULL);
        UPDATE svcgen_outbox SET created_at = ${old};
        INSERT INTO svcgen_event_log (id, topic, key, payload, content_type, headers, created_at, logged_at)
          SELECT gen_random_uuid(), 'a.old', '', '\\x01', 'x', '{}', ${old}, ${old} FROM generate_series(1, 3);
        INSERT INTO svcgen_event_cursors (group_name, position) VALUES ('g', 2), ('h', 3);
        INSERT INTO svcgen_processed_events (group_name, event_id, topic, status, processed_at) VALUES
          ('g', gen_random_uuid(), 'a', 'done', ${old}), ('g', gen_random_uuid(), 'a', 'dead', ${old}),
          ('g', gen_random_uuid(), 'a', 'done', now());
      `);
      expect(await pruneEvents(pool)).toEqual({ outbox: 1, eventLog: 2, processed: 1 });
      const outbox = await pool.query("SELECT topic FROM svcgen_outbox ORDER BY seq");
      expect(outbox.rows).toEqual([{ topic: "a.new" }, { topic: "a.pending" }]);
      const log = await pool.query("SELECT position FROM svcgen_event_log");
      expect(log.rows).toEqual([{ position: "3" }]);
      const statuses = await pool.query(
        "SELECT status FROM svcgen_processed_events ORDER BY status",
      );
      expect(statuses.rows).toEqual([{ status: "dead" }, { status: "done" }]);
      expect(await pruneEvents(pool)).toEqual({ outbox: 0, eventLog: 0, processed: 0 });
    } finally {
      await pool.end();
      await db.drop();
    }
  });
});

describe("after-commit steps", () => {
  test("run in order once the handler's transaction committed, never after a rollback nor for a skipped redelivery; a failing one is logged", async () => {
    const db = await createTestDatabase("events_after_commit", eventsMigrationSql + appSchema);
    const pool = new pg.Pool({ connectionString: db.url, max: 3 });
    const warnings: string[] = [];
    const logger = { warn: (m: string) => warnings.push(m), error: () => {} };
    const event = (): StoredEvent => ({
      id: randomUUID(),
      topic: "order.placed",
      key: "k",
      payload: encode({ key: "k", n: 1 }),
      contentType: "application/json",
      headers: {},
      createdAt: new Date(),
    });
    const orders = async (): Promise<number> =>
      Number((await pool.query<{ n: string }>("SELECT count(*) AS n FROM orders")).rows[0]?.n);
    try {
      const steps: string[] = [];
      const placed = event();
      const done = await processEvent(
        pool,
        "g",
        placed,
        async (_e, tx, afterCommit) => {
          await tx.query("INSERT INTO orders (key, n) VALUES ('k', 1)");
          // Another connection sees the order only once the transaction committed.
          afterCommit(async () => {
            steps.push(`first sees ${await orders()}`);
          });
          afterCommit(() => {
            throw new Error("the object store is down");
          });
          afterCommit(() => {
            steps.push("third");
          });
          steps.push("handled");
        },
        logger,
      );
      expect(done).toEqual({ kind: "done" });
      expect(steps).toEqual(["handled", "first sees 1", "third"]);
      expect(warnings).toEqual(["An after-commit step of a handled event failed"]);

      const again = await processEvent(pool, "g", placed, () =>
        Promise.reject(new Error("a processed event must not be handled again")),
      );
      expect(again).toEqual({ kind: "skipped" });

      const rolledBack: string[] = [];
      const failed = await processEvent(pool, "g", event(), async (_e, tx, afterCommit) => {
        await tx.query("INSERT INTO orders (key, n) VALUES ('k', 2)");
        afterCommit(() => {
          rolledBack.push("ran");
        });
        throw new Error("the handler failed");
      });
      expect(failed).toMatchObject({ kind: "failed", attempts: 1 });
      expect(rolledBack).toEqual([]);
      expect(await orders()).toBe(1);
    } finally {
      await pool.end();
      await db.drop();
    }
  });
});
