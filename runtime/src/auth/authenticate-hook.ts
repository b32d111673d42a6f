/**
 * Connects a {@link TokenVerifier} to servers built on `createServerHandlers` alone: the
 * `authenticate` hook of `ServerHandlerOptions`. It reads `authorization: Bearer <token>`,
 * enforces the method's rule (public, authenticated, roles) and reports every refusal once as
 * a security event with a bounded reason. The runtime's chain uses `createAuthInterceptor`
 * (`auth-interceptor.ts`), which takes this same hook or a verifier.
 */
import type { DescService } from "@bufbuild/protobuf";
import type { Metadata } from "@grpc/grpc-js";
import type { AuthRule, MethodPolicy, Principal } from "../grpc/server-handlers.js";
import {
  AuthError,
  type AuthFailureReason,
  isAuthError,
  type TokenVerifier,
} from "./token-verifier.js";

/** One refused call, for the security log and the auth-failure metric. */
export interface SecurityEvent {
  readonly kind: "auth_failure" | "permission_denied";
  readonly reason: AuthFailureReason;
  /** `/package.Service/Method`. */
  readonly method: string;
  /** The caller's address when known. */
  readonly peer?: string;
  /** The verified uid, for permission denials. */
  readonly uid?: string;
  /** The request id, when the caller is known to the chain. */
  readonly requestId?: string;
}

/** Receives security events (the logger's security channel, the auth metric). */
export type SecurityEventListener = (event: SecurityEvent) => void;

/** Options of {@link createAuthenticate}. */
export interface AuthenticateOptions {
  /** Called once per refused call. */
  readonly onSecurityEvent?: SecurityEventListener;
  /**
   * The rule of a method path; default `authenticated` for every method. With it, a missing
   * token on a non-public method and a missing role are refused (and reported) here.
   */
  readonly ruleOf?: (method: string) => AuthRule | undefined;
}

const bearer = /^Bearer ([A-Za-z0-9_\-.=+/]+)$/;

/** The bearer token of `metadata`: undefined without the header; `null` for a malformed one. */
export function bearerToken(metadata: Metadata): string | undefined | null {
  const values = metadata.get("authorization");
  if (values.length === 0) return undefined;
  const raw = values[0];
  if (values.length > 1 || typeof raw !== "string") return null;
  return bearer.exec(raw)?.[1] ?? null;
}

/**
 * A rule lookup by method path for a generated service: its policies table keyed by local
 * name (`userServicePolicies`); a method without a policy is `authenticated`.
 */
export function ruleLookup(
  service: DescService,
  policies: Readonly<Record<string, MethodPolicy>>,
): (method: string) => AuthRule | undefined {
  const rules = new Map<string, AuthRule>();
  for (const m of service.methods) {
    rules.set(
      `/${service.typeName}/${m.name}`,
      policies[m.localName]?.auth ?? { kind: "authenticated" },
    );
  }
  return (method) => rules.get(method);
}

/** Verifies and authorizes one call; the principal, or undefined for an anonymous public call. */
async function authorizeCall(
  verifier: TokenVerifier,
  metadata: Metadata,
  rule: AuthRule,
  signal: AbortSignal | undefined,
): Promise<Principal | undefined> {
  const token = bearerToken(metadata);
  if (token === null) throw new AuthError("malformed_header", "Malformed authorization header");
  if (token === undefined) {
    if (rule.kind === "public") return undefined;
    throw new AuthError("missing_token", "This method needs a valid token");
  }
  const principal = await verifier.verify(token, signal);
  if (rule.kind === "roles" && !rule.roles.some((r) => principal.roles.includes(r))) {
    throw new AuthError(
      "permission_denied",
      "The caller lacks a role this method needs",
      principal.uid,
    );
  }
  return principal;
}

function report(
  options: AuthenticateOptions,
  error: unknown,
  method: string,
  extra: { peer?: string; requestId?: string },
): void {
  if (!isAuthError(error) || options.onSecurityEvent === undefined) return;
  const event: SecurityEvent = {
    kind: error.reason === "permission_denied" ? "permission_denied" : "auth_failure",
    reason: error.reason,
    method,
    ...(error.uid === undefined ? {} : { uid: error.uid }),
    ...extra,
  };
  options.onSecurityEvent(event);
}

// The principal each call's metadata resolved to, for the grpc-js call log (which sees the
// same Metadata object but not the handler's context): on the Metadata object under a symbol,
// not in a WeakMap keyed by every call's metadata (an ephemeron per call for the GC).
const principalKey = Symbol("svcgen.principal");
type WithPrincipal = Metadata & { [principalKey]?: Principal };

/** The principal `createAuthenticate` resolved for a call's request metadata, if any. */
export function principalOfMetadata(metadata: Metadata): Principal | undefined {
  return (metadata as WithPrincipal)[principalKey];
}

/**
 * The `authenticate` hook of `ServerHandlerOptions` for `verifier`. A bad token rejects with
 * UNAUTHENTICATED (UNAVAILABLE when keys cannot be fetched); with `ruleOf`, a missing token on
 * a non-public method and a missing role are refused here too, so each is reported.
 */
export function createAuthenticate(
  verifier: TokenVerifier,
  options: AuthenticateOptions = {},
): (metadata: Metadata, method: string) => Promise<Principal | undefined> {
  return async (metadata, method) => {
    const rule = options.ruleOf?.(method) ?? { kind: "authenticated" };
    try {
      const principal = await authorizeCall(verifier, metadata, rule, undefined);
      if (principal !== undefined) (metadata as WithPrincipal)[principalKey] = principal;
      return principal;
    } catch (error) {
      report(options, error, method, {});
      throw error;
    }
  };
}
