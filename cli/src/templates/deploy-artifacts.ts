/**
 * The deployment files `generate` writes when the config has a `deploy:` key: each one a
 * built-in Handlebars template (or the project's override) laid over a view-model from
 * deploy-view.ts. Which files: `deploy.files`. Where: `deploy.dir` (default `deploy/`) and the
 * CI workflow under `.github/workflows/`.
 */
import type { DeployFileKind, ResolvedConfig } from "../config/config.js";
import type { Diagnostic } from "../diagnostics.js";
import type { GeneratedFile } from "../inputs.js";
import {
  alertsView,
  type DeployService,
  dashboardView,
  deployView,
  flyView,
} from "./deploy-view.js";
import { loadTemplateSources, renderTemplate, type TemplateSource } from "./text-artifacts.js";

/** The CI workflow's path, relative to the project folder. */
export const workflowPath = ".github/workflows/svcgen.yml";

/** Which templates each kind of `deploy.files` renders. */
export const deployTemplatesByKind: Readonly<Record<DeployFileKind, readonly string[]>> = {
  dockerfile: ["dockerfile.hbs", "migrate.mjs.hbs"],
  fly: ["fly.toml.hbs", "migrate.mjs.hbs"],
  compose: [
    "docker-compose.yml.hbs",
    "prometheus.yml.hbs",
    "otel-collector.yaml.hbs",
    "grafana-datasources.yml.hbs",
    "grafana-dashboards.yml.hbs",
  ],
  alerts: ["alerts.yml.hbs", "alerts.test.yml.hbs"],
  dashboards: ["dashboard.json.hbs"],
  workflow: ["workflow.yml.hbs"],
};

/**
 * Renders the deployment files for `services`. Nothing (and no diagnostics) when the config
 * has no `deploy:` key. Files are sorted by path; the same inputs give the same bytes.
 */
export async function emitDeployArtifacts(
  config: ResolvedConfig,
  services: readonly DeployService[],
): Promise<{ files: GeneratedFile[]; diagnostics: Diagnostic[] }> {
  const deploy = config.deploy;
  if (deploy === undefined) return { files: [], diagnostics: [] };
  const { sources, diagnostics } = await loadTemplateSources(config);
  const built = deployView(config, deploy, services);
  diagnostics.push(...built.diagnostics);
  const view = built.view;
  const wanted = new Set(deploy.files.flatMap((k) => deployTemplatesByKind[k]));
  const files = new Map<string, string>();
  const render = <V>(template: string, path: string, v: V): void => {
    if (!wanted.has(template)) return;
    const source: TemplateSource | undefined = sources.get(template);
    if (source === undefined) return; // unreadable override: already a diagnostic
    const r = renderTemplate(source, v);
    if ("text" in r) files.set(path, r.text);
    else diagnostics.push(r.diagnostic);
  };
  const d = view.dir;
  render("dockerfile.hbs", `${d}/Dockerfile`, view);
  render("migrate.mjs.hbs", view.migrateScript, view);
  for (const s of view.services)
    render("fly.toml.hbs", `${d}/fly/${s.stem}.toml`, flyView(view, s));
  render("docker-compose.yml.hbs", `${d}/docker-compose.yml`, view);
  render("prometheus.yml.hbs", `${d}/prometheus/prometheus.yml`, view);
  render("otel-collector.yaml.hbs", `${d}/otel-collector.yaml`, view);
  render(
    "grafana-datasources.yml.hbs",
    `${d}/grafana/provisioning/datasources/datasources.yml`,
    view,
  );
  render("grafana-dashboards.yml.hbs", `${d}/grafana/provisioning/dashboards/dashboards.yml`, view);
  const alerts = alertsView(view);
  render("alerts.yml.hbs", `${d}/prometheus/${alerts.rulesFile}`, alerts);
  render("alerts.test.yml.hbs", `${d}/prometheus/alerts.test.yml`, alerts);
  for (const s of view.services) {
    render("dashboard.json.hbs", `${d}/grafana/dashboards/${s.stem}.json`, dashboardView(view, s));
  }
  render("workflow.yml.hbs", workflowPath, view);
  const out = [...files].map(([path, content]) => ({ path, content }));
  return {
    files: out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    diagnostics,
  };
}
