// The scripted client `npm run example` runs once the five services are ready: a short tour of
// what they do, through their generated clients, with development tokens the services verify
// like any production token. The tour is the list `steps` below: one entry per thing to show,
// each a title and an async function; add a step by adding an entry.
import { createHash } from "node:crypto";
import { createAuthServiceClient } from "../dist/gen/grpc/auth-service.js";
import { createDataServiceClient } from "../dist/gen/grpc/data-service.js";
import { createFileServiceClient } from "../dist/gen/grpc/file-service.js";
import { createNotificationServiceClient } from "../dist/gen/grpc/notification-service.js";
import { createUserServiceClient } from "../dist/gen/grpc/user-service.js";
import { RecordVisibility } from "../dist/gen/proto/example/data/v1/data_pb.js";
import { NotificationKind } from "../dist/gen/proto/example/notifications/v1/notifications_pb.js";
import { errorInfoOf, statusName } from "./lib/status.js";

/** The tour's user: the token's subject is her account id. */
const alice = {
  uid: "a11ce000-0000-4000-8000-000000000001",
  email: "alice@example.com",
};
/** The tour's second user, who shares a record with Alice. */
const bobUser = {
  uid: "b0b00000-0000-4000-8000-000000000002",
  email: "bob@example.com",
};

/**
 * What every step gets.
 * @typedef {object} TourContext
 * @property {ReturnType<typeof clientsFor>} clients one generated client per service
 * @property {(uid: string, roles?: string[], more?: object) => Promise<{ metadata: Record<string, string> }>} as call options of a signed-in caller
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
      // The auth service creates (or updates) the account from the verified token's claims,
      // never from the request, and opens a session.
      const me = await t.as(alice.uid, [], {
        email: alice.email,
        claims: { email_verified: true },
      });
      const r = await t.clients.auth.signIn({ userAgent: "npm run example" }, me);
      t.users.alice = r.account.id;
      const sessions = await t.clients.auth.listSessions({}, me);
      t.say(
        `${r.account.email} is account ${r.account.id} (${r.created ? "created" : "signed in again"})`,
      );
      t.say(`session ${r.session.id} opened; ${sessions.sessions.length} active`);
    },
  },
  {
    title: "profile",
    async run(t) {
      const me = await t.as(t.users.alice);
      let profile;
      try {
        await t.clients.users.getMyProfile({}, me);
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
      const update = (version, title) => ({
        id: record.id,
        version,
        title,
        body: { steps: ["generate", "run", "deploy"] },
        tags: ["demo"],
        visibility: RecordVisibility.PRIVATE,
      });
      const v2 = await t.clients.data.updateRecord(update(record.version, "Plan v2"), me);
      t.notes.recordId = record.id;
      t.say(
        `record ${record.id} "${v2.title}" at version ${v2.version}, body ${JSON.stringify(v2.body)}`,
      );
      // Optimistic concurrency: an update naming the old version is refused.
      const stale = await t.clients.data.updateRecord(update(record.version, "stale"), me).then(
        () => undefined,
        (e) => e,
      );
      if (stale?.code !== 10) throw new Error("a stale update was not ABORTED");
      t.say(
        `an update at the stale version ${record.version}: ${statusName(stale.code)} (${errorInfoOf(stale)?.reason})`,
      );
    },
  },
  {
    title: "file upload and download",
    async run(t) {
      // Upload as a client stream: the metadata first, then the content in 1 MiB chunks. The
      // service stores it in one transaction, checking the declared size and the SHA-256.
      const me = await t.as(t.users.alice);
      const content = Buffer.alloc(2_500_000);
      for (let i = 0; i < content.length; i++) content[i] = (i * 31 + 7) % 251;
      const sha256 = createHash("sha256").update(content).digest();
      const chunk = 1 << 20;
      async function* upload() {
        const metadata = {
          recordId: t.notes.recordId,
          name: "plan.bin",
          contentType: "application/octet-stream",
          sizeBytes: BigInt(content.length),
          sha256,
        };
        yield { part: { case: "metadata", value: metadata } };
        for (let at = 0; at < content.length; at += chunk) {
          yield { part: { case: "chunk", value: content.subarray(at, at + chunk) } };
        }
      }
      const file = await t.clients.files.uploadFile(upload(), me);
      const sent = Math.ceil(content.length / chunk);
      t.say(`uploaded ${file.name}: ${file.sizeBytes} bytes in ${sent} chunks, file ${file.id}`);
      // Download as a server stream: the metadata, then the content in chunks.
      const parts = [];
      for await (const m of t.clients.files.downloadFile({ id: file.id }, me)) {
        if (m.part.case === "chunk") parts.push(m.part.value);
      }
      const back = Buffer.concat(parts);
      if (!createHash("sha256").update(back).digest().equals(sha256)) {
        throw new Error("the downloaded content differs from the uploaded one");
      }
      const hex = sha256.toString("hex").slice(0, 12);
      t.say(`downloaded ${back.length} bytes in ${parts.length} chunks; SHA-256 ${hex}... matches`);
    },
  },
  {
    title: "notification, fed by an event",
    async run(t) {
      // Alice subscribes: a server stream that stays open. It first catches up from the newest
      // notification she has (so nothing created meanwhile is missed), then goes live.
      const me = await t.as(t.users.alice);
      const page = await t.clients.notifications.listNotifications({ pageSize: 1n }, me);
      const newest = page.notifications[0]?.id ?? 0n;
      const stop = new AbortController();
      const stream = t.clients.notifications.subscribe(
        { afterId: newest },
        { ...me, signal: stop.signal },
      );
      // Bob signs in and shares a record with her. ShareRecord writes a `record.shared` event
      // to the outbox in its own transaction; the relay delivers it, the notification service's
      // consumer turns it into her notification (once per event), and her stream gets it.
      const bob = await t.as(bobUser.uid, [], {
        email: bobUser.email,
        claims: { email_verified: true },
      });
      const signedIn = await t.clients.auth.signIn({ userAgent: "npm run example" }, bob);
      t.users.bob = signedIn.account.id;
      const record = await t.clients.data.createRecord(
        { title: "Trip", body: { days: 3 }, tags: [], visibility: RecordVisibility.PRIVATE },
        bob,
      );
      const sharedAt = Date.now();
      await t.clients.data.shareRecord({ recordId: record.id, userId: t.users.alice }, bob);
      const timer = setTimeout(() => stop.abort(), 10_000);
      let arrived;
      try {
        for await (const n of stream) {
          if (n.kind === NotificationKind.SHARE) {
            arrived = n;
            break; // ends the subscription (the client cancels the call)
          }
        }
      } catch (e) {
        if (!stop.signal.aborted) throw e;
      } finally {
        clearTimeout(timer);
      }
      if (arrived === undefined) throw new Error("the share's notification did not arrive within 10 s");
      const ms = Date.now() - sharedAt;
      t.say(`bob shared record ${record.id} with alice (event record.shared)`);
      t.say(`"${arrived.title}" arrived on alice's open subscription ${ms} ms later`);
      const { unread } = await t.clients.notifications.countUnread({}, me);
      t.say(`alice has ${unread} unread (the welcome and the upload came as events too)`);
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
 * @param {{ services: Record<string, { grpc: string }>, authorization: (uid: string, roles?: string[], more?: object) => Promise<Record<string, string>>, print: (line: string) => void }} options
 * @returns {Promise<Record<string, string>>} the users the tour signed in (name -> account id)
 */
export async function runTour(options) {
  const clients = clientsFor(options.services);
  /** @type {TourContext} */
  const t = {
    clients,
    as: async (uid, roles = [], more = {}) => ({
      metadata: await options.authorization(uid, roles, more),
      timeoutMs: 30_000,
    }),
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
          typeof e?.code === "number"
            ? `${statusName(e.code)}: ${e.details}`
            : String(e?.message ?? e);
        throw new Error(`tour step ${i + 1} (${step.title}) failed: ${why}`);
      }
    }
    return t.users;
  } finally {
    for (const c of Object.values(clients)) c.close();
  }
}
