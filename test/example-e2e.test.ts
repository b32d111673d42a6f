/**
 * The example project end to end: its five generated services (auth, user, data, file,
 * notifications), served by their generated handler skeletons over loopback, one gRPC server
 * each, against a real PostgreSQL database with the example migrations applied, and called
 * through their generated clients.
 *
 * Auth: the runtime has no Firebase verification yet, so the servers get an `authenticate`
 * hook that verifies HS256-signed JWTs (real signatures with a test key) and turns their
 * claims into the principal: `sub` is the caller's account id (auth.uid), `roles` its roles.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { anyUnpack, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Metadata, Server, ServerCredentials, type ServiceError, status } from "@grpc/grpc-js";
import {
  BadRequestSchema,
  type Principal,
  RpcError,
  type ServerHandlerOptions,
  StatusSchema,
} from "@svcgen/runtime/grpc";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { upsertAccountOnSignIn } from "../example-project/gen/db/auth/accounts.js";
import {
  type AuthServiceClient,
  addAuthService,
  createAuthServiceClient,
} from "../example-project/gen/grpc/auth-service.js";
import {
  addDataService,
  createDataServiceClient,
  type DataServiceClient,
} from "../example-project/gen/grpc/data-service.js";
import {
  addFileService,
  createFileServiceClient,
  type FileServiceClient,
} from "../example-project/gen/grpc/file-service.js";
import {
  addNotificationService,
  createNotificationServiceClient,
  type NotificationServiceClient,
} from "../example-project/gen/grpc/notification-service.js";
import {
  addUserService,
  createUserServiceClient,
  type UserServiceClient,
} from "../example-project/gen/grpc/user-service.js";
import { RecordVisibility } from "../example-project/gen/proto/example/data/v1/data_pb.js";
import { NotificationKind } from "../example-project/gen/proto/example/notifications/v1/notifications_pb.js";
import { AuthServiceImpl } from "../example-project/src/auth-service/handlers.js";
import { DataServiceImpl } from "../example-project/src/data-service/handlers.js";
import { FileServiceImpl } from "../example-project/src/file-service/handlers.js";
import { NotificationServiceImpl } from "../example-project/src/notification-service/handlers.js";
import { UserServiceImpl } from "../example-project/src/user-service/handlers.js";
import { createTestDatabase, type TestDatabase } from "./db.js";

const exampleDir = join(import.meta.dirname, "..", "example-project");
/** The migration files in svcgen.yaml's order: service folders in turn, files sorted by name. */
async function migrationSql(): Promise<string> {
  const parts: string[] = [];
  for (const service of ["auth", "user", "data", "file", "notifications"]) {
    const dir = join(exampleDir, "migrations", service);
    for (const f of (await readdir(dir)).filter((n) => n.endsWith(".sql")).sort()) {
      parts.push(await readFile(join(dir, f), "utf8"));
    }
  }
  return parts.join("\n");
}

// --- Tokens: HS256 JWTs signed and verified with a test key. ---

const signingKey = Buffer.from("example-e2e-test-signing-key-0123456789");

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString("base64url");
}

interface Claims {
  readonly sub: string;
  readonly email?: string;
  readonly roles?: readonly string[];
  /** Expiry, epoch seconds. */
  readonly exp: number;
}

function signToken(claims: Claims, key: Buffer = signingKey): string {
  const head = base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const body = base64url(JSON.stringify(claims));
  const sig = createHmac("sha256", key).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}

function isClaims(v: unknown): v is Claims & Record<string, unknown> {
  if (typeof v !== "object" || v === null) return false;
  const o = v as Record<string, unknown>;
  return (
    typeof o.sub === "string" &&
    typeof o.exp === "number" &&
    (o.roles === undefined ||
      (Array.isArray(o.roles) && o.roles.every((r) => typeof r === "string")))
  );
}

/** The `authenticate` hook: no header is anonymous; a bad or expired token is UNAUTHENTICATED. */
async function authenticate(metadata: Metadata): Promise<Principal | undefined> {
  const header = metadata.get("authorization")[0];
  if (header === undefined) return undefined;
  const m =
    typeof header === "string" ? /^Bearer ([\w-]+)\.([\w-]+)\.([\w-]+)$/.exec(header) : null;
  if (m === null) throw new RpcError(status.UNAUTHENTICATED, "Malformed authorization header");
  const [, head = "", body = "", sig = ""] = m;
  const want = createHmac("sha256", signingKey).update(`${head}.${body}`).digest();
  const got = Buffer.from(sig, "base64url");
  if (got.length !== want.length || !timingSafeEqual(got, want)) {
    throw new RpcError(status.UNAUTHENTICATED, "Invalid token signature");
  }
  const claims: unknown = JSON.parse(Buffer.from(body, "base64url").toString("utf8"));
  if (!isClaims(claims)) throw new RpcError(status.UNAUTHENTICATED, "Malformed token claims");
  if (claims.exp * 1000 <= Date.now()) throw new RpcError(status.UNAUTHENTICATED, "Token expired");
  return {
    uid: claims.sub,
    ...(claims.email === undefined ? {} : { email: claims.email }),
    roles: claims.roles ?? [],
    claims,
  };
}

// --- Servers and clients. ---

let db: TestDatabase;
let pool: pg.Pool;
const servers: Server[] = [];
let auth: AuthServiceClient;
let users: UserServiceClient;
let data: DataServiceClient;
let files: FileServiceClient;
let notifications: NotificationServiceClient;
/** Errors the runtime turned into INTERNAL (passed to onUnexpectedError). */
const unexpected: unknown[] = [];

/** Account ids of the callers, created as SignIn would (UpsertAccountOnSignIn). */
let alice: string;
let bob: string;
let admin: string;
/** A principal of another service, allowed to send notifications. */
const notifier = "00000000-0000-4000-8000-00000000000a";

function bearer(sub: string, roles: readonly string[] = []): { authorization: string } {
  const exp = Math.floor(Date.now() / 1000) + 3600;
  return { authorization: `Bearer ${signToken({ sub, roles, exp })}` };
}

/** Call options of a signed-in caller. */
function as(sub: string, roles: readonly string[] = []): { metadata: { authorization: string } } {
  return { metadata: bearer(sub, roles) };
}

async function serve(
  add: (server: Server, options: ServerHandlerOptions) => void,
): Promise<string> {
  const server = new Server();
  add(server, { authenticate, onUnexpectedError: (e) => unexpected.push(e) });
  servers.push(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) =>
      e === null ? resolve(p) : reject(e),
    ),
  );
  return `127.0.0.1:${port}`;
}

beforeAll(async () => {
  db = await createTestDatabase("example_e2e", await migrationSql());
  pool = new pg.Pool({ connectionString: db.url, max: 8 });
  auth = createAuthServiceClient(
    await serve((s, o) => addAuthService(s, new AuthServiceImpl(pool), o)),
  );
  users = createUserServiceClient(
    await serve((s, o) => addUserService(s, new UserServiceImpl(pool), o)),
  );
  data = createDataServiceClient(
    await serve((s, o) => addDataService(s, new DataServiceImpl(pool), o)),
  );
  files = createFileServiceClient(
    await serve((s, o) => addFileService(s, new FileServiceImpl(pool), o)),
  );
  notifications = createNotificationServiceClient(
    await serve((s, o) =>
      addNotificationService(s, new NotificationServiceImpl(pool, { streamBatchSize: 2 }), o),
    ),
  );
  const account = async (firebaseUid: string, email: string): Promise<string> => {
    const row = await upsertAccountOnSignIn(pool, { firebaseUid, email, emailVerified: true });
    if (row === null) throw new Error("no account row");
    return row.id;
  };
  alice = await account("firebase-alice", "alice@example.com");
  bob = await account("firebase-bob", "bob@example.com");
  admin = await account("firebase-admin", "admin@example.com");
});

afterAll(async () => {
  for (const c of [auth, users, data, files, notifications]) c?.close();
  for (const s of servers) s.forceShutdown();
  await pool?.end();
  await db?.drop();
});

// --- Helpers. ---

/** The failure of a call: its status code, details and BadRequest field violations. */
interface Failure {
  readonly code: status;
  readonly details: string;
  readonly fields: readonly string[];
}

function failureOf(e: unknown): Failure {
  const err = e as ServiceError;
  const raw = err.metadata?.get("grpc-status-details-bin")[0];
  const fields =
    raw instanceof Buffer
      ? fromBinary(StatusSchema, raw).details.flatMap((d) => {
          const br = anyUnpack(d, BadRequestSchema);
          return br === undefined ? [] : br.fieldViolations.map((v) => v.field);
        })
      : [];
  return { code: err.code, details: err.details, fields: [...fields].sort() };
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

/** Reads a server stream to the end. */
async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const m of stream) out.push(m);
  return out;
}

const inAnHour = (): Date => new Date(Date.now() + 3_600_000);

// --- The services. ---

describe("auth service", () => {
  test("SignIn is an unbound stub: UNIMPLEMENTED, also for an anonymous caller (public)", async () => {
    const f = await failure(auth.signIn({ idToken: "x" }));
    expect(f.code).toBe(status.UNIMPLEMENTED);
  });

  test("sessions: create from auth.uid, list, revoke once", async () => {
    const s = await auth.createSession(
      { userAgent: "vitest", expiresAt: timestampFromDate(inAnHour()) },
      as(alice),
    );
    expect(s.accountId).toBe(alice);
    expect(s.expiresAt?.seconds).toBeGreaterThan(BigInt(Math.floor(Date.now() / 1000)));
    const listed = await auth.listSessions({}, as(alice));
    expect(listed.sessions.map((x) => [x.id, x.userAgent])).toEqual([[s.id, "vitest"]]);
    expect((await auth.listSessions({}, as(bob))).sessions).toEqual([]);
    // Bob cannot revoke Alice's session: the account id comes from his token.
    expect((await auth.revokeSession({ id: s.id }, as(bob))).revoked).toBe(0n);
    expect((await auth.revokeSession({ id: s.id }, as(alice))).revoked).toBe(1n);
    expect((await auth.revokeSession({ id: s.id }, as(alice))).revoked).toBe(0n);
    expect((await auth.listSessions({}, as(alice))).sessions).toEqual([]);
  });

  test("authenticated rule: no token, a forged token and an expired token are UNAUTHENTICATED", async () => {
    const req = { expiresAt: timestampFromDate(inAnHour()) };
    expect((await failure(auth.createSession(req))).code).toBe(status.UNAUTHENTICATED);
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const forged = signToken({ sub: alice, exp }, Buffer.from("not-the-key"));
    const f = await failure(
      auth.createSession(req, { metadata: { authorization: `Bearer ${forged}` } }),
    );
    expect(f).toMatchObject({ code: status.UNAUTHENTICATED, details: "Invalid token signature" });
    const expired = signToken({ sub: alice, exp: Math.floor(Date.now() / 1000) - 60 });
    const g = await failure(
      auth.createSession(req, { metadata: { authorization: `Bearer ${expired}` } }),
    );
    expect(g).toMatchObject({ code: status.UNAUTHENTICATED, details: "Token expired" });
  });

  test("buf.validate: a missing or past expiry and a too long user agent", async () => {
    const f = await failure(auth.createSession({ userAgent: "x".repeat(513) }, as(alice)));
    expect(f.code).toBe(status.INVALID_ARGUMENT);
    expect(f.fields).toEqual(["expires_at", "user_agent"]);
    const g = await failure(
      auth.createSession({ expiresAt: timestampFromDate(new Date(Date.now() - 1000)) }, as(alice)),
    );
    expect(g).toMatchObject({ code: status.INVALID_ARGUMENT, fields: ["expires_at"] });
  });

  test("role rule: GetAccount and SetAccountRoles need admin; unknown uid is NOT_FOUND", async () => {
    const denied = await failure(auth.getAccount({ firebaseUid: "firebase-bob" }, as(alice)));
    expect(denied.code).toBe(status.PERMISSION_DENIED);
    await auth.setAccountRoles({ id: bob, roles: ["editor", "beta"] }, as(admin, ["admin"]));
    const got = await auth.getAccount({ firebaseUid: "firebase-bob" }, as(admin, ["admin"]));
    expect(got).toMatchObject({
      id: bob,
      firebaseUid: "firebase-bob",
      email: "bob@example.com",
      emailVerified: true,
      roles: ["editor", "beta"],
    });
    expect(got.lastSignInAt).toBeDefined();
    const missing = await failure(auth.getAccount({ firebaseUid: "nobody" }, as(admin, ["admin"])));
    expect(missing.code).toBe(status.NOT_FOUND);
    const dup = await failure(
      auth.setAccountRoles({ id: bob, roles: ["a", "a"] }, as(admin, ["admin"])),
    );
    expect(dup).toMatchObject({ code: status.INVALID_ARGUMENT, fields: ["roles"] });
  });
});

describe("user service", () => {
  test("CreateProfile keys the profile by auth.uid; optional columns come back unset", async () => {
    const p = await users.createProfile(
      { handle: "alice", displayName: "Alice", locale: "en-GB" },
      as(alice),
    );
    expect(p).toMatchObject({
      userId: alice,
      handle: "alice",
      displayName: "Alice",
      locale: "en-GB",
    });
    expect(p.bio).toBeUndefined();
    expect(p.timezone).toBeUndefined();
    expect(p.avatarFileId).toBeUndefined();
    expect((await users.getMyProfile({}, as(alice))).handle).toBe("alice");
  });

  test("GetProfileByHandle is public; GetProfile is not", async () => {
    expect((await users.getProfileByHandle({ handle: "alice" })).userId).toBe(alice);
    expect((await failure(users.getProfile({ userId: alice }))).code).toBe(status.UNAUTHENTICATED);
    expect((await users.getProfile({ userId: alice }, as(bob))).displayName).toBe("Alice");
  });

  test("NOT_FOUND for a profile that does not exist", async () => {
    const f = await failure(users.getProfile({ userId: notifier }, as(alice)));
    expect(f.code).toBe(status.NOT_FOUND);
    expect((await failure(users.getProfileByHandle({ handle: "nobody" }))).code).toBe(
      status.NOT_FOUND,
    );
  });

  test("INVALID_ARGUMENT lists every violated field", async () => {
    const f = await failure(
      users.createProfile({ handle: "No Caps!", displayName: "", locale: "e" }, as(bob)),
    );
    expect(f.code).toBe(status.INVALID_ARGUMENT);
    expect(f.fields).toEqual(["display_name", "handle", "locale"]);
    const g = await failure(users.getProfile({ userId: "not-a-uuid" }, as(bob)));
    expect(g).toMatchObject({ code: status.INVALID_ARGUMENT, fields: ["user_id"] });
  });

  test("a duplicate handle (unique violation 23505) is ALREADY_EXISTS naming the field, without SQL detail", async () => {
    const before = unexpected.length;
    const f = await failure(
      users.createProfile({ handle: "alice", displayName: "Bob", locale: "en" }, as(bob)),
    );
    expect(f).toMatchObject({
      code: status.ALREADY_EXISTS,
      details: "Already exists",
      fields: ["handle"],
    });
    // Expected failures are not "unexpected": nothing reaches onUnexpectedError.
    expect(unexpected.length).toBe(before);
  });

  test("a principal uid that is not a uuid (a raw Firebase uid) is INVALID_ARGUMENT (22P02)", async () => {
    // auth.uid feeds uuid parameters; Postgres rejects the text (invalid_text_representation).
    const f = await failure(users.getMyProfile({}, as("Xq3pZ9firebaseUid0000000000a")));
    expect(f).toMatchObject({ code: status.INVALID_ARGUMENT });
    expect(f.details).not.toContain("uuid");
  });

  test("UpdateProfile changes only the fields that are set; SetAvatar; ListProfiles", async () => {
    await users.createProfile({ handle: "bob_b", displayName: "Bob", locale: "en" }, as(bob));
    const u = await users.updateProfile({ bio: "Hi", timezone: "Europe/Oslo" }, as(bob));
    expect(u).toMatchObject({ displayName: "Bob", bio: "Hi", timezone: "Europe/Oslo" });
    expect(u.updatedAt?.seconds).toBeGreaterThanOrEqual(u.createdAt?.seconds ?? 0n);
    const avatar = "11111111-1111-4111-8111-111111111111";
    expect((await users.setAvatar({ avatarFileId: avatar }, as(bob))).updated).toBe(1n);
    expect((await users.getMyProfile({}, as(bob))).avatarFileId).toBe(avatar);
    expect((await users.setAvatar({}, as(bob))).updated).toBe(1n);
    expect((await users.getMyProfile({}, as(bob))).avatarFileId).toBeUndefined();
    expect((await users.setAvatar({}, as(admin))).updated).toBe(0n);
    const list = await users.listProfiles({ userIds: [bob, alice, admin] }, as(alice));
    expect(list.profiles.map((p) => p.handle)).toEqual(["alice", "bob_b"]);
  });
});

describe("data service", () => {
  let recordId = 0n;

  test("CreateRecord: owner from auth.uid, Struct body, enum by label, int64 id", async () => {
    const r = await data.createRecord(
      {
        title: "Plan",
        body: { steps: ["a", "b"], done: false, n: 2 },
        tags: ["work"],
        visibility: RecordVisibility.PRIVATE,
      },
      as(alice),
    );
    expect(typeof r.id).toBe("bigint");
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
  });

  test("ownership: another user's private record is NOT_FOUND until shared", async () => {
    expect((await failure(data.getRecord({ id: recordId }, as(bob)))).code).toBe(status.NOT_FOUND);
    // Only the owner can share: for Bob the owner check matches no row.
    const req = { recordId, userId: bob, canWrite: false };
    expect((await data.shareRecord(req, as(bob))).shared).toBe(0n);
    expect((await data.shareRecord(req, as(alice))).shared).toBe(1n);
    const seen = await data.getRecord({ id: recordId }, as(bob));
    expect(seen).toMatchObject({ id: recordId, ownerId: alice, canWrite: false });
    expect((await data.getRecord({ id: recordId }, as(alice))).canWrite).toBe(true);
  });

  test("UpdateRecord is optimistic: a stale version is NOT_FOUND", async () => {
    const req = { id: recordId, version: 1, title: "Plan v2", body: {}, tags: [] };
    const v = await data.updateRecord(req, as(alice));
    expect(v).toMatchObject({ id: recordId, version: 2 });
    expect((await failure(data.updateRecord(req, as(alice)))).code).toBe(status.NOT_FOUND);
    expect((await failure(data.updateRecord({ ...req, version: 2 }, as(bob)))).code).toBe(
      status.NOT_FOUND,
    );
  });

  test("buf.validate: page bounds, enum not unspecified, title length, required body", async () => {
    const f = await failure(data.listMyRecords({ pageSize: 0n, pageOffset: -1n }, as(alice)));
    expect(f).toMatchObject({
      code: status.INVALID_ARGUMENT,
      fields: ["page_offset", "page_size"],
    });
    const g = await failure(
      data.createRecord({ title: "", visibility: RecordVisibility.UNSPECIFIED }, as(alice)),
    );
    expect(g).toMatchObject({
      code: status.INVALID_ARGUMENT,
      fields: ["body", "title", "visibility"],
    });
  });

  test("ListMyRecords pages the caller's records; RecordStats; DeleteRecord", async () => {
    await data.createRecord(
      { title: "Open", body: {}, tags: [], visibility: RecordVisibility.PUBLIC },
      as(alice),
    );
    const page1 = await data.listMyRecords({ pageSize: 1n, pageOffset: 0n }, as(alice));
    const page2 = await data.listMyRecords({ pageSize: 1n, pageOffset: 1n }, as(alice));
    expect([...page1.records, ...page2.records].map((r) => r.title).sort()).toEqual([
      "Open",
      "Plan v2",
    ]);
    expect((await data.listMyRecords({ pageSize: 10n, pageOffset: 0n }, as(bob))).records).toEqual(
      [],
    );
    const stats = await data.recordStats({}, as(alice));
    expect(stats.stats.map((s) => [s.visibility, s.records])).toEqual([
      [RecordVisibility.PRIVATE, 1n],
      [RecordVisibility.PUBLIC, 1n],
    ]);
    expect((await data.deleteRecord({ id: recordId }, as(bob))).deleted).toBe(0n);
    expect((await data.deleteRecord({ id: recordId }, as(alice))).deleted).toBe(1n);
    expect((await failure(data.getRecord({ id: recordId }, as(alice)))).code).toBe(
      status.NOT_FOUND,
    );
  });
});

describe("file service", () => {
  // Every path of the file service (limits, checksums, cancels, both storages) is in
  // example-file-service.test.ts; here, one round trip among the other services.
  test("UploadFile streams a file in, DownloadFile streams it back, DeleteFile removes it", async () => {
    const content = Buffer.from("hello, files\n".repeat(1000));
    async function* upload() {
      yield {
        part: {
          case: "metadata" as const,
          value: {
            name: "hello.txt",
            contentType: "text/plain",
            sizeBytes: BigInt(content.length),
            sha256: createHash("sha256").update(content).digest(),
          },
        },
      };
      yield { part: { case: "chunk" as const, value: content } };
    }
    const f = await files.uploadFile(upload(), as(alice));
    expect(f).toMatchObject({
      ownerId: alice,
      name: "hello.txt",
      sizeBytes: BigInt(content.length),
    });
    const parts: Buffer[] = [];
    for await (const m of files.downloadFile({ id: f.id }, as(alice))) {
      if (m.part.case === "chunk") parts.push(Buffer.from(m.part.value));
    }
    expect(Buffer.concat(parts).equals(content)).toBe(true);
    expect((await failure(files.getFile({ id: f.id }, as(bob)))).code).toBe(
      status.PERMISSION_DENIED,
    );
    expect((await files.adminGetFile({ id: f.id }, as(admin, ["admin"]))).ownerId).toBe(alice);
    expect((await files.listMyFiles({}, as(alice))).files.map((x) => x.id)).toEqual([f.id]);
    await files.deleteFile({ id: f.id }, as(alice));
    expect((await failure(files.getFile({ id: f.id }, as(alice)))).code).toBe(status.NOT_FOUND);
  });
});

describe("notification service", () => {
  const ids: bigint[] = [];

  test("CreateNotification needs the service role; nullable body and payload", async () => {
    const req = { userId: alice, kind: NotificationKind.INFO, title: "Welcome" };
    expect((await failure(notifications.createNotification(req, as(alice)))).code).toBe(
      status.PERMISSION_DENIED,
    );
    const svc = as(notifier, ["service"]);
    const a = await notifications.createNotification(req, svc);
    expect(a).toMatchObject({ kind: NotificationKind.INFO, title: "Welcome" });
    expect(a.body).toBeUndefined();
    expect(a.payload).toBeUndefined();
    expect(a.readAt).toBeUndefined();
    const b = await notifications.createNotification(
      {
        userId: alice,
        kind: NotificationKind.SHARE,
        title: "Bob shared a record",
        body: "Plan",
        payload: { recordId: "1", by: bob },
      },
      svc,
    );
    expect(b).toMatchObject({ body: "Plan", payload: { recordId: "1", by: bob } });
    const c = await notifications.createNotification(
      { userId: alice, kind: NotificationKind.MENTION, title: "@alice" },
      svc,
    );
    await notifications.createNotification(
      { userId: bob, kind: NotificationKind.WARNING, title: "Quota" },
      svc,
    );
    ids.push(a.id, b.id, c.id);
  });

  test("StreamNotifications streams the caller's notifications in id order", async () => {
    const got = await collect(notifications.streamNotifications({}, as(alice)));
    expect(got.map((n) => n.id)).toEqual(ids);
    expect(got.map((n) => n.kind)).toEqual([
      NotificationKind.INFO,
      NotificationKind.SHARE,
      NotificationKind.MENTION,
    ]);
    expect(got[1]?.payload).toEqual({ recordId: "1", by: bob });
    expect(
      (await collect(notifications.streamNotifications({}, as(bob)))).map((n) => n.title),
    ).toEqual(["Quota"]);
    expect(await collect(notifications.streamNotifications({}, as(admin)))).toEqual([]);
  });

  test("a stream without a token fails UNAUTHENTICATED", async () => {
    const f = await failure(collect(notifications.streamNotifications({})));
    expect(f.code).toBe(status.UNAUTHENTICATED);
  });

  test("ListNotifications pages by keyset, newest first", async () => {
    const page = await notifications.listNotifications(
      { beforeId: 9_000_000_000_000_000_000n, pageSize: 2n },
      as(alice),
    );
    expect(page.notifications.map((n) => n.id)).toEqual([ids[2], ids[1]]);
    const rest = await notifications.listNotifications(
      { beforeId: ids[1] ?? 0n, pageSize: 2n },
      as(alice),
    );
    expect(rest.notifications.map((n) => n.id)).toEqual([ids[0]]);
  });

  test("MarkRead and CountUnread", async () => {
    expect((await notifications.countUnread({}, as(alice))).unread).toBe(3n);
    const marked = await notifications.markRead({ ids: [ids[0] ?? 0n, ids[1] ?? 0n] }, as(alice));
    expect(marked.marked).toBe(2n);
    // Bob cannot mark Alice's notifications: the user id comes from his token.
    expect((await notifications.markRead({ ids: [ids[2] ?? 0n] }, as(bob))).marked).toBe(0n);
    expect((await notifications.countUnread({}, as(alice))).unread).toBe(1n);
    const streamed = await collect(notifications.streamNotifications({}, as(alice)));
    expect(streamed.map((n) => n.readAt !== undefined)).toEqual([true, true, false]);
    const f = await failure(notifications.markRead({ ids: [] }, as(alice)));
    expect(f).toMatchObject({ code: status.INVALID_ARGUMENT, fields: ["ids"] });
  });
});

test("no call failed with an unexpected error besides the asserted unique violations", () => {
  expect(unexpected).toEqual([]);
});
