/**
 * Revocation for a JWKS issuer by token introspection (RFC 7662), configured from the
 * environment only: `startServer` serving the example project's UserService with real RS256
 * tokens from a test issuer on loopback, and an introspection endpoint on loopback that
 * answers `active` per token and counts its requests. An active token passes, an inactive one
 * is UNAUTHENTICATED `revoked`, concurrent calls share one request, an endpoint that fails or
 * is down is UNAVAILABLE `revocation_unavailable`; each refusal is one security log line.
 */
import { randomUUID } from "node:crypto";
import { createServer, type Server as HttpServer, type ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { type ServiceError, status } from "@grpc/grpc-js";
import { createJwksVerifier, introspectTokens, type TokenVerifier } from "@svcgen/runtime/auth";
import { type ServerHandle, startServer } from "@svcgen/runtime/server";
import { createTestIssuer, type TestIssuer } from "@svcgen/runtime/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import {
  createUserServiceClient,
  type UserServiceClient,
} from "../../example-project/gen/grpc/user-service.js";
import { createTestDatabase, type TestDatabase } from "../db.js";
import { logLinesInto } from "./log-lines.js";
import { exampleUserService, userSchemaSql } from "./user-test-service.js";

const clientId = "user-service";
const clientSecret = "s3cret:with spaces";

/** Tokens the endpoint reports inactive (revoked at the issuer). */
const inactive = new Set<string>();
/** The requests received: the token, the client credentials and the body's content type. */
const requests: { token: string | null; authorization?: string; contentType?: string }[] = [];
/** What the endpoint does: answer, fail (HTTP 500), or hold the answer until released. */
let mode: "ok" | "fail" | "hold" = "ok";
const held: (() => void)[] = [];
let endpoint: HttpServer;
let introspectionUrl = "";
let issuer: TestIssuer;
let db: TestDatabase;
let handle: ServerHandle;
let client: UserServiceClient;
const lines: Record<string, unknown>[] = [];

beforeAll(async () => {
  endpoint = createServer((req, res: ServerResponse) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      const token = new URLSearchParams(body).get("token");
      requests.push({
        token,
        ...(req.headers.authorization === undefined
          ? {}
          : { authorization: req.headers.authorization }),
        ...(req.headers["content-type"] === undefined
          ? {}
          : { contentType: req.headers["content-type"] }),
      });
      const answer = (): void => {
        if (mode === "fail") {
          res.writeHead(500, { "content-type": "application/json" }).end('{"error":"down"}');
          return;
        }
        const active = token !== null && !inactive.has(token);
        res
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify(active ? { active, client_id: clientId } : { active }));
      };
      if (mode === "hold") held.push(answer);
      else answer();
    });
  });
  await new Promise<void>((r) => endpoint.listen(0, "127.0.0.1", r));
  const a = endpoint.address();
  introspectionUrl = `http://127.0.0.1:${typeof a === "object" && a !== null ? a.port : 0}/oauth2/introspect`;
  issuer = await createTestIssuer({ audience: "user-api" });
  db = await createTestDatabase("auth_introspection", await userSchemaSql());
  handle = await startServer({
    services: [exampleUserService()],
    env: {
      DATABASE_URL: db.url,
      SVCGEN_METRICS: "false",
      AUTH_JWKS_URL: issuer.jwksUrl,
      AUTH_ISSUER: issuer.issuer,
      AUTH_AUDIENCE: issuer.audience,
      AUTH_INTROSPECTION_URL: introspectionUrl,
      AUTH_INTROSPECTION_CLIENT_ID: clientId,
      AUTH_INTROSPECTION_CLIENT_SECRET: clientSecret,
      AUTH_REVOCATION_CACHE_MS: "60000",
      AUTH_REVOCATION_TIMEOUT_MS: "2000",
    },
    settings: { host: "127.0.0.1", port: 0, httpPort: 0 },
    logDestination: logLinesInto(lines),
  });
  client = createUserServiceClient(handle.grpcAddress);
});

afterAll(async () => {
  client?.close();
  await handle?.close();
  await issuer?.close();
  await db?.drop();
  endpoint?.closeAllConnections();
  endpoint?.close();
});

beforeEach(() => {
  lines.length = 0;
  requests.length = 0;
  mode = "ok";
});

/** A token of a fresh user (so no answer about it is cached yet). */
const freshToken = (): Promise<string> => issuer.token({ uid: randomUUID() });

/** Calls GetMyProfile with `token`: the status code (NOT_FOUND: auth passed, no profile row). */
async function call(token: string): Promise<number> {
  try {
    await client.getMyProfile({}, { metadata: { authorization: `Bearer ${token}` } });
    return status.OK;
  } catch (e) {
    return (e as ServiceError).code;
  }
}

const security = (): Record<string, unknown>[] => lines.filter((l) => l.channel === "security");

describe("token introspection from the environment, through the runtime's server", () => {
  test("an active token passes, introspected once with the client credentials", async () => {
    const token = await freshToken();
    expect(await call(token)).toBe(status.NOT_FOUND);
    expect(await call(token)).toBe(status.NOT_FOUND);
    expect(security()).toHaveLength(0);
    const basic = `Basic ${Buffer.from(`user-service:s3cret%3Awith+spaces`).toString("base64")}`;
    expect(requests).toEqual([
      { token, authorization: basic, contentType: "application/x-www-form-urlencoded" },
    ]);
  });

  test("an inactive token: UNAUTHENTICATED, reason revoked, one security line per refusal", async () => {
    const token = await freshToken();
    inactive.add(token);
    expect(await call(token)).toBe(status.UNAUTHENTICATED);
    expect(await call(token)).toBe(status.UNAUTHENTICATED);
    expect(security()).toHaveLength(2);
    for (const line of security()) {
      expect(line).toMatchObject({
        event: "auth_failure",
        reason: "revoked",
        method: "/example.user.v1.UserService/GetMyProfile",
      });
      expect(JSON.stringify(line)).not.toContain(token);
    }
    expect(requests).toHaveLength(1);
  });

  test("a token the verifier refuses is never sent to the endpoint", async () => {
    const expired = await issuer.token({ uid: randomUUID(), expiresIn: "-5m" });
    expect(await call(expired)).toBe(status.UNAUTHENTICATED);
    expect(security().map((l) => l.reason)).toEqual(["expired"]);
    expect(requests).toHaveLength(0);
  });

  test("concurrent calls with one token share one request", async () => {
    const token = await freshToken();
    mode = "hold";
    const calls = Array.from({ length: 10 }, () => call(token));
    while (held.length === 0) await sleep(10);
    mode = "ok";
    for (const answer of held.splice(0)) answer();
    expect(await Promise.all(calls)).toEqual(Array(10).fill(status.NOT_FOUND));
    expect(requests).toHaveLength(1);
  });

  test("an endpoint answering an error: UNAVAILABLE, reason revocation_unavailable, not cached", async () => {
    const token = await freshToken();
    mode = "fail";
    expect(await call(token)).toBe(status.UNAVAILABLE);
    expect(security()).toHaveLength(1);
    expect(security()[0]).toMatchObject({
      event: "auth_failure",
      reason: "revocation_unavailable",
    });
    mode = "ok";
    expect(await call(token)).toBe(status.NOT_FOUND);
    expect(requests).toHaveLength(2);
  });

  test("an endpoint that is down: UNAVAILABLE, reason revocation_unavailable", async () => {
    const token = await freshToken();
    // Stopped for good: this is the last test that uses it.
    endpoint.closeAllConnections();
    await new Promise<void>((r) => endpoint.close(() => r()));
    expect(await call(token)).toBe(status.UNAVAILABLE);
    expect(security()).toHaveLength(1);
    expect(security()[0]).toMatchObject({ reason: "revocation_unavailable" });
  });
});

describe("introspectTokens: a revocation takes effect once the TTL has passed", () => {
  let revoking: HttpServer;
  let url = "";
  let revoked = false;
  let asked = 0;

  beforeAll(async () => {
    revoking = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        asked++;
        res.writeHead(200, { "content-type": "application/json" }).end(`{"active":${!revoked}}`);
      });
    });
    await new Promise<void>((r) => revoking.listen(0, "127.0.0.1", r));
    const a = revoking.address();
    url = `http://127.0.0.1:${typeof a === "object" && a !== null ? a.port : 0}/introspect`;
  });

  afterAll(() => {
    revoking?.closeAllConnections();
    revoking?.close();
  });

  test("accepted until the endpoint reports it inactive and the cached answer has aged out", async () => {
    const v: TokenVerifier = introspectTokens(createJwksVerifier(issuer.verifierOptions), {
      url,
      clientId,
      clientSecret,
      cache: { ttlMs: 200 },
    });
    try {
      await v.ready();
      const uid = randomUUID();
      const token = await issuer.token({ uid });
      await expect(v.verify(token)).resolves.toMatchObject({ uid });
      revoked = true;
      let outcome: unknown;
      for (let i = 0; i < 200; i++) {
        outcome = await v.verify(token).catch((e: unknown) => e);
        if ((outcome as { reason?: string }).reason !== undefined) break;
        await sleep(25);
      }
      expect(outcome).toMatchObject({ code: status.UNAUTHENTICATED, reason: "revoked" });
      expect(asked).toBeGreaterThanOrEqual(2);
    } finally {
      await v.close();
    }
  });
});
