/**
 * End to end over loopback with the real PostgreSQL: the golden generated service for the
 * users fixture, served by its handler skeleton and called with its generated client.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fromBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { type Metadata, Server, ServerCredentials, type ServiceError, status } from "@grpc/grpc-js";
import { BadRequestSchema, StatusSchema } from "@svcgen/runtime/grpc";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  addUserService,
  createUserServiceClient,
  type UserServiceClient,
} from "../../fixtures/golden/grpc/users/gen/grpc/user-service.js";
import {
  type ChatMessage,
  UserStatus,
} from "../../fixtures/golden/grpc/users/gen/proto/acme/users/v1/users_pb.js";
import { UserServiceImpl } from "../../fixtures/golden/grpc/users/src/user-service/handlers.js";
import { createTestDatabase, type TestDatabase } from "../db.js";
import { usersProject } from "./proto-fixture.js";

/** The handler skeleton with its bidi method written, as a user would. */
class ChatImpl extends UserServiceImpl {
  override async *chat(requests: AsyncIterable<ChatMessage>) {
    for await (const m of requests) yield { text: m.text.toUpperCase() };
  }
}

let db: TestDatabase;
let pool: pg.Pool;
let server: Server;
let client: UserServiceClient;
let fetched = 0;
/** Errors that became INTERNAL; none are expected. */
const unexpected: unknown[] = [];

beforeAll(async () => {
  db = await createTestDatabase(
    "proto_e2e",
    readFileSync(path.join(usersProject, "sql/schema.sql"), "utf8"),
  );
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  server = new Server();
  addUserService(
    server,
    new ChatImpl(pool, {
      streamBatchSize: 100,
      onFetch: (_m, n) => {
        fetched += n;
      },
    }),
    { onUnexpectedError: (e) => unexpected.push(e) },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) =>
      e === null ? resolve(p) : reject(e),
    ),
  );
  client = createUserServiceClient(`127.0.0.1:${port}`);
});

afterAll(async () => {
  client?.close();
  server?.forceShutdown();
  await pool?.end();
  await db?.drop();
});

/** The code of a failed call. */
async function codeOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (e) {
    return (e as ServiceError).code;
  }
  return status.OK;
}

/** The BadRequest field violations in a status trailer. */
function violations(md: Metadata): { field: string; reason: string }[] {
  const raw = md.get("grpc-status-details-bin")[0];
  if (!(raw instanceof Buffer)) return [];
  const st = fromBinary(StatusSchema, raw);
  return st.details.flatMap((d) => {
    const br = anyUnpack(d, BadRequestSchema);
    return br === undefined
      ? []
      : br.fieldViolations.map((v) => ({ field: v.field, reason: v.reason }));
  });
}

/** Waits until every pooled connection is idle again (the stream released its connection). */
async function poolSettled(): Promise<void> {
  for (let i = 0; i < 500 && pool.idleCount !== pool.totalCount; i++) await sleep(10);
}

describe("bound unary methods", () => {
  test("every mapped type round-trips through CreateUser and GetUser", async () => {
    const created = await client.createUser({
      email: "ada@example.com",
      name: "Ada",
      age: 36,
      status: UserStatus.SUSPENDED,
      tags: ["math", "engines"],
      avatar: new Uint8Array([0, 1, 2, 255]),
      balance: "12345678901234567890.125",
      profile: { lang: "en", nested: { n: 1 }, list: [true, null] },
      score: 0.5,
    });
    expect(typeof created.id).toBe("bigint");
    const got = await client.getUser({ id: created.id });
    expect(got.email).toBe("ada@example.com");
    expect(got.name).toBe("Ada");
    expect(got.age).toBe(36);
    expect(got.status).toBe(UserStatus.SUSPENDED);
    expect(got.tags).toEqual(["math", "engines"]);
    expect([...(got.avatar ?? [])]).toEqual([0, 1, 2, 255]);
    expect(got.balance).toBe("12345678901234567890.125");
    expect(got.profile).toEqual({ lang: "en", nested: { n: 1 }, list: [true, null] });
    expect(got.createdAt?.seconds).toBeGreaterThan(0n);
    expect(got.externalId).toMatch(/^[0-9a-f-]{36}$/);
    expect(got.active).toBe(true);
    expect(got.score).toBe(0.5);
  });

  test("nullable columns come back unset", async () => {
    const created = await client.createUser({
      email: "bo@example.com",
      name: "Bo",
      balance: "0",
      status: UserStatus.ACTIVE,
    });
    const got = await client.getUser({ id: created.id });
    expect(got.age).toBeUndefined();
    expect(got.avatar).toBeUndefined();
    expect(got.profile).toBeUndefined();
    expect(got.score).toBeUndefined();
  });

  test(":one with no row is NOT_FOUND", async () => {
    expect(await codeOf(client.getUser({ id: 999_999n }))).toBe(status.NOT_FOUND);
  });

  test(":many fills the repeated field; :exec returns Empty; :execrows the count", async () => {
    const list = await client.listUsers({ limit: 10 });
    expect(list.users.map((u) => u.email)).toEqual(["ada@example.com", "bo@example.com"]);
    const suspended = await client.suspendOlder({ minAge: 30 });
    expect(suspended.suspended).toBe(1n);
    const bo = list.users[1];
    await client.deleteUser({ id: bo?.id ?? 0n });
    expect(await codeOf(client.getUser({ id: bo?.id ?? 0n }))).toBe(status.NOT_FOUND);
  });

  test("an invalid request is INVALID_ARGUMENT with every violated field", async () => {
    let error: ServiceError | undefined;
    try {
      await client.createUser({
        email: "not-an-email",
        name: "",
        age: -1,
        balance: "0",
        status: UserStatus.ACTIVE,
      });
    } catch (e) {
      error = e as ServiceError;
    }
    expect(error?.code).toBe(status.INVALID_ARGUMENT);
    const fields = violations(error?.metadata as Metadata);
    expect(fields.map((f) => f.field).sort()).toEqual(["age", "email", "name"]);
    expect(fields.find((f) => f.field === "email")?.reason).toBe("string.email");
  });

  test("a Postgres enum binds to a proto string: its label out, a checked label in", async () => {
    const created = await client.createUser({
      email: "label@example.com",
      name: "Label",
      balance: "0",
      status: UserStatus.SUSPENDED,
    });
    const suspended = await client.usersByStatus({ status: "suspended" });
    expect(suspended.users.find((u) => u.id === created.id)).toMatchObject({
      id: created.id,
      status: "suspended",
    });
    expect(suspended.users.every((u) => u.status === "suspended")).toBe(true);
    let error: ServiceError | undefined;
    try {
      await client.usersByStatus({ status: "SUSPENDED" });
    } catch (e) {
      error = e as ServiceError;
    }
    expect(error?.code).toBe(status.INVALID_ARGUMENT);
    expect(error?.details).toBe('Invalid status: "SUSPENDED" is not one of "active", "suspended"');
    expect(violations(error?.metadata as Metadata).map((f) => f.field)).toEqual(["status"]);
  });

  test("client-streaming into :copyfrom: every message a row, the count back, all or nothing", async () => {
    const owner = await client.createUser({
      email: "tags@example.com",
      name: "Tagger",
      balance: "0",
      status: UserStatus.ACTIVE,
    });
    async function* tagRows(n: number, badAt?: number) {
      for (let i = 0; i < n; i++) {
        yield { userId: i === badAt ? 999_999_999n : owner.id, tag: `tag ${i}` };
      }
    }
    const stored = async () =>
      Number(
        (
          await pool.query<{ n: string }>(
            "SELECT count(*) AS n FROM user_tags WHERE user_id = $1",
            [owner.id.toString()],
          )
        ).rows[0]?.n,
      );
    expect(await client.importTags(tagRows(10_000))).toMatchObject({ imported: 10_000n });
    expect(await stored()).toBe(10_000);
    // A row the database rejects (a foreign key) fails the call and keeps none of its rows.
    expect(await codeOf(client.importTags(tagRows(1_000, 500)))).toBe(status.FAILED_PRECONDITION);
    expect(await stored()).toBe(10_000);
  });

  test("a client stream cancelled or past its deadline keeps none of its rows", async () => {
    const owner = await client.createUser({
      email: "cut@example.com",
      name: "Cut",
      balance: "0",
      status: UserStatus.ACTIVE,
    });
    // grpc-js ends the request stream of a cancelled call as if the client had finished it:
    // without the runtime's check the copy would commit what had arrived.
    let sent = 0;
    async function* stalling() {
      for (; sent < 500; sent++) yield { userId: owner.id, tag: `cut ${sent}` };
      await new Promise(() => {});
    }
    const controller = new AbortController();
    const cancelled = codeOf(client.importTags(stalling(), { signal: controller.signal }));
    while (sent < 500) await sleep(10);
    await sleep(300);
    controller.abort();
    expect(await cancelled).toBe(status.CANCELLED);
    sent = 0;
    expect(await codeOf(client.importTags(stalling(), { timeoutMs: 800 }))).toBe(
      status.DEADLINE_EXCEEDED,
    );
    await poolSettled();
    const kept = await pool.query("SELECT count(*)::int AS n FROM user_tags WHERE user_id = $1", [
      owner.id.toString(),
    ]);
    expect(kept.rows[0].n).toBe(0);
  });

  test("an unbound method throws UNIMPLEMENTED from the skeleton", async () => {
    async function* tags() {
      yield { name: "a" };
    }
    expect(await codeOf(client.uploadTags(tags()))).toBe(status.UNIMPLEMENTED);
  });
});

describe("streams", () => {
  test("bidi: the user's handler echoes", async () => {
    async function* input() {
      yield { text: "hello" };
      yield { text: "world" };
    }
    const got: string[] = [];
    for await (const m of client.chat(input())) got.push(m.text);
    expect(got).toEqual(["HELLO", "WORLD"]);
  });

  test("20,000 rows to a slow client: fetching never runs far ahead of reading", async () => {
    fetched = 0;
    let received = 0;
    let maxAhead = 0;
    let last = 0n;
    // 20,000 rows: four times the bound below, and well inside the method's 10 s timeout on a
    // loaded machine (100,000 took over 10 s at a load average of 10).
    for await (const m of client.streamNumbers({ count: 20_000 })) {
      received++;
      maxAhead = Math.max(maxAhead, fetched - received);
      expect(m.n).toBe(last + 1n);
      last = m.n;
      // A deliberately slow reader: long pauses let an unbounded server race ahead.
      if (received % 2_000 === 1) await sleep(100);
    }
    expect(received).toBe(20_000);
    expect(fetched).toBe(20_000);
    // Cursor batch (100) + grpc-js write buffer + HTTP/2 flow-control windows, never the result.
    expect(maxAhead).toBeLessThan(5_000);
    await poolSettled();
    expect(pool.idleCount).toBe(pool.totalCount);
  });

  test("a client cancel ends the stream and releases the cursor's connection", async () => {
    fetched = 0;
    let received = 0;
    for await (const _ of client.streamNumbers({ count: 100_000 })) {
      if (++received === 50) break;
    }
    await poolSettled();
    expect(pool.idleCount).toBe(pool.totalCount);
    expect(fetched).toBeLessThan(100_000);
    const busy = await pool.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'",
    );
    expect(busy.rows[0].n).toBe(0);
  });

  test("a deadline ends the stream with DEADLINE_EXCEEDED and releases the connection", async () => {
    fetched = 0;
    const run = async () => {
      for await (const _ of client.streamNumbers({ count: 100_000 }, { timeoutMs: 300 })) {
        await sleep(1);
      }
    };
    expect(await codeOf(run())).toBe(status.DEADLINE_EXCEEDED);
    await poolSettled();
    expect(pool.idleCount).toBe(pool.totalCount);
    expect(fetched).toBeLessThan(100_000);
  });
});

test("no call failed with an unexpected error", () => {
  expect(unexpected).toEqual([]);
});
