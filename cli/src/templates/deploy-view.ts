/**
 * View-models of the deployment files (Dockerfile, fly.toml per service, docker-compose with
 * its observability stack, Prometheus alert rules and their unit tests, Grafana dashboards,
 * the CI workflow, the migration release step). Everything is decided here: names, ports,
 * queries, thresholds, panel positions; the templates in `templates/text/` only lay it out.
 * Pure and deterministic: the same config and services give the same views.
 */
import { posix } from "node:path";
import type { DeployConfig, ResolvedConfig } from "../config/config.js";
import { Codes, type Diagnostic } from "../diagnostics.js";
import type { Model } from "../model.js";
import { projectPath } from "../project-paths.js";

/** The gRPC port of every service (the runtime's `PORT` default). */
export const grpcPort = 50051;
/** The side port of every service: `/healthz`, `/readyz`, `/metrics` (`HTTP_PORT` default). */
export const httpPort = 9090;

/** One method of a deployed service, as the dashboards name it. */
export interface DeployMethod {
  /** The proto method name (the `grpc_method` label). */
  readonly name: string;
  /** go-grpc-prometheus's `grpc_type`: unary, client_stream, server_stream, bidi_stream. */
  readonly type: "unary" | "client_stream" | "server_stream" | "bidi_stream";
}

/** One gRPC service as the deployment files see it. */
export interface DeployService {
  /** Fully qualified proto name (`example.user.v1.UserService`): the `grpc_service` label. */
  readonly typeName: string;
  /** File stem of its generated code (`user-service`): names its entry point and app. */
  readonly stem: string;
  readonly methods: readonly DeployMethod[];
}

const grpcTypes = {
  unary: "unary",
  server_streaming: "server_stream",
  client_streaming: "client_stream",
  bidi_streaming: "bidi_stream",
} as const;

/**
 * THE list of services the deployment files are about, sorted by stem: the Model's services.
 * The only place that knows where services come from.
 */
export function deployServices(model: Pick<Model, "services">): DeployService[] {
  return model.services
    .map((s) => ({
      typeName: s.typeName,
      stem: s.stem,
      methods: s.methods.map((m) => ({ name: m.name, type: grpcTypes[m.kind] })),
    }))
    .sort((a, b) => compare(a.stem, b.stem));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One service with everything its files need. */
export interface ServiceDeployView {
  readonly typeName: string;
  readonly stem: string;
  /** Fly.io app name (`deploy.apps`, default the stem). */
  readonly app: string;
  /** The compiled entry point, relative to the image's working folder. */
  readonly entry: string;
  /** Host port of its gRPC port in docker-compose (50051, 50052, ... by stem order). */
  readonly composeGrpcPort: number;
  /** Host port of its side port in docker-compose (9091, 9092, ...). */
  readonly composeHttpPort: number;
  /** The image name with the registry, when one is configured. */
  readonly image: string;
  /** Whether it is the last service (for JSON/YAML separators). */
  readonly last: boolean;
}

/** What every deployment template sees (the dashboard and fly.toml add their own parts). */
export interface DeployView {
  /** The config file, relative to the project folder. */
  readonly configFile: string;
  /** The deployment folder, relative to the project folder. */
  readonly dir: string;
  /** The way from the deployment folder back to the project folder (`..`). */
  readonly toRoot: string;
  /** Generated code folder, relative to the project folder. */
  readonly out: string;
  readonly node: number;
  /** PostgreSQL major version (`database.postgres`): the CI workflow's database service. */
  readonly postgres: number;
  readonly region: string;
  readonly strategy: DeployConfig["strategy"];
  readonly vmSize: string;
  readonly vmMemory: string;
  readonly registry: string;
  readonly secrets: readonly string[];
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly shutdownGraceMs: number;
  /** Fly's `kill_timeout`: the grace period plus 5 s for the pool to close and the process to exit. */
  readonly killTimeoutSeconds: number;
  /** Folders holding migrations, relative to the project folder, sorted. */
  readonly migrationDirs: readonly string[];
  /** Migration files in the order they are applied, relative to the project folder. */
  readonly migrations: readonly string[];
  /** The migration script, relative to the project folder. */
  readonly migrateScript: string;
  readonly services: readonly ServiceDeployView[];
  /** The entry point running every service in one process. */
  readonly allEntry: string;
}

/** Builds the shared deployment view; diagnostics for `deploy.apps` keys naming no service. */
export function deployView(
  config: ResolvedConfig,
  deploy: DeployConfig,
  services: readonly DeployService[],
): { view: DeployView; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const stems = new Set(services.map((s) => s.stem));
  const configFile = projectPath(config.rootDir, config.configPath);
  for (const a of deploy.apps) {
    if (stems.has(a.service)) continue;
    diagnostics.push({
      severity: "error",
      code: Codes.config,
      message: `deploy.apps: no service generates gen/grpc/${a.service}.ts`,
      file: configFile,
      line: a.line,
      column: a.column,
      hint:
        services.length === 0
          ? "the project has no gRPC services (proto:)"
          : `the services are ${[...stems].join(", ")}`,
    });
  }
  const appOf = new Map(deploy.apps.map((a) => [a.service, a.app]));
  const out = projectPath(config.rootDir, config.out);
  const dir = projectPath(config.rootDir, deploy.dir);
  const migrations = config.schemaFiles.map((f) => projectPath(config.rootDir, f));
  const migrationDirs = [...new Set(migrations.map((m) => posix.dirname(m)))].sort(compare);
  const registry = deploy.registry.replace(/\/+$/, "");
  const view: DeployView = {
    configFile,
    dir,
    toRoot: posix.relative(dir, ".") || ".",
    out,
    node: deploy.node,
    postgres: config.database.postgres,
    region: deploy.region,
    strategy: deploy.strategy,
    vmSize: deploy.vm.size,
    vmMemory: deploy.vm.memory,
    registry,
    secrets: deploy.secrets,
    grpcPort,
    httpPort,
    shutdownGraceMs: deploy.shutdownGraceMs,
    killTimeoutSeconds: Math.ceil(deploy.shutdownGraceMs / 1000) + 5,
    migrationDirs,
    migrations,
    migrateScript: `${dir}/migrate.mjs`,
    services: services.map((s, i) => {
      const app = appOf.get(s.stem) ?? s.stem;
      return {
        typeName: s.typeName,
        stem: s.stem,
        app,
        entry: `dist/${out}/server/${s.stem}.js`,
        composeGrpcPort: grpcPort + i,
        composeHttpPort: httpPort + 1 + i,
        image: registry === "" ? "" : `${registry}/${app}`,
        last: i === services.length - 1,
      };
    }),
    allEntry: `dist/${out}/server/all.js`,
  };
  return { view, diagnostics };
}

/** `deploy/fly/<stem>.toml`'s view: the shared view and its service. */
export interface FlyView extends DeployView {
  readonly service: ServiceDeployView;
  /** The Dockerfile relative to the fly.toml's folder (Fly resolves it from there). */
  readonly dockerfile: string;
}

/** The view of one service's fly.toml. */
export function flyView(view: DeployView, service: ServiceDeployView): FlyView {
  return {
    ...view,
    service,
    dockerfile: posix.relative(`${view.dir}/fly`, `${view.dir}/Dockerfile`),
  };
}

/** One alert rule with its unit test: a synthetic series that makes it fire. */
export interface AlertRuleView {
  readonly alert: string;
  /** PromQL, one line. */
  readonly expr: string;
  readonly for: string;
  readonly severity: "page" | "ticket";
  readonly summary: string;
  readonly description: string;
  /** Input series of its promtool unit test: `series` and `values` in promtool's notation. */
  readonly testSeries: readonly { readonly series: string; readonly values: string }[];
  /** When the test evaluates (after `for` has passed) and the labels the alert fires with. */
  readonly testAt: string;
  readonly testLabels: readonly { readonly name: string; readonly value: string }[];
  /** The annotations as Prometheus renders them for the test's series. */
  readonly testSummary: string;
  readonly testDescription: string;
}

/** The alert rules file's view (and its promtool unit test's). */
export interface AlertsView extends DeployView {
  readonly rules: readonly AlertRuleView[];
  /** The rule file's name as the test file names it (both live in one folder). */
  readonly rulesFile: string;
}

/** Alert thresholds; fixed defaults a team edits through a template override. */
const thresholds = {
  errorRatio: 0.05,
  p99Seconds: 1,
  authFailuresPerSecond: 1,
  outboxLagSeconds: 60,
};

/** The alert rules: error rate, p99 latency, breaker open, pool saturation, auth failures, outbox lag. */
export function alertsView(view: DeployView): AlertsView {
  const failing = "Unknown|DeadlineExceeded|Unimplemented|Internal|Unavailable|DataLoss";
  const svc = view.services[0]?.typeName ?? "example.v1.Service";
  const rules: AlertRuleView[] = [
    {
      alert: "GrpcHighErrorRate",
      expr:
        `sum by (grpc_service) (rate(grpc_server_handled_total{grpc_code=~"${failing}"}[5m]))` +
        ` / sum by (grpc_service) (rate(grpc_server_handled_total[5m])) > ${thresholds.errorRatio}`,
      for: "5m",
      severity: "page",
      summary: "{{ $labels.grpc_service }} fails more than 5 % of its calls",
      description:
        "{{ $value | humanizePercentage }} of calls end in a server-side error code (Internal, Unavailable, DeadlineExceeded, ...)",
      testSeries: [
        {
          series: `grpc_server_handled_total{grpc_service="${svc}",grpc_method="M",grpc_type="unary",grpc_code="OK"}`,
          values: "0+60x20",
        },
        {
          series: `grpc_server_handled_total{grpc_service="${svc}",grpc_method="M",grpc_type="unary",grpc_code="Internal"}`,
          values: "0+30x20",
        },
      ],
      testAt: "15m",
      testLabels: [
        { name: "grpc_service", value: svc },
        { name: "severity", value: "page" },
      ],
      testSummary: `${svc} fails more than 5 % of its calls`,
      testDescription:
        "33.33% of calls end in a server-side error code (Internal, Unavailable, DeadlineExceeded, ...)",
    },
    {
      alert: "GrpcHighLatencyP99",
      expr:
        "histogram_quantile(0.99, sum by (grpc_service, le) " +
        `(rate(grpc_server_handling_seconds_bucket{grpc_type="unary"}[5m]))) > ${thresholds.p99Seconds}`,
      for: "10m",
      severity: "ticket",
      summary: "{{ $labels.grpc_service }} p99 latency above 1 s",
      description: "99th percentile of unary call duration is {{ $value | humanizeDuration }}",
      testSeries: [
        {
          series: `grpc_server_handling_seconds_bucket{grpc_service="${svc}",grpc_method="M",grpc_type="unary",le="0.5"}`,
          values: "0+1x30",
        },
        {
          series: `grpc_server_handling_seconds_bucket{grpc_service="${svc}",grpc_method="M",grpc_type="unary",le="2.5"}`,
          values: "0+100x30",
        },
        {
          series: `grpc_server_handling_seconds_bucket{grpc_service="${svc}",grpc_method="M",grpc_type="unary",le="+Inf"}`,
          values: "0+100x30",
        },
      ],
      testAt: "25m",
      testLabels: [
        { name: "grpc_service", value: svc },
        { name: "severity", value: "ticket" },
      ],
      testSummary: `${svc} p99 latency above 1 s`,
      testDescription: "99th percentile of unary call duration is 2.48s",
    },
    {
      alert: "CircuitBreakerOpen",
      expr: 'max by (instance, breaker) (circuit_breaker_state{state="open"}) == 1',
      for: "1m",
      severity: "page",
      summary: "Circuit breaker {{ $labels.breaker }} open on {{ $labels.instance }}",
      description: "Calls needing this dependency fail fast (UNAVAILABLE) until it recovers",
      testSeries: [
        {
          series: 'circuit_breaker_state{instance="i1",breaker="db",state="open"}',
          values: "0 0 1x10",
        },
      ],
      testAt: "5m",
      testLabels: [
        { name: "instance", value: "i1" },
        { name: "breaker", value: "db" },
        { name: "severity", value: "page" },
      ],
      testSummary: "Circuit breaker db open on i1",
      testDescription: "Calls needing this dependency fail fast (UNAVAILABLE) until it recovers",
    },
    {
      alert: "DatabasePoolSaturated",
      expr: "max by (instance) (db_pool_waiting) > 0",
      for: "5m",
      severity: "ticket",
      summary: "Callers wait for database connections on {{ $labels.instance }}",
      description:
        "{{ $value }} callers have waited for a pool connection for 5 minutes: raise DATABASE_POOL_MAX or add instances",
      testSeries: [{ series: 'db_pool_waiting{instance="i1"}', values: "3x10" }],
      testAt: "8m",
      testLabels: [
        { name: "instance", value: "i1" },
        { name: "severity", value: "ticket" },
      ],
      testSummary: "Callers wait for database connections on i1",
      testDescription:
        "3 callers have waited for a pool connection for 5 minutes: raise DATABASE_POOL_MAX or add instances",
    },
    {
      alert: "AuthFailureSpike",
      expr: `sum by (reason) (rate(auth_failures_total[5m])) > ${thresholds.authFailuresPerSecond}`,
      for: "5m",
      severity: "ticket",
      summary: "Authentication failures ({{ $labels.reason }}) above 1 per second",
      description:
        "{{ $value }} refused calls per second: a client bug, an expired key set or an attack",
      testSeries: [
        { series: 'auth_failures_total{instance="i1",reason="bad_signature"}', values: "0+300x20" },
      ],
      testAt: "15m",
      testLabels: [
        { name: "reason", value: "bad_signature" },
        { name: "severity", value: "ticket" },
      ],
      testSummary: "Authentication failures (bad_signature) above 1 per second",
      testDescription: "5 refused calls per second: a client bug, an expired key set or an attack",
    },
    {
      alert: "OutboxLag",
      expr: `max by (instance) (outbox_lag_seconds) > ${thresholds.outboxLagSeconds}`,
      for: "5m",
      severity: "page",
      summary: "Events wait in the outbox longer than 60 s on {{ $labels.instance }}",
      description:
        "The oldest undelivered event is {{ $value | humanizeDuration }} old: is the relay or the broker down?",
      testSeries: [{ series: 'outbox_lag_seconds{instance="i1"}', values: "0 120x10" }],
      testAt: "8m",
      testLabels: [
        { name: "instance", value: "i1" },
        { name: "severity", value: "page" },
      ],
      testSummary: "Events wait in the outbox longer than 60 s on i1",
      testDescription:
        "The oldest undelivered event is 2m 0s old: is the relay or the broker down?",
    },
  ];
  return { ...view, rules, rulesFile: "alerts.yml" };
}

/** One dashboard panel; `gridPos` decided here so templates only print. */
export interface PanelView {
  readonly id: number;
  readonly title: string;
  readonly type: "timeseries" | "logs";
  readonly datasource: "prometheus" | "loki";
  readonly unit: string;
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
  readonly targets: readonly {
    readonly refId: string;
    readonly expr: string;
    readonly legend: string;
  }[];
  readonly last: boolean;
}

/** One service's Grafana dashboard. */
export interface DashboardView extends DeployView {
  readonly service: ServiceDeployView;
  readonly uid: string;
  readonly title: string;
  readonly panels: readonly PanelView[];
}

/** The dashboard of `service`: traffic, errors, latency, database, resilience, auth, logs. */
export function dashboardView(view: DeployView, service: ServiceDeployView): DashboardView {
  const sel = `grpc_service="${service.typeName}"`;
  const specs: Omit<PanelView, "id" | "x" | "y" | "w" | "h" | "last">[] = [
    {
      title: "Requests per second by method",
      type: "timeseries",
      datasource: "prometheus",
      unit: "reqps",
      targets: [
        {
          refId: "A",
          expr: `sum by (grpc_method) (rate(grpc_server_handled_total{${sel}}[$__rate_interval]))`,
          legend: "{{grpc_method}}",
        },
      ],
    },
    {
      title: "Responses by status code",
      type: "timeseries",
      datasource: "prometheus",
      unit: "reqps",
      targets: [
        {
          refId: "A",
          expr: `sum by (grpc_code) (rate(grpc_server_handled_total{${sel}}[$__rate_interval]))`,
          legend: "{{grpc_code}}",
        },
      ],
    },
    {
      title: "Latency p50 / p99 (unary)",
      type: "timeseries",
      datasource: "prometheus",
      unit: "s",
      targets: [0.5, 0.99].map((q, i) => ({
        refId: String.fromCharCode(65 + i),
        expr: `histogram_quantile(${q}, sum by (le) (rate(grpc_server_handling_seconds_bucket{${sel},grpc_type="unary"}[$__rate_interval])))`,
        legend: `p${q * 100}`,
      })),
    },
    {
      title: "Calls in flight",
      type: "timeseries",
      datasource: "prometheus",
      unit: "short",
      targets: [
        {
          refId: "A",
          expr: `sum(grpc_server_started_total{${sel}}) - sum(grpc_server_handled_total{${sel}})`,
          legend: "in flight",
        },
      ],
    },
    {
      title: "Query duration p99",
      type: "timeseries",
      datasource: "prometheus",
      unit: "s",
      targets: [
        {
          refId: "A",
          expr: "histogram_quantile(0.99, sum by (query, le) (rate(db_query_duration_seconds_bucket[$__rate_interval])))",
          legend: "{{query}}",
        },
      ],
    },
    {
      title: "Database pool",
      type: "timeseries",
      datasource: "prometheus",
      unit: "short",
      targets: [
        { refId: "A", expr: "sum by (state) (db_pool_connections)", legend: "{{state}}" },
        { refId: "B", expr: "sum(db_pool_waiting)", legend: "waiting" },
      ],
    },
    {
      title: "Circuit breakers open",
      type: "timeseries",
      datasource: "prometheus",
      unit: "short",
      targets: [
        {
          refId: "A",
          expr: 'sum by (breaker) (circuit_breaker_state{state="open"})',
          legend: "{{breaker}}",
        },
      ],
    },
    {
      title: "Bulkheads, shedding and retries",
      type: "timeseries",
      datasource: "prometheus",
      unit: "short",
      targets: [
        {
          refId: "A",
          expr: "sum by (bulkhead) (bulkhead_in_flight)",
          legend: "in flight {{bulkhead}}",
        },
        { refId: "B", expr: "sum by (bulkhead) (bulkhead_queued)", legend: "queued {{bulkhead}}" },
        {
          refId: "C",
          expr: "sum by (bulkhead) (rate(bulkhead_rejected_total[$__rate_interval]))",
          legend: "rejected/s {{bulkhead}}",
        },
        { refId: "D", expr: "sum(rate(load_shed_total[$__rate_interval]))", legend: "shed/s" },
        {
          refId: "E",
          expr: "sum by (name) (rate(retries_total[$__rate_interval]))",
          legend: "retries/s {{name}}",
        },
      ],
    },
    {
      title: "Authentication failures by reason",
      type: "timeseries",
      datasource: "prometheus",
      unit: "reqps",
      targets: [
        {
          refId: "A",
          expr: "sum by (reason) (rate(auth_failures_total[$__rate_interval]))",
          legend: "{{reason}}",
        },
      ],
    },
    {
      title: "Outbox",
      type: "timeseries",
      datasource: "prometheus",
      unit: "short",
      targets: [
        { refId: "A", expr: "max(outbox_lag_seconds)", legend: "oldest event age (s)" },
        { refId: "B", expr: "sum(outbox_pending)", legend: "pending events" },
      ],
    },
    {
      title: "Logs",
      type: "logs",
      datasource: "loki",
      unit: "short",
      targets: [{ refId: "A", expr: `{service_name="${service.stem}"}`, legend: "" }],
    },
  ];
  const panels = specs.map((p, i) => {
    // Two panels per row of height 8; the logs panel spans the full width at the bottom.
    const full = p.type === "logs";
    return {
      ...p,
      id: i + 1,
      x: full ? 0 : (i % 2) * 12,
      y: Math.floor(i / 2) * 8,
      w: full ? 24 : 12,
      h: full ? 10 : 8,
      last: i === specs.length - 1,
    };
  });
  return {
    ...view,
    service,
    uid: `svcgen-${service.stem}`.slice(0, 40),
    title: `${service.typeName} (svcgen)`,
    panels,
  };
}
