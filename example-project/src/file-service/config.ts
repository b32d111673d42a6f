// The file service's settings from the environment: the size limit and, when S3_BUCKET is
// set, S3-compatible object storage for new files' content.

import { S3Client } from "@aws-sdk/client-s3";
import type { S3Target } from "./storage.js";

/** The default upload limit: 10 MiB. */
export const defaultMaxBytes = 10 * 1024 * 1024;

/** S3's smallest multipart part (except the last). */
const minPartBytes = 5 * 1024 * 1024;

/** What {@link fileServiceConfigFromEnv} reads. */
export interface FileServiceConfig {
  /** `FILE_MAX_BYTES`: the largest upload, in bytes. Default 10 MiB. */
  readonly maxBytes: number;
  /** `FILE_MAX_CONCURRENT_UPLOADS`: uploads in progress at once per instance. Default 4. */
  readonly maxConcurrentUploads: number;
  /** Object storage for new files, when `S3_BUCKET` is set; else content goes to PostgreSQL. */
  readonly s3: S3Target | undefined;
}

/**
 * Reads the file service's settings. Every variable is optional:
 *
 * - `FILE_MAX_BYTES`: upload limit in bytes (default 10485760).
 * - `FILE_MAX_CONCURRENT_UPLOADS`: uploads in progress at once (default 4); each holds a
 *   database connection (PostgreSQL storage) or up to one part in memory (S3) while the
 *   client sends, so slow uploads cannot take the whole pool from the other RPCs.
 * - `S3_BUCKET`: store new files' content in this bucket (default: in PostgreSQL).
 * - `S3_ENDPOINT`: the S3-compatible endpoint, e.g. Supabase's
 *   `https://<project>.supabase.co/storage/v1/s3` (default: AWS S3 of the region).
 * - `S3_REGION`: default `us-east-1`.
 * - `S3_ACCESS_KEY_ID`, `S3_SECRET_ACCESS_KEY`: both or neither (neither: the AWS SDK's default
 *   chain, `AWS_ACCESS_KEY_ID`, profiles, instance roles).
 * - `S3_FORCE_PATH_STYLE`: `true` (default: `https://endpoint/bucket/key`, what Supabase and
 *   most S3-compatible servers need) or `false` (virtual-hosted, `bucket.endpoint`).
 * - `S3_PART_BYTES`: multipart part size, at least 5 MiB (default 8 MiB); smaller uploads are
 *   one PutObject.
 *
 * Throws one error listing every invalid variable.
 */
export function fileServiceConfigFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
): FileServiceConfig {
  const problems: string[] = [];
  const int = (name: string, fallback: number, min: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < min) {
      problems.push(`${name}=${JSON.stringify(raw)}: expected a whole number of bytes >= ${min}`);
      return fallback;
    }
    return n;
  };
  const maxBytes = int("FILE_MAX_BYTES", defaultMaxBytes, 1);
  const maxConcurrentUploads = int("FILE_MAX_CONCURRENT_UPLOADS", 4, 1);
  const bucket = env.S3_BUCKET ?? "";
  let s3: S3Target | undefined;
  if (bucket !== "") {
    const partBytes = int("S3_PART_BYTES", 8 * 1024 * 1024, minPartBytes);
    const accessKeyId = env.S3_ACCESS_KEY_ID ?? "";
    const secretAccessKey = env.S3_SECRET_ACCESS_KEY ?? "";
    if ((accessKeyId === "") !== (secretAccessKey === "")) {
      problems.push("S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY: set both or neither");
    }
    const pathStyle = env.S3_FORCE_PATH_STYLE ?? "true";
    if (pathStyle !== "true" && pathStyle !== "false") {
      problems.push(`S3_FORCE_PATH_STYLE=${JSON.stringify(pathStyle)}: expected true or false`);
    }
    const endpoint = env.S3_ENDPOINT ?? "";
    if (endpoint !== "" && !/^https?:\/\/[^/\s]+/.test(endpoint)) {
      problems.push(`S3_ENDPOINT=${JSON.stringify(endpoint)}: expected an http(s):// URL`);
    }
    if (problems.length === 0) {
      s3 = {
        bucket,
        partBytes,
        client: createS3Client({
          ...(endpoint === "" ? {} : { endpoint }),
          region: env.S3_REGION || "us-east-1",
          forcePathStyle: pathStyle === "true",
          ...(accessKeyId === "" ? {} : { credentials: { accessKeyId, secretAccessKey } }),
        }),
      };
    }
  } else {
    for (const name of ["S3_ENDPOINT", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"]) {
      if ((env[name] ?? "") !== "") problems.push(`${name} is set but S3_BUCKET is not: set it too`);
    }
  }
  if (problems.length > 0) {
    throw new Error(`Invalid file service configuration:\n  ${problems.join("\n  ")}`);
  }
  return { maxBytes, maxConcurrentUploads, s3 };
}

/** Options of {@link createS3Client}. */
export interface S3ClientSettings {
  readonly endpoint?: string;
  readonly region: string;
  readonly forcePathStyle: boolean;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

/**
 * An S3 client for S3-compatible servers: checksums only where the API requires them (the
 * SDK's newer default adds CRC32 checksums and aws-chunked bodies that several S3-compatible
 * servers reject); the service verifies SHA-256 itself.
 */
export function createS3Client(settings: S3ClientSettings): S3Client {
  return new S3Client({
    ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
    region: settings.region,
    forcePathStyle: settings.forcePathStyle,
    ...(settings.credentials === undefined ? {} : { credentials: { ...settings.credentials } }),
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 3,
  });
}
