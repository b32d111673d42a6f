/**
 * The built-in text templates: Handlebars files for the text artifacts `generate` writes and
 * users may customise (a project's `templates:` folder overrides them by file name;
 * `svcgen templates eject` copies them there). TypeScript is never produced through these:
 * it goes through the printer. Light on purpose (no Handlebars here): config loading uses it
 * to check override names.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** One built-in text template. */
export interface BuiltinTemplate {
  /** Its file name, which is also the name an override must have. */
  readonly name: string;
  /** What it renders, for `svcgen templates eject` and the README. */
  readonly description: string;
}

/** Every built-in text template, sorted by name. */
export const builtinTemplates: readonly BuiltinTemplate[] = [
  {
    name: "alerts.test.yml.hbs",
    description: "<deploy>/prometheus/alerts.test.yml: a promtool unit test per alert rule",
  },
  {
    name: "alerts.yml.hbs",
    description:
      "<deploy>/prometheus/alerts.yml: alert rules (error rate, p99 latency, breaker open, pool saturation, auth failures, outbox lag)",
  },
  {
    name: "dashboard.json.hbs",
    description: "<deploy>/grafana/dashboards/<service>.json: one Grafana dashboard per service",
  },
  {
    name: "docker-compose.yml.hbs",
    description:
      "<deploy>/docker-compose.yml: the services with PostgreSQL, NATS, Prometheus, Loki, Grafana and an OpenTelemetry collector",
  },
  {
    name: "dockerfile.hbs",
    description: "<deploy>/Dockerfile: multi-stage image of every service (non-root, tini)",
  },
  {
    name: "fly.toml.hbs",
    description: "<deploy>/fly/<service>.toml: the Fly.io app of one service",
  },
  {
    name: "gen-readme.md.hbs",
    description: "<out>/README.md: what the generated folder holds and how to regenerate it",
  },
  {
    name: "grafana-dashboards.yml.hbs",
    description:
      "<deploy>/grafana/provisioning/dashboards/dashboards.yml: Grafana's dashboard provider",
  },
  {
    name: "grafana-datasources.yml.hbs",
    description: "<deploy>/grafana/provisioning/datasources/datasources.yml: Prometheus and Loki",
  },
  {
    name: "migrate.mjs.hbs",
    description: "<deploy>/migrate.mjs: applies the migrations once each (Fly's release command)",
  },
  {
    name: "otel-collector.yaml.hbs",
    description: "<deploy>/otel-collector.yaml: the OpenTelemetry collector of docker-compose",
  },
  {
    name: "prometheus.yml.hbs",
    description: "<deploy>/prometheus/prometheus.yml: scrapes every service in docker-compose",
  },
  {
    name: "workflow.yml.hbs",
    description:
      ".github/workflows/svcgen.yml: CI: generate --check, build, npm test on PostgreSQL, check, vulnerability scan",
  },
];

/** The names of {@link builtinTemplates}. */
export const builtinTemplateNames: readonly string[] = builtinTemplates.map((t) => t.name);

/**
 * The folder holding the built-in text templates: `templates/text` in the repository or the
 * installed package. Found by walking up from this module, so it works from `cli/src/` under
 * a test runner and from `cli/dist/`.
 */
export function builtinTemplatesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, "templates", "text");
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(
    `svcgen's templates/text folder not found above ${fileURLToPath(import.meta.url)}`,
  );
}
