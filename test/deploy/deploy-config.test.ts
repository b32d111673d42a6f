/**
 * `deploy:` in svcgen.yaml end to end through the CLI: defaults that work with an empty key,
 * every bad value reported at its line and column, a `deploy.apps` entry naming no service,
 * `deploy.files` choosing the files, a template override changing the rendered file, and
 * `templates eject` then generate giving identical output.
 */
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../cli/src/config/load-config.js";
import { main } from "../../cli/src/main.js";
import { serverUrl } from "../db.js";

const dirs: string[] = [];
const users = join(import.meta.dirname, "..", "..", "fixtures", "proto", "users");

afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A project with one gRPC service (the users fixture) and `deploy` as its deploy: section. */
async function project(deploy: string, extra = ""): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "svcgen-deploy-"));
  dirs.push(dir);
  for (const part of ["sql", "proto"])
    await cp(join(users, part), join(dir, part), { recursive: true });
  await writeFile(
    join(dir, "svcgen.yaml"),
    `schema: sql/schema.sql\nqueries: sql/queries\nout: gen\nproto:\n  roots: [proto]\n${extra}${deploy}`,
  );
  return dir;
}

async function run(dir: string, ...argv: string[]) {
  let out = "";
  let err = "";
  const code = await main(argv, {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    cwd: dir,
    env: { DATABASE_URL: serverUrl() },
  });
  return { code, out, err };
}

/** Every file under the given project folders, path -> content. */
async function filesUnder(dir: string, parts: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.set(relative(dir, p), await readFile(p, "utf8"));
    }
  };
  for (const p of parts) await walk(join(dir, p));
  return out;
}

describe("deploy: configuration", () => {
  it("reports every bad value at its line and column, with hints for unknown keys", async () => {
    const dir = await mkdtemp(join(tmpdir(), "svcgen-deploy-cfg-"));
    dirs.push(dir);
    await writeFile(
      join(dir, "svcgen.yaml"),
      [
        "schema: s.sql",
        "queries: q.sql",
        "deploy:",
        "  files: [dockerfile, helm]",
        "  region: Amsterdam",
        "  strategy: fast",
        "  vm: { size: shared-cpu-1x, memory: lots }",
        "  secrets: [database_url]",
        "  shutdownGraceMs: -1",
        "  apps: { user-service: User_App }",
        "  regoin: ams",
        "",
      ].join("\n"),
    );
    await writeFile(join(dir, "s.sql"), "");
    await writeFile(join(dir, "q.sql"), "");
    const r = await loadConfig(join(dir, "svcgen.yaml"), {});
    expect(r.config).toBeUndefined();
    const got = r.diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`);
    expect(got).toEqual([
      "4:23 deploy.files[1]: expected one of dockerfile, fly, compose, alerts, dashboards, workflow",
      "5:11 deploy.region: expected a Fly.io region code (three letters, like ams)",
      "6:13 deploy.strategy: expected rolling, immediate, canary or bluegreen",
      "7:38 deploy.vm.memory: expected a memory size like 512mb or 1gb",
      "8:13 deploy.secrets[0]: expected an environment variable name (A-Z, 0-9, _)",
      "9:20 deploy.shutdownGraceMs: expected milliseconds (a whole number >= 0)",
      "10:25 deploy.apps.user-service: expected a Fly.io app name (lower-case letters, digits and dashes)",
      "11:3 deploy.regoin: unknown key `regoin`",
    ]);
    expect(r.diagnostics.at(-1)?.hint).toBe("did you mean `region`?");
  });

  it("an empty deploy: key gives every file with defaults; an app for no service is an error at its key", async () => {
    const dir = await project("deploy:\n");
    const r = await run(dir, "generate");
    expect(r.code, r.err).toBe(0);
    const files = [...(await filesUnder(dir, ["deploy", ".github"])).keys()].sort();
    expect(files).toEqual([
      ".github/workflows/svcgen.yml",
      "deploy/Dockerfile",
      "deploy/docker-compose.yml",
      "deploy/fly/user-service.toml",
      "deploy/grafana/dashboards/user-service.json",
      "deploy/grafana/provisioning/dashboards/dashboards.yml",
      "deploy/grafana/provisioning/datasources/datasources.yml",
      "deploy/migrate.mjs",
      "deploy/otel-collector.yaml",
      "deploy/prometheus/alerts.test.yml",
      "deploy/prometheus/alerts.yml",
      "deploy/prometheus/prometheus.yml",
    ]);
    const fly = await readFile(join(dir, "deploy/fly/user-service.toml"), "utf8");
    expect(fly).toContain('app = "user-service"');
    expect(fly).toContain('strategy = "bluegreen"');
    expect(fly).toContain('kill_timeout = "15s"');

    const bad = await project("deploy:\n  apps:\n    user-servce: acme-users\n");
    const b = await run(bad, "generate");
    expect(b.code).toBe(1);
    expect(b.err).toContain(
      "svcgen.yaml:8:5: error SVC100: deploy.apps: no service generates gen/grpc/user-servce.ts",
    );
    expect(b.err).toContain("the services are user-service");
  });

  it("deploy.files chooses the files; settings reach them", async () => {
    const dir = await project(
      "deploy:\n  dir: ops\n  files: [fly]\n  region: fra\n  strategy: canary\n  registry: registry.fly.io/\n  shutdownGraceMs: 20000\n  apps: { user-service: acme-users }\n",
    );
    const r = await run(dir, "generate");
    expect(r.code, r.err).toBe(0);
    expect([...(await filesUnder(dir, ["ops", ".github", "deploy"])).keys()].sort()).toEqual([
      "ops/fly/user-service.toml",
      "ops/migrate.mjs",
    ]);
    const fly = await readFile(join(dir, "ops/fly/user-service.toml"), "utf8");
    expect(fly).toContain('app = "acme-users"');
    expect(fly).toContain('primary_region = "fra"');
    expect(fly).toContain('strategy = "canary"');
    expect(fly).toContain('image = "registry.fly.io/acme-users"');
    expect(fly).toContain('kill_timeout = "25s"');
    expect(fly).toContain('SHUTDOWN_GRACE_MS = "20000"');
    expect(fly).toContain('release_command = "node ops/migrate.mjs"');
  });
});

describe("stale deployment files", () => {
  it("a removed service's files and a kind turned off are deleted; files svcgen did not write stay", async () => {
    const dir = await project("deploy:\n");
    expect((await run(dir, "generate")).code).toBe(0);
    // The user's own files in the same folders: no svcgen header, never deleted.
    await writeFile(join(dir, "deploy/fly/worker.toml"), 'app = "acme-worker"\n');
    await writeFile(join(dir, "deploy/NOTES.md"), "# Our deploy notes\n");
    await writeFile(join(dir, ".github/workflows/lint.yml"), "name: lint\n");

    // The service is renamed: UserService's files go, AccountService's come.
    const proto = join(dir, "proto/acme/users/v1/users.proto");
    await writeFile(
      proto,
      (await readFile(proto, "utf8")).replace("service UserService {", "service AccountService {"),
    );
    const check = await run(dir, "generate", "--check");
    expect(check.code).toBe(1);
    expect(check.out + check.err).toContain("deploy/fly/user-service.toml");
    const renamed = await run(dir, "generate");
    expect(renamed.code, renamed.err).toBe(0);
    const after = [...(await filesUnder(dir, ["deploy", ".github", "gen/server"])).keys()].sort();
    expect(after.filter((f) => f.includes("user-service"))).toEqual([]);
    expect(after).toContain("deploy/fly/account-service.toml");
    expect(after).toContain("deploy/grafana/dashboards/account-service.json");
    expect(after).toContain("gen/server/account-service.ts");

    // Only the Dockerfile (and its migration script) stays wanted.
    await writeFile(
      join(dir, "svcgen.yaml"),
      (await readFile(join(dir, "svcgen.yaml"), "utf8")).replace(
        "deploy:\n",
        "deploy:\n  files: [dockerfile]\n",
      ),
    );
    const off = await run(dir, "generate");
    expect(off.code, off.err).toBe(0);
    expect([...(await filesUnder(dir, ["deploy", ".github"])).keys()].sort()).toEqual([
      ".github/workflows/lint.yml",
      "deploy/Dockerfile",
      "deploy/NOTES.md",
      "deploy/fly/worker.toml",
      "deploy/migrate.mjs",
    ]);
  });
});

describe("deployment templates", () => {
  it("a user override changes the rendered file; eject then generate gives identical output", async () => {
    const dir = await project("deploy:\n", "templates: templates\n");
    const first = await run(dir, "generate");
    expect(first.code, first.err).toBe(0);
    const before = await filesUnder(dir, ["deploy", ".github", "gen"]);

    const ejected = await run(dir, "templates", "eject");
    expect(ejected.code, ejected.err).toBe(0);
    const again = await run(dir, "generate");
    expect(again.code, again.err).toBe(0);
    expect(again.out).toMatch(/0 written, 0 deleted/);
    expect(await filesUnder(dir, ["deploy", ".github", "gen"])).toEqual(before);

    const tpl = join(dir, "templates", "fly.toml.hbs");
    await writeFile(
      tpl,
      (await readFile(tpl, "utf8")).replace('kill_signal = "SIGTERM"', 'kill_signal = "SIGINT"'),
    );
    const changed = await run(dir, "generate");
    expect(changed.code, changed.err).toBe(0);
    const fly = await readFile(join(dir, "deploy/fly/user-service.toml"), "utf8");
    expect(fly).toContain('kill_signal = "SIGINT"');
    expect(fly).not.toContain('kill_signal = "SIGTERM"');
    expect(fly).toBe(before.get("deploy/fly/user-service.toml")?.replace('"SIGTERM"', '"SIGINT"'));

    // A misspelt field in an override is an SVC103 at its line.
    await writeFile(join(dir, "templates", "dockerfile.hbs"), "FROM node\n\nCMD {{entyr}}\n");
    const broken = await run(dir, "generate");
    expect(broken.code).toBe(1);
    expect(broken.err).toContain("templates/dockerfile.hbs:3:");
    expect(broken.err).toContain("SVC103");
  });
});
