/**
 * The calls the tracing test records (loaded after the SDK started): a client calling the
 * users service (GetUser runs SQL); a proxy service calling it downstream; two concurrent
 * calls on a pool of one connection held by the test until both wait for it; a failing call.
 */

import { setTimeout as sleep } from "node:timers/promises";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { trace } from "@opentelemetry/api";
import { createGrpcServerLogInterceptor, createServiceLogger } from "@svcgen/runtime/telemetry";
import pg from "pg";
import type { Logger } from "pino";
import { getUser as getUserRow } from "../../fixtures/golden/grpc/users/gen/db/users.js";
import {
  addUserService,
  createUserServiceClient,
  type UserServiceClient,
} from "../../fixtures/golden/grpc/users/gen/grpc/user-service.js";
import type { GetUserRequest } from "../../fixtures/golden/grpc/users/gen/proto/acme/users/v1/users_pb.js";
import { UserStatus } from "../../fixtures/golden/grpc/users/gen/proto/acme/users/v1/users_pb.js";
import { UserServiceImpl } from "../../fixtures/golden/grpc/users/src/user-service/handlers.js";
import { logLinesInto } from "./log-lines.js";

async function serve(
  add: (s: Server) => void,
  log: Logger | undefined,
): Promise<{ server: Server; address: string }> {
  const server = new Server(
    log === undefined ? {} : { interceptors: [createGrpcServerLogInterceptor(log)] },
  );
  add(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) =>
      e === null ? resolve(p) : reject(e),
    ),
  );
  return { server, address: `127.0.0.1:${port}` };
}

/** Runs every scenario under its own root span; returns the service's log lines. */
export async function runScenario(databaseUrl: string): Promise<Record<string, unknown>[]> {
  const logs: Record<string, unknown>[] = [];
  const sink = logLinesInto(logs);
  const logger = createServiceLogger({ service: "users", destination: sink, env: {} });
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  const backend = await serve((s) => addUserService(s, new UserServiceImpl(pool)), logger.log);
  const direct = createUserServiceClient(backend.address);
  // The proxy serves the same API by calling the backend: a second service in the trace.
  class ProxyService extends UserServiceImpl {
    override getUser(request: GetUserRequest) {
      return direct.getUser({ id: request.id });
    }
  }
  const proxy = await serve((s) => addUserService(s, new ProxyService(pool)), undefined);
  const viaProxy: UserServiceClient = createUserServiceClient(proxy.address);
  const tracer = trace.getTracer("tracing-test");
  const root = <T>(name: string, fn: () => Promise<T>): Promise<T> =>
    tracer.startActiveSpan(name, async (span) => {
      try {
        return await fn();
      } finally {
        span.end();
      }
    });

  const created = await direct.createUser({
    email: `t-${process.pid}-${Date.now()}@example.com`,
    name: "T",
    balance: "0",
    status: UserStatus.ACTIVE,
  });
  await root("direct", () => direct.getUser({ id: created.id }));
  await root("proxied", () => viaProxy.getUser({ id: created.id }));
  // Saturate the pool: the test holds its only connection until both calls wait for it.
  const held = await pool.connect();
  const a = root("concurrent-a", () => direct.getUser({ id: created.id }));
  const b = root("concurrent-b", () => direct.getUser({ id: 424_242n }).catch(() => undefined));
  for (let i = 0; i < 500 && pool.waitingCount < 2; i++) await sleep(10);
  const waited = pool.waitingCount;
  held.release();
  await Promise.all([a, b]);
  // The same without a signal (a query run outside a call): the runner checks a connection
  // out itself rather than using pool.query, which would parent the SQL span to the query
  // that released the connection.
  const held2 = await pool.connect();
  const c = root("no-signal-a", () => getUserRow(pool, { id: created.id }));
  const d = root("no-signal-b", () => getUserRow(pool, { id: created.id }));
  for (let i = 0; i < 500 && pool.waitingCount < 2; i++) await sleep(10);
  const waited2 = pool.waitingCount;
  held2.release();
  await Promise.all([c, d]);
  logs.push({ waited2 });
  await root("failing", () => direct.getUser({ id: 777_777n }).catch(() => undefined));
  logs.push({ waited });
  direct.close();
  viaProxy.close();
  backend.server.forceShutdown();
  proxy.server.forceShutdown();
  await pool.end();
  await logger.close();
  return logs;
}
