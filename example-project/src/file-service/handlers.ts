// Handlers of example.file.v1.FileService. Created once by svcgen; this file is yours to edit.
// svcgen adds a stub here when the proto gains an RPC and never changes anything else.

import { createHash, randomUUID } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { status } from "@grpc/grpc-js";
import { type CallContext, invalidField, RpcError } from "@svcgen/runtime/grpc";
import type { EventContext } from "@svcgen/runtime/events";
import type { Pool, PoolClient } from "pg";
import {
  deleteOwnerFiles,
  deleteOwnFile,
  type GetFileRow,
  getFile,
  listFilesByOwner,
} from "../../gen/db/file/files.js";
import {
  createFileServiceBound,
  emitFileUploaded,
  type FileServiceBound,
  type FileServiceBoundOptions,
  type FileServiceHandlers,
} from "../../gen/grpc/file-service.js";
import type { UserDeleted } from "../../gen/proto/example/events/v1/events_pb.js";
import type { FileSchema, UploadFileRequest } from "../../gen/proto/example/file/v1/file_pb.js";
import { fileServiceConfigFromEnv } from "./config.js";
import { ObjectDeletions, type ObjectDeletionsOptions } from "./object-deletions.js";
import {
  type ContentReader,
  createContentReader,
  createPostgresStorage,
  createS3Storage,
  type FileStorage,
  type S3Target,
} from "./storage.js";

/** Options of {@link FileServiceImpl}; what is not given comes from the environment. */
export interface FileServiceOptions extends FileServiceBoundOptions {
  /** The largest upload in bytes. Default `FILE_MAX_BYTES`, else 10 MiB. */
  readonly maxBytes?: number;
  /**
   * Object storage for new files' content, or `false` for PostgreSQL. Default: S3 when
   * `S3_BUCKET` is set (see `config.ts`), else PostgreSQL.
   */
  readonly s3?: S3Target | false;
  /**
   * Uploads in progress at once; one more is RESOURCE_EXHAUSTED at once. Default
   * `FILE_MAX_CONCURRENT_UPLOADS`, else 4.
   */
  readonly maxConcurrentUploads?: number;
  /** Where settings not given here are read. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Retries and sweeps of S3 object deletions (see `object-deletions.ts`). */
  readonly objectDeletions?: ObjectDeletionsOptions;
}

const defaultPageSize = 50;

/** The caller's uid; the service's auth rule guarantees one. */
function callerOf(ctx: CallContext): string {
  const uid = ctx.principal?.uid;
  if (uid === undefined) throw new RpcError(status.UNAUTHENTICATED, "Sign in to use files");
  return uid;
}

function toFileMessage(row: Omit<GetFileRow, "storage">): MessageInitShape<typeof FileSchema> {
  return {
    id: row.id,
    ownerId: row.ownerId,
    ...(row.recordId === null ? {} : { recordId: row.recordId }),
    name: row.name,
    contentType: row.contentType,
    sizeBytes: row.sizeBytes,
    sha256: row.sha256,
    storageKey: row.storageKey,
    createdAt: timestampFromDate(row.createdAt),
  };
}

/** The page token of the file after which the next page starts. */
function pageToken(createdUs: bigint, id: string): string {
  return Buffer.from(`${createdUs}.${id}`).toString("base64url");
}

function parsePageToken(token: string): { afterUs: bigint; afterId: string } {
  const m = /^(\d{1,19})\.([0-9a-f-]{36})$/.exec(Buffer.from(token, "base64url").toString());
  if (m === null || m[1] === undefined || m[2] === undefined) {
    throw invalidField("page_token", "Not a page token of this service: pass next_page_token as given");
  }
  return { afterUs: BigInt(m[1]), afterId: m[2] };
}

/** Serves example.file.v1.FileService: register with `addFileService(server, new FileServiceImpl(pool))`. */
export class FileServiceImpl implements FileServiceHandlers {
  private readonly bound: FileServiceBound;
  private readonly maxBytes: number;
  private readonly storage: FileStorage;
  private readonly content: ContentReader;
  private readonly maxUploads: number;
  /** Deletes S3 objects of deleted files; undefined without S3 (their keys wait in the queue). */
  private readonly objects: ObjectDeletions | undefined;
  private uploads = 0;

  constructor(
    private readonly db: Pool,
    options: FileServiceOptions = {},
  ) {
    this.bound = createFileServiceBound(db, options);
    const needEnv =
      options.maxBytes === undefined ||
      options.s3 === undefined ||
      options.maxConcurrentUploads === undefined;
    const config = needEnv ? fileServiceConfigFromEnv(options.env) : undefined;
    this.maxBytes = options.maxBytes ?? config?.maxBytes ?? 0;
    this.maxUploads = options.maxConcurrentUploads ?? config?.maxConcurrentUploads ?? 1;
    const s3 = options.s3 === false ? undefined : (options.s3 ?? config?.s3);
    this.storage = s3 === undefined ? createPostgresStorage(db) : createS3Storage(db, s3);
    // Files written to S3 stay readable if S3 is turned off only when a target is known.
    this.content = createContentReader(db, s3);
    this.objects = s3 === undefined ? undefined : new ObjectDeletions(db, s3, options.objectDeletions);
  }

  async uploadFile(
    requests: AsyncIterable<UploadFileRequest>,
    ctx: CallContext,
  ): ReturnType<FileServiceHandlers["uploadFile"]> {
    const ownerId = callerOf(ctx);
    if (this.uploads >= this.maxUploads) {
      throw new RpcError(
        status.RESOURCE_EXHAUSTED,
        `${this.uploads} uploads are in progress, the most this instance takes: retry later`,
      );
    }
    this.uploads++;
    try {
      return await this.upload(ownerId, requests, ctx);
    } finally {
      this.uploads--;
    }
  }

  private async upload(
    ownerId: string,
    requests: AsyncIterable<UploadFileRequest>,
    ctx: CallContext,
  ): ReturnType<FileServiceHandlers["uploadFile"]> {
    const it = requests[Symbol.asyncIterator]();
    const first = await it.next();
    if (first.done === true || first.value.part.case !== "metadata") {
      throw invalidField(
        "metadata",
        first.done === true
          ? "The upload is empty: send an UploadMetadata message first"
          : "The first message of an upload must be its metadata",
      );
    }
    const meta = first.value.part.value;
    const limit = BigInt(this.maxBytes);
    if (meta.sizeBytes > limit) {
      throw new RpcError(
        status.RESOURCE_EXHAUSTED,
        `The file is ${meta.sizeBytes} bytes; the limit is ${limit}`,
        { violations: [{ field: "metadata.size_bytes", description: `At most ${limit} bytes` }] },
      );
    }
    const declared = meta.sizeBytes;
    // The content after the metadata, checked as it goes: it throws instead of ending when
    // anything is wrong, so the storage never commits a bad upload.
    async function* content(): AsyncGenerator<Uint8Array> {
      const hash = createHash("sha256");
      let received = 0n;
      for (;;) {
        const next = await it.next();
        if (next.done === true) break;
        const part = next.value.part;
        if (part.case !== "chunk") {
          throw invalidField(
            "metadata",
            part.case === "metadata"
              ? "Only the first message of an upload may carry metadata"
              : "A message after the metadata must carry a chunk",
          );
        }
        received += BigInt(part.value.length);
        if (received > limit) {
          throw new RpcError(status.RESOURCE_EXHAUSTED, `The upload exceeds the limit of ${limit} bytes`);
        }
        if (received > declared) {
          throw invalidField("metadata.size_bytes", `More than the declared ${declared} bytes were sent`);
        }
        hash.update(part.value);
        yield part.value;
      }
      if (received !== declared) {
        throw invalidField(
          "metadata.size_bytes",
          `${received} bytes were sent; the metadata declared ${declared}`,
        );
      }
      if (!hash.digest().equals(meta.sha256)) {
        throw invalidField("metadata.sha256", "The SHA-256 of the content sent does not match");
      }
    }
    const id = randomUUID();
    const row = await this.storage.store(
      {
        id,
        ownerId,
        recordId: meta.recordId ?? null,
        name: meta.name,
        contentType: meta.contentType,
        sizeBytes: meta.sizeBytes,
        sha256: meta.sha256,
        storageKey: `${ownerId}/${id}`,
      },
      content(),
      ctx.signal,
      // With the row, in its transaction: the owner's "uploaded" notification.
      (tx, stored) =>
        emitFileUploaded(
          tx,
          { fileId: stored.id, ownerId, name: stored.name, sizeBytes: stored.sizeBytes },
          ownerId,
        ).then(() => undefined),
    );
    return toFileMessage(row);
  }

  async *downloadFile(
    request: Parameters<FileServiceHandlers["downloadFile"]>[0],
    ctx: CallContext,
  ): ReturnType<FileServiceHandlers["downloadFile"]> {
    const row = await this.ownFile(request.id, ctx);
    yield { part: { case: "metadata", value: toFileMessage(row) } };
    for await (const chunk of this.content.read(row, ctx.signal)) {
      yield { part: { case: "chunk", value: chunk } };
    }
  }

  async getFile(
    request: Parameters<FileServiceHandlers["getFile"]>[0],
    ctx: CallContext,
  ): ReturnType<FileServiceHandlers["getFile"]> {
    return toFileMessage(await this.ownFile(request.id, ctx));
  }

  adminGetFile(
    request: Parameters<FileServiceHandlers["adminGetFile"]>[0],
    ctx: CallContext,
  ): ReturnType<FileServiceHandlers["adminGetFile"]> {
    return this.bound.adminGetFile(request, ctx);
  }

  async listMyFiles(
    request: Parameters<FileServiceHandlers["listMyFiles"]>[0],
    ctx: CallContext,
  ): ReturnType<FileServiceHandlers["listMyFiles"]> {
    const ownerId = callerOf(ctx);
    const size = request.pageSize === 0 ? defaultPageSize : request.pageSize;
    const after =
      request.pageToken === "" ? { afterUs: null, afterId: null } : parsePageToken(request.pageToken);
    // One more than a page: whether there is a next page without a count.
    const rows = await listFilesByOwner(
      this.db,
      { ownerId, ...after, pageSize: BigInt(size + 1) },
      { signal: ctx.signal },
    );
    const page = rows.slice(0, size);
    const last = page[page.length - 1];
    return {
      files: page.map((r) => ({
        id: r.id,
        name: r.name,
        contentType: r.contentType,
        sizeBytes: r.sizeBytes,
        createdAt: timestampFromDate(r.createdAt),
      })),
      nextPageToken:
        rows.length > size && last !== undefined ? pageToken(last.createdUs, last.id) : "",
    };
  }

  getUsage(
    request: Parameters<FileServiceHandlers["getUsage"]>[0],
    ctx: CallContext,
  ): ReturnType<FileServiceHandlers["getUsage"]> {
    return this.bound.getUsage(request, ctx);
  }

  async deleteFile(
    request: Parameters<FileServiceHandlers["deleteFile"]>[0],
    ctx: CallContext,
  ): ReturnType<FileServiceHandlers["deleteFile"]> {
    const ownerId = callerOf(ctx);
    const deleted = await deleteOwnFile(this.db, { id: request.id, ownerId }, { signal: ctx.signal });
    if (deleted === null) {
      // Not deleted: tell absent from someone else's.
      await this.ownFile(request.id, ctx);
      throw new RpcError(status.ABORTED, `File ${request.id} changed during the delete: retry`);
    }
    // The row is gone and the object's key queued, in one statement: the object goes now,
    // or, when that fails, on a later retry (never a row pointing at nothing).
    if (deleted.storage === "s3") await this.objects?.delete([deleted.storageKey]);
    return {};
  }

  /** The caller's file `id`: NOT_FOUND when absent, PERMISSION_DENIED for another user's. */
  private async ownFile(id: string, ctx: CallContext): Promise<GetFileRow> {
    const uid = callerOf(ctx);
    const row = await getFile(this.db, { id }, { signal: ctx.signal });
    if (row === null) throw new RpcError(status.NOT_FOUND, `No file ${id}`);
    if (row.ownerId !== uid) {
      throw new RpcError(status.PERMISSION_DENIED, `File ${id} belongs to another user`);
    }
    return row;
  }

  /**
   * A deleted account's files go: their rows, and with them the chunks of content kept in
   * PostgreSQL, in the consumer's transaction (a redelivered event is skipped, and a second
   * run would find nothing). The keys of their S3 objects are queued by the same statement
   * and the objects deleted only after the commit, so a rollback leaves every file readable.
   * If the process dies between the commit and the deletes, the objects stay in the bucket
   * with their keys queued in file_object_deletions, and the next sweep of an instance with
   * S3 (at its start, or within `sweepIntervalMs`) deletes them. Without S3 configured here
   * the keys wait in the queue for such an instance.
   */
  async onUserDeleted(event: UserDeleted, tx: PoolClient, ctx: EventContext): Promise<void> {
    const queued = await deleteOwnerFiles(tx, { ownerId: event.userId });
    const objects = this.objects;
    if (queued.length === 0 || objects === undefined) return;
    const keys = queued.map((r) => r.storageKey);
    ctx.afterCommit(() => objects.delete(keys));
  }
}
