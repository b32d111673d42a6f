/**
 * Firebase ID tokens end to end: real RS256 signatures from a local key pair, the public key
 * served to firebase-admin by a certificate server on loopback (through its `httpAgent`), the
 * verifier behind a real gRPC server (the example project's UserService), every attack an
 * UNAUTHENTICATED status plus exactly one security log line.
 */
import { createHmac, createSign, generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type Server as HttpServer, type ServerResponse } from "node:http";
import { Agent } from "node:https";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Server, ServerCredentials, type ServiceError, status } from "@grpc/grpc-js";
import {
  AuthConfigError,
  createAuthenticate,
  createFirebaseVerifier,
  ruleLookup,
  type TokenVerifier,
} from "@svcgen/runtime/auth";
import { type ServerHandle, startServer } from "@svcgen/runtime/server";
import {
  createGrpcServerLogInterceptor,
  createServiceLogger,
  securityEventLogger,
} from "@svcgen/runtime/telemetry";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import {
  addUserService,
  createUserServiceClient,
  type UserServiceClient,
  userServicePolicies,
} from "../../example-project/gen/grpc/user-service.js";
import { UserService } from "../../example-project/gen/proto/example/user/v1/user_pb.js";
import { UserServiceImpl } from "../../example-project/src/user-service/handlers.js";
import { createTestDatabase, type TestDatabase } from "../db.js";
import { logLinesInto } from "./log-lines.js";
import { exampleUserService } from "./user-test-service.js";

const projectId = "svcgen-test-project";
const key = generateKeyPairSync("rsa", { modulusLength: 2048 });
const otherKey = generateKeyPairSync("rsa", { modulusLength: 2048 });
const publicPem = key.publicKey.export({ type: "spki", format: "pem" }).toString();

/** What the certificate server answers; tests switch it to simulate an outage or a stall. */
let certMode: "ok" | "fail" | "hang" = "ok";
/** Cache-Control max-age of the served keys, seconds. */
let maxAge = 3600;
let certFetches = 0;
/**
 * Users as Firebase's Identity Toolkit reports them to the revocation check (`accounts:lookup`,
 * served by the same loopback server): `validSince` (epoch seconds) is when the user's tokens
 * were last revoked; absent users are unknown to the project.
 */
const accounts = new Map<string, { validSince?: number; disabled?: boolean }>();
/** The lookups received: the uid asked for and the credential it came with. */
const lookups: { uid: string | undefined; authorization: string | undefined }[] = [];
let lookupMode: "ok" | "fail" | "hang" = "ok";
/** Lookups held unanswered in `hang` mode, answered (503) when a test ends. */
const heldLookups: ServerResponse[] = [];
let certServer: HttpServer;
let certPort = 0;

/** Routes firebase-admin's HTTPS key fetch to the local certificate server (plain HTTP). */
class LoopbackAgent extends Agent {
  override createConnection(): Socket {
    return connect(certPort, "127.0.0.1");
  }
}

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString("base64url");

function sign(
  claims: Record<string, unknown>,
  header: Record<string, unknown> = { alg: "RS256", kid: "k1", typ: "JWT" },
  privateKey = key.privateKey,
): string {
  const input = `${b64(header)}.${b64(claims)}`;
  const sig = createSign("RSA-SHA256").update(input).sign(privateKey).toString("base64url");
  return `${input}.${sig}`;
}

function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: `https://securetoken.google.com/${projectId}`,
    aud: projectId,
    sub: "11111111-1111-4111-8111-111111111111",
    iat: now - 10,
    exp: now + 3600,
    auth_time: now - 10,
    ...overrides,
  };
}

let db: TestDatabase;
let pool: pg.Pool;
let server: Server;
let client: UserServiceClient;
let verifier: TokenVerifier;
/** Every log line of the service, parsed. */
const lines: Record<string, unknown>[] = [];
const sink = logLinesInto(lines);

beforeAll(async () => {
  certServer = createServer((req, res) => {
    if (req.url?.includes("/accounts:lookup") === true) {
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c.toString();
      });
      req.on("end", () => {
        const uid = (JSON.parse(body) as { localId?: string[] }).localId?.[0];
        lookups.push({ uid, authorization: req.headers.authorization });
        if (lookupMode === "hang") {
          heldLookups.push(res);
          return;
        }
        if (lookupMode === "fail") {
          res.writeHead(503, { "content-type": "application/json" }).end('{"error":{}}');
          return;
        }
        const user = uid === undefined ? undefined : accounts.get(uid);
        const users =
          user === undefined
            ? []
            : [
                {
                  localId: uid,
                  disabled: user.disabled ?? false,
                  ...(user.validSince === undefined ? {} : { validSince: String(user.validSince) }),
                },
              ];
        res
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify({ kind: "identitytoolkit#GetAccountInfoResponse", users }));
      });
      return;
    }
    certFetches += 1;
    if (certMode === "hang") return; // never answers
    if (certMode === "fail") {
      res.writeHead(500, { "content-type": "application/json" }).end('{"error":"down"}');
      return;
    }
    res
      .writeHead(200, {
        "content-type": "application/json",
        "cache-control": `public, max-age=${maxAge}`,
      })
      .end(JSON.stringify({ k1: publicPem }));
    void req;
  });
  await new Promise<void>((r) => certServer.listen(0, "127.0.0.1", r));
  const address = certServer.address();
  certPort = typeof address === "object" && address !== null ? address.port : 0;

  db = await createTestDatabase(
    "auth_firebase",
    readFileSync(
      join(import.meta.dirname, "../../example-project/migrations/user/001_profiles.sql"),
      "utf8",
    ),
  );
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  verifier = createFirebaseVerifier({ projectId, httpAgent: new LoopbackAgent(), env: {} });
  await verifier.ready();
  const logger = createServiceLogger({ service: "user", destination: sink, env: {} });
  server = new Server({ interceptors: [createGrpcServerLogInterceptor(logger.log)] });
  addUserService(server, new UserServiceImpl(pool), {
    authenticate: createAuthenticate(verifier, {
      onSecurityEvent: securityEventLogger(logger.security),
      ruleOf: ruleLookup(UserService, userServicePolicies),
    }),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) =>
      e === null ? resolve(p) : reject(e),
    ),
  );
  client = createUserServiceClient(`127.0.0.1:${port}`);
});

afterAll(async () => {
  client?.close();
  server?.forceShutdown();
  await verifier?.close();
  await pool?.end();
  await db?.drop();
  certServer?.close();
});

beforeEach(() => {
  lines.length = 0;
  certMode = "ok";
});

/** Calls GetMyProfile with `authorization` (none when undefined): its code and the security lines. */
async function call(
  authorization: string | undefined,
): Promise<{ code: number; security: Record<string, unknown>[] }> {
  const metadata = authorization === undefined ? {} : { authorization };
  let code: number = status.OK;
  try {
    await client.getMyProfile({}, { metadata });
  } catch (e) {
    code = (e as ServiceError).code;
  }
  return { code, security: lines.filter((l) => l.channel === "security") };
}

const hs256WithPublicKey = (): string => {
  const input = `${b64({ alg: "HS256", kid: "k1", typ: "JWT" })}.${b64(claims())}`;
  return `${input}.${createHmac("sha256", publicPem).update(input).digest("base64url")}`;
};

const attacks: [string, () => string | undefined, string][] = [
  ["no header", () => undefined, "missing_token"],
  ["malformed header", () => `Token ${sign(claims())}`, "malformed_header"],
  [
    "alg none",
    () => `Bearer ${b64({ alg: "none", kid: "k1" })}.${b64(claims())}.`,
    "invalid_token",
  ],
  ["HS256 signed with the public key", () => `Bearer ${hs256WithPublicKey()}`, "invalid_token"],
  ["wrong audience", () => `Bearer ${sign(claims({ aud: "another-project" }))}`, "wrong_audience"],
  [
    "wrong issuer",
    () => `Bearer ${sign(claims({ iss: "https://securetoken.google.com/another-project" }))}`,
    "wrong_issuer",
  ],
  [
    "unknown kid",
    () => `Bearer ${sign(claims(), { alg: "RS256", kid: "k9", typ: "JWT" }, otherKey.privateKey)}`,
    "unknown_key",
  ],
  [
    "expired",
    () => {
      const now = Math.floor(Date.now() / 1000);
      return `Bearer ${sign(claims({ iat: now - 7200, auth_time: now - 7200, exp: now - 3600 }))}`;
    },
    "expired",
  ],
  [
    "issued in the future",
    () => `Bearer ${sign(claims({ iat: Math.floor(Date.now() / 1000) + 600 }))}`,
    "not_yet_valid",
  ],
  [
    "auth_time in the future",
    () => `Bearer ${sign(claims({ auth_time: Math.floor(Date.now() / 1000) + 600 }))}`,
    "not_yet_valid",
  ],
  [
    "tampered payload",
    () => {
      const [h, , s] = sign(claims()).split(".");
      return `Bearer ${h}.${b64(claims({ sub: "22222222-2222-4222-8222-222222222222" }))}.${s}`;
    },
    "bad_signature",
  ],
  [
    "tampered signature",
    () => {
      const [h, p, s = ""] = sign(claims()).split(".");
      const flipped = Buffer.from(s, "base64url");
      flipped[10] = (flipped[10] ?? 0) ^ 0xff;
      return `Bearer ${h}.${p}.${flipped.toString("base64url")}`;
    },
    "bad_signature",
  ],
  ["empty sub", () => `Bearer ${sign(claims({ sub: "" }))}`, "bad_subject"],
];

describe("attack table: UNAUTHENTICATED and one security log line each", () => {
  for (const [name, token, reason] of attacks) {
    test(name, async () => {
      const { code, security } = await call(token());
      expect(code).toBe(status.UNAUTHENTICATED);
      expect(security).toHaveLength(1);
      const calls = lines.filter((l) => l.msg === "call");
      expect(calls).toHaveLength(1);
      expect(calls[0]).toMatchObject({ grpc_code: "Unauthenticated" });
      expect(calls[0]?.principal).toBeUndefined();
      expect(security[0]).toMatchObject({
        event: "auth_failure",
        reason,
        method: "/example.user.v1.UserService/GetMyProfile",
        service: "user",
      });
      // The token never reaches the log.
      const t = token();
      if (t !== undefined) expect(JSON.stringify(security)).not.toContain(t.split(" ")[1] ?? t);
    });
  }
});

describe("valid tokens", () => {
  test("the uid reaches the query; another user's row is not readable", async () => {
    const alice = "11111111-1111-4111-8111-111111111111";
    const bob = "22222222-2222-4222-8222-222222222222";
    const as = (sub: string) => ({
      metadata: { authorization: `Bearer ${sign(claims({ sub }))}` },
    });
    await client.createProfile({ handle: "alice", displayName: "Alice", locale: "en" }, as(alice));
    const mine = await client.getMyProfile({}, as(alice));
    expect(mine.userId).toBe(alice);
    expect(mine.handle).toBe("alice");
    let code: number = status.OK;
    try {
      await client.getMyProfile({}, as(bob));
    } catch (e) {
      code = (e as ServiceError).code;
    }
    expect(code).toBe(status.NOT_FOUND);
    expect(lines.filter((l) => l.channel === "security")).toHaveLength(0);
    // One call line each, with the verified principal.
    const calls = lines.filter((l) => l.msg === "call");
    expect(calls.map((l) => [l.grpc_method, l.grpc_code, l.principal])).toEqual([
      ["CreateProfile", "OK", alice],
      ["GetMyProfile", "OK", alice],
      ["GetMyProfile", "NotFound", bob],
    ]);
  });

  test("keys are fetched once, before ready, and not per call", async () => {
    const before = certFetches;
    for (let i = 0; i < 5; i++) await call(`Bearer ${sign(claims())}`);
    expect(certFetches).toBe(before);
    expect(verifier.keysLoaded()).toBe(true);
  });
});

describe("key fetch failures", () => {
  test("a failing or stalled certificate server gives UNAVAILABLE, one fetch at a time, never a hang", async () => {
    const v = createFirebaseVerifier({
      projectId,
      httpAgent: new LoopbackAgent(),
      keyFetchTimeoutMs: 300,
      env: {},
    });
    try {
      certMode = "hang";
      const before = certFetches;
      const token = sign(claims());
      const started = Date.now();
      const results = await Promise.allSettled([1, 2, 3, 4, 5].map(() => v.verify(token)));
      expect(Date.now() - started).toBeLessThan(5000);
      for (const r of results) {
        expect(r.status).toBe("rejected");
        const reason =
          r.status === "rejected" ? (r.reason as { code?: number; reason?: string }) : {};
        expect(reason.code).toBe(status.UNAVAILABLE);
        expect(reason.reason).toBe("keys_unavailable");
      }
      // Five concurrent callers, one fetch.
      expect(certFetches - before).toBe(1);
      await expect(v.ready()).rejects.toMatchObject({ code: status.UNAVAILABLE });
      certMode = "fail";
      await expect(v.verify(token)).rejects.toMatchObject({ code: status.UNAVAILABLE });
      certMode = "ok";
      await expect(v.verify(token)).resolves.toMatchObject({ uid: claims().sub });
    } finally {
      await v.close();
    }
  });
});

describe("background refresh", () => {
  test("keys are refreshed before they expire, without a call waiting for the fetch", async () => {
    maxAge = 2;
    const v = createFirebaseVerifier({ projectId, httpAgent: new LoopbackAgent(), env: {} });
    try {
      await v.ready();
      const before = certFetches;
      // 90 % of a 2 s lifetime: the refresh runs at about 1.8 s with no verification asking.
      for (let i = 0; i < 100 && certFetches === before; i++) await sleep(50);
      expect(certFetches).toBe(before + 1);
      expect(v.keysLoaded()).toBe(true);
      await expect(v.verify(sign(claims()))).resolves.toMatchObject({ uid: claims().sub });
    } finally {
      maxAge = 3600;
      await v.close();
    }
  });
});

describe("configuration", () => {
  test("the emulator variable without development mode refuses to start", () => {
    expect(() =>
      createFirebaseVerifier({ projectId, env: { FIREBASE_AUTH_EMULATOR_HOST: "127.0.0.1:9099" } }),
    ).toThrow(AuthConfigError);
    expect(() =>
      createFirebaseVerifier({ projectId, env: { FIREBASE_AUTH_EMULATOR_HOST: "127.0.0.1:9099" } }),
    ).toThrow(/FIREBASE_AUTH_EMULATOR_HOST.*SVCGEN_DEV_MODE=true/);
  });

  test("no project id refuses to start", () => {
    expect(() => createFirebaseVerifier({ env: {} })).toThrow(/FIREBASE_PROJECT_ID/);
  });
});

/** firebase-admin's Credential contract: the access token its API calls carry. */
const credential = {
  getAccessToken: async () => ({ access_token: "test-access-token", expires_in: 3600 }),
};

describe("revocation check (checkRevoked): Firebase's account lookup, through the runtime's server", () => {
  const revokedUser = "33333333-3333-4333-8333-333333333333";
  const disabledUser = "44444444-4444-4444-8444-444444444444";
  const activeUser = "55555555-5555-4555-8555-555555555555";
  let handle: ServerHandle;
  let revoking: UserServiceClient;
  const serverLines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    const now = Math.floor(Date.now() / 1000);
    // Revoked a minute ago: tokens from sign-ins before that are refused, later ones pass.
    accounts.set(revokedUser, { validSince: now - 60 });
    accounts.set(disabledUser, { disabled: true });
    accounts.set(activeUser, {});
    const v = createFirebaseVerifier({
      projectId,
      httpAgent: new LoopbackAgent(),
      checkRevoked: true,
      credential,
      // No cache here: every call asks, so each test sees its own lookups (cached below).
      revocationCache: { ttlMs: 0 },
      env: {},
    });
    handle = await startServer({
      services: [exampleUserService()],
      env: { DATABASE_URL: db.url, SVCGEN_METRICS: "false" },
      settings: { host: "127.0.0.1", port: 0, httpPort: 0 },
      verifier: v,
      logDestination: logLinesInto(serverLines),
    });
    revoking = createUserServiceClient(handle.grpcAddress);
    await v.ready();
  });

  afterAll(async () => {
    revoking?.close();
    await handle?.close();
  });

  beforeEach(() => {
    serverLines.length = 0;
    lookups.length = 0;
    lookupMode = "ok";
  });

  async function callAs(sub: string, authTime: number): Promise<number> {
    const token = sign(claims({ sub, auth_time: authTime, iat: authTime }));
    try {
      await revoking.getMyProfile({}, { metadata: { authorization: `Bearer ${token}` } });
      return status.OK;
    } catch (e) {
      return (e as ServiceError).code;
    }
  }

  const security = () => serverLines.filter((l) => l.channel === "security");

  test("a token from before the revocation: UNAUTHENTICATED, reason revoked, one security line", async () => {
    const code = await callAs(revokedUser, Math.floor(Date.now() / 1000) - 600);
    expect(code).toBe(status.UNAUTHENTICATED);
    expect(security()).toHaveLength(1);
    expect(security()[0]).toMatchObject({
      event: "auth_failure",
      reason: "revoked",
      method: "/example.user.v1.UserService/GetMyProfile",
    });
    // Firebase was asked, about this user, with the service's credential.
    expect(lookups).toEqual([{ uid: revokedUser, authorization: "Bearer test-access-token" }]);
  });

  test("a disabled user: UNAUTHENTICATED, reason revoked", async () => {
    const code = await callAs(disabledUser, Math.floor(Date.now() / 1000) - 10);
    expect(code).toBe(status.UNAUTHENTICATED);
    expect(security().map((l) => l.reason)).toEqual(["revoked"]);
  });

  test("a sign-in after the revocation passes; so does a user never revoked; each call asks again", async () => {
    const now = Math.floor(Date.now() / 1000);
    // NOT_FOUND: the caller passed auth (it has no profile row); not UNAUTHENTICATED.
    expect(await callAs(revokedUser, now - 10)).toBe(status.NOT_FOUND);
    expect(await callAs(activeUser, now - 10)).toBe(status.NOT_FOUND);
    expect(await callAs(activeUser, now - 10)).toBe(status.NOT_FOUND);
    expect(security()).toHaveLength(0);
    // No verification cache with the revocation check: a revocation takes effect at once.
    expect(lookups.map((l) => l.uid)).toEqual([revokedUser, activeUser, activeUser]);
  });

  test("a user deleted from the project is refused as revoked", async () => {
    const code = await callAs(
      "66666666-6666-4666-8666-666666666666",
      Math.floor(Date.now() / 1000) - 10,
    );
    expect(code).toBe(status.UNAUTHENTICATED);
    expect(security().map((l) => l.reason)).toEqual(["revoked"]);
  });

  test("Firebase unreachable for the lookup: UNAVAILABLE (the token may be fine), reason revocation_unavailable", async () => {
    lookupMode = "fail";
    const code = await callAs(activeUser, Math.floor(Date.now() / 1000) - 10);
    expect(code).toBe(status.UNAVAILABLE);
    expect(security()).toHaveLength(1);
    expect(security()[0]).toMatchObject({ reason: "revocation_unavailable" });
    lookupMode = "ok";
    expect(await callAs(activeUser, Math.floor(Date.now() / 1000) - 10)).toBe(status.NOT_FOUND);
  });
});

describe("revocation lookups cached per uid: shared, bounded in time, refreshed after the TTL", () => {
  const now = (): number => Math.floor(Date.now() / 1000);
  /** A verifier with the revocation check and its cache set to `cache`. */
  const revocationVerifier = (cache: { ttlMs?: number; timeoutMs?: number }): TokenVerifier =>
    createFirebaseVerifier({
      projectId,
      httpAgent: new LoopbackAgent(),
      checkRevoked: true,
      credential,
      revocationCache: cache,
      env: {},
    });
  const tokenOf = (sub: string, authTime = now() - 10): string =>
    sign(claims({ sub, auth_time: authTime, iat: authTime }));
  const lookupsOf = (uid: string): number => lookups.filter((l) => l.uid === uid).length;
  const refusal = (e: unknown): { code?: number; reason?: string } =>
    e as { code?: number; reason?: string };

  beforeEach(() => {
    lookupMode = "ok";
  });

  test("concurrent calls for one uid cause one lookup; later calls within the TTL none", async () => {
    const uid = "77777777-7777-4777-8777-777777777777";
    accounts.set(uid, {});
    const v = revocationVerifier({ ttlMs: 60_000 });
    try {
      await v.ready();
      const before = lookupsOf(uid);
      // Different tokens of one user: the answer is per uid, not per token.
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => v.verify(tokenOf(uid, now() - 10 - i))),
      );
      expect(results.map((p) => p.uid)).toEqual(Array(20).fill(uid));
      expect(lookupsOf(uid) - before).toBe(1);
      await v.verify(tokenOf(uid));
      expect(lookupsOf(uid) - before).toBe(1);
    } finally {
      await v.close();
    }
  });

  test("after a revocation, calls fail UNAUTHENTICATED revoked once the TTL has passed", async () => {
    const uid = "88888888-8888-4888-8888-888888888888";
    accounts.set(uid, {});
    const v = revocationVerifier({ ttlMs: 200 });
    try {
      await v.ready();
      const token = tokenOf(uid, now() - 10);
      await expect(v.verify(token)).resolves.toMatchObject({ uid });
      // Revoked now: Identity Toolkit reports a validSince after this token's sign-in.
      accounts.set(uid, { validSince: now() });
      let outcome: unknown;
      for (let i = 0; i < 200; i++) {
        outcome = await v.verify(token).catch((e: unknown) => e);
        if (refusal(outcome).reason !== undefined) break;
        await sleep(25);
      }
      expect(refusal(outcome)).toMatchObject({ code: status.UNAUTHENTICATED, reason: "revoked" });
      // A sign-in after the revocation still passes.
      await expect(v.verify(tokenOf(uid, now()))).resolves.toMatchObject({ uid });
    } finally {
      await v.close();
    }
  });

  test("a disabled user is refused, every concurrent caller, after one lookup", async () => {
    const uid = "99999999-9999-4999-8999-999999999999";
    accounts.set(uid, { disabled: true });
    const v = revocationVerifier({ ttlMs: 60_000 });
    try {
      await v.ready();
      const before = lookupsOf(uid);
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, () => v.verify(tokenOf(uid))),
      );
      for (const r of results) {
        expect(r.status).toBe("rejected");
        if (r.status === "rejected") {
          expect(refusal(r.reason)).toMatchObject({
            code: status.UNAUTHENTICATED,
            reason: "revoked",
          });
        }
      }
      expect(lookupsOf(uid) - before).toBe(1);
    } finally {
      await v.close();
    }
  });

  test("a lookup that never answers: UNAVAILABLE revocation_unavailable after the timeout, or at the call's deadline", async () => {
    const uid = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
    accounts.set(uid, {});
    const bounded = revocationVerifier({ ttlMs: 60_000, timeoutMs: 200 });
    const unbounded = revocationVerifier({ ttlMs: 60_000, timeoutMs: 600_000 });
    try {
      await bounded.ready();
      await unbounded.ready();
      lookupMode = "hang";
      const results = await Promise.allSettled([1, 2, 3].map(() => bounded.verify(tokenOf(uid))));
      for (const r of results) {
        expect(r.status).toBe("rejected");
        if (r.status === "rejected") {
          expect(refusal(r.reason)).toMatchObject({
            code: status.UNAVAILABLE,
            reason: "revocation_unavailable",
          });
        }
      }
      // The call's own deadline ends the wait even when the lookup's timeout is far off.
      const deadline = AbortSignal.timeout(200);
      const cut = await unbounded.verify(tokenOf(uid), deadline).catch((e: unknown) => e);
      expect(refusal(cut)).toMatchObject({
        code: status.UNAVAILABLE,
        reason: "revocation_unavailable",
      });
      // Failures are not cached: once Firebase answers again, so does the check.
      lookupMode = "ok";
      await expect(bounded.verify(tokenOf(uid))).resolves.toMatchObject({ uid });
    } finally {
      lookupMode = "ok";
      for (const res of heldLookups.splice(0)) res.writeHead(503).end();
      await bounded.close();
      await unbounded.close();
    }
  });
});
