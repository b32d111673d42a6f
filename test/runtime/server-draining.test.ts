/**
 * `ctx.draining`: one signal shared by every call of a server, aborted when a graceful
 * shutdown stops accepting calls while each call's own `signal` stays live. A call that waits
 * for it ends itself with its own answer, and the shutdown completes without reaching the end
 * of its grace period (no call is cancelled).
 */
import { status } from "@grpc/grpc-js";
import { type CallContext, RpcError } from "@svcgen/runtime/grpc";
import { defineService, startServer } from "@svcgen/runtime/server";
import { afterAll, beforeAll, expect, test } from "vitest";
import {
  createUserServiceClient,
  userServicePolicies,
} from "../../example-project/gen/grpc/user-service.js";
import { UserService } from "../../example-project/gen/proto/example/user/v1/user_pb.js";
import { UserServiceImpl } from "../../example-project/src/user-service/handlers.js";
import { createTestDatabase, type TestDatabase } from "../db.js";
import { outcome } from "./service-client.js";
import { userErrorMap, userSchemaSql } from "./user-test-service.js";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase("server_draining", await userSchemaSql());
});

afterAll(async () => {
  await db?.drop();
});

/** What the waiting call saw when the server started draining. */
interface AtDrain {
  readonly signalAborted: boolean;
}

/**
 * UserService whose `GetProfileByHandle` records every call's context, and for the handle
 * `until_draining` waits for `ctx.draining`, then answers NOT_FOUND itself.
 */
class DrainAwareUserService extends UserServiceImpl {
  readonly contexts: CallContext[] = [];
  atDrain: AtDrain | undefined;

  override async getProfileByHandle(
    request: Parameters<UserServiceImpl["getProfileByHandle"]>[0],
    ctx: CallContext,
  ): ReturnType<UserServiceImpl["getProfileByHandle"]> {
    this.contexts.push(ctx);
    if (request.handle !== "until_draining") return super.getProfileByHandle(request, ctx);
    if (!ctx.draining.aborted) {
      await new Promise((resolve) =>
        ctx.draining.addEventListener("abort", resolve, { once: true }),
      );
    }
    this.atDrain = { signalAborted: ctx.signal.aborted };
    throw new RpcError(status.NOT_FOUND, "drained");
  }
}

test("ctx.draining is one shared signal, aborted when the shutdown stops accepting calls while ctx.signal stays live", async () => {
  let service: DrainAwareUserService | undefined;
  const lines: string[] = [];
  const log = (fields: object, message: string): void => {
    lines.push(JSON.stringify({ ...fields, msg: message }));
  };
  const handle = await startServer({
    services: [
      defineService({
        service: UserService,
        handlers: (pool) => {
          service = new DrainAwareUserService(pool);
          return service;
        },
        policies: userServicePolicies,
      }),
    ],
    env: { DATABASE_URL: db.url },
    // Long enough that only a call ending itself lets the shutdown finish before it.
    settings: { host: "127.0.0.1", port: 0, httpPort: 0, shutdownGraceMs: 60_000 },
    errorMap: userErrorMap,
    logger: { info: log, warn: log, error: log },
  });
  const client = createUserServiceClient(handle.grpcAddress);
  try {
    for (const handleName of ["nobody", "noone"]) {
      const r = await outcome(() => client.getProfileByHandle({ handle: handleName }));
      expect(r.code).toBe(status.NOT_FOUND);
    }
    const [first, second] = service?.contexts ?? [];
    // The server's one signal: nothing made per call.
    expect(first?.draining).toBe(second?.draining);
    expect(first?.draining.aborted).toBe(false);

    const waiting = outcome(() =>
      client.getProfileByHandle({ handle: "until_draining" }, { timeoutMs: 120_000 }),
    );
    while ((service?.contexts.length ?? 0) < 3) await new Promise((r) => setTimeout(r, 10));
    await handle.close();
    const r = await waiting;
    // The call answered for itself: neither cancelled nor cut off as UNAVAILABLE.
    expect({ code: r.code, details: r.error?.details }).toEqual({
      code: status.NOT_FOUND,
      details: "drained",
    });
    expect(service?.atDrain).toEqual({ signalAborted: false });
    expect(first?.draining.aborted).toBe(true);
    expect(lines.filter((l) => l.includes("grace period over"))).toEqual([]);
    expect(lines.some((l) => l.includes('"graceful":true') && l.includes('"msg":"stopped"'))).toBe(
      true,
    );
  } finally {
    client.close();
    await handle.close();
  }
});
