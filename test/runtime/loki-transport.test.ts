/**
 * The Loki transport against a push receiver on loopback that fails its first pushes: every
 * line arrives, in order, with only the service and level labels; in a child process, lines
 * written just before SIGTERM arrive too.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createServiceLogger } from "@svcgen/runtime/telemetry";
import { afterAll, beforeAll, beforeEach, expect, test } from "vitest";

interface Received {
  readonly labels: Record<string, string>;
  readonly line: Record<string, unknown>;
}

let receiver: Server;
let url = "";
/** Pushes still to refuse with 503. */
let failNext = 0;
let refused = 0;
const received: Received[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method !== "POST" || req.url !== "/loki/api/v1/push") {
        res.writeHead(404).end();
        return;
      }
      if (failNext > 0) {
        failNext -= 1;
        refused += 1;
        res.writeHead(503).end("not ready");
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
        streams: { stream: Record<string, string>; values: [string, string][] }[];
      };
      for (const s of body.streams) {
        for (const [, line] of s.values)
          received.push({ labels: s.stream, line: JSON.parse(line) });
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  const a = receiver.address();
  url = `http://127.0.0.1:${typeof a === "object" && a !== null ? a.port : 0}`;
});

afterAll(() => {
  receiver?.close();
});

beforeEach(() => {
  received.length = 0;
  refused = 0;
  failNext = 0;
});

const nullSink = new Writable({
  write(_c, _e, cb) {
    cb();
  },
});

test("every line arrives in order despite failed pushes; labels are service and level only", async () => {
  failNext = 3;
  const logger = createServiceLogger({
    service: "orders",
    destination: nullSink,
    lokiUrl: url,
    loki: { batchSize: 20, intervalMs: 20, initialBackoffMs: 20 },
    env: {},
  });
  for (let i = 0; i < 100; i++) logger.log.info({ n: i, user: `u${i}` }, "line");
  logger.security.warn({ reason: "expired" }, "Authentication failed");
  logger.log.error({ n: 100 }, "boom");
  await logger.close();
  expect(refused).toBe(3);
  expect(received).toHaveLength(102);
  const infos = received.filter((r) => r.labels.level === "info").map((r) => r.line.n);
  expect(infos).toEqual([...Array(100).keys()]);
  for (const r of received) expect(Object.keys(r.labels).sort()).toEqual(["level", "service"]);
  expect(received.find((r) => r.labels.level === "warn")?.line.channel).toBe("security");
  expect(received.find((r) => r.labels.level === "error")?.line.n).toBe(100);
  expect(logger.loki?.stats()).toMatchObject({ sent: 102, dropped: 0, queued: 0 });
});

test("lines written just before SIGTERM arrive, with Loki refusing the first pushes", async () => {
  failNext = 4;
  // The child logs through the built runtime and exits from its SIGTERM handler.
  const code = `
    import { createServiceLogger } from "@svcgen/runtime/telemetry";
    const logger = createServiceLogger({
      service: "child", lokiUrl: process.env.LOKI, closeOnSignals: true,
      loki: { intervalMs: 60000, initialBackoffMs: 50 }, env: {},
    });
    for (let i = 0; i < 500; i++) logger.log.info({ n: i }, "before SIGTERM");
    process.stdout.write("ready\\n");
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", code], {
    cwd: join(import.meta.dirname, "../.."),
    env: { ...process.env, LOKI: url },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (c: Buffer) => {
    out += c.toString();
  });
  for (let i = 0; i < 400 && !out.includes("ready"); i++)
    await new Promise((r) => setTimeout(r, 25));
  // Nothing was pushed yet (60 s interval): every line is in flight at the signal.
  expect(received).toHaveLength(0);
  child.kill("SIGTERM");
  const [exitCode] = await once(child, "exit");
  expect(exitCode).toBe(0);
  expect(refused).toBe(4);
  expect(received.map((r) => r.line.n)).toEqual([...Array(500).keys()]);
  expect(received.every((r) => r.labels.service === "child" && r.labels.level === "info")).toBe(
    true,
  );
});
