/**
 * A generated client across two instances of one service (real gRPC servers on loopback,
 * the example project's UserService with a slow counting handler): under load, killing one
 * instance fails only calls already in flight when it died (none started after); the
 * instance returns to the rotation once it is back; an instance that answers but fails every
 * call is ejected by outlier detection (and, as the control, keeps getting calls without it).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Server, ServerCredentials, type ServiceError, status } from "@grpc/grpc-js";
import { type CallContext, RpcError } from "@svcgen/runtime/grpc";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import {
  addUserService,
  createUserServiceClient,
  type UserServiceClient,
} from "../../example-project/gen/grpc/user-service.js";
import { UserServiceImpl } from "../../example-project/src/user-service/handlers.js";

// The handlers never touch the database: a pool that is never connected.
const pool = new pg.Pool({ connectionString: "postgres://unused@127.0.0.1:1/unused" });

/** GetProfileByHandle that takes 10 ms and counts calls in flight and served. */
class CountingUserService extends UserServiceImpl {
  inFlight = 0;
  served = 0;
  failing = false;

  constructor() {
    super(pool);
  }

  override async getProfileByHandle(
    request: Parameters<UserServiceImpl["getProfileByHandle"]>[0],
    _ctx: CallContext,
  ): ReturnType<UserServiceImpl["getProfileByHandle"]> {
    this.inFlight += 1;
    try {
      await sleep(10);
      this.served += 1;
      if (this.failing) throw new RpcError(status.UNAVAILABLE, "this instance is broken");
      return { handle: request.handle, displayName: "Load" };
    } finally {
      this.inFlight -= 1;
    }
  }
}

/** One instance: a gRPC server on `port` (0: a free one). */
async function startInstance(port = 0): Promise<{
  server: Server;
  impl: CountingUserService;
  port: number;
}> {
  const server = new Server();
  const impl = new CountingUserService();
  addUserService(server, impl);
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (e, p) =>
      e === null ? resolve(p) : reject(e),
    ),
  );
  return { server, impl, port: bound };
}

const servers: Server[] = [];
const clients: UserServiceClient[] = [];

/** Every load started, stopped at the end even when an assertion failed mid-test. */
const loads: { stop(): Promise<void> }[] = [];

afterAll(async () => {
  for (const l of loads) await l.stop();
  for (const c of clients) c.close();
  for (const s of servers) s.forceShutdown();
  await pool.end();
});

/**
 * Waits until `cond` holds, polling every 20 ms; fails after `ms` (generous: the machine may be
 * loaded, and these tests assert what happens, not how fast).
 */
async function waitFor(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A failed call: its status and when it started (performance.now()). */
interface Failure {
  readonly code: number;
  readonly startedAt: number;
}

/** Callers in a loop until `stop()`; failures recorded with their codes and start times. */
function load(client: UserServiceClient, callers: number) {
  const failures: Failure[] = [];
  let ok = 0;
  let running = true;
  const loops = Array.from({ length: callers }, async () => {
    while (running) {
      const startedAt = performance.now();
      try {
        await client.getProfileByHandle({ handle: "load_test" }, { timeoutMs: 5000 });
        ok += 1;
      } catch (e) {
        failures.push({ code: (e as ServiceError).code, startedAt });
      }
    }
  });
  const handle = {
    failures,
    ok: () => ok,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
  loads.push(handle);
  return handle;
}

describe("a generated client across two instances", () => {
  it("killing one under load fails only its in-flight calls; it returns to rotation when back", async () => {
    const a = await startInstance();
    const b = await startInstance();
    servers.push(a.server, b.server);
    const client = createUserServiceClient([`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`], {
      reconnectBackoffMs: { initial: 100, max: 200 },
    });
    clients.push(client);
    const run = load(client, 8);
    // round_robin: both instances take calls.
    await waitFor("both instances to serve", () => a.impl.served >= 10 && b.impl.served >= 10);

    // Kill A: connections dropped at once, no drain. The only calls allowed to fail are those
    // in flight on A when it died: at most one per caller, each started before the client
    // could learn of the death (the kill, plus a generous 250 ms for the reset to arrive on a
    // loaded machine). Once the client knows, every call goes to B.
    expect(run.failures).toEqual([]);
    const killedAt = performance.now();
    a.server.forceShutdown();
    const bBefore = b.impl.served;
    await waitFor("B to serve alone", () => b.impl.served >= bBefore + 30);
    const learnt = killedAt + 250;
    expect(run.failures.filter((f) => f.startedAt >= learnt)).toEqual([]);
    // UNAVAILABLE when the connection drops; CANCELLED for a stream the dying server reset.
    expect(
      run.failures.filter((f) => f.code !== status.UNAVAILABLE && f.code !== status.CANCELLED),
    ).toEqual([]);
    expect(run.failures.length).toBeLessThanOrEqual(8);

    // A comes back on the same port and rejoins the rotation.
    const a2 = await startInstance(a.port);
    servers.push(a2.server);
    await waitFor("the restarted instance to serve", () => a2.impl.served >= 20);
    await run.stop();
    // Nothing failed after the kill's in-flight calls: the restart cost no calls either.
    expect(run.failures.filter((f) => f.startedAt >= learnt)).toEqual([]);
    expect(run.failures.length).toBeLessThanOrEqual(8);
    expect(run.ok()).toBeGreaterThan(60);
  });

  it("outlier detection ejects an instance that answers with failures", async () => {
    const good = await startInstance();
    const bad = await startInstance();
    servers.push(good.server, bad.server);
    bad.impl.failing = true;
    const client = createUserServiceClient([`127.0.0.1:${good.port}`, `127.0.0.1:${bad.port}`], {
      loadBalancing: { outlierDetection: { intervalMs: 300, requestVolume: 5 } },
    });
    clients.push(client);
    const run = load(client, 4);
    await waitFor("failures from the broken instance", () => run.failures.length >= 5);
    // Ejected within a few intervals: then the broken instance gets no calls for a while
    // (the base ejection time, 15 s) and nothing fails, while the good one keeps serving.
    let last = bad.impl.served;
    let since = performance.now();
    await waitFor("the broken instance to be ejected", () => {
      if (bad.impl.served !== last) {
        last = bad.impl.served;
        since = performance.now();
      }
      return performance.now() - since > 1000;
    });
    const badServed = bad.impl.served;
    const failed = run.failures.length;
    const goodServed = good.impl.served;
    await waitFor("the good instance to serve on", () => good.impl.served >= goodServed + 30);
    await run.stop();
    expect(bad.impl.served).toBe(badServed);
    expect(run.failures.length).toBe(failed);
  });

  it("without outlier detection the broken instance keeps getting calls (the control)", async () => {
    const good = await startInstance();
    const bad = await startInstance();
    servers.push(good.server, bad.server);
    bad.impl.failing = true;
    const client = createUserServiceClient([`127.0.0.1:${good.port}`, `127.0.0.1:${bad.port}`], {
      loadBalancing: { outlierDetection: false },
    });
    clients.push(client);
    const run = load(client, 4);
    await waitFor("failures from the broken instance", () => run.failures.length >= 5);
    // Long after outlier detection would have ejected it, it still takes its share.
    await sleep(1500);
    const badServed = bad.impl.served;
    await waitFor("the broken instance to keep serving", () => bad.impl.served >= badServed + 20);
    await run.stop();
  });

  it("a target list holds ip:port addresses of one family", async () => {
    const { resolveClientTarget } = await import("@svcgen/runtime/grpc");
    expect(resolveClientTarget("user.internal:50051")).toBe("user.internal:50051");
    expect(resolveClientTarget(["10.0.0.1:1", "10.0.0.2:2"])).toBe("ipv4:10.0.0.1:1,10.0.0.2:2");
    expect(resolveClientTarget(["[fdaa::1]:5", "[fdaa::2]:5"])).toBe(
      "ipv6:[fdaa::1]:5,[fdaa::2]:5",
    );
    expect(() => resolveClientTarget([])).toThrow(/empty/);
    expect(() => resolveClientTarget(["10.0.0.1:1", "user.internal:2"])).toThrow(
      /"user.internal:2" is not an ip:port address/,
    );
    expect(() => resolveClientTarget(["10.0.0.1:1", "[fdaa::1]:2"])).toThrow(/mixes IPv4 and IPv6/);
  });
});
