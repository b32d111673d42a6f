/**
 * `svcgen load` against a real service the test starts (the example project's UserService
 * over a database of the run's PostgreSQL, auth by a test issuer's real tokens): exact counts
 * and statuses for a known number of calls, percentiles that agree with per-call timings the
 * server side records independently, templates, auth, and the usage errors (exit 2).
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createAuthInterceptor,
  createJwksVerifier,
  type TokenVerifier,
} from "@svcgen/runtime/auth";
import { type ServerHandle, startServer } from "@svcgen/runtime/server";
import { createTestIssuer, type TestIssuer } from "@svcgen/runtime/testing";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { LoadReport } from "../../cli/src/commands/load-command.js";
import { main } from "../../cli/src/main.js";
import {
  createUserServiceClient,
  type UserServiceClient,
} from "../../example-project/gen/grpc/user-service.js";
import { createTestDatabase, type TestDatabase } from "../db.js";
import { percentile } from "../runtime/service-client.js";
import { userErrorMap, userRegistration, userSchemaSql } from "../runtime/user-test-service.js";

const root = join(import.meta.dirname, "..", "..");
const config = join(root, "example-project", "svcgen.yaml");
const bin = join(root, "bin", "svcgen.js");
let db: TestDatabase;
let issuer: TestIssuer;
let verifier: TokenVerifier;
let handle: ServerHandle;
let client: UserServiceClient;
let dir: string;
/** Server-side duration of every GetProfileByHandle call, recorded by the outermost slot. */
const serverMs: number[] = [];
const uid = randomUUID();
const handles: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase("load", await userSchemaSql());
  issuer = await createTestIssuer();
  verifier = createJwksVerifier(issuer.verifierOptions);
  dir = await mkdtemp(join(tmpdir(), "svcgen-load-"));
  handle = await startServer({
    services: [userRegistration()],
    env: { DATABASE_URL: db.url },
    settings: { host: "127.0.0.1", port: 0, httpPort: 0, shutdownGraceMs: 1000 },
    errorMap: userErrorMap,
    logger: { info() {}, warn() {}, error() {} },
    features: { faults: "GetProfileByHandle=latency:20ms" },
    interceptors: {
      auth: createAuthInterceptor({ verifier }),
      telemetry: async (call, next) => {
        const t0 = performance.now();
        try {
          await next();
        } finally {
          if (call.info.method === "GetProfileByHandle") serverMs.push(performance.now() - t0);
        }
      },
    },
  });
  client = createUserServiceClient(handle.grpcAddress);
  for (let i = 0; i < 3; i++) {
    const owner = i === 0 ? uid : randomUUID();
    const p = await client.createProfile(
      { handle: `load_${owner.slice(0, 8)}`, displayName: "Load", bio: "b", locale: "en" },
      { metadata: await issuer.authorization({ uid: owner }) },
    );
    handles.push(p.handle);
  }
});

afterAll(async () => {
  client?.close();
  await handle?.close();
  await verifier?.close();
  await issuer?.close();
  await db?.drop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

async function svcgen(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(["-c", config, "load", ...args], {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    cwd: root,
    env: { ...process.env, DATABASE_URL: db.url },
  });
  return { code, out, err };
}

/**
 * The built CLI in its own process, as a benchmark runs it: its event loop and CPU are not
 * shared with the server's, so its timings can be compared with the server's own.
 */
function builtSvcgen(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, "-c", config, "load", ...args], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: db.url },
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
    });
    child.stderr.on("data", (b: Buffer) => {
      err += b.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, out, err }));
  });
}

async function load(...args: string[]): Promise<LoadReport> {
  const r = await svcgen(...args, "--target", handle.grpcAddress, "--json");
  expect(r.err).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.out) as LoadReport;
}

describe("svcgen load", () => {
  test("a known number of calls after a warm-up: exact counts and statuses", async () => {
    const values = join(dir, "handles.jsonl");
    await writeFile(
      values,
      `${[...handles, "nobody_here"].map((h) => JSON.stringify({ handle: h })).join("\n")}\n`,
    );
    const r = await load(
      "UserService.GetProfileByHandle",
      "--data",
      '{"handle": "{{handle}}"}',
      "--values",
      values,
      "--calls",
      "200",
      "--concurrency",
      "8",
      "--per-channel",
      "4",
      "--warmup",
      "0.3",
    );
    // Warm-up calls are not counted.
    expect(r.method).toBe("/example.user.v1.UserService/GetProfileByHandle");
    expect(r.calls).toBe(200);
    expect(r.channels).toBe(2);
    // Row seq mod 4: three existing handles, one missing.
    expect(r.statuses).toEqual({ OK: 150, NOT_FOUND: 50 });
    expect(r.latencyMs.min).toBeGreaterThanOrEqual(20);
    expect(r.clientCpu.usPerCall).toBeGreaterThan(0);
    expect(r.throughput).toBeCloseTo((r.calls * 1000) / r.durationMs, 1);
  });

  test("its percentiles agree with the per-call timings the server records", async () => {
    // Calls that sleep 10 to 190 ms in the database (the test service's `sleep_<ms>` handle),
    // so the percentiles are far apart and transport overhead is small beside them.
    const values = join(dir, "sleeps.jsonl");
    const sleeps = Array.from({ length: 19 }, (_, i) => `sleep_${(i + 1) * 10}`);
    await writeFile(values, `${sleeps.map((h) => JSON.stringify({ h })).join("\n")}\n`);
    serverMs.length = 0;
    const run = await builtSvcgen(
      "UserService.GetProfileByHandle",
      "--data",
      '{"handle": "{{h}}"}',
      "--values",
      values,
      "--calls",
      "76",
      "--concurrency",
      "4",
      "--target",
      handle.grpcAddress,
      "--json",
    );
    expect(run.err).toBe("");
    expect(run.code).toBe(0);
    const r = JSON.parse(run.out) as LoadReport;
    expect(r.statuses).toEqual({ NOT_FOUND: 76 });
    expect(serverMs).toHaveLength(76);
    const pairs = [
      [r.latencyMs.p50, percentile(serverMs, 50)],
      [r.latencyMs.p90, percentile(serverMs, 90)],
      [r.latencyMs.max, Math.max(...serverMs)],
    ] as const;
    for (const [reported, server] of pairs) {
      // A client's latency is the server's plus loopback and scheduling: never less (less a
      // clock's rounding), and, with generous margins for a loaded machine, not much more.
      expect(reported).toBeGreaterThanOrEqual(server - 1);
      expect(reported).toBeLessThanOrEqual(server * 1.5 + 15);
    }
  });

  test("auth from --token (a test issuer's) and --header; {{uuid}} gives each call a fresh id", async () => {
    const token = await issuer.token({ uid });
    const mine = await load("UserService.GetMyProfile", "--token", token, "--calls", "20");
    expect(mine.statuses).toEqual({ OK: 20 });
    const bad = await load(
      "example.user.v1.UserService/GetMyProfile",
      "-H",
      "authorization: Bearer not.a.token",
      "--calls",
      "10",
    );
    expect(bad.statuses).toEqual({ UNAUTHENTICATED: 10 });
    expect(bad.errors[0]?.code).toBe("UNAUTHENTICATED");
    const fresh = await load(
      "UserService.GetProfile",
      "--data",
      '{"userId": "{{uuid}}"}',
      "--token",
      token,
      "--calls",
      "30",
      "--concurrency",
      "3",
    );
    expect(fresh.statuses).toEqual({ NOT_FOUND: 30 });
    const invalid = await load(
      "UserService.GetProfile",
      "--data",
      '{"userId": "x{{seq}}"}',
      "--token",
      token,
      "--calls",
      "5",
    );
    expect(invalid.statuses).toEqual({ INVALID_ARGUMENT: 5 });
  });

  test("--rps paces the calls; the human report names every figure", async () => {
    const r = await svcgen(
      "UserService.GetProfileByHandle",
      "--data",
      `{"handle": "${handles[0]}"}`,
      "--rps",
      "40",
      "--duration",
      "1",
      "--target",
      handle.grpcAddress,
    );
    expect(r.code).toBe(0);
    const calls = Number(/(\d+) calls in/.exec(r.out)?.[1]);
    // 40 starts scheduled within the second; a loaded machine may start a few late.
    expect(calls).toBeGreaterThanOrEqual(30);
    expect(calls).toBeLessThanOrEqual(40);
    expect(r.out).toMatch(/statuses: OK \d+\n/);
    expect(r.out).toMatch(/latency ms: p50 [\d.]+ {2}p90 [\d.]+ {2}p99 [\d.]+ {2}max [\d.]+/);
    expect(r.out).toMatch(/client CPU: [\d.]+ us per call/);
  });

  test("a bad --data is an error naming the field, exit 2", async () => {
    const unknown = await svcgen("UserService.GetProfileByHandle", "--data", '{"handel": "x"}');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toBe(
      'error: --data: field "handel" is not a field of example.user.v1.GetProfileByHandleRequest\n  hint: Did you mean "handle"?\n',
    );
    const wrongType = await svcgen("UserService.GetProfileByHandle", "--data", '{"handle": 5}');
    expect(wrongType.code).toBe(2);
    expect(wrongType.err).toBe(
      "error: --data: field example.user.v1.GetProfileByHandleRequest.handle: expected string, got 5\n",
    );
    const notJson = await svcgen("UserService.GetProfileByHandle", "--data", "{handle: 1}");
    expect(notJson.code).toBe(2);
    expect(notJson.err).toMatch(/^error: --data is not JSON: /);
    const noValues = await svcgen(
      "UserService.GetProfileByHandle",
      "--data",
      '{"handle": "{{name}}"}',
    );
    expect(noValues.code).toBe(2);
    expect(noValues.err).toContain("--data uses {{name}} but no --values file was given");
  });

  test("an unknown method is exit 2 with a did-you-mean", async () => {
    const r = await svcgen("UserService.GetProfil", "--calls", "1");
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      "error: Unknown method UserService.GetProfil\n  hint: Did you mean UserService.GetProfile?\n",
    );
    const bad = await svcgen("UserService.GetProfile", "--concurrency", "0");
    expect(bad.code).toBe(2);
    expect(bad.err).toBe("error: --concurrency must be a whole number > 0, not 0\n");
    const notStream = await svcgen("UserService.GetProfile", "--stream-count", "5");
    expect(notStream.code).toBe(2);
    expect(notStream.err).toBe(
      "error: --stream-count applies to client-streaming and bidi methods; UserService.GetProfile is unary\n",
    );
  });
});
