/**
 * Value conversions between node-postgres rows/params and protobuf-es messages, used by
 * generated bound handlers. Each failure is an RpcError the client can act on.
 */
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { status } from "@grpc/grpc-js";
import { invalidField, RpcError } from "./rpc-error.js";

/** An int8 as it may arrive from node-postgres (bigint parser, default string, or number). */
export function toBigInt(value: bigint | string | number): bigint {
  return typeof value === "bigint" ? value : BigInt(value);
}

/**
 * Requires a claim of the caller's token that a query parameter is bound to:
 * PERMISSION_DENIED when the token does not carry it (the caller is not entitled, the request
 * is not malformed).
 */
export function requiredClaim(value: unknown, claim: string): unknown {
  if (value === undefined || value === null) {
    throw new RpcError(status.PERMISSION_DENIED, `the caller's token has no ${claim} claim`);
  }
  return value;
}

/** Requires an optional request value for a NOT NULL parameter: INVALID_ARGUMENT when unset. */
export function required<T>(value: T | undefined | null, field: string): T {
  if (value === undefined || value === null) throw invalidField(field, "value is required");
  return value;
}

/** A jsonb value for a `google.protobuf.Struct` field: INTERNAL when it is not an object. */
export function toJsonObject(value: unknown, column: string): JsonObject {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    return value as JsonObject;
  }
  throw new RpcError(
    status.INTERNAL,
    `Column ${column} holds JSON that is not an object and cannot fill a google.protobuf.Struct`,
  );
}

/** Parses a JSON string request field for a json/jsonb parameter: INVALID_ARGUMENT if malformed. */
export function parseJsonField(value: string, field: string): JsonValue {
  try {
    return JSON.parse(value) as JsonValue;
  } catch {
    throw invalidField(field, "value is not valid JSON");
  }
}

/** Serialises a json/jsonb value for a string field. */
export function toJsonString(value: unknown): string {
  return JSON.stringify(value);
}

/** Maps a proto enum number to its Postgres label: INVALID_ARGUMENT for unspecified or unknown. */
export function enumToLabel<L extends string>(
  labels: ReadonlyMap<number, L>,
  value: number,
  field: string,
): L {
  const label = labels.get(value);
  if (label === undefined) {
    throw invalidField(field, `value ${value} is not one of the allowed enum values`);
  }
  return label;
}

/**
 * Checks a proto string request field that carries a Postgres enum label: the label itself,
 * typed as the enum, or INVALID_ARGUMENT naming the field and the labels it accepts.
 */
export function checkLabel<L extends string>(
  labels: ReadonlySet<L>,
  value: string,
  field: string,
): L {
  if (labels.has(value as L)) return value as L;
  throw invalidField(
    field,
    `${JSON.stringify(value)} is not one of ${[...labels].map((l) => JSON.stringify(l)).join(", ")}`,
  );
}

/** Maps a Postgres enum label to its proto enum number: INTERNAL for a label the proto lacks. */
export function labelToEnum(
  numbers: ReadonlyMap<string, number>,
  label: string,
  column: string,
): number {
  const n = numbers.get(label);
  if (n === undefined) {
    throw new RpcError(
      status.INTERNAL,
      `Column ${column} has enum label ${label} that the proto enum lacks`,
    );
  }
  return n;
}
