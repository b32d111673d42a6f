// Handlers of example.auth.v1.AuthService. Created once by svcgen; this file is yours to edit.
// svcgen adds a stub here when the proto gains an RPC and never changes anything else.

import { type CallContext, unimplemented } from "@svcgen/runtime/grpc";
import type { Pool } from "pg";
import {
  type AuthServiceBound,
  type AuthServiceBoundOptions,
  type AuthServiceHandlers,
  createAuthServiceBound,
} from "../../gen/grpc/auth-service.js";

/** Serves example.auth.v1.AuthService: register with `addAuthService(server, new AuthServiceImpl(pool))`. */
export class AuthServiceImpl implements AuthServiceHandlers {
  private readonly bound: AuthServiceBound;

  constructor(db: Pool, options: AuthServiceBoundOptions = {}) {
    this.bound = createAuthServiceBound(db, options);
  }

  signIn(
    _request: Parameters<AuthServiceHandlers["signIn"]>[0],
    _ctx: CallContext,
  ): ReturnType<AuthServiceHandlers["signIn"]> {
    throw unimplemented("example.auth.v1.AuthService/SignIn");
  }

  getAccount(
    request: Parameters<AuthServiceHandlers["getAccount"]>[0],
    ctx: CallContext,
  ): ReturnType<AuthServiceHandlers["getAccount"]> {
    return this.bound.getAccount(request, ctx);
  }

  setAccountRoles(
    request: Parameters<AuthServiceHandlers["setAccountRoles"]>[0],
    ctx: CallContext,
  ): ReturnType<AuthServiceHandlers["setAccountRoles"]> {
    return this.bound.setAccountRoles(request, ctx);
  }

  createSession(
    request: Parameters<AuthServiceHandlers["createSession"]>[0],
    ctx: CallContext,
  ): ReturnType<AuthServiceHandlers["createSession"]> {
    return this.bound.createSession(request, ctx);
  }

  listSessions(
    request: Parameters<AuthServiceHandlers["listSessions"]>[0],
    ctx: CallContext,
  ): ReturnType<AuthServiceHandlers["listSessions"]> {
    return this.bound.listSessions(request, ctx);
  }

  revokeSession(
    request: Parameters<AuthServiceHandlers["revokeSession"]>[0],
    ctx: CallContext,
  ): ReturnType<AuthServiceHandlers["revokeSession"]> {
    return this.bound.revokeSession(request, ctx);
  }
}
