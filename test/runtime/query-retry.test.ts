/**
 * Retries below the call, against a PostgreSQL cluster this file starts: a generated project
 * whose `Deposit` RPC (not idempotent) reads an account with a generated read-only query and
 * then writes an entry. The test holds an ACCESS EXCLUSIVE lock so that the query it aims at
 * waits in the server, finds that backend in `pg_stat_activity` and ends it with
 * `pg_terminate_backend`: each attempt is failed by the test, never by a timer.
 *
 * - the read's connection is terminated: the query is sent again on a fresh connection, the
 *   call succeeds and its write happens exactly once;
 * - a write's connection is terminated: it is not sent again (UNAVAILABLE, no retry counted,
 *   nothing written);
 * - every attempt of a read is terminated, in an idempotent call: the query's retries run out
 *   and the call is not retried on top of them (exactly `maxAttempts` retries counted);
 * - the call's signal aborts (a client cancel; a deadline aborts the same signal) while a
 *   retried read waits: its SQL is cancelled, no attempt follows and nothing is written;
 * - a call that is not idempotent wrote, then could not get a connection for its next write
 *   (the database refuses connections): it is not run again, so its first write stays single.
 */
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import type { EmbeddedPostgresServer } from "@svcgen/runtime/embedded-postgres";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type GeneratedProject, generateProject, packageFiles } from "../cli/cli-project.js";
import { startControlledPostgres } from "./controlled-postgres.js";
import { outcome } from "./service-client.js";

const migration = `
CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL);
CREATE TABLE entries (id serial PRIMARY KEY, account_id int NOT NULL REFERENCES accounts (id), amount int NOT NULL);
-- A serialization failure the server raises in every transaction that calls it.
CREATE FUNCTION conflict() RETURNS void LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'could not serialize access' USING ERRCODE = 'serialization_failure'; END $$;
`;

const queries = `-- name: GetAccount :one
SELECT id, balance FROM accounts WHERE id = @id;

-- name: AddEntry :exec
INSERT INTO entries (account_id, amount) VALUES (@account_id, @amount);
`;

const proto = `syntax = "proto3";
package ledger.v1;
import "google/protobuf/empty.proto";
import "svcgen/v1/options.proto";

service LedgerService {
  option (svcgen.v1.service) = { auth: { public: true } };
  // Reads the account, then writes an entry: not idempotent.
  rpc Deposit(DepositRequest) returns (Account);
  rpc GetAccount(GetAccountRequest) returns (Account) {
    option (svcgen.v1.method) = { query: "GetAccount", idempotent: true };
  }
  rpc AddEntry(AddEntryRequest) returns (google.protobuf.Empty) {
    option (svcgen.v1.method) = { query: "AddEntry" };
  }
  // Writes an entry in a transaction that always fails to serialize.
  rpc Transfer(AddEntryRequest) returns (google.protobuf.Empty) {
    option (svcgen.v1.method) = { idempotent: true };
  }
  // Writes an entry, then a second one: not idempotent.
  rpc DoubleEntry(AddEntryRequest) returns (google.protobuf.Empty);
}
message DepositRequest { int32 account_id = 1; int32 amount = 2; }
message GetAccountRequest { int32 id = 1; }
message AddEntryRequest { int32 account_id = 1; int32 amount = 2; }
message Account { int32 id = 1; int32 balance = 2; }
`;

const handlers = `import type { MessageInitShape } from "@bufbuild/protobuf";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { withTransaction } from "@svcgen/runtime";
import { type CallContext, RpcError } from "@svcgen/runtime/grpc";
import type { Pool } from "pg";
import { addEntry, getAccount } from "../../gen/db/ledger.js";
import {
  createLedgerServiceBound,
  type LedgerServiceBound,
  type LedgerServiceHandlers,
} from "../../gen/grpc/ledger-service.js";
import type {
  AccountSchema,
  AddEntryRequest,
  DepositRequest,
  GetAccountRequest,
} from "../../gen/proto/ledger/v1/ledger_pb.js";

/** The \`attempt\` of every run of Transfer's transaction, in order. */
export const transferAttempts: number[] = [];

export class LedgerServiceImpl implements LedgerServiceHandlers {
  private readonly bound: LedgerServiceBound;

  constructor(private readonly db: Pool) {
    this.bound = createLedgerServiceBound(db);
  }

  async deposit(request: DepositRequest, ctx: CallContext): Promise<MessageInitShape<typeof AccountSchema>> {
    const account = await getAccount(this.db, { id: request.accountId }, { signal: ctx.signal });
    if (account === null) throw new RpcError(status.NOT_FOUND, "No such account");
    await addEntry(this.db, { accountId: account.id, amount: request.amount }, { signal: ctx.signal });
    return { id: account.id, balance: account.balance + request.amount };
  }

  getAccount(request: GetAccountRequest, ctx: CallContext): Promise<MessageInitShape<typeof AccountSchema>> {
    return this.bound.getAccount(request, ctx);
  }

  async transfer(request: AddEntryRequest, ctx: CallContext): Promise<MessageInitShape<typeof import("@bufbuild/protobuf/wkt").EmptySchema>> {
    await withTransaction(
      this.db,
      async (tx, { attempt }) => {
        transferAttempts.push(attempt);
        await addEntry(tx, { accountId: request.accountId, amount: request.amount }, { signal: ctx.signal });
        await tx.query("SELECT conflict()");
      },
      { isolationLevel: "serializable", maxRetries: 1, signal: ctx.signal },
    );
    return {};
  }

  addEntry(request: AddEntryRequest, ctx: CallContext): Promise<MessageInitShape<typeof import("@bufbuild/protobuf/wkt").EmptySchema>> {
    return this.bound.addEntry(request, ctx);
  }

  async doubleEntry(request: AddEntryRequest, ctx: CallContext): Promise<MessageInitShape<typeof import("@bufbuild/protobuf/wkt").EmptySchema>> {
    await addEntry(this.db, { accountId: request.accountId, amount: request.amount }, { signal: ctx.signal });
    // The test's hook between the two writes (it makes the database refuse connections).
    await (globalThis as { betweenWrites?: (pool: Pool) => Promise<void> }).betweenWrites?.(this.db);
    await addEntry(this.db, { accountId: request.accountId, amount: request.amount * 10 }, { signal: ctx.signal });
    return {};
  }
}
`;

interface Handle {
  readonly grpcAddress: string;
  snapshot(): { retries: number; inFlight: number };
  readonly state: { events: { on(e: "retry", f: (name: string) => void): void } };
  close(): Promise<void>;
}
interface LedgerClient {
  deposit(
    r: { accountId: number; amount: number },
    o?: { signal?: AbortSignal },
  ): Promise<{ balance: number }>;
  getAccount(r: { id: number }): Promise<{ balance: number }>;
  addEntry(r: { accountId: number; amount: number }): Promise<unknown>;
  transfer(r: { accountId: number; amount: number }): Promise<unknown>;
  doubleEntry(r: { accountId: number; amount: number }): Promise<unknown>;
  close(): void;
}

let project: GeneratedProject;
let db: EmbeddedPostgresServer;
let admin: pg.Client;
let handle: Handle;
let client: LedgerClient;
const retried: string[] = [];

beforeAll(async () => {
  db = await startControlledPostgres(`${migration}\nINSERT INTO accounts VALUES (1, 100);`);
  project = await generateProject(
    "query-retry",
    {
      files: {
        ...packageFiles("ledger", { migration, queries, proto }),
        "src/ledger-service/handlers.ts": handlers,
      },
    },
    db.url,
  );
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  ({ handle, client } = await project.serve<LedgerClient, Handle>("ledger-service", db.url));
  handle.state.events.on("retry", (name) => retried.push(name));
}, 180_000);

afterAll(async () => {
  client?.close();
  await handle?.close();
  await admin?.end();
  await db?.stop();
  await project?.remove();
});

/**
 * Holds an ACCESS EXCLUSIVE lock on `table` on a connection of its own while `body` runs, so
 * any statement on that table waits in the server; `body` gets `terminate`, which ends the next
 * backend waiting for that lock (one it has not ended before) and resolves with its pid, or
 * with undefined once `stop()` holds.
 */
async function whileLocked<T>(
  table: string,
  body: (
    terminate: (stop?: () => boolean) => Promise<number | undefined>,
    ended: () => number,
  ) => Promise<T>,
): Promise<T> {
  const locker = new pg.Client({ connectionString: db.url });
  await locker.connect();
  const done = new Set<number>();
  try {
    await locker.query(`BEGIN; LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
    const terminate = async (stop = () => false): Promise<number | undefined> => {
      while (!stop()) {
        const r = await admin.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity
            WHERE wait_event_type = 'Lock' AND pid <> ALL($1::int[]) AND query ILIKE $2`,
          [[...done], `%${table}%`],
        );
        const pid = r.rows[0]?.pid;
        if (pid !== undefined) {
          done.add(pid);
          await admin.query("SELECT pg_terminate_backend($1)", [pid]);
          return pid;
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return undefined;
    };
    return await body(terminate, () => done.size);
  } finally {
    await locker.query("ROLLBACK");
    await locker.end();
  }
}

/** Waits until a backend other than the ended ones waits for the lock on `table`. */
async function waiting(table: string, except: readonly number[]): Promise<void> {
  for (;;) {
    const r = await admin.query(
      `SELECT 1 FROM pg_stat_activity
        WHERE wait_event_type = 'Lock' AND pid <> ALL($1::int[]) AND query ILIKE $2`,
      [except, `%${table}%`],
    );
    if (r.rowCount !== 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Waits until no backend waits for the lock on `table`. */
async function gone(table: string): Promise<void> {
  for (;;) {
    const r = await admin.query(
      "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE $1",
      [`%${table}%`],
    );
    if (r.rowCount === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Waits until the server has no call in flight. */
async function drained(): Promise<void> {
  while (handle.snapshot().inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 10));
}

async function entries(): Promise<number> {
  const r = await admin.query<{ n: string }>("SELECT count(*) AS n FROM entries");
  return Number(r.rows[0]?.n);
}

describe("retries below the call", () => {
  test("a non-idempotent call whose read loses its connection succeeds, and writes once", async () => {
    const before = handle.snapshot().retries;
    retried.length = 0;
    const written = await entries();
    const { call } = await whileLocked("accounts", async (terminate) => {
      const call = client.deposit({ accountId: 1, amount: 5 });
      const pid = (await terminate()) ?? 0;
      // The query is sent again on a new connection and waits for the lock too: release it
      // (returned in an object, so the lock goes before the call is awaited).
      await waiting("accounts", [pid]);
      return { call };
    });
    const result = await call;
    expect(result.balance).toBe(105);
    expect(await entries()).toBe(written + 1);
    expect(handle.snapshot().retries - before).toBe(1);
    expect(retried).toEqual(["GetAccount"]);
  });

  test("a write that loses its connection is not sent again", async () => {
    const before = handle.snapshot().retries;
    const written = await entries();
    const result = await whileLocked("entries", async (terminate) => {
      const call = outcome(() => client.addEntry({ accountId: 1, amount: 7 }));
      await terminate();
      return call;
    });
    expect(result.code).toBe(status.UNAVAILABLE);
    expect(handle.snapshot().retries - before).toBe(0);
    expect(await entries()).toBe(written);
  });

  test("an idempotent call is not retried again once its read's retries ran out", async () => {
    const before = handle.snapshot().retries;
    retried.length = 0;
    const { result, ended } = await whileLocked("accounts", async (terminate, count) => {
      let settled = false;
      const call = outcome(() => client.getAccount({ id: 1 })).finally(() => {
        settled = true;
      });
      // End every attempt until the call gives up (the default policy: 3 retries).
      while (!settled) await terminate(() => settled);
      return { result: await call, ended: count() };
    });
    expect(result.code).toBe(status.UNAVAILABLE);
    expect(ended).toBe(4);
    expect(handle.snapshot().retries - before).toBe(3);
    expect(retried).toEqual(["GetAccount", "GetAccount", "GetAccount"]);
  });

  test("an idempotent call is not retried again once its transaction's retries ran out", async () => {
    const kit = (await import(join(project.dir, "src", "ledger-service", "handlers.ts"))) as {
      transferAttempts: number[];
    };
    const written = await entries();
    const result = await outcome(() => client.transfer({ accountId: 1, amount: 3 }));
    // 40001 ends the call ABORTED after the transaction ran twice (maxRetries 1), not twice
    // more for each retry of the call; nothing of it is stored.
    expect(result.code).toBe(status.ABORTED);
    expect(kit.transferAttempts).toEqual([0, 1]);
    expect(await entries()).toBe(written);
  });

  test("no retry outlives the call's signal: the waiting retry is cancelled, nothing written", async () => {
    const before = handle.snapshot().retries;
    const written = await entries();
    const cancel = new AbortController();
    const result = await whileLocked("accounts", async (terminate) => {
      const call = outcome(() =>
        client.deposit({ accountId: 1, amount: 9 }, { signal: cancel.signal }),
      );
      const pid = (await terminate()) ?? 0;
      await waiting("accounts", [pid]);
      cancel.abort();
      const ended = await call;
      // The server ends the call once its signal aborted; the retry's SQL is cancelled in the
      // server, so nothing waits for the lock any more, while it is still held.
      await drained();
      await gone("accounts");
      return ended;
    });
    expect(result.code).toBe(status.CANCELLED);
    expect(handle.snapshot().retries - before).toBe(1);
    expect(await entries()).toBe(written);
  });
});

describe("the call-level retry after a write", () => {
  test("a call that wrote, then could not get a connection, is not run again", async () => {
    const before = handle.snapshot().retries;
    const amount = 4242;
    let hooks = 0;
    // PostgreSQL refuses to stop connections to the database one is connected to.
    const other = new pg.Client({ connectionString: db.url.replace(/\/postgres$/, "/template1") });
    await other.connect();
    (globalThis as { betweenWrites?: (pool: pg.Pool) => Promise<void> }).betweenWrites = async (
      pool,
    ) => {
      hooks++;
      // The database stops accepting connections and the pool's are ended, so the next
      // checkout fails before anything is sent (DatabaseUnavailableError).
      await other.query("ALTER DATABASE postgres ALLOW_CONNECTIONS false");
      await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE pid <> pg_backend_pid() AND datname = 'postgres' AND backend_type = 'client backend'`,
      );
      while (pool.totalCount > 0) await new Promise((resolve) => setTimeout(resolve, 10));
      // Were the call run again, its second run would find the database back.
      if (hooks > 1) await other.query("ALTER DATABASE postgres ALLOW_CONNECTIONS true");
    };
    try {
      const result = await outcome(() => client.doubleEntry({ accountId: 1, amount }));
      expect(result.code).toBe(status.UNAVAILABLE);
    } finally {
      delete (globalThis as { betweenWrites?: unknown }).betweenWrites;
      await other.query("ALTER DATABASE postgres ALLOW_CONNECTIONS true");
      await other.end();
    }
    expect(hooks).toBe(1);
    expect(handle.snapshot().retries - before).toBe(0);
    const r = await admin.query<{ amount: number; n: string }>(
      "SELECT amount, count(*) AS n FROM entries WHERE amount IN ($1, $2) GROUP BY amount",
      [amount, amount * 10],
    );
    // The first write once, the second never.
    expect(r.rows.map((x) => [x.amount, Number(x.n)])).toEqual([[amount, 1]]);
  });
});
