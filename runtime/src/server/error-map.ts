/**
 * The run-time half of the per-constraint error map. The generator emits a table
 * (`gen/errors.ts`) from the catalog: for every unique, foreign-key, check, not-null and
 * exclusion constraint, the gRPC code, a stable reason, the proto fields it concerns and a
 * safe message. This module applies it to errors; anything the table does not name falls back
 * to the SQLSTATE defaults (`databaseErrorToRpc`). SQL text, values and internal names never
 * reach the client: only the table's own words do.
 */
import { status } from "@grpc/grpc-js";
import { BrokenCircuitError, BulkheadRejectedError, IsolatedCircuitError } from "cockatiel";
import { databaseErrorToRpc } from "../grpc/db-errors.js";
import { isRpcError, RpcError } from "../grpc/rpc-error.js";
import type { ServerInterceptor } from "./interceptor.js";
import { isTransientError } from "./transient-errors.js";

/** A gRPC status code by name (`"ALREADY_EXISTS"`), as generated tables spell it. */
export type StatusName = keyof typeof status;

/** The kind of a catalog constraint. */
export type ConstraintKind =
  | "unique"
  | "primary_key"
  | "foreign_key"
  | "check"
  | "not_null"
  | "exclusion";

/** How one constraint's violation reaches the client. */
export interface ConstraintErrorRule {
  readonly kind: ConstraintKind;
  /** The status code (`ALREADY_EXISTS` for unique, `FAILED_PRECONDITION` for FK, ...). */
  readonly code: StatusName;
  /** The `google.rpc.ErrorInfo` reason: the constraint's name in UPPER_SNAKE_CASE, `USERS_EMAIL_KEY`. */
  readonly reason: string;
  /** The request fields it concerns, named as proto fields (`email`); [] when none is bound. */
  readonly fields: readonly string[];
  /** The status message, safe to show (`A profile with this handle already exists`). */
  readonly message: string;
  /** The description of each field violation (`must be unique`). */
  readonly description: string;
}

/**
 * The per-constraint error map of one database: `constraints` is keyed by constraint name
 * (`users_email_key`) and, for NOT NULL (which PostgreSQL reports without a constraint name),
 * by `table.column` (`users.email`). Constraint names are unique per table, not per database:
 * a key that several tables share is listed under `tables`, by the violating table's
 * `schema.table` (`public.payments`), where the same key finds that table's rule.
 */
export interface ErrorMapTable {
  /** The `ErrorInfo` domain of every reason, e.g. the proto package (`example.user.v1`). */
  readonly domain: string;
  readonly constraints: Readonly<Record<string, ConstraintErrorRule>>;
  /**
   * Rules of keys several tables share, by `schema.table` and then by the same key as
   * `constraints`; consulted first, with the error's `schema` and `table`. Default none.
   */
  readonly tables?: Readonly<Record<string, Readonly<Record<string, ConstraintErrorRule>>>>;
}

interface PgConstraintError {
  readonly code?: unknown;
  readonly constraint?: unknown;
  readonly schema?: unknown;
  readonly table?: unknown;
  readonly column?: unknown;
}

/**
 * The rule of `table` for a constraint violation, or undefined: the violating table's own rule
 * (`tables`, by the error's `schema.table`) first, else the key's rule in `constraints`.
 */
function ruleFor(table: ErrorMapTable, error: PgConstraintError): ConstraintErrorRule | undefined {
  const scoped =
    table.tables !== undefined &&
    typeof error.schema === "string" &&
    typeof error.table === "string"
      ? own(table.tables, `${error.schema}.${error.table}`)
      : undefined;
  if (typeof error.constraint === "string") {
    const rule = own(scoped, error.constraint) ?? own(table.constraints, error.constraint);
    if (rule !== undefined) return rule;
  }
  if (
    error.code === "23502" &&
    typeof error.table === "string" &&
    typeof error.column === "string"
  ) {
    const key = `${error.table}.${error.column}`;
    return own(scoped, key) ?? own(table.constraints, key);
  }
  return undefined;
}

/** `record[key]` when it is the record's own (a constraint named `constructor` is no rule). */
function own<T>(record: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;
}

/**
 * The RpcError `error` maps to, or undefined when nothing knows it (it then becomes
 * INTERNAL in the recover step). Order: an RpcError stays; an abort takes its reason's
 * status; an open breaker or a lost database is UNAVAILABLE; a full bulkhead
 * RESOURCE_EXHAUSTED; a constraint the table names gets its rule; other database errors the
 * SQLSTATE defaults.
 */
export function mapError(error: unknown, table?: ErrorMapTable): RpcError | undefined {
  if (isRpcError(error)) return error;
  if (error instanceof BrokenCircuitError || error instanceof IsolatedCircuitError) {
    return new RpcError(status.UNAVAILABLE, "The database is unavailable; retry later", {
      cause: error,
    });
  }
  if (error instanceof BulkheadRejectedError) {
    return new RpcError(status.RESOURCE_EXHAUSTED, "Too many concurrent calls; retry later", {
      cause: error,
    });
  }
  if (table !== undefined && typeof error === "object" && error !== null) {
    const rule = ruleFor(table, error as PgConstraintError);
    if (rule !== undefined) {
      return new RpcError(status[rule.code], rule.message, {
        violations: rule.fields.map((field) => ({
          field,
          description: rule.description,
          reason: rule.reason,
        })),
        errorInfo: { reason: rule.reason, domain: table.domain },
        cause: error,
      });
    }
  }
  const mapped = databaseErrorToRpc(error);
  if (mapped !== undefined) {
    // The default map names key columns, which are internal names: with a table, the table
    // decides what is shown; without one, keep the defaults' column names.
    return mapped;
  }
  if (isTransientError(error)) {
    return new RpcError(status.UNAVAILABLE, "The database is unavailable", { cause: error });
  }
  return undefined;
}

/** The error-map interceptor: maps what it knows, passes the rest on unchanged. */
export function createErrorMapInterceptor(table?: ErrorMapTable): ServerInterceptor {
  const map = (error: unknown): never => {
    throw mapError(error, table) ?? error;
  };
  return (_call, next) => next().catch(map);
}
