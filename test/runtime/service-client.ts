/** Client-side helpers of the runtime's server tests: statuses, details, health, latency. */
import { createRequire } from "node:module";
import { fromBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import {
  type ChannelCredentials,
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

/**
 * Asks server reflection (v1) for the service list and for the file defining `symbol`;
 * returns the service names and how many file descriptors came back.
 */
export async function reflect(
  address: string,
  symbol: string,
): Promise<{ services: string[]; files: number }> {
  const { loadSync } = await import("@grpc/proto-loader");
  const { loadPackageDefinition } = await import("@grpc/grpc-js");
  const protoPath = createRequire(import.meta.url).resolve(
    "@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto",
  );
  const pkg = loadPackageDefinition(loadSync(protoPath)) as unknown as {
    grpc: {
      reflection: {
        v1: { ServerReflection: new (a: string, c: ChannelCredentials) => ReflectionClient };
      };
    };
  };
  const client = new pkg.grpc.reflection.v1.ServerReflection(address, credentials.createInsecure());
  try {
    const ask = (request: object) =>
      new Promise<ReflectionResponse>((resolve, reject) => {
        const call = client.ServerReflectionInfo();
        call.on("data", (r: ReflectionResponse) => {
          resolve(r);
          call.end();
        });
        call.on("error", reject);
        call.write(request);
      });
    const list = await ask({ listServices: "" });
    const file = await ask({ fileContainingSymbol: symbol });
    return {
      services: (list.listServicesResponse?.service ?? []).map((s) => s.name),
      files: file.fileDescriptorResponse?.fileDescriptorProto.length ?? 0,
    };
  } finally {
    client.close();
  }
}

interface ReflectionResponse {
  listServicesResponse?: { service: { name: string }[] };
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
}
interface ReflectionClient {
  ServerReflectionInfo(): {
    on(event: "data", l: (r: ReflectionResponse) => void): void;
    on(event: "error", l: (e: Error) => void): void;
    write(r: object): void;
    end(): void;
  };
  close(): void;
}
