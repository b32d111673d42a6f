// Where the file service keeps file content: PostgreSQL (the file_chunks table, the default)
// or S3-compatible object storage (AWS S3, Supabase Storage, MinIO, R2, ...) when configured.
// Metadata always lives in PostgreSQL, in the same `files` row either way.

import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { status } from "@grpc/grpc-js";
import { withTransaction } from "@svcgen/runtime";
import { RpcError } from "@svcgen/runtime/grpc";
import type { Client, Pool, PoolClient } from "pg";
import {
  type CreateFileRow,
  createFile,
  getFileChunk,
  insertFileChunk,
} from "../../gen/db/file/files.js";

/** Bytes per row of file_chunks and per chunk message of a download: 256 KiB. */
export const chunkBytes = 256 * 1024;

/** A file about to be stored: its metadata row, as the upload declared it. */
export interface NewFile {
  readonly id: string;
  readonly ownerId: string;
  readonly recordId: bigint | null;
  readonly name: string;
  readonly contentType: string;
  readonly sizeBytes: bigint;
  readonly sha256: Uint8Array;
  readonly storageKey: string;
}

/** A stored file as its row says: where its content is. */
export interface StoredFile {
  readonly id: string;
  readonly storage: string;
  readonly storageKey: string;
  readonly sizeBytes: bigint;
}

/** An S3 client and bucket; see {@link createS3Storage}. */
export interface S3Target {
  /** An `@aws-sdk/client-s3` client, `forcePathStyle` for most S3-compatible servers. */
  readonly client: S3Client;
  readonly bucket: string;
  /**
   * Uploads up to this size are buffered and sent with one PutObject; larger ones go as a
   * multipart upload of parts this size (S3's minimum part is 5 MiB). Default 8 MiB.
   */
  readonly partBytes?: number;
}

/** One storage backend of file content. */
export interface FileStorage {
  /** `postgres` or `s3`: what new files record in `files.storage`. */
  readonly kind: "postgres" | "s3";
  /**
   * Stores `content` and the metadata row, all or nothing: when `content` throws (a wrong
   * checksum, a size over the limit, a cancelled call) or the row cannot be committed,
   * nothing is left behind. `content` verifies itself before it ends. `inTransaction` runs in
   * the transaction that commits the row (the upload's event goes there), after the insert.
   */
  store(
    file: NewFile,
    content: AsyncIterable<Uint8Array>,
    signal: AbortSignal,
    inTransaction?: (tx: PoolClient | Client, row: CreateFileRow) => Promise<void>,
  ): Promise<CreateFileRow>;
}

/** Reads the content of stored files, from wherever each one's row says it is. */
export interface ContentReader {
  /** The content of `file` in chunks of at most {@link chunkBytes}, read as they are pulled. */
  read(file: StoredFile, signal: AbortSignal): AsyncIterable<Uint8Array>;
}

/** Re-slices a byte stream into chunks of exactly `size` bytes (the last may be shorter). */
async function* rechunk(source: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let held = 0;
  for await (const piece of source) {
    let buf = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    while (held + buf.length >= size) {
      const take = size - held;
      parts.push(buf.subarray(0, take));
      yield Buffer.concat(parts, size);
      parts = [];
      held = 0;
      buf = buf.subarray(take);
    }
    if (buf.length > 0) {
      // Copy: the caller may reuse its buffer once we ask for the next one.
      parts.push(Buffer.from(buf));
      held += buf.length;
    }
  }
  if (held > 0) yield Buffer.concat(parts, held);
}

/** Content in PostgreSQL: the row and its chunks written in one transaction. */
export function createPostgresStorage(db: Pool): FileStorage {
  return {
    kind: "postgres",
    store(file, content, signal, inTransaction) {
      return withTransaction(
        db,
        async (tx) => {
          const row = await createFile(tx, { ...file, storage: "postgres" }, { signal });
          if (row === null) throw new Error("INSERT ... RETURNING gave no row");
          let seq = 0;
          for await (const chunk of rechunk(content, chunkBytes)) {
            await insertFileChunk(tx, { fileId: file.id, seq, data: chunk }, { signal });
            seq++;
          }
          // A call cancelled after its last chunk still stores nothing.
          if (signal.aborted) throw signal.reason;
          await inTransaction?.(tx, row);
          return row;
        },
        // The content stream can be read only once: a serialization failure is not retried.
        { maxRetries: 0, signal },
      );
    },
  };
}

/**
 * Content in S3-compatible object storage, under `storageKey` in the bucket. The object is
 * written first (one PutObject up to `partBytes`, else a multipart upload that is aborted on
 * failure), then the metadata row is committed; if that commit fails the object is deleted,
 * so no row ever points at nothing. Only a crash between the two can leave an object without
 * a row (harmless, and found by listing the bucket against `files.storage_key`).
 */
export function createS3Storage(db: Pool, target: S3Target): FileStorage {
  const partBytes = target.partBytes ?? 8 * 1024 * 1024;
  return {
    kind: "s3",
    async store(file, content, signal, inTransaction) {
      await putObject(target, file, content, partBytes, signal);
      try {
        if (signal.aborted) throw signal.reason;
        return await withTransaction(
          db,
          async (tx) => {
            const row = await createFile(tx, { ...file, storage: "s3" }, { signal });
            if (row === null) throw new Error("INSERT ... RETURNING gave no row");
            await inTransaction?.(tx, row);
            return row;
          },
          { signal },
        );
      } catch (error) {
        await deleteObject(target, file.storageKey);
        throw error;
      }
    },
  };
}

async function putObject(
  target: S3Target,
  file: NewFile,
  content: AsyncIterable<Uint8Array>,
  partBytes: number,
  signal: AbortSignal,
): Promise<void> {
  const { client, bucket } = target;
  const key = file.storageKey;
  let uploadId: string | undefined;
  const parts: { ETag: string; PartNumber: number }[] = [];
  try {
    for await (const part of rechunk(content, partBytes)) {
      if (part.length < partBytes && uploadId === undefined) {
        // The whole file fits in one part: one PUT, after the content verified itself.
        await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: part,
            ContentLength: part.length,
            ContentType: file.contentType,
          }),
          { abortSignal: signal },
        );
        return;
      }
      if (uploadId === undefined) {
        const created = await client.send(
          new CreateMultipartUploadCommand({
            Bucket: bucket,
            Key: key,
            ContentType: file.contentType,
          }),
          { abortSignal: signal },
        );
        if (created.UploadId === undefined) throw new Error("CreateMultipartUpload gave no UploadId");
        uploadId = created.UploadId;
      }
      const PartNumber = parts.length + 1;
      const sent = await client.send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber,
          Body: part,
          ContentLength: part.length,
        }),
        { abortSignal: signal },
      );
      parts.push({ ETag: sent.ETag ?? "", PartNumber });
    }
    if (uploadId === undefined) {
      // Empty content: the loop never ran.
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: Buffer.alloc(0),
          ContentLength: 0,
          ContentType: file.contentType,
        }),
        { abortSignal: signal },
      );
      return;
    }
    // Every part is sent and the content verified itself (its last read checks the size and
    // the checksum): only now does the object come into being.
    if (signal.aborted) throw signal.reason;
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts },
      }),
      { abortSignal: signal },
    );
  } catch (error) {
    if (uploadId !== undefined) {
      // Not under the call's signal: it may be the reason we are here.
      await client
        .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }))
        .catch(() => undefined);
    }
    throw error;
  }
}

/** Deletes the object `key` of the bucket; deleting one that does not exist succeeds. */
export async function deleteObject(target: S3Target, key: string): Promise<void> {
  await target.client.send(new DeleteObjectCommand({ Bucket: target.bucket, Key: key }));
}

/** Reads content from PostgreSQL, and from S3 when `s3` is given. */
export function createContentReader(db: Pool, s3: S3Target | undefined): ContentReader {
  return {
    async *read(file, signal) {
      let read = 0n;
      if (file.storage === "postgres") {
        // One short query per chunk, no transaction: a slow reader holds no connection.
        for (let seq = 0; ; seq++) {
          const row = await getFileChunk(db, { fileId: file.id, seq }, { signal });
          if (row === null) break;
          read += BigInt(row.data.length);
          yield row.data;
        }
      } else if (file.storage === "s3") {
        if (s3 === undefined) {
          throw new RpcError(
            status.FAILED_PRECONDITION,
            `File ${file.id} is stored in S3, but this service has no S3_BUCKET configured`,
          );
        }
        const got = await s3.client.send(
          new GetObjectCommand({ Bucket: s3.bucket, Key: file.storageKey }),
          { abortSignal: signal },
        );
        const body = got.Body as AsyncIterable<Uint8Array> | undefined;
        if (body === undefined) throw new Error(`GetObject of ${file.storageKey} gave no body`);
        // Pulled as the client reads: the HTTP response is read no faster than gRPC drains.
        for await (const chunk of rechunk(body, chunkBytes)) {
          read += BigInt(chunk.length);
          yield chunk;
        }
      } else {
        throw new Error(`File ${file.id} has unknown storage ${JSON.stringify(file.storage)}`);
      }
      if (read !== file.sizeBytes) {
        // Deleted (or replaced) while it was being read.
        throw new RpcError(
          status.ABORTED,
          `File ${file.id} changed during the download (${read} of ${file.sizeBytes} bytes read): retry`,
        );
      }
    },
  };
}
