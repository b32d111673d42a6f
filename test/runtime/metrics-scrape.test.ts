/**
 * `/metrics` after known traffic over real gRPC (the users fixture's generated service on
 * loopback, real PostgreSQL): exact counts per method and code on both sides, the pool and
 * query metrics, and `promtool check metrics` accepting the whole exposition.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer, type Server as HttpServer } from "node:http";
import * as path from "node:path";
import { Server, ServerCredentials, status } from "@grpc/grpc-js";
import { configureRuntime } from "@svcgen/runtime";
import {
  createGrpcClientMetricsInterceptor,
  createGrpcServerMetricsInterceptor,
  createMetricsHandler,
  createMetricsRegistry,
  metricsEnabledFromEnv,
  registerAuthMetrics,
  registerGrpcClientMetrics,
  registerGrpcServerMetrics,
  registerQueryMetrics,
  registerResilienceMetrics,
} from "@svcgen/runtime/telemetry";
import pg from "pg";
import { afterAll, beforeAll, expect, test } from "vitest";
import {
  addUserService,
  createUserServiceClient,
  type UserServiceClient,
} from "../../fixtures/golden/grpc/users/gen/grpc/user-service.js";
import { UserStatus } from "../../fixtures/golden/grpc/users/gen/proto/acme/users/v1/users_pb.js";
import { UserServiceImpl } from "../../fixtures/golden/grpc/users/src/user-service/handlers.js";
import { createTestDatabase, type TestDatabase } from "../db.js";
import { usersProject } from "../proto/proto-fixture.js";
import { systemTool } from "../system-tools.js";

let db: TestDatabase;
let pool: pg.Pool;
let server: Server;
let http: HttpServer;
let metricsUrl = "";
let client: UserServiceClient;
let shed = 0;

beforeAll(async () => {
  db = await createTestDatabase(
    "metrics_scrape",
    readFileSync(path.join(usersProject, "sql/schema.sql"), "utf8"),
  );
  pool = new pg.Pool({ connectionString: db.url, max: 3 });
  const registry = createMetricsRegistry({ defaultMetrics: true });
  const serverMetrics = registerGrpcServerMetrics(registry);
  const clientMetrics = registerGrpcClientMetrics(registry);
  const observeQuery = registerQueryMetrics(registry);
  configureRuntime({ queryObserver: (name, seconds) => observeQuery(name, seconds) });
  const authFailed = registerAuthMetrics(registry);
  authFailed({ kind: "auth_failure", reason: "expired", method: "/x.Y/Z" });
  registerResilienceMetrics(registry, {
    pool,
    breakers: () => [{ name: "db", state: "closed" }],
    bulkheads: () => [{ name: "default", inFlight: 0, queued: 0, rejected: 2 }],
    retries: () => [{ name: "GetUser", retries: 1 }],
    shed: () => shed,
  });
  server = new Server({ interceptors: [createGrpcServerMetricsInterceptor(serverMetrics)] });
  addUserService(server, new UserServiceImpl(pool));
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) =>
      e === null ? resolve(p) : reject(e),
    ),
  );
  client = createUserServiceClient(`127.0.0.1:${port}`, {
    channelOptions: { interceptors: [createGrpcClientMetricsInterceptor(clientMetrics)] },
  });
  http = createServer(createMetricsHandler(registry));
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  const a = http.address();
  metricsUrl = `http://127.0.0.1:${typeof a === "object" && a !== null ? a.port : 0}/metrics`;
});

afterAll(async () => {
  configureRuntime({ queryObserver: undefined });
  client?.close();
  server?.forceShutdown();
  http?.close();
  await pool?.end();
  await db?.drop();
});

async function codeOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return status.OK;
  } catch (e) {
    return (e as { code: number }).code;
  }
}

/** The value of one sample line, by exact name and labels as exposed. */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

test("exact counts per method and code after known traffic; promtool accepts the scrape", async () => {
  const created = await client.createUser({
    email: "m@example.com",
    name: "M",
    balance: "0",
    status: UserStatus.ACTIVE,
  });
  for (let i = 0; i < 3; i++) await client.getUser({ id: created.id });
  for (let i = 0; i < 2; i++)
    expect(await codeOf(client.getUser({ id: 999_999n }))).toBe(status.NOT_FOUND);
  expect(
    await codeOf(
      client.createUser({ email: "bad", name: "", balance: "0", status: UserStatus.ACTIVE }),
    ),
  ).toBe(status.INVALID_ARGUMENT);
  let streamed = 0;
  for await (const _ of client.streamNumbers({ count: 5 })) streamed += 1;
  expect(streamed).toBe(5);
  shed = 4;

  const res = await fetch(metricsUrl);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("text/plain");
  const text = await res.text();
  const svc = 'grpc_service="acme.users.v1.UserService"';
  for (const side of ["server", "client"]) {
    const u = (m: string) => `grpc_type="unary",${svc},grpc_method="${m}"`;
    expect(sample(text, `grpc_${side}_started_total{${u("GetUser")}}`)).toBe(5);
    expect(sample(text, `grpc_${side}_handled_total{${u("GetUser")},grpc_code="OK"}`)).toBe(3);
    expect(sample(text, `grpc_${side}_handled_total{${u("GetUser")},grpc_code="NotFound"}`)).toBe(
      2,
    );
    expect(sample(text, `grpc_${side}_handled_total{${u("CreateUser")},grpc_code="OK"}`)).toBe(1);
    expect(
      sample(text, `grpc_${side}_handled_total{${u("CreateUser")},grpc_code="InvalidArgument"}`),
    ).toBe(1);
    expect(sample(text, `grpc_${side}_handling_seconds_count{${u("GetUser")}}`)).toBe(5);
    const s = `grpc_type="server_stream",${svc},grpc_method="StreamNumbers"`;
    expect(sample(text, `grpc_${side}_handled_total{${s},grpc_code="OK"}`)).toBe(1);
    const [out, inn] = side === "server" ? ["sent", "received"] : ["received", "sent"];
    expect(sample(text, `grpc_${side}_msg_${out}_total{${s}}`)).toBe(5);
    expect(sample(text, `grpc_${side}_msg_${inn}_total{${s}}`)).toBe(1);
  }
  // GetUser ran its query 5 times (3 rows, 2 misses); the invalid CreateUser never reached SQL.
  expect(sample(text, 'db_query_duration_seconds_count{query="GetUser"}')).toBe(5);
  expect(sample(text, 'db_query_duration_seconds_count{query="CreateUser"}')).toBe(1);
  expect(sample(text, 'db_pool_connections{state="in_use"}')).toBe(0);
  expect(sample(text, "db_pool_waiting")).toBe(0);
  expect(sample(text, 'circuit_breaker_state{breaker="db",state="closed"}')).toBe(1);
  expect(sample(text, 'bulkhead_rejected_total{bulkhead="default"}')).toBe(2);
  expect(sample(text, 'retries_total{name="GetUser"}')).toBe(1);
  expect(sample(text, "load_shed_total")).toBe(4);
  expect(sample(text, 'auth_failures_total{reason="expired"}')).toBe(1);
  expect(sample(text, 'auth_failures_total{reason="bad_signature"}')).toBe(0);
  expect(text).toContain("nodejs_heap_size_used_bytes");

  // promtool reads the exposition on stdin and exits non-zero on any problem.
  const promtool = systemTool("promtool", "apt-get install prometheus");
  if (promtool !== undefined) {
    const out = execFileSync(promtool, ["check", "metrics"], { input: text, encoding: "utf8" });
    expect(out).toBe("");
  }
});

test("SVCGEN_METRICS turns metrics off; a typo is an error naming the variable", () => {
  expect(metricsEnabledFromEnv({})).toBe(true);
  expect(metricsEnabledFromEnv({ SVCGEN_METRICS: "off" })).toBe(false);
  expect(metricsEnabledFromEnv({ SVCGEN_METRICS: "false" })).toBe(false);
  expect(() => metricsEnabledFromEnv({ SVCGEN_METRICS: "nope" })).toThrow(/SVCGEN_METRICS/);
});
