// Handlers of example.auth.v1.AuthService. Created once by svcgen; this file is yours to edit.
// svcgen adds a stub here when the proto gains an RPC and never changes anything else.

import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { status } from "@grpc/grpc-js";
import { withTransaction } from "@svcgen/runtime";
import { type CallContext, RpcError } from "@svcgen/runtime/grpc";
import type { Pool } from "pg";
import { createSession, upsertAccountOnSignIn } from "../../gen/db/auth/accounts.js";
import {
  type AuthServiceBound,
  type AuthServiceBoundOptions,
  type AuthServiceHandlers,
  createAuthServiceBound,
  emitUserSignedUp,
} from "../../gen/grpc/auth-service.js";

/** How long a session opened by SignIn lasts: 30 days. */
const sessionLifetimeMs = 30 * 24 * 3600 * 1000;

/** Serves example.auth.v1.AuthService: register with `addAuthService(server, new AuthServiceImpl(pool))`. */
export class AuthServiceImpl implements AuthServiceHandlers {
  private readonly bound: AuthServiceBound;
  private readonly db: Pool;

  constructor(db: Pool, options: AuthServiceBoundOptions = {}) {
    this.db = db;
    this.bound = createAuthServiceBound(db, options);
  }

  /**
   * The account comes from the verified token only (never from the request): its subject is
   * the account id, its `email` and `email_verified` claims are copied on every sign-in. The
   * account and the session are written in one transaction. Another account with the same
   * email is ALREADY_EXISTS (the accounts_email_key constraint, mapped by gen/errors.ts).
   */
  async signIn(
    request: Parameters<AuthServiceHandlers["signIn"]>[0],
    ctx: CallContext,
  ): ReturnType<AuthServiceHandlers["signIn"]> {
    const principal = ctx.principal;
    // The method's rule is `authenticated`: the auth step refused anonymous calls already.
    if (principal === undefined) throw new RpcError(status.UNAUTHENTICATED, "Sign in with a token");
    const { account, session } = await withTransaction(
      this.db,
      async (tx) => {
        const account = await upsertAccountOnSignIn(
          tx,
          {
            id: principal.uid,
            email: principal.email ?? null,
            emailVerified: principal.claims.email_verified === true,
          },
          { signal: ctx.signal },
        );
        if (account === null) throw new Error("the account upsert returned no row");
        // The first sign-in: the notification service welcomes the new user (delivered after
        // this transaction commits, never if it rolls back).
        if (account.created) {
          await emitUserSignedUp(tx, { userId: account.id, email: account.email ?? "" }, account.id);
        }
        const session = await createSession(
          tx,
          {
            accountId: account.id,
            userAgent: request.userAgent ?? null,
            expiresAt: new Date(Date.now() + sessionLifetimeMs),
          },
          { signal: ctx.signal },
        );
        if (session === null) throw new Error("the session insert returned no row");
        return { account, session };
      },
      { signal: ctx.signal },
    );
    return {
      account: {
        id: account.id,
        email: account.email ?? undefined,
        emailVerified: account.emailVerified,
        roles: account.roles,
        createdAt: timestampFromDate(account.createdAt),
        lastSignInAt: timestampFromDate(account.lastSignInAt),
      },
      session: {
        id: session.id,
        accountId: session.accountId,
        userAgent: session.userAgent ?? undefined,
        createdAt: timestampFromDate(session.createdAt),
        expiresAt: timestampFromDate(session.expiresAt),
      },
      created: account.created,
    };
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

  getMe(
    request: Parameters<AuthServiceHandlers["getMe"]>[0],
    ctx: CallContext,
  ): ReturnType<AuthServiceHandlers["getMe"]> {
    return this.bound.getMe(request, ctx);
  }
}
