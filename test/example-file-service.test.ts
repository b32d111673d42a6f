/**
 * The example's file service end to end, on its generated test kit (`gen/testing/`): the
 * generated registration and the runtime's whole interceptor chain over real gRPC on loopback,
 * real RS256 tokens from a test issuer checked against its JWKS, a real PostgreSQL (a database
 * copied from the project's migrated template), and for object storage a real S3-compatible
 * HTTP server on loopback spoken to by `@aws-sdk/client-s3`. Every case runs against both
 * storages.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { fromBinary } from "@bufbuild/protobuf";
import { status } from "@grpc/grpc-js";
import { withTransaction } from "@svcgen/runtime";
import { processEvent } from "@svcgen/runtime/events";
import { BadRequestSchema } from "@svcgen/runtime/grpc";
import type { ServerHandle } from "@svcgen/runtime/server";
import { createTestIssuer, type TestIssuer } from "@svcgen/runtime/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { FileServiceClient } from "../example-project/gen/grpc/file-service.js";
import { emitUserDeleted } from "../example-project/gen/grpc/user-service.js";
import type { UploadFileRequestSchema } from "../example-project/gen/proto/example/file/v1/file_pb.js";
import {
  type FileServiceTestService,
  startTestService,
} from "../example-project/gen/testing/file-service.js";
import {
  createS3Client,
  fileServiceConfigFromEnv,
} from "../example-project/src/file-service/config.js";
import {
  FileServiceImpl,
  type FileServiceOptions,
} from "../example-project/src/file-service/handlers.js";
import { type LocalS3Server, startLocalS3Server } from "./local-s3-server.js";

type UploadMessage = import("@bufbuild/protobuf").MessageInitShape<typeof UploadFileRequestSchema>;

/** The service's upload limit in these tests: a 5 MB file fits, 7 MB does not. */
const maxBytes = 6_000_000;
const bucket = "files";

// A commit that fails at COMMIT itself (a deferred constraint trigger), for files named so.
const failAtCommit = `
CREATE FUNCTION reject_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'rejected at commit' USING ERRCODE = 'raise_exception';
END $$;
CREATE CONSTRAINT TRIGGER reject_at_commit AFTER INSERT ON files DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW WHEN (NEW.name = 'reject-at-commit.bin') EXECUTE FUNCTION reject_at_commit();
`;

let sql: pg.Pool;
let issuer: TestIssuer;
let s3: LocalS3Server;
const services: FileServiceTestService[] = [];
/** Errors the servers logged as unexpected (INTERNAL): only the rejected commit is expected. */
const unexpected: string[] = [];
const quiet = (): void => {};

interface Backend {
  readonly name: "postgres" | "s3";
  client: FileServiceClient;
  handle: ServerHandle;
}
const backends: Record<"postgres" | "s3", Backend> = {
  postgres: { name: "postgres" } as Backend,
  s3: { name: "s3" } as Backend,
};

/** Serves `backend` on the kit; over `databaseUrl` when given, else over a fresh database. */
async function serve(
  backend: Backend,
  databaseUrl?: string,
  options: Pick<FileServiceOptions, "objectDeletions"> = {},
): Promise<FileServiceTestService> {
  const s3Target =
    backend.name === "s3"
      ? {
          bucket,
          // S3's smallest part: a 6 MB upload goes as two parts, a 5 MB one as one PUT.
          partBytes: 5 * 1024 * 1024,
          client: createS3Client({
            endpoint: s3.endpoint,
            region: "us-east-1",
            forcePathStyle: true,
            credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
          }),
        }
      : false;
  const svc = await startTestService({
    issuer,
    ...(databaseUrl === undefined ? {} : { databaseUrl }),
    handlers: (pool) => new FileServiceImpl(pool, { maxBytes, s3: s3Target, ...options }),
    logs: {
      info: quiet,
      warn: quiet,
      error: (fields: object, message: string) => {
        // The per-call line of an INTERNAL call is also an error; the cause is logged once.
        if (message !== "unexpected error") return;
        const error = (fields as { error?: { message?: string } }).error;
        unexpected.push(`${message}: ${error?.message ?? JSON.stringify(fields)}`);
      },
    },
  });
  services.push(svc);
  backend.handle = svc.server;
  backend.client = svc.client;
  return svc;
}

beforeAll(async () => {
  issuer = await createTestIssuer();
  s3 = await startLocalS3Server([bucket]);
  const first = await serve(backends.postgres);
  sql = new pg.Pool({ connectionString: first.databaseUrl, max: 2 });
  await sql.query(failAtCommit);
  await serve(backends.s3, first.databaseUrl);
});

afterAll(async () => {
  // Every pool on the database first: the service that made it drops it, closed last.
  await sql?.end();
  for (const svc of services.reverse()) await svc.close();
  await s3?.close();
  await issuer?.close();
});

/** Call options of user `uid`, with a freshly signed token. */
async function as(uid: string, extra: { timeoutMs?: number; signal?: AbortSignal } = {}) {
  return { metadata: await issuer.authorization({ uid }), timeoutMs: 30_000, ...extra };
}

const sha256 = (b: Uint8Array): Uint8Array => createHash("sha256").update(b).digest();

/** The messages of an upload: metadata, then `content` in chunks of `chunk` bytes. */
async function* uploadMessages(
  content: Uint8Array,
  meta: { name?: string; sizeBytes?: bigint; sha256?: Uint8Array } = {},
  chunk = 64 * 1024,
): AsyncGenerator<UploadMessage> {
  yield {
    part: {
      case: "metadata",
      value: {
        name: meta.name ?? "blob.bin",
        contentType: "application/octet-stream",
        sizeBytes: meta.sizeBytes ?? BigInt(content.length),
        sha256: meta.sha256 ?? sha256(content),
      },
    },
  };
  for (let i = 0; i < content.length; i += chunk) {
    yield { part: { case: "chunk", value: content.subarray(i, i + chunk) } };
  }
}

interface Failure {
  code: number;
  details: string;
  fields: string[];
}

async function failure(p: Promise<unknown>): Promise<Failure> {
  try {
    await p;
  } catch (e) {
    const err = e as { code: number; details: string; metadata?: import("@grpc/grpc-js").Metadata };
    const raw = err.metadata?.get("grpc-status-details-bin")[0];
    let fields: string[] = [];
    if (raw instanceof Buffer) {
      const { StatusSchema } = await import("@svcgen/runtime/grpc");
      const st = fromBinary(StatusSchema, raw);
      for (const d of st.details) {
        if (d.typeUrl.endsWith("google.rpc.BadRequest")) {
          fields = fromBinary(BadRequestSchema, d.value).fieldViolations.map((v) => v.field);
        }
      }
    }
    return { code: err.code, details: err.details, fields };
  }
  throw new Error("expected the call to fail");
}

/** Whatever the user has stored, in the database (`db`, default the shared one) and the bucket. */
async function stored(
  uid: string,
  db: pg.Pool = sql,
): Promise<{ rows: number; chunks: number; objects: number }> {
  const r = await db.query<{ rows: string; chunks: string }>(
    `SELECT (SELECT count(*) FROM files WHERE owner_id = $1) AS rows,
            (SELECT count(*) FROM file_chunks c JOIN files f ON f.id = c.file_id
              WHERE f.owner_id = $1) AS chunks`,
    [uid],
  );
  const objects = s3.keys(bucket).filter((k) => k.startsWith(`${uid}/`)).length;
  return { rows: Number(r.rows[0]?.rows), chunks: Number(r.rows[0]?.chunks), objects };
}

const nothing = { rows: 0, chunks: 0, objects: 0 };

/** Polls `probe` until it returns true (up to `ms`). */
async function eventually(probe: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > until) throw new Error(`not true within ${ms} ms`);
    await sleep(50);
  }
}

/** The keys waiting in the S3 deletion queue of `db`, with their failed attempts. */
async function queuedDeletions(db: pg.Pool): Promise<{ key: string; attempts: number }[]> {
  const r = await db.query<{ key: string; attempts: number }>(
    "SELECT storage_key AS key, attempts FROM file_object_deletions ORDER BY storage_key",
  );
  return r.rows;
}

/** A file service of its own (its own database, so its consumer takes the events written there). */
async function serveAlone(
  name: "postgres" | "s3",
  options: Pick<FileServiceOptions, "objectDeletions"> = {},
): Promise<{ svc: FileServiceTestService; db: pg.Pool }> {
  const svc = await serve({ name } as Backend, undefined, options);
  return { svc, db: new pg.Pool({ connectionString: svc.databaseUrl, max: 2 }) };
}

/** Writes a user.deleted event for `uid` to the outbox of `db`, as DeleteMyAccount does. */
function deleteAccount(db: pg.Pool, uid: string): Promise<string> {
  return withTransaction(db, (tx) => emitUserDeleted(tx, { userId: uid }, uid));
}

/** Waits until no session of the test database is left inside a transaction. */
async function noOpenTransactions(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const r = await sql.query(
      `SELECT 1 FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()
          AND state LIKE 'idle in transaction%'`,
    );
    if (r.rowCount === 0) return;
    await sleep(50);
  }
  throw new Error("a transaction stayed open");
}

describe.each(["postgres", "s3"] as const)("file service on %s", (name) => {
  const b = (): Backend => backends[name];

  test("a 5 MB upload and its download: same bytes, checksum verified, metadata first", async () => {
    const alice = randomUUID();
    const content = randomBytes(5_000_000);
    const file = await b().client.uploadFile(
      uploadMessages(content, { name: "five.bin" }),
      await as(alice),
    );
    expect(file).toMatchObject({ ownerId: alice, name: "five.bin", sizeBytes: 5_000_000n });
    expect(Buffer.from(file.sha256)).toEqual(Buffer.from(sha256(content)));
    const parts: Buffer[] = [];
    let first: unknown;
    let messages = 0;
    for await (const m of b().client.downloadFile({ id: file.id }, await as(alice))) {
      if (messages++ === 0) first = m.part;
      else if (m.part.case === "chunk") parts.push(Buffer.from(m.part.value));
      else throw new Error(`unexpected ${m.part.case} after the first message`);
    }
    expect(first).toMatchObject({
      case: "metadata",
      value: { id: file.id, sizeBytes: 5_000_000n },
    });
    const got = Buffer.concat(parts);
    expect(got.length).toBe(5_000_000);
    expect(Buffer.from(sha256(got))).toEqual(Buffer.from(sha256(content)));
    // 256 KiB chunks: 20 of them (the last shorter), in the chunk table or in one S3 object.
    expect(parts.length).toBe(Math.ceil(5_000_000 / (256 * 1024)));
    const where = await stored(alice);
    if (name === "postgres") expect(where).toEqual({ rows: 1, chunks: 20, objects: 0 });
    else {
      expect(where).toEqual({ rows: 1, chunks: 0, objects: 1 });
      expect(s3.object(bucket, file.storageKey)?.equals(content)).toBe(true);
    }
    expect(await b().client.getUsage({}, await as(alice))).toMatchObject({
      files: 1n,
      totalBytes: 5_000_000n,
    });
  });

  test("an empty file and a file over one S3 part round-trip", async () => {
    const uid = randomUUID();
    for (const size of [0, 5_900_000]) {
      const content = randomBytes(size);
      const f = await b().client.uploadFile(uploadMessages(content), await as(uid));
      const parts: Buffer[] = [];
      for await (const m of b().client.downloadFile({ id: f.id }, await as(uid))) {
        if (m.part.case === "chunk") parts.push(Buffer.from(m.part.value));
      }
      expect(Buffer.concat(parts).equals(content)).toBe(true);
    }
    expect(s3.pendingUploads()).toBe(0);
  });

  test("over the limit: RESOURCE_EXHAUSTED, declared or sent; the client's source stops being read", async () => {
    const uid = randomUUID();
    const big = await failure(
      b().client.uploadFile(
        uploadMessages(new Uint8Array(0), { sizeBytes: 7_000_000n }),
        await as(uid),
      ),
    );
    expect(big.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(big.fields).toEqual(["metadata.size_bytes"]);
    // Declared at the limit, then an endless stream: the call ends and the source is left.
    let pulled = 0;
    async function* endless(): AsyncGenerator<UploadMessage> {
      yield {
        part: {
          case: "metadata",
          value: {
            name: "endless.bin",
            contentType: "application/octet-stream",
            sizeBytes: BigInt(maxBytes),
            sha256: new Uint8Array(32),
          },
        },
      };
      const chunk = randomBytes(64 * 1024);
      for (;;) {
        pulled++;
        yield { part: { case: "chunk", value: chunk } };
      }
    }
    const sent = await failure(b().client.uploadFile(endless(), await as(uid)));
    expect(sent.code).toBe(status.RESOURCE_EXHAUSTED);
    const pulledAtEnd = pulled;
    await sleep(200);
    expect(pulled).toBe(pulledAtEnd);
    await noOpenTransactions();
    expect(await stored(uid)).toEqual(nothing);
    expect(s3.pendingUploads()).toBe(0);
  });

  test("a wrong checksum or size: INVALID_ARGUMENT naming the field, nothing stored", async () => {
    const uid = randomUUID();
    const content = randomBytes(300_000);
    const badSum = await failure(
      b().client.uploadFile(
        uploadMessages(content, { sha256: sha256(Buffer.from("x")) }),
        await as(uid),
      ),
    );
    expect(badSum).toMatchObject({ code: status.INVALID_ARGUMENT, fields: ["metadata.sha256"] });
    const short = await failure(
      b().client.uploadFile(uploadMessages(content, { sizeBytes: 300_001n }), await as(uid)),
    );
    expect(short).toMatchObject({ code: status.INVALID_ARGUMENT, fields: ["metadata.size_bytes"] });
    const long = await failure(
      b().client.uploadFile(uploadMessages(content, { sizeBytes: 1000n }), await as(uid)),
    );
    expect(long).toMatchObject({ code: status.INVALID_ARGUMENT, fields: ["metadata.size_bytes"] });
    await noOpenTransactions();
    expect(await stored(uid)).toEqual(nothing);
  });

  test("missing, misplaced or invalid metadata: INVALID_ARGUMENT", async () => {
    const uid = randomUUID();
    const content = randomBytes(1000);
    async function* only(...messages: UploadMessage[]): AsyncGenerator<UploadMessage> {
      yield* messages;
    }
    const chunk: UploadMessage = { part: { case: "chunk", value: content } };
    const meta = (sha: Uint8Array): UploadMessage => ({
      part: {
        case: "metadata",
        value: {
          name: "a.bin",
          contentType: "application/octet-stream",
          sizeBytes: 1000n,
          sha256: sha,
        },
      },
    });
    const empty = await failure(b().client.uploadFile(only(), await as(uid)));
    expect(empty).toMatchObject({ code: status.INVALID_ARGUMENT, fields: ["metadata"] });
    const chunkFirst = await failure(
      b().client.uploadFile(only(chunk, meta(sha256(content))), await as(uid)),
    );
    expect(chunkFirst).toMatchObject({ code: status.INVALID_ARGUMENT, fields: ["metadata"] });
    const twice = await failure(
      b().client.uploadFile(
        only(meta(sha256(content)), meta(sha256(content)), chunk),
        await as(uid),
      ),
    );
    expect(twice).toMatchObject({ code: status.INVALID_ARGUMENT, fields: ["metadata"] });
    // protovalidate on each message of the stream: sha256 must be 32 bytes.
    const invalid = await failure(
      b().client.uploadFile(only(meta(new Uint8Array(3)), chunk), await as(uid)),
    );
    expect(invalid.code).toBe(status.INVALID_ARGUMENT);
    expect(invalid.fields).toContain("metadata.sha256");
    const anonymous = await failure(b().client.uploadFile(uploadMessages(content)));
    expect(anonymous.code).toBe(status.UNAUTHENTICATED);
    expect(await stored(uid)).toEqual(nothing);
  });

  test("cancelled mid-upload or past its deadline: nothing stored, nothing left open", async () => {
    const uid = randomUUID();
    // 86 chunks of 64 KiB before the stall: past one S3 part (5 MiB), so S3 has a multipart
    // upload in progress to abort.
    const stallAt = 86;
    const content = randomBytes(5_900_000);
    let sentChunks = 0;
    /** Sends `stallAt` chunks, then stalls until `release` (or forever). */
    async function* stalling(release: Promise<void>): AsyncGenerator<UploadMessage> {
      for await (const m of uploadMessages(content)) {
        if (m.part?.case === "chunk" && ++sentChunks === stallAt) await release;
        yield m;
      }
    }
    const controller = new AbortController();
    const cancelled = failure(
      b().client.uploadFile(
        stalling(new Promise(() => {})),
        await as(uid, { signal: controller.signal }),
      ),
    );
    while (sentChunks < stallAt) await sleep(10);
    // Let the server take in what was sent (chunk rows or an S3 part in flight), then cancel.
    await sleep(200);
    if (name === "s3") {
      for (let i = 0; i < 100 && s3.pendingUploads() === 0; i++) await sleep(20);
      expect(s3.pendingUploads()).toBe(1);
    }
    controller.abort();
    expect((await cancelled).code).toBe(status.CANCELLED);
    sentChunks = 0;
    const late = await failure(
      b().client.uploadFile(stalling(new Promise(() => {})), await as(uid, { timeoutMs: 1000 })),
    );
    expect(late.code).toBe(status.DEADLINE_EXCEEDED);
    await noOpenTransactions();
    for (let i = 0; i < 50 && s3.pendingUploads() > 0; i++) await sleep(20);
    expect(s3.pendingUploads()).toBe(0);
    expect(await stored(uid)).toEqual(nothing);
  });

  test("another user's file: PERMISSION_DENIED to get, download or delete; absent: NOT_FOUND", async () => {
    const alice = randomUUID();
    const bob = randomUUID();
    const content = randomBytes(10_000);
    const f = await b().client.uploadFile(uploadMessages(content), await as(alice));
    for (const call of [
      async () => b().client.getFile({ id: f.id }, await as(bob)),
      async () => b().client.deleteFile({ id: f.id }, await as(bob)),
      async () => {
        for await (const _ of b().client.downloadFile({ id: f.id }, await as(bob))) {
          // nothing may arrive
        }
      },
    ]) {
      expect((await failure(call())).code).toBe(status.PERMISSION_DENIED);
    }
    const absent = randomUUID();
    expect((await failure(b().client.getFile({ id: absent }, await as(alice)))).code).toBe(
      status.NOT_FOUND,
    );
    expect((await failure(b().client.deleteFile({ id: absent }, await as(alice)))).code).toBe(
      status.NOT_FOUND,
    );
    expect((await b().client.getFile({ id: f.id }, await as(alice))).name).toBe("blob.bin");
    expect(await stored(alice)).toMatchObject({ rows: 1 });
    await b().client.deleteFile({ id: f.id }, await as(alice));
    expect(await stored(alice)).toEqual(nothing);
    expect((await failure(b().client.deleteFile({ id: f.id }, await as(alice)))).code).toBe(
      status.NOT_FOUND,
    );
  });

  test("user.deleted removes the user's files and their content, nobody else's; a redelivery is skipped", async () => {
    const { svc, db } = await serveAlone(name);
    try {
      const gone = randomUUID();
      const stays = randomUUID();
      for (const [uid, size] of [
        [gone, 600_000],
        [gone, 0],
        [stays, 1000],
      ] as const) {
        await svc.client.uploadFile(uploadMessages(randomBytes(size)), await as(uid));
      }
      expect(await stored(gone, db)).toEqual(
        name === "s3" ? { rows: 2, chunks: 0, objects: 2 } : { rows: 2, chunks: 3, objects: 0 },
      );
      const kept = await stored(stays, db);
      const eventId = await deleteAccount(db, gone);
      await eventually(
        async () => JSON.stringify(await stored(gone, db)) === JSON.stringify(nothing),
      );
      expect(await queuedDeletions(db)).toEqual([]);
      expect(await stored(stays, db)).toEqual(kept);
      // The same event again (a redelivery): the consumer group processed it, it is skipped.
      const outcome = await processEvent(
        db,
        "example.file.v1.FileService",
        {
          id: eventId,
          topic: "user.deleted",
          key: gone,
          payload: new Uint8Array(),
          contentType: "application/x-protobuf",
          headers: {},
          createdAt: new Date(),
        },
        () => Promise.reject(new Error("a processed event must not be handled again")),
      );
      expect(outcome).toEqual({ kind: "skipped" });
    } finally {
      await db.end();
    }
  });

  test("a metadata row that fails at COMMIT leaves no content behind", async () => {
    const uid = randomUUID();
    const content = randomBytes(100_000);
    const f = await failure(
      b().client.uploadFile(
        uploadMessages(content, { name: "reject-at-commit.bin" }),
        await as(uid),
      ),
    );
    expect(f.code).not.toBe(status.OK);
    expect(await stored(uid)).toEqual(nothing);
  });

  test("ListMyFiles pages with a keyset token, newest first, only the caller's", async () => {
    const uid = randomUUID();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const f = await b().client.uploadFile(
        uploadMessages(randomBytes(10), { name: `f${i}` }),
        await as(uid),
      );
      ids.push(f.id);
    }
    await b().client.uploadFile(uploadMessages(randomBytes(10)), await as(randomUUID()));
    const seen: string[] = [];
    let token = "";
    let pages = 0;
    do {
      const page = await b().client.listMyFiles({ pageSize: 2, pageToken: token }, await as(uid));
      seen.push(...page.files.map((f) => f.name));
      token = page.nextPageToken;
      pages++;
    } while (token !== "");
    expect(pages).toBe(3);
    expect(seen).toEqual(["f4", "f3", "f2", "f1", "f0"]);
    const all = await b().client.listMyFiles({}, await as(uid));
    expect(all.files.length).toBe(5);
    expect(all.nextPageToken).toBe("");
    const bad = await failure(b().client.listMyFiles({ pageToken: "nonsense" }, await as(uid)));
    expect(bad).toMatchObject({ code: status.INVALID_ARGUMENT, fields: ["page_token"] });
  });
});

describe("uploads in progress", () => {
  test("past FILE_MAX_CONCURRENT_UPLOADS (4) an upload is RESOURCE_EXHAUSTED at once; a slot frees when one ends", async () => {
    const uid = randomUUID();
    const content = randomBytes(200_000);
    let arrived = 0;
    async function* stalled(): AsyncGenerator<UploadMessage> {
      let first = true;
      for await (const m of uploadMessages(content)) {
        yield m;
        if (first) arrived++;
        first = false;
        await new Promise(() => {});
      }
    }
    const controllers = [0, 1, 2, 3].map(() => new AbortController());
    const pending = controllers.map(async (c) =>
      failure(backends.postgres.client.uploadFile(stalled(), await as(uid, { signal: c.signal }))),
    );
    while (arrived < 4) await sleep(10);
    // Each has reached the server once its first message was pulled; give them a moment to
    // take their slots.
    await sleep(300);
    const refused = await failure(
      backends.postgres.client.uploadFile(uploadMessages(content), await as(uid)),
    );
    expect(refused.code).toBe(status.RESOURCE_EXHAUSTED);
    controllers[0]?.abort();
    expect((await pending[0])?.code).toBe(status.CANCELLED);
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      try {
        await backends.postgres.client.uploadFile(uploadMessages(content), await as(uid));
        ok = true;
      } catch {
        await sleep(50);
      }
    }
    expect(ok).toBe(true);
    for (const c of controllers) c.abort();
    await Promise.all(pending);
    await noOpenTransactions();
    expect(await stored(uid)).toMatchObject({ rows: 1 });
  });
});

describe("download backpressure", () => {
  test("a paused reader stops the server reading: far fewer chunks sent than the file has", async () => {
    // A server of its own (over the suite's database), so its message counter sees only this
    // download.
    const svc = await startTestService({
      issuer,
      databaseUrl: services[0]?.databaseUrl ?? "",
      handlers: (pool) =>
        new FileServiceImpl(pool, { maxBytes: 40_000_000, s3: false, maxConcurrentUploads: 1 }),
      logs: { info: quiet, warn: quiet, error: quiet },
    });
    services.push(svc);
    const own: Backend = { name: "postgres", handle: svc.server, client: svc.client };
    const uid = randomUUID();
    const size = 24 * 1024 * 1024;
    const chunks = size / (256 * 1024);
    const content = randomBytes(size);
    const f = await own.client.uploadFile(uploadMessages(content, {}, 1024 * 1024), await as(uid));
    const sent = async (): Promise<number> => {
      const text = await (await fetch(`http://${own.handle.httpAddress}/metrics`)).text();
      const line = text
        .split("\n")
        .find(
          (l) =>
            l.startsWith("grpc_server_msg_sent_total") && l.includes('grpc_method="DownloadFile"'),
        );
      return Number(line?.split(" ").pop() ?? 0);
    };
    const it = own.client.downloadFile({ id: f.id }, await as(uid))[Symbol.asyncIterator]();
    await it.next();
    await it.next();
    await sleep(1000);
    const whilePaused = await sent();
    console.log(
      `download backpressure: ${whilePaused} of ${chunks + 1} messages sent while paused`,
    );
    expect(whilePaused).toBeLessThan(chunks / 2);
    const parts: Buffer[] = [];
    for (;;) {
      const r = await it.next();
      if (r.done === true) break;
      if (r.value.part.case === "chunk") parts.push(Buffer.from(r.value.part.value));
    }
    expect(parts.length).toBe(chunks - 1);
    expect(await sent()).toBe(chunks + 1);
  });
});

describe("the runtime around a client stream", () => {
  test("messages of UploadFile are counted in the server's metrics", async () => {
    const uid = randomUUID();
    await backends.postgres.client.uploadFile(uploadMessages(randomBytes(200_000)), await as(uid));
    const text = await (
      await fetch(`http://${backends.postgres.handle.httpAddress}/metrics`)
    ).text();
    const line = text
      .split("\n")
      .find(
        (l) =>
          l.startsWith("grpc_server_msg_received_total") && l.includes('grpc_method="UploadFile"'),
      );
    expect(line).toBeDefined();
    expect(Number(line?.split(" ").pop())).toBeGreaterThanOrEqual(5);
  });

  test("no call failed unexpectedly but the two commits rejected on purpose", () => {
    expect(unexpected.filter((u) => !u.endsWith("rejected at commit"))).toEqual([]);
    expect(unexpected.length).toBe(2);
  });

  test("the S3 storage wrote through the S3 API: single PUTs and a multipart upload", () => {
    const r = s3.requests();
    expect(r.PutObject ?? 0).toBeGreaterThan(0);
    expect(r.CompleteMultipartUpload ?? 0).toBeGreaterThan(0);
    expect(r.AbortMultipartUpload ?? 0).toBeGreaterThan(0);
  });
});

describe("S3 object deletion", () => {
  test("a failed object delete is reported, stays queued and is retried until it succeeds", async () => {
    const failures: string[] = [];
    const { svc, db } = await serveAlone("s3", {
      objectDeletions: { retryBaseMs: 100, retryMaxMs: 400, onFailure: (m) => failures.push(m) },
    });
    try {
      const uid = randomUUID();
      const kept = await svc.client.uploadFile(uploadMessages(randomBytes(100)), await as(uid));
      const other = await svc.client.uploadFile(uploadMessages(randomBytes(100)), await as(uid));
      s3.failDeletes(true);
      // DeleteFile answers OK: the row is gone, the object's key queued.
      await svc.client.deleteFile({ id: other.id }, await as(uid));
      // user.deleted: the other row goes in the consumer's transaction; its object cannot.
      await deleteAccount(db, uid);
      await eventually(async () => (await stored(uid, db)).rows === 0);
      await eventually(async () => {
        const queued = await queuedDeletions(db);
        return queued.length === 2 && queued.every((q) => q.attempts >= 2);
      });
      expect((await queuedDeletions(db)).map((q) => q.key)).toEqual(
        [kept.storageKey, other.storageKey].sort(),
      );
      expect((await stored(uid, db)).objects).toBe(2);
      expect(failures.some((f) => f.includes(kept.storageKey))).toBe(true);
      s3.failDeletes(false);
      await eventually(async () => (await queuedDeletions(db)).length === 0);
      expect(await stored(uid, db)).toEqual(nothing);
    } finally {
      s3.failDeletes(false);
      await db.end();
    }
  });
});

describe("file service configuration", () => {
  test("defaults: 10 MiB, content in PostgreSQL", () => {
    expect(fileServiceConfigFromEnv({})).toEqual({
      maxBytes: 10 * 1024 * 1024,
      maxConcurrentUploads: 4,
      s3: undefined,
    });
  });

  test("S3 from the environment, path-style by default", async () => {
    const c = fileServiceConfigFromEnv({
      FILE_MAX_BYTES: "2048",
      S3_BUCKET: "files",
      S3_ENDPOINT: "http://127.0.0.1:9000",
      S3_REGION: "eu-central-1",
      S3_ACCESS_KEY_ID: "k",
      S3_SECRET_ACCESS_KEY: "s",
    });
    expect(c.maxBytes).toBe(2048);
    expect(c.s3?.bucket).toBe("files");
    expect(c.s3?.partBytes).toBe(8 * 1024 * 1024);
    expect(c.s3?.client.config.forcePathStyle).toBe(true);
    expect(await c.s3?.client.config.region()).toBe("eu-central-1");
  });

  test("every invalid variable in one error", () => {
    expect(() =>
      fileServiceConfigFromEnv({
        FILE_MAX_BYTES: "ten",
        S3_BUCKET: "files",
        S3_ACCESS_KEY_ID: "k",
        S3_FORCE_PATH_STYLE: "yes",
        S3_PART_BYTES: "1024",
        S3_ENDPOINT: "minio:9000",
      }),
    ).toThrow(
      [
        "Invalid file service configuration:",
        '  FILE_MAX_BYTES="ten": expected a whole number of bytes >= 1',
        '  S3_PART_BYTES="1024": expected a whole number of bytes >= 5242880',
        "  S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY: set both or neither",
        '  S3_FORCE_PATH_STYLE="yes": expected true or false',
        '  S3_ENDPOINT="minio:9000": expected an http(s):// URL',
      ].join("\n"),
    );
    expect(() => fileServiceConfigFromEnv({ S3_ENDPOINT: "http://x" })).toThrow(
      "S3_ENDPOINT is set but S3_BUCKET is not: set it too",
    );
  });
});
