/**
 * A small S3-compatible server on loopback for tests: the S3 REST calls the file service makes
 * (PutObject, GetObject, HeadObject, DeleteObject, CreateMultipartUpload, UploadPart,
 * CompleteMultipartUpload, AbortMultipartUpload), path-style, over real HTTP with the wire
 * format `@aws-sdk/client-s3` sends and parses (XML bodies, ETag headers, S3 error documents).
 * It checks that each request is SigV4-signed with its access key id (not the signature
 * itself) and keeps objects in memory, so a test can see exactly what was stored.
 */
import { createHash, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A running local S3 server. */
export interface LocalS3Server {
  /** `http://127.0.0.1:<port>`, for `S3_ENDPOINT`. */
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Object keys of `bucket`, sorted. */
  keys(bucket: string): string[];
  /** The bytes of an object, or undefined. */
  object(bucket: string, key: string): Buffer | undefined;
  /** Multipart uploads begun and neither completed nor aborted. */
  pendingUploads(): number;
  /** Requests served, by operation name (`PutObject`, `UploadPart`, ...). */
  requests(): Readonly<Record<string, number>>;
  /**
   * While true, every DeleteObject fails with 500 InternalError and deletes nothing (an S3
   * outage for deletes); counted as `DeleteObjectFailed`.
   */
  failDeletes(on: boolean): void;
  close(): Promise<void>;
}

interface Upload {
  readonly bucket: string;
  readonly key: string;
  readonly parts: Map<number, Buffer>;
  readonly contentType: string | undefined;
}

interface StoredObject {
  readonly body: Buffer;
  readonly contentType: string;
  readonly etag: string;
}

const xmlHeader = '<?xml version="1.0" encoding="UTF-8"?>';

function xmlEscape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => resolve(Buffer.concat(parts)));
    req.on("error", reject);
  });
}

function etagOf(body: Buffer): string {
  return `"${createHash("md5").update(body).digest("hex")}"`;
}

/** Starts a local S3 server with the given buckets. */
export async function startLocalS3Server(buckets: readonly string[]): Promise<LocalS3Server> {
  const accessKeyId = "LOCALS3TESTKEY";
  const secretAccessKey = "local-s3-test-secret";
  const store = new Map<string, Map<string, StoredObject>>(buckets.map((b) => [b, new Map()]));
  const uploads = new Map<string, Upload>();
  const counts: Record<string, number> = {};
  let deletesFail = false;

  const fail = (res: ServerResponse, code: number, s3Code: string, message: string): void => {
    res.writeHead(code, { "content-type": "application/xml" });
    res.end(
      `${xmlHeader}<Error><Code>${s3Code}</Code><Message>${xmlEscape(message)}</Message><RequestId>${randomUUID()}</RequestId></Error>`,
    );
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const auth = req.headers.authorization ?? "";
    if (!auth.startsWith(`AWS4-HMAC-SHA256 Credential=${accessKeyId}/`)) {
      // Drain the body first so the client sees the answer, not a reset connection.
      await readBody(req);
      fail(res, 403, "InvalidAccessKeyId", "The access key id does not exist in our records");
      return;
    }
    const [, bucketName = "", ...rest] = url.pathname.split("/");
    const key = decodeURIComponent(rest.join("/"));
    const bucket = store.get(bucketName);
    const body = await readBody(req);
    if (bucket === undefined) {
      fail(res, 404, "NoSuchBucket", `No bucket ${bucketName}`);
      return;
    }
    const q = url.searchParams;
    const uploadId = q.get("uploadId");
    const op = (name: string): void => {
      counts[name] = (counts[name] ?? 0) + 1;
    };
    if (req.method === "POST" && q.has("uploads")) {
      op("CreateMultipartUpload");
      const id = randomUUID();
      const ct = req.headers["content-type"];
      uploads.set(id, { bucket: bucketName, key, parts: new Map(), contentType: ct });
      res.writeHead(200, { "content-type": "application/xml" });
      res.end(
        `${xmlHeader}<InitiateMultipartUploadResult><Bucket>${bucketName}</Bucket><Key>${xmlEscape(key)}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`,
      );
      return;
    }
    if (uploadId !== null) {
      const upload = uploads.get(uploadId);
      if (upload === undefined || upload.key !== key || upload.bucket !== bucketName) {
        fail(res, 404, "NoSuchUpload", `No upload ${uploadId}`);
        return;
      }
      if (req.method === "PUT") {
        op("UploadPart");
        const n = Number(q.get("partNumber"));
        upload.parts.set(n, body);
        res.writeHead(200, { etag: etagOf(body) });
        res.end();
        return;
      }
      if (req.method === "POST") {
        op("CompleteMultipartUpload");
        const listed = [...body.toString("utf8").matchAll(/<PartNumber>(\d+)<\/PartNumber>/g)].map(
          (m) => Number(m[1]),
        );
        const pieces: Buffer[] = [];
        for (const n of listed) {
          const part = upload.parts.get(n);
          if (part === undefined) {
            fail(res, 400, "InvalidPart", `Part ${n} was not uploaded`);
            return;
          }
          pieces.push(part);
        }
        const whole = Buffer.concat(pieces);
        const etag = etagOf(whole);
        bucket.set(key, {
          body: whole,
          contentType: upload.contentType ?? "application/octet-stream",
          etag,
        });
        uploads.delete(uploadId);
        res.writeHead(200, { "content-type": "application/xml" });
        res.end(
          `${xmlHeader}<CompleteMultipartUploadResult><Bucket>${bucketName}</Bucket><Key>${xmlEscape(key)}</Key><ETag>${xmlEscape(etag)}</ETag></CompleteMultipartUploadResult>`,
        );
        return;
      }
      if (req.method === "DELETE") {
        op("AbortMultipartUpload");
        uploads.delete(uploadId);
        res.writeHead(204);
        res.end();
        return;
      }
    }
    if (req.method === "PUT") {
      op("PutObject");
      const etag = etagOf(body);
      bucket.set(key, {
        body,
        contentType: req.headers["content-type"] ?? "application/octet-stream",
        etag,
      });
      res.writeHead(200, { etag });
      res.end();
      return;
    }
    if (req.method === "GET" || req.method === "HEAD") {
      op(req.method === "GET" ? "GetObject" : "HeadObject");
      const obj = bucket.get(key);
      if (obj === undefined) {
        if (req.method === "HEAD") {
          res.writeHead(404);
          res.end();
        } else fail(res, 404, "NoSuchKey", "The specified key does not exist.");
        return;
      }
      res.writeHead(200, {
        "content-type": obj.contentType,
        "content-length": String(obj.body.length),
        etag: obj.etag,
      });
      res.end(req.method === "GET" ? obj.body : undefined);
      return;
    }
    if (req.method === "DELETE") {
      if (deletesFail) {
        op("DeleteObjectFailed");
        fail(res, 500, "InternalError", "Deletes are failing in this test");
        return;
      }
      op("DeleteObject");
      bucket.delete(key);
      res.writeHead(204);
      res.end();
      return;
    }
    fail(res, 405, "MethodNotAllowed", `${req.method} is not supported here`);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => fail(res, 500, "InternalError", String(e)));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    accessKeyId,
    secretAccessKey,
    keys: (b) => [...(store.get(b)?.keys() ?? [])].sort(),
    object: (b, k) => store.get(b)?.get(k)?.body,
    pendingUploads: () => uploads.size,
    requests: () => ({ ...counts }),
    failDeletes: (on) => {
      deletesFail = on;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
