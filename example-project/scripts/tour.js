// The scripted client `npm run example` runs once the five services listen: a short tour of
// what they do, through their generated clients, with development tokens the services verify
// like any production token. The tour is the list `steps` below: one entry per thing to show,
// each a title and an async function; add a step by adding an entry.
import { createHash } from "node:crypto";
import pg from "pg";
import { upsertAccountOnSignIn } from "../dist/gen/db/auth/accounts.js";
import { createAuthServiceClient } from "../dist/gen/grpc/auth-service.js";
import { createDataServiceClient } from "../dist/gen/grpc/data-service.js";
import { createFileServiceClient } from "../dist/gen/grpc/file-service.js";
import { createNotificationServiceClient } from "../dist/gen/grpc/notification-service.js";
import { createUserServiceClient } from "../dist/gen/grpc/user-service.js";
import { RecordVisibility } from "../dist/gen/proto/example/data/v1/data_pb.js";
import { NotificationKind } from "../dist/gen/proto/example/notifications/v1/notifications_pb.js";

/**
 * What every step gets.
 * @typedef {object} TourContext
 * @property {ReturnType<typeof clientsFor>} clients one generated client per service
 * @property {(uid: string, roles?: string[]) => Promise<{ metadata: Record<string, string> }>} as call options of a signed-in user
 * @property {pg.Pool} db the example's database (only the sign-in step uses it, see there)
 * @property {Record<string, string>} users name -> account id, filled by the sign-in step
 * @property {Record<string, unknown>} notes values steps hand on to later steps
 * @property {(line: string) => void} say prints one indented line under the step's title
 */

/**
 * The tour, in order. Each step throws when what it shows does not happen.
 * @type {{ title: string, run: (t: TourContext) => Promise<void> }[]}
 */
export const steps = [
  {
    title: "sign in",
    async run(t) {
      // The account is upserted from the verified token's claims, as AuthService.SignIn does
      // (the same generated query, UpsertAccountOnSignIn); then the signed-in user opens a
      // session through the auth service, whose account id comes from the token.
      const row = await upsertAccountOnSignIn(t.db, {
        firebaseUid: "dev-alice",
        email: "alice@example.com",
        emailVerified: true,
      });
      if (row === null) throw new Error("no account row");
      t.users.alice = row.id;
      const session = await t.clients.auth.createSession(
        {
          userAgent: "npm run example",
          expiresAt: { seconds: BigInt(nowSeconds() + 3600), nanos: 0 },
        },
        await t.as(row.id),
      );
      const sessions = await t.clients.auth.listSessions({}, await t.as(row.id));
      t.say(`alice@example.com is account ${row.id}`);
      t.say(`session ${session.id} opened; ${sessions.sessions.length} active`);
    },
  },
  {
    title: "profile",
    async run(t) {
      const me = await t.as(t.users.alice);
      let profile;
      try {
        profile = await t.clients.users.getMyProfile({}, me);
        profile = await t.clients.users.updateProfile(
          { bio: `Back at ${new Date().toISOString()}` },
          me,
        );
        t.say(`updated @${profile.handle}`);
      } catch (e) {
        if (e?.code !== 5) throw e; // 5 = NOT_FOUND: the first run creates it
        profile = await t.clients.users.createProfile(
          { handle: "alice", displayName: "Alice", locale: "en-GB", bio: "Trying svcgen" },
          me,
        );
        t.say(`created @${profile.handle}`);
      }
      const pub = await t.clients.users.getProfileByHandle({ handle: profile.handle });
      t.say(`public profile of @${pub.handle}: ${pub.displayName} (no token needed)`);
    },
  },
  {
    title: "record",
    async run(t) {
      const me = await t.as(t.users.alice);
      const record = await t.clients.data.createRecord(
        {
          title: "Plan",
          body: { steps: ["generate", "run"] },
          tags: ["demo"],
          visibility: RecordVisibility.PRIVATE,
        },
        me,
      );
      const v2 = await t.clients.data.updateRecord(
        {
          id: record.id,
          version: record.version,
          title: "Plan v2",
          body: { steps: ["generate", "run", "deploy"] },
          tags: ["demo"],
        },
        me,
      );
      const got = await t.clients.data.getRecord({ id: record.id }, me);
      t.notes.recordId = record.id;
      t.say(
        `record ${record.id} "${got.title}" at version ${v2.version}, body ${JSON.stringify(got.body)}`,
      );
      // Optimistic concurrency: an update naming the old version matches nothing.
      const stale = await t.clients.data
        .updateRecord(
          { id: record.id, version: record.version, title: "stale", body: {}, tags: [] },
          me,
        )
        .then(
          () => "accepted",
          (e) => statusName(e.code),
        );
      t.say(`an update at the stale version ${record.version}: ${stale}`);
      if (stale === "accepted") throw new Error("a stale update was accepted");
    },
  },
  {
    title: "file",
    async run(t) {
      // The file service records files' metadata; uploading and downloading content arrive
      // with its streaming RPCs (see README "Status").
      const me = await t.as(t.users.alice);
      const content = Buffer.from("hello from npm run example\n");
      const sha256 = createHash("sha256").update(content).digest();
      const file = await t.clients.files.createFile(
        {
          recordId: /** @type {bigint} */ (t.notes.recordId),
          name: "hello.txt",
          contentType: "text/plain",
          sizeBytes: BigInt(content.length),
          sha256,
          storageKey: `example/${t.users.alice}/${Date.now()}-hello.txt`,
        },
        me,
      );
      const got = await t.clients.files.getFile({ id: file.id }, me);
      if (!Buffer.from(got.sha256).equals(sha256)) throw new Error("the file's checksum changed");
      const usage = await t.clients.files.getUsage({}, me);
      t.say(
        `file ${got.name} (${got.sizeBytes} bytes, sha256 ${sha256.toString("hex").slice(0, 12)}...)`,
      );
      t.say(`alice stores ${usage.files} file(s), ${usage.totalBytes} bytes`);
    },
  },
  {
    title: "notification",
    async run(t) {
      // Another service (a principal with the `service` role) notifies alice; alice then reads
      // her notifications as a server stream and counts the unread ones.
      const sender = await t.as("00000000-0000-4000-8000-00000000000a", ["service"]);
      const sent = await t.clients.notifications.createNotification(
        {
          userId: t.users.alice,
          kind: NotificationKind.SHARE,
          title: "Bob shared a record with you",
        },
        sender,
      );
      const me = await t.as(t.users.alice);
      let arrived = false;
      for await (const n of t.clients.notifications.streamNotifications({}, me)) {
        if (n.id === sent.id) arrived = true;
      }
      if (!arrived) throw new Error(`notification ${sent.id} did not arrive`);
      const { unread } = await t.clients.notifications.countUnread({}, me);
      t.say(`"${sent.title}" arrived on alice's stream; ${unread} unread`);
    },
  },
];

/**
 * One generated client per service, from the addresses the services printed.
 * @param {Record<string, { grpc: string }>} services by entry name
 */
export function clientsFor(services) {
  const at = (name) => {
    const s = services[name];
    if (s === undefined) throw new Error(`no address for ${name}`);
    return s.grpc;
  };
  return {
    auth: createAuthServiceClient(at("auth-service")),
    users: createUserServiceClient(at("user-service")),
    data: createDataServiceClient(at("data-service")),
    files: createFileServiceClient(at("file-service")),
    notifications: createNotificationServiceClient(at("notification-service")),
  };
}

/**
 * Runs every step in order and prints what it shows; rejects at the first step that fails,
 * naming it.
 * @param {{ services: Record<string, { grpc: string }>, databaseUrl: string, authorization: (uid: string, roles?: string[]) => Promise<Record<string, string>>, print: (line: string) => void }} options
 * @returns {Promise<Record<string, string>>} the users the tour signed in (name -> account id)
 */
export async function runTour(options) {
  const clients = clientsFor(options.services);
  const db = new pg.Pool({ connectionString: options.databaseUrl, max: 2 });
  /** @type {TourContext} */
  const t = {
    clients,
    as: async (uid, roles = []) => ({ metadata: await options.authorization(uid, roles) }),
    db,
    users: {},
    notes: {},
    say: (line) => options.print(`    ${line}`),
  };
  try {
    for (const [i, step] of steps.entries()) {
      options.print(`  ${i + 1}. ${step.title}`);
      try {
        await step.run(t);
      } catch (e) {
        const why =
          e?.code !== undefined ? `${statusName(e.code)}: ${e.details}` : String(e?.message ?? e);
        throw new Error(`tour step ${i + 1} (${step.title}) failed: ${why}`);
      }
    }
    return t.users;
  } finally {
    for (const c of Object.values(clients)) c.close();
    await db.end();
  }
}

const statusNames = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
];

/** The name of a gRPC status code (`5` -> `NOT_FOUND`). */
export function statusName(code) {
  return statusNames[code] ?? `status ${code}`;
}

function nowSeconds() {
  return Math.floor(Date.now() / 1000);
}
