/** Errors the database layer of the runtime raises itself (server errors pass through as they are). */

/**
 * Raised when a query or transaction is aborted through its AbortSignal. Named `AbortError`
 * like the DOM's, so `err.name === "AbortError"` checks work; `reason` is the signal's reason
 * and `cause` the server's error (SQLSTATE 57014) when the query was cancelled in flight.
 */
export class QueryAbortedError extends Error {
  override readonly name = "AbortError";
  /**
   * SQLSTATE 57014 (query_canceled), whether or not the query had reached the server, so an
   * error map keyed by SQLSTATE (gRPC CANCELLED / DEADLINE_EXCEEDED) treats every abort alike.
   */
  readonly code = "57014";
  /** The signal's `reason`. */
  readonly reason: unknown;
  /** The query's name from the annotation, or undefined outside a query (transactions). */
  readonly queryName: string | undefined;

  constructor(reason: unknown, queryName?: string, cause?: unknown) {
    super(
      queryName === undefined ? "Operation aborted" : `Query ${queryName} aborted`,
      cause === undefined ? undefined : { cause },
    );
    this.reason = reason;
    this.queryName = queryName;
  }
}

/** Raised by a `:one` query that returned more than one row. */
export class TooManyRowsError extends Error {
  override readonly name = "TooManyRowsError";
  /** The query's name from the annotation. */
  readonly queryName: string;
  /** How many rows came back. */
  readonly rowCount: number;

  constructor(queryName: string, rowCount: number) {
    super(`Query ${queryName} (:one) returned ${rowCount} rows, expected at most one`);
    this.queryName = queryName;
    this.rowCount = rowCount;
  }
}

/**
 * Raised by `withTransaction` when PostgreSQL answered its COMMIT with ROLLBACK: a statement
 * of the transaction failed and the function went on (it caught the error) and returned, so
 * nothing of the transaction was stored. Not retried: the function chose to go on, and what it
 * returned describes work that did not happen.
 */
export class TransactionRolledBackError extends Error {
  override readonly name = "TransactionRolledBackError";

  constructor() {
    super("The transaction was rolled back at COMMIT: a statement in it failed");
  }
}

/** True for an error raised because an AbortSignal fired. */
export function isAbortError(err: unknown): err is QueryAbortedError {
  return err instanceof Error && err.name === "AbortError";
}

/** The SQLSTATE of a PostgreSQL error from node-postgres, or undefined for other errors. */
export function sqlState(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null || !("code" in err)) return undefined;
  const code = (err as { code: unknown }).code;
  return typeof code === "string" && code.length === 5 ? code : undefined;
}
