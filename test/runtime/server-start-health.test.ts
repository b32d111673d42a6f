/**
 * Health is right from the first check after `startServer` resolves: the first database probe
 * (and the first fetch of the verifier's signing keys) run before the server listens, so a
 * healthy service answers SERVING and `/readyz` 200 at once, with no NOT_SERVING window until
 * the next probe; with the database unreachable the start still completes (bounded by the
 * connect timeout) and health says NOT_SERVING.
 */

import { type ServerHandle, type StartServerOptions, startServer } from "@svcgen/runtime/server";
import { createTestIssuer, type TestIssuer } from "@svcgen/runtime/testing";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { freePort } from "../../cli/src/db/embedded-server.js";
import { createTestDatabase, type TestDatabase } from "../db.js";
import { checkHealth, httpStatus } from "./service-client.js";
import { userErrorMap, userRegistration, userSchemaSql } from "./user-test-service.js";

let db: TestDatabase;
let issuer: TestIssuer;
const handles: ServerHandle[] = [];
const quiet = { info: () => {}, warn: () => {}, error: () => {} };

beforeAll(async () => {
  db = await createTestDatabase("server_start_health", await userSchemaSql());
  issuer = await createTestIssuer();
});

afterAll(async () => {
  for (const h of handles) await h.close();
  await issuer?.close();
  await db?.drop();
});

async function start(env: Record<string, string>, extra: Partial<StartServerOptions> = {}) {
  const handle = await startServer({
    services: [userRegistration()],
    env,
    settings: { host: "127.0.0.1", port: 0, httpPort: 0, shutdownGraceMs: 1000 },
    errorMap: userErrorMap,
    logger: quiet,
    // Far apart: only the probe before listening can make the first check SERVING.
    probeIntervalMs: 60_000,
    ...extra,
  });
  handles.push(handle);
  return handle;
}

describe("health at start", () => {
  test("SERVING and /readyz 200 on the first check, database and signing keys ready", async () => {
    const handle = await start({
      DATABASE_URL: db.url,
      AUTH_JWKS_URL: issuer.jwksUrl,
      AUTH_ISSUER: issuer.issuer,
      AUTH_AUDIENCE: issuer.audience,
    });
    expect(await checkHealth(handle.grpcAddress)).toBe("SERVING");
    expect(await checkHealth(handle.grpcAddress, "example.user.v1.UserService")).toBe("SERVING");
    expect(await httpStatus(handle.httpAddress, "/readyz")).toBe(200);
    expect(issuer.jwksRequests()).toBe(1);
  });

  test("an unreachable database: the start completes, health NOT_SERVING, /readyz 503", async () => {
    const closedPort = await freePort();
    const handle = await start({
      DATABASE_URL: `postgres://postgres@127.0.0.1:${closedPort}/nowhere`,
      DATABASE_CONNECT_TIMEOUT_MS: "500",
    });
    expect(await checkHealth(handle.grpcAddress)).toBe("NOT_SERVING");
    expect(await httpStatus(handle.httpAddress, "/readyz")).toBe(503);
    expect(await httpStatus(handle.httpAddress, "/healthz")).toBe(200);
  });
});
