// Opaque page tokens for keyset pagination, shared by the example's hand-written list RPCs.

import { createHash } from "node:crypto";
import { invalidField } from "@svcgen/runtime/grpc";

/**
 * What a page token carries: the keyset cursor (the sort key of the last row sent) and a
 * fingerprint of the filters it was made for, so a token reused with other filters is refused
 * instead of silently paging through another result.
 */
interface TokenBody {
  readonly v: 1;
  readonly after: string;
  readonly q: string;
}

/** A short fingerprint of a request's filters (JSON of the given values, in order). */
export function filterFingerprint(filters: readonly unknown[]): string {
  return createHash("sha256")
    .update(JSON.stringify(filters, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v)))
    .digest("base64url")
    .slice(0, 16);
}

/** Encodes the cursor `after` (the last row's sort key) for the filters `fingerprint`. */
export function encodePageToken(after: string, fingerprint: string): string {
  const body: TokenBody = { v: 1, after, q: fingerprint };
  return Buffer.from(JSON.stringify(body)).toString("base64url");
}

/**
 * Decodes a page token made by {@link encodePageToken} for the same filters; undefined for
 * no token (the first page). A token that is malformed or was made for other filters is
 * INVALID_ARGUMENT on `field`.
 */
export function decodePageToken(
  token: string | undefined,
  fingerprint: string,
  field = "page_token",
): string | undefined {
  if (token === undefined) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw invalidField(field, "not a page token of this list");
  }
  if (
    typeof body !== "object" ||
    body === null ||
    !("v" in body && body.v === 1) ||
    !("after" in body && typeof body.after === "string") ||
    !("q" in body && typeof body.q === "string")
  ) {
    throw invalidField(field, "not a page token of this list");
  }
  if (body.q !== fingerprint) {
    throw invalidField(field, "the page token was made for other filters");
  }
  return body.after;
}
