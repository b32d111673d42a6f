/**
 * The one auth interceptor of the runtime's chain. The caller is resolved either by a
 * {@link TokenVerifier} (`authorization: Bearer <token>`, key fetches bounded by the call's
 * signal) or by an `authenticate` hook (any custom scheme); either way the method's rule
 * (public, authenticated, roles) is enforced here, and every refusal is reported once as a
 * security event with a bounded reason (the security log line and `auth_failures_total`).
 * Neither given: every call is anonymous, so only public methods succeed.
 */
import type { Metadata } from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import { isRpcError } from "../grpc/rpc-error.js";
import type { Principal } from "../grpc/server-handlers.js";
import type { ServerCall, ServerInterceptor } from "../server/interceptor.js";
import {
  bearerToken,
  type SecurityEvent,
  type SecurityEventListener,
} from "./authenticate-hook.js";
import {
  AuthError,
  type AuthFailureReason,
  isAuthError,
  type TokenVerifier,
} from "./token-verifier.js";

/** Resolves the caller from request metadata; undefined for an anonymous call. */
export type Authenticate = (metadata: Metadata, method: string) => Promise<Principal | undefined>;

/** Options of {@link createAuthInterceptor}. */
export interface AuthInterceptorOptions {
  /** Verifies bearer tokens. Takes precedence over `authenticate` when both are given. */
  readonly verifier?: TokenVerifier | undefined;
  /**
   * A custom resolver of the caller. Throw an RpcError (UNAUTHENTICATED for a bad credential)
   * to refuse; it is reported with reason `invalid_token` unless it is an {@link AuthError}.
   */
  readonly authenticate?: Authenticate | undefined;
  /** Called once per refused call. */
  readonly onSecurityEvent?: SecurityEventListener | undefined;
}

/** The principal of a call under `options`; undefined for an anonymous one. */
function resolve(
  options: AuthInterceptorOptions,
  metadata: Metadata,
  method: string,
  signal: AbortSignal,
): Promise<Principal | undefined> {
  const { verifier, authenticate } = options;
  try {
    if (verifier !== undefined) {
      const token = bearerToken(metadata);
      if (token === null) {
        throw new AuthError("malformed_header", "Malformed authorization header");
      }
      if (token === undefined) return Promise.resolve(undefined);
      return verifier.verify(token, signal);
    }
    return Promise.resolve(authenticate?.(metadata, method));
  } catch (error) {
    // A hook that throws instead of rejecting is refused the same way.
    return Promise.reject(error);
  }
}

/** The bounded reason of a refusal (errors of a custom hook have none of their own). */
function reasonOf(error: unknown): AuthFailureReason | undefined {
  if (isAuthError(error)) return error.reason;
  if (isRpcError(error)) {
    if (error.code === status.UNAUTHENTICATED) return "invalid_token";
    if (error.code === status.PERMISSION_DENIED) return "permission_denied";
  }
  return undefined;
}

/**
 * The auth interceptor: sets the call's principal and enforces the method's policy.
 * UNAUTHENTICATED without a (valid) caller on a non-public method, PERMISSION_DENIED without
 * one of the method's roles, UNAVAILABLE when signing keys cannot be fetched.
 */
export function createAuthInterceptor(options: AuthInterceptorOptions = {}): ServerInterceptor {
  const anonymous = options.verifier === undefined && options.authenticate === undefined;
  const report = options.onSecurityEvent;
  /** Reports a refusal once (the security line and metric), then passes it on. */
  const refuse = (call: ServerCall, error: unknown): never => {
    const reason = reasonOf(error);
    if (report !== undefined && reason !== undefined) {
      const uid = (error as { uid?: unknown }).uid;
      const event: SecurityEvent = {
        kind: reason === "permission_denied" ? "permission_denied" : "auth_failure",
        reason,
        method: call.info.path,
        peer: call.ctx.peer,
        requestId: call.requestId,
        ...(typeof uid === "string" ? { uid } : {}),
      };
      report(event);
    }
    throw error;
  };
  /** Sets the principal and enforces the method's rule; throws an AuthError to refuse. */
  const admit = (call: ServerCall, principal: Principal | undefined): void => {
    const rule = call.info.policy.auth;
    call.setPrincipal(principal);
    if (rule.kind === "public") return;
    if (principal === undefined) {
      throw new AuthError("missing_token", "This method needs a valid token");
    }
    if (rule.kind === "roles" && !rule.roles.some((r) => principal.roles.includes(r))) {
      throw new AuthError(
        "permission_denied",
        "The caller lacks a role this method needs",
        principal.uid,
      );
    }
  };
  // A chain of `then`s rather than an async function: one promise per call fewer, and errors
  // of the rest of the call (`next()`) are never mistaken for refusals.
  return (call, next) => {
    if (anonymous) {
      if (call.info.policy.auth.kind === "public") return next();
      try {
        admit(call, undefined);
      } catch (error) {
        return Promise.reject(error).catch((e: unknown) => refuse(call, e));
      }
      return next();
    }
    return resolve(options, call.ctx.metadata, call.info.path, call.ctx.signal).then(
      (principal) => {
        try {
          admit(call, principal);
        } catch (error) {
          refuse(call, error);
        }
        return next();
      },
      (error: unknown) => refuse(call, error),
    );
  };
}
