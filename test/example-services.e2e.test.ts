/**
 * The example project end to end, as it runs in production: its five services compiled and
 * started as separate processes from their generated entries (gen/server/<service>.ts, through
 * example-project/scripts/services.ts), against a real PostgreSQL database of this test, with
 * real RS256 tokens from `createTestIssuer()` that every service verifies itself (AUTH_JWKS_URL,
 * AUTH_ISSUER, AUTH_AUDIENCE), called over loopback through the generated clients. Two users
 * and an administrator; every RPC of the auth, user, data and notification services, happy
 * paths and error paths; the file service starts and answers.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { join } from "node:path";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { fromBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { type ServiceError, status } from "@grpc/grpc-js";
import { BadRequestSchema, ErrorInfoSchema, StatusSchema } from "@svcgen/runtime/grpc";
import { createTestIssuer, type TestIssuer } from "@svcgen/runtime/testing";
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
  createFileServiceClient,
  type FileServiceClient,
} from "../example-project/gen/grpc/file-service.js";
import {
  createNotificationServiceClient,
  type NotificationServiceClient,
} from "../example-project/gen/grpc/notification-service.js";
import {
  createUserServiceClient,
  type UserServiceClient,
} from "../example-project/gen/grpc/user-service.js";
import { RecordVisibility } from "../example-project/gen/proto/example/data/v1/data_pb.js";
import type { UploadFileRequestSchema } from "../example-project/gen/proto/example/file/v1/file_pb.js";
import {
  type Notification,
  NotificationKind,
} from "../example-project/gen/proto/example/notifications/v1/notifications_pb.js";
import type { ExampleService, RunningServices } from "../example-project/scripts/services.js";
import { type ExampleUnderTest, startExampleUnderTest } from "./example-under-test.js";

/** The compiled project, this test's own (`npm run example` compiles into example-project/dist). */
const distDir = join(import.meta.dirname, ".tmp", "example-services-dist");

const alice = randomUUID();
const bob = randomUUID();
const admin = randomUUID();
/** A signed-in user who never called SignIn nor created a profile. */
const carol = randomUUID();
/** Another service, allowed to send notifications (role `service`). */
const notifier = randomUUID();

let issuer: TestIssuer;
let sql: pg.Pool;
let running: RunningServices;
let example: ExampleUnderTest | undefined;
let auth: AuthServiceClient;
let users: UserServiceClient;
let data: DataServiceClient;
let files: FileServiceClient;
let notifications: NotificationServiceClient;
/** Call options per caller: `as.alice` carries Alice's token. */
const as: Record<string, { metadata: Record<string, string> }> = {};
/** Every line the services wrote, by service. */
const output = new Map<ExampleService, string[]>();

beforeAll(async () => {
  example = await startExampleUnderTest({
    distDir,
    onLine: (service, line) => {
      const lines = output.get(service) ?? [];
      lines.push(line);
      output.set(service, lines);
      if (process.env.EXAMPLE_SERVICES_LOG === "1") process.stderr.write(`[${service}] ${line}\n`);
    },
  });
  ({ issuer, sql, running } = example);
  const { services } = running;
  auth = createAuthServiceClient(services["auth-service"].grpcAddress);
  users = createUserServiceClient(services["user-service"].grpcAddress);
  data = createDataServiceClient(services["data-service"].grpcAddress);
  files = createFileServiceClient(services["file-service"].grpcAddress);
  notifications = createNotificationServiceClient(services["notification-service"].grpcAddress);
  const token = async (uid: string, email?: string, roles: readonly string[] = []) => ({
    metadata: await issuer.authorization({
      uid,
      roles,
      ...(email === undefined ? {} : { email }),
      claims: { email_verified: email !== undefined },
    }),
  });
  as.alice = await token(alice, "alice@example.com");
  as.bob = await token(bob, "bob@example.com");
  as.admin = await token(admin, "admin@example.com", ["admin"]);
  as.carol = await token(carol);
  as.notifier = await token(notifier, undefined, ["service"]);
}, 240_000);

afterAll(async () => {
  for (const c of [auth, users, data, files, notifications]) c?.close();
  await example?.stop();
});

// --- Helpers. ---

/** The failure of a call: code, message, BadRequest fields and ErrorInfo. */
interface Failure {
  readonly code: status;
  readonly details: string;
  readonly fields: readonly string[];
  readonly reason?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

function failureOf(e: unknown): Failure {
  const err = e as ServiceError;
  const raw = err.metadata?.get("grpc-status-details-bin")[0];
  const details = raw instanceof Buffer ? fromBinary(StatusSchema, raw).details : [];
  const fields = details.flatMap((d) => {
    const br = anyUnpack(d, BadRequestSchema);
    return br === undefined ? [] : br.fieldViolations.map((v) => v.field);
  });
  const info = details.map((d) => anyUnpack(d, ErrorInfoSchema)).find((x) => x !== undefined);
  return {
    code: err.code,
    details: err.details,
    fields: [...fields].sort(),
    ...(info === undefined ? {} : { reason: info.reason, metadata: { ...info.metadata } }),
  };
}

/** Awaits a call that must fail and returns its failure. */
async function failure(p: Promise<unknown>): Promise<Failure> {
  try {
    await p;
  } catch (e) {
    return failureOf(e);
  }
  throw new Error("the call succeeded");
}

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const m of stream) out.push(m);
  return out;
}

/** Reads a stream in the background; `next()` waits for the next message (up to `ms`). */
function reader<T>(stream: AsyncIterable<T>): {
  next(ms?: number): Promise<T>;
  readonly ended: Promise<Failure | "ok">;
} {
  const queue: T[] = [];
  let waiter: (() => void) | undefined;
  const ended = (async (): Promise<Failure | "ok"> => {
    try {
      for await (const m of stream) {
        queue.push(m);
        waiter?.();
      }
      return "ok";
    } catch (e) {
      return failureOf(e);
    } finally {
      waiter?.();
    }
  })();
  return {
    ended,
    async next(ms = 5000) {
      const until = Date.now() + ms;
      while (queue.length === 0) {
        if (Date.now() > until) throw new Error(`no message within ${ms} ms`);
        await new Promise<void>((resolve) => {
          waiter = resolve;
          setTimeout(resolve, 50);
        });
      }
      return queue.shift() as T;
    },
  };
}

/** Polls `probe` until it returns true (up to `ms`). */
async function eventually(probe: () => Promise<boolean>, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > until) throw new Error(`not true within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * How many connections of the notification service hold the subscriptions' LISTEN (the events
 * relays and consumers hold LISTEN connections of their own, on other channels).
 */
async function listeners(): Promise<number> {
  const r = await sql.query<{ n: string }>(
    "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %notification_created%'",
  );
  return Number(r.rows[0]?.n ?? 0);
}

// --- The services. ---

describe("auth service", () => {
  test("SignIn needs a valid token: none, another issuer's and an expired one are UNAUTHENTICATED", async () => {
    expect((await failure(auth.signIn({}))).code).toBe(status.UNAUTHENTICATED);
    const other = await createTestIssuer({ issuer: issuer.issuer, audience: issuer.audience });
    try {
      const forged = { metadata: await other.authorization({ uid: alice }) };
      expect((await failure(auth.signIn({}, forged))).code).toBe(status.UNAUTHENTICATED);
    } finally {
      await other.close();
    }
    const expired = { metadata: await issuer.authorization({ uid: alice, expiresIn: -60 }) };
    expect((await failure(auth.signIn({}, expired))).code).toBe(status.UNAUTHENTICATED);
  });

  test("SignIn creates the account from the token's claims, then records later sign-ins", async () => {
    const first = await auth.signIn({ userAgent: "vitest/1" }, as.alice);
    expect(first.created).toBe(true);
    expect(first.account).toMatchObject({
      id: alice,
      email: "alice@example.com",
      emailVerified: true,
      roles: [],
    });
    expect(first.session).toMatchObject({ accountId: alice, userAgent: "vitest/1" });
    const expiresIn = Number(first.session?.expiresAt?.seconds) - Date.now() / 1000;
    expect(expiresIn).toBeGreaterThan(29 * 24 * 3600);
    const second = await auth.signIn({}, as.alice);
    expect(second.created).toBe(false);
    expect(second.session?.userAgent).toBeUndefined();
    expect(second.session?.id).not.toBe(first.session?.id);
    for (const who of ["bob", "admin", "notifier"]) {
      expect((await auth.signIn({ userAgent: who }, as[who])).created).toBe(true);
    }
    // A token without an email (a phone sign-in, say): the account has none.
    const phone = await auth.signIn(
      {},
      { metadata: await issuer.authorization({ uid: randomUUID() }) },
    );
    expect(phone.account?.email).toBeUndefined();
  });

  test("SignIn: a too long user agent is INVALID_ARGUMENT; another account's email is ALREADY_EXISTS", async () => {
    const f = await failure(auth.signIn({ userAgent: "x".repeat(513) }, as.alice));
    expect(f).toMatchObject({ code: status.INVALID_ARGUMENT, fields: ["user_agent"] });
    const impostor = {
      metadata: await issuer.authorization({ uid: randomUUID(), email: "alice@example.com" }),
    };
    const g = await failure(auth.signIn({}, impostor));
    expect(g).toMatchObject({
      code: status.ALREADY_EXISTS,
      reason: "ACCOUNTS_EMAIL_KEY",
    });
    expect(g.details).not.toContain("alice@example.com");
  });

  test("GetMe is the caller's account; NOT_FOUND before the first sign-in", async () => {
    expect(await auth.getMe({}, as.bob)).toMatchObject({ id: bob, email: "bob@example.com" });
    expect((await failure(auth.getMe({}, as.carol))).code).toBe(status.NOT_FOUND);
    expect((await failure(auth.getMe({}))).code).toBe(status.UNAUTHENTICATED);
  });

  test("ListSessions and RevokeSession: only the caller's own, once", async () => {
    const listed = await auth.listSessions({}, as.alice);
    expect(listed.sessions).toHaveLength(2);
    expect(listed.sessions.every((s) => s.accountId === alice)).toBe(true);
    const [newest, oldest] = listed.sessions;
    expect(oldest?.userAgent).toBe("vitest/1");
    const id = newest?.id ?? "";
    // Bob cannot revoke Alice's session: it is not found among his.
    expect((await failure(auth.revokeSession({ id }, as.bob))).code).toBe(status.NOT_FOUND);
    const revoked = await auth.revokeSession({ id }, as.alice);
    expect(revoked.id).toBe(id);
    expect(revoked.revokedAt).toBeDefined();
    expect((await failure(auth.revokeSession({ id }, as.alice))).code).toBe(status.NOT_FOUND);
    expect((await auth.listSessions({}, as.alice)).sessions.map((s) => s.id)).toEqual([oldest?.id]);
    const bad = await failure(auth.revokeSession({ id: "nope" }, as.alice));
    expect(bad).toMatchObject({ code: status.INVALID_ARGUMENT, fields: ["id"] });
  });

  test("SetAccountRoles and GetAccount: administrators only", async () => {
    const denied = await failure(auth.setAccountRoles({ id: bob, roles: ["editor"] }, as.alice));
    expect(denied.code).toBe(status.PERMISSION_DENIED);
    expect((await failure(auth.getAccount({ id: bob }, as.bob))).code).toBe(
      status.PERMISSION_DENIED,
    );
    const set = await auth.setAccountRoles({ id: bob, roles: ["editor", "beta"] }, as.admin);
    expect(set).toMatchObject({ id: bob, roles: ["editor", "beta"] });
    expect((await auth.getAccount({ id: bob }, as.admin)).roles).toEqual(["editor", "beta"]);
    expect((await failure(auth.getAccount({ id: carol }, as.admin))).code).toBe(status.NOT_FOUND);
    expect((await failure(auth.setAccountRoles({ id: carol, roles: [] }, as.admin))).code).toBe(
      status.NOT_FOUND,
    );
    const invalid = await failure(
      auth.setAccountRoles({ id: "x", roles: ["Admin!", "a", "a"] }, as.admin),
    );
    expect(invalid).toMatchObject({
      code: status.INVALID_ARGUMENT,
      fields: ["id", "roles", "roles[0]"],
    });
  });
});

describe("user service", () => {
  test("CreateProfile keys the profile by the caller; a taken handle or a second profile is ALREADY_EXISTS", async () => {
    const p = await users.createProfile(
      { handle: "alice", displayName: "Alice Liddell", locale: "en-GB" },
      as.alice,
    );
    expect(p).toMatchObject({ userId: alice, handle: "alice", locale: "en-GB" });
    expect(p.bio).toBeUndefined();
    await users.createProfile({ handle: "bob", displayName: "Bob", locale: "en" }, as.bob);
    const taken = await failure(
      users.createProfile({ handle: "alice", displayName: "Eve", locale: "en" }, as.carol),
    );
    expect(taken).toMatchObject({ code: status.ALREADY_EXISTS, fields: ["handle"] });
    const second = await failure(
      users.createProfile({ handle: "alice2", displayName: "A", locale: "en" }, as.alice),
    );
    expect(second.code).toBe(status.ALREADY_EXISTS);
    const invalid = await failure(
      users.createProfile({ handle: "No Caps!", displayName: "", locale: "e" }, as.carol),
    );
    expect(invalid).toMatchObject({
      code: status.INVALID_ARGUMENT,
      fields: ["display_name", "handle", "locale"],
    });
  });

  test("GetMyProfile, GetProfile, and GetProfileByHandle for anyone", async () => {
    expect((await users.getMyProfile({}, as.alice)).handle).toBe("alice");
    expect((await users.getProfile({ userId: alice }, as.bob)).displayName).toBe("Alice Liddell");
    expect((await users.getProfileByHandle({ handle: "bob" })).userId).toBe(bob);
    expect((await failure(users.getProfile({ userId: alice }))).code).toBe(status.UNAUTHENTICATED);
    expect((await failure(users.getMyProfile({}, as.carol))).code).toBe(status.NOT_FOUND);
    expect((await failure(users.getProfileByHandle({ handle: "nobody" }))).code).toBe(
      status.NOT_FOUND,
    );
  });

  test("UpdateProfile changes only the fields that are set; SetAvatar; ListProfiles", async () => {
    const u = await users.updateProfile({ bio: "Hi", timezone: "Europe/Oslo" }, as.bob);
    expect(u).toMatchObject({
      displayName: "Bob",
      bio: "Hi",
      timezone: "Europe/Oslo",
      locale: "en",
    });
    const v = await users.updateProfile({ locale: "nb-NO" }, as.bob);
    expect(v).toMatchObject({ bio: "Hi", locale: "nb-NO" });
    expect((await failure(users.updateProfile({ bio: "x" }, as.carol))).code).toBe(
      status.NOT_FOUND,
    );
    const bad = await failure(users.updateProfile({ displayName: "" }, as.bob));
    expect(bad).toMatchObject({ code: status.INVALID_ARGUMENT, fields: ["display_name"] });
    const avatar = randomUUID();
    expect((await users.setAvatar({ avatarFileId: avatar }, as.bob)).updated).toBe(1n);
    expect((await users.getMyProfile({}, as.bob)).avatarFileId).toBe(avatar);
    expect((await users.setAvatar({}, as.bob)).updated).toBe(1n);
    expect((await users.setAvatar({}, as.carol)).updated).toBe(0n);
    const list = await users.listProfiles({ userIds: [bob, alice, carol] }, as.alice);
    expect(list.profiles.map((p) => p.handle)).toEqual(["alice", "bob"]);
  });

  test("SearchProfiles pages through every match once, in handle order, with optional filters", async () => {
    // 23 more users: handles user_00..user_22, every third one in German.
    const made: string[] = [];
    for (let i = 0; i < 23; i++) {
      const handle = `user_${String(i).padStart(2, "0")}`;
      const who = { metadata: await issuer.authorization({ uid: randomUUID() }) };
      const locale = i % 3 === 0 ? "de" : "en";
      await users.createProfile({ handle, displayName: `Member ${i}`, locale }, who);
      made.push(handle);
    }
    const pageThrough = async (filters: {
      handlePrefix?: string;
      nameContains?: string;
      locale?: string;
    }): Promise<string[]> => {
      const seen: string[] = [];
      let pageToken: string | undefined;
      for (let pages = 0; pages < 50; pages++) {
        const page = await users.searchProfiles(
          { ...filters, pageSize: 4, ...(pageToken === undefined ? {} : { pageToken }) },
          as.alice,
        );
        expect(page.profiles.length).toBeLessThanOrEqual(4);
        seen.push(...page.profiles.map((p) => p.handle));
        pageToken = page.nextPageToken;
        if (pageToken === undefined) return seen;
      }
      throw new Error("more than 50 pages");
    };
    const all = await pageThrough({ handlePrefix: "user_" });
    expect(all).toEqual(made); // every row, no duplicate, no gap, in handle order
    expect(new Set(all).size).toBe(23);
    expect(await pageThrough({ handlePrefix: "user_", locale: "de" })).toEqual(
      made.filter((_, i) => i % 3 === 0),
    );
    expect(await pageThrough({ nameContains: "MEMBER 1" })).toEqual(
      made.filter((h) => /^user_(01|1\d)$/.test(h)), // "Member 1" and "Member 1x"
    );
    // No filter: everyone, the first page of 20 by default.
    const first = await users.searchProfiles({}, as.bob);
    expect(first.profiles).toHaveLength(20);
    expect(first.profiles[0]?.handle).toBe("alice");
    expect(first.nextPageToken).toBeDefined();
    // `_` is a handle character, not a wildcard.
    expect((await users.searchProfiles({ handlePrefix: "user_2" }, as.bob)).profiles).toHaveLength(
      3,
    );
  });

  test("SearchProfiles: a page token of other filters or a forged one is INVALID_ARGUMENT", async () => {
    const page = await users.searchProfiles({ handlePrefix: "user_", pageSize: 2 }, as.alice);
    const token = page.nextPageToken ?? "";
    const other = await failure(
      users.searchProfiles({ handlePrefix: "user_1", pageToken: token }, as.alice),
    );
    expect(other).toMatchObject({ code: status.INVALID_ARGUMENT, fields: ["page_token"] });
    const forged = await failure(users.searchProfiles({ pageToken: "bm90LWEtdG9rZW4" }, as.alice));
    expect(forged).toMatchObject({ code: status.INVALID_ARGUMENT, fields: ["page_token"] });
    const bad = await failure(users.searchProfiles({ handlePrefix: "A B", pageSize: 0 }, as.alice));
    expect(bad).toMatchObject({
      code: status.INVALID_ARGUMENT,
      fields: ["handle_prefix", "page_size"],
    });
  });
});

describe("user service: follows", () => {
  test("Follow, Unfollow, ListFollowing and ListFollowers, with their error paths", async () => {
    const edge = await users.follow({ userId: bob }, as.alice);
    expect(edge).toMatchObject({ followerId: alice, followeeId: bob });
    await users.follow({ userId: alice }, as.bob);
    const again = await failure(users.follow({ userId: bob }, as.alice));
    expect(again).toMatchObject({ code: status.ALREADY_EXISTS, reason: "FOLLOWS_PKEY" });
    // Carol has no profile yet, so nobody can follow her (and she cannot follow).
    const noProfile = await failure(users.follow({ userId: carol }, as.alice));
    expect(noProfile).toMatchObject({
      code: status.FAILED_PRECONDITION,
      reason: "FOLLOWS_FOLLOWEE_ID_FKEY",
      fields: ["user_id"],
    });
    const self = await failure(users.follow({ userId: alice }, as.alice));
    expect(self).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "FOLLOWS_NOT_SELF" });
    const bad = await failure(users.follow({ userId: "bob" }, as.alice));
    expect(bad).toMatchObject({ code: status.INVALID_ARGUMENT, fields: ["user_id"] });
    expect((await users.listFollowing({}, as.alice)).profiles.map((p) => p.handle)).toEqual([
      "bob",
    ]);
    expect((await users.listFollowers({}, as.alice)).profiles.map((p) => p.handle)).toEqual([
      "bob",
    ]);
    const user00 = (await users.getProfileByHandle({ handle: "user_00" })).userId;
    await users.follow({ userId: user00 }, as.alice);
    expect((await users.listFollowing({}, as.alice)).profiles.map((p) => p.handle)).toEqual([
      "bob",
      "user_00",
    ]);
    expect((await users.unfollow({ userId: user00 }, as.alice)).removed).toBe(1n);
    expect((await users.unfollow({ userId: user00 }, as.alice)).removed).toBe(0n);
  });
});

describe("data service", () => {
  let recordId = 0n;

  test("CreateRecord: the caller owns it; validation lists every field", async () => {
    const r = await data.createRecord(
      {
        title: "Plan",
        body: { steps: ["a", "b"], done: false, n: 2 },
        tags: ["work"],
        visibility: RecordVisibility.PRIVATE,
      },
      as.alice,
    );
    expect(r).toMatchObject({
      ownerId: alice,
      title: "Plan",
      body: { steps: ["a", "b"], done: false, n: 2 },
      tags: ["work"],
      visibility: RecordVisibility.PRIVATE,
      version: 1,
      canWrite: true,
    });
    recordId = r.id;
    const f = await failure(
      data.createRecord({ title: "", visibility: RecordVisibility.UNSPECIFIED }, as.alice),
    );
    expect(f).toMatchObject({
      code: status.INVALID_ARGUMENT,
      fields: ["body", "title", "visibility"],
    });
    expect((await failure(data.createRecord({ title: "x" }))).code).toBe(status.UNAUTHENTICATED);
  });

  test("another user's private record is NOT_FOUND, for reads and writes", async () => {
    expect((await failure(data.getRecord({ id: recordId }, as.bob))).code).toBe(status.NOT_FOUND);
    const update = {
      id: recordId,
      version: 1,
      title: "Mine",
      body: {},
      visibility: RecordVisibility.PRIVATE,
    };
    expect((await failure(data.updateRecord(update, as.bob))).code).toBe(status.NOT_FOUND);
    expect((await failure(data.deleteRecord({ id: recordId }, as.bob))).code).toBe(
      status.NOT_FOUND,
    );
    expect((await failure(data.shareRecord({ recordId, userId: carol }, as.bob))).code).toBe(
      status.NOT_FOUND,
    );
    expect((await failure(data.getRecord({ id: 999_999n }, as.alice))).code).toBe(status.NOT_FOUND);
  });

  test("ShareRecord: the sharee reads but cannot write (PERMISSION_DENIED); sharing twice is ALREADY_EXISTS", async () => {
    const self = await failure(data.shareRecord({ recordId, userId: alice }, as.alice));
    expect(self).toMatchObject({ code: status.INVALID_ARGUMENT, fields: ["user_id"] });
    await data.shareRecord({ recordId, userId: bob }, as.alice);
    const again = await failure(data.shareRecord({ recordId, userId: bob }, as.alice));
    expect(again.code).toBe(status.ALREADY_EXISTS);
    const seen = await data.getRecord({ id: recordId }, as.bob);
    expect(seen).toMatchObject({ id: recordId, ownerId: alice, canWrite: false });
    expect((await data.listSharedWithMe({}, as.bob)).records.map((r) => r.id)).toEqual([recordId]);
    const update = {
      id: recordId,
      version: 1,
      title: "Bob's now",
      body: {},
      visibility: RecordVisibility.PRIVATE,
    };
    const denied = await failure(data.updateRecord(update, as.bob));
    expect(denied).toMatchObject({ code: status.PERMISSION_DENIED, reason: "RECORD_NOT_OWNED" });
    expect((await failure(data.deleteRecord({ id: recordId }, as.bob))).code).toBe(
      status.PERMISSION_DENIED,
    );
    expect((await failure(data.shareRecord({ recordId, userId: carol }, as.bob))).code).toBe(
      status.PERMISSION_DENIED,
    );
    // Unshare: Bob loses access; a second unshare removes nothing.
    expect((await data.unshareRecord({ recordId, userId: bob }, as.alice)).removed).toBe(1n);
    expect((await data.unshareRecord({ recordId, userId: bob }, as.alice)).removed).toBe(0n);
    expect((await failure(data.getRecord({ id: recordId }, as.bob))).code).toBe(status.NOT_FOUND);
    expect((await data.listSharedWithMe({}, as.bob)).records).toEqual([]);
  });

  test("UpdateRecord is optimistic: a stale version is ABORTED with the reason and the current version", async () => {
    const req = {
      id: recordId,
      version: 1,
      title: "Plan v2",
      body: { done: true },
      tags: ["work", "q3"],
      visibility: RecordVisibility.PUBLIC,
    };
    const v2 = await data.updateRecord(req, as.alice);
    expect(v2).toMatchObject({ id: recordId, version: 2, title: "Plan v2", tags: ["work", "q3"] });
    const stale = await failure(data.updateRecord({ ...req, title: "lost update" }, as.alice));
    expect(stale).toMatchObject({
      code: status.ABORTED,
      reason: "RECORD_VERSION_MISMATCH",
      metadata: { currentVersion: "2", requestedVersion: "1" },
    });
    expect((await data.getRecord({ id: recordId }, as.alice)).title).toBe("Plan v2");
    // Public now: Bob reads it, still cannot write it.
    expect((await data.getRecord({ id: recordId }, as.bob)).canWrite).toBe(false);
    expect((await failure(data.updateRecord({ ...req, version: 2 }, as.bob))).code).toBe(
      status.PERMISSION_DENIED,
    );
  });

  test("ListMyRecords pages by keyset through every record once, newest first", async () => {
    const ids = [recordId];
    for (let i = 0; i < 7; i++) {
      const r = await data.createRecord(
        { title: `Note ${i}`, body: { i }, tags: [], visibility: RecordVisibility.PRIVATE },
        as.alice,
      );
      ids.push(r.id);
    }
    const seen: bigint[] = [];
    let pageToken: string | undefined;
    do {
      const page = await data.listMyRecords(
        { pageSize: 3, ...(pageToken === undefined ? {} : { pageToken }) },
        as.alice,
      );
      seen.push(...page.records.map((r) => r.id));
      pageToken = page.nextPageToken;
    } while (pageToken !== undefined);
    expect(seen).toEqual([...ids].reverse());
    expect((await data.listMyRecords({}, as.bob)).records).toEqual([]);
    const bad = await failure(
      data.listMyRecords({ pageToken: "garbage", pageSize: 101 }, as.alice),
    );
    expect(bad).toMatchObject({ code: status.INVALID_ARGUMENT, fields: ["page_size"] });
    const forged = await failure(data.listMyRecords({ pageToken: "garbage" }, as.alice));
    expect(forged).toMatchObject({ code: status.INVALID_ARGUMENT, fields: ["page_token"] });
  });

  test("ExportMyRecords streams every record of the caller in full, oldest first", async () => {
    const exported = await collect(data.exportMyRecords({}, as.alice));
    expect(exported).toHaveLength(8);
    expect(exported.map((r) => r.id)).toEqual(
      [...exported.map((r) => r.id)].sort((a, b) => (a < b ? -1 : 1)),
    );
    expect(exported[1]).toMatchObject({ title: "Note 0", body: { i: 0 }, ownerId: alice });
    expect(await collect(data.exportMyRecords({}, as.bob))).toEqual([]);
    expect((await failure(collect(data.exportMyRecords({})))).code).toBe(status.UNAUTHENTICATED);
  });

  test("ExportMyRecords has backpressure: a paused client leaves the cursor open, nothing is lost", async () => {
    // 400 records of 16 KB (6.4 MB, far beyond the HTTP/2 windows), written straight into the
    // database as a data migration would: only the export is under test here.
    await sql.query(
      `INSERT INTO records (owner_id, title, body)
       SELECT $1, 'bulk ' || i, jsonb_build_object('pad', repeat('x', 16384))
       FROM generate_series(1, 400) AS i`,
      [carol],
    );
    const openCursors = async (): Promise<number> => {
      const r = await sql.query<{ n: string }>(
        `SELECT count(*) AS n FROM pg_stat_activity
         WHERE datname = current_database() AND state = 'idle in transaction'
           AND query LIKE 'FETCH%'`,
      );
      return Number(r.rows[0]?.n ?? 0);
    };
    const stream = data
      .exportMyRecords({}, { ...as.carol, timeoutMs: 30_000 })
      [Symbol.asyncIterator]();
    const first = await stream.next();
    expect(first.done).toBe(false);
    // The client reads nothing more: once the buffers are full the service stops fetching,
    // its cursor stays open in the middle of the result.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await openCursors()).toBe(1);
    let n = 1;
    for (let r = await stream.next(); r.done !== true; r = await stream.next()) n++;
    expect(n).toBe(400);
    await eventually(async () => (await openCursors()) === 0);
  });

  test("RecordStats and DeleteRecord", async () => {
    const stats = await data.recordStats({}, as.alice);
    expect(stats.stats.map((s) => [s.visibility, s.records])).toEqual([
      [RecordVisibility.PRIVATE, 7n],
      [RecordVisibility.PUBLIC, 1n],
    ]);
    await data.deleteRecord({ id: recordId }, as.alice);
    expect((await failure(data.getRecord({ id: recordId }, as.alice))).code).toBe(status.NOT_FOUND);
    expect((await failure(data.deleteRecord({ id: recordId }, as.alice))).code).toBe(
      status.NOT_FOUND,
    );
    expect((await data.recordStats({}, as.alice)).stats.map((s) => s.records)).toEqual([7n]);
  });
});

type UploadMessage = MessageInitShape<typeof UploadFileRequestSchema>;

/** The messages of an upload of `content` named `name`: its metadata, then 64 KiB chunks. */
async function* uploadOf(content: Uint8Array, name: string): AsyncGenerator<UploadMessage> {
  yield {
    part: {
      case: "metadata",
      value: {
        name,
        contentType: "application/octet-stream",
        sizeBytes: BigInt(content.length),
        sha256: createHash("sha256").update(content).digest(),
      },
    },
  };
  for (let i = 0; i < content.length; i += 64 * 1024) {
    yield { part: { case: "chunk", value: content.subarray(i, i + 64 * 1024) } };
  }
}

describe("file service", () => {
  test("a 5 MB upload streamed in and downloaded back across processes, checksum verified", async () => {
    const content = randomBytes(5_000_000);
    const digest = createHash("sha256").update(content).digest();
    const f = await files.uploadFile(uploadOf(content, "five.bin"), as.alice);
    expect(f).toMatchObject({ ownerId: alice, name: "five.bin", sizeBytes: 5_000_000n });
    expect(Buffer.from(f.sha256)).toEqual(digest);
    const parts: Buffer[] = [];
    for await (const m of files.downloadFile({ id: f.id }, as.alice)) {
      if (m.part.case === "chunk") parts.push(Buffer.from(m.part.value));
    }
    const got = Buffer.concat(parts);
    expect(got.length).toBe(content.length);
    expect(createHash("sha256").update(got).digest()).toEqual(digest);
    expect((await files.getFile({ id: f.id }, as.alice)).name).toBe("five.bin");
    expect((await failure(files.getFile({ id: f.id }, as.bob))).code).toBe(
      status.PERMISSION_DENIED,
    );
    expect((await files.listMyFiles({}, as.alice)).files.map((x) => x.id)).toEqual([f.id]);
    expect((await files.getUsage({}, as.alice)).totalBytes).toBe(5_000_000n);
    await files.deleteFile({ id: f.id }, as.alice);
    expect((await failure(files.getFile({ id: f.id }, as.alice))).code).toBe(status.NOT_FOUND);
  });
});

describe("notification service", () => {
  const created: bigint[] = [];

  test("the other services' events became notifications, one per event", async () => {
    // user.signed_up (the auth tests' first sign-ins), record.shared (Alice shared with Bob),
    // file.uploaded (Alice's upload): each through the outbox, the relay and the consumer.
    const titles = async (uid: string): Promise<string[]> =>
      (
        await sql.query<{ title: string }>(
          "SELECT title FROM notifications WHERE user_id = $1 ORDER BY id",
          [uid],
        )
      ).rows.map((r) => r.title);
    await eventually(
      async () => (await titles(alice)).length === 2 && (await titles(bob)).length === 2,
    );
    expect(await titles(alice)).toEqual(["Welcome", "Uploaded five.bin"]);
    expect(await titles(bob)).toEqual(["Welcome", "A record was shared with you"]);
    const events = await sql.query<{ topic: string; n: string }>(
      "SELECT topic, count(*) AS n FROM svcgen_processed_events WHERE group_name = 'example.notifications.v1.NotificationService' AND status = 'done' GROUP BY topic ORDER BY topic",
    );
    // One user.signed_up per account the auth tests created.
    const accounts = Number(
      (await sql.query<{ n: string }>("SELECT count(*) AS n FROM accounts")).rows[0]?.n,
    );
    expect(events.rows.map((r) => [r.topic, Number(r.n)])).toEqual([
      ["file.uploaded", 1],
      ["record.shared", 1],
      ["user.signed_up", accounts],
    ]);
    // The tests below count only the notifications they create.
    await sql.query("DELETE FROM notifications");
  });

  test("a sign-up's notification arrives on an open subscription", async () => {
    const dave = randomUUID();
    as.dave = await (async () => ({
      metadata: await issuer.authorization({
        uid: dave,
        email: "dave@example.com",
        claims: { email_verified: true },
      }),
    }))();
    const controller = new AbortController();
    const stream = reader(notifications.subscribe({}, { ...as.dave, signal: controller.signal }));
    await eventually(async () => (await listeners()) === 1);
    expect((await auth.signIn({}, as.dave)).created).toBe(true);
    // SignIn's transaction -> outbox -> relay -> event log -> consumer -> notification.
    // Delivery is asserted, not its speed (no timed assertions in tests).
    const welcome = await stream.next(10_000);
    expect(welcome).toMatchObject({ kind: NotificationKind.INFO, title: "Welcome" });
    controller.abort();
    expect(await stream.ended).toMatchObject({ code: status.CANCELLED });
    await eventually(async () => (await listeners()) === 0);
    await sql.query("DELETE FROM notifications");
  });

  test("CreateNotification needs the service role", async () => {
    const req = { userId: alice, kind: NotificationKind.INFO, title: "Welcome" };
    expect((await failure(notifications.createNotification(req, as.alice))).code).toBe(
      status.PERMISSION_DENIED,
    );
    const n = await notifications.createNotification(req, as.notifier);
    expect(n).toMatchObject({ kind: NotificationKind.INFO, title: "Welcome" });
    expect(n.body).toBeUndefined();
    created.push(n.id);
    const bad = await failure(
      notifications.createNotification(
        { userId: "x", kind: NotificationKind.UNSPECIFIED, title: "" },
        as.notifier,
      ),
    );
    expect(bad).toMatchObject({
      code: status.INVALID_ARGUMENT,
      fields: ["kind", "title", "user_id"],
    });
  });

  test("Subscribe delivers a new notification live, only to its user", async () => {
    const controller = new AbortController();
    const stream = reader(notifications.subscribe({}, { ...as.alice, signal: controller.signal }));
    // The subscription listens once its LISTEN connection is up.
    await eventually(async () => (await listeners()) === 1);
    await notifications.createNotification(
      { userId: bob, kind: NotificationKind.WARNING, title: "for Bob" },
      as.notifier,
    );
    const n = await notifications.createNotification(
      {
        userId: alice,
        kind: NotificationKind.SHARE,
        title: "Bob shared a record",
        body: "Plan",
        payload: { recordId: "1", by: bob },
      },
      as.notifier,
    );
    created.push(n.id);
    // Live: it arrives while the stream is open (typically within tens of milliseconds; no
    // speed is asserted, the wait is only a bound for a broken feed).
    const got = await stream.next(5000);
    expect(got).toMatchObject({
      id: n.id,
      kind: NotificationKind.SHARE,
      body: "Plan",
      payload: { recordId: "1", by: bob },
    });
    const m = await notifications.createNotification(
      { userId: alice, kind: NotificationKind.MENTION, title: "@alice" },
      as.notifier,
    );
    created.push(m.id);
    expect((await stream.next()).id).toBe(m.id);
    // Client cancel: the stream ends CANCELLED and the service gives its LISTEN connection back.
    controller.abort();
    expect(await stream.ended).toMatchObject({ code: status.CANCELLED });
    await eventually(async () => (await listeners()) === 0);
  });

  test("Subscribe with after_id catches up first, then goes live, never sending one twice", async () => {
    const stream = reader(
      notifications.subscribe({ afterId: created[0] ?? 0n }, { ...as.alice, timeoutMs: 10_000 }),
    );
    const caughtUp: Notification[] = [await stream.next(), await stream.next()];
    expect(caughtUp.map((n) => n.id)).toEqual(created.slice(1));
    const live = await notifications.createNotification(
      { userId: alice, kind: NotificationKind.INFO, title: "live" },
      as.notifier,
    );
    created.push(live.id);
    expect((await stream.next()).id).toBe(live.id);
    await expect(stream.next(300)).rejects.toThrow(/no message/);
  });

  test("a subscription's deadline ends it DEADLINE_EXCEEDED; no token is UNAUTHENTICATED", async () => {
    const stream = reader(notifications.subscribe({}, { ...as.bob, timeoutMs: 300 }));
    expect(await stream.ended).toMatchObject({ code: status.DEADLINE_EXCEEDED });
    expect(await reader(notifications.subscribe({})).ended).toMatchObject({
      code: status.UNAUTHENTICATED,
    });
  });

  test("ListNotifications pages by keyset, newest first; unread_only", async () => {
    const page = await notifications.listNotifications({ pageSize: 2n }, as.alice);
    const newest = [...created].reverse();
    expect(page.notifications.map((n) => n.id)).toEqual(newest.slice(0, 2));
    const rest = await notifications.listNotifications(
      { pageSize: 10n, beforeId: page.notifications[1]?.id ?? 0n },
      as.alice,
    );
    expect(rest.notifications.map((n) => n.id)).toEqual(newest.slice(2));
    const bad = await failure(
      notifications.listNotifications({ pageSize: 0n, beforeId: 0n }, as.alice),
    );
    expect(bad).toMatchObject({
      code: status.INVALID_ARGUMENT,
      fields: ["before_id", "page_size"],
    });
  });

  test("MarkRead, MarkAllRead, CountUnread and StreamNotifications for the caller only", async () => {
    expect((await notifications.countUnread({}, as.alice)).unread).toBe(4n);
    expect((await notifications.markRead({ ids: created.slice(0, 2) }, as.alice)).marked).toBe(2n);
    // Bob cannot mark Alice's notifications: the user comes from his token.
    expect((await notifications.markRead({ ids: created.slice(2) }, as.bob)).marked).toBe(0n);
    expect((await notifications.countUnread({}, as.alice)).unread).toBe(2n);
    const unread = await notifications.listNotifications(
      { pageSize: 10n, unreadOnly: true },
      as.alice,
    );
    expect(unread.notifications.map((n) => n.id)).toEqual(created.slice(2).reverse());
    const streamed = await collect(notifications.streamNotifications({}, as.alice));
    expect(streamed.map((n) => [n.id, n.readAt !== undefined])).toEqual(
      created.map((id, i) => [id, i < 2]),
    );
    expect((await notifications.markAllRead({}, as.alice)).marked).toBe(2n);
    expect((await notifications.countUnread({}, as.alice)).unread).toBe(0n);
    expect((await notifications.countUnread({}, as.bob)).unread).toBe(1n);
    const f = await failure(notifications.markRead({ ids: [] }, as.alice));
    expect(f).toMatchObject({ code: status.INVALID_ARGUMENT, fields: ["ids"] });
  });
});

/** Counts of what `uid` has in the data and file services' tables. */
async function holdings(uid: string): Promise<Record<string, number>> {
  const r = await sql.query<Record<string, string>>(
    `SELECT (SELECT count(*) FROM records WHERE owner_id = $1) AS records,
            (SELECT count(*) FROM record_shares s JOIN records r ON r.id = s.record_id
              WHERE r.owner_id = $1) AS shares_given,
            (SELECT count(*) FROM record_shares WHERE user_id = $1) AS shared_with,
            (SELECT count(*) FROM files WHERE owner_id = $1) AS files,
            (SELECT count(*) FROM file_chunks c JOIN files f ON f.id = c.file_id
              WHERE f.owner_id = $1) AS chunks`,
    [uid],
  );
  return Object.fromEntries(Object.entries(r.rows[0] ?? {}).map(([k, v]) => [k, Number(v)]));
}

/** Every row of the data and file services that is not about `uid`, to compare before and after. */
async function everythingBut(uid: string): Promise<unknown[]> {
  const r = await sql.query(
    `SELECT json_build_object(
       'records', (SELECT json_agg(r ORDER BY id) FROM records r WHERE owner_id <> $1),
       'shares', (SELECT json_agg(s ORDER BY record_id, user_id) FROM record_shares s
                   WHERE user_id <> $1
                     AND record_id IN (SELECT id FROM records WHERE owner_id <> $1)),
       'files', (SELECT json_agg(f ORDER BY id) FROM files f WHERE owner_id <> $1),
       'chunks', (SELECT json_agg(json_build_object('file', c.file_id, 'seq', c.seq,
                    'md5', md5(c.data)) ORDER BY c.file_id, c.seq)
                  FROM file_chunks c JOIN files f ON f.id = c.file_id WHERE f.owner_id <> $1)
     ) AS rows`,
    [uid],
  );
  return r.rows;
}

describe("account deletion and shutdown", () => {
  test("DeleteMyAccount deletes the caller's profile and their follows; a second time is NOT_FOUND", async () => {
    // What user.deleted must remove below: Bob's records (one shared with Alice, one public),
    // a share Alice gave him, and a file (its content in PostgreSQL chunks); Alice's record
    // shared with Carol and Alice's file stay.
    const bobs = await data.createRecord(
      { title: "Bob's", body: {}, visibility: RecordVisibility.PRIVATE },
      as.bob,
    );
    await data.createRecord(
      { title: "Bob's public", body: {}, visibility: RecordVisibility.PUBLIC },
      as.bob,
    );
    await data.shareRecord({ recordId: bobs.id, userId: alice }, as.bob);
    const alices = await data.createRecord(
      { title: "Alice's", body: {}, visibility: RecordVisibility.PRIVATE },
      as.alice,
    );
    await data.shareRecord({ recordId: alices.id, userId: bob }, as.alice);
    await data.shareRecord({ recordId: alices.id, userId: carol }, as.alice);
    const bobFile = await files.uploadFile(uploadOf(randomBytes(600_000), "bob.bin"), as.bob);
    const aliceFile = await files.uploadFile(uploadOf(randomBytes(1000), "alice.bin"), as.alice);
    expect(await holdings(bob)).toEqual({
      records: 2,
      shares_given: 1,
      shared_with: 1,
      files: 1,
      chunks: 3,
    });
    const untouched = await everythingBut(bob);

    expect((await users.listFollowers({}, as.alice)).profiles).toHaveLength(1);
    expect((await users.deleteMyAccount({}, as.bob)).userId).toBe(bob);
    // The cascade removed Bob's follows in both directions.
    expect((await users.listFollowers({}, as.alice)).profiles).toEqual([]);
    expect((await users.listFollowing({}, as.alice)).profiles).toEqual([]);
    expect((await failure(users.getMyProfile({}, as.bob))).code).toBe(status.NOT_FOUND);
    expect((await failure(users.getProfileByHandle({ handle: "bob" }))).code).toBe(
      status.NOT_FOUND,
    );
    expect((await failure(users.deleteMyAccount({}, as.bob))).code).toBe(status.NOT_FOUND);
    // user.deleted: the notification service removes Bob's notifications, the data service
    // his records and the shares in both directions, the file service his files and their
    // content; each consumer group once, nobody else's rows changed.
    await eventually(
      async () =>
        (await sql.query("SELECT 1 FROM notifications WHERE user_id = $1", [bob])).rowCount === 0,
    );
    const nothing = { records: 0, shares_given: 0, shared_with: 0, files: 0, chunks: 0 };
    await eventually(
      async () => JSON.stringify(await holdings(bob)) === JSON.stringify(nothing),
      20_000,
    );
    const chunks = await sql.query("SELECT 1 FROM file_chunks WHERE file_id = $1", [bobFile.id]);
    expect(chunks.rowCount).toBe(0);
    expect(await everythingBut(bob)).toEqual(untouched);
    expect((await files.getFile({ id: aliceFile.id }, as.alice)).name).toBe("alice.bin");
    expect((await data.listSharedWithMe({}, as.carol)).records.map((r) => r.id)).toEqual([
      alices.id,
    ]);
    const handled = await sql.query<{ group_name: string; n: string }>(
      `SELECT group_name, count(*) AS n FROM svcgen_processed_events
        WHERE topic = 'user.deleted' AND status = 'done' GROUP BY group_name ORDER BY group_name`,
    );
    expect(handled.rows.map((r) => [r.group_name, Number(r.n)])).toEqual([
      ["example.data.v1.DataService", 1],
      ["example.file.v1.FileService", 1],
      ["example.notifications.v1.NotificationService", 1],
    ]);
    // The handle is free again.
    await users.createProfile({ handle: "bob", displayName: "Carol", locale: "en" }, as.carol);
  });

  test("no service logged an unexpected error", () => {
    const unexpected = [...output.entries()].flatMap(([service, lines]) =>
      lines.filter((l) => l.includes("unexpected error")).map((l) => `${service}: ${l}`),
    );
    expect(unexpected).toEqual([]);
  });

  test("SIGTERM: an open subscription ends as draining starts, and the service exits 0 without waiting out its grace period", async () => {
    const stream = reader(notifications.subscribe({}, as.alice));
    await eventually(async () => (await listeners()) === 1);
    const n = await notifications.createNotification(
      { userId: alice, kind: NotificationKind.INFO, title: "before the shutdown" },
      as.notifier,
    );
    expect((await stream.next()).id).toBe(n.id);
    const service = running.services["notification-service"];
    const order: string[] = [];
    const ended = stream.ended.then((end) => {
      order.push("stream ended");
      return end;
    });
    const code = await service.stop().then((c) => {
      order.push("process exited");
      return c;
    });
    expect(code).toBe(0);
    // The server ended the stream itself, telling the client to resume elsewhere after the
    // last notification it received (not a connection dropped by the exit).
    expect(await ended).toMatchObject({
      code: status.UNAVAILABLE,
      reason: "SERVER_DRAINING",
      metadata: { resume_after_id: String(n.id) },
    });
    expect(order).toEqual(["stream ended", "process exited"]);
    // Every call drained before the grace period (3 s) was over: nothing was cancelled.
    const lines = output.get("notification-service") ?? [];
    expect(lines.some((l) => l.includes('"msg":"stopped"') && l.includes('"graceful":true'))).toBe(
      true,
    );
    expect(lines.filter((l) => l.includes("grace period over"))).toEqual([]);
    await eventually(async () => (await listeners()) === 0);
  });
});
