/**
 * The default map from database errors to gRPC statuses, by SQLSTATE class (SPEC's table).
 * The client learns what kind of failure happened and, for constraint violations, which
 * fields; never the SQL text, the values, or other internal detail.
 */
import { status } from "@grpc/grpc-js";
import { isRpcError, RpcError } from "./rpc-error.js";

/** The fields of a node-postgres error this map reads. */
interface PgErrorLike {
  readonly code?: unknown;
  readonly detail?: unknown;
  readonly column?: unknown;
  readonly constraint?: unknown;
  readonly reason?: unknown;
  readonly cause?: unknown;
}

const sqlstateRe = /^[0-9A-Z]{5}$/;

/** Column names from a key detail (`Key (org_id, email)=(…)`), without the values. */
function keyColumns(detail: unknown): string[] {
  if (typeof detail !== "string") return [];
  const m = /^Key \(([^)]*)\)=/.exec(detail);
  return m === null ? [] : (m[1] ?? "").split(",").map((c) => c.trim().replace(/^"|"$/g, ""));
}

/**
 * The RpcError a database error maps to, or undefined when `error` is not one (it then stays
 * INTERNAL). Connection failures (08xxx, refused or reset sockets) and an unavailable server
 * are UNAVAILABLE; 57014 (an aborted query) takes the abort's own status when it was a
 * deadline or a client cancel.
 */
export function databaseErrorToRpc(error: unknown): RpcError | undefined {
  if (error === null || typeof error !== "object") return undefined;
  const e = error as PgErrorLike;
  const code = typeof e.code === "string" ? e.code : undefined;
  if (code === undefined) return undefined;
  if (["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND"].includes(code)) {
    return new RpcError(status.UNAVAILABLE, "The database is unavailable", { cause: error });
  }
  if (!sqlstateRe.test(code)) return undefined;
  const fields = [...keyColumns(e.detail), ...(typeof e.column === "string" ? [e.column] : [])];
  const violations = (description: string) =>
    fields.map((field) => ({
      field,
      description,
      ...(typeof e.constraint === "string" ? { reason: e.constraint } : {}),
    }));
  switch (code) {
    case "23505":
      return new RpcError(status.ALREADY_EXISTS, "Already exists", {
        violations: violations("must be unique"),
        cause: error,
      });
    case "23503":
      return new RpcError(
        status.FAILED_PRECONDITION,
        "A referenced record does not exist, or one still refers to this",
        {
          violations: violations("refers to a missing record, or is still referenced"),
          cause: error,
        },
      );
    case "23502":
      return new RpcError(status.INVALID_ARGUMENT, "A required value is missing", {
        violations: violations("is required"),
        cause: error,
      });
    case "23514":
      return new RpcError(status.INVALID_ARGUMENT, "A value is out of the allowed range", {
        violations: violations("violates a check"),
        cause: error,
      });
    case "40001":
    case "40P01":
      return new RpcError(status.ABORTED, "Conflict with a concurrent change; retry", {
        cause: error,
      });
    case "42501":
      return new RpcError(status.PERMISSION_DENIED, "Permission denied", { cause: error });
    case "57014":
      if (isRpcError(e.reason)) return e.reason;
      return new RpcError(status.DEADLINE_EXCEEDED, "The query was cancelled", { cause: error });
    case "57P01":
    case "57P02":
    case "57P03":
      return new RpcError(status.UNAVAILABLE, "The database is unavailable", { cause: error });
    default:
      break;
  }
  if (code.startsWith("22")) {
    return new RpcError(status.INVALID_ARGUMENT, "A value is not valid for its type", {
      violations: violations("is not valid"),
      cause: error,
    });
  }
  if (code.startsWith("08") || code.startsWith("53")) {
    return new RpcError(status.UNAVAILABLE, "The database is unavailable", { cause: error });
  }
  return undefined;
}
