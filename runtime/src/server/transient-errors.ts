/**
 * Which failures are transient (worth a retry after a pause, and evidence that a dependency
 * is down) and which mean the dependency is unavailable right now (a fallback may serve).
 */
import { status } from "@grpc/grpc-js";
import { BrokenCircuitError, IsolatedCircuitError } from "cockatiel";
import { isRpcError } from "../grpc/rpc-error.js";

const transientStates = new Set(["40001", "40P01", "57P01", "57P02", "57P03", "53300"]);
const socketCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EHOSTUNREACH",
]);

/**
 * Raised by the runtime's pool when no connection could be had: nothing was sent to the
 * database, so even a non-idempotent call may be retried. `code` is the cause's (a socket
 * error code or SQLSTATE), else 08006.
 */
export class DatabaseUnavailableError extends Error {
  override readonly name = "DatabaseUnavailableError";
  /** The cause's error code, or 08006 (connection failure). */
  readonly code: string;
  /** Always true: the failure happened before any statement was sent. */
  readonly beforeSend = true;

  constructor(cause: unknown) {
    super("The database is unavailable", { cause });
    const code = (cause as { code?: unknown } | null)?.code;
    this.code = typeof code === "string" ? code : "08006";
  }
}

/** The code (SQLSTATE or socket error code) of `error`, if it has one. */
function codeOf(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

/**
 * True for a failure that a retry after a pause may cure: a lost or refused connection,
 * serialization failure (40001), deadlock (40P01), admin shutdown (57P0x), too many
 * connections (53300), any 08xxx. node-postgres reports a connection lost mid-query without a
 * code ("Connection terminated ..."): that counts too.
 */
export function isTransientError(error: unknown): boolean {
  if (error instanceof DatabaseUnavailableError) return true;
  const code = codeOf(error);
  if (code !== undefined) {
    return transientStates.has(code) || code.startsWith("08") || socketCodes.has(code);
  }
  return error instanceof Error && error.message.startsWith("Connection terminated");
}

/**
 * True when the primary dependency is unavailable right now: its breaker is open, no
 * connection could be had, the connection was lost mid-query, or the call already ended
 * UNAVAILABLE. This is when a fallback runs.
 */
export function isDependencyUnavailable(error: unknown): boolean {
  if (error instanceof BrokenCircuitError || error instanceof IsolatedCircuitError) return true;
  if (error instanceof DatabaseUnavailableError) return true;
  if (isRpcError(error)) return error.code === status.UNAVAILABLE;
  // A connection lost mid-query (57P01, 08xxx, a reset socket); not a conflict (40001, 40P01).
  const code = codeOf(error);
  return isTransientError(error) && code !== "40001" && code !== "40P01";
}
