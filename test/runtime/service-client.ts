/** Client-side helpers of the runtime's server tests: statuses, details, health, latency. */
import { fromBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import {
  credentials,
  makeGenericClientConstructor,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import { BadRequestSchema, ErrorInfoSchema, StatusSchema } from "@svcgen/runtime/grpc";
import { service as healthService } from "grpc-health-check";

/** How one call ended. */
export interface Outcome {
  readonly code: status;
  readonly ms: number;
  readonly error?: ServiceError;
}

/** Runs a call and records its status and duration; never rejects. */
export async function outcome(call: () => Promise<unknown>): Promise<Outcome> {
  const t0 = performance.now();
  try {
    await call();
    return { code: status.OK, ms: performance.now() - t0 };
  } catch (e) {
    const error = e as ServiceError;
    return {
      code: typeof error.code === "number" ? error.code : status.UNKNOWN,
      ms: performance.now() - t0,
      error,
    };
  }
}

/** The rich details of a failed call: ErrorInfo reason/domain and BadRequest fields. */
export function detailsOf(error: ServiceError | undefined): {
  message: string;
  reason?: string;
  domain?: string;
  metadata?: Record<string, string>;
  fields: string[];
  text: string;
} {
  const raw = error?.metadata?.get("grpc-status-details-bin")[0];
  if (!(raw instanceof Buffer))
    return { message: error?.details ?? "", fields: [], text: error?.details ?? "" };
  const st = fromBinary(StatusSchema, raw);
  let reason: string | undefined;
  let domain: string | undefined;
  let metadata: Record<string, string> | undefined;
  const fields: string[] = [];
  const texts: string[] = [st.message];
  for (const any of st.details) {
    const info = anyUnpack(any, ErrorInfoSchema);
    if (info !== undefined) {
      reason = info.reason;
      domain = info.domain;
      metadata = info.metadata;
      texts.push(info.reason, info.domain, ...Object.values(info.metadata));
    }
    const bad = anyUnpack(any, BadRequestSchema);
    if (bad !== undefined) {
      for (const v of bad.fieldViolations) {
        fields.push(v.field);
        texts.push(v.field, v.description, v.reason);
      }
    }
  }
  return {
    message: st.message,
    ...(reason === undefined ? {} : { reason }),
    ...(domain === undefined ? {} : { domain }),
    ...(metadata === undefined ? {} : { metadata }),
    fields,
    text: texts.join(" "),
  };
}

const HealthClient = makeGenericClientConstructor(healthService, "Health");

/** Asks `grpc.health.v1.Health/Check` for `service` ("" for the server). */
export function checkHealth(address: string, service = ""): Promise<string> {
  const client = new HealthClient(address, credentials.createInsecure());
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      "/grpc.health.v1.Health/Check",
      (v: { service: string }) => Buffer.from(encodeHealthRequest(v.service)),
      (b: Buffer) => decodeHealthStatus(b),
      { service },
      { deadline: Date.now() + 2000 },
      (err: ServiceError | null, res?: string) => {
        client.close();
        if (err !== null) reject(err);
        else resolve(res ?? "UNKNOWN");
      },
    );
  });
}

// HealthCheckRequest { string service = 1; } and HealthCheckResponse { ServingStatus status = 1; }
function encodeHealthRequest(service: string): Uint8Array {
  const bytes = Buffer.from(service, "utf8");
  return bytes.length === 0
    ? new Uint8Array()
    : Buffer.concat([Buffer.from([0x0a, bytes.length]), bytes]);
}
function decodeHealthStatus(b: Buffer): string {
  const value = b.length >= 2 && b[0] === 0x08 ? (b[1] ?? 0) : 0;
  return ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"][value] ?? "UNKNOWN";
}

/** The p-th percentile (0-100) of `values`. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return (
    sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN
  );
}

/** GET on the side port: the status code. */
export async function httpStatus(address: string, path: string): Promise<number> {
  const res = await fetch(`http://${address}${path}`);
  await res.arrayBuffer();
  return res.status;
}
