/**
 * Tracing in a child process started like a generated entry point (loader hook and SDK
 * first, service code through a dynamic import), spans in an in-memory exporter: client ->
 * server -> SQL in one trace, the chain across two services, two concurrent calls on a pool
 * of one connection each with its SQL span under its own call, and the log line of a failing
 * call carrying its span's ids; in both context propagation modes (`call`, the default, and
 * `async`, AsyncLocalStorage).
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { join } from "node:path";
import { promisify } from "node:util";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestDatabase, type TestDatabase } from "../db.js";
import { usersProject } from "../proto/proto-fixture.js";

interface SpanRecord {
  readonly name: string;
  readonly kind: number;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly attributes: Record<string, unknown>;
}

const root = join(import.meta.dirname, "../..");
// Inside the repository's node_modules, so the bundle's bare imports resolve to the real
// packages (grpc-js and pg stay external, loaded after the hook is registered).
const outDir = join(root, "node_modules/.cache/svcgen-tracing-test", String(process.pid));
let db: TestDatabase;
/** What the scenario recorded in each context propagation mode (`SVCGEN_TRACE_CONTEXT`). */
const modes = ["call", "async"] as const;
const recorded = new Map<
  (typeof modes)[number],
  { spans: SpanRecord[]; logs: Record<string, unknown>[] }
>();

beforeAll(async () => {
  db = await createTestDatabase(
    "tracing",
    readFileSync(join(usersProject, "sql/schema.sql"), "utf8"),
  );
  await mkdir(outDir, { recursive: true });
  await build({
    entryPoints: [
      join(import.meta.dirname, "tracing-child.ts"),
      join(import.meta.dirname, "tracing-env-child.ts"),
    ],
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    outdir: outDir,
    outExtension: { ".js": ".mjs" },
    logLevel: "error",
  });
  await Promise.all(
    modes.map(async (mode) => {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [join(outDir, "tracing-child.mjs")],
        {
          env: { ...process.env, TEST_DATABASE_URL: db.url, SVCGEN_TRACE_CONTEXT: mode },
          maxBuffer: 64 * 1024 * 1024,
        },
      );
      recorded.set(
        mode,
        JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as {
          spans: SpanRecord[];
          logs: Record<string, unknown>[];
        },
      );
    }),
  );
});

afterAll(async () => {
  if (process.env.KEEP_TRACING_BUNDLE !== "1") await rm(outDir, { recursive: true, force: true });
  await db?.drop();
});

describe.each(modes)("trace context propagation %s", (mode) => {
  const spans = (): SpanRecord[] => recorded.get(mode)?.spans ?? [];
  const logsOf = (): Record<string, unknown>[] => recorded.get(mode)?.logs ?? [];
  const rootSpan = (name: string): SpanRecord => {
    const s = spans().find((x) => x.name === name);
    if (s === undefined)
      throw new Error(
        `no span ${name} in ${spans()
          .map((x) => x.name)
          .join(", ")}`,
      );
    return s;
  };
  const childrenOf = (s: SpanRecord): SpanRecord[] =>
    spans().filter((x) => x.parentSpanId === s.spanId);
  const only = <T>(xs: readonly T[], what: string): T => {
    expect(xs, what).toHaveLength(1);
    return xs[0] as T;
  };
  const CLIENT = 2;
  const SERVER = 1;
  /** The SQL spans (instrumentation-pg) among `xs`. */
  const sql = (xs: readonly SpanRecord[]): SpanRecord[] =>
    xs.filter(
      (x) =>
        x.attributes["db.system"] === "postgresql" ||
        x.attributes["db.system.name"] === "postgresql",
    );

  /** The chain under a root span: client span -> server span -> SQL spans. */
  function chain(rootName: string): {
    client: SpanRecord;
    server: SpanRecord;
    queries: SpanRecord[];
  } {
    const r = rootSpan(rootName);
    const client = only(
      childrenOf(r).filter((s) => s.kind === CLIENT),
      `client span under ${rootName}`,
    );
    const server = only(
      childrenOf(client).filter((s) => s.kind === SERVER),
      `server span under ${rootName}`,
    );
    return { client, server, queries: sql(childrenOf(server)) };
  }

  test("client -> server -> SQL in one trace, with rpc.* attributes and the query name, no values", () => {
    const { client, server, queries } = chain("direct");
    expect(server.traceId).toBe(client.traceId);
    expect(server.attributes["rpc.system"]).toBe("grpc");
    expect(server.attributes["rpc.service"]).toBe("acme.users.v1.UserService");
    expect(server.attributes["rpc.method"]).toBe("GetUser");
    const q = only(queries, "one SQL span");
    expect(q.traceId).toBe(client.traceId);
    expect(q.attributes["db.query.name"]).toBe("GetUser");
    // Parameter values never reach span attributes.
    expect(JSON.stringify(q.attributes)).not.toMatch(/values|"1"/);
  });

  test("across two services: client -> proxy server -> downstream client -> backend server -> SQL", () => {
    const { client, server: proxyServer } = chain("proxied");
    const downstream = only(
      childrenOf(proxyServer).filter((s) => s.kind === CLIENT),
      "downstream call",
    );
    const backend = only(
      childrenOf(downstream).filter((s) => s.kind === SERVER),
      "backend server span",
    );
    const q = only(sql(childrenOf(backend)), "backend SQL span");
    for (const s of [proxyServer, downstream, backend, q]) expect(s.traceId).toBe(client.traceId);
  });

  test("two concurrent calls on a saturated pool of one: each SQL span under its own call", () => {
    expect(logsOf().find((l) => "waited" in l)?.waited).toBe(2);
    const a = chain("concurrent-a");
    const b = chain("concurrent-b");
    expect(a.client.traceId).not.toBe(b.client.traceId);
    expect(only(a.queries, "SQL under call a").traceId).toBe(a.client.traceId);
    expect(only(b.queries, "SQL under call b").traceId).toBe(b.client.traceId);
  });

  test("queries run without a signal on a saturated pool: each SQL span under its own root", () => {
    expect(logsOf().find((l) => "waited2" in l)?.waited2).toBe(2);
    for (const name of ["no-signal-a", "no-signal-b"]) {
      const r = rootSpan(name);
      const q = only(sql(childrenOf(r)), `SQL under ${name}`);
      expect(q.traceId).toBe(r.traceId);
      expect(q.attributes["db.query.name"]).toBe("GetUser");
    }
  });

  test("the log line of a failing call carries its span's trace and span ids", () => {
    const { server } = chain("failing");
    const line = logsOf().find((l) => l.trace_id === server.traceId && l.msg === "call");
    expect(line).toMatchObject({
      service: "users",
      grpc_method: "GetUser",
      grpc_code: "NotFound",
      span_id: server.spanId,
    });
    expect(typeof line?.request_id).toBe("string");
  });
});

test("the register entry traces from OTEL_* variables alone, exporting OTLP/protobuf", async () => {
  const bodies: Buffer[] = [];
  const types: string[] = [];
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.url === "/v1/traces") {
        bodies.push(Buffer.concat(chunks));
        types.push(String(req.headers["content-type"]));
      }
      res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  try {
    const a = receiver.address();
    const port = typeof a === "object" && a !== null ? a.port : 0;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [join(outDir, "tracing-env-child.mjs")],
      {
        env: {
          ...process.env,
          TEST_DATABASE_URL: db.url,
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
          OTEL_SERVICE_NAME: "env-configured",
          OTEL_BSP_SCHEDULE_DELAY: "100",
        },
      },
    );
    expect(JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}")).toEqual({ started: true });
    expect(types.every((t) => t === "application/x-protobuf")).toBe(true);
    // Protobuf keeps strings as UTF-8 bytes: the service, RPC and query names are in there.
    const all = Buffer.concat(bodies).toString("latin1");
    expect(all).toContain("env-configured");
    expect(all).toContain("acme.users.v1.UserService/GetUser");
    expect(all).toContain("db.query.name");
  } finally {
    receiver.close();
  }
});
