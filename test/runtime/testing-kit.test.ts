/**
 * The testing kit (`@svcgen/runtime/testing`) and fault injection against real parts: the
 * example project's generated UserService served by `startServer` over a database of the
 * run's PostgreSQL, real gRPC on loopback, tokens signed by a test issuer whose keys a JWKS
 * verifier fetches over HTTP.
 */
import { randomUUID } from "node:crypto";
import { createAuthInterceptor, createJwksVerifier } from "@svcgen/runtime/auth";
import {
  type FaultSpecError,
  type ServerHandle,
  type StartServerOptions,
  seededRandom,
  startServer,
} from "@svcgen/runtime/server";
import {
  callOutcome,
  callWithDeadline,
  cancelMidCall,
  createTestIssuer,
  expectQueryCancelled,
  startDatabaseOutage,
  type TestIssuer,
  waitForQuery,
} from "@svcgen/runtime/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  createUserServiceClient,
  type UserServiceClient,
  userServicePolicies,
} from "../../example-project/gen/grpc/user-service.js";
import { createTestDatabase, type TestDatabase } from "../db.js";
import {
  testAuthenticate,
  userErrorMap,
  userRegistration,
  userSchemaSql,
} from "./user-test-service.js";

let db: TestDatabase;
let issuer: TestIssuer;
const handles: ServerHandle[] = [];
const clients: UserServiceClient[] = [];

beforeAll(async () => {
  db = await createTestDatabase("kit", await userSchemaSql());
  issuer = await createTestIssuer();
});

afterAll(async () => {
  for (const c of clients) c.close();
  for (const h of handles) await h.close();
  await issuer?.close();
  await db?.drop();
});

interface Served {
  handle: ServerHandle;
  client: UserServiceClient;
  logs: { level: string; msg: string; fields: object }[];
}

/** Starts the user service on free loopback ports; `options` override the defaults. */
async function serve(
  options: Partial<StartServerOptions> = {},
  { defaultAuth = false } = {},
): Promise<Served> {
  const logs: Served["logs"] = [];
  const log = (level: string) => (fields: object, msg: string) => logs.push({ level, msg, fields });
  const handle = await startServer({
    services: [userRegistration()],
    env: { DATABASE_URL: db.url },
    settings: { host: "127.0.0.1", port: 0, httpPort: 0, shutdownGraceMs: 1000 },
    errorMap: userErrorMap,
    // The runtime's default (every call anonymous), or the `x-test-uid` header of the tests.
    ...(defaultAuth ? {} : { authenticate: testAuthenticate }),
    logger: { info: log("info"), warn: log("warn"), error: log("error") },
    probeIntervalMs: 100,
    ...options,
  });
  handles.push(handle);
  const client = createUserServiceClient(handle.grpcAddress);
  clients.push(client);
  return { handle, client, logs };
}

const missing = (handle = `nobody_${randomUUID().slice(0, 8)}`) => ({ handle });

describe("test issuer", () => {
  test("its tokens pass only where configured; another key, an expired token and a missing role are refused", async () => {
    const verifier = createJwksVerifier(issuer.verifierOptions);
    const { client } = await serve({
      services: [
        userRegistration({
          getProfileByHandle: {
            ...userServicePolicies.getProfileByHandle,
            auth: { kind: "roles", roles: ["admin"] },
          },
        }),
      ],
      interceptors: { auth: createAuthInterceptor({ verifier }) },
    });
    const uid = randomUUID();
    const created = await client.createProfile(
      { handle: `h_${uid.slice(0, 8)}`, displayName: "Kit", bio: "b", locale: "en" },
      { metadata: await issuer.authorization({ uid }), timeoutMs: 5000 },
    );
    expect(created.userId).toBe(uid);
    const mine = await client.getMyProfile({}, { metadata: await issuer.authorization({ uid }) });
    expect(mine.handle).toBe(created.handle);

    const other = await createTestIssuer({ issuer: issuer.issuer, audience: issuer.audience });
    try {
      const forged = await callOutcome(async () =>
        client.getMyProfile({}, { metadata: await other.authorization({ uid }) }),
      );
      expect(forged.codeName).toBe("UNAUTHENTICATED");
    } finally {
      await other.close();
    }
    const expired = await callOutcome(async () =>
      client.getMyProfile({}, { metadata: await issuer.authorization({ uid, expiresIn: -120 }) }),
    );
    expect(expired.codeName).toBe("UNAUTHENTICATED");
    const wrongAudience = await callOutcome(async () =>
      client.getMyProfile(
        {},
        { metadata: await issuer.authorization({ uid, claims: { aud: "x" } }) },
      ),
    );
    expect(wrongAudience.codeName).toBe("UNAUTHENTICATED");

    // Roles reach the rule: PERMISSION_DENIED without `admin`, through to the handler with it.
    const asUser = await callOutcome(async () =>
      client.getProfileByHandle(missing(), {
        metadata: await issuer.authorization({ roles: ["user"] }),
      }),
    );
    expect(asUser.codeName).toBe("PERMISSION_DENIED");
    const asAdmin = await callOutcome(async () =>
      client.getProfileByHandle(missing(), {
        metadata: await issuer.authorization({ roles: ["admin"] }),
      }),
    );
    expect(asAdmin.codeName).toBe("NOT_FOUND");
    expect(issuer.jwksRequests()).toBeGreaterThan(0);
    await verifier.close();
  });

  test("a server not configured with the issuer does not accept its tokens", async () => {
    const { client } = await serve({}, { defaultAuth: true });
    const r = await callOutcome(async () =>
      client.getMyProfile({}, { metadata: await issuer.authorization({ uid: randomUUID() }) }),
    );
    expect(r.codeName).toBe("UNAUTHENTICATED");
  });
});

describe("fault injection", () => {
  test("off by default: no fault without configuration or SVCGEN_FAULTS", async () => {
    const { client, logs } = await serve();
    const r = await callOutcome(() => client.getProfileByHandle(missing()));
    expect(r.codeName).toBe("NOT_FOUND");
    expect(logs.some((l) => l.msg.includes("fault injection"))).toBe(false);
  });

  test("errors with ratio 1: exactly the configured status on the configured method only", async () => {
    const { client } = await serve({
      features: { faults: "GetProfileByHandle=error:UNAVAILABLE" },
    });
    const codes: string[] = [];
    for (let i = 0; i < 20; i++)
      codes.push((await callOutcome(() => client.getProfileByHandle(missing()))).codeName);
    expect(codes).toEqual(Array(20).fill("UNAVAILABLE"));
    const other = await callOutcome(() =>
      client.getProfile({ userId: randomUUID() }, { metadata: { "x-test-uid": "u" } }),
    );
    expect(other.codeName).toBe("NOT_FOUND");
  });

  test("a ratio with a fixed seed: the count the seeded draws give, reproducibly", async () => {
    const spec = "UserService/GetProfileByHandle=error:RESOURCE_EXHAUSTED@30%";
    const counts: number[] = [];
    for (let run = 0; run < 2; run++) {
      const { client } = await serve({ features: { faults: { rules: spec, seed: 42 } } });
      const codes: Record<string, number> = {};
      for (let i = 0; i < 100; i++) {
        const c = (await callOutcome(() => client.getProfileByHandle(missing()))).codeName;
        codes[c] = (codes[c] ?? 0) + 1;
      }
      expect(Object.keys(codes).sort()).toEqual(["NOT_FOUND", "RESOURCE_EXHAUSTED"]);
      counts.push(codes.RESOURCE_EXHAUSTED ?? 0);
    }
    const draw = seededRandom(42);
    let expected = 0;
    for (let i = 0; i < 100; i++) if (draw() < 0.3) expected++;
    expect(counts).toEqual([expected, expected]);
    expect(expected).toBeGreaterThan(10);
    expect(expected).toBeLessThan(50);
  });

  test("latency: every call at least the configured delay, and it counts against the deadline", async () => {
    const { client } = await serve({ features: { faults: "GetProfileByHandle=latency:200ms" } });
    for (let i = 0; i < 4; i++) {
      const r = await callOutcome(() => client.getProfileByHandle(missing()));
      expect(r.codeName).toBe("NOT_FOUND");
      expect(r.ms).toBeGreaterThanOrEqual(195);
      // Generous margin: the point is "about 200 ms", not a benchmark.
      expect(r.ms).toBeLessThan(200 + 1500);
    }
    const late = await callWithDeadline(80, (o) => client.getProfileByHandle(missing(), o));
    expect(late.codeName).toBe("DEADLINE_EXCEEDED");
  });

  test("drop: the call's connection is torn down (a call in flight on it fails too), then the client reconnects", async () => {
    const { client } = await serve({
      features: { faults: "/example.user.v1.UserService/GetProfile=drop" },
    });
    // Open the connection and put a slow call on it.
    expect((await callOutcome(() => client.getProfileByHandle(missing()))).codeName).toBe(
      "NOT_FOUND",
    );
    const slow = callOutcome(() =>
      client.getProfileByHandle({ handle: "sleep_1500" }, { timeoutMs: 5000 }),
    );
    await new Promise((r) => setTimeout(r, 200));
    const dropped = await callOutcome(() =>
      client.getProfile({ userId: randomUUID() }, { metadata: { "x-test-uid": "u" } }),
    );
    expect(dropped.codeName).toBe("UNAVAILABLE");
    const inFlight = await slow;
    expect(inFlight.codeName).toBe("UNAVAILABLE");
    expect(inFlight.ms).toBeLessThan(1500);
    expect((await callOutcome(() => client.getProfileByHandle(missing()))).codeName).toBe(
      "NOT_FOUND",
    );
  });

  test("SVCGEN_FAULTS from the environment; a production start logs a warning; a bad spec names the position", async () => {
    const { client, logs } = await serve({
      env: { DATABASE_URL: db.url, SVCGEN_FAULTS: " *=error:14 ; ", NODE_ENV: "production" },
    });
    expect((await callOutcome(() => client.getProfileByHandle(missing()))).codeName).toBe(
      "UNAVAILABLE",
    );
    const warning = logs.find((l) => l.level === "warn" && l.msg.includes("fault injection"));
    expect(warning?.fields).toEqual({ faults: "*=error:UNAVAILABLE" });

    const bad = await serve({
      env: { DATABASE_URL: db.url, SVCGEN_FAULTS: "GetProfile=latency:200ms,lag:5" },
    }).then(
      () => undefined,
      (e: unknown) => e as FaultSpecError,
    );
    expect(bad?.name).toBe("FaultSpecError");
    expect(bad?.message).toBe(
      'SVCGEN_FAULTS: at 26: unknown fault "lag" (expected latency, error or drop)',
    );
  });
});

describe("database outage", () => {
  test("calls fail UNAVAILABLE during the outage and recover after it", async () => {
    const { client } = await serve();
    expect((await callOutcome(() => client.getProfileByHandle(missing()))).codeName).toBe(
      "NOT_FOUND",
    );
    const outage = await startDatabaseOutage(db.url);
    let restored = false;
    try {
      expect(outage.terminated).toBeGreaterThan(0);
      const during: string[] = [];
      for (let i = 0; i < 5; i++) {
        during.push(
          (await callOutcome(() => client.getProfileByHandle(missing(), { timeoutMs: 4000 })))
            .codeName,
        );
      }
      expect(during).toEqual(Array(5).fill("UNAVAILABLE"));
      await outage.restore();
      restored = true;
      const t0 = Date.now();
      let last = "";
      while (Date.now() - t0 < 15_000) {
        last = (await callOutcome(() => client.getProfileByHandle(missing(), { timeoutMs: 2000 })))
          .codeName;
        if (last === "NOT_FOUND") break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(last).toBe("NOT_FOUND");
    } finally {
      if (!restored) await outage.restore();
    }
  });
});

describe("call context", () => {
  test("a deadline and a cancel mid-call both cancel the SQL on the server", async () => {
    const { client, handle } = await serve();
    const late = await callWithDeadline(150, (o) =>
      client.getProfileByHandle({ handle: "sleep_5000" }, o),
    );
    expect(late.codeName).toBe("DEADLINE_EXCEEDED");
    await expectQueryCancelled(handle.pool, "pg_sleep", { timeoutMs: 3000 });

    const probe = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      const cancelled = await cancelMidCall(
        (o) => client.getProfileByHandle({ handle: "sleep_5000" }, o),
        () => waitForQuery(probe, "pg_sleep"),
      );
      expect(cancelled.codeName).toBe("CANCELLED");
      expect(cancelled.ms).toBeLessThan(4000);
      await expectQueryCancelled(probe, "pg_sleep", { timeoutMs: 3000 });

      // The assertion fails while such a statement still runs.
      const other = new pg.Client({ connectionString: db.url });
      await other.connect();
      const running = other.query("SELECT pg_sleep(1.5)");
      await waitForQuery(probe, "pg_sleep(1.5)");
      await expect(
        expectQueryCancelled(probe, /pg_sleep\(1\.5\)/, { timeoutMs: 200 }),
      ).rejects.toThrow(/still running: "SELECT pg_sleep\(1\.5\)"/);
      await running;
      await other.end();
    } finally {
      await probe.end();
    }
  });
});
