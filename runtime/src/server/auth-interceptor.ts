/**
 * Authorization by the method's rule (public, authenticated, roles), with the principal
 * resolved by the `authenticate` hook (Firebase, OIDC, a test verifier).
 */
import type { Metadata } from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import { RpcError } from "../grpc/rpc-error.js";
import type { Principal } from "../grpc/server-handlers.js";
import type { ServerInterceptor } from "./interceptor.js";

/** Resolves the caller from request metadata; undefined for an anonymous call. */
export type Authenticate = (metadata: Metadata, method: string) => Promise<Principal | undefined>;

/**
 * The auth interceptor. Without `authenticate` every call is anonymous, so only public
 * methods succeed. UNAUTHENTICATED without a principal, PERMISSION_DENIED without a role.
 */
export function createAuthInterceptor(authenticate: Authenticate | undefined): ServerInterceptor {
  return async (call, next) => {
    const rule = call.info.policy.auth;
    const principal =
      authenticate === undefined
        ? undefined
        : await authenticate(call.ctx.metadata, call.info.path);
    call.setPrincipal(principal);
    if (rule.kind !== "public") {
      if (principal === undefined) {
        throw new RpcError(status.UNAUTHENTICATED, "This method needs a valid token");
      }
      if (rule.kind === "roles" && !rule.roles.some((r) => principal.roles.includes(r))) {
        throw new RpcError(status.PERMISSION_DENIED, "The caller lacks a role this method needs");
      }
    }
    return next();
  };
}
