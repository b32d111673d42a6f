/**
 * The whole runtime configured from the environment only: `startServer` serving the example
 * project's generated UserService (handlers from example-project/src) on a real PostgreSQL,
 * with metrics, the call log, Loki and JWKS auth all on. The key server on loopback refuses
 * its first fetches, so readiness must wait for the keys; then a call with a real RS256 token
 * succeeds, an anonymous one is UNAUTHENTICATED, `/metrics` shows both, and after `close()`
 * (which flushes the logs) Loki holds the call line and the security line.
 */
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { createServer, type Server as HttpServer } from "node:http";
import { status } from "@grpc/grpc-js";
import { type ServerHandle, startServer } from "@svcgen/runtime/server";
import { exportJWK, SignJWT } from "jose";
import { afterAll, beforeAll, expect, test } from "vitest";
import { createUserServiceClient } from "../../example-project/gen/grpc/user-service.js";
import { createTestDatabase, type TestDatabase } from "../db.js";
import { logLinesInto } from "./log-lines.js";
import { checkHealth, httpStatus, outcome } from "./service-client.js";
import { exampleUserService, userErrorMap, userSchemaSql } from "./user-test-service.js";

const issuer = "https://issuer.e2e.test";
const audience = "user-api";
const key = generateKeyPairSync("rsa", { modulusLength: 2048 });
let keysUp = false;
let keyFetches = 0;
let jwksServer: HttpServer;
let jwksUrl = "";
let loki: HttpServer;
let lokiUrl = "";
const lokiLines: Record<string, unknown>[] = [];
const stdoutLines: Record<string, unknown>[] = [];
let db: TestDatabase;
let handle: ServerHandle | undefined;

const sink = logLinesInto(stdoutLines);

async function listen(server: HttpServer): Promise<string> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const a = server.address();
  return `http://127.0.0.1:${typeof a === "object" && a !== null ? a.port : 0}`;
}

beforeAll(async () => {
  const jwk = { ...(await exportJWK(key.publicKey)), kid: "k1", alg: "RS256", use: "sig" };
  jwksServer = createServer((_req, res) => {
    keyFetches++;
    if (!keysUp) {
      res.writeHead(503).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] }));
  });
  jwksUrl = `${await listen(jwksServer)}/.well-known/jwks.json`;
  loki = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
        streams: { values: [string, string][] }[];
      };
      for (const s of body.streams) for (const [, l] of s.values) lokiLines.push(JSON.parse(l));
      res.writeHead(204).end();
    });
  });
  lokiUrl = await listen(loki);
  db = await createTestDatabase("runtime_e2e", await userSchemaSql());
});

afterAll(async () => {
  await handle?.close();
  jwksServer?.close();
  loki?.close();
  await db?.drop();
});

function token(sub: string): Promise<string> {
  return new SignJWT({ roles: [] })
    .setProtectedHeader({ alg: "RS256", kid: "k1" })
    .setIssuer(issuer)
    .setAudience(audience)
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime("5m")
    .sign(key.privateKey);
}

async function waitFor(condition: () => Promise<boolean> | boolean, ms: number): Promise<void> {
  const t0 = Date.now();
  while (!(await condition())) {
    if (Date.now() - t0 > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test("startServer from the environment: readiness waits for keys, calls are authenticated, metered and logged", async () => {
  handle = await startServer({
    services: [exampleUserService()],
    env: {
      DATABASE_URL: db.url,
      AUTH_JWKS_URL: jwksUrl,
      AUTH_ISSUER: issuer,
      AUTH_AUDIENCE: audience,
      LOKI_URL: lokiUrl,
      LOG_LEVEL: "info",
      OTEL_SERVICE_NAME: "user-e2e",
    },
    settings: { host: "127.0.0.1", port: 0, httpPort: 0 },
    errorMap: userErrorMap,
    logDestination: sink,
    probeIntervalMs: 100,
    keyRetryMs: 100,
  });
  const h = handle;

  // The database answers (the probe holds a connection), the keys do not: not ready.
  await waitFor(() => h.snapshot().pool.total >= 1 && keyFetches >= 2, 10_000);
  await new Promise((r) => setTimeout(r, 300));
  expect(await httpStatus(h.httpAddress, "/readyz")).toBe(503);
  expect(await checkHealth(h.grpcAddress)).toBe("NOT_SERVING");
  expect(await httpStatus(h.httpAddress, "/healthz")).toBe(200);

  keysUp = true;
  await waitFor(async () => (await httpStatus(h.httpAddress, "/readyz")) === 200, 10_000);
  expect(await checkHealth(h.grpcAddress)).toBe("SERVING");

  const client = createUserServiceClient(h.grpcAddress);
  const uid = randomUUID();
  const auth = { authorization: `Bearer ${await token(uid)}` };
  try {
    await client.createProfile(
      { handle: "e2e_user", displayName: "E2E", bio: "hi", locale: "en" },
      { metadata: auth, timeoutMs: 5000 },
    );
    const profile = await client.getProfile(
      { userId: uid },
      { metadata: { ...auth, "x-request-id": "req-e2e-1" }, timeoutMs: 5000 },
    );
    expect(profile.handle).toBe("e2e_user");

    const anonymous = await outcome(() => client.getProfile({ userId: uid }, { timeoutMs: 5000 }));
    expect(anonymous.code).toBe(status.UNAUTHENTICATED);
  } finally {
    client.close();
  }

  const res = await fetch(`http://${h.httpAddress}/metrics`);
  expect(res.status).toBe(200);
  const text = await res.text();
  const series = (name: string, labels: string): number | undefined => {
    const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}}`));
    return line === undefined ? undefined : Number(line.split(" ").at(-1));
  };
  const method = 'grpc_service="example.user.v1.UserService",grpc_method="GetProfile"';
  expect(series("grpc_server_handled_total", `grpc_type="unary",${method},grpc_code="OK"`)).toBe(1);
  expect(
    series("grpc_server_handled_total", `grpc_type="unary",${method},grpc_code="Unauthenticated"`),
  ).toBe(1);
  expect(series("auth_failures_total", 'reason="missing_token"')).toBe(1);
  expect(series("circuit_breaker_state", 'breaker="database",state="closed"')).toBe(1);
  // The pool holds a connection: idle, or in use by the health probe at the scrape's moment.
  expect(
    (series("db_pool_connections", 'state="idle"') ?? 0) +
      (series("db_pool_connections", 'state="in_use"') ?? 0),
  ).toBeGreaterThanOrEqual(1);
  expect(series("db_pool_waiting", "")).toBeUndefined(); // unlabelled: no braces
  expect(text).toMatch(/^db_pool_waiting 0$/m);
  expect(series("db_query_duration_seconds_count", 'query="GetProfile"')).toBe(1);

  // close() flushes the Loki transport: every line is there once it resolves.
  await h.close();
  handle = undefined;
  for (const lines of [lokiLines, stdoutLines]) {
    const call = lines.find((l) => l.msg === "call" && l.request_id === "req-e2e-1");
    expect(call).toMatchObject({
      service: "user-e2e",
      grpc_service: "example.user.v1.UserService",
      grpc_method: "GetProfile",
      grpc_code: "OK",
      principal: uid,
    });
    expect(typeof call?.duration_ms).toBe("number");
    const refused = lines.find((l) => l.channel === "security");
    expect(refused).toMatchObject({
      reason: "missing_token",
      method: "/example.user.v1.UserService/GetProfile",
    });
    expect(
      lines.some(
        (l) => l.msg === "call" && l.grpc_code === "Unauthenticated" && !("principal" in l),
      ),
    ).toBe(true);
  }
  // Tokens never reach the logs.
  expect(JSON.stringify(lokiLines)).not.toContain("Bearer");
});

test("without an issuer or metrics: anonymous calls logged once at start, public methods only, no /metrics", async () => {
  const lines: Record<string, unknown>[] = [];
  const own = await startServer({
    services: [exampleUserService()],
    env: { DATABASE_URL: db.url, SVCGEN_METRICS: "false" },
    settings: { host: "127.0.0.1", port: 0, httpPort: 0 },
    logDestination: logLinesInto(lines),
    probeIntervalMs: 100,
  });
  const client = createUserServiceClient(own.grpcAddress);
  try {
    await waitFor(async () => (await httpStatus(own.httpAddress, "/readyz")) === 200, 10_000);
    expect(await httpStatus(own.httpAddress, "/metrics")).toBe(404);
    const byHandle = await client.getProfileByHandle({ handle: "e2e_user" }, { timeoutMs: 5000 });
    expect(byHandle.handle).toBe("e2e_user");
    const mine = await outcome(() =>
      client.getProfile({ userId: byHandle.userId }, { timeoutMs: 5000 }),
    );
    expect(mine.code).toBe(status.UNAUTHENTICATED);
  } finally {
    client.close();
    await own.close();
  }
  expect(lines.filter((l) => l.auth === "none")).toHaveLength(1);
  expect(lines.filter((l) => l.msg === "call").map((l) => l.grpc_code)).toEqual([
    "OK",
    "Unauthenticated",
  ]);
});
