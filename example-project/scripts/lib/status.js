// gRPC statuses for people: code names, and the google.rpc details a failed call carries.
import { fromBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { BadRequestSchema, ErrorInfoSchema, StatusSchema } from "@svcgen/runtime/grpc";

const names = [
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
  return names[code] ?? `status ${code}`;
}

/** The google.rpc.Status details of a failed call (grpc-status-details-bin), or []. */
function detailsOf(error) {
  const raw = error?.metadata?.get?.("grpc-status-details-bin")[0];
  return raw instanceof Buffer ? fromBinary(StatusSchema, raw).details : [];
}

/** The call's google.rpc.ErrorInfo, if it carries one. */
export function errorInfoOf(error) {
  for (const d of detailsOf(error)) {
    const info = anyUnpack(d, ErrorInfoSchema);
    if (info !== undefined) return info;
  }
  return undefined;
}

/** Readable lines of a failed call's details: field violations, ErrorInfo, anything else. */
export function detailLines(error) {
  const lines = [];
  for (const d of detailsOf(error)) {
    const badRequest = anyUnpack(d, BadRequestSchema);
    if (badRequest !== undefined) {
      for (const v of badRequest.fieldViolations) lines.push(`field ${v.field}: ${v.description}`);
      continue;
    }
    const info = anyUnpack(d, ErrorInfoSchema);
    if (info !== undefined) {
      const meta = Object.entries(info.metadata)
        .map(([k, v]) => `${k}=${v}`)
        .join(" ");
      lines.push(
        `ErrorInfo reason ${info.reason} domain ${info.domain}${meta === "" ? "" : ` ${meta}`}`,
      );
      continue;
    }
    lines.push(`detail ${d.typeUrl}`);
  }
  return lines;
}
