/**
 * The verifier contract every token issuer plugs into: Firebase is the default, any OIDC/JWKS
 * issuer is another implementation. A verifier turns a bearer token into a {@link Principal}
 * or rejects with an {@link AuthError} whose `reason` is a small fixed set (a metric label and a
 * security-log field, so never free text from the token).
 */
import { status } from "@grpc/grpc-js";
import { isRpcError, RpcError } from "../grpc/rpc-error.js";
import type { Principal } from "../grpc/server-handlers.js";

export type { Principal };

/** Why a call was refused; bounded, so it can label metrics. */
export type AuthFailureReason =
  | "missing_token"
  | "malformed_header"
  | "invalid_token"
  | "expired"
  | "bad_signature"
  | "unknown_key"
  | "wrong_audience"
  | "wrong_issuer"
  | "not_yet_valid"
  | "bad_subject"
  | "revoked"
  | "keys_unavailable"
  | "revocation_unavailable"
  | "permission_denied";

/** Every reason, for pre-registering metric series. */
export const authFailureReasons: readonly AuthFailureReason[] = [
  "missing_token",
  "malformed_header",
  "invalid_token",
  "expired",
  "bad_signature",
  "unknown_key",
  "wrong_audience",
  "wrong_issuer",
  "not_yet_valid",
  "bad_subject",
  "revoked",
  "keys_unavailable",
  "revocation_unavailable",
  "permission_denied",
];

/**
 * A refused token. `code` is UNAUTHENTICATED, except `keys_unavailable` and
 * `revocation_unavailable` (UNAVAILABLE: the issuer could not be asked, the caller may retry,
 * the token may be fine) and `permission_denied` (PERMISSION_DENIED).
 * The message is safe to send to the caller: it never contains the token.
 */
export class AuthError extends RpcError {
  constructor(
    readonly reason: AuthFailureReason,
    message: string,
    /** The verified caller, for a permission denial (logged, never sent to the client). */
    readonly uid?: string,
  ) {
    super(
      reason === "keys_unavailable" || reason === "revocation_unavailable"
        ? status.UNAVAILABLE
        : reason === "permission_denied"
          ? status.PERMISSION_DENIED
          : status.UNAUTHENTICATED,
      message,
    );
  }
}

/** True for an {@link AuthError}, also one from another copy of this package. */
export function isAuthError(error: unknown): error is AuthError {
  return (
    error instanceof AuthError ||
    (isRpcError(error) && typeof (error as { reason?: unknown }).reason === "string")
  );
}

/** Thrown at start for an auth configuration that must not run (names the variables). */
export class AuthConfigError extends Error {
  override readonly name = "AuthConfigError";
}

/** Verifies bearer tokens of one issuer. */
export interface TokenVerifier {
  /**
   * The principal of a valid token; rejects with an {@link AuthError} otherwise. Never waits
   * past `signal`: an abort while keys are being fetched rejects with `keys_unavailable`.
   */
  verify(token: string, signal?: AbortSignal): Promise<Principal>;
  /**
   * Resolves once signing keys are loaded (readiness waits on it); rejects when the first
   * fetch fails, after which `verify` keeps retrying the fetch on demand.
   */
  ready(): Promise<void>;
  /** True while usable keys are cached (for `/readyz`). */
  keysLoaded(): boolean;
  /** Stops background refreshes and releases resources. */
  close(): Promise<void>;
}

/**
 * Checks what some libraries leave out: a non-empty `sub` of at most 128 characters, and `iat`
 * and `auth_time` (when present) not in the future (`skewSeconds` allowed for clock drift).
 * firebase-admin 13 checks neither time claim.
 */
export function checkStandardClaims(
  claims: Readonly<Record<string, unknown>>,
  nowMs: number,
  skewSeconds = 0,
): void {
  const sub = claims.sub;
  if (typeof sub !== "string" || sub.length === 0 || sub.length > 128) {
    throw new AuthError(
      "bad_subject",
      "The token's subject is empty or longer than 128 characters",
    );
  }
  const iat = claims.iat;
  if (iat !== undefined && (typeof iat !== "number" || iat > nowMs / 1000 + skewSeconds)) {
    throw new AuthError("not_yet_valid", "The token was issued in the future");
  }
  const authTime = claims.auth_time;
  if (authTime !== undefined) {
    if (typeof authTime !== "number" || authTime > nowMs / 1000 + skewSeconds) {
      throw new AuthError("not_yet_valid", "The token's auth_time is in the future");
    }
  }
}

/** The principal of verified claims: uid from `sub`, roles from a `roles` string array claim. */
export function principalOf(claims: Readonly<Record<string, unknown>>): Principal {
  const roles = Array.isArray(claims.roles)
    ? claims.roles.filter((r): r is string => typeof r === "string")
    : [];
  const email = typeof claims.email === "string" ? claims.email : undefined;
  return {
    uid: String(claims.sub),
    ...(email === undefined ? {} : { email }),
    roles,
    claims,
  };
}

/**
 * Races `work` against `signal`, rejecting with an {@link AuthError} of `reason` (default
 * `keys_unavailable`: what the caller was waiting for) when it aborts first.
 */
export function raceSignal<T>(
  work: Promise<T>,
  signal: AbortSignal | undefined,
  reason: "keys_unavailable" | "revocation_unavailable" = "keys_unavailable",
): Promise<T> {
  if (signal === undefined) return work;
  if (signal.aborted) {
    return Promise.reject(new AuthError(reason, "Token verification was cancelled"));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void =>
      reject(new AuthError(reason, "Token verification did not finish in time"));
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
