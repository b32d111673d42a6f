/**
 * The example's events over NATS JetStream: the five services as separate processes (their
 * generated entries), configured with `NATS_URL` and nothing else different, so the relays
 * publish the outbox to a JetStream stream and the notification service's consumer reads it
 * from a durable consumer. Real NATS at 127.0.0.1:4222 (CI must run this; elsewhere it is
 * skipped with the reason printed when no server answers), a real PostgreSQL, real tokens.
 *
 * The PostgreSQL transport's run of the same flows is in example-services.e2e.test.ts.
 */
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import type { TestIssuer } from "@svcgen/runtime/testing";
import { connect } from "nats";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  type AuthServiceClient,
  createAuthServiceClient,
} from "../example-project/gen/grpc/auth-service.js";
import {
  createDataServiceClient,
  type DataServiceClient,
} from "../example-project/gen/grpc/data-service.js";
import {
  createNotificationServiceClient,
  type NotificationServiceClient,
} from "../example-project/gen/grpc/notification-service.js";
import { RecordVisibility } from "../example-project/gen/proto/example/data/v1/data_pb.js";
import { NotificationKind } from "../example-project/gen/proto/example/notifications/v1/notifications_pb.js";
import type { RunningServices } from "../example-project/scripts/services.js";
import { type ExampleUnderTest, startExampleUnderTest } from "./example-under-test.js";
import { natsSkipReason, natsUrl } from "./system-tools.js";

// Outside CI the run is skipped, with the reason printed, where no server answers; CI
// (CI=true) must run it, so there it fails instead.
const skip = await natsSkipReason("the example's events over NATS");

/** Its own compiled copy: the PostgreSQL e2e compiles into another folder at the same time. */
const distDir = join(import.meta.dirname, ".tmp", "example-nats-dist");
/** Per run: its own stream and subjects, so runs never see each other's events. */
const runId = randomUUID().replaceAll("-", "").slice(0, 12);
const stream = `SVCGEN_EXAMPLE_${runId}`;

const alice = randomUUID();
const bob = randomUUID();
const dave = randomUUID();

let issuer: TestIssuer;
let sql: pg.Pool;
let running: RunningServices;
let example: ExampleUnderTest | undefined;
let auth: AuthServiceClient;
let data: DataServiceClient;
let notifications: NotificationServiceClient;
const as: Record<string, { metadata: Record<string, string> }> = {};

beforeAll(async () => {
  if (skip !== undefined) return;
  example = await startExampleUnderTest({
    distDir,
    env: {
      NATS_URL: natsUrl,
      SVCGEN_NATS_STREAM: stream,
      SVCGEN_NATS_SUBJECT_PREFIX: `svcgen_example_${runId}`,
    },
  });
  ({ issuer, sql, running } = example);
  const { services } = running;
  auth = createAuthServiceClient(services["auth-service"].grpcAddress);
  data = createDataServiceClient(services["data-service"].grpcAddress);
  notifications = createNotificationServiceClient(services["notification-service"].grpcAddress);
  for (const [name, uid] of [
    ["alice", alice],
    ["bob", bob],
    ["dave", dave],
  ] as const) {
    as[name] = {
      metadata: await issuer.authorization({
        uid,
        email: `${name}@example.com`,
        claims: { email_verified: true },
      }),
    };
  }
}, 240_000);

afterAll(async () => {
  for (const c of [auth, data, notifications]) c?.close();
  await example?.stop();
  if (skip === undefined) {
    const nc = await connect({ servers: natsUrl });
    await (await nc.jetstreamManager()).streams.delete(stream).catch(() => false);
    await nc.close();
  }
});

async function eventually(probe: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > until) throw new Error(`not true within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A counter of a service's /metrics with the given labels (0 when absent). */
async function metric(httpAddress: string, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`http://${httpAddress}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return Number(line?.split(" ").pop() ?? 0);
}

describe.skipIf(skip !== undefined)("the example's events over NATS JetStream", () => {
  test("a sign-up's notification arrives on an open subscription, through the stream", async () => {
    const controller = new AbortController();
    const received: { kind: NotificationKind; title: string }[] = [];
    const reading = (async () => {
      try {
        for await (const n of notifications.subscribe(
          {},
          { ...as.dave, signal: controller.signal },
        )) {
          received.push(n);
          if (n.title === "Welcome") return;
        }
      } catch (e) {
        if (!controller.signal.aborted) throw e;
      }
    })();
    // The subscription listens once its LISTEN connection is up.
    await eventually(async () => {
      const r = await sql.query<{ n: string }>(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %notification_created%'",
      );
      return Number(r.rows[0]?.n) === 1;
    });
    expect((await auth.signIn({}, as.dave)).created).toBe(true);
    const timer = setTimeout(() => controller.abort(), 15_000);
    await reading;
    clearTimeout(timer);
    expect(received).toEqual([
      expect.objectContaining({ kind: NotificationKind.INFO, title: "Welcome" }),
    ]);
    controller.abort();
  });

  test("a share becomes the sharee's notification once; every event went through JetStream, none through the log table", async () => {
    expect((await auth.signIn({}, as.alice)).created).toBe(true);
    expect((await auth.signIn({}, as.bob)).created).toBe(true);
    const record = await data.createRecord(
      { title: "Trip", body: { days: 3 }, tags: [], visibility: RecordVisibility.PRIVATE },
      as.bob,
    );
    await data.shareRecord({ recordId: record.id, userId: alice }, as.bob);
    const titles = async (uid: string): Promise<string[]> =>
      (
        await sql.query<{ title: string }>(
          "SELECT title FROM notifications WHERE user_id = $1 ORDER BY id",
          [uid],
        )
      ).rows.map((r) => r.title);
    // Events of different keys (alice's, bob's) are handled in any order: wait for all of them.
    const processed = () =>
      sql.query<{ topic: string; n: string }>(
        "SELECT topic, count(*) AS n FROM svcgen_processed_events WHERE status = 'done' GROUP BY topic ORDER BY topic",
      );
    await eventually(
      async () =>
        (await titles(alice)).length === 2 &&
        (await titles(bob)).length === 1 &&
        (await processed()).rows.reduce((sum, r) => sum + Number(r.n), 0) === 4,
    );
    expect(await titles(alice)).toEqual(["Welcome", "A record was shared with you"]);
    expect(await titles(bob)).toEqual(["Welcome"]);
    const done = await processed();
    expect(done.rows.map((r) => [r.topic, Number(r.n)])).toEqual([
      ["record.shared", 1],
      ["user.signed_up", 3],
    ]);
    // The PostgreSQL transport's log stays empty: the relays published to JetStream.
    const log = await sql.query<{ n: string }>("SELECT count(*) AS n FROM svcgen_event_log");
    expect(Number(log.rows[0]?.n)).toBe(0);
    const nc = await connect({ servers: natsUrl });
    try {
      const info = await (await nc.jetstreamManager()).streams.info(stream);
      expect(info.state.messages).toBe(4);
    } finally {
      await nc.close();
    }
    // Every producing process runs a relay over the shared outbox; together they published
    // each event once.
    let relayed = 0;
    for (const service of Object.values(running.services)) {
      relayed += await metric(service.httpAddress, "events_relayed_total", 'transport="nats"');
    }
    expect(relayed).toBe(4);
  });
});
