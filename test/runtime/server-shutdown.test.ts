/**
 * Graceful shutdown of a service process (a child process run like a generated entry point):
 * SIGTERM under load flips readiness first, lets the calls in flight finish, refuses new
 * ones, exits 0 within the grace period, and loses no write answered OK.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import type { EmbeddedPostgresServer } from "@svcgen/runtime/embedded-postgres";
import pg from "pg";
import { afterAll, beforeAll, expect, test } from "vitest";
import { createUserServiceClient } from "../../example-project/gen/grpc/user-service.js";
import { startControlledPostgres } from "./controlled-postgres.js";
import { httpStatus, type Outcome, outcome } from "./service-client.js";
import { userSchemaSql } from "./user-test-service.js";

let db: EmbeddedPostgresServer;
let child: ChildProcess | undefined;

beforeAll(async () => {
  db = await startControlledPostgres(await userSchemaSql());
});

afterAll(async () => {
  if (child !== undefined && child.exitCode === null) child.kill("SIGKILL");
  await db?.stop();
});

/** Starts the service process; resolves with its addresses once it logged "listening". */
async function startService(graceMs: number, delayMs: number) {
  const root = join(import.meta.dirname, "..", "..");
  const proc = spawn(
    join(root, "node_modules", ".bin", "vite-node"),
    [join(import.meta.dirname, "shutdown-child.ts")],
    {
      cwd: root,
      env: {
        ...process.env,
        DATABASE_URL: db.url,
        HOST: "127.0.0.1",
        PORT: "0",
        HTTP_PORT: "0",
        SHUTDOWN_GRACE_MS: String(graceMs),
        SHUTDOWN_DELAY_MS: String(delayMs),
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  child = proc;
  let output = "";
  proc.stdout?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  proc.stderr?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
    proc.once("exit", (code) => resolve({ code, at: Date.now() })),
  );
  const t0 = Date.now();
  while (!output.includes('"listening"')) {
    if (Date.now() - t0 > 30_000 || proc.exitCode !== null)
      throw new Error(`no listening line:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const line = output.split("\n").find((l) => l.includes('"listening"')) ?? "";
  const { grpc, http } = JSON.parse(line) as { grpc: string; http: string };
  while ((await httpStatus(http, "/readyz")) !== 200) await new Promise((r) => setTimeout(r, 50));
  return { proc, grpc, http, exited, output: () => output };
}

test("SIGTERM under load: readiness flips first, in-flight calls finish, new calls refused, exit 0 within the grace period", async () => {
  const graceMs = 3000;
  const { proc, grpc, http, exited, output } = await startService(graceMs, 600);
  const client = createUserServiceClient(grpc);

  // Load: writes from 10 callers, plus slow calls (600 ms in the database) in flight at SIGTERM.
  const okWrites: string[] = [];
  const outcomes: Array<Outcome & { sentAt: number; doneAt: number }> = [];
  let stop = false;
  const writer = async (): Promise<void> => {
    while (!stop) {
      const uid = randomUUID();
      const sentAt = Date.now();
      const r = await outcome(() =>
        client.createProfile(
          {
            handle: `s_${uid.replaceAll("-", "").slice(0, 20)}`,
            displayName: "S",
            bio: "b",
            locale: "en",
          },
          { metadata: { "x-test-uid": uid }, timeoutMs: 5000 },
        ),
      );
      outcomes.push({ ...r, sentAt, doneAt: Date.now() });
      if (r.code === status.OK) okWrites.push(uid);
      else await new Promise((res) => setTimeout(res, 20));
    }
  };
  const writers = Promise.all(Array.from({ length: 10 }, writer));
  await new Promise((r) => setTimeout(r, 300));
  const slow = Array.from({ length: 5 }, () =>
    outcome(() => client.getProfileByHandle({ handle: "sleep_600" }, { timeoutMs: 5000 })),
  );
  await new Promise((r) => setTimeout(r, 100));
  const sigtermAt = Date.now();
  proc.kill("SIGTERM");
  let notReadyAt: number | undefined;
  while (notReadyAt === undefined) {
    const code = await httpStatus(http, "/readyz").catch(() => 0);
    if (code === 503 || code === 0) notReadyAt = Date.now();
  }
  const slowResults = await Promise.all(slow);
  const exit = await exited;
  stop = true;
  await writers;
  client.close();

  // The calls in flight at SIGTERM completed normally (the handler's own NOT_FOUND).
  expect(slowResults.map((r) => r.code)).toEqual(Array(5).fill(status.NOT_FOUND));
  expect(exit.code).toBe(0);
  expect(exit.at - sigtermAt).toBeLessThan(graceMs + 1000);
  // Readiness flipped before any call was refused.
  const refused = outcomes.filter((o) => o.code !== status.OK);
  expect(refused.length).toBeGreaterThan(0);
  expect(
    refused
      .filter((o) => o.code !== status.UNAVAILABLE)
      .map((o) => `${status[o.code]}: ${o.error?.details}`),
  ).toEqual([]);
  const firstRefused = Math.min(...refused.map((o) => o.doneAt));
  expect(notReadyAt).toBeLessThanOrEqual(firstRefused);
  // Calls were still answered between readiness flipping and the server closing.
  expect(
    outcomes.filter((o) => o.code === status.OK && o.sentAt >= notReadyAt!).length,
  ).toBeGreaterThan(0);
  // No write answered OK is missing.
  const check = new pg.Client({ connectionString: db.url });
  await check.connect();
  try {
    const rows = await check.query(
      "SELECT count(*)::int AS n FROM profiles WHERE user_id = ANY($1::uuid[])",
      [okWrites],
    );
    expect(rows.rows[0].n).toBe(okWrites.length);
  } finally {
    await check.end();
  }
  expect(output()).toMatch(/"msg":"stopped"/);
});

test("calls still running when the grace period ends are cancelled, their SQL too, and the process exits 0", async () => {
  const graceMs = 1000;
  const { proc, grpc, exited } = await startService(graceMs, 0);
  const client = createUserServiceClient(grpc);
  const slow = outcome(() =>
    client.getProfileByHandle({ handle: "sleep_8000" }, { timeoutMs: 20_000 }),
  );
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  try {
    const sleeping = async () =>
      (
        await admin.query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%pg_sleep%' AND state = 'active' AND pid <> pg_backend_pid()",
        )
      ).rows[0].n as number;
    while ((await sleeping()) === 0) await new Promise((r) => setTimeout(r, 20));
    const sigtermAt = Date.now();
    proc.kill("SIGTERM");
    const r = await slow;
    expect(r.code).toBe(status.UNAVAILABLE);
    const exit = await exited;
    expect(exit.code).toBe(0);
    expect(exit.at - sigtermAt).toBeLessThan(graceMs + 1500);
    // The query was cancelled on the server, not left running for 8 s.
    const t0 = Date.now();
    while ((await sleeping()) > 0) {
      expect(Date.now() - t0).toBeLessThan(1000);
      await new Promise((res) => setTimeout(res, 20));
    }
  } finally {
    client.close();
    await admin.end();
  }
});
