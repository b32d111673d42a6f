/**
 * The example project's generated deployment files, checked by the tools that consume them
 * where those exist here and by parsers plus structural checks otherwise: promtool on the
 * alert rules and their unit tests, TOML (fly.toml), YAML (compose, Prometheus, collector,
 * Grafana provisioning, CI workflow) and JSON (Grafana dashboard models). Every metric name the
 * rules and dashboards query must appear in a live `/metrics` scrape of a server started with
 * the runtime's metrics. The migration script runs against a real database.
 */
import { execFile } from "node:child_process";
import { cp, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { createServer, type Server as HttpServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { configureRuntime } from "@svcgen/runtime";
import { eventsMigrationSql } from "@svcgen/runtime/events";
import {
  createGrpcServerMetricsInterceptor,
  createMetricsHandler,
  createMetricsRegistry,
  outboxSourceFromDatabase,
  registerAuthMetrics,
  registerGrpcServerMetrics,
  registerOutboxMetrics,
  registerQueryMetrics,
  registerResilienceMetrics,
} from "@svcgen/runtime/telemetry";
import pg from "pg";
import { parse as parseToml } from "smol-toml";
import { afterAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import {
  addUserService,
  createUserServiceClient,
} from "../../example-project/gen/grpc/user-service.js";
import { UserServiceImpl } from "../../example-project/src/user-service/handlers.js";
import { createTestDatabase, type TestDatabase } from "../db.js";
import { userSchemaSql } from "../runtime/user-test-service.js";
import { systemTool } from "../system-tools.js";

const exec = promisify(execFile);
const example = join(import.meta.dirname, "..", "..", "example-project");
const deploy = join(example, "deploy");
const services = (await readdir(join(example, "gen", "grpc")))
  .filter((f) => f.endsWith(".ts"))
  .map((f) => f.slice(0, -3))
  .sort();
const cleanup: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

const read = (rel: string): Promise<string> => readFile(join(example, rel), "utf8");
const yamlOf = async (rel: string): Promise<Record<string, unknown>> =>
  parseYaml(await read(rel), { merge: true }) as Record<string, unknown>;

type Json = Record<string, unknown>;

// promtool comes from Debian's prometheus package: CI installs it (.ci/run) and must run these;
// on a machine with only Node they are left out with the reason printed.
const promtool = systemTool("promtool", "apt-get install prometheus") ?? "";

describe.skipIf(promtool === "")("alert rules", () => {
  it("pass promtool check rules", async () => {
    const r = await exec(promtool, ["check", "rules", join(deploy, "prometheus", "alerts.yml")]);
    expect(r.stdout).toContain("SUCCESS: 6 rules found");
  });

  it("each fire in promtool test rules on a synthetic series", async () => {
    const tests = parseYaml(await read("deploy/prometheus/alerts.test.yml")) as {
      tests: { name: string; alert_rule_test: { alertname: string }[] }[];
    };
    const rules = parseYaml(await read("deploy/prometheus/alerts.yml")) as {
      groups: { rules: { alert: string }[] }[];
    };
    const alerts = rules.groups.flatMap((g) => g.rules.map((r) => r.alert)).sort();
    expect(alerts).toEqual([
      "AuthFailureSpike",
      "CircuitBreakerOpen",
      "DatabasePoolSaturated",
      "GrpcHighErrorRate",
      "GrpcHighLatencyP99",
      "OutboxLag",
    ]);
    // One test per alert, each expecting exactly that alert.
    expect(tests.tests.map((t) => t.alert_rule_test[0]?.alertname).sort()).toEqual(alerts);
    const r = await exec(promtool, ["test", "rules", "alerts.test.yml"], {
      cwd: join(deploy, "prometheus"),
    });
    expect(r.stdout).toContain("SUCCESS");
  });

  it("fail promtool test rules when a rule cannot fire (the tests can fail)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "svcgen-alerts-"));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    await cp(join(deploy, "prometheus"), dir, { recursive: true });
    const rules = await readFile(join(dir, "alerts.yml"), "utf8");
    await writeFile(join(dir, "alerts.yml"), rules.replace("> 60", "> 600"));
    const r = await exec(promtool, ["test", "rules", "alerts.test.yml"], { cwd: dir }).then(
      () => ({ code: 0, out: "" }),
      (e: { code: number; stdout: string; stderr: string }) => ({
        code: e.code,
        out: e.stdout + e.stderr,
      }),
    );
    expect(r.code).toBe(1);
    expect(r.out).toContain("OutboxLag");
  });
});

describe("Dockerfile", () => {
  it("two stages, non-root, tini as PID 1, copying what exists into the runtime image", async () => {
    const lines = (await read("deploy/Dockerfile"))
      .replace(/\\\n/g, " ")
      .split("\n")
      .filter((l) => l.trim() !== "" && !l.startsWith("#"));
    const from = lines.filter((l) => l.startsWith("FROM "));
    // The Dockerfile's own ARG reference, spelled without a JS template placeholder.
    const image = ["FROM node:$", "{NODE_VERSION}-bookworm-slim"].join("");
    expect(from).toEqual([`${image} AS build`, `${image} AS runtime`]);
    const runtime = lines.slice(lines.indexOf(from[1] ?? ""));
    expect(runtime).toContain("USER node");
    expect(runtime).toContain('ENTRYPOINT ["/usr/bin/tini", "--"]');
    expect(runtime.at(-1)).toBe('CMD ["node", "dist/gen/server/all.js"]');
    expect(runtime.some((l) => l.startsWith("RUN ") && l.includes("npm"))).toBe(false);
    // Project files copied from the build stage (built outputs aside) exist in the project.
    const copied = runtime
      .filter((l) => l.startsWith("COPY --from=build"))
      .map((l) => l.split(/\s+/).at(-2)?.replace("/app/", "") ?? "");
    const built = new Set(["package.json", "node_modules", "dist"]);
    const sources = copied.filter((c) => !built.has(c));
    expect(sources).toContain("deploy/migrate.mjs");
    for (const src of sources) await expect(stat(join(example, src))).resolves.toBeDefined();
    const migrationDirs = new Set(
      (await read("deploy/migrate.mjs"))
        .split("\n")
        .filter((l) => l.startsWith('  "migrations/'))
        .map((l) =>
          l
            .trim()
            .replace(/^"|",?$/g, "")
            .split("/")
            .slice(0, -1)
            .join("/"),
        ),
    );
    for (const d of migrationDirs) expect(sources).toContain(d);
  });
});

/** Top-level fly.toml keys Fly.io documents (https://fly.io/docs/reference/configuration/). */
const flyTopLevel = new Set([
  "app",
  "primary_region",
  "kill_signal",
  "kill_timeout",
  "swap_size_mb",
  "console_command",
  "build",
  "deploy",
  "env",
  "http_service",
  "services",
  "checks",
  "processes",
  "mounts",
  "metrics",
  "statics",
  "files",
  "vm",
  "experimental",
  "restart",
]);

describe("fly.toml per service", () => {
  it.each(
    services,
  )("%s: Fly.io's keys, h2c, readiness on the side port, grace period", async (stem) => {
    const fly = parseToml(await read(`deploy/fly/${stem}.toml`)) as Json;
    for (const key of Object.keys(fly)) expect(flyTopLevel, key).toContain(key);
    expect(fly.app).toMatch(/^svcgen-example-/);
    expect(fly.primary_region).toBe("ams");
    expect(fly.kill_signal).toBe("SIGTERM");
    const env = fly.env as Record<string, string>;
    // kill_timeout leaves the whole grace period to the drain, plus time to close the pool.
    expect(Number(String(fly.kill_timeout).replace(/s$/, "")) * 1000).toBeGreaterThan(
      Number(env.SHUTDOWN_GRACE_MS),
    );
    expect((fly.build as Json).dockerfile).toBe("../Dockerfile");
    const dep = fly.deploy as Json;
    expect(dep.release_command).toBe("node deploy/migrate.mjs");
    expect(["bluegreen", "canary", "rolling", "immediate"]).toContain(dep.strategy);
    expect((fly.processes as Json).app).toBe(`node dist/gen/server/${stem}.js`);
    const [svc] = fly.services as Json[];
    expect(svc?.internal_port).toBe(Number(env.PORT));
    const [port] = (svc?.ports ?? []) as Json[];
    expect(port).toMatchObject({ port: 443, handlers: ["tls"], tls_options: { alpn: ["h2"] } });
    const readyz = (fly.checks as Record<string, Json>).readyz;
    expect(readyz).toMatchObject({ type: "http", path: "/readyz", port: Number(env.HTTP_PORT) });
    expect(fly.metrics).toEqual({ port: Number(env.HTTP_PORT), path: "/metrics" });
    expect((fly.vm as Json[])[0]).toMatchObject({ size: "shared-cpu-1x", memory: "512mb" });
    // Secrets are named in the comment for `fly secrets set`, never given a value here.
    expect(Object.keys(env)).not.toContain("DATABASE_URL");
    expect(Object.keys(env)).not.toContain("FIREBASE_PROJECT_ID");
  });
});

describe("docker-compose and its configuration files", () => {
  it("runs every service with PostgreSQL, NATS and the observability stack", async () => {
    const compose = await yamlOf("deploy/docker-compose.yml");
    const svcs = compose.services as Record<string, Json>;
    for (const infra of [
      "postgres",
      "nats",
      "prometheus",
      "loki",
      "grafana",
      "otel-collector",
      "migrate",
    ]) {
      expect(Object.keys(svcs)).toContain(infra);
    }
    for (const stem of services) {
      const s = svcs[stem];
      expect(s?.command).toEqual(["node", `dist/gen/server/${stem}.js`]);
      const env = s?.environment as Record<string, string>;
      expect(env.OTEL_SERVICE_NAME).toBe(stem);
      expect(env.OTEL_EXPORTER_OTLP_ENDPOINT).toBe("http://otel-collector:4318");
      expect(env.DATABASE_URL).toMatch(/@postgres:5432\//);
      expect(s?.depends_on).toMatchObject({
        migrate: { condition: "service_completed_successfully" },
      });
    }
    const prom = await yamlOf("deploy/prometheus/prometheus.yml");
    const targets = (prom.scrape_configs as { static_configs: { targets: string[] }[] }[]).flatMap(
      (c) => c.static_configs.flatMap((s) => s.targets),
    );
    for (const stem of services) expect(targets).toContain(`${stem}:9090`);
    expect(prom.rule_files).toEqual(["/etc/prometheus/alerts.yml"]);
    const otel = await yamlOf("deploy/otel-collector.yaml");
    const pipelines = (otel.service as { pipelines: Record<string, { receivers: string[] }> })
      .pipelines;
    expect(Object.keys(pipelines).sort()).toEqual(["logs", "traces"]);
    for (const p of Object.values(pipelines)) expect(p.receivers).toEqual(["otlp"]);
    const ds = await yamlOf("deploy/grafana/provisioning/datasources/datasources.yml");
    expect((ds.datasources as Json[]).map((d) => d.uid).sort()).toEqual(["loki", "prometheus"]);
    const dash = await yamlOf("deploy/grafana/provisioning/dashboards/dashboards.yml");
    expect((dash.providers as Json[])[0]).toMatchObject({
      type: "file",
      options: { path: "/var/lib/grafana/dashboards" },
    });
  });
});

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets: { refId: string; expr: string }[];
}

describe("Grafana dashboards", () => {
  it.each(services)("%s: a Grafana JSON model with non-overlapping panels", async (stem) => {
    const d = JSON.parse(await read(`deploy/grafana/dashboards/${stem}.json`)) as Json;
    expect(d.uid).toBe(`svcgen-${stem}`);
    expect(typeof d.title).toBe("string");
    expect(typeof d.schemaVersion).toBe("number");
    const panels = d.panels as Panel[];
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    const cells = new Set<string>();
    for (const p of panels) {
      expect(["timeseries", "logs"]).toContain(p.type);
      expect(["prometheus", "loki"]).toContain(p.datasource.uid);
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
      expect(p.targets.length).toBeGreaterThan(0);
      for (const t of p.targets) expect(t.expr.length).toBeGreaterThan(0);
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
  });
});

describe("CI workflow", () => {
  interface Step {
    readonly name?: string;
    readonly uses?: string;
    readonly run?: string;
    readonly env?: Record<string, string>;
    readonly with?: Record<string, unknown>;
  }
  interface Job {
    readonly services?: Record<string, { image: string; ports: string[]; env: Json }>;
    readonly env?: Record<string, string>;
    readonly steps: Step[];
  }
  const workflow = async () => {
    const wf = await yamlOf(".github/workflows/svcgen.yml");
    return { on: wf.on as Json, jobs: wf.jobs as Record<string, Job> };
  };

  it("installs, checks the generated code, builds and runs npm test against a PostgreSQL service", async () => {
    const { on, jobs } = await workflow();
    expect(Object.keys(on).sort()).toEqual(["pull_request", "push"]);
    const job = jobs.test;
    expect(job).toBeDefined();
    // The database: the example's database.postgres, reachable as DATABASE_URL by every step.
    const postgres = job?.services?.postgres;
    expect(postgres?.image).toBe("postgres:15");
    expect(postgres?.ports).toEqual(["5432:5432"]);
    const url = new URL(job?.env?.DATABASE_URL ?? "");
    expect([url.protocol, url.hostname, url.port]).toEqual(["postgres:", "localhost", "5432"]);
    expect([url.username, url.password]).toEqual([
      postgres?.env.POSTGRES_USER,
      postgres?.env.POSTGRES_PASSWORD,
    ]);
    // The steps a user expects, in this order (each one a command of its own).
    const steps = job?.steps ?? [];
    expect(steps.map((s) => s.uses ?? s.run?.trim())).toEqual([
      "actions/checkout@v4",
      "actions/setup-node@v4",
      "npm ci",
      "npx svcgen generate --check",
      "npm run build",
      "npm test",
      expect.stringContaining("npx svcgen check"),
    ]);
    expect(steps[1]?.with?.["node-version"]).toBe(20);
    // Drift against the deployed database only: its own URL, from a secret (GitHub's expression
    // syntax, which Handlebars would eat unless the template escapes it).
    const secret = ["$", "{{ secrets.SVCGEN_CHECK_DATABASE_URL }}"].join("");
    expect(steps.at(-1)?.env?.DATABASE_URL).toBe(secret);
    for (const s of steps.slice(0, -1)) expect(s.env).toBeUndefined();
  });

  it("scans the production dependencies in a job of its own", async () => {
    const { jobs } = await workflow();
    expect(Object.keys(jobs).sort()).toEqual(["test", "vulnerabilities"]);
    const runs = (jobs.vulnerabilities?.steps ?? []).map((s) => s.run ?? "");
    expect(runs).toContain("npm audit --omit=dev --audit-level=high");
  });
});

/**
 * The metric names a PromQL expression reads: identifiers that are not functions, keywords,
 * label names in grouping clauses or anything inside label matchers, ranges and strings.
 */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, "")
    .replace(/\{[^}]*\}/g, "")
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "");
  const keywords = new Set(["by", "without", "and", "or", "unless", "bool", "offset", "le"]);
  const out: string[] = [];
  for (const m of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const name = m[0];
    const after = stripped.slice((m.index ?? 0) + name.length).trimStart();
    if (after.startsWith("(") || keywords.has(name) || name.startsWith("$")) continue;
    out.push(name);
  }
  return out;
}

describe("metric names", () => {
  let db: TestDatabase | undefined;
  let pool: pg.Pool | undefined;
  let server: Server | undefined;
  let http: HttpServer | undefined;

  afterAll(async () => {
    configureRuntime({ queryObserver: undefined });
    server?.forceShutdown();
    http?.close();
    await pool?.end();
    await db?.drop();
  });

  it("the extractor finds metrics and skips functions, labels and keywords", () => {
    expect(
      metricNames(
        'sum by (grpc_service, le) (rate(grpc_server_handled_total{grpc_code=~"A|B"}[5m])) / on (x) foo > 0.5',
      ),
    ).toEqual(["grpc_server_handled_total", "foo"]);
  });

  it("every metric in the rules and dashboards is in a live /metrics scrape of the runtime", async () => {
    db = await createTestDatabase("deploy_metrics", await userSchemaSql());
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
    // Every metric family the runtime registers, as a service's entry point does.
    const registry = createMetricsRegistry({ defaultMetrics: false });
    const grpcMetrics = registerGrpcServerMetrics(registry);
    const observeQuery = registerQueryMetrics(registry);
    configureRuntime({ queryObserver: (name, seconds) => observeQuery(name, seconds) });
    registerAuthMetrics(registry);
    // The outbox metrics read the real outbox table: one event waiting for two minutes.
    await pool.query(eventsMigrationSql);
    await pool.query(
      "INSERT INTO svcgen_outbox (topic, payload, created_at) VALUES ('t.x', '\\x00', now() - interval '120 s')",
    );
    registerOutboxMetrics(registry, outboxSourceFromDatabase(pool));
    registerResilienceMetrics(registry, {
      pool,
      breakers: () => [{ name: "db", state: "closed" }],
      bulkheads: () => [{ name: "default", inFlight: 0, queued: 0, rejected: 0 }],
      retries: () => [{ name: "db", retries: 0 }],
      shed: () => 0,
    });
    server = new Server({ interceptors: [createGrpcServerMetricsInterceptor(grpcMetrics)] });
    addUserService(server, new UserServiceImpl(pool));
    const port = await new Promise<number>((resolve, reject) =>
      server?.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) =>
        e === null ? resolve(p) : reject(e),
      ),
    );
    http = createServer(createMetricsHandler(registry));
    await new Promise<void>((r) => http?.listen(0, "127.0.0.1", r));
    const a = http.address();
    const metricsUrl = `http://127.0.0.1:${typeof a === "object" && a !== null ? a.port : 0}/metrics`;
    const client = createUserServiceClient(`127.0.0.1:${port}`);
    try {
      await client.getProfileByHandle({ handle: "nobody" }).catch(() => undefined);
    } finally {
      client.close();
    }
    const text = await (await fetch(metricsUrl)).text();
    const exported = new Set(
      text
        .split("\n")
        .filter((l) => l !== "" && !l.startsWith("#"))
        .map((l) => /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(l)?.[0] ?? ""),
    );
    const used = new Map<string, string>();
    const rules = parseYaml(await read("deploy/prometheus/alerts.yml")) as {
      groups: { rules: { alert: string; expr: string }[] }[];
    };
    for (const r of rules.groups.flatMap((g) => g.rules)) {
      for (const m of metricNames(r.expr)) used.set(m, `alert ${r.alert}`);
    }
    for (const stem of services) {
      const d = JSON.parse(await read(`deploy/grafana/dashboards/${stem}.json`)) as {
        panels: Panel[];
      };
      for (const p of d.panels.filter((x) => x.datasource.uid === "prometheus")) {
        for (const t of p.targets) {
          for (const m of metricNames(t.expr)) used.set(m, `${stem} panel ${p.title}`);
        }
      }
    }
    expect(text).toMatch(/^outbox_pending 1$/m);
    expect(Number(/^outbox_lag_seconds (\S+)$/m.exec(text)?.[1])).toBeGreaterThanOrEqual(120);
    expect(used.size).toBeGreaterThan(10);
    const missing = [...used].filter(([m]) => !exported.has(m)).map(([m, w]) => `${m} (${w})`);
    expect(missing).toEqual([]);
  });
});

describe("migration release step", () => {
  it("applies every migration once, then nothing; a changed applied migration fails", async () => {
    const db = await createTestDatabase("deploy_migrate");
    cleanup.push(() => db.drop());
    const dir = await mkdtemp(join(tmpdir(), "svcgen-migrate-"));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    for (const part of ["migrations", "deploy/migrate.mjs"]) {
      await cp(join(example, part), join(dir, part), { recursive: true });
    }
    // The script imports pg as the image does: from the project's node_modules.
    await symlink(join(example, "..", "node_modules"), join(dir, "node_modules"));
    const env = { ...process.env, DATABASE_URL: db.url };
    const first = await exec("node", ["deploy/migrate.mjs"], { cwd: dir, env });
    const total = (await read("deploy/migrate.mjs")).match(/^ {2}"migrations\//gm)?.length ?? 0;
    expect(total).toBeGreaterThan(4);
    expect(JSON.parse(first.stdout)).toMatchObject({ applied: total, total });
    const second = await exec("node", ["deploy/migrate.mjs"], { cwd: dir, env });
    expect(JSON.parse(second.stdout)).toMatchObject({ applied: 0, total });
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const migrated = await client.query<{ n: string }>(
      "SELECT count(*) AS n FROM svcgen_migrations",
    );
    await client.end();
    expect(Number(migrated.rows[0]?.n)).toBe(total);
    const [firstFile] = (await readdir(join(dir, "migrations", "auth"))).sort();
    await writeFile(join(dir, "migrations", "auth", firstFile ?? ""), "-- edited\n", {
      flag: "a",
    });
    const changed = await exec("node", ["deploy/migrate.mjs"], { cwd: dir, env }).then(
      () => ({ code: 0, err: "" }),
      (e: { code: number; stderr: string }) => ({ code: e.code, err: e.stderr }),
    );
    expect(changed.code).toBe(1);
    expect(changed.err).toContain("changed after it was applied");
  });
});
